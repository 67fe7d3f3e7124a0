//! Consent management: Kantara v1.1 consent receipts, issued by the flows that
//! collect consent (self-registration, the Consent Management page, the REST
//! API), listed and managed by their user, signed as ES256 JWS.
//!
//! A receipt is immutable once issued (it snapshots the PII controller and the
//! purposes as they were); narrowing a consent issues a new receipt and revokes
//! the old one. Past its expiry a receipt reads as REVOKED everywhere, before
//! the periodic job records it.

use crate::api::moment;
use crate::config::{Config, SYSTEM_SERVICE};
use crate::db::{now_ms, Db, DbError};
use app::consent::{AttributeChoice, ConsentDetail, ConsentEntry, ConsentState, PurposeChoice};
use app::profile::{field, FIELDS};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

pub const RECEIPT_VERSION: &str = "KI-CR-v1.1.0";
pub const ACTIVE: &str = "ACTIVE";
pub const REVOKED: &str = "REVOKED";
const DAY_MS: i64 = 86_400_000;

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

impl From<ConsentError> for app::error::AppError {
    fn from(e: ConsentError) -> Self {
        use app::error::AppError;
        match e {
            ConsentError::NotFound => AppError::NotFound,
            ConsentError::Invalid(why) | ConsentError::Refused(why) => AppError::Refused(why),
            ConsentError::Conflict => AppError::Refused(
                "This consent was changed at the same moment elsewhere. Reload the page and try again."
                    .into(),
            ),
            other => crate::internal(other),
        }
    }
}

impl From<ConsentError> for crate::api::ApiError {
    fn from(e: ConsentError) -> Self {
        use crate::api::ApiError;
        match e {
            ConsentError::NotFound => ApiError::NotFound("consent receipt"),
            ConsentError::Invalid(why) => ApiError::BadRequest(why),
            ConsentError::Refused(why) => ApiError::Forbidden(why),
            ConsentError::Conflict => ApiError::Conflict(
                "The consent was changed at the same moment by another request; try again.".into(),
            ),
            other => ApiError::internal(other),
        }
    }
}

/// What a receipt covers: the claims consented to, per purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consented {
    #[serde(rename = "purposeId")]
    pub purpose_id: u32,
    pub claims: Vec<String>,
}

/// Groups (purpose, claim) pairs by purpose, in purpose order, without duplicates.
pub fn group(selection: &[(u32, String)]) -> Vec<Consented> {
    let mut by_purpose: BTreeMap<u32, BTreeSet<String>> = BTreeMap::new();
    for (purpose, claim) in selection {
        by_purpose
            .entry(*purpose)
            .or_default()
            .insert(claim.clone());
    }
    by_purpose
        .into_iter()
        .map(|(purpose_id, claims)| Consented {
            purpose_id,
            claims: claims.into_iter().collect(),
        })
        .collect()
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

fn service_name(config: &Config, service: &str) -> (String, String) {
    if service == SYSTEM_SERVICE {
        (
            "Selfserve".into(),
            "This account service: it keeps your account and profile.".into(),
        )
    } else {
        config
            .consent
            .application(service)
            .map(|a| (a.name.clone(), a.description.clone()))
            .unwrap_or_else(|| {
                (
                    service.to_string(),
                    "An application no longer configured.".into(),
                )
            })
    }
}

// ---------------------------------------------------------------------------
// Signing key
// ---------------------------------------------------------------------------

mod keys;

pub use keys::{
    current as signing_key, jwks, list as signing_keys, prepare as prepare_signing_keys,
    rotate as rotate_signing_key, KeyInfo, SigningKey,
};

/// Where the receipt's `publicKey` points: the JWKS entry of the key.
fn public_key_ref(config: &Config, kid: &str) -> String {
    format!(
        "{}/api/identity/consent-mgt/v1.0/jwks#{kid}",
        config.public_url.trim_end_matches('/')
    )
}

// ---------------------------------------------------------------------------
// Receipts
// ---------------------------------------------------------------------------

static SCHEMA: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let schema: Value =
        serde_json::from_str(include_str!("../schemas/kantara-consent-receipt-v1_1.json"))
            .expect("the bundled Kantara schema is JSON");
    jsonschema::draft4::new(&schema).expect("the bundled Kantara schema compiles")
});

