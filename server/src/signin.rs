//! Sign in and sign out, with throttling that never reveals whether an
//! account exists: failures are counted per username typed (existing or not)
//! and per client address, and an unknown user costs a real hash check.

use crate::config::Config;
use crate::db::{now_ms, Db, DbError};
use crate::users::{self, Username};
use crate::{password, sessions};
use app::backend::ssr::ClientInfo;
use app::error::AppError;
use sqlx::Row;

/// Why a sign-in did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("throttled")]
    Throttled,
    #[error("registration awaiting approval")]
    PendingApproval,
    #[error("registration rejected")]
    RegistrationRejected,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<SignInError> for AppError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::InvalidCredentials => AppError::InvalidCredentials,
            SignInError::Throttled => AppError::Throttled,
            SignInError::PendingApproval => AppError::PendingApproval,
            SignInError::RegistrationRejected => AppError::RegistrationRejected,
            SignInError::Db(e) => crate::internal(e),
        }
    }
}

pub fn account_key(username_key: &str) -> String {
    format!("user:{username_key}")
}

fn address_key(ip: &str) -> String {
    format!("ip:{ip}")
}

/// Signs in and starts a new session (never reusing one: no fixation).
/// Returns the new session's id and token.
pub async fn sign_in(
    db: &Db,
    config: &Config,
    raw_username: &str,
    password: &str,
    client: &ClientInfo,
) -> Result<(String, sessions::SessionToken), SignInError> {
    // An impossible username still takes the same path, so it is neither
    // faster nor differently worded than an unknown one.
    let username = Username::parse(raw_username).ok();
    let key = account_key(
        &username
            .as_ref()
            .map(Username::key)
            .unwrap_or_else(|| raw_username.trim().to_lowercase()),
    );
    let address = address_key(&client.ip);
    if is_locked(db, &key).await? || is_locked(db, &address).await? {
        return Err(SignInError::Throttled);
    }
    let account = match &username {
        Some(name) => users::credentials(db, name).await?,
        None => None,
    };
    // A rejected registration is told so, but only to whoever knows its password.
    let rejected = match (&account, &username) {
        (None, Some(name)) => crate::approvals::rejected_registration(db, &name.key()).await?,
        _ => None,
    };
    let verified = password::verify_password(
        password.to_string(),
        account
            .as_ref()
            .map(|a| a.password_hash.clone())
            .or(rejected.clone()),
    )
    .await;
    if rejected.is_some() && verified {
        return Err(SignInError::RegistrationRejected);
    }
    match account {
        Some(account) if verified => {
            if crate::approvals::account_status(db, account.id).await? == "pending" {
                return Err(SignInError::PendingApproval);
            }
            clear_failures(db, &key).await?;
            let (id, token) = sessions::create(db, config, account.id, client).await?;
            tracing::info!(user = %account.username, session = %id, ip = %client.ip, "signed in");
            Ok((id, token))
        }
        _ => {
            tracing::info!(ip = %client.ip, "sign-in failed");
            Err(record_failure(db, config, &key, &address).await?)
        }
    }
}

pub async fn is_locked(db: &Db, key: &str) -> Result<bool, DbError> {
    let row = sqlx::query("SELECT locked_until FROM signin_throttle WHERE key = $1")
        .bind(key)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.is_some_and(|r| r.get::<i64, _>(0) > now_ms()))
}

