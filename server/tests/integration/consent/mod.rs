//! Consent management: receipts from registration, the page's server
//! functions and the consent-mgt REST API, on SQLite and PostgreSQL.

use crate::common::{test_config, Reply, TestApp, ORIGIN, PASSWORD};
use http::StatusCode;
use serde_json::{json, Value};
use server::config::{Application, Config, Purpose, PurposePii};
use sqlx::Row;

const BASE: &str = "/api/identity/consent-mgt/v1.0/consents";

fn pii(claim: &str, mandatory: bool) -> PurposePii {
    PurposePii {
        claim: claim.into(),
        mandatory,
    }
}

/// The default system purposes plus an application "shop" with two purposes.
pub(crate) fn config() -> Config {
    let mut config = test_config(ORIGIN);
    config.consent.applications.push(Application {
        id: "shop".into(),
        name: "Pet Shop".into(),
        description: "Sells pet food.".into(),
        redirect_uris: Vec::new(),
        post_logout_redirect_uris: Vec::new(),
        public: false,
        scopes: server::config::clients::default_scopes(),
        access_url: None,
    });
    let purpose = |id, name: &str, pii| Purpose {
        id,
        name: name.into(),
        description: format!("{name} at the shop."),
        service: "shop".into(),
        categories: vec!["2 - Contracted Service".into()],
        primary: id == 10,
        termination: "Until you revoke it".into(),
        third_party: (id == 11).then(|| "Parcel Couriers Ltd".into()),
        pii,
    };
    config.consent.purposes.push(purpose(
        10,
        "Orders",
        vec![pii("email", true), pii("mobile", false)],
    ));
    config
        .consent
        .purposes
        .push(purpose(11, "Delivery", vec![pii("country", false)]));
    config
}

async fn register(app: &TestApp, username: &str, extra: &[(&str, &str)]) -> Reply {
    let mut form = vec![
        ("username", username),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
        ("attributes[email]", "new@example.com"),
        ("attributes[first_name]", "Nora"),
        ("consents[p1-email]", "on"),
        ("consents[p1-first_name]", "on"),
    ];
    form.extend_from_slice(extra);
    app.post("/api/register", &form, None).await
}

async fn receipts_of(app: &TestApp, user_id: i64) -> Vec<(String, String, String)> {
    sqlx::query(
        "SELECT id, service, state FROM consent_receipts WHERE user_id = $1 ORDER BY created_at, id",
    )
    .bind(user_id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

async fn user_id(app: &TestApp, username: &str) -> Option<i64> {
    sqlx::query("SELECT id FROM users WHERE username_key = $1")
        .bind(username.to_lowercase())
        .fetch_optional(&app.db.pool)
        .await
        .unwrap()
        .map(|r| r.get(0))
}

/// Records the shop's consent through the REST API; returns the receipt id.
pub(crate) async fn shop_consent(app: &TestApp, cookie: &str, categories: &[u32]) -> String {
    let body = json!({
        "services": [{
            "service": "shop",
            "purposes": [{
                "purposeId": 10,
                "piiCategory": categories.iter().map(|id| json!({"piiCategoryId": id})).collect::<Vec<_>>(),
            }],
        }],
        "collectionMethod": "Checkout",
    });
    let reply = app.rest("POST", BASE, cookie, Some(body)).await;
    reply.assert_status(StatusCode::CREATED, app.label);
    let id = reply.json()["consentReceiptID"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        reply.header("location"),
        Some(format!("{BASE}/receipts/{id}").as_str())
    );
    id
}

// PII category ids follow the profile's field order.
pub(crate) const EMAIL: u32 = 5;
const MOBILE: u32 = 7;

mod expiry;
mod receipts;
mod required;
mod rest;
mod signing;