/// Every way a receipt breaks the Kantara v1.1 schema (empty when it conforms).
pub fn schema_problems(receipt: &Value) -> Vec<String> {
    SCHEMA
        .iter_errors(receipt)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

/// Builds the Kantara receipt: the controller and purposes as configured now.
fn build_receipt(
    config: &Config,
    kid: &str,
    id: &str,
    username: &str,
    given: &NewConsent<'_>,
    now: i64,
) -> Result<Value, ConsentError> {
    let consent = &config.consent;
    let controller = &consent.controller;
    let mut controller_json = json!({
        "piiController": controller.name,
        "onBehalf": controller.on_behalf,
        "contact": controller.contact,
        "address": controller.address,
        "email": controller.email,
        "phone": controller.phone,
    });
    if let Some(url) = &controller.url {
        controller_json["piiControllerUrl"] = json!(url);
    }
    let mut purposes = Vec::new();
    for item in &given.consented {
        let purpose = consent.purpose(item.purpose_id).ok_or_else(|| {
            ConsentError::Invalid(format!("There is no purpose {}.", item.purpose_id))
        })?;
        let mut entry = json!({
            "purpose": purpose.name,
            "purposeCategory": purpose.categories,
            "consentType": "EXPLICIT",
            "piiCategory": item.claims,
            "primaryPurpose": purpose.primary,
            "termination": purpose.termination,
            "thirdPartyDisclosure": purpose.third_party.is_some(),
        });
        if let Some(third_party) = &purpose.third_party {
            entry["thirdPartyName"] = json!(third_party);
        }
        purposes.push(entry);
    }
    Ok(json!({
        "version": RECEIPT_VERSION,
        "jurisdiction": consent.jurisdiction,
        // Kantara: seconds since the epoch.
        "consentTimestamp": now / 1000,
        "collectionMethod": given.collection_method,
        "consentReceiptID": id,
        "publicKey": public_key_ref(config, kid),
        "language": consent.language,
        "piiPrincipalId": username,
        "piiControllers": [controller_json],
        "policyUrl": config.policy_url(),
        "services": [{
            "service": service_name(config, given.service).0,
            "purposes": purposes,
        }],
        "sensitive": false,
        "spiCat": [],
    }))
}

/// A consent to record for a user.
pub struct NewConsent<'a> {
    pub service: &'a str,
    pub collection_method: &'a str,
    pub consented: Vec<Consented>,
}

/// Issues a receipt inside the caller's transaction: the service's previous
/// ACTIVE receipt is revoked (WSO2's semantics) and the new one stored. The
/// key must be fetched before the transaction (SQLite allows one writer).
pub async fn issue(
    conn: &mut sqlx::AnyConnection,
    config: &Config,
    key: &SigningKey,
    user_id: i64,
    username: &str,
    consent: NewConsent<'_>,
) -> Result<String, ConsentError> {
    if consent.consented.iter().all(|c| c.claims.is_empty()) {
        return Err(ConsentError::Invalid(
            "A consent needs at least one attribute.".into(),
        ));
    }
    // v7 ids rise within a process even inside one millisecond, so "newest
    // first" holds for receipts issued back to back.
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_ms();
    let receipt = build_receipt(config, &key.kid, &id, username, &consent, now)?;
    let problems = schema_problems(&receipt);
    if !problems.is_empty() {
        return Err(ConsentError::Schema(problems.join("; ")));
    }
    sqlx::query(
        "UPDATE consent_receipts SET state = 'REVOKED',
             revoked_at = CASE WHEN expires_at IS NOT NULL AND expires_at < $3 THEN expires_at ELSE $3 END
         WHERE user_id = $1 AND service = $2 AND state = 'ACTIVE'",
    )
    .bind(user_id)
    .bind(consent.service)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO consent_receipts (id, user_id, service, state, receipt, consented, created_at)
         VALUES ($1, $2, $3, 'ACTIVE', $4, $5, $6)",
    )
    .bind(&id)
    .bind(user_id)
    .bind(consent.service)
    .bind(receipt.to_string())
    .bind(serde_json::to_string(&consent.consented)?)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(DbError::from);
    match inserted {
        Ok(_) => Ok(id),
        Err(e) if e.is_unique_violation() => Err(ConsentError::Conflict),
        Err(e) => Err(e.into()),
    }
}