pub async fn clear_failures(db: &Db, key: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM signin_throttle WHERE key = $1")
        .bind(key)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Counts a failure for the account key and the address; returns the error
/// to answer with (Throttled when this failure started a lock).
pub async fn record_failure(
    db: &Db,
    config: &Config,
    account_key: &str,
    address_key_: &str,
) -> Result<SignInError, DbError> {
    let lock = &config.lockout;
    // 5 minutes, then 10, 20, ... (WSO2's defaults).
    let account_locked = count_failure(db, account_key, lock.max_failures, |locks| {
        growing_lock_ms(lock.lock_minutes, lock.lock_multiplier, locks)
    })
    .await?;
    let address_locked = count_failure(db, address_key_, lock.ip_max_failures, |_| {
        lock.ip_lock_minutes as i64 * 60_000
    })
    .await?;
    Ok(if account_locked || address_locked {
        SignInError::Throttled
    } else {
        SignInError::InvalidCredentials
    })
}

/// The length of lock number `locks` (1 for the first): `first_minutes`, then
/// `multiplier` times longer each time, capped at a day.
pub fn growing_lock_ms(first_minutes: u64, multiplier: u32, locks: i64) -> i64 {
    let factor = (multiplier as i64).saturating_pow(locks.saturating_sub(1) as u32);
    (first_minutes as i64 * 60_000)
        .saturating_mul(factor)
        .min(24 * 3_600_000)
}

/// Throttle rows are kept for a day after their last event and any lock: the
/// growing locks (capped at a day) still grow for a persistent guesser, while
/// guessing ever new usernames cannot grow the table without end.
const THROTTLE_RETENTION_MS: i64 = 24 * 3_600_000;

/// Deletes throttle rows idle for longer than the retention; returns how many.
pub async fn prune_throttle(db: &Db) -> Result<u64, DbError> {
    let now = now_ms();
    Ok(
        sqlx::query("DELETE FROM signin_throttle WHERE updated_at < $1 AND locked_until < $1")
            .bind(now - THROTTLE_RETENTION_MS)
            .execute(&db.pool)
            .await?
            .rows_affected(),
    )
}

/// Adds one event to `key`'s fixed window of `window_ms` and returns how many
/// the window holds (a window older than that starts afresh). Here
/// `updated_at` marks the start of the window.
pub async fn count_in_window(db: &Db, key: &str, window_ms: i64) -> Result<i64, DbError> {
    let now = now_ms();
    let row = sqlx::query(
        "INSERT INTO signin_throttle (key, failures, locked_until, lock_count, updated_at)
         VALUES ($1, 1, 0, 0, $2)
         ON CONFLICT (key) DO UPDATE SET
             failures = CASE WHEN signin_throttle.updated_at <= $3 THEN 1 ELSE signin_throttle.failures + 1 END,
             updated_at = CASE WHEN signin_throttle.updated_at <= $3 THEN $2 ELSE signin_throttle.updated_at END
         RETURNING failures",
    )
    .bind(key)
    .bind(now)
    .bind(now - window_ms)
    .fetch_one(&db.pool)
    .await?;
    Ok(row.try_get(0)?)
}

/// Adds one failure atomically; at `limit` failures, locks the key for the
/// duration `lock_ms(lock_number)` gives and starts counting afresh.
pub async fn count_failure(
    db: &Db,
    key: &str,
    limit: u32,
    lock_ms: impl Fn(i64) -> i64,
) -> Result<bool, DbError> {
    let now = now_ms();
    let row = sqlx::query(
        "INSERT INTO signin_throttle (key, failures, locked_until, lock_count, updated_at)
         VALUES ($1, 1, 0, 0, $2)
         ON CONFLICT (key) DO UPDATE SET failures = signin_throttle.failures + 1, updated_at = $2
         RETURNING failures, lock_count",
    )
    .bind(key)
    .bind(now)
    .fetch_one(&db.pool)
    .await?;
    let failures: i64 = row.get(0);
    let locks: i64 = row.get(1);
    if failures < limit as i64 {
        return Ok(false);
    }
    let until = now + lock_ms(locks + 1);
    let locked = sqlx::query(
        "UPDATE signin_throttle SET failures = 0, lock_count = lock_count + 1, locked_until = $1
         WHERE key = $2 AND failures >= $3",
    )
    .bind(until)
    .bind(key)
    .bind(limit as i64)
    .execute(&db.pool)
    .await?;
    Ok(locked.rows_affected() > 0)
}
