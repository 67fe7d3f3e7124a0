//! Pending Approvals: a small workflow engine. The operator engages operations
//! (self-registration, changes to chosen profile claims, role assignments) to
//! workflows of one or more steps, each approved by the holders of a role.
//! Nothing held takes effect before the last approval; the approval that
//! completes a request applies it in the same transaction, or the request
//! completes as FAILED with its reason and nothing half-applied.
//!
//! Task states follow shared/specs/APPROVAL-STATES.md: READY -> RESERVED
//! (CLAIM, "Start"), RESERVED -> READY (RELEASE, owner only), READY or own
//! RESERVED -> COMPLETED (APPROVE / REJECT). A task reserved by someone else is
//! shown as BLOCKED. Every transition is one conditional UPDATE, so of two
//! approvers pressing Start at once exactly one wins.

use crate::config::{Config, Operation};
use crate::db::{now_ms, Db, DbError};
use app::approvals::{Action, RequestSummary, TaskDetail, TaskSummary};
use rand::RngCore;
use serde_json::Value;
use sqlx::Row;

fn operation_name(op: Operation) -> &'static str {
    match op {
        Operation::SelfRegistration => "self_registration",
        Operation::ProfileChange => "profile_change",
        Operation::RoleAssignment => "role_assignment",
    }
}

fn operation_label(name: &str) -> &'static str {
    match name {
        "self_registration" => "Self-registration",
        "profile_change" => "Profile change",
        "role_assignment" => "Role assignment",
        _ => "Request",
    }
}

pub async fn roles_of(db: &Db, user_id: i64) -> Result<Vec<String>, DbError> {
    let rows = sqlx::query("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
        .bind(user_id)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.into_iter().map(|r| r.get(0)).collect())
}

pub async fn grant_role(db: &Db, user_id: i64, role: &str) -> Result<(), DbError> {
    sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(user_id)
        .bind(role)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Holds an operation for approval: a request and the task of its first step.
/// Runs inside the caller's transaction, so the held change and the request
/// exist together or not at all.
/// What an operation asks to change, before it is held for approval.
pub struct NewRequest<'a> {
    pub operation: Operation,
    /// One line: "Self-registration of bob".
    pub subject: &'a str,
    pub description: &'a str,
    /// Who asked: the user, or "operator".
    pub initiator: &'a str,
    /// The account the request is about.
    pub target_user_id: Option<i64>,
    /// Shown to approvers; keys starting with `_` are for the engine only.
    pub properties: &'a Value,
}

pub async fn submit(
    tx: &mut sqlx::AnyConnection,
    config: &Config,
    request: NewRequest<'_>,
) -> Result<String, DbError> {
    let workflow = config
        .workflow(request.operation)
        .expect("submit is only called for engaged operations");
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let id = hex::encode(bytes);
    let now = now_ms();
    sqlx::query(
        "INSERT INTO workflow_requests (id, operation, subject, description, initiator, target_user_id,
             properties, step, total_steps, state, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, 'PENDING', $9, $9)",
    )
    .bind(&id)
    .bind(operation_name(request.operation))
    .bind(request.subject)
    .bind(request.description)
    .bind(request.initiator)
    .bind(request.target_user_id)
    .bind(request.properties.to_string())
    .bind(workflow.steps.len() as i64)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    add_task(tx, &id, 1, &workflow.steps[0]).await?;
    Ok(id)
}

async fn add_task(
    tx: &mut sqlx::AnyConnection,
    request_id: &str,
    step: i64,
    role: &str,
) -> Result<(), DbError> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO approval_tasks (request_id, step, role, status, approval_status, priority, created_at, updated_at)
         VALUES ($1, $2, $3, 'READY', 'PENDING', 0, $4, $4)",
    )
    .bind(request_id)
    .bind(step)
    .bind(role)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

const TASK_COLUMNS: &str = "t.id, t.status, t.owner_user_id, o.username, t.approval_status, t.priority, t.created_at,
     t.step, r.total_steps, r.operation, r.subject, r.description, r.initiator, r.properties, r.state, r.outcome,
     r.target_user_id, t.role";

