//! The approvals section's SQL: requests held for approval, their tasks, and
//! the rejected registrations kept so their registrants can be told.

use crate::db::{Db, DbError};
use crate::time::now_ms;
use app::approvals::{ApprovalStatus, RequestState, TaskStatus, WorkflowOperation};

/// A task joined with its request, as an approver may see it.
#[derive(sqlx::FromRow)]
pub struct TaskRow {
    pub id: i64,
    /// As stored: READY, RESERVED or COMPLETED.
    #[sqlx(try_from = "String")]
    pub status: TaskStatus,
    pub owner_user_id: Option<i64>,
    pub owner: Option<String>,
    #[sqlx(try_from = "String")]
    pub approval_status: ApprovalStatus,
    pub priority: i64,
    pub created_at: i64,
    pub step: i64,
    pub total_steps: i64,
    #[sqlx(try_from = "String")]
    pub operation: WorkflowOperation,
    pub subject: String,
    pub description: String,
    pub initiator: String,
    pub properties: String,
    #[sqlx(try_from = "String")]
    pub state: RequestState,
    pub outcome: String,
    pub target_user_id: Option<i64>,
    pub role: String,
}

const TASK_COLUMNS: &str =
    "t.id, t.status, t.owner_user_id, o.username AS owner, t.approval_status,
     t.priority, t.created_at, t.step, r.total_steps, r.operation, r.subject, r.description,
     r.initiator, r.properties, r.state, r.outcome, r.target_user_id, t.role";

/// Tasks the user may see: those of a role they hold.
const VISIBLE: &str = "FROM approval_tasks t
     JOIN workflow_requests r ON r.id = t.request_id
     LEFT JOIN users o ON o.id = t.owner_user_id
     WHERE t.role IN (SELECT role FROM user_roles WHERE user_id = $1)";

/// The tasks the user may see, newest first.
pub async fn visible_tasks(db: &Db, me: i64) -> Result<Vec<TaskRow>, DbError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {TASK_COLUMNS} {VISIBLE} ORDER BY t.created_at DESC, t.id DESC"
    ))
    .bind(me)
    .fetch_all(&db.pool)
    .await?)
}

/// One task, if the user may see it.
pub async fn visible_task(db: &Db, me: i64, task_id: i64) -> Result<Option<TaskRow>, DbError> {
    Ok(
        sqlx::query_as(&format!("SELECT {TASK_COLUMNS} {VISIBLE} AND t.id = $2"))
            .bind(me)
            .bind(task_id)
            .fetch_optional(&db.pool)
            .await?,
    )
}

/// A request to store, with the role of its first step.
pub struct NewRequest<'a> {
    pub id: &'a str,
    pub operation: WorkflowOperation,
    pub subject: &'a str,
    pub description: &'a str,
    pub initiator: &'a str,
    pub target_user_id: Option<i64>,
    pub properties: String,
    pub total_steps: i64,
}

pub async fn insert_request(
    tx: &mut sqlx::AnyConnection,
    request: NewRequest<'_>,
) -> Result<(), DbError> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO workflow_requests (id, operation, subject, description, initiator, target_user_id,
             properties, step, total_steps, state, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $10, $10)",
    )
    .bind(request.id)
    .bind(request.operation.as_str())
    .bind(request.subject)
    .bind(request.description)
    .bind(request.initiator)
    .bind(request.target_user_id)
    .bind(request.properties)
    .bind(request.total_steps)
    .bind(RequestState::Pending.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn insert_task(
    tx: &mut sqlx::AnyConnection,
    request_id: &str,
    step: i64,
    role: &str,
) -> Result<(), DbError> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO approval_tasks (request_id, step, role, status, approval_status, priority, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 0, $6, $6)",
    )
    .bind(request_id)
    .bind(step)
    .bind(role)
    .bind(TaskStatus::Ready.as_str())
    .bind(ApprovalStatus::Pending.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// READY -> RESERVED by `me`; false when the task was not READY.
pub async fn reserve(db: &Db, me: i64, task_id: i64) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE approval_tasks SET status = $1, owner_user_id = $2, updated_at = $3
         WHERE id = $4 AND status = $5",
    )
    .bind(TaskStatus::Reserved.as_str())
    .bind(me)
    .bind(now_ms())
    .bind(task_id)
    .bind(TaskStatus::Ready.as_str())
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// RESERVED by `me` -> READY; false when it was not reserved by `me`.
pub async fn release(db: &Db, me: i64, task_id: i64) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE approval_tasks SET status = $1, owner_user_id = NULL, updated_at = $2
         WHERE id = $3 AND status = $4 AND owner_user_id = $5",
    )
    .bind(TaskStatus::Ready.as_str())
    .bind(now_ms())
    .bind(task_id)
    .bind(TaskStatus::Reserved.as_str())
    .bind(me)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// READY or RESERVED by `me` -> COMPLETED with the decision; false when the
