//! REST: `/api/users/v1/me/totp`, `/me/totp/secret`, `/me/backup-codes`,
//! `/me/mfa/authenticators` and `/me/webauthn`, shaped as WSO2's TOTP,
//! backup code, MFA and FIDO2 APIs.
//! The same operations as the page, with the same step-up: removing the app
//! and new codes need a second factor given in the last 10 minutes. Unlike
//! WSO2, an enabled app's secret is never sent again.

use super::{begin_setup, finish_setup, overview, regenerate_codes, remove, remove_codes};
use super::{store, MfaError};
use crate::api::{ApiError, ApiJson, SignedIn};
use crate::AppState;
use app::backend::ssr::ClientInfo;
use axum::{extract::State, http::StatusCode, response::IntoResponse, Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// WSO2's `TOTPResponse`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpResponse {
    /// The `otpauth://` URI, base64-encoded (as WSO2 sends it); only while a
    /// setup is under way.
    #[serde(rename = "qrCodeUrl", skip_serializing_if = "Option::is_none")]
    pub qr_code_url: Option<String>,
    /// Whether the app is on (after VALIDATE: whether the code was right).
    #[serde(rename = "isValid")]
    pub is_valid: bool,
}

/// What to do: INIT or REFRESH start a setup with a new secret; VALIDATE
/// turns the app on with a code from it.
#[derive(Debug, Deserialize, ToSchema)]
pub enum TotpAction {
    #[serde(rename = "INIT")]
    Init,
    #[serde(rename = "REFRESH")]
    Refresh,
    #[serde(rename = "VALIDATE")]
    Validate,
}

/// WSO2's `UserRequest`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TotpRequest {
    pub action: TotpAction,
    /// The code the app shows (WSO2 types it as an integer; a string keeps
    /// leading zeros and is accepted too).
    #[serde(rename = "verificationCode")]
    #[schema(value_type = Option<Object>)]
    pub verification_code: Option<serde_json::Value>,
}

/// WSO2's `TOTPSecretResponse`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSecretResponse {
    pub secret: String,
}

/// WSO2's `BackupCodeResponse`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupCodeResponse {
    #[serde(rename = "backupCodes")]
    pub backup_codes: Vec<String>,
}

/// WSO2's `RemainingBackupCodeResponse`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RemainingBackupCodeResponse {
    #[serde(rename = "remainingBackupCodesCount")]
    pub remaining_backup_codes_count: i64,
}

/// WSO2's `EnabledAuthenticators`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnabledAuthenticators {
    /// Comma-separated: `TOTP`, `BackupCode`, `Passkey`; empty when none is
    /// set up.
    #[serde(rename = "enabledAuthenticators")]
    pub enabled_authenticators: String,
}

/// The code as typed: a string as it is; an integer (as WSO2 types it) has
/// lost its leading zeros, so it gets 6 digits again.
fn typed_code(value: serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Number(n) => n.as_u64().map(|n| format!("{n:06}")),
        serde_json::Value::String(s) => Some(s),
        _ => None,
    }
}

fn base64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The authenticator app: on, or a setup under way (with its QR code's URI).
#[utoipa::path(
    get,
    path = "/api/users/v1/me/totp",
    tag = "me",
    responses(
        (status = 200, description = "The app is on, or being set up", body = TotpResponse),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
        (status = 404, description = "No app is set up or being set up", body = crate::api::ErrorBody),
    )
)]
pub async fn get_totp(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
) -> Result<Json<TotpResponse>, ApiError> {
    let row = store::totp(&state.db, me.user_id)
        .await?
        .ok_or(ApiError::NotFound("authenticator app"))?;
    Ok(Json(match row.enabled_at {
        Some(_) => TotpResponse {
            qr_code_url: None,
            is_valid: true,
        },
        None => TotpResponse {
            qr_code_url: super::setup_uri(
                &super::readable_secret(&state.config, me.user_id, &row.secret)?,
                &me.username,
            )
            .map(|uri| base64(&uri)),
            is_valid: false,
        },
    }))
}