/// Tasks the user may see: those of a role they hold.
const VISIBLE: &str = "FROM approval_tasks t
     JOIN workflow_requests r ON r.id = t.request_id
     LEFT JOIN users o ON o.id = t.owner_user_id
     WHERE t.role IN (SELECT role FROM user_roles WHERE user_id = $1)";

/// A request's properties as (name, value) for people; keys starting with `_`
/// are the engine's own.
fn shown_properties(properties: Value) -> Vec<(String, String)> {
    match properties {
        Value::Object(map) => map
            .into_iter()
            .filter(|(k, _)| !k.starts_with('_'))
            .map(|(k, v)| {
                let text = v
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| v.to_string());
                (k, text)
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn shown_status(status: &str, owner: Option<i64>, me: i64) -> String {
    if status == "RESERVED" && owner != Some(me) {
        "BLOCKED".into()
    } else {
        status.into()
    }
}

fn detail_from(row: &sqlx::any::AnyRow, me: i64) -> TaskDetail {
    let status: String = row.get(1);
    let owner: Option<i64> = row.get(2);
    let properties: Value = serde_json::from_str(&row.get::<String, _>(13)).unwrap_or(Value::Null);
    let target: Option<i64> = row.get(16);
    let initiator: String = row.get(12);
    let operation: String = row.get(9);
    TaskDetail {
        summary: TaskSummary {
            id: row.get::<i64, _>(0).to_string(),
            subject: row.get(10),
            operation: operation_label(&operation).into(),
            status: shown_status(&status, owner, me),
            priority: row.get(5),
            created: crate::api::moment(row.get(6)),
        },
        description: row.get(11),
        initiator: initiator.clone(),
        owner: row.get(3),
        approval_status: row.get(4),
        step: row.get(7),
        total_steps: row.get(8),
        role: row.get(17),
        request_state: row.get(14),
        outcome: row.get(15),
        properties: shown_properties(properties),
        own_request: target == Some(me),
    }
}

/// The user's tasks, newest first, optionally only those in `status`.
pub async fn tasks_for(db: &Db, me: i64, status: Option<&str>) -> Result<Vec<TaskDetail>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {TASK_COLUMNS} {VISIBLE} ORDER BY t.created_at DESC, t.id DESC"
    ))
    .bind(me)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| detail_from(r, me))
        .filter(|t| status.is_none_or(|s| t.summary.status == s))
        .collect())
}

/// One task, if the user may see it (otherwise None, as for a missing one).
pub async fn task_for(db: &Db, me: i64, task_id: i64) -> Result<Option<TaskDetail>, DbError> {
    let row = sqlx::query(&format!("SELECT {TASK_COLUMNS} {VISIBLE} AND t.id = $2"))
        .bind(me)
        .bind(task_id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(|r| detail_from(&r, me)))
}

#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    #[error("no such task")]
    NotFound,
    #[error("{0}")]
    Refused(String),
    /// The user may see the task but not decide it (their own request).
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for TransitionError {
    fn from(e: sqlx::Error) -> Self {
        TransitionError::Db(e.into())
    }
}

