//! Pending Approvals: a small workflow engine. The operator engages operations
//! (self-registration, changes to chosen profile claims, role assignments) to
//! workflows of one or more steps, each approved by the holders of a role.
//! Nothing held takes effect before the last approval; the approval that
//! completes a request applies it in the same transaction, or the request
//! completes as FAILED with its reason and nothing half-applied.
//!
//! Task states follow the approval task state machine (README, "Pending
//! Approvals"): READY -> RESERVED (CLAIM, "Start"), RESERVED -> READY
//! (RELEASE, owner only), READY or own RESERVED -> COMPLETED (APPROVE /
//! REJECT). A task reserved by someone else is shown as BLOCKED. Every
//! transition is one conditional UPDATE, so of two approvers pressing Start
//! at once exactly one wins.

pub mod rest;
mod store;
mod workflow;

use crate::config::{Config, Workflow};
use crate::db::{Db, DbError};
use app::approvals::{
    Action, ApprovalStatus, ApprovalsOverview, RequestSummary, TaskDetail, TaskStatus, TaskSummary,
    WorkflowOperation,
};
use app::backend::ssr::CurrentSession;
use app::error::AppError;
use rand::RngCore;
use serde_json::Value;

pub use store::{forget_rejection, rejected_registration};

#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// The same for "does not exist" and "is not yours to see".
    #[error("no such task or request")]
    NotFound,
    /// The task's state does not allow the action; the text says why.
    #[error("{0}")]
    Refused(String),
    /// The user may see the task but not decide it (their own request).
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for ApprovalError {
    fn from(e: sqlx::Error) -> Self {
        ApprovalError::Db(e.into())
    }
}

impl From<ApprovalError> for AppError {
    fn from(e: ApprovalError) -> Self {
        match e {
            ApprovalError::NotFound => AppError::NotFound,
            ApprovalError::Refused(why) => AppError::Refused(why),
            ApprovalError::Forbidden(why) => AppError::Forbidden(why),
            ApprovalError::Db(e) => e.into(),
        }
    }
}

/// What an operation asks to change, before it is held for approval.
pub struct NewRequest<'a> {
    pub operation: WorkflowOperation,
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

/// Holds an operation for approval under its workflow: a request and the
/// task of its first step. Runs inside the caller's transaction, so the held
/// change and the request exist together or not at all.
pub async fn submit(
    tx: &mut sqlx::AnyConnection,
    workflow: &Workflow,
    request: NewRequest<'_>,
) -> Result<String, DbError> {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let id = hex::encode(bytes);
    store::insert_request(
        tx,
        store::NewRequest {
            id: &id,
            operation: request.operation,
            subject: request.subject,
            description: request.description,
            initiator: request.initiator,
            target_user_id: request.target_user_id,
            properties: request.properties.to_string(),
            total_steps: workflow.steps.len() as i64,
        },
    )
    .await?;
    let first_role = workflow.steps.first().map(String::as_str).unwrap_or("");
    store::insert_task(tx, &id, 1, first_role).await?;
    Ok(id)
}

/// Tells the open Pending Approvals pages of everyone a request concerns
/// that it appeared or changed. Called after the change is committed, so
/// that a page reloading at once sees it.
pub async fn announce(db: &Db, request_id: &str) {
    match store::concerned(db, request_id).await {
        Ok(users) => {
            for user_id in users {
                crate::events::raise(db, user_id, crate::events::Event::ApprovalsChanged).await;
            }
        }
        Err(e) => tracing::warn!(error = %e, "live updates: approvers not found"),
    }
}

