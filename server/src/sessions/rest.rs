//! REST: `/api/users/v1/me/sessions`, shaped as WSO2's session API.

use super::{clear_cookie, end_all, list_for_user, terminate};
use crate::api::{ApiError, ApiQuery, SignedIn};
use crate::AppState;
use axum::{
    extract::{Path, State},
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
    /// Applications signed in through this session that can still act for
    /// the user (Authorized Apps).
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
#[into_params(parameter_in = Query)]
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
        (status = 400, description = "A malformed limit or offset", body = crate::api::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
    ApiQuery(paging): ApiQuery<Paging>,
) -> Result<Json<Sessions>, ApiError> {
    let records = list_for_user(&state.db, &state.config, me.user_id).await?;
    let apps = crate::apps::list(&state.db, &state.config, me.user_id).await?;
    let signed_in_to = |session_id: &str| -> Vec<Application> {
        apps.iter()
            .filter(|a| a.session_ids.iter().any(|s| s == session_id))
            .map(|a| Application {
                id: a.client_id.clone(),
                subject: me.username.clone(),
                app_name: a.name.clone(),
                app_id: a.client_id.clone(),
            })
            .collect()
    };
    let sessions = records
        .into_iter()
        .skip(paging.offset.unwrap_or(0) as usize)
        .take(paging.limit.map(|l| l as usize).unwrap_or(usize::MAX))
        .map(|r| Session {
            applications: signed_in_to(&r.id),
            id: r.id,
            ip: r.ip,
            user_agent: r.user_agent,
            login_time: r.created_at.to_string(),
            last_access_time: r.last_active_at.to_string(),
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
    let ended = end_all(&state.db, me.user_id, None).await?;
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
    terminate(&state.db, &me, &session_id).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if session_id == me.session_id {
        // Ending one's own session is signing out: drop the cookie too.
        if let Ok(value) = http::HeaderValue::from_str(&clear_cookie(&state.config)) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}
