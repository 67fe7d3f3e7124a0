-- The periodic clean-up deletes by expiry and idleness. Without these it reads
-- every row each time it runs: ten million sessions at the scale the
-- performance issue measures, holding SQLite's write lock for seconds.
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sessions_by_last_active ON sessions (last_active_at);
CREATE INDEX recovery_flows_by_expiry ON recovery_flows (expires_at);
CREATE INDEX signin_throttle_by_update ON signin_throttle (updated_at);
CREATE INDEX consent_receipts_by_expiry ON consent_receipts (expires_at);
