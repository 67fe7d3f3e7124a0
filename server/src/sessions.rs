//! Server-side sessions: a 256-bit random token in the cookie, only its SHA-256
//! in the database, so a leaked database cannot be replayed as cookies. The
//! database is the only source of truth: every request looks the session up,
//! so a revoked session ends on every node at once.

use crate::config::Config;
use crate::db::{Db, DbError};
use crate::time::now_ms;
use app::backend::ssr::{ClientInfo, CurrentSession};
use app::error::AppError;
use app::sessions::SessionView;
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

/// A live session as its owner may see it.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: String,
    pub ip: String,
    pub user_agent: String,
    pub created_at: i64,
    pub last_active_at: i64,
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
    let rows = sqlx::query(
        "SELECT id, ip, user_agent, created_at, last_active_at FROM sessions
         WHERE user_id = $1 AND expires_at > $2 AND last_active_at > $3
         ORDER BY created_at DESC, id",
    )
    .bind(user_id)
    .bind(now)
    .bind(idle_cutoff)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| SessionRecord {
            id: r.get(0),
            ip: r.get(1),
            user_agent: r.get(2),
            created_at: r.get(3),
            last_active_at: r.get(4),
        })
        .collect())
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

/// My Login Sessions: the user's live sessions as the page shows them.
pub async fn views(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
) -> Result<Vec<SessionView>, DbError> {
    Ok(list_for_user(db, config, me.user_id)
        .await?
        .into_iter()
        .map(|r| {
            let device = describe(&r.user_agent);
            SessionView {
                current: r.id == me.session_id,
                id: r.id,
                ip: r.ip,
                browser: device.browser,
                os: device.os,
                device: device.kind,
                user_agent: r.user_agent,
                started: crate::time::moment(r.created_at),
                last_active: crate::time::moment(r.last_active_at),
            }
        })
        .collect())
}

/// Ends one of the user's sessions; NotFound when the user has none with
/// that id (whoever's it is).
pub async fn terminate(db: &Db, me: &CurrentSession, id: &str) -> Result<(), AppError> {
    if !delete_for_user(db, me.user_id, id).await? {
        return Err(AppError::NotFound);
    }
    tracing::info!(user = %me.username, session = %id, "session terminated");
    Ok(())
}

/// Ends every session of the user but this one; returns how many.
pub async fn terminate_others(db: &Db, me: &CurrentSession) -> Result<u64, DbError> {
    let ended = delete_all_for_user(db, me.user_id, Some(&me.session_id)).await?;
    tracing::info!(user = %me.username, ended, "other sessions terminated");
    Ok(ended)
}

/// Browser, operating system and kind of device, read from a user agent.
pub struct Device {
    pub browser: String,
    pub os: String,
    pub kind: String,
}

pub fn describe(user_agent: &str) -> Device {
    let unknown = || "Unknown".to_string();
    match woothee::parser::Parser::new().parse(user_agent) {
        Some(found) => {
            let known = |s: &str| (!s.is_empty() && s != "UNKNOWN").then(|| s.to_string());
            let browser = known(found.name).map(|name| match known(found.version) {
                Some(version) => {
                    format!("{name} {}", version.split('.').next().unwrap_or(&version))
                }
                None => name,
            });
            let kind = match found.category {
                "pc" => "Computer",
                "smartphone" => "Phone",
                "mobilephone" => "Mobile phone",
                "appliance" => "Device",
                "crawler" => "Crawler",
                _ => "Unknown device",
            };
            Device {
                browser: browser.unwrap_or_else(unknown),
                os: known(found.os).unwrap_or_else(unknown),
                kind: kind.into(),
            }
        }
        None => Device {
            browser: unknown(),
            os: unknown(),
            kind: "Unknown device".into(),
        },
    }
}

/// REST: `/api/users/v1/me/sessions`, shaped as WSO2's session API.
pub mod rest {
    use super::*;
    use crate::api::{ApiError, SignedIn};
    use crate::AppState;
    use axum::{
        extract::{Path, Query, State},
        http::{header, StatusCode},
        response::IntoResponse,
        Json,
    };
    use serde::{Deserialize, Serialize};
    use utoipa::{IntoParams, ToSchema};

