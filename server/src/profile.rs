//! My Profile storage: reading the claims and updating them only when the
//! version the user edited is still the stored one. Claims the operator
//! engaged to a profile_change workflow are held for approval instead.

use crate::config::{Config, Operation};
use crate::db::{now_ms, Db, DbError};
use app::profile::{field, ProfileInput, ProfileView, ValidProfile};
use sqlx::Row;

const COLUMNS: &str = "username, first_name, last_name, organization, country, email, telephone, \
                       mobile, im, url, department, version";

pub async fn load(db: &Db, user_id: i64) -> Result<Option<ProfileView>, DbError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(user_id)
        .fetch_optional(&db.pool)
        .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(ProfileView {
        username: r.get(0),
        claims: ProfileInput {
            first_name: r.get(1),
            last_name: r.get(2),
            organization: r.get(3),
            country: r.get(4),
            email: r.get(5),
            telephone: r.get(6),
            mobile: r.get(7),
            im: r.get(8),
            url: r.get(9),
            department: r.get(10),
        },
        version: r.get(11),
        role: crate::approvals::roles_of(db, user_id).await?.join(", "),
        pending: crate::approvals::pending_claims(db, user_id).await?,
    }))
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
    let held: Vec<String> = config
        .workflow(Operation::ProfileChange)
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
    if !held.is_empty() {
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
        crate::approvals::submit(
            &mut tx,
            config,
            crate::approvals::NewRequest {
                operation: Operation::ProfileChange,
                subject: &format!("Profile change of {username}: {}", labels.join(", ")),
                description: "A user asks to change profile details that need approval.",
                initiator: username,
                target_user_id: Some(user_id),
                properties: &serde_json::Value::Object(properties),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(match load(db, user_id).await? {
        Some(view) => UpdateOutcome::Saved(Box::new(view)),
        None => UpdateOutcome::Conflict,
    })
}