/// A stored receipt with its state as of now.
#[derive(Debug, Clone)]
pub struct StoredReceipt {
    pub id: String,
    pub service: String,
    pub state: &'static str,
    pub receipt: Value,
    pub consented: Vec<Consented>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    /// The last day as the user chose it (YYYY-MM-DD, their calendar).
    pub expires_on: Option<String>,
}

impl StoredReceipt {
    pub fn is_active(&self) -> bool {
        self.state == ACTIVE
    }

    /// The receipt as the API returns it: the Kantara document plus its state
    /// and, when set, the end of its validity.
    pub fn document(&self) -> Value {
        let mut document = self.receipt.clone();
        document["state"] = json!(self.state);
        if let Some(expires_at) = self.expires_at {
            document["validUntil"] = json!(crate::api::rfc3339(expires_at));
        }
        document
    }

    pub fn covers(&self) -> BTreeSet<(u32, String)> {
        self.consented
            .iter()
            .flat_map(|c| {
                c.claims
                    .iter()
                    .map(move |claim| (c.purpose_id, claim.clone()))
            })
            .collect()
    }

    /// The claims covered, whatever the purpose.
    pub fn claims(&self) -> BTreeSet<String> {
        self.consented
            .iter()
            .flat_map(|c| c.claims.iter().cloned())
            .collect()
    }
}

/// ACTIVE only while recorded ACTIVE and not past its expiry.
fn effective_state(recorded: &str, expires_at: Option<i64>, now: i64) -> &'static str {
    match expires_at {
        _ if recorded != ACTIVE => REVOKED,
        Some(end) if end <= now => REVOKED,
        _ => ACTIVE,
    }
}

const RECEIPT_COLUMNS: &str =
    "SELECT id, service, state, receipt, consented, created_at, expires_at, expires_on FROM consent_receipts";

fn read(row: &sqlx::any::AnyRow, now: i64) -> Result<StoredReceipt, ConsentError> {
    let state: String = row.try_get(2)?;
    let expires_at: Option<i64> = row.try_get(6)?;
    Ok(StoredReceipt {
        id: row.try_get(0)?,
        service: row.try_get(1)?,
        state: effective_state(&state, expires_at, now),
        receipt: serde_json::from_str(&row.try_get::<String, _>(3)?)?,
        consented: serde_json::from_str(&row.try_get::<String, _>(4)?)?,
        created_at: row.try_get(5)?,
        expires_at,
        // Expiries set before the day was stored were ends of UTC days.
        expires_on: row
            .try_get::<Option<String>, _>(7)?
            .or_else(|| expires_at.map(last_utc_day)),
    })
}

/// The user's receipts, newest first.
pub async fn list(db: &Db, user_id: i64) -> Result<Vec<StoredReceipt>, ConsentError> {
    let now = now_ms();
    sqlx::query(&format!(
        "{RECEIPT_COLUMNS} WHERE user_id = $1 ORDER BY created_at DESC, id DESC"
    ))
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|row| read(row, now))
    .collect()
}

/// One of the user's receipts; NotFound for anyone else's.
pub async fn find(db: &Db, user_id: i64, id: &str) -> Result<StoredReceipt, ConsentError> {
    let row = sqlx::query(&format!("{RECEIPT_COLUMNS} WHERE user_id = $1 AND id = $2"))
        .bind(user_id)
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .ok_or(ConsentError::NotFound)?;
    read(&row, now_ms())
}

/// The newest receipt of a service.
async fn latest(
    db: &Db,
    user_id: i64,
    service: &str,
) -> Result<Option<StoredReceipt>, ConsentError> {
    sqlx::query(&format!(
        "{RECEIPT_COLUMNS} WHERE user_id = $1 AND service = $2
         ORDER BY created_at DESC, id DESC LIMIT 1"
    ))
    .bind(user_id)
    .bind(service)
    .fetch_optional(&db.pool)
    .await?
    .map(|row| read(&row, now_ms()))
    .transpose()
}

/// The claims a service may receive from the user now (nothing unless an
/// ACTIVE, unexpired receipt covers them).
pub async fn allowed_claims(
    db: &Db,
    user_id: i64,
    service: &str,
) -> Result<BTreeSet<String>, ConsentError> {
    Ok(latest(db, user_id, service)
        .await?
        .filter(StoredReceipt::is_active)
        .map(|r| r.claims())
        .unwrap_or_default())
}