/// Applies an action to a task the user can see.
pub async fn act(
    db: &Db,
    config: &Config,
    me: i64,
    task_id: i64,
    action: Action,
) -> Result<TaskDetail, TransitionError> {
    let task = task_for(db, me, task_id)
        .await?
        .ok_or(TransitionError::NotFound)?;
    if task.own_request && matches!(action, Action::Claim | Action::Approve | Action::Reject) {
        return Err(TransitionError::Forbidden(
            "You cannot approve or reject your own request.".into(),
        ));
    }
    let now = now_ms();
    let refused = |task: &TaskDetail| -> TransitionError {
        match (task.summary.status.as_str(), &task.owner) {
            ("BLOCKED", Some(owner)) => {
                TransitionError::Refused(format!("{owner} has already started this task."))
            }
            ("COMPLETED", _) => TransitionError::Refused("This task is already completed.".into()),
            ("READY", _) => TransitionError::Refused("Start the task before releasing it.".into()),
            (status, _) => {
                TransitionError::Refused(format!("That cannot be done to a task that is {status}."))
            }
        }
    };
    match action {
        Action::Claim => {
            let done = sqlx::query(
                "UPDATE approval_tasks SET status = 'RESERVED', owner_user_id = $1, updated_at = $2
                 WHERE id = $3 AND status = 'READY'",
            )
            .bind(me)
            .bind(now)
            .bind(task_id)
            .execute(&db.pool)
            .await?;
            if done.rows_affected() == 0 {
                let now_task = task_for(db, me, task_id)
                    .await?
                    .ok_or(TransitionError::NotFound)?;
                return Err(refused(&now_task));
            }
        }
        Action::Release => {
            let done = sqlx::query(
                "UPDATE approval_tasks SET status = 'READY', owner_user_id = NULL, updated_at = $1
                 WHERE id = $2 AND status = 'RESERVED' AND owner_user_id = $3",
            )
            .bind(now)
            .bind(task_id)
            .bind(me)
            .execute(&db.pool)
            .await?;
            if done.rows_affected() == 0 {
                return Err(refused(&task));
            }
        }
        Action::Approve | Action::Reject => {
            let approve = action == Action::Approve;
            let mut tx = db.pool.begin().await?;
            let done = sqlx::query(
                "UPDATE approval_tasks SET status = 'COMPLETED', approval_status = $1, owner_user_id = $2, updated_at = $3
                 WHERE id = $4 AND (status = 'READY' OR (status = 'RESERVED' AND owner_user_id = $2))",
            )
            .bind(if approve { "APPROVED" } else { "REJECTED" })
            .bind(me)
            .bind(now)
            .bind(task_id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                drop(tx);
                let now_task = task_for(db, me, task_id)
                    .await?
                    .ok_or(TransitionError::NotFound)?;
                return Err(refused(&now_task));
            }
            complete_step(&mut tx, config, task_id, approve).await?;
            tx.commit().await?;
        }
    }
    tracing::info!(task = task_id, ?action, "approval task changed");
    task_for(db, me, task_id)
        .await?
        .ok_or(TransitionError::NotFound)
}

/// After a task is approved or rejected: advance to the next step, or finish
/// the request (applying or discarding what it holds).
async fn complete_step(
    tx: &mut sqlx::AnyConnection,
    config: &Config,
    task_id: i64,
    approved: bool,
) -> Result<(), DbError> {
    let row = sqlx::query(
        "SELECT r.id, r.operation, r.step, r.total_steps, r.target_user_id, r.properties
         FROM approval_tasks t JOIN workflow_requests r ON r.id = t.request_id WHERE t.id = $1",
    )
    .bind(task_id)
    .fetch_one(&mut *tx)
    .await?;
    let request_id: String = row.get(0);
    let operation: String = row.get(1);
    let step: i64 = row.get(2);
    let total: i64 = row.get(3);
    let target: Option<i64> = row.get(4);
    let properties: Value = serde_json::from_str(&row.get::<String, _>(5)).unwrap_or(Value::Null);
    let now = now_ms();
    let finish = |state: &'static str, outcome: String| {
        sqlx::query(
            "UPDATE workflow_requests SET state = $1, outcome = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(state)
        .bind(outcome)
        .bind(now)
        .bind(request_id.clone())
    };
    if !approved {
        if operation == "self_registration" {
            reject_registration(tx, target).await?;
        }
        finish("REJECTED", "Rejected.".into())
            .execute(&mut *tx)
            .await?;
        return Ok(());
    }
    if step < total {
        let workflow_steps = workflow_steps(config, &operation);
        let role = workflow_steps
            .get(step as usize)
            .cloned()
            .unwrap_or_default();
        sqlx::query("UPDATE workflow_requests SET step = $1, updated_at = $2 WHERE id = $3")
            .bind(step + 1)
            .bind(now)
            .bind(&request_id)
            .execute(&mut *tx)
            .await?;
        add_task(tx, &request_id, step + 1, &role).await?;
        return Ok(());
    }
    match apply(tx, &operation, target, &properties).await? {
        Ok(()) => {
            finish("APPROVED", "Approved and applied.".into())
                .execute(&mut *tx)
                .await?
        }
        Err(reason) => finish("FAILED", reason).execute(&mut *tx).await?,
    };
    Ok(())
}

