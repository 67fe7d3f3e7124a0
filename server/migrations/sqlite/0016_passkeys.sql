-- Passkeys and security keys (WebAuthn) of an account, each named by its
-- user. `credential` is webauthn-rs' record of it (the public key and the
-- signature counter) as JSON; no secret is stored.
CREATE TABLE passkeys (
    -- The credential id, base64url: the name the browser and REST use.
    credential_id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_by_user ON passkeys (user_id);

-- The WebAuthn user handle of an account (a random UUID): a passkey carries
-- it, and it says nothing about the account.
CREATE TABLE passkey_user_handles (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    handle TEXT NOT NULL UNIQUE
);

-- A registration or sign-in ceremony under way: the challenge's state, kept
-- between the two requests, found by the hash of a token the page holds and
-- used once. `user_id` is NULL for "Sign in with a passkey".
CREATE TABLE passkey_ceremonies (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- How a session began when not with a password or a provider: 'passkey'.
ALTER TABLE sessions ADD COLUMN signed_in_by TEXT;
