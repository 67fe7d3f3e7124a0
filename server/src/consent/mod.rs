//! Consent management: Kantara v1.1 consent receipts, issued by the flows that
//! collect consent (self-registration, the Consent Management page, the REST
//! API), listed and managed by their user, signed as ES256 JWS.
//!
//! A receipt is immutable once issued (it snapshots the PII controller and the
//! purposes as they were); narrowing a consent issues a new receipt and revokes
//! the old one. Past its expiry a receipt reads as REVOKED everywhere, before
//! the periodic job records it.

pub mod keys;
mod last_day;
pub mod receipt;
pub mod rest;
mod services;
mod store;
mod view;

use crate::config::{Config, SYSTEM_SERVICE};
use crate::db::Db;
use crate::db::DbError;
use crate::time::now_ms;
use app::backend::ssr::CurrentSession;
use app::consent::{ConsentDetail, ConsentEntry, LastDayChoice};
use app::error::AppError;
use app::profile::{field, FIELDS};
use serde_json::Value;
use std::collections::BTreeSet;

pub use keys::{
    list as signing_keys, prepare as prepare_signing_keys, rotate as rotate_signing_key, KeyInfo,
    KeySet, SigningKey,
};
pub use last_day::LastDay;

/// The key consent receipts are signed with now.
pub async fn signing_key(db: &Db, config: &Config) -> Result<SigningKey, ConsentError> {
    keys::current(db, config, KeySet::Receipts).await
}

/// The receipt keys, as a JWK Set.
pub async fn jwks(db: &Db, config: &Config) -> Result<Value, ConsentError> {
    keys::jwks(db, config, KeySet::Receipts).await
}
pub use receipt::{group, schema_problems, Consented, NewConsent, StoredReceipt};
pub use services::{ServiceInfo, Services};
/// Tells the user's open Consent Management pages.
pub async fn changed(db: &Db, user_id: i64) {
    crate::events::raise(db, user_id, crate::events::Event::ConsentChanged).await;
}

/// Records receipts past their end as REVOKED, telling their users' open
/// pages; returns how many.
pub async fn expire_due(db: &Db) -> Result<usize, ConsentError> {
    let mut users = store::expire_due(db).await?;
    let expired = users.len();
    users.sort_unstable();
    users.dedup();
    for user_id in users {
        changed(db, user_id).await;
    }
    Ok(expired)
}

#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    /// The same for "does not exist" and "is not yours".
    #[error("no such consent receipt")]
    NotFound,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Refused(String),
    #[error("the consent changed at the same time elsewhere")]
    Conflict,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("receipt does not match the Kantara schema: {0}")]
    Schema(String),
    #[error("signing key: {0}")]
    Key(String),
    #[error("stored consent data: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<sqlx::Error> for ConsentError {
    fn from(e: sqlx::Error) -> Self {
        ConsentError::Db(e.into())
    }
}

impl From<ConsentError> for AppError {
    fn from(e: ConsentError) -> Self {
        match e {
            ConsentError::NotFound => AppError::NotFound,
            ConsentError::Invalid(why) => AppError::Refused(why),
            ConsentError::Refused(why) => AppError::Forbidden(why),
            ConsentError::Conflict => AppError::InConflict(
                "This consent was changed at the same moment elsewhere. Reload the page and try again."
                    .into(),
            ),
            other => crate::internal(other),
        }
    }
}

/// A claim's label ("First Name"); its name when it is not a profile field.
pub fn label_of(claim: &str) -> String {
    field(claim).map_or_else(|| claim.to_string(), |f| f.label.to_string())
}

/// The PII category id of a claim in the REST API (its place in the profile, from 1).
pub fn pii_category_id(claim: &str) -> Option<u32> {
    FIELDS
        .iter()
        .position(|f| f.name == claim)
        .map(|i| i as u32 + 1)
}

pub fn claim_of_pii_category(id: u32) -> Option<&'static str> {
    FIELDS.get((id as usize).checked_sub(1)?).map(|f| f.name)
}

/// Issues a receipt inside the caller's transaction: the service's previous
/// ACTIVE receipt is revoked (WSO2's semantics) and the new one stored. The
/// key must be fetched before the transaction (SQLite allows one writer).
pub async fn issue(
    conn: &mut sqlx::AnyConnection,
    config: &Config,
    services: &Services,
    key: &SigningKey,
    user_id: i64,
    username: &str,
    consent: NewConsent<'_>,
) -> Result<String, ConsentError> {
    // v7 ids rise within a process even inside one millisecond, so "newest
    // first" holds for receipts issued back to back.
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_ms();
    let receipt = receipt::new_receipt(
        config,
        &services.info(consent.service).name,
        &key.kid,
        &id,
        username,
        &consent,
        now,
    )?;
    store::replace_active(
        conn,
        store::NewReceipt {
            id: &id,
            user_id,
            service: consent.service,
            receipt: &receipt,
            consented: &consent.consented,
            created_at: now,
        },
    )
    .await?;
    Ok(id)
}

