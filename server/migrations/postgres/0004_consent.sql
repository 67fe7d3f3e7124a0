-- Consent receipts (Kantara v1.1) and the key that signs them.

-- How the account came to be: self-registered users may revoke their system
-- consent; users an operator created may only configure it.
ALTER TABLE users ADD COLUMN self_registered BIGINT NOT NULL DEFAULT 0;

CREATE TABLE consent_receipts (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- 'system' or an application's id.
    service TEXT NOT NULL,
    -- ACTIVE or REVOKED as recorded; a receipt past expires_at reads as REVOKED.
    state TEXT NOT NULL,
    -- The Kantara receipt exactly as issued: later configuration changes do not alter it.
    receipt TEXT NOT NULL,
    -- JSON [{"purposeId": n, "claims": [...]}]: what the receipt covers, per purpose.
    consented TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX consent_receipts_by_user ON consent_receipts(user_id, service);
-- Giving consent again revokes the previous receipt: one ACTIVE per user and service.
CREATE UNIQUE INDEX consent_receipts_one_active ON consent_receipts(user_id, service) WHERE state = 'ACTIVE';

-- ES256 keys that sign receipts; every node uses the oldest, all are published.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    pkcs8 TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
