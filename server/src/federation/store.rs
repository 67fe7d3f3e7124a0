//! Sign-ins and links under way at a provider.

use crate::db::{Db, DbError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FlowRow {
    pub state_hash: String,
    pub binding_hash: String,
    pub provider: String,
    pub intent: String,
    pub user_id: Option<i64>,
    pub session_id: Option<String>,
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: Option<String>,
    pub expires_at: i64,
}

pub async fn insert(db: &Db, flow: &FlowRow) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO federation_flows (state_hash, binding_hash, provider, intent, user_id,
             session_id, nonce, pkce_verifier, return_to, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&flow.state_hash)
    .bind(&flow.binding_hash)
    .bind(&flow.provider)
    .bind(&flow.intent)
    .bind(flow.user_id)
    .bind(&flow.session_id)
    .bind(&flow.nonce)
    .bind(&flow.pkce_verifier)
    .bind(&flow.return_to)
    .bind(flow.expires_at)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Takes the flow (once: a replayed callback finds none).
pub async fn take(db: &Db, state_hash: &str, now: i64) -> Result<Option<FlowRow>, DbError> {
    Ok(sqlx::query_as(
        "DELETE FROM federation_flows WHERE state_hash = $1 AND expires_at > $2
         RETURNING state_hash, binding_hash, provider, intent, user_id, session_id, nonce,
             pkce_verifier, return_to, expires_at",
    )
    .bind(state_hash)
    .bind(now)
    .fetch_optional(&db.pool)
    .await?)
}

pub async fn delete_expired(db: &Db, now: i64) -> Result<u64, DbError> {
    Ok(
        sqlx::query("DELETE FROM federation_flows WHERE expires_at <= $1")
            .bind(now)
            .execute(&db.pool)
            .await?
            .rows_affected(),
    )
}
