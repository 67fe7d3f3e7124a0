//! My Profile storage: reading the claims and updating them only when the
//! version the user edited is still the stored one. Claims the operator
//! engaged to a profile_change workflow are held for approval instead.

use crate::config::Config;
use crate::db::{Db, DbError};
use crate::time::now_ms;
use app::approvals::WorkflowOperation;
use app::backend::ssr::CurrentSession;
use app::error::{AppError, FieldError};
use app::profile::{field, ProfileInput, ProfileView, ValidProfile};

pub mod discovery;
pub mod rest;

const COLUMNS: &str = "username, first_name, last_name, organization, country, email, telephone, \
                       mobile, im, url, department, version";

#[derive(sqlx::FromRow)]
struct ProfileRow {
    username: String,
    first_name: String,
    last_name: String,
    organization: String,
    country: String,
    email: String,
    telephone: String,
    mobile: String,
    im: String,
    url: String,
    department: String,
    version: i64,
}

pub async fn load(db: &Db, user_id: i64) -> Result<Option<ProfileView>, DbError> {
    let row: Option<ProfileRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(ProfileView {
        username: r.username,
        claims: ProfileInput {
            first_name: r.first_name,
            last_name: r.last_name,
            organization: r.organization,
            country: r.country,
            email: r.email,
            telephone: r.telephone,
            mobile: r.mobile,
            im: r.im,
            url: r.url,
            department: r.department,
        },
        version: r.version,
        role: crate::users::roles_of(db, user_id).await?.join(", "),
        pending: crate::approvals::pending_claims(db, user_id).await?,
    }))
}

/// When the account was created and last changed (ms since the epoch).
pub async fn timestamps(db: &Db, user_id: i64) -> Result<Option<(i64, i64)>, DbError> {
    Ok(
        sqlx::query_as("SELECT created_at, updated_at FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?,
    )
}

pub enum UpdateOutcome {
    Saved(Box<ProfileView>),
    /// Someone saved the profile after the editor loaded it.
    Conflict,
    /// A change to this claim already awaits approval.
    AlreadyPending(String),
}

/// Writes the claims if `expected_version` is current (optimistic
/// concurrency: a second tab cannot silently overwrite the first). Changed
/// claims that need approval keep their stored value and are held in a
/// request, in the same transaction.
pub async fn update(
    db: &Db,
    config: &Config,
    user_id: i64,
    username: &str,
    profile: &ValidProfile,
    expected_version: i64,
) -> Result<UpdateOutcome, DbError> {
    let Some(current) = load(db, user_id).await? else {
        return Ok(UpdateOutcome::Conflict);
    };
    let workflow = config.workflow(WorkflowOperation::ProfileChange);
    let held: Vec<String> = workflow
        .map(|w| {
            w.claims
                .iter()
                .filter(|c| profile.claims().get(c) != current.claims.get(c))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if let Some(claim) = held
        .iter()
        .find(|c| current.pending.iter().any(|(p, _)| p == *c))
    {
        return Ok(UpdateOutcome::AlreadyPending(claim.clone()));
    }
    let stored = profile.keeping(&current.claims, &held);
    let c = stored.claims();
    let mut tx = db.pool.begin().await?;
    let updated = sqlx::query(
        "UPDATE users SET first_name = $1, last_name = $2, organization = $3, country = $4,
             email = $5, telephone = $6, mobile = $7, im = $8, url = $9, department = $10,
             version = version + 1, updated_at = $11
         WHERE id = $12 AND version = $13",
    )
    .bind(&c.first_name)
    .bind(&c.last_name)
    .bind(&c.organization)
    .bind(&c.country)
    .bind(&c.email)
    .bind(&c.telephone)
    .bind(&c.mobile)
    .bind(&c.im)
    .bind(&c.url)
    .bind(&c.department)
    .bind(now_ms())
    .bind(user_id)
    .bind(expected_version)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(UpdateOutcome::Conflict);
    }
    let mut submitted = None;
    if let Some(workflow) = workflow.filter(|_| !held.is_empty()) {
        let mut properties = serde_json::Map::new();
        let mut claims = serde_json::Map::new();
        for name in &held {
            let label = field(name).map_or(name.as_str(), |f| f.label);
            let value = profile.claims().get(name).to_string();
            properties.insert(
                label.to_string(),
                format!("{} → {}", current.claims.get(name), value).into(),
            );
            claims.insert(name.clone(), value.into());
        }
        properties.insert("_claims".into(), claims.into());
        let labels: Vec<&str> = held
            .iter()
            .filter_map(|n| field(n).map(|f| f.label))
            .collect();
        let request_id = crate::approvals::submit(
            &mut tx,
            workflow,
            crate::approvals::NewRequest {
                operation: WorkflowOperation::ProfileChange,
                subject: &format!("Profile change of {username}: {}", labels.join(", ")),
                description: "A user asks to change profile details that need approval.",
                initiator: username,
                target_user_id: Some(user_id),
                properties: &serde_json::Value::Object(properties),
            },
        )
        .await?;
        submitted = Some(request_id);
    }
    tx.commit().await?;
    if let Some(request_id) = submitted {
        crate::approvals::announce(db, &request_id).await;
    }
    Ok(match load(db, user_id).await? {
        Some(view) => UpdateOutcome::Saved(Box::new(view)),
        None => UpdateOutcome::Conflict,
    })
}

/// The signed-in user's profile.
pub async fn of(db: &Db, me: &CurrentSession) -> Result<ProfileView, AppError> {
    load(db, me.user_id).await?.ok_or(AppError::Unauthenticated)
}

/// Saves the signed-in user's edit (see `update`), answering as the page
/// and the API should.
pub async fn save(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
    profile: ValidProfile,
    expected_version: i64,
) -> Result<ProfileView, AppError> {
    match update(db, config, me.user_id, &me.username, &profile, expected_version).await? {
        UpdateOutcome::Saved(view) => {
            tracing::info!(user = %me.username, "profile updated");
            Ok(*view)
        }
        UpdateOutcome::Conflict => Err(AppError::Conflict),
        UpdateOutcome::AlreadyPending(claim) => Err(AppError::Invalid(vec![FieldError::new(
            &claim,
            "A change to this field already awaits approval. Cancel it under Pending Approvals to make another.",
        )])),
    }
}

/// Deletes the signed-in user's own account and everything that belongs to
/// it (sessions, grants, receipts, answers, associations: their rows
/// cascade), once they confirm it is them: a recent second factor if they
/// have one, and their password, whose failures count as failed sign-ins.
/// Refused where the operator turned it off (`accounts.self_deletion`).
pub async fn delete_account(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
    password: &str,
    client: &app::backend::ssr::ClientInfo,
) -> Result<(), AppError> {
    if !config.accounts.self_deletion {
        return Err(AppError::Forbidden(
            app::profile::DELETION_BY_ADMINISTRATOR.into(),
        ));
    }
    crate::mfa::require_recent_second_factor(db, me).await?;
    crate::password::reauthenticate(db, config, me, password, "password", client).await?;
    crate::users::remove_by_id(db, me.user_id).await?;
    tracing::info!(user = %me.username, "account deleted by its user");
    Ok(())
}
