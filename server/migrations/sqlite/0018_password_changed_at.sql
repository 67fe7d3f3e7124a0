-- When the account's password was last set (created with it, changed,
-- reset through recovery, or set by the operator), in ms since the epoch.
-- NULL for an account without a password, and for passwords set before
-- this column existed: the pages then say nothing of when.
ALTER TABLE users ADD COLUMN password_changed_at BIGINT;
