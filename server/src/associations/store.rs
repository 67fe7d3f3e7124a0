//! The associations section's SQL: one row per pair of accounts, the lower
//! user id first.

use crate::db::{Db, DbError};

/// The pair's row key: the lower id first, whichever side asks.
fn pair(one: i64, other: i64) -> (i64, i64) {
    (one.min(other), one.max(other))
}

/// An account associated with the asking user, with its profile's name and
/// email.
#[derive(sqlx::FromRow)]
pub struct AssociatedRow {
    pub user_id: i64,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub created_at: i64,
}

/// The user's associated accounts, newest association first. (Not a UNION
/// of the two halves: SQLite gives a compound select's columns no declared
/// type, which the Any driver cannot decode. Both databases serve the OR
/// from the two indexes.)
pub async fn list(db: &Db, user_id: i64) -> Result<Vec<AssociatedRow>, DbError> {
    Ok(sqlx::query_as(
        "SELECT u.id AS user_id, u.username, u.first_name, u.last_name, u.email, a.created_at
         FROM account_associations a
         JOIN users u ON u.id = CASE WHEN a.user_low = $1 THEN a.user_high ELSE a.user_low END
         WHERE a.user_low = $1 OR a.user_high = $1
         ORDER BY a.created_at DESC, u.username",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?)
}

/// Records the association; false when it exists already.
pub async fn insert(db: &Db, one: i64, other: i64, now: i64) -> Result<bool, DbError> {
    let (low, high) = pair(one, other);
    Ok(sqlx::query(
        "INSERT INTO account_associations (user_low, user_high, created_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(low)
    .bind(high)
    .bind(now)
    .execute(&db.pool)
    .await?
    .rows_affected()
        == 1)
}

/// Removes the association; false when there was none.
pub async fn delete(db: &Db, one: i64, other: i64) -> Result<bool, DbError> {
    let (low, high) = pair(one, other);
    Ok(
        sqlx::query("DELETE FROM account_associations WHERE user_low = $1 AND user_high = $2")
            .bind(low)
            .bind(high)
            .execute(&db.pool)
            .await?
            .rows_affected()
            == 1,
    )
}

/// Removes every association of the user; how many there were.
pub async fn delete_all(db: &Db, user_id: i64) -> Result<u64, DbError> {
    Ok(
        sqlx::query("DELETE FROM account_associations WHERE user_low = $1 OR user_high = $1")
            .bind(user_id)
            .execute(&db.pool)
            .await?
            .rows_affected(),
    )
}
