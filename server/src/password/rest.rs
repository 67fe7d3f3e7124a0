//! REST: `POST /api/users/v1/me/change-password`, shaped as WSO2's user
//! password API. The same change as the page's, by the same service.

use super::change;
use crate::api::{ApiError, ApiJson, SignedIn};
use crate::sessions::session_cookie;
use crate::AppState;
use app::backend::ssr::ClientInfo;
use app::password::PasswordChange;
use axum::{
    extract::State,
    http::{header, StatusCode},
    response::IntoResponse,
    Extension,
};
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordChangeRequest {
    /// The account's password now. An account created through an identity
    /// provider has none: confirm at the provider on the Change Password
    /// page first, then send an empty string.
    pub current_password: String,
    /// The new password: at least the policy's length, not the username, not
    /// a common or easily guessed password.
    pub new_password: String,
    /// Whether every other session of the account ends too, as the page's
    /// "Sign out of other devices" (checked there by default, so `true` here).
    #[serde(default = "yes")]
    pub sign_out_other_sessions: bool,
}

fn yes() -> bool {
    true
}

/// Changes the signed-in user's password. The session that asked is replaced
/// by a new one (its cookie comes in `Set-Cookie`), and applications' tokens
/// end. Wrong current passwords count as failed sign-ins.
#[utoipa::path(
    post,
    path = "/api/users/v1/me/change-password",
    tag = "me",
    request_body = PasswordChangeRequest,
    responses(
        (status = 204, description = "Changed; `Set-Cookie` carries the new session"),
        (status = 400, description = "The current password is wrong, the new one breaks the policy or is the same, or the body is malformed", body = crate::api::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
        (status = 403, description = "A second factor must be given again first", body = crate::api::ErrorBody),
        (status = 429, description = "Too many wrong passwords: the account is locked for a while", body = crate::api::ErrorBody),
        (status = 503, description = "Too many passwords being checked at once; try again after `Retry-After`", body = crate::api::ErrorBody),
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
    Extension(client): Extension<ClientInfo>,
    ApiJson(request): ApiJson<PasswordChangeRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let request = PasswordChange {
        current: request.current_password,
        new_password: request.new_password,
        sign_out_other_devices: request.sign_out_other_sessions,
    };
    let token = change(&state.db, &state.config, &me, request, &client).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, session_cookie(&state.config, &token))],
    ))
}
