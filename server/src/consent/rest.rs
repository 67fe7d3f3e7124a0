//! The consent-mgt REST API (WSO2 consent-mgt v1.0), limited to the signed-in
//! user's own receipts.

use super::{
    claim_of_pii_category, field, group, label_of, pii_category_id, Consented, NewConsent, Services,
};
use crate::api::{ApiError, ApiJson, ApiQuery, SignedIn};
use crate::config::{Config, SYSTEM_SERVICE};
use crate::AppState;
use app::consent::ReceiptState;
use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// WSO2's name for its single default tenant; Selfserve has one tenant.
const TENANT: &str = "carbon.super";
const BASE: &str = "/api/identity/consent-mgt/v1.0/consents";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// ACTIVE or REVOKED (an expired receipt is REVOKED).
    #[param(value_type = Option<ReceiptStateName>)]
    pub state: Option<String>,
    /// A service: an application's name or id, or "Selfserve"; a trailing `*` matches a prefix.
    pub service: Option<String>,
    /// Only the signed-in user's own id is answered (others match nothing).
    #[serde(rename = "piiPrincipalId")]
    pub pii_principal_id: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsentResponse {
    #[serde(rename = "consentReceiptID")]
    pub consent_receipt_id: String,
    pub language: String,
    #[serde(rename = "piiPrincipalId")]
    pub pii_principal_id: String,
    #[serde(rename = "tenantDomain")]
    pub tenant_domain: String,
    pub state: String,
    #[serde(rename = "spDisplayName")]
    pub sp_display_name: String,
    #[serde(rename = "spDescription")]
    pub sp_description: String,
}

fn matches(pattern: &str, candidates: &[&str]) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => candidates.iter().any(|c| c.starts_with(prefix)),
        None => candidates.contains(&pattern),
    }
}

/// The signed-in user's receipts, newest first.
#[utoipa::path(get, operation_id = "listConsents", path = "/api/identity/consent-mgt/v1.0/consents", tag = "consent", params(ListQuery),
    responses((status = 200, body = Vec<ConsentResponse>), (status = 400, body = crate::api::ErrorBody),
              (status = 401, body = crate::api::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Vec<ConsentResponse>>, ApiError> {
    let wanted_state = query
        .state
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ReceiptState>().map_err(|_| {
                ApiError::BadRequest(format!("Unknown state {s}: use ACTIVE or REVOKED."))
            })
        })
        .transpose()?;
    if query
        .pii_principal_id
        .as_deref()
        .is_some_and(|p| !p.eq_ignore_ascii_case(&me.username))
    {
        return Ok(Json(Vec::new()));
    }
    let receipts = super::list(&state.db, me.user_id).await?;
    let services = Services::load(&state.db, &state.config).await?;
    let found = receipts
        .into_iter()
        .filter(|r| wanted_state.is_none_or(|s| s == r.state))
        .map(|r| (services.info(&r.service), r))
        .filter(|(info, r)| {
            query
                .service
                .as_deref()
                .filter(|s| !s.is_empty())
                .is_none_or(|s| matches(s, &[&info.name, &r.service]))
        })
        .skip(query.offset.unwrap_or(0) as usize)
        .take(query.limit.map(|l| l as usize).unwrap_or(usize::MAX))
        .map(|(info, r)| ConsentResponse {
            consent_receipt_id: r.id,
            language: state.config.consent.language.clone(),
            pii_principal_id: me.username.clone(),
            tenant_domain: TENANT.into(),
            state: r.state.as_str().into(),
            sp_display_name: info.name,
            sp_description: info.description,
        })
        .collect();
    Ok(Json(found))
}

/// One of the user's receipts: the Kantara v1.1 document with `state` and,
/// when the user set an expiry, `validUntil`.
#[utoipa::path(get, operation_id = "getReceipt", path = "/api/identity/consent-mgt/v1.0/consents/receipts/{receiptId}", tag = "consent",
    params(("receiptId" = String, Path, description = "The receipt's consentReceiptID")),
    responses((status = 200, body = Object), (status = 401, body = crate::api::ErrorBody),
              (status = 404, body = crate::api::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        super::find(&state.db, me.user_id, &id).await?.document(),
    ))
}

/// The receipt as issued, signed: a compact JWS (ES256) whose key is in the JWKS.
#[utoipa::path(get, operation_id = "getSignedReceipt", path = "/api/identity/consent-mgt/v1.0/consents/receipts/{receiptId}/jws", tag = "consent",
    params(("receiptId" = String, Path, description = "The receipt's consentReceiptID")),
    responses((status = 200, description = "application/jwt", body = String), (status = 401, body = crate::api::ErrorBody),
              (status = 404, body = crate::api::ErrorBody)))]
pub async fn get_signed(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let jws = super::signed(&state.db, &state.config, me.user_id, &id).await?;
    Ok(([(header::CONTENT_TYPE, "application/jwt")], jws).into_response())
}

