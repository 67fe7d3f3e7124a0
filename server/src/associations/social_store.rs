//! Social identities' SQL: identities linked to accounts, and identities
//! waiting for their browser to sign in and link them.

use crate::db::{Db, DbError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IdentityRow {
    pub id: String,
    pub user_id: i64,
    pub provider: String,
    pub subject: String,
    pub display: String,
    pub linked_at: i64,
    pub last_used_at: Option<i64>,
}

const COLUMNS: &str =
    "SELECT id, user_id, provider, subject, display, linked_at, last_used_at FROM social_identities";

/// The user's identities, newest link first.
pub async fn list(db: &Db, user_id: i64) -> Result<Vec<IdentityRow>, DbError> {
    Ok(sqlx::query_as(&format!(
        "{COLUMNS} WHERE user_id = $1 ORDER BY linked_at DESC, id"
    ))
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?)
}

/// The identity a provider's subject is linked as, whoever's it is.
pub async fn find(db: &Db, provider: &str, subject: &str) -> Result<Option<IdentityRow>, DbError> {
    Ok(
        sqlx::query_as(&format!("{COLUMNS} WHERE provider = $1 AND subject = $2"))
            .bind(provider)
            .bind(subject)
            .fetch_optional(&db.pool)
            .await?,
    )
}

/// Links the identity; false when the subject is linked already (to anyone).
pub async fn insert(db: &Db, row: &IdentityRow) -> Result<bool, DbError> {
    let mut conn = db.pool.acquire().await?;
    insert_in(&mut conn, row).await
}

/// Records a sign-in with the identity, and how the provider names it now.
pub async fn used(db: &Db, id: &str, display: &str, now: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE social_identities SET last_used_at = $1, display = $2 WHERE id = $3")
        .bind(now)
        .bind(display)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Unlinks one identity of the user; false when the user has no such one.
pub async fn delete(db: &Db, user_id: i64, id: &str) -> Result<bool, DbError> {
    Ok(
        sqlx::query("DELETE FROM social_identities WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&db.pool)
            .await?
            .rows_affected()
            == 1,
    )
}

/// Unlinks every identity of the user; how many there were.
pub async fn delete_all(db: &Db, user_id: i64) -> Result<u64, DbError> {
    Ok(
        sqlx::query("DELETE FROM social_identities WHERE user_id = $1")
            .bind(user_id)
            .execute(&db.pool)
            .await?
            .rows_affected(),
    )
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingRow {
    pub provider: String,
    pub subject: String,
    pub display: String,
    /// JSON of `ProviderProfile`.
    pub claims: String,
}

pub async fn insert_pending(
    db: &Db,
    token_hash: &str,
    pending: &PendingRow,
    expires_at: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO pending_identities (token_hash, provider, subject, display, claims, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash)
    .bind(&pending.provider)
    .bind(&pending.subject)
    .bind(&pending.display)
    .bind(&pending.claims)
    .bind(expires_at)
    .execute(&db.pool)
    .await?;
    Ok(())
}

pub async fn pending(db: &Db, token_hash: &str, now: i64) -> Result<Option<PendingRow>, DbError> {
    Ok(sqlx::query_as(
        "SELECT provider, subject, display, claims FROM pending_identities
         WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&db.pool)
    .await?)
}

/// Takes the pending identity (once: a second taker gets none).
pub async fn take_pending(
    db: &Db,
    token_hash: &str,
    now: i64,
) -> Result<Option<PendingRow>, DbError> {
    let mut conn = db.pool.acquire().await?;
    take_pending_in(&mut conn, token_hash, now).await
}

/// Takes the pending identity on a connection (within the transaction that
/// creates an account through the provider); None when it is gone.
pub async fn take_pending_in(
    tx: &mut sqlx::AnyConnection,
    token_hash: &str,
    now: i64,
) -> Result<Option<PendingRow>, DbError> {
    Ok(sqlx::query_as(
        "DELETE FROM pending_identities WHERE token_hash = $1 AND expires_at > $2
         RETURNING provider, subject, display, claims",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?)
}

/// Links an identity on a connection (within a transaction); false when it
/// is linked already.
pub async fn insert_in(tx: &mut sqlx::AnyConnection, row: &IdentityRow) -> Result<bool, DbError> {
    Ok(sqlx::query(
        "INSERT INTO social_identities (id, user_id, provider, subject, display, linked_at, last_used_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(&row.id)
    .bind(row.user_id)
    .bind(&row.provider)
    .bind(&row.subject)
    .bind(&row.display)
    .bind(row.linked_at)
    .bind(row.last_used_at)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1)
}

pub async fn delete_expired_pending(db: &Db, now: i64) -> Result<u64, DbError> {
    Ok(
        sqlx::query("DELETE FROM pending_identities WHERE expires_at <= $1")
            .bind(now)
            .execute(&db.pool)
            .await?
            .rows_affected(),
    )
}
