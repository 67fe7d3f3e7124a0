//! The Kantara Consent Receipt v1.1: how a receipt is built from the
//! configuration as it is now, checked against the bundled schema, and read
//! back with its state as of now.

use super::ConsentError;
use crate::config::Config;
use app::consent::ReceiptState;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

pub const RECEIPT_VERSION: &str = "KI-CR-v1.1.0";

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

/// Where the receipt's `publicKey` points: the JWKS entry of the key.
fn public_key_ref(config: &Config, kid: &str) -> String {
    format!(
        "{}/api/identity/consent-mgt/v1.0/jwks#{kid}",
        config.public_url.trim_end_matches('/')
    )
}

// The schema is bundled at build time; a test validates receipts against it,
// so a broken copy fails the tests, never a request.
#[allow(clippy::expect_used)]
static SCHEMA: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(include_str!(
        "../../schemas/kantara-consent-receipt-v1_1.json"
    ))
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
    service_name: &str,
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
        // Always present: WSO2's purposeResponse requires it, and "" is valid
        // Kantara when nothing is disclosed to a third party.
        entry["thirdPartyName"] = json!(purpose.third_party.clone().unwrap_or_default());
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
            "service": service_name,
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

/// A stored receipt with its state as of now.
#[derive(Debug, Clone)]
pub struct StoredReceipt {
    pub id: String,
    pub service: String,
    pub state: ReceiptState,
    pub receipt: Value,
    pub consented: Vec<Consented>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    /// The last day as the user chose it (YYYY-MM-DD, their calendar).
    pub expires_on: Option<String>,
}

impl StoredReceipt {
    pub fn is_active(&self) -> bool {
        self.state == ReceiptState::Active
    }

    /// The receipt as the API returns it: the Kantara document plus its state
    /// and, when set, the end of its validity.
    pub fn document(&self) -> Value {
        let mut document = self.receipt.clone();
        document["state"] = json!(self.state.as_str());
        if let Some(expires_at) = self.expires_at {
            document["validUntil"] = json!(crate::time::rfc3339(expires_at));
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
pub fn effective_state(recorded: ReceiptState, expires_at: Option<i64>, now: i64) -> ReceiptState {
    match expires_at {
        Some(end) if end <= now => ReceiptState::Revoked,
        _ => recorded,
    }
}

/// Builds, checks and returns a new receipt: the Kantara document as issued.
pub fn new_receipt(
    config: &Config,
    service_name: &str,
    kid: &str,
    id: &str,
    username: &str,
    given: &NewConsent<'_>,
    now: i64,
) -> Result<Value, ConsentError> {
    if given.consented.iter().all(|c| c.claims.is_empty()) {
        return Err(ConsentError::Invalid(
            "A consent needs at least one attribute.".into(),
        ));
    }
    let receipt = build_receipt(config, service_name, kid, id, username, given, now)?;
    let problems = schema_problems(&receipt);
    if !problems.is_empty() {
        return Err(ConsentError::Schema(problems.join("; ")));
    }
    Ok(receipt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_receipts_read_as_revoked() {
        use ReceiptState::{Active, Revoked};
        assert_eq!(effective_state(Active, None, 10), Active);
        assert_eq!(effective_state(Active, Some(11), 10), Active);
        assert_eq!(effective_state(Active, Some(10), 10), Revoked);
        assert_eq!(effective_state(Revoked, Some(99), 10), Revoked);
    }
}
