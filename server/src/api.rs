//! What every REST endpoint shares: the signed-in user as an extractor and
//! one error body, `{code, message, description, traceId}`, as WSO2's APIs use.

use app::backend::ssr::CurrentSession;
use app::error::AppError;
use axum::{
    extract::FromRequestParts,
    http::{request::Parts, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    Json,
};
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
    match serde_json::from_slice::<app::error::AppError>(&bytes) {
        Ok(app::error::AppError::Malformed(_)) => parts.status = StatusCode::BAD_REQUEST,
        // A body without Content-Length cut off at the limit while being read.
        Ok(app::error::AppError::Transport(why)) if why.contains("length limit") => {
            return too_large();
        }
        _ => {}
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The answer to a body over the limit (`security::MAX_BODY_BYTES`).
pub fn too_large() -> Response {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        "SSV-41301",
        "Request too large",
        "The request is larger than this service accepts (256 KiB). Nothing was changed.".into(),
    )
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

/// A REST answer other than success. Conditions the services report arrive
/// as their `AppError` and keep its status, so a page and the REST API answer
/// the same condition alike; the other variants are the REST layer's own.
#[derive(Debug)]
pub enum ApiError {
    Unauthenticated,
    /// The same answer for "does not exist" and "is not yours".
    NotFound(&'static str),
    BadRequest(String),
    Forbidden(String),
    Conflict(String),
    /// The body is over the limit (one sent without Content-Length).
    TooLarge,
    /// Too many of something open at once; the text says what.
    TooMany(String),
    /// What a service answered.
    App(AppError),
}

// Every domain error that maps to an `AppError` (once, in its own module)
// becomes a REST error through that mapping: `?` works in handlers.
impl<E: Into<AppError>> From<E> for ApiError {
    fn from(error: E) -> Self {
        ApiError::App(error.into())
    }
}

/// A path under `/api/` or `/scim2/` that names nothing: the API's own error
/// body (not the pages' not-found page), saying where to look.
pub async fn no_such_path(uri: Uri) -> Response {
    let path = uri.path();
    let why = if path.starts_with("/scim2/") {
        format!(
            "There is no {path}. Each user reaches only their own account, at /scim2/Me; \
             /scim2/ServiceProviderConfig, /scim2/ResourceTypes and /scim2/Schemas describe it."
        )
    } else {
        format!("There is no {path}. /api/openapi.json lists the API.")
    };
    crate::security::refusal(path, StatusCode::NOT_FOUND, &why)
}

/// A method the path does not take, in the error shape of the path's API
/// (axum adds the `Allow` header).
pub async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    let why = if path == crate::profile::rest::ME && method == Method::DELETE {
        "/scim2/Me does not delete accounts: delete yours on My Profile (\"Delete your account\"), \
         which asks for its password."
            .to_string()
    } else {
        format!("{path} does not take {method}; the Allow header lists what it takes.")
    };
    crate::security::refusal(path, StatusCode::METHOD_NOT_ALLOWED, &why)
}

/// The error body with the status of the request's answer; `traceId` is the
/// request's id, which every log line of the request carries.
pub fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    description: String,
) -> Response {
    let body = ErrorBody {
        code: code.into(),
        message: message.into(),
        description,
        trace_id: crate::trace::request_id(),
    };
    (status, Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, description) = match self {
            ApiError::Unauthenticated | ApiError::App(AppError::Unauthenticated) => (
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
            ApiError::App(AppError::NotFound) => (
                StatusCode::NOT_FOUND,
                "SSV-40401",
                "Not found",
                "Nothing with that id exists for the signed-in user.".to_string(),
            ),
            ApiError::BadRequest(why) => {
                (StatusCode::BAD_REQUEST, "SSV-40001", "Invalid request", why)
            }
            ApiError::Forbidden(why) => (StatusCode::FORBIDDEN, "SSV-40301", "Forbidden", why),
            ApiError::Conflict(why) => (StatusCode::CONFLICT, "SSV-40901", "Conflict", why),
            ApiError::TooLarge => return too_large(),
            ApiError::TooMany(why) => (
                StatusCode::TOO_MANY_REQUESTS,
                "SSV-42901",
                "Too many requests",
                why,
            ),
            ApiError::App(error) => {
                let status = StatusCode::from_u16(error.status_code())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let (code, message) = match status {
                    StatusCode::BAD_REQUEST => ("SSV-40001", "Invalid request"),
                    StatusCode::UNAUTHORIZED => ("SSV-40101", "Not signed in"),
                    StatusCode::FORBIDDEN => ("SSV-40301", "Forbidden"),
                    StatusCode::NOT_FOUND => ("SSV-40401", "Not found"),
                    StatusCode::CONFLICT => ("SSV-40901", "Conflict"),
                    StatusCode::PAYLOAD_TOO_LARGE => ("SSV-41301", "Request too large"),
                    StatusCode::TOO_MANY_REQUESTS => ("SSV-42901", "Too many requests"),
                    StatusCode::SERVICE_UNAVAILABLE => ("SSV-50301", "Unavailable"),
                    _ => ("SSV-50001", "Server error"),
                };
                let description = match &error {
                    AppError::Invalid(fields) => fields
                        .iter()
                        .map(|f| f.message.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                    AppError::Internal => {
                        "Something went wrong on our side. Nothing was changed.".to_string()
                    }
                    other => other.to_string(),
                };
                (status, code, message, description)
            }
        };
        let mut response = error_response(status, code, message, description);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("2"),
            );
        }
        response
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

/// A JSON request body whose problems (wrong content type, malformed or
/// incomplete JSON) answer with the standard error body, as a 400.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        <Json<T> as axum::extract::FromRequest<S>>::from_request(req, state)
            .await
            .map(|Json(value)| ApiJson(value))
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::TooLarge
                } else {
                    ApiError::BadRequest(rejection.body_text())
                }
            })
    }
}

/// A query string whose problems (`?limit=-5`, an unknown field's value that
/// does not parse) answer with the standard error body, as a 400.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        <axum::extract::Query<T> as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))
    }
}
