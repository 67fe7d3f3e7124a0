-- The ES256 keys that sign ID tokens: a key set of their own, apart from the
-- consent receipts' keys (one purpose per key), kept and rotated the same way.
CREATE TABLE oidc_signing_keys (
    kid TEXT PRIMARY KEY,
    pkcs8 TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The `sub` of a user's ID tokens: random, stable, never the username or
-- the internal id. Given on first need.
ALTER TABLE users ADD COLUMN subject TEXT;
CREATE UNIQUE INDEX users_by_subject ON users (subject);
