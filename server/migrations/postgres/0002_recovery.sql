-- Challenge answers (argon2id of the normalised answer) and recovery attempts.
CREATE TABLE challenge_answers (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    set_id TEXT NOT NULL,
    question_id TEXT NOT NULL,
    answer_hash TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, set_id)
);

-- A recovery attempt: its secret token is stored only as a SHA-256. For an
-- unknown account user_id is NULL and the attempt fails like a wrong answer.
CREATE TABLE recovery_flows (
    token_hash TEXT PRIMARY KEY,
    username_key TEXT NOT NULL,
    user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
    -- JSON list of [set_id, question_id] asked.
    questions TEXT NOT NULL,
    -- 'questions' (answers awaited) or 'verified' (a new password may be set).
    stage TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