async fn self_registered(db: &Db, user_id: i64) -> Result<bool, ConsentError> {
    let row = sqlx::query("SELECT self_registered FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&db.pool)
        .await?;
    Ok(row.try_get::<i64, _>(0)? != 0)
}

/// Users an operator onboarded keep their system consent (they may narrow it).
fn may_revoke(service: &str, self_registered: bool) -> bool {
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
    if !may_revoke(&receipt.service, self_registered(db, user_id).await?) {
        return Err(ConsentError::Refused(
            "Your organisation created your account, so its consent for Selfserve cannot be revoked. \
             You can still choose which optional attributes it covers."
                .into(),
        ));
    }
    let now = now_ms();
    let changed = sqlx::query(
        "UPDATE consent_receipts SET state = 'REVOKED', revoked_at = $3
         WHERE user_id = $1 AND id = $2 AND state = 'ACTIVE'",
    )
    .bind(user_id)
    .bind(id)
    .bind(now)
    .execute(&db.pool)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(ConsentError::Conflict);
    }
    tracing::info!(user_id, receipt = %id, service = %receipt.service, "consent revoked");
    Ok(receipt)
}

/// The date picker's format.
const DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// The last day of a consent in the user's own calendar: the consent holds
/// until midnight after that day where the user is, not in the server's zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastDay {
    day: time::Date,
    /// Minutes the user's clock is behind UTC (`Date.getTimezoneOffset()`).
    minutes_behind_utc: i32,
}

/// Every zone in use lies between UTC-12 and UTC+14.
const MINUTES_BEHIND_UTC: std::ops::RangeInclusive<i32> = -14 * 60..=12 * 60;

impl LastDay {
    /// Parses a date picker value (YYYY-MM-DD) and the browser's offset; the
    /// day must not have ended yet where the user is.
    pub fn parse(date: &str, minutes_behind_utc: i32, now: i64) -> Result<Self, ConsentError> {
        if !MINUTES_BEHIND_UTC.contains(&minutes_behind_utc) {
            return Err(ConsentError::Invalid(
                "The time zone offset must lie between UTC-12 and UTC+14.".into(),
            ));
        }
        let day = time::Date::parse(date.trim(), DATE)
            .ok()
            .filter(|d| d.next_day().is_some())
            .ok_or_else(|| {
                ConsentError::Invalid(
                    "Enter the expiry date as a calendar date, e.g. 2027-01-31.".into(),
                )
            })?;
        let last_day = LastDay {
            day,
            minutes_behind_utc,
        };
        if last_day.end() <= now {
            return Err(ConsentError::Invalid(
                "The expiry date is in the past. Choose today or a later date.".into(),
            ));
        }
        Ok(last_day)
    }

    /// The instant (ms) the consent ends: the user's midnight after the day.
    pub fn end(&self) -> i64 {
        let next = self.day.next_day().unwrap_or(self.day);
        let utc_midnight = next.midnight().assume_utc().unix_timestamp() * 1000;
        utc_midnight + i64::from(self.minutes_behind_utc) * 60_000
    }

    pub fn date(&self) -> String {
        self.day.format(DATE).unwrap_or_default()
    }
}

fn today(now: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(now / 1000)
        .ok()
        .and_then(|t| t.date().format(DATE).ok())
        .unwrap_or_default()
}

/// The UTC day that ends at `expires_at` (expiries stored before 0005).
fn last_utc_day(expires_at: i64) -> String {
    today(expires_at - DAY_MS)
}

/// Sets (or, with None, clears) the expiry of the service's ACTIVE receipt.
pub async fn set_expiry(
    db: &Db,
    user_id: i64,
    service: &str,
    last_day: Option<&LastDay>,
) -> Result<(), ConsentError> {
    let receipt = latest(db, user_id, service)
        .await?
        .filter(StoredReceipt::is_active)
        .ok_or_else(|| {
            ConsentError::Invalid("There is no active consent to set an expiry on.".into())
        })?;
    let changed = sqlx::query(
        "UPDATE consent_receipts SET expires_at = $3, expires_on = $4
         WHERE user_id = $1 AND id = $2 AND state = 'ACTIVE'",
    )
    .bind(user_id)
    .bind(&receipt.id)
    .bind(last_day.map(LastDay::end))
    .bind(last_day.map(LastDay::date))
    .execute(&db.pool)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(ConsentError::Conflict);
    }
    Ok(())
}

