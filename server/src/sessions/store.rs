//! The sessions section's SQL. Only a token's SHA-256 is stored.

use crate::config::Config;
use crate::db::{Db, DbError};
use crate::time::now_ms;

/// A session to store.
pub struct NewSession<'a> {
    pub id: &'a str,
    pub token_hash: &'a str,
    pub user_id: i64,
    pub ip: &'a str,
    pub user_agent: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
    pub switched_from: Option<&'a str>,
    pub signed_in_with: Option<&'a str>,
    /// The second factor given at sign-in ('otp', 'recovery_code').
    pub second_factor: Option<&'a str>,
    /// 'passkey' for a sign-in with a passkey alone.
    pub signed_in_by: Option<&'a str>,
    /// 'device' or 'synced' when that passkey proved it.
    pub passkey_kind: Option<&'a str>,
}

pub async fn insert(db: &Db, new: NewSession<'_>) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO sessions (id, token_hash, user_id, ip, user_agent, created_at, last_active_at, expires_at, switched_from, signed_in_with, second_factor, second_factor_at, signed_in_by, passkey_kind)
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(new.id)
    .bind(new.token_hash)
    .bind(new.user_id)
    .bind(new.ip)
    .bind(new.user_agent)
    .bind(new.created_at)
    .bind(new.expires_at)
    .bind(new.switched_from)
    .bind(new.signed_in_with)
    .bind(new.second_factor)
    // A passkey sign-in counts as a second factor given now (step-up).
    .bind(
        (new.second_factor.is_some() || new.signed_in_by.is_some()).then_some(new.created_at),
    )
    .bind(new.signed_in_by)
    .bind(new.passkey_kind)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// How a session was begun: the provider it was signed in with (None for a
/// password) and the second factor given, if any.
#[derive(sqlx::FromRow)]
pub struct Begun {
    pub signed_in_with: Option<String>,
    pub second_factor: Option<String>,
    pub signed_in_by: Option<String>,
    pub passkey_kind: Option<String>,
}

/// How the session was begun; None without the session.
pub async fn begun(db: &Db, session_id: &str) -> Result<Option<Begun>, DbError> {
    Ok(sqlx::query_as(
        "SELECT signed_in_with, second_factor, signed_in_by, passkey_kind FROM sessions WHERE id = $1",
    )
    .bind(session_id)
    .fetch_optional(&db.pool)
    .await?)
}

/// Records which kind of passkey proved the session, if a passkey is what
/// it records (its first step, or its second factor); the first one stays.
pub async fn set_passkey_kind(db: &Db, session_id: &str, kind: &str) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE sessions SET passkey_kind = COALESCE(passkey_kind, $1)
         WHERE id = $2 AND (signed_in_by = 'passkey' OR second_factor = 'passkey')",
    )
    .bind(kind)
    .bind(session_id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Records a second factor given again in the session (before a sensitive
/// change).
pub async fn set_second_factor_at(
    db: &Db,
    session_id: &str,
    method: &str,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE sessions SET second_factor_at = $1, second_factor = COALESCE(second_factor, $2)
         WHERE id = $3",
    )
    .bind(now)
    .bind(method)
    .bind(session_id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// When the session's user last gave a second factor, if ever.
pub async fn second_factor_at(db: &Db, session_id: &str) -> Result<Option<i64>, DbError> {
    Ok(
        sqlx::query_scalar::<_, Option<i64>>("SELECT second_factor_at FROM sessions WHERE id = $1")
            .bind(session_id)
            .fetch_optional(&db.pool)
            .await?
            .flatten(),
    )
}

/// Records that the session's user proved themselves again just now.
pub async fn set_confirmed(db: &Db, session_id: &str, now: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE sessions SET confirmed_at = $1 WHERE id = $2")
        .bind(now)
        .bind(session_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// When the session's user last proved themselves again, if ever.
pub async fn confirmed_at(db: &Db, session_id: &str) -> Result<Option<i64>, DbError> {
    Ok(
        sqlx::query_scalar::<_, Option<i64>>("SELECT confirmed_at FROM sessions WHERE id = $1")
            .bind(session_id)
            .fetch_optional(&db.pool)
            .await?
            .flatten(),
    )
}

/// A session found by its token, with what expiry needs.
#[derive(sqlx::FromRow)]
pub struct Found {
    pub id: String,
    pub user_id: i64,
    pub username: String,
    pub last_active_at: i64,
    pub expires_at: i64,
    /// How many accounts the user is associated with.
    pub associations: i64,
}

pub async fn find_by_token_hash(db: &Db, token_hash: &str) -> Result<Option<Found>, DbError> {
    Ok(sqlx::query_as(
        "SELECT s.id, s.user_id, u.username, s.last_active_at, s.expires_at,
                (SELECT COUNT(*) FROM account_associations a
                 WHERE a.user_low = s.user_id OR a.user_high = s.user_id) AS associations
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(&db.pool)
    .await?)
}

pub async fn touch(db: &Db, id: &str, at: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE sessions SET last_active_at = $1 WHERE id = $2")
        .bind(at)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn delete(db: &Db, session_id: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM sessions WHERE id = $1")
        .bind(session_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Removes every session past its idle or absolute expiry.
pub async fn delete_expired(db: &Db, config: &Config) -> Result<u64, DbError> {
    let now = now_ms();
    let idle_cutoff = now - config.idle_timeout().as_millis() as i64;
    let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_active_at <= $2")
        .bind(now)
        .bind(idle_cutoff)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected())
}

/// A live session as its owner may see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRecord {
    pub id: String,
    pub ip: String,
    pub user_agent: String,
    pub created_at: i64,
    pub last_active_at: i64,
    /// The associated account this session was switched from.
    pub switched_from: Option<String>,
    /// The identity provider this session was signed in with.
    pub signed_in_with: Option<String>,
    /// The second factor given at sign-in.
    pub second_factor: Option<String>,
    /// 'passkey' for a sign-in with a passkey alone.
    pub signed_in_by: Option<String>,
}

/// The user's live sessions, newest first. Expired ones are never listed,
/// even before the cleanup job has removed them.
pub async fn list_for_user(
    db: &Db,
    config: &Config,
    user_id: i64,
) -> Result<Vec<SessionRecord>, DbError> {
    let now = now_ms();
    let idle_cutoff = now - config.idle_timeout().as_millis() as i64;
    Ok(sqlx::query_as(
        "SELECT id, ip, user_agent, created_at, last_active_at, switched_from, signed_in_with, second_factor, signed_in_by FROM sessions
         WHERE user_id = $1 AND expires_at > $2 AND last_active_at > $3
         ORDER BY created_at DESC, id",
    )
    .bind(user_id)
    .bind(now)
    .bind(idle_cutoff)
    .fetch_all(&db.pool)
    .await?)
}

/// Ends one of the user's own sessions; false when the user has no such
/// session (another user's id looks exactly like one that does not exist).
pub async fn delete_for_user(db: &Db, user_id: i64, session_id: &str) -> Result<bool, DbError> {
    let done = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
        .bind(session_id)
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Ends all of the user's sessions but `keep` (if given); returns how many.
pub async fn delete_all_for_user(
    db: &Db,
    user_id: i64,
    keep: Option<&str>,
) -> Result<u64, DbError> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
        .bind(user_id)
        .bind(keep.unwrap_or(""))
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected())
}

pub async fn is_live(
    db: &Db,
    session_id: &str,
    now: i64,
    idle_cutoff: i64,
) -> Result<bool, DbError> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM sessions WHERE id = $1 AND expires_at > $2 AND last_active_at > $3",
    )
    .bind(session_id)
    .bind(now)
    .bind(idle_cutoff)
    .fetch_optional(&db.pool)
    .await?;
    Ok(found.is_some())
}

pub async fn created_at(db: &Db, session_id: &str) -> Result<Option<i64>, DbError> {
    Ok(
        sqlx::query_scalar("SELECT created_at FROM sessions WHERE id = $1")
            .bind(session_id)
            .fetch_optional(&db.pool)
            .await?,
    )
}
