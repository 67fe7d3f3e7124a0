//! My Profile storage: reading the claims and updating them only when the
//! version the user edited is still the stored one.

use crate::db::{now_ms, Db, DbError};
use app::profile::{ProfileInput, ProfileView, ValidProfile};
use sqlx::Row;

const COLUMNS: &str = "username, first_name, last_name, organization, country, email, telephone, \
                       mobile, im, url, department, role, version";

pub async fn load(db: &Db, user_id: i64) -> Result<Option<ProfileView>, DbError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(user_id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(|r| ProfileView {
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
        role: r.get(11),
        version: r.get(12),
    }))
}

pub enum UpdateOutcome {
    Saved(Box<ProfileView>),
    /// Someone saved the profile after the editor loaded it.
    Conflict,
}

/// Writes every claim at once if `expected_version` is current (optimistic
/// concurrency: a second tab cannot silently overwrite the first).
pub async fn update(
    db: &Db,
    user_id: i64,
    profile: &ValidProfile,
    expected_version: i64,
) -> Result<UpdateOutcome, DbError> {
    let c = profile.claims();
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
    .execute(&db.pool)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(UpdateOutcome::Conflict);
    }
    Ok(match load(db, user_id).await? {
        Some(view) => UpdateOutcome::Saved(Box::new(view)),
        None => UpdateOutcome::Conflict,
    })
}