/// Records as REVOKED every ACTIVE receipt past its expiry; returns how many.
pub async fn expire_due(db: &Db) -> Result<u64, ConsentError> {
    Ok(sqlx::query(
        "UPDATE consent_receipts SET state = 'REVOKED', revoked_at = expires_at
         WHERE state = 'ACTIVE' AND expires_at IS NOT NULL AND expires_at <= $1",
    )
    .bind(now_ms())
    .execute(&db.pool)
    .await?
    .rows_affected())
}

/// Records expired receipts as REVOKED every `consent.expiry_check_minutes`.
/// Reads do not wait for it: they already treat an expired receipt as REVOKED.
pub fn spawn_expiry(db: Db, config: std::sync::Arc<Config>) {
    tokio::spawn(async move {
        let every = std::time::Duration::from_secs(config.consent.expiry_check_minutes * 60);
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            match expire_due(&db).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(revoked = n, "expired consent receipts recorded as revoked")
                }
                Err(e) => tracing::warn!(error = %e, "consent expiry job failed"),
            }
        }
    });
}

// ---------------------------------------------------------------------------
// What the page shows
// ---------------------------------------------------------------------------

fn entry(
    config: &Config,
    service: &str,
    receipt: Option<&StoredReceipt>,
    self_registered: bool,
) -> ConsentEntry {
    let (service_name, description) = service_name(config, service);
    let state = match receipt {
        None => ConsentState::NotGiven,
        Some(r) if r.is_active() => ConsentState::Active,
        Some(_) => ConsentState::Revoked,
    };
    let shares = match receipt {
        Some(r) if r.is_active() => {
            let claims = r.claims();
            FIELDS
                .iter()
                .filter(|f| claims.contains(f.name))
                .map(|f| f.label.to_string())
                .collect()
        }
        _ => Vec::new(),
    };
    ConsentEntry {
        service_id: service.to_string(),
        service_name,
        description,
        receipt_id: receipt.map(|r| r.id.clone()),
        given_at: receipt.map(|r| moment(r.created_at)),
        state,
        expires_on: receipt.and_then(|r| r.expires_on.clone()),
        shares,
        can_revoke: state == ConsentState::Active && may_revoke(service, self_registered),
    }
}

/// System consent first (even when none was given), then each application
/// the user has a receipt for.
pub async fn overview(
    db: &Db,
    config: &Config,
    user_id: i64,
) -> Result<Vec<ConsentEntry>, ConsentError> {
    let receipts = list(db, user_id).await?;
    let self_registered = self_registered(db, user_id).await?;
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
            entry(config, service, latest, self_registered)
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
    let receipt = latest(db, user_id, service).await?;
    if service != SYSTEM_SERVICE && receipt.is_none() {
        return Err(ConsentError::NotFound);
    }
    let self_registered = self_registered(db, user_id).await?;
    let active = receipt.as_ref().filter(|r| r.is_active());
    let covered = active.map(StoredReceipt::covers).unwrap_or_default();
    let choices = choices(config, service, &covered);
    // An application's consent is given at the application; here it can only
    // narrow. System consent can be given or widened here too.
    let editable = service == SYSTEM_SERVICE || active.is_some();
    Ok(ConsentDetail {
        entry: entry(config, service, receipt.as_ref(), self_registered),
        purposes: choices,
        editable,
        today: today(now_ms()),
    })
}

