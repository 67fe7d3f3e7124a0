//! What happens when a task is decided: the request moves to its next step,
//! or finishes, applying or discarding what it holds in the same transaction.

use super::store;
use crate::config::Config;
use crate::db::DbError;
use crate::time::now_ms;
use app::approvals::{RequestState, WorkflowOperation};
use app::states::AccountStatus;
use serde_json::Value;

/// After a task is approved or rejected: advance to the next step, or finish
/// the request (applying or discarding what it holds).
pub async fn complete_step(
    tx: &mut sqlx::AnyConnection,
    config: &Config,
    task_id: i64,
    approved: bool,
) -> Result<(), DbError> {
    let request = store::request_of_task(tx, task_id).await?;
    let properties: Value = serde_json::from_str(&request.properties).unwrap_or(Value::Null);
    if !approved {
        if request.operation == WorkflowOperation::SelfRegistration {
            reject_registration(tx, request.target_user_id).await?;
        }
        return store::finish(tx, &request.id, RequestState::Rejected, "Rejected.").await;
    }
    if request.step < request.total_steps {
        let role = config
            .workflow(request.operation)
            .and_then(|w| w.steps.get(request.step as usize))
            .cloned()
            .unwrap_or_default();
        store::advance(tx, &request.id, request.step + 1).await?;
        return store::insert_task(tx, &request.id, request.step + 1, &role).await;
    }
    match apply(tx, request.operation, request.target_user_id, &properties).await? {
        Ok(()) => {
            store::finish(
                tx,
                &request.id,
                RequestState::Approved,
                "Approved and applied.",
            )
            .await
        }
        Err(reason) => store::finish(tx, &request.id, RequestState::Failed, &reason).await,
    }
}

/// Applies an approved request. The inner error is why it could not apply;
/// the caller records it and nothing is changed.
async fn apply(
    tx: &mut sqlx::AnyConnection,
    operation: WorkflowOperation,
    target: Option<i64>,
    properties: &Value,
) -> Result<Result<(), String>, DbError> {
    let Some(user_id) = target else {
        return Ok(Err("The account no longer exists.".into()));
    };
    match operation {
        WorkflowOperation::SelfRegistration => {
            let done = sqlx::query("UPDATE users SET status = $1 WHERE id = $2 AND status = $3")
                .bind(AccountStatus::Active.as_str())
                .bind(user_id)
                .bind(AccountStatus::Pending.as_str())
                .execute(&mut *tx)
                .await?;
            Ok(if done.rows_affected() == 1 {
                Ok(())
            } else {
                Err("The registration is no longer pending.".into())
            })
        }
        WorkflowOperation::ProfileChange => {
            let Some(changes) = properties.get("_claims").and_then(Value::as_object) else {
                return Ok(Err("The request holds no change.".into()));
            };
            for (claim, value) in changes {
                // Only known claim columns; the name comes from our own request.
                let Some(field) = app::profile::field(claim) else {
                    return Ok(Err(format!("Unknown claim {claim}.")));
                };
                sqlx::query(&format!(
                    "UPDATE users SET {} = $1, version = version + 1, updated_at = $2 WHERE id = $3",
                    field.name
                ))
                .bind(value.as_str().unwrap_or_default())
                .bind(now_ms())
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            }
            Ok(Ok(()))
        }
        WorkflowOperation::RoleAssignment => {
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
    }
}

/// A rejected registration's data is deleted; only its password hash is kept
/// so that the registrant alone can be told at sign-in.
async fn reject_registration(
    tx: &mut sqlx::AnyConnection,
    target: Option<i64>,
) -> Result<(), DbError> {
    let Some(user_id) = target else { return Ok(()) };
    let pending: Option<(String, String)> = sqlx::query_as(
        "SELECT username_key, password_hash FROM users WHERE id = $1 AND status = $2",
    )
    .bind(user_id)
    .bind(AccountStatus::Pending.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((username_key, password_hash)) = pending {
        sqlx::query(
            "INSERT INTO rejected_registrations (username_key, password_hash, rejected_at) VALUES ($1, $2, $3)
             ON CONFLICT (username_key) DO UPDATE SET password_hash = $2, rejected_at = $3",
        )
        .bind(username_key)
        .bind(password_hash)
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