/// INIT or REFRESH: a new secret (201, with its QR code's URI); VALIDATE: the
/// app is on when the code is right (200, `isValid`). Wrong codes count
/// toward the lockout.
#[utoipa::path(
    post,
    path = "/api/users/v1/me/totp",
    tag = "me",
    request_body = TotpRequest,
    responses(
        (status = 200, description = "VALIDATE: whether the code was right", body = TotpResponse),
        (status = 201, description = "INIT or REFRESH: a setup with a new secret", body = TotpResponse),
        (status = 400, description = "No code, or no setup under way", body = crate::api::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
        (status = 409, description = "An app is on already", body = crate::api::ErrorBody),
        (status = 429, description = "Too many wrong codes", body = crate::api::ErrorBody),
    )
)]
pub async fn post_totp(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
    Extension(client): Extension<ClientInfo>,
    ApiJson(request): ApiJson<TotpRequest>,
) -> Result<impl IntoResponse, ApiError> {
    match request.action {
        TotpAction::Init | TotpAction::Refresh => {
            let setup = begin_setup(&state.db, &state.config, &me).await?;
            Ok((
                StatusCode::CREATED,
                Json(TotpResponse {
                    qr_code_url: Some(base64(&setup.uri)),
                    is_valid: false,
                }),
            ))
        }
        TotpAction::Validate => {
            let code = request
                .verification_code
                .and_then(typed_code)
                .ok_or_else(|| {
                    ApiError::BadRequest(
                        "VALIDATE needs the verificationCode the app shows.".into(),
                    )
                })?;
            // Recovery codes are made where they can be shown: POST
            // /me/backup-codes.
            let valid = match finish_setup(&state.db, &state.config, &me, &code, &client, false)
                .await
            {
                Ok(_) => true,
                Err(MfaError::WrongCode(_) | MfaError::Replayed | MfaError::Malformed(_)) => false,
                Err(e) => return Err(e.into()),
            };
            Ok((
                StatusCode::OK,
                Json(TotpResponse {
                    qr_code_url: None,
                    is_valid: valid,
                }),
            ))
        }
    }
}

/// Removes the app and the recovery codes (a step-up may be needed first).
#[utoipa::path(
    delete,
    path = "/api/users/v1/me/totp",
    tag = "me",
    responses(
        (status = 200, description = "Removed"),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
        (status = 403, description = "Give the second factor again first", body = crate::api::ErrorBody),
        (status = 404, description = "No app is on", body = crate::api::ErrorBody),
    )
)]
pub async fn delete_totp(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
) -> Result<StatusCode, ApiError> {
    remove(&state.db, &me).await?;
    Ok(StatusCode::OK)
}

/// The secret of the setup under way, to type into the app.
#[utoipa::path(
    get,
    path = "/api/users/v1/me/totp/secret",
    tag = "me",
    responses(
        (status = 200, description = "The secret (base32)", body = TotpSecretResponse),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
        (status = 404, description = "No setup is under way (an enabled app's secret is never sent)", body = crate::api::ErrorBody),
    )
)]
pub async fn get_secret(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
) -> Result<Json<TotpSecretResponse>, ApiError> {
    match store::totp(&state.db, me.user_id).await? {
        Some(row) if row.enabled_at.is_none() => {
            let secret = super::readable_secret(&state.config, me.user_id, &row.secret)?;
            Ok(Json(TotpSecretResponse { secret }))
        }
        _ => Err(ApiError::NotFound("authenticator app setup")),
    }
}

/// New recovery codes, returned once; the old ones stop working.
#[utoipa::path(
    post,
    path = "/api/users/v1/me/backup-codes",
    tag = "me",
    responses(
        (status = 201, description = "The new codes", body = BackupCodeResponse),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
        (status = 403, description = "Give the second factor again first", body = crate::api::ErrorBody),
        (status = 404, description = "No authenticator app is on", body = crate::api::ErrorBody),
    )
)]
pub async fn post_codes(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
) -> Result<impl IntoResponse, ApiError> {
    let codes = regenerate_codes(&state.db, &state.config, &me).await?;
    Ok((
        StatusCode::CREATED,
        Json(BackupCodeResponse {
            backup_codes: codes,
        }),
    ))
}