/// System: every configured attribute (new ones unselected) plus any the
/// receipt still covers. Applications: only what the receipt covers.
fn choices(
    config: &Config,
    service: &str,
    covered: &BTreeSet<(u32, String)>,
) -> Vec<PurposeChoice> {
    let mut purposes: Vec<PurposeChoice> = Vec::new();
    let configured: Vec<_> = config.consent.purposes_of(service).collect();
    let mut ids: BTreeSet<u32> = covered.iter().map(|(p, _)| *p).collect();
    if service == SYSTEM_SERVICE {
        ids.extend(configured.iter().map(|p| p.id));
    }
    for id in ids {
        // A purpose the operator no longer configures is left out: the
        // service has no use for it, and the next receipt drops it.
        let Some(purpose) = configured.iter().find(|p| p.id == id) else {
            continue;
        };
        let mut attributes: Vec<AttributeChoice> = Vec::new();
        let mut add = |claim: &str, mandatory: bool| {
            let selected = covered.contains(&(id, claim.to_string()));
            if attributes.iter().any(|a| a.claim == claim) {
                return;
            }
            if service != SYSTEM_SERVICE && !selected {
                return;
            }
            attributes.push(AttributeChoice {
                claim: claim.to_string(),
                label: label_of(claim),
                mandatory,
                selected,
                locked: mandatory && selected,
            });
        };
        for pii in &purpose.pii {
            add(&pii.claim, pii.mandatory);
        }
        for (_, claim) in covered.iter().filter(|(p, _)| *p == id) {
            add(claim, false);
        }
        purposes.push(PurposeChoice {
            id,
            name: purpose.name.clone(),
            description: purpose.description.clone(),
            attributes,
        });
    }
    purposes
}

