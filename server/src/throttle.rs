//! Throttling of guessable secrets: sign-in, recovery answers and
//! self-registration. A counter per key (an account name as typed, existing
//! or not, or a client address) locks the key after too many failures, or
//! counts events in a fixed window. Counters live in the database, so every
//! node sees the same locks.

use crate::config::Config;
use crate::db::{Db, DbError};
use crate::time::now_ms;
use sqlx::any::AnyRow;
use sqlx::Row;

/// What a counter counts. The stored strings are part of the database's
/// contents: they must not change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key(String);

impl Key {
    /// Sign-in failures of an account name (lower-cased), existing or not.
    pub fn sign_in(username_key: &str) -> Self {
        Key(format!("user:{username_key}"))
    }

    /// Sign-in failures from a client address.
    pub fn sign_in_address(ip: &str) -> Self {
        Key(format!("ip:{ip}"))
    }

    /// Wrong second-factor codes for an account name: counted apart from
    /// passwords, so a right password does not clear them.
    pub fn second_factor(username_key: &str) -> Self {
        Key(format!("mfa:{username_key}"))
    }

    /// Wrong recovery answers for an account name.
    pub fn recovery(username_key: &str) -> Self {
        Key(format!("recovery:{username_key}"))
    }

    /// Wrong recovery answers from a client address.
    pub fn recovery_address(ip: &str) -> Self {
        Key(format!("recovery-ip:{ip}"))
    }

    /// Recovery attempts started for an account name.
    pub fn recovery_start(username_key: &str) -> Self {
        Key(format!("recovery-start:{username_key}"))
    }

    /// Recovery attempts started from a client address.
    pub fn recovery_start_address(ip: &str) -> Self {
        Key(format!("recovery-start-ip:{ip}"))
    }

    /// Round trips to identity providers started from a client address.
    pub fn provider_round_trips(ip: &str) -> Self {
        Key(format!("federation-ip:{ip}"))
    }

