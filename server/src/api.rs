//! What every REST endpoint shares: the signed-in user as an extractor and
//! one error body, `{code, message, description, traceId}`, as WSO2's APIs use.

use app::backend::ssr::CurrentSession;
use axum::{
    extract::FromRequestParts,
    http::{request::Parts, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use rand::RngCore;
use serde::Serialize;
use utoipa::ToSchema;

/// Leptos answers 500 when a server function's arguments cannot be decoded,
/// before any of our code runs. That is the client's mistake, so say 400.
pub async fn malformed_arguments_are_bad_requests(response: Response) -> Response {
    // Leptos marks a server function's error answer with this header.
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key("serverfnerror")
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // A server function's error is a short JSON value.
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "").into_response();
    };
    if matches!(
        serde_json::from_slice::<app::error::AppError>(&bytes),
        Ok(app::error::AppError::Malformed(_))
    ) {
        parts.status = StatusCode::BAD_REQUEST;
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The error body of every REST endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    pub description: String,
    /// Quote this when reporting a problem: it finds the server's log entry.
    #[serde(rename = "traceId")]
    pub trace_id: String,
}

#[derive(Debug)]
pub enum ApiError {
    Unauthenticated,
    /// The same answer for "does not exist" and "is not yours".
    NotFound(&'static str),
    BadRequest(String),
    Forbidden(String),
    Conflict(String),
    Internal(String),
}

impl ApiError {
    pub fn internal(error: impl std::fmt::Display) -> Self {
        ApiError::Internal(error.to_string())
    }
}

fn trace_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let trace_id = trace_id();
        let (status, code, message, description) = match self {
            ApiError::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "SSV-40101",
                "Not signed in",
                "Sign in first; the session may have ended.".to_string(),
            ),
            ApiError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                "SSV-40401",
                "Not found",
                format!("No {what} with that id exists for the signed-in user."),
            ),
            ApiError::BadRequest(why) => {
                (StatusCode::BAD_REQUEST, "SSV-40001", "Invalid request", why)
            }
            ApiError::Forbidden(why) => (StatusCode::FORBIDDEN, "SSV-40301", "Forbidden", why),
            ApiError::Conflict(why) => (StatusCode::CONFLICT, "SSV-40901", "Conflict", why),
            ApiError::Internal(cause) => {
                tracing::error!(%trace_id, error = %cause, "internal error in a REST request");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "SSV-50001",
                    "Server error",
                    "Something went wrong on our side. Nothing was changed.".to_string(),
                )
            }
        };
        let body = ErrorBody {
            code: code.into(),
            message: message.into(),
            description,
            trace_id,
        };
        (status, Json(body)).into_response()
    }
}

/// The signed-in user of a REST request (the session middleware found it).
pub struct SignedIn(pub CurrentSession);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentSession>()
            .cloned()
            .map(SignedIn)
            .ok_or(ApiError::Unauthenticated)
    }
}

/// Milliseconds since the epoch as "2026-11-27 04:15 UTC".
pub fn format_time(ms: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// A moment for a page: the browser shows it in the user's time zone.
pub fn moment(ms: i64) -> app::layout::Moment {
    app::layout::Moment {
        ms,
        utc: format_time(ms),
    }
}

/// Milliseconds since the epoch as RFC 3339, for documents.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A JSON request body whose problems (wrong content type, malformed or
/// incomplete JSON) answer with the standard error body, as a 400.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        <Json<T> as axum::extract::FromRequest<S>>::from_request(req, state)
            .await
            .map(|Json(value)| ApiJson(value))
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))
    }
}
