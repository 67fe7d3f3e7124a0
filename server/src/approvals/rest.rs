//! REST: `/api/users/v1/me/approval-tasks`, shaped as WSO2's approvals API.

use super::{act, task_for, tasks_for};
use crate::api::{ApiError, ApiJson, ApiQuery, SignedIn};
use crate::AppState;
use app::approvals::{Action, TaskDetail, TaskStatus};
use axum::{
    extract::{Path, State},
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

/// The actions a task's state accepts (for the document; `Action` itself
/// lives in `app`, which the WASM build keeps free of OpenAPI).
#[derive(ToSchema)]
#[allow(dead_code, clippy::upper_case_acronyms)]
pub enum ActionName {
    CLAIM,
    RELEASE,
    APPROVE,
    REJECT,
}

/// A task's status, as the list reports and filters it.
#[derive(ToSchema)]
#[allow(dead_code, clippy::upper_case_acronyms)]
pub enum TaskStatusName {
    READY,
    RESERVED,
    BLOCKED,
    COMPLETED,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StateDto {
    #[schema(value_type = ActionName)]
    pub action: Action,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskQuery {
    /// Only tasks in these statuses, comma-separated (`READY,COMPLETED`).
    #[param(value_type = Option<Vec<TaskStatusName>>, style = Form, explode = false)]
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

fn summary(t: &TaskDetail) -> TaskSummaryDoc {
    TaskSummaryDoc {
        id: t.summary.id.clone(),
        name: t.summary.operation.label().into(),
        presentation_subject: t.summary.subject.clone(),
        presentation_name: t.summary.operation.label().into(),
        task_type: "TASK".into(),
        status: t.summary.status.as_str().into(),
        priority: t.summary.priority,
        created_time_in_millis: t.summary.created.ms.to_string(),
    }
}

fn data(t: TaskDetail) -> TaskData {
    let mut properties = vec![
        Property {
            key: "Status".into(),
            value: t.summary.status.as_str().into(),
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
        approval_status: t.approval_status.as_str().into(),
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
    ApiQuery(query): ApiQuery<TaskQuery>,
) -> Result<Json<Vec<TaskSummaryDoc>>, ApiError> {
    // WSO2's `status` is an array sent comma-separated (explode: false).
    let statuses = query
        .status
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<TaskStatus>().map_err(|_| {
                ApiError::BadRequest(format!(
                    "Unknown status {s}: use READY, RESERVED, BLOCKED or COMPLETED."
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let tasks = tasks_for(&state.db, me.user_id, &statuses).await?;
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
    Ok(Json(data(task_for(&state.db, me.user_id, &task_id).await?)))
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
    let task = act(&state.db, &state.config, &me, &task_id, body.action).await?;
    Ok(Json(data(task)))
}
