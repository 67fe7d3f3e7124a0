//! REST: `/api/users/v2/me/authorized-apps`, shaped as WSO2's Authorized
//! Apps API v2. An application's id is its client id.

use super::{find, list, remove, remove_all, AuthorizedApp};
use crate::api::{ApiError, SignedIn};
use crate::AppState;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// WSO2's `AuthorizedAppDTO`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuthorizedAppDto {
    /// The application's id (its client id).
    pub id: String,
    pub name: String,
    #[serde(rename = "clientId")]
    pub client_id: String,
    #[serde(rename = "approvedScopes")]
    pub approved_scopes: Vec<String>,
}

impl From<AuthorizedApp> for AuthorizedAppDto {
    fn from(app: AuthorizedApp) -> Self {
        AuthorizedAppDto {
            id: app.client_id.clone(),
            name: app.name,
            client_id: app.client_id,
            approved_scopes: app.scopes.iter().map(|s| s.as_str().to_string()).collect(),
        }
    }
}

/// The applications that can act for the signed-in user now, last used first.
#[utoipa::path(
    get,
    operation_id = "listLoggedInUserAuthorizedApps",
    path = "/api/users/v2/me/authorized-apps",
    tag = "me",
    responses(
        (status = 200, description = "The authorized applications", body = Vec<AuthorizedAppDto>),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
    )
)]
pub async fn list_apps(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
) -> Result<Json<Vec<AuthorizedAppDto>>, ApiError> {
    let apps = list(&state.db, &state.config, me.user_id).await?;
    Ok(Json(apps.into_iter().map(Into::into).collect()))
}

/// Removes every authorized application: their tokens end and their
/// consent receipts are revoked.
#[utoipa::path(
    delete,
    operation_id = "deleteLoggedInUserAuthorizedApps",
    path = "/api/users/v2/me/authorized-apps",
    tag = "me",
    responses(
        (status = 204, description = "Every authorized application removed"),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
    )
)]
pub async fn delete_all(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
) -> Result<StatusCode, ApiError> {
    remove_all(&state.db, &state.config, &me).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One authorized application of the signed-in user.
#[utoipa::path(
    get,
    operation_id = "getLoggedInUserAuthorizedAppByAppId",
    path = "/api/users/v2/me/authorized-apps/{application-id}",
    tag = "me",
    params(("application-id" = String, Path, description = "The application's id (its client id)")),
    responses(
        (status = 200, description = "The application", body = AuthorizedAppDto),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
        (status = 404, description = "The user has no such authorized application", body = crate::api::ErrorBody),
    )
)]
pub async fn get_app(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
    Path(id): Path<String>,
) -> Result<Json<AuthorizedAppDto>, ApiError> {
    let app = find(&state.db, &state.config, me.user_id, &id).await?;
    Ok(Json(app.into()))
}

/// Removes one authorized application: its tokens end and its consent
/// receipt is revoked.
#[utoipa::path(
    delete,
    operation_id = "deleteLoggedInUserAuthorizedAppByAppId",
    path = "/api/users/v2/me/authorized-apps/{application-id}",
    tag = "me",
    params(("application-id" = String, Path, description = "The application's id (its client id)")),
    responses(
        (status = 204, description = "The application was removed"),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
        (status = 404, description = "The user has no such authorized application", body = crate::api::ErrorBody),
    )
)]
pub async fn delete_app(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    remove(&state.db, &state.config, &me, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
