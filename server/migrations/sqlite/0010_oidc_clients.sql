-- OpenID Connect clients added through the CLI (`selfserve client add`); those
-- in the configuration file are not copied here. URI and scope lists are JSON
-- arrays of strings, checked by the application before they are stored.
CREATE TABLE oidc_clients (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    public BIGINT NOT NULL,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Client secrets, of configured and added clients alike, stored only as the
-- SHA-256 of a 256-bit random value (high entropy: a slow hash adds nothing).
CREATE TABLE oidc_client_secrets (
    client_id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