    #[derive(Debug, Serialize, Deserialize, ToSchema)]
    pub struct Application {
        pub id: String,
        pub subject: String,
        #[serde(rename = "appName")]
        pub app_name: String,
        #[serde(rename = "appId")]
        pub app_id: String,
    }

    #[derive(Debug, Serialize, Deserialize, ToSchema)]
    pub struct Session {
        pub id: String,
        pub ip: String,
        #[serde(rename = "userAgent")]
        pub user_agent: String,
        /// Milliseconds since the epoch, as a string (as WSO2 sends it).
        #[serde(rename = "loginTime")]
        pub login_time: String,
        #[serde(rename = "lastAccessTime")]
        pub last_access_time: String,
        /// Applications signed in through this session (none yet: Selfserve
        /// has no single sign-on).
        pub applications: Vec<Application>,
    }

    #[derive(Debug, Serialize, Deserialize, ToSchema)]
    pub struct Sessions {
        /// The signed-in user's username.
        #[serde(rename = "userId")]
        pub user_id: String,
        pub sessions: Vec<Session>,
    }

    #[derive(Debug, Deserialize, IntoParams)]
    pub struct Paging {
        /// Maximum number of sessions to return.
        pub limit: Option<u32>,
        /// Number of sessions to skip.
        pub offset: Option<u32>,
    }

    /// The signed-in user's active sessions, newest first.
    #[utoipa::path(
        get,
        path = "/api/users/v1/me/sessions",
        tag = "me",
        params(Paging),
        responses(
            (status = 200, description = "The active sessions", body = Sessions),
            (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
        )
    )]
    pub async fn list(
        State(state): State<AppState>,
        SignedIn(me): SignedIn,
        Query(paging): Query<Paging>,
    ) -> Result<Json<Sessions>, ApiError> {
        let records = list_for_user(&state.db, &state.config, me.user_id).await?;
        let sessions = records
            .into_iter()
            .skip(paging.offset.unwrap_or(0) as usize)
            .take(paging.limit.map(|l| l as usize).unwrap_or(usize::MAX))
            .map(|r| Session {
                id: r.id,
                ip: r.ip,
                user_agent: r.user_agent,
                login_time: r.created_at.to_string(),
                last_access_time: r.last_active_at.to_string(),
                applications: Vec::new(),
            })
            .collect();
        Ok(Json(Sessions {
            user_id: me.username,
            sessions,
        }))
    }

    /// Terminates all of the signed-in user's sessions, this one included.
    #[utoipa::path(
        delete,
        path = "/api/users/v1/me/sessions",
        tag = "me",
        responses(
            (status = 204, description = "All sessions terminated"),
            (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
        )
    )]
    pub async fn delete_all(
        State(state): State<AppState>,
        SignedIn(me): SignedIn,
    ) -> Result<impl IntoResponse, ApiError> {
        let ended = delete_all_for_user(&state.db, me.user_id, None).await?;
        tracing::info!(user = %me.username, ended, "all sessions terminated");
        Ok((
            StatusCode::NO_CONTENT,
            [(header::SET_COOKIE, clear_cookie(&state.config))],
        ))
    }

    /// Terminates one of the signed-in user's sessions.
    #[utoipa::path(
        delete,
        path = "/api/users/v1/me/sessions/{session-id}",
        tag = "me",
        params(("session-id" = String, Path, description = "The session's id")),
        responses(
            (status = 204, description = "The session was terminated"),
            (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
            (status = 404, description = "The user has no such session", body = crate::api::ErrorBody),
        )
    )]
    pub async fn delete_one(
        State(state): State<AppState>,
        SignedIn(me): SignedIn,
        Path(session_id): Path<String>,
    ) -> Result<axum::response::Response, ApiError> {
        if !delete_for_user(&state.db, me.user_id, &session_id).await? {
            return Err(ApiError::NotFound("session"));
        }
        tracing::info!(user = %me.username, session = %session_id, "session terminated");
        let mut response = StatusCode::NO_CONTENT.into_response();
        if session_id == me.session_id {
            // Ending one's own session is signing out: drop the cookie too.
            if let Ok(value) = http::HeaderValue::from_str(&clear_cookie(&state.config)) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
        }
        Ok(response)
    }
}
