-- Roles, account status, and approval workflows.
CREATE TABLE user_roles (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

-- 'active', or 'pending' while a self-registration awaits approval.
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'active';

-- A registration that was rejected: its data is gone; only the password hash
-- stays, so the registrant (and only they) can be told at sign-in.
CREATE TABLE rejected_registrations (
    username_key TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    rejected_at BIGINT NOT NULL
);

-- A request held for approval: what would change, and where it stands.
CREATE TABLE workflow_requests (
    id TEXT PRIMARY KEY,
    operation TEXT NOT NULL,
    subject TEXT NOT NULL,
    description TEXT NOT NULL,
    initiator TEXT NOT NULL,
    target_user_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    -- JSON object: exactly what is to change.
    properties TEXT NOT NULL,
    step BIGINT NOT NULL,
    total_steps BIGINT NOT NULL,
    -- PENDING, APPROVED, REJECTED, FAILED or CANCELLED.
    state TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One task per step of a request, shared by every holder of the step's role.
CREATE TABLE approval_tasks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES workflow_requests(id) ON DELETE CASCADE,
    step BIGINT NOT NULL,
    role TEXT NOT NULL,
    -- READY, RESERVED or COMPLETED; other approvers see a RESERVED task as BLOCKED.
    status TEXT NOT NULL,
    owner_user_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    approval_status TEXT NOT NULL,
    priority BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX approval_tasks_by_role ON approval_tasks(role, status);

-- Roles move to user_roles; users.role is no longer read.
INSERT INTO user_roles (user_id, role) SELECT id, role FROM users WHERE role <> '';