/// task was in neither state.
pub async fn decide(
    tx: &mut sqlx::AnyConnection,
    me: i64,
    task_id: i64,
    decision: ApprovalStatus,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE approval_tasks SET status = $1, approval_status = $2, owner_user_id = $3, updated_at = $4
         WHERE id = $5 AND (status = $6 OR (status = $7 AND owner_user_id = $3))",
    )
    .bind(TaskStatus::Completed.as_str())
    .bind(decision.as_str())
    .bind(me)
    .bind(now_ms())
    .bind(task_id)
    .bind(TaskStatus::Ready.as_str())
    .bind(TaskStatus::Reserved.as_str())
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The request a task belongs to, as the engine needs it.
#[derive(sqlx::FromRow)]
pub struct RequestRow {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub operation: WorkflowOperation,
    pub step: i64,
    pub total_steps: i64,
    pub target_user_id: Option<i64>,
    pub properties: String,
}

/// Whom a change to a request concerns: the holders of the roles of its
/// tasks, and the user it is about.
pub async fn concerned(db: &Db, request_id: &str) -> Result<Vec<i64>, DbError> {
    let mut users: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT ur.user_id FROM user_roles ur
         WHERE ur.role IN (SELECT t.role FROM approval_tasks t WHERE t.request_id = $1)",
    )
    .bind(request_id)
    .fetch_all(&db.pool)
    .await?;
    let target: Option<Option<i64>> =
        sqlx::query_scalar("SELECT target_user_id FROM workflow_requests WHERE id = $1")
            .bind(request_id)
            .fetch_optional(&db.pool)
            .await?;
    if let Some(Some(target)) = target {
        if !users.contains(&target) {
            users.push(target);
        }
    }
    Ok(users)
}

/// The request a task belongs to.
pub async fn request_id_of_task(db: &Db, task_id: i64) -> Result<Option<String>, DbError> {
    Ok(
        sqlx::query_scalar("SELECT request_id FROM approval_tasks WHERE id = $1")
            .bind(task_id)
            .fetch_optional(&db.pool)
            .await?,
    )
}

pub async fn request_of_task(
    tx: &mut sqlx::AnyConnection,
    task_id: i64,
) -> Result<RequestRow, DbError> {
    Ok(sqlx::query_as(
        "SELECT r.id, r.operation, r.step, r.total_steps, r.target_user_id, r.properties
         FROM approval_tasks t JOIN workflow_requests r ON r.id = t.request_id WHERE t.id = $1",
    )
    .bind(task_id)
    .fetch_one(&mut *tx)
    .await?)
}

pub async fn advance(
    tx: &mut sqlx::AnyConnection,
    request_id: &str,
    step: i64,
) -> Result<(), DbError> {
    sqlx::query("UPDATE workflow_requests SET step = $1, updated_at = $2 WHERE id = $3")
        .bind(step)
        .bind(now_ms())
        .bind(request_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

pub async fn finish(
    tx: &mut sqlx::AnyConnection,
    request_id: &str,
    state: RequestState,
    outcome: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE workflow_requests SET state = $1, outcome = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(state.as_str())
    .bind(outcome)
    .bind(now_ms())
    .bind(request_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A pending request of the user, as its requester sees it.
#[derive(sqlx::FromRow)]
pub struct OwnRequestRow {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub operation: WorkflowOperation,
    pub subject: String,
    pub properties: String,
    pub step: i64,
    pub total_steps: i64,
    pub created_at: i64,
}

pub async fn pending_requests_of(db: &Db, me: i64) -> Result<Vec<OwnRequestRow>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, operation, subject, properties, step, total_steps, created_at FROM workflow_requests
         WHERE target_user_id = $1 AND state = $2 ORDER BY created_at DESC",
    )
    .bind(me)
    .bind(RequestState::Pending.as_str())
    .fetch_all(&db.pool)
    .await?)
}

/// The properties of the user's pending requests of one operation.
pub async fn pending_properties(
    db: &Db,
    user_id: i64,
    operation: WorkflowOperation,
) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT properties FROM workflow_requests
         WHERE target_user_id = $1 AND operation = $2 AND state = $3",
    )
    .bind(user_id)
    .bind(operation.as_str())
    .bind(RequestState::Pending.as_str())
    .fetch_all(&db.pool)
    .await?)
}

/// The requester cancels their own pending request (and its open tasks);
/// false if there is none.
pub async fn cancel(db: &Db, me: i64, request_id: &str) -> Result<bool, DbError> {
    let mut tx = db.pool.begin().await?;
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE workflow_requests SET state = $1, outcome = 'Cancelled by the requester.', updated_at = $2
         WHERE id = $3 AND target_user_id = $4 AND state = $5",
    )
    .bind(RequestState::Cancelled.as_str())
    .bind(now)
    .bind(request_id)
    .bind(me)
    .bind(RequestState::Pending.as_str())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 1 {
        sqlx::query(
            "UPDATE approval_tasks SET status = $1, approval_status = $2, updated_at = $3
             WHERE request_id = $4 AND status <> $1",
        )
        .bind(TaskStatus::Completed.as_str())
        .bind(ApprovalStatus::Rejected.as_str())
        .bind(now)
        .bind(request_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// The password hash of a rejected registration with this name, if any.
pub async fn rejected_registration(db: &Db, username_key: &str) -> Result<Option<String>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT password_hash FROM rejected_registrations WHERE username_key = $1",
    )
    .bind(username_key)
    .fetch_optional(&db.pool)
    .await?)
}

/// Forgets the rejection of a registration under this name (the name is in
/// use again).
pub async fn forget_rejection(
    tx: &mut sqlx::AnyConnection,
    username_key: &str,
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM rejected_registrations WHERE username_key = $1")
        .bind(username_key)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