/// Replaces the service's consent by one covering `selection` (plus the
/// locked attributes, which cannot be withdrawn without revoking).
pub async fn update(
    db: &Db,
    config: &Config,
    user_id: i64,
    username: &str,
    service: &str,
    selection: &[(u32, String)],
) -> Result<ConsentDetail, ConsentError> {
    let current = detail(db, config, user_id, service).await?;
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
    let key = signing_key(db, config).await?;
    let mut tx = db.pool.begin().await?;
    let selection: Vec<(u32, String)> = chosen.into_iter().collect();
    issue(
        &mut tx,
        config,
        &key,
        user_id,
        username,
        NewConsent {
            service,
            collection_method: "My Account: consent updated",
            consented: group(&selection),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id, %service, "consent updated");
    detail(db, config, user_id, service).await
}

/// The Kantara receipts of the user for the export, with their states.
pub async fn exported(db: &Db, user_id: i64) -> Result<Vec<Value>, ConsentError> {
    Ok(list(db, user_id)
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
    fn expired_receipts_read_as_revoked() {
        assert_eq!(effective_state(ACTIVE, None, 10), ACTIVE);
        assert_eq!(effective_state(ACTIVE, Some(11), 10), ACTIVE);
        assert_eq!(effective_state(ACTIVE, Some(10), 10), REVOKED);
        assert_eq!(effective_state(REVOKED, Some(99), 10), REVOKED);
    }

    #[test]
    fn expiry_dates_hold_through_the_day_where_the_user_is() {
        let now = 1_794_990_000_000; // 2026-11-18 08:20 UTC
        let utc = LastDay::parse("2026-11-18", 0, now).unwrap();
        assert_eq!(utc.date(), "2026-11-18");
        assert_eq!(last_utc_day(utc.end()), "2026-11-18");
        // New York (UTC-5): the day ends at 05:00 UTC the next morning.
        let new_york = LastDay::parse("2026-11-18", 300, now).unwrap();
        assert_eq!(new_york.end() - utc.end(), 5 * 3_600_000);
        // Hawaii (UTC-10) is still on the 17th at 08:20 UTC ...
        assert!(LastDay::parse("2026-11-17", 600, now).is_ok());
        // ... which has ended in UTC and in Tokyo (UTC+9).
        assert!(LastDay::parse("2026-11-17", 0, now).is_err());
        assert!(LastDay::parse("2026-11-17", -540, now).is_err());
        assert!(LastDay::parse("2026-11-18", 13 * 60, now).is_err());
        assert!(LastDay::parse("18/11/2026", 0, now).is_err());
        assert!(LastDay::parse("9999-12-31", 0, now).is_err());
    }

    #[test]
    fn pii_category_ids_round_trip() {
        for field in FIELDS {
            let id = pii_category_id(field.name).unwrap();
            assert_eq!(claim_of_pii_category(id), Some(field.name));
        }
        assert_eq!(claim_of_pii_category(0), None);
    }
}

/// The consent-mgt REST API (WSO2 consent-mgt v1.0), limited to the signed-in
/// user's own receipts.
pub mod rest {
    use super::*;
    use crate::api::{ApiError, ApiJson, SignedIn};
    use crate::AppState;
    use axum::{
        extract::{Path, Query, State},
        http::{header, StatusCode},
        response::{IntoResponse, Response},
        Json,
    };
    use utoipa::{IntoParams, ToSchema};

    /// WSO2's name for its single default tenant; Selfserve has one tenant.
    const TENANT: &str = "carbon.super";
    const BASE: &str = "/api/identity/consent-mgt/v1.0/consents";

    #[derive(Debug, Deserialize, IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct ListQuery {
        /// ACTIVE or REVOKED (an expired receipt is REVOKED).
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
        Query(query): Query<ListQuery>,
    ) -> Result<Json<Vec<ConsentResponse>>, ApiError> {
        let wanted_state = query.state.filter(|s| !s.is_empty());
        if let Some(s) = &wanted_state {
            if s != ACTIVE && s != REVOKED {
                return Err(ApiError::BadRequest(format!(
                    "Unknown state {s}: use ACTIVE or REVOKED."
                )));
            }
        }
        if query
            .pii_principal_id
            .as_deref()
            .is_some_and(|p| !p.eq_ignore_ascii_case(&me.username))
        {
            return Ok(Json(Vec::new()));
        }
        let receipts = super::list(&state.db, me.user_id).await?;
        let found = receipts
            .into_iter()
            .filter(|r| wanted_state.as_deref().is_none_or(|s| s == r.state))
            .map(|r| (service_name(&state.config, &r.service), r))
            .filter(|((name, _), r)| {
                query
                    .service
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .is_none_or(|s| matches(s, &[name, &r.service]))
            })
            .skip(query.offset.unwrap_or(0) as usize)
            .take(query.limit.map(|l| l as usize).unwrap_or(usize::MAX))
            .map(|((name, description), r)| ConsentResponse {
                consent_receipt_id: r.id,
                language: state.config.consent.language.clone(),
                pii_principal_id: me.username.clone(),
                tenant_domain: TENANT.into(),
                state: r.state.into(),
                sp_display_name: name,
                sp_description: description,
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
        Ok(Json(find(&state.db, me.user_id, &id).await?.document()))
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
        let jws = signed(&state.db, &state.config, me.user_id, &id).await?;
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
        body: ConsentRequest,
    ) -> Result<(String, String, Vec<Consented>), ApiError> {
        let bad = |why: String| ApiError::BadRequest(why);
        let [service] = <[ServiceConsent; 1]>::try_from(body.services)
            .map_err(|_| bad("Give exactly one service per consent.".into()))?;
        if config.consent.application(&service.service).is_none() {
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
        let (service, method, consented) = application_consent(&state.config, body)?;
        let key = signing_key(&state.db, &state.config).await?;
        let mut tx = state.db.pool.begin().await.map_err(ApiError::internal)?;
        let id = issue(
            &mut tx,
            &state.config,
            &key,
            me.user_id,
            &me.username,
            NewConsent {
                service: &service,
                collection_method: &method,
                consented,
            },
        )
        .await?;
        tx.commit().await.map_err(ApiError::internal)?;
        tracing::info!(user = %me.username, %service, receipt = %id, "consent recorded");
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

    #[derive(Debug, Deserialize, IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct PurposeQuery {
        /// A service: "system" or an application's id.
        pub group: Option<String>,
        pub limit: Option<u32>,
        pub offset: Option<u32>,
    }

    /// The configured purposes.
    #[utoipa::path(get, operation_id = "listPurposes", path = "/api/identity/consent-mgt/v1.0/consents/purposes", tag = "consent", params(PurposeQuery),
        responses((status = 200, body = Vec<PurposeListItem>), (status = 401, body = crate::api::ErrorBody)))]
    pub async fn purposes(
        State(state): State<AppState>,
        SignedIn(_me): SignedIn,
        Query(query): Query<PurposeQuery>,
    ) -> Json<Vec<PurposeListItem>> {
        Json(
            state
                .config
                .consent
                .purposes
                .iter()
                .filter(|p| query.group.as_deref().is_none_or(|g| g == p.service))
                .skip(query.offset.unwrap_or(0) as usize)
                .take(query.limit.map(|l| l as usize).unwrap_or(usize::MAX))
                .map(summary)
                .collect(),
        )
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
}
