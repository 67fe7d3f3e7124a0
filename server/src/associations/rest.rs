//! REST: `/api/users/v1/me/associations`, shaped as WSO2's User Account
//! Associations API v1. An associated account's `userId` is its username
//! (internal ids never leave the server).

use super::social;
use super::{associate, list, remove, remove_all};
use crate::api::{ApiError, ApiJson, SignedIn};
use crate::AppState;
use app::backend::ssr::ClientInfo;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    Extension, Json,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// WSO2's `User`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AssociatedUser {
    /// The associated account's username (its id in this API).
    #[serde(rename = "userId")]
    pub user_id: String,
    pub username: String,
    #[serde(rename = "userStoreDomain")]
    pub user_store_domain: String,
    #[serde(rename = "tenantDomain")]
    pub tenant_domain: String,
    #[serde(rename = "firstName")]
    pub first_name: String,
    #[serde(rename = "lastName")]
    pub last_name: String,
    pub email: String,
}

/// WSO2's `AssociationUserRequest`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AssociationRequest {
    /// The other account's username.
    #[serde(rename = "userId")]
    pub user_id: String,
    /// The other account's password.
    pub password: String,
}

/// The signed-in user's associated accounts, newest association first.
#[utoipa::path(
    get,
    operation_id = "listAssociations",
    path = "/api/users/v1/me/associations",
    tag = "me",
    responses(
        (status = 200, description = "The associated accounts", body = Vec<AssociatedUser>),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
    )
)]
pub async fn get_all(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
) -> Result<Json<Vec<AssociatedUser>>, ApiError> {
    let rows = list(&state.db, me.user_id).await?;
    Ok(Json(
        rows.into_iter()
            .map(|row| AssociatedUser {
                user_id: row.username.clone(),
                username: row.username,
                user_store_domain: "PRIMARY".into(),
                tenant_domain: "carbon.super".into(),
                first_name: row.first_name,
                last_name: row.last_name,
                email: row.email,
            })
            .collect(),
    ))
}

/// Associates the account whose username and password are given. A wrong
/// password counts as a failed sign-in of that account.
#[utoipa::path(
    post,
    operation_id = "associateAccount",
    path = "/api/users/v1/me/associations",
    tag = "me",
    request_body = AssociationRequest,
    responses(
        (status = 201, description = "Associated"),
        (status = 400, description = "Missing fields, a wrong username or password, the user's own account, or an account awaiting approval", body = crate::api::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
        (status = 409, description = "Already associated", body = crate::api::ErrorBody),
        (status = 429, description = "Too many failed attempts", body = crate::api::ErrorBody),
    )
)]
pub async fn add(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
    Extension(client): Extension<ClientInfo>,
    ApiJson(body): ApiJson<AssociationRequest>,
) -> Result<StatusCode, ApiError> {
    associate(
        &state.db,
        &state.config,
        &me,
        &body.user_id,
        &body.password,
        &client,
    )
    .await?;
    Ok(StatusCode::CREATED)
}

/// Removes every association of the signed-in user, for both sides.
#[utoipa::path(
    delete,
    operation_id = "deleteAllAssociations",
    path = "/api/users/v1/me/associations",
    tag = "me",
    responses(
        (status = 204, description = "Every association removed"),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
    )
)]
pub async fn delete_all(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
) -> Result<StatusCode, ApiError> {
    remove_all(&state.db, &me).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the association with one account, for both sides.
#[utoipa::path(
    delete,
    operation_id = "deleteAssociation",
    path = "/api/users/v1/me/associations/{associated-user-id}",
    tag = "me",
    params(("associated-user-id" = String, Path, description = "The associated account's username")),
    responses(
        (status = 204, description = "The association was removed"),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
        (status = 404, description = "No association with that account", body = crate::api::ErrorBody),
    )
)]
pub async fn delete_one(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    remove(&state.db, &me, &username).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// WSO2's `Idp`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Idp {
    /// The provider's id in the configuration.
    pub id: String,
    pub name: String,
    #[serde(rename = "displayName")]
    pub display_name: String,
}

/// WSO2's `FederatedAssociation`: an identity at an external provider.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FederatedAssociation {
    pub id: String,
    pub idp: Idp,
    /// The account at the provider, as it names it (email, else name).
    #[serde(rename = "federatedUserId")]
    pub federated_user_id: String,
}

/// The signed-in user's identities at external providers, newest first.
#[utoipa::path(
    get,
    operation_id = "listFederatedAssociations",
    path = "/api/users/v1/me/federated-associations",
    tag = "me",
    responses(
        (status = 200, description = "The linked identities", body = Vec<FederatedAssociation>),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
    )
)]
pub async fn federated(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
) -> Result<Json<Vec<FederatedAssociation>>, ApiError> {
    let rows = social::list(&state.db, me.user_id).await?;
    Ok(Json(
        rows.into_iter()
            .map(|row| {
                let name = social::provider_name(&state.config, &row.provider);
                FederatedAssociation {
                    id: row.id,
                    idp: Idp {
                        id: row.provider.clone(),
                        name: row.provider,
                        display_name: name,
                    },
                    federated_user_id: row.display,
                }
            })
            .collect(),
    ))
}

/// Unlinks every identity; refused when the account has no password, as
/// they are then its only way in.
#[utoipa::path(
    delete,
    operation_id = "deleteAllFederatedAssociations",
    path = "/api/users/v1/me/federated-associations",
    tag = "me",
    responses(
        (status = 204, description = "Every identity unlinked"),
        (status = 400, description = "They are the account's only way in", body = crate::api::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
    )
)]
pub async fn delete_all_federated(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
) -> Result<StatusCode, ApiError> {
    social::remove_all(&state.db, &me).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unlinks one identity; refused when it is the account's last way in.
#[utoipa::path(
    delete,
    operation_id = "deleteFederatedAssociation",
    path = "/api/users/v1/me/federated-associations/{id}",
    tag = "me",
    params(("id" = String, Path, description = "The linked identity's id")),
    responses(
        (status = 204, description = "The identity was unlinked"),
        (status = 400, description = "It is the account's only way in", body = crate::api::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
        (status = 404, description = "No such identity of this user", body = crate::api::ErrorBody),
    )
)]
pub async fn delete_federated(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    social::remove(&state.db, &state.config, &me, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
