//! The recovery section's SQL: answers (hashes only) and recovery attempts.

use crate::db::{Db, DbError};
use crate::hashing::PasswordHash;
use crate::time::now_ms;

/// One answered set, as stored.
#[derive(sqlx::FromRow)]
pub struct StoredAnswer {
    pub set_id: String,
    pub question_id: String,
    pub answer_hash: String,
}

pub async fn answers(db: &Db, user_id: i64) -> Result<Vec<StoredAnswer>, DbError> {
    Ok(sqlx::query_as(
        "SELECT set_id, question_id, answer_hash FROM challenge_answers WHERE user_id = $1 ORDER BY set_id",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?)
}

/// Stores hashed answers (replacing those sets' previous ones) in one transaction.
pub async fn replace_answers(
    db: &Db,
    user_id: i64,
    hashed: Vec<(String, String, PasswordHash)>,
) -> Result<(), DbError> {
    let mut tx = db.pool.begin().await?;
    for (set_id, question_id, hash) in hashed {
        sqlx::query("DELETE FROM challenge_answers WHERE user_id = $1 AND set_id = $2")
            .bind(user_id)
            .bind(&set_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO challenge_answers (user_id, set_id, question_id, answer_hash, updated_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user_id)
        .bind(&set_id)
        .bind(&question_id)
        .bind(hash.as_str())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Removes the answers of one set, or of all sets; returns how many.
pub async fn remove_answers(db: &Db, user_id: i64, set_id: Option<&str>) -> Result<u64, DbError> {
    let done = match set_id {
        Some(set) => {
            sqlx::query("DELETE FROM challenge_answers WHERE user_id = $1 AND set_id = $2")
                .bind(user_id)
                .bind(set)
                .execute(&db.pool)
                .await?
        }
        None => {
            sqlx::query("DELETE FROM challenge_answers WHERE user_id = $1")
                .bind(user_id)
                .execute(&db.pool)
                .await?
        }
    };
    Ok(done.rows_affected())
}

/// A recovery attempt at one of its stages.
#[derive(sqlx::FromRow)]
pub struct FlowRow {
    pub username_key: String,
    pub user_id: Option<i64>,
    /// JSON: the (set, question) pairs asked.
    pub questions: String,
}

pub struct NewFlow<'a> {
    pub token_hash: &'a str,
    pub username_key: &'a str,
    pub user_id: Option<i64>,
    pub questions: String,
    pub stage: &'a str,
    pub expires_at: i64,
}

pub async fn insert_flow(db: &Db, flow: NewFlow<'_>) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO recovery_flows (token_hash, username_key, user_id, questions, stage, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(flow.token_hash)
    .bind(flow.username_key)
    .bind(flow.user_id)
    .bind(flow.questions)
    .bind(flow.stage)
    .bind(flow.expires_at)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Takes the attempt out of the database (single use): it can be answered once.
pub async fn take_flow(db: &Db, token_hash: &str, stage: &str) -> Result<Option<FlowRow>, DbError> {
    Ok(sqlx::query_as(
        "DELETE FROM recovery_flows WHERE token_hash = $1 AND stage = $2 AND expires_at > $3
         RETURNING username_key, user_id, questions",
    )
    .bind(token_hash)
    .bind(stage)
    .bind(now_ms())
    .fetch_optional(&db.pool)
    .await?)
}

/// The username of a live attempt at `stage`, without using it up.
pub async fn flow_username(
    db: &Db,
    token_hash: &str,
    stage: &str,
) -> Result<Option<String>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT u.username FROM recovery_flows f JOIN users u ON u.id = f.user_id
         WHERE f.token_hash = $1 AND f.stage = $2 AND f.expires_at > $3",
    )
    .bind(token_hash)
    .bind(stage)
    .bind(now_ms())
    .fetch_optional(&db.pool)
    .await?)
}

/// Removes expired recovery attempts (a periodic job).
pub async fn delete_expired(db: &Db) -> Result<u64, DbError> {
    let done = sqlx::query("DELETE FROM recovery_flows WHERE expires_at <= $1")
        .bind(now_ms())
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected())
}

/// When the session was started (its sign-in).
pub async fn session_started(db: &Db, session_id: &str) -> Result<Option<i64>, DbError> {
    Ok(
        sqlx::query_scalar("SELECT created_at FROM sessions WHERE id = $1")
            .bind(session_id)
            .fetch_optional(&db.pool)
            .await?,
    )
}

/// The secret the questions of unknown accounts are derived from: random,
/// made by the first node that needs it, the same for every node after.
pub async fn decoy_secret(db: &Db) -> Result<Vec<u8>, DbError> {
    const NAME: &str = "recovery-decoys";
    let mut fresh = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut fresh);
    sqlx::query(
        "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(NAME)
    .bind(hex::encode(fresh))
    .execute(&db.pool)
    .await?;
    let stored: String = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
        .bind(NAME)
        .fetch_one(&db.pool)
        .await?;
    Ok(hex::decode(&stored).unwrap_or_else(|_| stored.into_bytes()))
}