fn workflow_steps(config: &Config, operation: &str) -> Vec<String> {
    config
        .workflows
        .iter()
        .find(|w| operation_name(w.operation) == operation)
        .map(|w| w.steps.clone())
        .unwrap_or_default()
}

/// Applies an approved request. The inner error is why it could not apply;
/// the caller records it and nothing is changed.
async fn apply(
    tx: &mut sqlx::AnyConnection,
    operation: &str,
    target: Option<i64>,
    properties: &Value,
) -> Result<Result<(), String>, DbError> {
    let Some(user_id) = target else {
        return Ok(Err("The account no longer exists.".into()));
    };
    match operation {
        "self_registration" => {
            let done = sqlx::query(
                "UPDATE users SET status = 'active' WHERE id = $1 AND status = 'pending'",
            )
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
            Ok(if done.rows_affected() == 1 {
                Ok(())
            } else {
                Err("The registration is no longer pending.".into())
            })
        }
        "profile_change" => {
            let Some(changes) = properties.get("_claims").and_then(Value::as_object) else {
                return Ok(Err("The request holds no change.".into()));
            };
            for (claim, value) in changes {
                // Only known claim columns; the name comes from our own request.
                if app::profile::field(claim).is_none() {
                    return Ok(Err(format!("Unknown claim {claim}.")));
                }
                sqlx::query(&format!(
                    "UPDATE users SET {claim} = $1, version = version + 1, updated_at = $2 WHERE id = $3"
                ))
                .bind(value.as_str().unwrap_or_default())
                .bind(now_ms())
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            }
            Ok(Ok(()))
        }
        "role_assignment" => {
            let role = properties
                .get("Role")
                .and_then(Value::as_str)
                .unwrap_or_default();
            sqlx::query(
                "INSERT INTO user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(user_id)
            .bind(role)
            .execute(&mut *tx)
            .await?;
            Ok(Ok(()))
        }
        other => Ok(Err(format!("Unknown operation {other}."))),
    }
}

/// A rejected registration's data is deleted; only its password hash is kept
/// so that the registrant alone can be told at sign-in.
async fn reject_registration(
    tx: &mut sqlx::AnyConnection,
    target: Option<i64>,
) -> Result<(), DbError> {
    let Some(user_id) = target else { return Ok(()) };
    let row = sqlx::query(
        "SELECT username_key, password_hash FROM users WHERE id = $1 AND status = 'pending'",
    )
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = row {
        sqlx::query(
            "INSERT INTO rejected_registrations (username_key, password_hash, rejected_at) VALUES ($1, $2, $3)
             ON CONFLICT (username_key) DO UPDATE SET password_hash = $2, rejected_at = $3",
        )
        .bind(row.get::<String, _>(0))
        .bind(row.get::<String, _>(1))
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// The user's own requests still awaiting approval.
pub async fn requests_of(db: &Db, me: i64) -> Result<Vec<RequestSummary>, DbError> {
    let rows = sqlx::query(
        "SELECT id, operation, subject, properties, step, total_steps, created_at FROM workflow_requests
         WHERE target_user_id = $1 AND state = 'PENDING' ORDER BY created_at DESC",
    )
    .bind(me)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let properties: Value =
                serde_json::from_str(&r.get::<String, _>(3)).unwrap_or(Value::Null);
            RequestSummary {
                id: r.get(0),
                operation: operation_label(&r.get::<String, _>(1)).into(),
                subject: r.get(2),
                changes: shown_properties(properties),
                step: r.get(4),
                total_steps: r.get(5),
                created: crate::api::moment(r.get(6)),
            }
        })
        .collect())
}

