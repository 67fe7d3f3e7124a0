//! Personal information export (`userInfo.json`): everything Selfserve holds
//! about the signed-in user, in the top-level shape of WSO2's export
//! (`basic`, `consents`, `security`) with our own sections beside them.
//! Never a password hash, a session token or an internal id.

use crate::api::{ApiError, SignedIn};
use crate::db::Db;
use crate::time::rfc3339;
use crate::{sessions, AppState};
use app::profile::ProfileView;
use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The stored claims by their WSO2 claim URIs; times in RFC 3339.
fn by_claim_uri(view: ProfileView, (created, modified): (i64, i64)) -> BTreeMap<String, String> {
    let claims = view.claims;
    [
        ("username", view.username),
        ("givenname", claims.first_name),
        ("lastname", claims.last_name),
        ("organization", claims.organization),
        ("country", claims.country),
        ("emailaddress", claims.email),
        ("telephone", claims.telephone),
        ("mobile", claims.mobile),
        ("im", claims.im),
        ("url", claims.url),
        ("department", claims.department),
        ("created", rfc3339(created)),
        ("modified", rfc3339(modified)),
    ]
    .into_iter()
    .map(|(name, value)| (format!("http://wso2.org/claims/{name}"), value))
    .collect()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Security {
    /// When the password was last set (RFC 3339); absent for an account
    /// without a password and for one set before that was recorded.
    #[serde(rename = "passwordChanged", skip_serializing_if = "Option::is_none")]
    pub password_changed: Option<String>,
    /// The challenge questions the user has set (never the answers).
    #[serde(rename = "challengeQuestions")]
    pub challenge_questions: Vec<String>,
    /// The second factors set up (never a secret or a code).
    #[serde(rename = "secondFactors")]
    pub second_factors: Vec<ExportedFactor>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedFactor {
    /// `totp` (an authenticator app), `recovery_codes` or `passkey` (named
    /// by its user; its public key is not exported).
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub created: String,
    #[serde(rename = "lastUsed")]
    pub last_used: Option<String>,
    /// Recovery codes not yet used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<i64>,
}

/// The user's second factors as the export lists them.
async fn second_factors(db: &Db, user_id: i64) -> Result<Vec<ExportedFactor>, crate::db::DbError> {
    let mut factors = Vec::new();
    if let Some(app) = crate::mfa::store::totp(db, user_id).await? {
        if let Some(enabled) = app.enabled_at {
            factors.push(ExportedFactor {
                kind: "totp".into(),
                name: "Authenticator app".into(),
                created: rfc3339(enabled),
                last_used: app.last_used_at.map(rfc3339),
                remaining: None,
            });
        }
    }
    if let Some(codes) = crate::mfa::store::code_summary(db, user_id).await? {
        factors.push(ExportedFactor {
            kind: "recovery_codes".into(),
            name: "Recovery codes".into(),
            created: rfc3339(codes.created_at),
            last_used: codes.last_used_at.map(rfc3339),
            remaining: Some(codes.remaining),
        });
    }
    for passkey in crate::mfa::store::passkeys(db, user_id).await? {
        factors.push(ExportedFactor {
            kind: "passkey".into(),
            name: passkey.name,
            created: rfc3339(passkey.created_at),
            last_used: passkey.last_used_at.map(rfc3339),
            remaining: None,
        });
    }
    Ok(factors)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedSession {
    pub ip: String,
    #[serde(rename = "userAgent")]
    pub user_agent: String,
    pub browser: String,
    #[serde(rename = "operatingSystem")]
    pub operating_system: String,
    pub device: String,
    #[serde(rename = "loginTime")]
    pub login_time: String,
    #[serde(rename = "lastAccessTime")]
    pub last_access_time: String,
    /// The session this export was requested from.
    pub current: bool,
}

/// An application that can act for the user (never a token or its hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedApp {
    pub name: String,
    #[serde(rename = "clientId")]
    pub client_id: String,
    #[serde(rename = "approvedScopes")]
    pub approved_scopes: Vec<String>,
    #[serde(rename = "firstAuthorized")]
    pub first_authorized: String,
    #[serde(rename = "lastUsed")]
    pub last_used: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedUser {
    /// Profile claims by WSO2 claim URI; times in RFC 3339.
    pub basic: BTreeMap<String, String>,
    /// Consent receipts (Kantara v1.1) as issued, each with its `state` (an
    /// expired receipt is REVOKED) and `validUntil` when the user set an expiry.
    #[schema(value_type = Vec<Object>)]
    pub consents: Vec<serde_json::Value>,
    pub security: Security,
    /// Applications the user signed in to that can act for them now.
    #[serde(rename = "authorizedApps")]
    pub authorized_apps: Vec<ExportedApp>,
    /// Accounts at other identity providers linked to this one.
    #[serde(rename = "linkedAccounts")]
    #[schema(value_type = Vec<Object>)]
    pub linked_accounts: Vec<serde_json::Value>,
    /// The user's active sessions.
    pub sessions: Vec<ExportedSession>,
    #[serde(rename = "exportedAt")]
    pub exported_at: String,
}

pub async fn document(
    db: &Db,
    config: &crate::config::Config,
    user_id: i64,
    current_session: &str,
) -> Result<Option<ExportedUser>, app::error::AppError> {
    // The profile as My Profile reads it.
    let (Some(view), Some(times)) = (
        crate::profile::load(db, user_id).await?,
        crate::profile::timestamps(db, user_id).await?,
    ) else {
        return Ok(None);
    };
    let mut basic = by_claim_uri(view, times);
    basic.insert(
        "http://wso2.org/claims/role".into(),
        crate::users::roles_of(db, user_id).await?.join(","),
    );
    let sessions = sessions::list_for_user(db, config, user_id)
        .await?
        .into_iter()
        .map(|s| {
            let device = sessions::describe(&s.user_agent);
            ExportedSession {
                current: s.id == current_session,
                ip: s.ip,
                user_agent: s.user_agent,
                browser: device.browser,
                operating_system: device.os,
                device: device.kind,
                login_time: rfc3339(s.created_at),
                last_access_time: rfc3339(s.last_active_at),
            }
        })
        .collect();
    let challenge_questions = crate::recovery::settings(db, config, user_id)
        .await?
        .sets
        .into_iter()
        .filter_map(|set| set.current_text)
        .collect();
    let consents = crate::consent::exported(db, user_id).await?;
    let mut linked_accounts: Vec<serde_json::Value> = crate::associations::list(db, user_id)
        .await?
        .into_iter()
        .map(|row| serde_json::json!({ "kind": "local", "username": row.username }))
        .collect();
    // Identities at providers: who they are, never a token.
    linked_accounts.extend(
        crate::associations::social::list(db, user_id)
            .await?
            .into_iter()
            .map(|row| {
                serde_json::json!({
                    "kind": "federated",
                    "provider": crate::associations::social::provider_name(config, &row.provider),
                    "providerId": row.provider,
                    "subject": row.subject,
                    "account": row.display,
                    "linkedAt": rfc3339(row.linked_at),
                })
            }),
    );
    let authorized_apps = crate::apps::list(db, config, user_id)
        .await?
        .into_iter()
        .map(|app| ExportedApp {
            approved_scopes: app.scopes.iter().map(|s| s.as_str().to_string()).collect(),
            first_authorized: rfc3339(app.first_authorized),
            last_used: rfc3339(app.last_used),
            name: app.name,
            client_id: app.client_id,
        })
        .collect();
    Ok(Some(ExportedUser {
        basic,
        consents,
        authorized_apps,
        security: Security {
            password_changed: crate::users::password_record(db, user_id)
                .await?
                .flatten()
                .map(rfc3339),
            challenge_questions,
            second_factors: second_factors(db, user_id).await?,
        },
        linked_accounts,
        sessions,
        exported_at: rfc3339(crate::time::now_ms()),
    }))
}

/// Exports the signed-in user's information as `userInfo.json`.
#[utoipa::path(
    get,
    path = "/api/identity/user/v1.0/me",
    tag = "me",
    responses(
        (status = 200, description = "The user's information, as an attachment named userInfo.json", body = ExportedUser),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
    )
)]
pub async fn export(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
) -> Result<Response, ApiError> {
    let document = document(&state.db, &state.config, me.user_id, &me.session_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    tracing::info!(user = %me.username, "personal information exported");
    Ok((
        [(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"userInfo.json\"",
        )],
        Json(document),
    )
        .into_response())
}
