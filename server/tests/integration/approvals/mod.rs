//! Pending Approvals: the workflow engine, its task states and its REST API,
//! on SQLite and PostgreSQL, including two approvers claiming at once.

use crate::common::*;
use app::approvals::WorkflowOperation as Operation;
use axum::body::Body;
use http::{header, Request, StatusCode};
use server::config::{Config, Workflow};
use sqlx::Row;

pub(crate) fn config() -> Config {
    let mut config = test_config(ORIGIN);
    config.workflows = vec![
        Workflow {
            operation: Operation::SelfRegistration,
            claims: vec![],
            steps: vec!["Approver".into()],
        },
        Workflow {
            operation: Operation::ProfileChange,
            claims: vec!["department".into()],
            steps: vec!["Approver".into()],
        },
        Workflow {
            operation: Operation::RoleAssignment,
            claims: vec![],
            steps: vec!["Approver".into(), "Security".into()],
        },
    ];
    config
}

pub(crate) async fn approver(app: &TestApp, name: &str, role: &str) -> String {
    let id = app.add_user(name, PASSWORD).await;
    server::users::grant_role(&app.db, id, role).await.unwrap();
    app.sign_in(name, PASSWORD).await
}

async fn tasks(app: &TestApp, cookie: &str) -> Vec<serde_json::Value> {
    let reply = app
        .rest("GET", "/api/users/v1/me/approval-tasks", cookie, None)
        .await;
    reply.assert_status(StatusCode::OK, app.label);
    serde_json::from_str(&reply.body).unwrap()
}

/// The id of the newest task the user sees.
pub(crate) async fn first_task(app: &TestApp, cookie: &str) -> String {
    tasks(app, cookie).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub(crate) async fn act(app: &TestApp, cookie: &str, task: &str, action: &str) -> Reply {
    app.rest(
        "PUT",
        &format!("/api/users/v1/me/approval-tasks/{task}/state"),
        cookie,
        Some(serde_json::json!({ "action": action })),
    )
    .await
}

pub(crate) async fn register(app: &TestApp, username: &str) -> Reply {
    let form = [
        ("username", username),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
        ("attributes[email]", "registrant@example.com"),
        ("consents[p1-email]", "on"),
    ];
    app.post("/api/register", &form, None).await
}

mod changes;
mod workflow;