/// Pending claim changes of a user: (claim, held value).
pub async fn pending_claims(db: &Db, user_id: i64) -> Result<Vec<(String, String)>, DbError> {
    let rows = sqlx::query(
        "SELECT properties FROM workflow_requests
         WHERE target_user_id = $1 AND operation = 'profile_change' AND state = 'PENDING'",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    let mut claims = Vec::new();
    for row in rows {
        let properties: Value =
            serde_json::from_str(&row.get::<String, _>(0)).unwrap_or(Value::Null);
        if let Some(map) = properties.get("_claims").and_then(Value::as_object) {
            for (k, v) in map {
                claims.push((k.clone(), v.as_str().unwrap_or_default().to_string()));
            }
        }
    }
    Ok(claims)
}

/// The requester cancels their own pending request; false if there is none.
pub async fn cancel(db: &Db, me: i64, request_id: &str) -> Result<bool, DbError> {
    let mut tx = db.pool.begin().await?;
    let done = sqlx::query(
        "UPDATE workflow_requests SET state = 'CANCELLED', outcome = 'Cancelled by the requester.', updated_at = $1
         WHERE id = $2 AND target_user_id = $3 AND state = 'PENDING'",
    )
    .bind(now_ms())
    .bind(request_id)
    .bind(me)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 1 {
        sqlx::query(
            "UPDATE approval_tasks SET status = 'COMPLETED', approval_status = 'REJECTED', updated_at = $1
             WHERE request_id = $2 AND status <> 'COMPLETED'",
        )
        .bind(now_ms())
        .bind(request_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// The account's status: "active", or "pending" while its registration awaits
/// approval.
pub async fn account_status(db: &Db, user_id: i64) -> Result<String, DbError> {
    let row = sqlx::query("SELECT status FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&db.pool)
        .await?;
    Ok(row.get(0))
}

/// The password hash of a rejected registration with this name, if any.
pub async fn rejected_registration(db: &Db, username_key: &str) -> Result<Option<String>, DbError> {
    let row =
        sqlx::query("SELECT password_hash FROM rejected_registrations WHERE username_key = $1")
            .bind(username_key)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.map(|r| r.get(0)))
}

/// REST: `/api/users/v1/me/approval-tasks`, shaped as WSO2's approvals API.
pub mod rest {
    use super::*;
    use crate::api::{ApiError, ApiJson, SignedIn};
    use crate::AppState;
    use axum::{
        extract::{Path, Query, State},
        Json,
    };
    use serde::{Deserialize, Serialize};
    use utoipa::{IntoParams, ToSchema};

    #[derive(Debug, Serialize, ToSchema)]
    pub struct TaskSummaryDoc {
        pub id: String,
        pub name: String,
        #[serde(rename = "presentationSubject")]
        pub presentation_subject: String,
        #[serde(rename = "presentationName")]
        pub presentation_name: String,
        #[serde(rename = "taskType")]
        pub task_type: String,
        /// READY, RESERVED, BLOCKED (reserved by another approver) or COMPLETED.
        pub status: String,
        pub priority: i64,
        #[serde(rename = "createdTimeInMillis")]
        pub created_time_in_millis: String,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct Property {
        pub key: String,
        pub value: String,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct TaskData {
        pub id: String,
        pub subject: String,
        pub description: String,
        pub priority: i64,
        pub initiator: String,
        /// PENDING, APPROVED or REJECTED.
        #[serde(rename = "approvalStatus")]
        pub approval_status: String,
        pub assignees: Vec<Property>,
        pub properties: Vec<Property>,
    }

    #[derive(Debug, Deserialize, ToSchema)]
    pub struct StateDto {
        /// CLAIM, RELEASE, APPROVE or REJECT.
        #[schema(value_type = String)]
        pub action: Action,
    }

    #[derive(Debug, Deserialize, IntoParams)]
    pub struct TaskQuery {
        /// Only tasks in this status.
        pub status: Option<String>,
        pub limit: Option<u32>,
        pub offset: Option<u32>,
    }

    fn summary(t: &TaskDetail) -> TaskSummaryDoc {
        TaskSummaryDoc {
            id: t.summary.id.clone(),
            name: t.summary.operation.clone(),
            presentation_subject: t.summary.subject.clone(),
            presentation_name: t.summary.operation.clone(),
            task_type: "TASK".into(),
            status: t.summary.status.clone(),
            priority: t.summary.priority,
            created_time_in_millis: t.summary.created.ms.to_string(),
        }
    }

    fn data(t: TaskDetail) -> TaskData {
        let mut properties = vec![
            Property {
                key: "Status".into(),
                value: t.summary.status.clone(),
            },
            Property {
                key: "Step".into(),
                value: format!("{} of {}", t.step, t.total_steps),
            },
        ];
        properties.extend(
            t.properties
                .into_iter()
                .map(|(key, value)| Property { key, value }),
        );
        TaskData {
            id: t.summary.id,
            subject: t.summary.subject,
            description: t.description,
            priority: t.summary.priority,
            initiator: t.initiator,
            approval_status: t.approval_status,
            assignees: vec![Property {
                key: "role".into(),
                value: t.role,
            }],
            properties,
        }
    }

    /// The tasks the signed-in user may act on, newest first.
    #[utoipa::path(get, path = "/api/users/v1/me/approval-tasks", tag = "me", params(TaskQuery),
        responses((status = 200, body = Vec<TaskSummaryDoc>), (status = 400, body = crate::api::ErrorBody),
                  (status = 401, body = crate::api::ErrorBody)))]
    pub async fn list(
        State(state): State<AppState>,
        SignedIn(me): SignedIn,
        Query(query): Query<TaskQuery>,
    ) -> Result<Json<Vec<TaskSummaryDoc>>, ApiError> {
        let status = query.status.filter(|s| !s.is_empty());
        if let Some(s) = &status {
            if !["READY", "RESERVED", "BLOCKED", "COMPLETED"].contains(&s.as_str()) {
                return Err(ApiError::BadRequest(format!(
                    "Unknown status {s}: use READY, RESERVED, BLOCKED or COMPLETED."
                )));
            }
        }
        let tasks = tasks_for(&state.db, me.user_id, status.as_deref())
            .await
            .map_err(ApiError::internal)?;
        Ok(Json(
            tasks
                .iter()
                .skip(query.offset.unwrap_or(0) as usize)
                .take(query.limit.map(|l| l as usize).unwrap_or(usize::MAX))
                .map(summary)
                .collect(),
        ))
    }

    /// One task, with exactly what it would change.
    #[utoipa::path(get, path = "/api/users/v1/me/approval-tasks/{task-id}", tag = "me",
        params(("task-id" = String, Path, description = "The task's id")),
        responses((status = 200, body = TaskData), (status = 401, body = crate::api::ErrorBody),
                  (status = 404, body = crate::api::ErrorBody)))]
    pub async fn get(
        State(state): State<AppState>,
        SignedIn(me): SignedIn,
        Path(task_id): Path<String>,
    ) -> Result<Json<TaskData>, ApiError> {
        let id: i64 = task_id.parse().map_err(|_| ApiError::NotFound("task"))?;
        let task = task_for(&state.db, me.user_id, id)
            .await
            .map_err(ApiError::internal)?
            .ok_or(ApiError::NotFound("task"))?;
        Ok(Json(data(task)))
    }

    /// Moves a task: CLAIM, RELEASE, APPROVE or REJECT.
    #[utoipa::path(put, path = "/api/users/v1/me/approval-tasks/{task-id}/state", tag = "me",
        params(("task-id" = String, Path, description = "The task's id")), request_body = StateDto,
        responses((status = 200, body = TaskData), (status = 400, body = crate::api::ErrorBody),
                  (status = 401, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody),
                  (status = 404, body = crate::api::ErrorBody)))]
    pub async fn change_state(
        State(state): State<AppState>,
        SignedIn(me): SignedIn,
        Path(task_id): Path<String>,
        ApiJson(body): ApiJson<StateDto>,
    ) -> Result<Json<TaskData>, ApiError> {
        let id: i64 = task_id.parse().map_err(|_| ApiError::NotFound("task"))?;
        match act(&state.db, &state.config, me.user_id, id, body.action).await {
            Ok(task) => Ok(Json(data(task))),
            Err(TransitionError::NotFound) => Err(ApiError::NotFound("task")),
            Err(TransitionError::Refused(why)) => Err(ApiError::BadRequest(why)),
            Err(TransitionError::Forbidden(why)) => Err(ApiError::Forbidden(why)),
            Err(TransitionError::Db(e)) => Err(ApiError::internal(e)),
        }
    }
}