/// Records the signed-in user's consent to a service in a receipt of its
/// own; returns the receipt's id.
pub async fn record(
    db: &Db,
    config: &Config,
    user: &CurrentSession,
    consent: NewConsent<'_>,
) -> Result<String, ConsentError> {
    // Fetched before the transaction: SQLite has one writer at a time.
    let key = signing_key(db, config).await?;
    let services = Services::load(db, config).await?;
    let service = consent.service.to_string();
    let mut tx = db.pool.begin().await?;
    let id = issue(
        &mut tx,
        config,
        &services,
        &key,
        user.user_id,
        &user.username,
        consent,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %user.username, %service, receipt = %id, "consent recorded");
    changed(db, user.user_id).await;
    Ok(id)
}

/// The user's receipts, newest first.
pub async fn list(db: &Db, user_id: i64) -> Result<Vec<StoredReceipt>, ConsentError> {
    store::list(db, user_id).await
}

/// One of the user's receipts; NotFound for anyone else's.
pub async fn find(db: &Db, user_id: i64, id: &str) -> Result<StoredReceipt, ConsentError> {
    store::find(db, user_id, id)
        .await?
        .ok_or(ConsentError::NotFound)
}

/// The claims a service may receive from the user now (nothing unless an
/// ACTIVE, unexpired receipt covers them).
pub async fn allowed_claims(
    db: &Db,
    user_id: i64,
    service: &str,
) -> Result<BTreeSet<String>, ConsentError> {
    Ok(store::latest(db, user_id, service)
        .await?
        .filter(StoredReceipt::is_active)
        .map(|r| r.claims())
        .unwrap_or_default())
}

/// The claims of the user's ACTIVE, unexpired receipt for a service; None
/// when there is no such receipt (never asked, revoked or expired).
pub async fn active_claims(
    db: &Db,
    user_id: i64,
    service: &str,
) -> Result<Option<BTreeSet<String>>, ConsentError> {
    Ok(store::latest(db, user_id, service)
        .await?
        .filter(StoredReceipt::is_active)
        .map(|r| r.claims()))
}

/// A service's purposes as a consent prompt offers them: mandatory claims
/// ticked and locked, the others unticked.
pub fn prompt_purposes(config: &Config, service: &str) -> Vec<app::consent::PurposeChoice> {
    config
        .consent
        .purposes_of(service)
        .map(|purpose| app::consent::PurposeChoice {
            id: purpose.id,
            name: purpose.name.clone(),
            description: purpose.description.clone(),
            attributes: purpose
                .pii
                .iter()
                .map(|pii| app::consent::AttributeChoice {
                    claim: pii.claim.clone(),
                    label: label_of(&pii.claim),
                    mandatory: pii.mandatory,
                    selected: pii.mandatory,
                    locked: pii.mandatory,
                })
                .collect(),
        })
        .collect()
}

/// What Allow on a consent prompt consents to: the optional claims ticked
/// (each must be offered) and every mandatory one (a locked checkbox is not
/// sent with the form).
pub fn prompt_answer(
    config: &Config,
    service: &str,
    selection: &[(u32, String)],
) -> Result<Vec<Consented>, ConsentError> {
    let purposes: Vec<_> = config.consent.purposes_of(service).collect();
    let offered = |(purpose_id, claim): &(u32, String)| {
        purposes
            .iter()
            .any(|p| p.id == *purpose_id && p.pii.iter().any(|pii| &pii.claim == claim))
    };
    if !selection.iter().all(offered) {
        return Err(ConsentError::Invalid(
            "The answer names something that is not asked for.".into(),
        ));
    }
    let mut chosen = selection.to_vec();
    for purpose in &purposes {
        for pii in purpose.pii.iter().filter(|pii| pii.mandatory) {
            chosen.push((purpose.id, pii.claim.clone()));
        }
    }
    Ok(group(&chosen))
}

