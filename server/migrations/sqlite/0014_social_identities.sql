-- Identities at external OpenID providers linked to an account. A provider's
-- subject is linked to one account at most; the public id is random.
CREATE TABLE social_identities (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    -- The external account's email or name, as the provider gave it.
    display TEXT NOT NULL,
    linked_at BIGINT NOT NULL,
    last_used_at BIGINT,
    UNIQUE (provider, subject)
);
CREATE INDEX social_identities_by_user ON social_identities (user_id);

-- A sign-in or link under way at a provider, found by its state (stored as a
-- hash) and bound to the browser that started it by a cookie (also a hash).
CREATE TABLE federation_flows (
    state_hash TEXT PRIMARY KEY,
    binding_hash TEXT NOT NULL,
    provider TEXT NOT NULL,
    intent TEXT NOT NULL,
    -- For a link: the account and session that started it.
    user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
    session_id TEXT,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    return_to TEXT,
    expires_at BIGINT NOT NULL
);

-- An identity that came back from a provider linked to no account, waiting
-- for its browser (which holds the token's cookie) to sign in and link it.
CREATE TABLE pending_identities (
    token_hash TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    display TEXT NOT NULL,
    -- What the provider said of the person (JSON: email, names), to fill
    -- in "Create an account" when the provider allows signing up.
    claims TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- A session begun through a provider names the provider (My Login Sessions
-- shows it); NULL otherwise.
ALTER TABLE sessions ADD COLUMN signed_in_with TEXT;
-- When the session's user last proved themselves again at a provider (an
-- account without a password sets one after that, instead of typing the
-- current one).
ALTER TABLE sessions ADD COLUMN confirmed_at BIGINT;