/// A request's properties as (name, value) for people; keys starting with `_`
/// are the engine's own.
fn shown_properties(properties: &str) -> Vec<(String, String)> {
    match serde_json::from_str(properties) {
        Ok(Value::Object(map)) => map
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

fn detail_from(row: store::TaskRow, me: i64) -> TaskDetail {
    // Reserved by someone else reads as BLOCKED.
    let status = match row.status {
        TaskStatus::Reserved if row.owner_user_id != Some(me) => TaskStatus::Blocked,
        status => status,
    };
    TaskDetail {
        summary: TaskSummary {
            id: row.id.to_string(),
            subject: row.subject,
            operation: row.operation,
            status,
            priority: row.priority,
            created: crate::time::moment(row.created_at),
        },
        description: row.description,
        initiator: row.initiator,
        owner: row.owner,
        approval_status: row.approval_status,
        step: row.step,
        total_steps: row.total_steps,
        role: row.role,
        request_state: row.state,
        outcome: row.outcome,
        properties: shown_properties(&row.properties),
        own_request: row.target_user_id == Some(me),
    }
}

/// The user's tasks, newest first; only those in `statuses` unless empty.
pub async fn tasks_for(
    db: &Db,
    me: i64,
    statuses: &[TaskStatus],
) -> Result<Vec<TaskDetail>, DbError> {
    Ok(store::visible_tasks(db, me)
        .await?
        .into_iter()
        .map(|row| detail_from(row, me))
        .filter(|t| statuses.is_empty() || statuses.contains(&t.summary.status))
        .collect())
}

/// One task, if the user may see it; NotFound otherwise, and for an id that
/// is not a task id at all.
pub async fn task_for(db: &Db, me: i64, task_id: &str) -> Result<TaskDetail, ApprovalError> {
    let id: i64 = task_id.parse().map_err(|_| ApprovalError::NotFound)?;
    store::visible_task(db, me, id)
        .await?
        .map(|row| detail_from(row, me))
        .ok_or(ApprovalError::NotFound)
}

/// What Pending Approvals shows: the user's tasks (if an approver) and the
/// user's own requests awaiting approval.
pub async fn overview(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
    status: Option<TaskStatus>,
) -> Result<ApprovalsOverview, DbError> {
    let roles = crate::users::roles_of(db, me.user_id).await?;
    let approver = config.approver_roles().iter().any(|r| roles.contains(r));
    let statuses: Vec<TaskStatus> = status.into_iter().collect();
    let tasks = tasks_for(db, me.user_id, &statuses).await?;
    let requests = requests_of(db, me.user_id).await?;
    Ok(ApprovalsOverview {
        approver: approver || !tasks.is_empty(),
        tasks,
        requests,
    })
}

/// Why an action could not be applied to the task as it is now.
fn refusal(task: &TaskDetail) -> ApprovalError {
    ApprovalError::Refused(match (task.summary.status, &task.owner) {
        (TaskStatus::Blocked, Some(owner)) => format!("{owner} has already started this task."),
        (TaskStatus::Completed, _) => "This task is already completed.".into(),
        (TaskStatus::Ready, _) => "Start the task before releasing it.".into(),
        (status, _) => format!("That cannot be done to a task that is {status}."),
    })
}

/// Applies an action to a task the user can see.
pub async fn act(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
    task_id: &str,
    action: Action,
) -> Result<TaskDetail, ApprovalError> {
    let task = task_for(db, me.user_id, task_id).await?;
    let id: i64 = task_id.parse().map_err(|_| ApprovalError::NotFound)?;
    if task.own_request && matches!(action, Action::Claim | Action::Approve | Action::Reject) {
        return Err(ApprovalError::Forbidden(
            "You cannot approve or reject your own request.".into(),
        ));
    }
    let applied = match action {
        Action::Claim => store::reserve(db, me.user_id, id).await?,
        Action::Release => store::release(db, me.user_id, id).await?,
        Action::Approve | Action::Reject => {
            let approve = action == Action::Approve;
            let decision = if approve {
                ApprovalStatus::Approved
            } else {
                ApprovalStatus::Rejected
            };
            let mut tx = db.pool.begin().await?;
            let decided = store::decide(&mut tx, me.user_id, id, decision).await?;
            if decided {
                workflow::complete_step(&mut tx, config, id, approve).await?;
                tx.commit().await?;
            }
            decided
        }
    };
    // Refused with the task as it is now: another approver may have just won.
    let now = task_for(db, me.user_id, task_id).await?;
    if !applied {
        return Err(refusal(&now));
    }
    tracing::info!(user = %me.username, task = id, ?action, "approval task changed");
    if let Some(request_id) = store::request_id_of_task(db, id).await? {
        announce(db, &request_id).await;
    }
    Ok(now)
}

/// The user's own requests still awaiting approval.
pub async fn requests_of(db: &Db, me: i64) -> Result<Vec<RequestSummary>, DbError> {
    Ok(store::pending_requests_of(db, me)
        .await?
        .into_iter()
        .map(|r| RequestSummary {
            id: r.id,
            operation: r.operation,
            subject: r.subject,
            changes: shown_properties(&r.properties),
            step: r.step,
            total_steps: r.total_steps,
            created: crate::time::moment(r.created_at),
        })
        .collect())
}

/// Pending claim changes of a user: (claim, held value).
pub async fn pending_claims(db: &Db, user_id: i64) -> Result<Vec<(String, String)>, DbError> {
    let mut claims = Vec::new();
    for properties in
        store::pending_properties(db, user_id, WorkflowOperation::ProfileChange).await?
    {
        let properties: Value = serde_json::from_str(&properties).unwrap_or(Value::Null);
        if let Some(map) = properties.get("_claims").and_then(Value::as_object) {
            for (k, v) in map {
                claims.push((k.clone(), v.as_str().unwrap_or_default().to_string()));
            }
        }
    }
    Ok(claims)
}

/// The requester cancels their own pending request.
pub async fn cancel(db: &Db, me: &CurrentSession, request_id: &str) -> Result<(), ApprovalError> {
    // Whom it concerned, read before it goes.
    let concerned = store::concerned(db, request_id).await?;
    if !store::cancel(db, me.user_id, request_id).await? {
        return Err(ApprovalError::NotFound);
    }
    for user_id in concerned {
        crate::events::raise(db, user_id, crate::events::Event::ApprovalsChanged).await;
    }
    tracing::info!(user = %me.username, request = %request_id, "request cancelled");
    Ok(())
}