/// Whether the user must consent again to Selfserve's own purposes before
/// the dashboard opens: their latest system receipt was revoked, is past its
/// end date, or no longer covers the mandatory claims. A user an operator
/// onboarded without a receipt is not asked (consent was the operator's to
/// obtain).
pub async fn system_consent_needed(
    db: &Db,
    config: &Config,
    user_id: i64,
) -> Result<bool, ConsentError> {
    let Some(latest) = store::latest(db, user_id, SYSTEM_SERVICE).await? else {
        return Ok(false);
    };
    let mandatory: BTreeSet<String> = config
        .consent
        .purposes_of(SYSTEM_SERVICE)
        .flat_map(|p| &p.pii)
        .filter(|pii| pii.mandatory)
        .map(|pii| pii.claim.clone())
        .collect();
    Ok(!latest.is_active() || !mandatory.is_subset(&latest.claims()))
}

/// Records the user's renewed consent to Selfserve's own purposes, with the
/// PII controller as configured now.
pub async fn renew_system_consent(
    db: &Db,
    config: &Config,
    user: &CurrentSession,
    selection: &[(u32, String)],
) -> Result<String, ConsentError> {
    let consented = prompt_answer(config, SYSTEM_SERVICE, selection)?;
    record(
        db,
        config,
        user,
        NewConsent {
            service: SYSTEM_SERVICE,
            collection_method: "Sign-in",
            consented,
        },
    )
    .await
}

/// Users an operator onboarded keep their system consent (they may narrow it).
pub(crate) fn may_revoke(service: &str, self_registered: bool) -> bool {
    service != SYSTEM_SERVICE || self_registered
}

/// Revokes one of the user's receipts.
pub async fn revoke(db: &Db, user_id: i64, id: &str) -> Result<StoredReceipt, ConsentError> {
    let receipt = find(db, user_id, id).await?;
    if !receipt.is_active() {
        return Err(ConsentError::Invalid(
            "This consent is already revoked.".into(),
        ));
    }
    if !may_revoke(
        &receipt.service,
        crate::users::self_registered(db, user_id).await?,
    ) {
        return Err(ConsentError::Refused(
            "Your organisation created your account, so its consent for Selfserve cannot be revoked. \
             You can still choose which optional attributes it covers."
                .into(),
        ));
    }
    if !store::mark_revoked(db, user_id, id, now_ms()).await? {
        return Err(ConsentError::Conflict);
    }
    tracing::info!(user_id, receipt = %id, service = %receipt.service, "consent revoked");
    changed(db, user_id).await;
    Ok(receipt)
}
/// Revokes the user's ACTIVE consent to an application inside the caller's
/// transaction: the application is being removed from Authorized Apps.
pub async fn revoke_application(
    conn: &mut sqlx::AnyConnection,
    user_id: i64,
    service: &str,
) -> Result<bool, ConsentError> {
    store::revoke_service(conn, user_id, service, now_ms()).await
}

/// Sets the last day of the service's ACTIVE consent (the day as the date
/// picker sent it, in the user's calendar), or with None clears it; returns
/// the page's new state.
pub async fn set_last_day(
    db: &Db,
    config: &Config,
    user_id: i64,
    service: &str,
    choice: Option<&LastDayChoice>,
) -> Result<ConsentDetail, ConsentError> {
    let last_day = choice
        .map(|c| LastDay::parse(&c.date, c.minutes_behind_utc, now_ms()))
        .transpose()?;
    let receipt = store::latest(db, user_id, service)
        .await?
        .filter(StoredReceipt::is_active)
        .ok_or_else(|| {
            ConsentError::Invalid("There is no active consent to set an expiry on.".into())
        })?;
    let end = last_day.as_ref().map(|d| (d.end(), d.date()));
    if !store::set_end(db, user_id, &receipt.id, end).await? {
        return Err(ConsentError::Conflict);
    }
    changed(db, user_id).await;
    detail(db, config, user_id, service).await
}

/// System consent first (even when none was given), then each application
/// the user has a receipt for.
pub async fn overview(
    db: &Db,
    config: &Config,
    user_id: i64,
) -> Result<Vec<ConsentEntry>, ConsentError> {
    overview_with(db, &Services::load(db, config).await?, user_id).await
}

/// The same, named from services the caller has loaded already.
pub async fn overview_with(
    db: &Db,
    known: &Services,
    user_id: i64,
) -> Result<Vec<ConsentEntry>, ConsentError> {
    let receipts = store::list(db, user_id).await?;
    let self_registered = crate::users::self_registered(db, user_id).await?;
    let mut services: Vec<&str> = vec![SYSTEM_SERVICE];
    for r in &receipts {
        if !services.contains(&r.service.as_str()) {
            services.push(&r.service);
        }
    }
    Ok(services
        .into_iter()
        .map(|service| {
            let latest = receipts.iter().find(|r| r.service == service);
            view::entry(&known.info(service), service, latest, self_registered)
        })
        .collect())
}

