//! Server-side sessions: a 256-bit random token in the cookie, only its SHA-256
//! in the database, so a leaked database cannot be replayed as cookies. The
//! database is the only source of truth: every request looks the session up,
//! so a revoked session ends on every node at once.

use crate::config::Config;
use crate::db::{now_ms, Db, DbError};
use app::backend::ssr::{ClientInfo, CurrentSession};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

/// A session's secret, as the cookie carries it.
pub struct SessionToken(String);

impl SessionToken {
    fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        SessionToken(hex::encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn public_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Only this many bytes of a user agent are kept.
const MAX_USER_AGENT: usize = 512;

/// Starts a new session for the user and returns its token.
pub async fn create(
    db: &Db,
    config: &Config,
    user_id: i64,
    client: &ClientInfo,
) -> Result<(String, SessionToken), DbError> {
    let token = SessionToken::generate();
    let id = public_id();
    let now = now_ms();
    let expires = now + config.absolute_timeout().as_millis() as i64;
    let user_agent: String = client.user_agent.chars().take(MAX_USER_AGENT).collect();
    sqlx::query(
        "INSERT INTO sessions (id, token_hash, user_id, ip, user_agent, created_at, last_active_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
    )
    .bind(&id)
    .bind(token_hash(token.as_str()))
    .bind(user_id)
    .bind(&client.ip)
    .bind(user_agent)
    .bind(now)
    .bind(expires)
    .execute(&db.pool)
    .await?;
    Ok((id, token))
}

/// Writing last-active on every request would make each page view a write;
/// once a minute is precise enough for the idle timeout.
const TOUCH_AFTER_MS: i64 = 60_000;

/// Finds the live session for a cookie token. Expired sessions are deleted
/// and never returned.
pub async fn resolve(
    db: &Db,
    config: &Config,
    token: &str,
) -> Result<Option<CurrentSession>, DbError> {
    let row = sqlx::query(
        "SELECT s.id, s.user_id, u.username, s.last_active_at, s.expires_at
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1",
    )
    .bind(token_hash(token))
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let id: String = row.get(0);
    let last_active: i64 = row.get(3);
    let expires: i64 = row.get(4);
    let now = now_ms();
    let idle_limit = last_active + config.idle_timeout().as_millis() as i64;
    if now >= expires || now >= idle_limit {
        delete(db, &id).await?;
        return Ok(None);
    }
    if now - last_active >= TOUCH_AFTER_MS {
        sqlx::query("UPDATE sessions SET last_active_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&id)
            .execute(&db.pool)
            .await?;
    }
    Ok(Some(CurrentSession {
        session_id: id,
        user_id: row.get(1),
        username: row.get(2),
    }))
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

pub async fn count_for_user(db: &Db, user_id: i64) -> Result<i64, DbError> {
    let row = sqlx::query("SELECT COUNT(*) FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&db.pool)
        .await?;
    Ok(row.try_get(0)?)
}

/// The cookie's name: with https the `__Host-` prefix pins it to this host and path.
pub fn cookie_name(config: &Config) -> &'static str {
    if config.secure_cookies() {
        "__Host-selfserve_session"
    } else {
        "selfserve_session"
    }
}

pub fn session_cookie(config: &Config, token: &SessionToken) -> String {
    let secure = if config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{}={}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{}",
        cookie_name(config),
        token.as_str(),
        config.absolute_timeout().as_secs(),
        secure
    )
}

pub fn clear_cookie(config: &Config) -> String {
    let secure = if config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{}",
        cookie_name(config),
        secure
    )
}

/// Reads the session token from a request's Cookie headers.
pub fn token_from_headers<'a>(config: &Config, headers: &'a http::HeaderMap) -> Option<&'a str> {
    let name = cookie_name(config);
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Removes expired sessions now and then, on every node (the delete is idempotent).
pub fn spawn_cleanup(db: Db, config: std::sync::Arc<Config>) {
    tokio::spawn(async move {
        let every = std::time::Duration::from_secs(config.session.cleanup_interval_minutes * 60);
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            match delete_expired(&db, &config).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "expired sessions removed"),
                Err(e) => tracing::warn!(error = %e, "expired session cleanup failed"),
            }
        }
    });
}
