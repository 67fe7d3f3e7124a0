-- What a user allowed a client at one sign-in, under one login session.
-- Ending the login session (sign-out, Terminate, expiry, a password change)
-- deletes its grants, and with them every code and token they issued:
-- tokens live no longer than the session they came from, on every node.
CREATE TABLE oidc_grants (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    -- Space-separated granted scopes.
    scopes TEXT NOT NULL,
    nonce TEXT,
    auth_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    -- The last code exchange or refresh.
    last_used_at BIGINT NOT NULL
);
CREATE INDEX oidc_grants_by_user ON oidc_grants (user_id, client_id);
CREATE INDEX oidc_grants_by_session ON oidc_grants (session_id);

-- Authorization codes, access tokens and refresh tokens, stored only as the
-- SHA-256 of their 256 random bits.
CREATE TABLE oidc_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES oidc_grants(id) ON DELETE CASCADE,
    -- 'code', 'access' or 'refresh'.
    kind TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- Codes and refresh tokens are single-use: a second use revokes the grant.
    used_at BIGINT,
    -- Codes only: where the code was sent, and the PKCE challenge.
    redirect_uri TEXT,
    code_challenge TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX oidc_tokens_by_grant ON oidc_tokens (grant_id);
CREATE INDEX oidc_tokens_by_expiry ON oidc_tokens (expires_at);