/// The attributes of a service per purpose, marked with what the receipt covers.
pub async fn detail(
    db: &Db,
    config: &Config,
    user_id: i64,
    service: &str,
) -> Result<ConsentDetail, ConsentError> {
    let receipt = store::latest(db, user_id, service).await?;
    if service != SYSTEM_SERVICE && receipt.is_none() {
        return Err(ConsentError::NotFound);
    }
    let self_registered = crate::users::self_registered(db, user_id).await?;
    let active = receipt.as_ref().filter(|r| r.is_active());
    let covered = active.map(StoredReceipt::covers).unwrap_or_default();
    let choices = view::choices(config, service, &covered);
    // An application's consent is given at the application; here it can only
    // narrow. System consent can be given or widened here too.
    let editable = service == SYSTEM_SERVICE || active.is_some();
    let info = Services::load(db, config).await?.info(service);
    Ok(ConsentDetail {
        entry: view::entry(&info, service, receipt.as_ref(), self_registered),
        purposes: choices,
        editable,
        today: last_day::today(now_ms()),
    })
}
/// Replaces the service's consent by one covering `selection` (plus the
/// locked attributes, which cannot be withdrawn without revoking).
pub async fn update(
    db: &Db,
    config: &Config,
    user: &CurrentSession,
    service: &str,
    selection: &[(u32, String)],
) -> Result<ConsentDetail, ConsentError> {
    let current = detail(db, config, user.user_id, service).await?;
    if !current.editable {
        return Err(ConsentError::Invalid(
            "This consent is revoked. The application asks for it again when you next use it."
                .into(),
        ));
    }
    let offered: BTreeSet<(u32, String)> = current
        .purposes
        .iter()
        .flat_map(|p| p.attributes.iter().map(move |a| (p.id, a.claim.clone())))
        .collect();
    let mut chosen: BTreeSet<(u32, String)> = BTreeSet::new();
    for pair in selection {
        if !offered.contains(pair) {
            return Err(ConsentError::Invalid(format!(
                "\"{}\" cannot be chosen for this service.",
                label_of(&pair.1)
            )));
        }
        chosen.insert(pair.clone());
    }
    for purpose in &current.purposes {
        for attribute in purpose.attributes.iter().filter(|a| a.locked) {
            chosen.insert((purpose.id, attribute.claim.clone()));
        }
        // Consenting to a purpose anew means consenting to what it requires.
        let newly_chosen = !purpose.attributes.iter().any(|a| a.selected)
            && chosen.iter().any(|(p, _)| *p == purpose.id);
        if let Some(required) = purpose.attributes.iter().find(|a| {
            newly_chosen && a.mandatory && !chosen.contains(&(purpose.id, a.claim.clone()))
        }) {
            return Err(ConsentError::Invalid(format!(
                "\"{}\" needs your {}: select it too, or leave this purpose out.",
                purpose.name,
                required.label.to_lowercase()
            )));
        }
    }
    let before: BTreeSet<(u32, String)> = current
        .selected()
        .map(|(p, a)| (p.id, a.claim.clone()))
        .collect();
    if chosen == before {
        return Err(ConsentError::Invalid(
            "Nothing changed: the selection is the same as before.".into(),
        ));
    }
    if chosen.is_empty() {
        return Err(ConsentError::Invalid(
            "Select at least one attribute. To withdraw all of them, revoke the consent.".into(),
        ));
    }
    let selection: Vec<(u32, String)> = chosen.into_iter().collect();
    record(
        db,
        config,
        user,
        NewConsent {
            service,
            collection_method: "My Account: consent updated",
            consented: group(&selection),
        },
    )
    .await?;
    detail(db, config, user.user_id, service).await
}

/// The Kantara receipts of the user for the export, with their states.
pub async fn exported(db: &Db, user_id: i64) -> Result<Vec<Value>, ConsentError> {
    Ok(store::list(db, user_id)
        .await?
        .iter()
        .map(StoredReceipt::document)
        .collect())
}

/// The receipt as a JWS signed with the current key.
pub async fn signed(
    db: &Db,
    config: &Config,
    user_id: i64,
    id: &str,
) -> Result<String, ConsentError> {
    let receipt = find(db, user_id, id).await?;
    let key = signing_key(db, config).await?;
    keys::sign(&key, &receipt.receipt)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pii_category_ids_round_trip() {
        for field in FIELDS {
            let id = pii_category_id(field.name).unwrap();
            assert_eq!(claim_of_pii_category(id), Some(field.name));
        }
        assert_eq!(claim_of_pii_category(0), None);
    }
}