/// Revokes one of the user's receipts.
#[utoipa::path(delete, operation_id = "revokeReceipt", path = "/api/identity/consent-mgt/v1.0/consents/receipts/{receiptId}", tag = "consent",
    params(("receiptId" = String, Path, description = "The receipt's consentReceiptID")),
    responses((status = 200, description = "Revoked"), (status = 400, body = crate::api::ErrorBody),
              (status = 401, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody),
              (status = 404, body = crate::api::ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    super::revoke(&state.db, me.user_id, &id).await?;
    Ok(StatusCode::OK)
}

/// The public keys that sign receipts (JWK Set, RFC 7517).
#[utoipa::path(get, operation_id = "getReceiptKeys", path = "/api/identity/consent-mgt/v1.0/jwks", tag = "consent",
    responses((status = 200, body = Object)))]
pub async fn jwks(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(super::jwks(&state.db, &state.config).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PiiCategoryRef {
    #[serde(rename = "piiCategoryId")]
    pub pii_category_id: Option<u32>,
    /// Alternatively the claim's name (email, first_name, ...).
    #[serde(rename = "piiCategory")]
    pub pii_category: Option<String>,
    /// Accepted for compatibility; expiry is set by the user.
    pub validity: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PurposeConsent {
    #[serde(rename = "purposeId")]
    pub purpose_id: u32,
    #[serde(rename = "piiCategory")]
    pub pii_category: Vec<PiiCategoryRef>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ServiceConsent {
    /// The application's id.
    pub service: String,
    pub purposes: Vec<PurposeConsent>,
}

/// WSO2's ConsentRequest. The controller, policy, jurisdiction and purpose
/// details come from Selfserve's configuration, not from the caller.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ConsentRequest {
    pub services: Vec<ServiceConsent>,
    #[serde(rename = "collectionMethod")]
    pub collection_method: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsentAddResponse {
    #[serde(rename = "consentReceiptID")]
    pub consent_receipt_id: String,
    pub language: String,
    #[serde(rename = "piiPrincipalId")]
    pub pii_principal_id: String,
    #[serde(rename = "tenantDomain")]
    pub tenant_domain: String,
}

/// Checks an application's consent against its configured purposes.
fn application_consent(
    config: &Config,
    services: &Services,
    body: ConsentRequest,
) -> Result<(String, String, Vec<Consented>), ApiError> {
    let bad = |why: String| ApiError::BadRequest(why);
    let [service] = <[ServiceConsent; 1]>::try_from(body.services)
        .map_err(|_| bad("Give exactly one service per consent.".into()))?;
    if service.service == SYSTEM_SERVICE || !services.knows(&service.service) {
        return Err(bad(format!(
            "Unknown service \"{}\": name a configured application's id. Consent for Selfserve itself is given on the Consent Management page.",
            service.service
        )));
    }
    let mut selection = Vec::new();
    for purpose_consent in service.purposes {
        let purpose = config
            .consent
            .purpose(purpose_consent.purpose_id)
            .filter(|p| p.service == service.service)
            .ok_or_else(|| {
                bad(format!(
                    "Purpose {} is not a purpose of {}.",
                    purpose_consent.purpose_id, service.service
                ))
            })?;
        let mut claims = Vec::new();
        for category in purpose_consent.pii_category {
            let claim = match (category.pii_category_id, category.pii_category.as_deref()) {
                (Some(id), _) => claim_of_pii_category(id),
                (None, Some(name)) => field(name).map(|f| f.name),
                (None, None) => None,
            }
            .filter(|claim| purpose.pii.iter().any(|p| p.claim == *claim))
            .ok_or_else(|| {
                bad(format!(
                    "A PII category given for purpose {} is not one it asks for.",
                    purpose.id
                ))
            })?;
            claims.push((purpose.id, claim.to_string()));
        }
        if let Some(missing) = purpose
            .pii
            .iter()
            .find(|p| p.mandatory && !claims.iter().any(|(_, c)| *c == p.claim))
        {
            return Err(bad(format!(
                "Purpose {} needs consent to {} (mandatory).",
                purpose.id, missing.claim
            )));
        }
        selection.extend(claims);
    }
    let consented = group(&selection);
    if consented.is_empty() {
        return Err(bad("Name at least one purpose and PII category.".into()));
    }
    let method = body
        .collection_method
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| "API".into());
    if method.chars().count() > 200 {
        return Err(bad("collectionMethod is longer than 200 characters.".into()));
    }
    // It is copied into a signed receipt that people read.
    if method.chars().any(app::profile::is_hidden) {
        return Err(bad(
            "collectionMethod cannot contain control, invisible or text-direction characters."
                .into(),
        ));
    }
    Ok((service.service, method, consented))
}

/// Records an application's consent for the signed-in user; the service's
/// previous ACTIVE receipt is revoked.
#[utoipa::path(post, operation_id = "addConsent", path = "/api/identity/consent-mgt/v1.0/consents", tag = "consent", request_body = ConsentRequest,
    responses((status = 201, body = ConsentAddResponse), (status = 400, body = crate::api::ErrorBody),
              (status = 401, body = crate::api::ErrorBody), (status = 409, body = crate::api::ErrorBody)))]
pub async fn add(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
    ApiJson(body): ApiJson<ConsentRequest>,
) -> Result<Response, ApiError> {
    let services = Services::load(&state.db, &state.config).await?;
    let (service, method, consented) = application_consent(&state.config, &services, body)?;
    let id = super::record(
        &state.db,
        &state.config,
        &me,
        NewConsent {
            service: &service,
            collection_method: &method,
            consented,
        },
    )
    .await?;
    let location = format!("{BASE}/receipts/{id}");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(ConsentAddResponse {
            consent_receipt_id: id,
            language: state.config.consent.language.clone(),
            pii_principal_id: me.username,
            tenant_domain: TENANT.into(),
        }),
    )
        .into_response())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PurposeListItem {
    #[serde(rename = "purposeId")]
    pub purpose_id: u32,
    pub purpose: String,
    pub description: String,
    /// The service: "system" or an application's id.
    pub group: String,
    /// SYSTEM for Selfserve's own purposes, SP for an application's.
    #[serde(rename = "groupType")]
    pub group_type: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PurposePiiCategory {
    #[serde(rename = "piiCategoryId")]
    pub pii_category_id: u32,
    #[serde(rename = "piiCategory")]
    pub pii_category: String,
    #[serde(rename = "displayName")]
    pub display_name: String,
    pub sensitive: bool,
    pub mandatory: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PurposeDetail {
    #[serde(flatten)]
    pub summary: PurposeListItem,
    #[serde(rename = "piiCategories")]
    pub pii_categories: Vec<PurposePiiCategory>,
}

fn summary(purpose: &crate::config::Purpose) -> PurposeListItem {
    PurposeListItem {
        purpose_id: purpose.id,
        purpose: purpose.name.clone(),
        description: purpose.description.clone(),
        group: purpose.service.clone(),
        group_type: if purpose.service == SYSTEM_SERVICE {
            "SYSTEM"
        } else {
            "SP"
        }
        .into(),
    }
}

/// A receipt's state, as the list filters it.
#[derive(ToSchema)]
#[allow(dead_code, clippy::upper_case_acronyms)]
pub enum ReceiptStateName {
    ACTIVE,
    REVOKED,
}

/// Whose purposes: Selfserve's own or the applications'.
#[derive(ToSchema)]
#[allow(dead_code, clippy::upper_case_acronyms)]
pub enum GroupType {
    SYSTEM,
    SP,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PurposeQuery {
    /// A service: "system" or an application's id.
    pub group: Option<String>,
    /// SYSTEM for Selfserve's own purposes, SP for the applications'.
    #[serde(rename = "groupType")]
    #[param(value_type = Option<GroupType>)]
    pub group_type: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

/// The configured purposes.
#[utoipa::path(get, operation_id = "listPurposes", path = "/api/identity/consent-mgt/v1.0/consents/purposes", tag = "consent", params(PurposeQuery),
    responses((status = 200, body = Vec<PurposeListItem>), (status = 400, body = crate::api::ErrorBody),
              (status = 401, body = crate::api::ErrorBody)))]
pub async fn purposes(
    State(state): State<AppState>,
    SignedIn(_me): SignedIn,
    ApiQuery(query): ApiQuery<PurposeQuery>,
) -> Result<Json<Vec<PurposeListItem>>, ApiError> {
    // None: every purpose; Some(true): Selfserve's own; Some(false): the applications'.
    let system = match query.group_type.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some("SYSTEM") => Some(true),
        Some("SP") => Some(false),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "Unknown groupType {other}: use SYSTEM or SP."
            )))
        }
    };
    Ok(Json(
        state
            .config
            .consent
            .purposes
            .iter()
            .filter(|p| query.group.as_deref().is_none_or(|g| g == p.service))
            .filter(|p| system.is_none_or(|own| own == (p.service == SYSTEM_SERVICE)))
            .skip(query.offset.unwrap_or(0) as usize)
            .take(query.limit.map(|l| l as usize).unwrap_or(usize::MAX))
            .map(summary)
            .collect(),
    ))
}

/// One purpose with the PII categories it asks for.
#[utoipa::path(get, operation_id = "getPurpose", path = "/api/identity/consent-mgt/v1.0/consents/purposes/{purposeId}", tag = "consent",
    params(("purposeId" = String, Path, description = "The purpose's id")),
    responses((status = 200, body = PurposeDetail), (status = 401, body = crate::api::ErrorBody),
              (status = 404, body = crate::api::ErrorBody)))]
pub async fn purpose(
    State(state): State<AppState>,
    SignedIn(_me): SignedIn,
    Path(id): Path<String>,
) -> Result<Json<PurposeDetail>, ApiError> {
    let purpose = id
        .parse::<u32>()
        .ok()
        .and_then(|id| state.config.consent.purpose(id))
        .ok_or(ApiError::NotFound("purpose"))?;
    Ok(Json(PurposeDetail {
        summary: summary(purpose),
        pii_categories: purpose
            .pii
            .iter()
            .map(|p| PurposePiiCategory {
                pii_category_id: pii_category_id(&p.claim).unwrap_or_default(),
                pii_category: p.claim.clone(),
                display_name: label_of(&p.claim),
                sensitive: false,
                mandatory: p.mandatory,
            })
            .collect(),
    }))
}
