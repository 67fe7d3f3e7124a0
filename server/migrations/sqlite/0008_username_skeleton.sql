-- What each username looks like (Unicode TR39 skeleton), so that a name
-- that looks like an existing one (bob and a Cyrillic bоb) can be refused.
-- Filled in by the application: at start for accounts made before this.
ALTER TABLE users ADD COLUMN username_skeleton TEXT;
CREATE INDEX users_username_skeleton ON users (username_skeleton);
