//! Self-registration. When the operator engages registration to an approval
//! workflow, the account is created pending (it cannot sign in) together with
//! its approval request, in one transaction.

use crate::config::{Config, Operation};
use crate::db::Db;
use crate::password::{evaluate, hash_password};
use crate::users::{self, UserError, Username};
use crate::{approvals, internal};
use app::error::{AppError, FieldError};

/// Creates the account; true when it awaits approval.
pub async fn register(
    db: &Db,
    config: &Config,
    raw_username: &str,
    password: &str,
    raw_email: &str,
) -> Result<bool, AppError> {
    if !config.registration.enabled {
        return Err(AppError::Refused(
            "Self-registration is turned off. Ask your administrator for an account.".into(),
        ));
    }
    let mut errors = Vec::new();
    let username = Username::parse(raw_username)
        .map_err(|e| errors.push(FieldError::new("username", e)))
        .ok();
    let email_check = app::profile::ProfileInput {
        email: raw_email.to_string(),
        ..Default::default()
    }
    .parse();
    let email = match email_check {
        Ok(valid) => valid.claims().email.clone(),
        Err(found) => {
            errors.extend(found);
            String::new()
        }
    };
    let feedback = evaluate(&config.password, password, &[raw_username.trim()]);
    if !feedback.acceptable {
        errors.push(FieldError::new("password", feedback.problems.join(" ")));
    }
    let Some(username) = username.filter(|_| errors.is_empty()) else {
        return Err(AppError::Invalid(errors));
    };
    let hash = hash_password(password.to_string()).await;
    let held = config.workflow(Operation::SelfRegistration).is_some();
    let status = if held { "pending" } else { "active" };
    let mut tx = db.pool.begin().await.map_err(internal)?;
    let id = match users::insert(&mut tx, &username, &hash, status, &email).await {
        Ok(id) => id,
        Err(UserError::Exists(_)) => {
            return Err(AppError::Invalid(vec![FieldError::new(
                "username",
                "That username is taken. Choose another one.",
            )]))
        }
        Err(e) => return Err(internal(e)),
    };
    if held {
        let properties = serde_json::json!({ "Username": username.as_str(), "Email": email });
        approvals::submit(
            &mut tx,
            config,
            crate::approvals::NewRequest {
                operation: Operation::SelfRegistration,
                subject: &format!("Self-registration of {}", username.as_str()),
                description: "A new account asks to be created. Approve to let it sign in; reject to delete it.",
                initiator: username.as_str(),
                target_user_id: Some(id),
                properties: &properties,
            },
        )
        .await
        .map_err(internal)?;
    }
    // A name that was rejected before is in use again: forget the old rejection.
    sqlx::query("DELETE FROM rejected_registrations WHERE username_key = $1")
        .bind(username.key())
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    tracing::info!(user = %username.as_str(), held, "account registered");
    Ok(held)
}
