//! Multi-factor authentication's SQL: authenticator apps, recovery codes and
//! sign-ins waiting for their second factor.

use crate::db::{Db, DbError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TotpRow {
    /// As stored: base32, or sealed under `mfa.encryption_secret`
    /// (`mfa::readable_secret` gives the base32).
    pub secret: String,
    pub created_at: i64,
    pub enabled_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// The user's authenticator app, enabled or being set up.
pub async fn totp(db: &Db, user_id: i64) -> Result<Option<TotpRow>, DbError> {
    Ok(sqlx::query_as(
        "SELECT secret, created_at, enabled_at, last_used_at FROM totp_authenticators WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?)
}

/// One secret stored encrypted, to check the configured key against.
pub async fn any_sealed_secret(db: &Db) -> Result<Option<(i64, String)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT user_id, secret FROM totp_authenticators WHERE secret LIKE $1 LIMIT 1",
    )
    .bind(crate::sealing::sealed_pattern())
    .fetch_optional(&db.pool)
    .await?)
}

/// The secrets stored in the clear, with their accounts.
pub async fn clear_secrets(db: &Db) -> Result<Vec<(i64, String)>, DbError> {
    Ok(
        sqlx::query_as("SELECT user_id, secret FROM totp_authenticators WHERE secret NOT LIKE $1")
            .bind(crate::sealing::sealed_pattern())
            .fetch_all(&db.pool)
            .await?,
    )
}

/// Stores a secret in another form; false when it changed meanwhile.
pub async fn replace_secret(db: &Db, user_id: i64, old: &str, new: &str) -> Result<bool, DbError> {
    Ok(
        sqlx::query(
            "UPDATE totp_authenticators SET secret = $1 WHERE user_id = $2 AND secret = $3",
        )
        .bind(new)
        .bind(user_id)
        .bind(old)
        .execute(&db.pool)
        .await?
        .rows_affected()
            == 1,
    )
}

/// Starts setting up an authenticator app with a new secret, replacing one
/// not yet enabled; false when one is enabled (it is kept).
pub async fn begin_totp(db: &Db, user_id: i64, secret: &str, now: i64) -> Result<bool, DbError> {
    Ok(sqlx::query(
        "INSERT INTO totp_authenticators (user_id, secret, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET secret = $2, created_at = $3, last_step = 0
         WHERE totp_authenticators.enabled_at IS NULL",
    )
    .bind(user_id)
    .bind(secret)
    .bind(now)
    .execute(&db.pool)
    .await?
    .rows_affected()
        == 1)
}

/// Accepts a code of time step `step`, enabling the app if it was being set
/// up; false when a code of that step or a later one was accepted already
/// (a replay), or the app is gone.
pub async fn accept_step(db: &Db, user_id: i64, step: i64, now: i64) -> Result<bool, DbError> {
    Ok(sqlx::query(
        "UPDATE totp_authenticators
         SET last_step = $1, last_used_at = $2, enabled_at = COALESCE(enabled_at, $2)
         WHERE user_id = $3 AND last_step < $1",
    )
    .bind(step)
    .bind(now)
    .bind(user_id)
    .execute(&db.pool)
    .await?
    .rows_affected()
        == 1)
}

/// Removes the user's authenticator app and recovery codes together; false
/// when there was no app.
pub async fn delete_totp(db: &Db, user_id: i64) -> Result<bool, DbError> {
    let mut tx = db.pool.begin().await?;
    let removed = sqlx::query("DELETE FROM totp_authenticators WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(removed)
}

/// A recovery code to store: its lookup prefix and argon2id hash.
pub struct NewCode {
    pub lookup: String,
    pub hash: String,
}

/// Replaces the user's recovery codes in one transaction.
pub async fn replace_codes(
    db: &Db,
    user_id: i64,
    codes: &[NewCode],
    now: i64,
) -> Result<(), DbError> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    for code in codes {
        sqlx::query(
            "INSERT INTO recovery_codes (user_id, lookup, code_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(user_id)
        .bind(&code.lookup)
        .bind(&code.hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The user's set of recovery codes.
pub struct CodeSummary {
    pub remaining: i64,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// The user's recovery codes: how many are unused, when they were made and
/// last used; None without codes.
pub async fn code_summary(db: &Db, user_id: i64) -> Result<Option<CodeSummary>, DbError> {
    let (remaining, created, used): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(CASE WHEN used_at IS NULL THEN 1 END), MAX(created_at), MAX(used_at)
         FROM recovery_codes WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_one(&db.pool)
    .await?;
    Ok(created.map(|created_at| CodeSummary {
        remaining,
        created_at,
        last_used_at: used,
    }))
}

/// The hash of the user's unused code with that prefix.
pub async fn unused_code(db: &Db, user_id: i64, lookup: &str) -> Result<Option<String>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT code_hash FROM recovery_codes WHERE user_id = $1 AND lookup = $2 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(lookup)
    .fetch_optional(&db.pool)
    .await?)
}

/// Uses up a code; false when it was used already (at the same moment).
pub async fn use_code(db: &Db, user_id: i64, lookup: &str, now: i64) -> Result<bool, DbError> {
    Ok(sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND lookup = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .bind(lookup)
    .execute(&db.pool)
    .await?
    .rows_affected()
        == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChallengeRow {
    pub user_id: i64,
    pub first_step: String,
    pub first_step_detail: Option<String>,
    pub leaving_session: Option<String>,
    pub return_to: Option<String>,
}

pub struct NewChallenge<'a> {
    pub token_hash: &'a str,
    pub user_id: i64,
    pub first_step: &'a str,
    pub first_step_detail: Option<&'a str>,
    pub leaving_session: Option<&'a str>,
    pub return_to: Option<&'a str>,
    pub expires_at: i64,
}

pub async fn insert_challenge(db: &Db, new: NewChallenge<'_>) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO second_factor_challenges
         (token_hash, user_id, first_step, first_step_detail, leaving_session, return_to, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new.token_hash)
    .bind(new.user_id)
    .bind(new.first_step)
    .bind(new.first_step_detail)
    .bind(new.leaving_session)
    .bind(new.return_to)
    .bind(new.expires_at)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// A sign-in waiting for its second factor, unless it expired.
pub async fn challenge(
    db: &Db,
    token_hash: &str,
    now: i64,
) -> Result<Option<ChallengeRow>, DbError> {
    Ok(sqlx::query_as(
        "SELECT user_id, first_step, first_step_detail, leaving_session, return_to
         FROM second_factor_challenges WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&db.pool)
    .await?)
}

/// Ends a challenge; false when it had ended already (used at the same moment).
pub async fn take_challenge(db: &Db, token_hash: &str) -> Result<bool, DbError> {
    Ok(
        sqlx::query("DELETE FROM second_factor_challenges WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&db.pool)
            .await?
            .rows_affected()
            == 1,
    )
}

/// Removes expired challenges; how many.
pub async fn delete_expired_challenges(db: &Db, now: i64) -> Result<u64, DbError> {
    Ok(
        sqlx::query("DELETE FROM second_factor_challenges WHERE expires_at <= $1")
            .bind(now)
            .execute(&db.pool)
            .await?
            .rows_affected(),
    )
}

/// A passkey as stored: webauthn-rs' record of it is JSON in `credential`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PasskeyRow {
    pub credential_id: String,
    pub user_id: i64,
    pub name: String,
    pub credential: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

const PASSKEY_COLUMNS: &str = "credential_id, user_id, name, credential, created_at, last_used_at";

/// The user's passkeys, oldest first.
pub async fn passkeys(db: &Db, user_id: i64) -> Result<Vec<PasskeyRow>, DbError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, credential_id"
    ))
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?)
}

/// The passkey of a credential id, whoever's it is (sign-in finds the
/// account by it).
pub async fn passkey(db: &Db, credential_id: &str) -> Result<Option<PasskeyRow>, DbError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE credential_id = $1"
    ))
    .bind(credential_id)
    .fetch_optional(&db.pool)
    .await?)
}

