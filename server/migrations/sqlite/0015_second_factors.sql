-- An authenticator app (TOTP, RFC 6238) of an account: one per account. Its
-- secret must be readable to compute codes, so it is stored as is (base32).
-- While `enabled_at` is NULL the user has not yet typed a code from it, and
-- sign-in does not ask for it. `last_step` is the time step of the last code
-- accepted: a code is accepted once only.
CREATE TABLE totp_authenticators (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    enabled_at BIGINT,
    last_used_at BIGINT,
    last_step BIGINT NOT NULL DEFAULT 0
);

-- Single-use recovery codes. A code is found by its first characters
-- (`lookup`), and the whole code is checked against its argon2id hash, so a
-- stolen table does not give the codes away.
CREATE TABLE recovery_codes (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    lookup TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, lookup)
);

-- A sign-in whose first step succeeded (a password, a provider, or a switch
-- from an associated account) and that waits for the second factor. Found by
-- the hash of the token in the browser's cookie; the session is created only
-- when the second factor is given.
CREATE TABLE second_factor_challenges (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- How the first step was taken: 'password', 'federated' or 'switched'.
    first_step TEXT NOT NULL,
    -- The provider's name (federated) or the username switched from.
    first_step_detail TEXT,
    -- The session a switch leaves, ended when the switch completes.
    leaving_session TEXT,
    return_to TEXT,
    expires_at BIGINT NOT NULL
);

-- The second factor a session's user gave ('otp' or 'recovery_code'), and
-- when they last gave one in it (at sign-in, or again before a sensitive
-- change).
ALTER TABLE sessions ADD COLUMN second_factor TEXT;
ALTER TABLE sessions ADD COLUMN second_factor_at BIGINT;
