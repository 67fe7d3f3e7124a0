//! The consent section's SQL: receipts per user, their states and end dates.

use super::receipt::{effective_state, Consented, StoredReceipt};
use super::ConsentError;
use crate::db::{Db, DbError};
use crate::time::now_ms;
use app::consent::ReceiptState;
use serde_json::Value;

#[derive(sqlx::FromRow)]
struct ReceiptRow {
    id: String,
    service: String,
    #[sqlx(try_from = "String")]
    state: ReceiptState,
    receipt: String,
    consented: String,
    created_at: i64,
    expires_at: Option<i64>,
    expires_on: Option<String>,
}

const RECEIPT_COLUMNS: &str =
    "SELECT id, service, state, receipt, consented, created_at, expires_at, expires_on FROM consent_receipts";

impl ReceiptRow {
    fn read(self, now: i64) -> Result<StoredReceipt, ConsentError> {
        Ok(StoredReceipt {
            state: effective_state(self.state, self.expires_at, now),
            receipt: serde_json::from_str(&self.receipt)?,
            consented: serde_json::from_str(&self.consented)?,
            // Expiries set before the day was stored were ends of UTC days.
            expires_on: self
                .expires_on
                .or_else(|| self.expires_at.map(super::last_day::last_utc_day)),
            id: self.id,
            service: self.service,
            created_at: self.created_at,
            expires_at: self.expires_at,
        })
    }
}

/// The user's receipts, newest first.
pub async fn list(db: &Db, user_id: i64) -> Result<Vec<StoredReceipt>, ConsentError> {
    let now = now_ms();
    sqlx::query_as::<_, ReceiptRow>(&format!(
        "{RECEIPT_COLUMNS} WHERE user_id = $1 ORDER BY created_at DESC, id DESC"
    ))
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?
    .into_iter()
    .map(|row| row.read(now))
    .collect()
}

/// One of the user's receipts; None for anyone else's.
pub async fn find(db: &Db, user_id: i64, id: &str) -> Result<Option<StoredReceipt>, ConsentError> {
    sqlx::query_as::<_, ReceiptRow>(&format!("{RECEIPT_COLUMNS} WHERE user_id = $1 AND id = $2"))
        .bind(user_id)
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .map(|row| row.read(now_ms()))
        .transpose()
}

/// The newest receipt of a service.
pub async fn latest(
    db: &Db,
    user_id: i64,
    service: &str,
) -> Result<Option<StoredReceipt>, ConsentError> {
    sqlx::query_as::<_, ReceiptRow>(&format!(
        "{RECEIPT_COLUMNS} WHERE user_id = $1 AND service = $2
         ORDER BY created_at DESC, id DESC LIMIT 1"
    ))
    .bind(user_id)
    .bind(service)
    .fetch_optional(&db.pool)
    .await?
    .map(|row| row.read(now_ms()))
    .transpose()
}

/// A receipt to store.
pub struct NewReceipt<'a> {
    pub id: &'a str,
    pub user_id: i64,
    pub service: &'a str,
    pub receipt: &'a Value,
    pub consented: &'a [Consented],
    pub created_at: i64,
}

/// Revokes the service's ACTIVE receipt and stores the new one, inside the
/// caller's transaction. Conflict when another receipt of the service was
/// stored at the same moment.
pub async fn replace_active(
    conn: &mut sqlx::AnyConnection,
    new: NewReceipt<'_>,
) -> Result<(), ConsentError> {
    sqlx::query(
        "UPDATE consent_receipts SET state = $4,
             revoked_at = CASE WHEN expires_at IS NOT NULL AND expires_at < $3 THEN expires_at ELSE $3 END
         WHERE user_id = $1 AND service = $2 AND state = $5",
    )
    .bind(new.user_id)
    .bind(new.service)
    .bind(new.created_at)
    .bind(ReceiptState::Revoked.as_str())
    .bind(ReceiptState::Active.as_str())
    .execute(&mut *conn)
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO consent_receipts (id, user_id, service, state, receipt, consented, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new.id)
    .bind(new.user_id)
    .bind(new.service)
    .bind(ReceiptState::Active.as_str())
    .bind(new.receipt.to_string())
    .bind(serde_json::to_string(new.consented)?)
    .bind(new.created_at)
    .execute(&mut *conn)
    .await
    .map_err(DbError::from);
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if e.is_unique_violation() => Err(ConsentError::Conflict),
        Err(e) => Err(e.into()),
    }
}

/// Records an ACTIVE receipt as REVOKED; false when it was not ACTIVE.
pub async fn mark_revoked(db: &Db, user_id: i64, id: &str, at: i64) -> Result<bool, ConsentError> {
    let changed = sqlx::query(
        "UPDATE consent_receipts SET state = $4, revoked_at = $3
         WHERE user_id = $1 AND id = $2 AND state = $5",
    )
    .bind(user_id)
    .bind(id)
    .bind(at)
    .bind(ReceiptState::Revoked.as_str())
    .bind(ReceiptState::Active.as_str())
    .execute(&db.pool)
    .await?
    .rows_affected();
    Ok(changed > 0)
}

/// Revokes the service's ACTIVE receipt, if any, inside the caller's
/// transaction (Authorized Apps' Remove); true when one was revoked.
pub async fn revoke_service(
    conn: &mut sqlx::AnyConnection,
    user_id: i64,
    service: &str,
    at: i64,
) -> Result<bool, ConsentError> {
    let changed = sqlx::query(
        "UPDATE consent_receipts SET state = $4, revoked_at = $3
         WHERE user_id = $1 AND service = $2 AND state = $5",
    )
    .bind(user_id)
    .bind(service)
    .bind(at)
    .bind(ReceiptState::Revoked.as_str())
    .bind(ReceiptState::Active.as_str())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(changed > 0)
}

/// Sets (or clears) an ACTIVE receipt's end; false when it was not ACTIVE.
pub async fn set_end(
    db: &Db,
    user_id: i64,
    id: &str,
    end: Option<(i64, String)>,
) -> Result<bool, ConsentError> {
    let (ends_at, last_day) = end.unzip();
    let changed = sqlx::query(
        "UPDATE consent_receipts SET expires_at = $3, expires_on = $4
         WHERE user_id = $1 AND id = $2 AND state = $5",
    )
    .bind(user_id)
    .bind(id)
    .bind(ends_at)
    .bind(last_day)
    .bind(ReceiptState::Active.as_str())
    .execute(&db.pool)
    .await?
    .rows_affected();
    Ok(changed > 0)
}

/// Records as REVOKED every ACTIVE receipt past its expiry; returns how many.
/// Records receipts past their end as REVOKED; the user of each.
pub async fn expire_due(db: &Db) -> Result<Vec<i64>, ConsentError> {
    Ok(sqlx::query_scalar(
        "UPDATE consent_receipts SET state = $2, revoked_at = expires_at
         WHERE state = $3 AND expires_at IS NOT NULL AND expires_at <= $1
         RETURNING user_id",
    )
    .bind(now_ms())
    .bind(ReceiptState::Revoked.as_str())
    .bind(ReceiptState::Active.as_str())
    .fetch_all(&db.pool)
    .await?)
}
