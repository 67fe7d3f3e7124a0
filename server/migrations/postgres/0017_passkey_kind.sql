-- Which kind of passkey proved a session, when one did (its first step, or
-- the second factor it records): 'device' for a key that cannot leave its
-- authenticator, 'synced' for one the authenticator says may be backed up
-- (WebAuthn's backup-eligible flag: a passkey in a cloud keychain). ID
-- tokens' `amr` says `hwk` for the first and `swk` for the second (RFC 8176).
-- NULL for sessions no passkey proved, and for those begun before this.
ALTER TABLE sessions ADD COLUMN passkey_kind TEXT;