/// How many recovery codes remain unused.
#[utoipa::path(
    get,
    path = "/api/users/v1/me/backup-codes",
    tag = "me",
    responses(
        (status = 200, description = "The count", body = RemainingBackupCodeResponse),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
    )
)]
pub async fn get_codes(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
) -> Result<Json<RemainingBackupCodeResponse>, ApiError> {
    let remaining = store::code_summary(&state.db, me.user_id)
        .await?
        .map(|summary| summary.remaining)
        .unwrap_or(0);
    Ok(Json(RemainingBackupCodeResponse {
        remaining_backup_codes_count: remaining,
    }))
}

/// Deletes the recovery codes (a step-up may be needed first).
#[utoipa::path(
    delete,
    path = "/api/users/v1/me/backup-codes",
    tag = "me",
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
        (status = 403, description = "Give the second factor again first", body = crate::api::ErrorBody),
    )
)]
pub async fn delete_codes(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
) -> Result<StatusCode, ApiError> {
    remove_codes(&state.db, &me).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The second factors the user has set up.
#[utoipa::path(
    get,
    path = "/api/users/v1/me/mfa/authenticators",
    tag = "me",
    responses(
        (status = 200, description = "The enabled authenticators", body = EnabledAuthenticators),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
    )
)]
pub async fn authenticators(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
) -> Result<Json<EnabledAuthenticators>, ApiError> {
    let summary = overview(&state.db, &state.config, &me).await?;
    let mut enabled = Vec::new();
    if summary.totp.is_some() {
        enabled.push("TOTP");
    }
    if summary
        .recovery_codes
        .is_some_and(|codes| codes.remaining > 0)
    {
        enabled.push("BackupCode");
    }
    if store::passkey_count(&state.db, me.user_id).await? > 0 {
        enabled.push("Passkey");
    }
    Ok(Json(EnabledAuthenticators {
        enabled_authenticators: enabled.join(","),
    }))
}

/// A passkey as WSO2's FIDO2 API lists a device.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebauthnDevice {
    /// The credential id (base64url): the name `DELETE` takes.
    #[serde(rename = "credentialId")]
    pub credential_id: String,
    #[serde(rename = "displayName")]
    pub display_name: String,
    #[serde(rename = "registrationTime")]
    pub registration_time: String,
    #[serde(rename = "lastUsedTime")]
    pub last_used_time: Option<String>,
}

/// WSO2's answer to `start-registration`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebauthnRegistrationStart {
    pub username: String,
    /// Names the registration: `finish-registration` sends it back.
    #[serde(rename = "requestId")]
    pub request_id: String,
    /// The options for `navigator.credentials.create({publicKey})`.
    #[serde(rename = "publicKeyCredentialCreationOptions")]
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

/// The `start-registration` query: WSO2's `appId`, accepted and unused (the
/// relying party is always `public_url`'s host).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct WebauthnStartQuery {
    #[serde(rename = "appId")]
    #[allow(dead_code)]
    pub app_id: Option<String>,
}

/// WSO2's `finish-registration` body, with the name the user gives it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct WebauthnRegistrationFinish {
    #[serde(rename = "requestId")]
    pub request_id: String,
    /// The browser's `PublicKeyCredential` (webauthn-rs' JSON form).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// "Passkey" when not given.
    #[serde(rename = "displayName", default)]
    pub display_name: Option<String>,
}

fn device(row: store::PasskeyRow) -> WebauthnDevice {
    WebauthnDevice {
        credential_id: row.credential_id,
        display_name: row.name,
        registration_time: crate::time::rfc3339(row.created_at),
        last_used_time: row.last_used_at.map(crate::time::rfc3339),
    }
}