    /// Accounts registered from a client address.
    pub fn registration(ip: &str) -> Self {
        Key(format!("register:{ip}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub async fn is_locked(db: &Db, key: &Key) -> Result<bool, DbError> {
    let locked_until: Option<i64> =
        sqlx::query_scalar("SELECT locked_until FROM signin_throttle WHERE key = $1")
            .bind(key.as_str())
            .fetch_optional(&db.pool)
            .await?;
    Ok(locked_until.is_some_and(|until| until > now_ms()))
}

/// What the throttle holds for an attempt's account name and address.
pub struct Standing {
    /// Either of them is locked.
    pub locked: bool,
    /// The account name has failures on record (a success clears them).
    pub account_failures: bool,
}

/// The standing of an account name (`$1`) and an address (`$2`) as one row,
/// so that a caller can read it together with what else it needs (sign-in
/// joins the account to it). Always one row, even with no counters.
pub const STANDING: &str = "SELECT MAX(locked_until) AS locked_until,
        SUM(CASE WHEN key = $1 THEN 1 ELSE 0 END) AS account_rows
    FROM signin_throttle WHERE key IN ($1, $2)";

impl Standing {
    /// Reads the columns of [`STANDING`] from a row holding them.
    pub fn from_row(row: &AnyRow) -> Result<Standing, sqlx::Error> {
        let locked_until: Option<i64> = row.try_get("locked_until")?;
        let account_rows: Option<i64> = row.try_get("account_rows")?;
        Ok(Standing {
            locked: locked_until.is_some_and(|until| until > now_ms()),
            account_failures: account_rows.unwrap_or(0) > 0,
        })
    }
}

/// The standing of an attempt, in one query: sign-in and recovery check an
/// account name and an address on every attempt.
pub async fn standing(db: &Db, account: &Key, address: &Key) -> Result<Standing, DbError> {
    let row = sqlx::query(STANDING)
        .bind(account.as_str())
        .bind(address.as_str())
        .fetch_one(&db.pool)
        .await?;
    Ok(Standing::from_row(&row)?)
}

pub async fn clear(db: &Db, key: &Key) -> Result<(), DbError> {
    sqlx::query("DELETE FROM signin_throttle WHERE key = $1")
        .bind(key.as_str())
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Counts a failed sign-in (or a wrong current password) for the account
/// name and the address; true when this failure started a lock of either.
pub async fn record_sign_in_failure(
    db: &Db,
    config: &Config,
    account: &Key,
    address: &Key,
) -> Result<bool, DbError> {
    let lock = &config.lockout;
    // 5 minutes, then 10, 20, ... (WSO2's defaults).
    let account_locked = count_failure(db, account, lock.max_failures, |locks| {
        growing_lock_ms(lock.lock_minutes, lock.lock_multiplier, locks)
    })
    .await?;
    let address_locked = count_failure(db, address, lock.ip_max_failures, |_| {
        lock.ip_lock_minutes as i64 * 60_000
    })
    .await?;
    Ok(account_locked || address_locked)
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
const RETENTION_MS: i64 = 24 * 3_600_000;

/// Deletes counters idle for longer than the retention; returns how many.
pub async fn prune(db: &Db) -> Result<u64, DbError> {
    let now = now_ms();
    Ok(
        sqlx::query("DELETE FROM signin_throttle WHERE updated_at < $1 AND locked_until < $1")
            .bind(now - RETENTION_MS)
            .execute(&db.pool)
            .await?
            .rows_affected(),
    )
}

/// Adds one event to `key`'s fixed window of `window_ms` and returns how many
/// the window holds (a window older than that starts afresh). Here
/// `updated_at` marks the start of the window.
pub async fn count_in_window(db: &Db, key: &Key, window_ms: i64) -> Result<i64, DbError> {
    let now = now_ms();
    let events: i64 = sqlx::query_scalar(
        "INSERT INTO signin_throttle (key, failures, locked_until, lock_count, updated_at)
         VALUES ($1, 1, 0, 0, $2)
         ON CONFLICT (key) DO UPDATE SET
             failures = CASE WHEN signin_throttle.updated_at <= $3 THEN 1 ELSE signin_throttle.failures + 1 END,
             updated_at = CASE WHEN signin_throttle.updated_at <= $3 THEN $2 ELSE signin_throttle.updated_at END
         RETURNING failures",
    )
    .bind(key.as_str())
    .bind(now)
    .bind(now - window_ms)
    .fetch_one(&db.pool)
    .await?;
    Ok(events)
}

#[derive(sqlx::FromRow)]
struct Counted {
    failures: i64,
    lock_count: i64,
}

/// Adds one failure atomically; at `limit` failures, locks the key for the
/// duration `lock_ms(lock_number)` gives and starts counting afresh. True
/// when this failure started a lock.
pub async fn count_failure(
    db: &Db,
    key: &Key,
    limit: u32,
    lock_ms: impl Fn(i64) -> i64,
) -> Result<bool, DbError> {
    let now = now_ms();
    let counted: Counted = sqlx::query_as(
        "INSERT INTO signin_throttle (key, failures, locked_until, lock_count, updated_at)
         VALUES ($1, 1, 0, 0, $2)
         ON CONFLICT (key) DO UPDATE SET failures = signin_throttle.failures + 1, updated_at = $2
         RETURNING failures, lock_count",
    )
    .bind(key.as_str())
    .bind(now)
    .fetch_one(&db.pool)
    .await?;
    if counted.failures < limit as i64 {
        return Ok(false);
    }
    let until = now + lock_ms(counted.lock_count + 1);
    let locked = sqlx::query(
        "UPDATE signin_throttle SET failures = 0, lock_count = lock_count + 1, locked_until = $1
         WHERE key = $2 AND failures >= $3",
    )
    .bind(until)
    .bind(key.as_str())
    .bind(limit as i64)
    .execute(&db.pool)
    .await?;
    Ok(locked.rows_affected() > 0)
}