pub async fn passkey_count(db: &Db, user_id: i64) -> Result<i64, DbError> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&db.pool)
            .await?,
    )
}

/// Stores a new passkey; false when its credential id is stored already.
pub async fn insert_passkey(db: &Db, row: &PasskeyRow) -> Result<bool, DbError> {
    Ok(sqlx::query(
        "INSERT INTO passkeys (credential_id, user_id, name, credential, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential_id) DO NOTHING",
    )
    .bind(&row.credential_id)
    .bind(row.user_id)
    .bind(&row.name)
    .bind(&row.credential)
    .bind(row.created_at)
    .execute(&db.pool)
    .await?
    .rows_affected()
        == 1)
}

/// Renames one of the user's passkeys; false when the user has no such one.
pub async fn rename_passkey(
    db: &Db,
    user_id: i64,
    credential_id: &str,
    name: &str,
) -> Result<bool, DbError> {
    Ok(
        sqlx::query("UPDATE passkeys SET name = $1 WHERE user_id = $2 AND credential_id = $3")
            .bind(name)
            .bind(user_id)
            .bind(credential_id)
            .execute(&db.pool)
            .await?
            .rows_affected()
            == 1,
    )
}

/// Records a sign-in with the passkey and its new counter.
pub async fn passkey_used(
    db: &Db,
    credential_id: &str,
    credential: &str,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query("UPDATE passkeys SET credential = $1, last_used_at = $2 WHERE credential_id = $3")
        .bind(credential)
        .bind(now)
        .bind(credential_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Removes one of the user's passkeys; false when the user has no such one.
pub async fn delete_passkey(db: &Db, user_id: i64, credential_id: &str) -> Result<bool, DbError> {
    Ok(
        sqlx::query("DELETE FROM passkeys WHERE user_id = $1 AND credential_id = $2")
            .bind(user_id)
            .bind(credential_id)
            .execute(&db.pool)
            .await?
            .rows_affected()
            == 1,
    )
}

/// The account's WebAuthn user handle, made on first use.
pub async fn user_handle(db: &Db, user_id: i64, fresh: &str) -> Result<String, DbError> {
    sqlx::query(
        "INSERT INTO passkey_user_handles (user_id, handle) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(fresh)
    .execute(&db.pool)
    .await?;
    Ok(
        sqlx::query_scalar("SELECT handle FROM passkey_user_handles WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&db.pool)
            .await?,
    )
}

pub async fn insert_ceremony(
    db: &Db,
    token_hash: &str,
    user_id: Option<i64>,
    state: &str,
    expires_at: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO passkey_ceremonies (token_hash, user_id, state, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(state)
    .bind(expires_at)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Takes a ceremony of `user_id` (None: a sign-in) that has not expired:
/// its state, once only.
pub async fn take_ceremony(
    db: &Db,
    token_hash: &str,
    user_id: Option<i64>,
    now: i64,
) -> Result<Option<String>, DbError> {
    let state: Option<String> = match user_id {
        Some(user_id) => sqlx::query_scalar(
            "DELETE FROM passkey_ceremonies WHERE token_hash = $1 AND user_id = $2 AND expires_at > $3 RETURNING state",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(now)
        .fetch_optional(&db.pool)
        .await?,
        None => sqlx::query_scalar(
            "DELETE FROM passkey_ceremonies WHERE token_hash = $1 AND user_id IS NULL AND expires_at > $2 RETURNING state",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&db.pool)
        .await?,
    };
    Ok(state)
}

pub async fn delete_expired_ceremonies(db: &Db, now: i64) -> Result<u64, DbError> {
    Ok(
        sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at <= $1")
            .bind(now)
            .execute(&db.pool)
            .await?
            .rows_affected(),
    )
}