/// The user's passkeys.
#[utoipa::path(
    get,
    path = "/api/users/v1/me/webauthn",
    tag = "me",
    responses(
        (status = 200, description = "The passkeys, oldest first", body = [WebauthnDevice]),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
        (status = 403, description = "Passkeys are not offered here", body = crate::api::ErrorBody),
    )
)]
pub async fn list_passkeys(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
) -> Result<Json<Vec<WebauthnDevice>>, ApiError> {
    if !super::passkeys::offered(&state.config) {
        return Err(MfaError::PasskeysNotOffered.into());
    }
    let rows = store::passkeys(&state.db, me.user_id).await?;
    Ok(Json(rows.into_iter().map(device).collect()))
}

/// Starts registering a passkey (a step-up may be needed first): the options
/// for the browser, valid 5 minutes.
#[utoipa::path(
    get,
    path = "/api/users/v1/me/webauthn/start-registration",
    tag = "me",
    params(WebauthnStartQuery),
    responses(
        (status = 201, description = "The registration's options", body = WebauthnRegistrationStart),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
        (status = 403, description = "Passkeys are not offered, or give the second factor again first", body = crate::api::ErrorBody),
    )
)]
pub async fn start_passkey_registration(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
    axum::extract::Query(_query): axum::extract::Query<WebauthnStartQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let started = super::passkeys::begin_registration(&state.db, &state.config, &me).await?;
    let options: serde_json::Value = serde_json::from_str(&started.options)
        .map_err(|_| ApiError::App(MfaError::PasskeyRefused.into()))?;
    Ok((
        StatusCode::CREATED,
        Json(WebauthnRegistrationStart {
            username: me.username.clone(),
            request_id: started.ceremony,
            options: options["publicKey"].clone(),
        }),
    ))
}

/// Finishes registering a passkey with the browser's credential.
#[utoipa::path(
    post,
    path = "/api/users/v1/me/webauthn/finish-registration",
    tag = "me",
    request_body = WebauthnRegistrationFinish,
    responses(
        (status = 201, description = "The passkey is added", body = WebauthnDevice),
        (status = 400, description = "The name is not valid, the registration ended, or the credential was refused", body = crate::api::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
        (status = 403, description = "Passkeys are not offered here", body = crate::api::ErrorBody),
        (status = 409, description = "That passkey is added already", body = crate::api::ErrorBody),
    )
)]
pub async fn finish_passkey_registration(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
    ApiJson(request): ApiJson<WebauthnRegistrationFinish>,
) -> Result<impl IntoResponse, ApiError> {
    let name = app::mfa::passkeys::PasskeyName::parse(
        request.display_name.as_deref().unwrap_or("Passkey"),
    )?;
    let added = super::passkeys::finish_registration(
        &state.db,
        &state.config,
        &me,
        &request.request_id,
        name,
        &request.credential.to_string(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(device(added))))
}

/// Removes a passkey (a step-up may be needed first); refused for the
/// account's last way in.
#[utoipa::path(
    delete,
    path = "/api/users/v1/me/webauthn/{credentialId}",
    tag = "me",
    params(("credentialId" = String, Path, description = "The passkey's credential id")),
    responses(
        (status = 200, description = "Removed"),
        (status = 400, description = "It is the account's last way in", body = crate::api::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
        (status = 403, description = "Give the second factor again first", body = crate::api::ErrorBody),
        (status = 404, description = "No such passkey of the user", body = crate::api::ErrorBody),
    )
)]
pub async fn delete_passkey(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
    axum::extract::Path(credential_id): axum::extract::Path<String>,
) -> Result<StatusCode, ApiError> {
    super::passkeys::remove(&state.db, &me, &credential_id).await?;
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::typed_code;
    use serde_json::json;

    #[test]
    fn an_integer_code_gets_its_leading_zeros_back() {
        assert_eq!(typed_code(json!(12345)).as_deref(), Some("012345"));
        assert_eq!(typed_code(json!(0)).as_deref(), Some("000000"));
        assert_eq!(typed_code(json!("012345")).as_deref(), Some("012345"));
        assert_eq!(typed_code(json!(-1)), None);
        assert_eq!(typed_code(json!(null)), None);
    }
}
