-- Local accounts of one person, associated by proving the other account's
-- password while signed in to the first. One row per pair, the lower user id
-- first: the association is mutual by construction, and deleting either
-- account deletes it.
CREATE TABLE account_associations (
    user_low BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    user_high BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_low, user_high),
    CHECK (user_low < user_high)
);
CREATE INDEX account_associations_by_high ON account_associations (user_high);

-- A session started by switching from an associated account names that
-- account's username (My Login Sessions shows it); NULL for a sign-in.
ALTER TABLE sessions ADD COLUMN switched_from TEXT;
