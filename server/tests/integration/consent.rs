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
fn config() -> Config {
    let mut config = test_config(ORIGIN);
    config.consent.applications.push(Application {
        id: "shop".into(),
        name: "Pet Shop".into(),
        description: "Sells pet food.".into(),
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
async fn shop_consent(app: &TestApp, cookie: &str, categories: &[u32]) -> String {
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
const EMAIL: u32 = 5;
const MOBILE: u32 = 7;

per_database! {
    async fn registration_creates_the_account_and_its_receipt_together(app) with config {
        config()
    } {
        let reply = register(&app, "nora", &[("consents[p2-email]", "on")]).await;
        reply.assert_status(StatusCode::OK, app.label);
        let id = user_id(&app, "nora").await.expect("account created");
        let receipts = receipts_of(&app, id).await;
        assert_eq!(receipts.len(), 1, "[{}]", app.label);
        assert_eq!(
            (receipts[0].1.as_str(), receipts[0].2.as_str()),
            ("system", "ACTIVE")
        );
        let cookie = app.sign_in("nora", PASSWORD).await;
        let receipt = (app
            .get(&format!("{BASE}/receipts/{}", receipts[0].0), Some(&cookie))
            .await)
            .json();
        assert_eq!(receipt["collectionMethod"], "Sign-Up");
        assert_eq!(receipt["piiPrincipalId"], "nora");
        assert_eq!(
            receipt["services"][0]["purposes"][0]["piiCategory"],
            json!(["email", "first_name"])
        );
        assert_eq!(
            receipt["services"][0]["purposes"][1]["piiCategory"],
            json!(["email"])
        );
        let profile: (String, String, i64) =
            sqlx::query_as("SELECT email, first_name, self_registered FROM users WHERE id = $1")
                .bind(id)
                .fetch_one(&app.db.pool)
                .await
                .unwrap();
        assert_eq!(profile, ("new@example.com".into(), "Nora".into(), 1));

        // Without the mandatory consent there is no account, and the form says why.
        let form = [
            ("username", "nomandate"),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
            ("attributes[email]", "x@example.com"),
            ("consents[p2-email]", "on"),
        ];
        let refused = app.post("/api/register", &form, None).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "[{}]", app.label);
        assert!(
            refused.body.contains("consent-p1-email"),
            "{}",
            refused.body
        );
        assert!(user_id(&app, "nomandate").await.is_none());

        // A value given without consent to its use is refused, not stored.
        let reply = register(&app, "sneaky", &[("attributes[last_name]", "Smith")]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(reply.body.contains("did not consent"), "{}", reply.body);
        assert!(user_id(&app, "sneaky").await.is_none());

        // A consent the form never offered changes nothing.
        let reply = register(&app, "forger", &[("consents[p10-email]", "on")]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(user_id(&app, "forger").await.is_none());

        // When storing the receipt fails, the account is not created either.
        sqlx::query("DROP TABLE consent_receipts")
            .execute(&app.db.pool)
            .await
            .unwrap();
        let reply = register(&app, "halfway", &[]).await;
        assert_eq!(
            reply.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "[{}]",
            app.label
        );
        assert!(
            user_id(&app, "halfway").await.is_none(),
            "[{}] account without receipt",
            app.label
        );
    }
}

per_database! {
    async fn every_receipt_conforms_to_the_kantara_schema(app) with config {
        config()
    } {
        register(&app, "nora", &[("consents[p2-email]", "on")]).await;
        let cookie = app.sign_in("nora", PASSWORD).await;
        shop_consent(&app, &cookie, &[EMAIL, MOBILE]).await;
        let body = json!({"services": [{"service": "shop", "purposes": [
            {"purposeId": 10, "piiCategory": [{"piiCategory": "email"}]},
            {"purposeId": 11, "piiCategory": [{"piiCategoryId": 4}]}]}]});
        assert_eq!(
            app.rest("POST", BASE, &cookie, Some(body)).await.status,
            StatusCode::CREATED
        );
        app.assert_receipts_conform().await;
        // The checker is not vacuous: WSO2's own sample receipt fails it.
        let wso2: Value =
            serde_json::from_str(include_str!("../../schemas/wso2-sample-receipt.json")).unwrap();
        assert!(server::consent::schema_problems(&wso2).len() >= 4);
    }
}

per_database! {
    async fn a_receipt_keeps_the_controller_it_was_issued_with(app) with config {
        config()
    } {
        register(&app, "nora", &[]).await;
        let cookie = app.sign_in("nora", PASSWORD).await;
        let first = shop_consent(&app, &cookie, &[EMAIL]).await;
        let mut changed = config();
        changed.consent.controller.name = "New Owner plc".into();
        changed.consent.controller.email = "dpo@new-owner.example".into();
        let later = app.with_config(changed);
        let old = (later
            .get(&format!("{BASE}/receipts/{first}"), Some(&cookie))
            .await)
            .json();
        assert_eq!(
            old["piiControllers"][0]["piiController"],
            "Selfserve operator"
        );
        let second = shop_consent(&later, &cookie, &[EMAIL, MOBILE]).await;
        let new = (later
            .get(&format!("{BASE}/receipts/{second}"), Some(&cookie))
            .await)
            .json();
        assert_eq!(new["piiControllers"][0]["piiController"], "New Owner plc");
        assert_eq!(new["piiControllers"][0]["email"], "dpo@new-owner.example");
        // Giving consent again revoked the earlier receipt, which stays as history.
        let old = (later
            .get(&format!("{BASE}/receipts/{first}"), Some(&cookie))
            .await)
            .json();
        assert_eq!(old["state"], "REVOKED");
        assert_eq!(
            old["piiControllers"][0]["piiController"],
            "Selfserve operator"
        );
        later.assert_receipts_conform().await;
    }
}

per_database! {
    async fn deselecting_attributes_issues_a_receipt_without_them(app) with config {
        config()
    } {
        // An operator-onboarded user gives system consent on the page.
        let id = app.add_user("olga", PASSWORD).await;
        let cookie = app.sign_in("olga", PASSWORD).await;
        let all = [
            ("service", "system"),
            ("selected[p1-email]", "on"),
            ("selected[p1-first_name]", "on"),
            ("selected[p1-last_name]", "on"),
            ("selected[p2-email]", "on"),
        ];
        // A purpose is consented to with what it requires, or not at all.
        let partial = [("service", "system"), ("selected[p1-first_name]", "on")];
        let reply = app
            .post("/api/update_consent", &partial, Some(&cookie))
            .await;
        assert!(reply.body.contains("needs your email"), "{}", reply.body);
        assert!(receipts_of(&app, id).await.is_empty());
        let reply = app.post("/api/update_consent", &all, Some(&cookie)).await;
        reply.assert_status(StatusCode::OK, app.label);
        let first = receipts_of(&app, id).await;
        assert_eq!(first.len(), 1);

        // Deselect last name and the newsletter; email for purpose 1 is locked.
        let narrower = [("service", "system"), ("selected[p1-first_name]", "on")];
        let reply = app
            .post("/api/update_consent", &narrower, Some(&cookie))
            .await;
        reply.assert_status(StatusCode::OK, app.label);
        let receipts = receipts_of(&app, id).await;
        assert_eq!(receipts.len(), 2);
        assert_eq!(receipts[0].2, "REVOKED");
        assert_eq!(receipts[1].2, "ACTIVE");
        let receipt = (app
            .get(&format!("{BASE}/receipts/{}", receipts[1].0), Some(&cookie))
            .await)
            .json();
        let purposes = &receipt["services"][0]["purposes"];
        assert_eq!(purposes[0]["piiCategory"], json!(["email", "first_name"]));
        assert!(purposes.get(1).is_none(), "{receipt}");
        let allowed = server::consent::allowed_claims(&app.db, id, "system")
            .await
            .unwrap();
        assert_eq!(
            allowed.into_iter().collect::<Vec<_>>(),
            ["email", "first_name"]
        );

        // The same selection again, and a claim not offered, change nothing.
        let same = app
            .post("/api/update_consent", &narrower, Some(&cookie))
            .await;
        assert!(same.body.contains("Nothing changed"), "{}", same.body);
        let forged = [("service", "system"), ("selected[p1-mobile]", "on")];
        assert_ne!(
            app.post("/api/update_consent", &forged, Some(&cookie))
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(receipts_of(&app, id).await.len(), 2);

        // An operator-onboarded user may narrow but not revoke system consent.
        let reply = app
            .rest(
                "DELETE",
                &format!("{BASE}/receipts/{}", receipts[1].0),
                &cookie,
                None,
            )
            .await;
        reply.assert_status(StatusCode::FORBIDDEN, app.label);
        app.assert_receipts_conform().await;
    }
}

per_database! {
    async fn an_attribute_added_later_can_be_consented_to(app) with config {
        config()
    } {
        register(&app, "nora", &[]).await;
        let cookie = app.sign_in("nora", PASSWORD).await;
        let mut widened = config();
        widened.consent.purposes[0].pii.push(pii("mobile", false));
        let later = app.with_config(widened);
        let detail = later
            .post(
                "/api/get_consent_detail",
                &[("service", "system")],
                Some(&cookie),
            )
            .await;
        let detail = detail.json();
        let mobile = detail["purposes"][0]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["claim"] == "mobile")
            .cloned()
            .expect("the new attribute is offered");
        assert_eq!(mobile["selected"], false);
        let form = [
            ("service", "system"),
            ("selected[p1-first_name]", "on"),
            ("selected[p1-mobile]", "on"),
        ];
        let reply = later
            .post("/api/update_consent", &form, Some(&cookie))
            .await;
        reply.assert_status(StatusCode::OK, app.label);
        let id = user_id(&app, "nora").await.unwrap();
        let allowed = server::consent::allowed_claims(&app.db, id, "system")
            .await
            .unwrap();
        assert!(allowed.contains("mobile"), "{allowed:?}");
        later.assert_receipts_conform().await;
    }
}

per_database! {
    async fn an_expired_receipt_is_revoked_everywhere(app) with config {
        config()
    } {
        register(&app, "nora", &[]).await;
        let cookie = app.sign_in("nora", PASSWORD).await;
        let receipt = shop_consent(&app, &cookie, &[EMAIL]).await;
        let id = user_id(&app, "nora").await.unwrap();

        // The page refuses a past date and accepts today.
        let past = [("service", "shop"), ("last_day", "2020-01-01")];
        let reply = app
            .post("/api/set_consent_expiry", &past, Some(&cookie))
            .await;
        assert!(reply.body.contains("in the past"), "{}", reply.body);
        let today = time::OffsetDateTime::now_utc().date().to_string();
        let reply = app
            .post(
                "/api/set_consent_expiry",
                &[("service", "shop"), ("last_day", &today)],
                Some(&cookie),
            )
            .await;
        reply.assert_status(StatusCode::OK, app.label);
        assert_eq!(reply.json()["entry"]["expires_on"], today);
        assert_eq!(
            (app.get(&format!("{BASE}/receipts/{receipt}"), Some(&cookie))
                .await)
                .json()["state"],
            "ACTIVE"
        );

        // Time passes: the expiry is now behind us, and the job has not run.
        sqlx::query("UPDATE consent_receipts SET expires_at = $1 WHERE id = $2")
            .bind(server::time::now_ms() - 1_000)
            .bind(&receipt)
            .execute(&app.db.pool)
            .await
            .unwrap();
        let listed = (app
            .get(&format!("{BASE}?service=shop"), Some(&cookie))
            .await)
            .json();
        assert_eq!(listed[0]["state"], "REVOKED", "[{}] {listed}", app.label);
        let active = (app
            .get(&format!("{BASE}?state=ACTIVE&service=Pet*"), Some(&cookie))
            .await)
            .json();
        assert_eq!(active, json!([]));
        let got = (app
            .get(&format!("{BASE}/receipts/{receipt}"), Some(&cookie))
            .await)
            .json();
        assert_eq!(got["state"], "REVOKED");
        let export = (app.get("/api/identity/user/v1.0/me", Some(&cookie)).await).json();
        let exported = export["consents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["consentReceiptID"] == receipt.as_str())
            .expect("the receipt is exported");
        assert_eq!(exported["state"], "REVOKED");
        let page = (app.post("/api/get_consents", &[], Some(&cookie)).await).json();
        let shop = page
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["service_id"] == "shop")
            .unwrap();
        assert_eq!(shop["state"], "Revoked");
        assert_eq!(shop["shares"], json!([]));
        assert!(server::consent::allowed_claims(&app.db, id, "shop")
            .await
            .unwrap()
            .is_empty());

        // The periodic job records it.
        assert_eq!(server::consent::expire_due(&app.db).await.unwrap(), 1);
        assert_eq!(
            receipts_of(&app, id)
                .await
                .iter()
                .filter(|r| r.2 == "ACTIVE")
                .count(),
            1
        );
    }
}

per_database! {
    async fn an_end_date_ends_at_the_users_midnight(app) with config {
        config()
    } {
        register(&app, "nora", &[]).await;
        let cookie = app.sign_in("nora", PASSWORD).await;
        let receipt = shop_consent(&app, &cookie, &[EMAIL]).await;
        let day = time::OffsetDateTime::now_utc().date() + time::Duration::days(30);
        let set = |last_day: String, offset: &'static str| {
            let (app, cookie) = (&app, cookie.clone());
            async move {
                let form = [
                    ("service", "shop"),
                    ("last_day", last_day.as_str()),
                    ("minutes_behind_utc", offset),
                ];
                app.post("/api/set_consent_expiry", &form, Some(&cookie))
                    .await
            }
        };
        let valid_until = || async {
            (app.get(&format!("{BASE}/receipts/{receipt}"), Some(&cookie))
                .await)
                .json()["validUntil"]
                .clone()
        };

        // New York (UTC-5): the day ends at 05:00 UTC the next morning.
        let reply = set(day.to_string(), "300").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.json()["entry"]["expires_on"], day.to_string());
        assert_eq!(
            valid_until().await,
            format!("{}T05:00:00Z", day.next_day().unwrap())
        );

        // Neither a number nor a real offset: refused, nothing changed.
        let reply = set(day.to_string(), "east").await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert!(reply.body.contains("Malformed"), "{}", reply.body);
        assert_eq!(
            valid_until().await,
            format!("{}T05:00:00Z", day.next_day().unwrap())
        );
        // An offset no time zone has is refused and changes nothing.
        let reply = set(day.to_string(), "900").await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(reply.body.contains("UTC-12 and UTC+14"), "{}", reply.body);
        assert_eq!(
            valid_until().await,
            format!("{}T05:00:00Z", day.next_day().unwrap())
        );

        // Tokyo (UTC+9): midnight after the day is 15:00 UTC on the day.
        let reply = set(day.to_string(), "-540").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(valid_until().await, format!("{day}T15:00:00Z"));
    }
}

per_database! {
    async fn a_signed_receipt_verifies_with_the_published_key(app) with config {
        config()
    } {
        register(&app, "nora", &[]).await;
        let cookie = app.sign_in("nora", PASSWORD).await;
        let receipt = shop_consent(&app, &cookie, &[EMAIL]).await;
        let jws = app
            .get(&format!("{BASE}/receipts/{receipt}/jws"), Some(&cookie))
            .await;
        assert_eq!(jws.status, StatusCode::OK);
        assert_eq!(jws.header("content-type"), Some("application/jwt"));
        let (kid, claims) = verify_with_published_key(&app, &jws.body).await.unwrap();
        let stored = (app
            .get(&format!("{BASE}/receipts/{receipt}"), Some(&cookie))
            .await)
            .json();
        assert_eq!(claims["consentReceiptID"], stored["consentReceiptID"]);
        assert_eq!(claims["services"], stored["services"]);
        assert!(stored["publicKey"]
            .as_str()
            .unwrap()
            .ends_with(&format!("#{kid}")));
        // A tampered receipt does not verify.
        let mut parts: Vec<String> = jws.body.split('.').map(String::from).collect();
        parts[1] = parts[1].replacen('e', "f", 1);
        assert!(verify_with_published_key(&app, &parts.join("."))
            .await
            .is_err());

        // After a rotation receipts are signed with the new key, and the
        // earlier signature still verifies: both keys are published.
        let new_kid = server::consent::rotate_signing_key(&app.db, &app.config)
            .await
            .unwrap();
        let resigned = app
            .get(&format!("{BASE}/receipts/{receipt}/jws"), Some(&cookie))
            .await;
        assert_ne!(new_kid, kid);
        for (token, signer) in [(&resigned.body, &new_kid), (&jws.body, &kid)] {
            let verified = verify_with_published_key(&app, token).await;
            assert_eq!(verified.unwrap().0, *signer, "[{}]", app.label);
        }
    }
}

/// Checks a compact JWS against the public key set, as anyone shown a receipt
/// could; returns the signer's `kid` and the claims.
async fn verify_with_published_key(app: &TestApp, token: &str) -> Result<(String, Value), String> {
    let jwks = app.get("/api/identity/consent-mgt/v1.0/jwks", None).await;
    assert_eq!(jwks.status, StatusCode::OK);
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&jwks.body).unwrap();
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let kid = header.kid.ok_or("the JWS names no key")?;
    let jwk = set.find(&kid).ok_or("the signing key is not published")?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let verified =
        jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| e.to_string())?;
    Ok((kid, verified.claims))
}

#[tokio::test]
async fn signing_keys_are_stored_encrypted_under_the_configured_secret() {
    let secret = |s: &str| Some(server::config::Secret::new(s));
    let mut sealed_config = config();
    sealed_config.consent.signing_key_secret = secret("the operator's secret, 32 chars or more");
    for app in TestApp::all().await {
        let clear_config = app.config.clone();
        let stored = || async {
            let row = sqlx::query("SELECT kid, pkcs8 FROM signing_keys")
                .fetch_one(&app.db.pool)
                .await
                .unwrap();
            (row.get::<String, _>(0), row.get::<String, _>(1))
        };
        // A key made before the secret was set is in the clear ...
        let key = server::consent::signing_key(&app.db, &clear_config)
            .await
            .unwrap();
        let (kid, before) = stored().await;
        assert_eq!(kid, key.kid);
        assert!(!before.starts_with("aes256gcm:"));
        // ... and the start with a secret encrypts it in place, once.
        let sealed = server::consent::prepare_signing_keys(&app.db, &sealed_config).await;
        assert_eq!(sealed.unwrap(), 1, "[{}]", app.label);
        let (_, after) = stored().await;
        assert!(after.starts_with("aes256gcm:"), "[{}] {after}", app.label);
        assert!(!after.contains(&before));
        assert_eq!(
            server::consent::prepare_signing_keys(&app.db, &sealed_config)
                .await
                .unwrap(),
            0
        );
        let opened = server::consent::signing_key(&app.db, &sealed_config)
            .await
            .unwrap();
        assert_eq!((opened.kid, opened.pkcs8), (key.kid, key.pkcs8));

        // Without the secret, or with another one, the start stops and says why.
        let missing = server::consent::prepare_signing_keys(&app.db, &clear_config)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("set consent.signing_key_secret"),
            "{missing}"
        );
        let mut other = sealed_config.clone();
        other.consent.signing_key_secret = secret("someone else's secret of 32 chars..");
        let wrong = server::consent::prepare_signing_keys(&app.db, &other)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            wrong.contains("not the one it was encrypted with"),
            "{wrong}"
        );
        assert!(!wrong.contains("operator's secret"));
    }
    // With the secret from the start, the key created on first use is sealed
    // and receipts signed with it verify against the published key.
    for app in TestApp::all_with(sealed_config.clone()).await {
        register(&app, "nora", &[]).await;
        let cookie = app.sign_in("nora", PASSWORD).await;
        let receipt = shop_consent(&app, &cookie, &[EMAIL]).await;
        let pkcs8: String = sqlx::query("SELECT pkcs8 FROM signing_keys")
            .fetch_one(&app.db.pool)
            .await
            .unwrap()
            .get(0);
        assert!(pkcs8.starts_with("aes256gcm:"));
        let jws = app
            .get(&format!("{BASE}/receipts/{receipt}/jws"), Some(&cookie))
            .await;
        let verified = verify_with_published_key(&app, &jws.body).await;
        assert!(verified.is_ok(), "[{}] {verified:?}", app.label);
    }
}

per_database! {
    async fn another_users_receipt_is_not_found(app) with config {
        config()
    } {
        register(&app, "nora", &[]).await;
        app.add_user("bob", PASSWORD).await;
        let nora = app.sign_in("nora", PASSWORD).await;
        let bob = app.sign_in("bob", PASSWORD).await;
        let receipt = shop_consent(&app, &nora, &[EMAIL]).await;
        for path in [
            format!("{BASE}/receipts/{receipt}"),
            format!("{BASE}/receipts/{receipt}/jws"),
        ] {
            let theirs = app.get(&path, Some(&bob)).await;
            let missing = app
                .get(&path.replace(&receipt, "no-such-receipt"), Some(&bob))
                .await;
            assert_eq!(
                theirs.status,
                StatusCode::NOT_FOUND,
                "[{}] {path}",
                app.label
            );
            assert_eq!(missing.status, StatusCode::NOT_FOUND);
            assert_eq!(theirs.json()["code"], missing.json()["code"]);
        }
        let delete = app
            .rest("DELETE", &format!("{BASE}/receipts/{receipt}"), &bob, None)
            .await;
        assert_eq!(delete.status, StatusCode::NOT_FOUND);
        let revoke = app
            .post(
                "/api/revoke_consent",
                &[("receipt_id", &receipt)],
                Some(&bob),
            )
            .await;
        assert_eq!(revoke.status, StatusCode::NOT_FOUND);
        assert_eq!((app.get(BASE, Some(&bob)).await).json(), json!([]));
        let asked = app
            .get(&format!("{BASE}?piiPrincipalId=nora"), Some(&bob))
            .await;
        assert_eq!(asked.json(), json!([]));
        let page = app
            .post(
                "/api/get_consent_detail",
                &[("service", "shop")],
                Some(&bob),
            )
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
        // Nora's receipt is untouched.
        let got = (app
            .get(&format!("{BASE}/receipts/{receipt}"), Some(&nora))
            .await)
            .json();
        assert_eq!(got["state"], "ACTIVE");
        // Without a session there is nothing at all.
        assert_eq!(app.get(BASE, None).await.status, StatusCode::UNAUTHORIZED);
    }
}

per_database! {
    async fn the_rest_api_records_lists_and_revokes_consents(app) with config {
        config()
    } {
        register(&app, "nora", &[]).await;
        let cookie = app.sign_in("nora", PASSWORD).await;
        let bad = |body: Value| {
            let app = &app;
            let cookie = cookie.clone();
            async move { app.rest("POST", BASE, &cookie, Some(body)).await }
        };
        let unknown = bad(json!({"services": [{"service": "casino", "purposes": []}]})).await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
        assert!(unknown.body.contains("Unknown service"), "{}", unknown.body);
        let missing = bad(json!({"services": [{"service": "shop", "purposes": [
            {"purposeId": 10, "piiCategory": [{"piiCategoryId": MOBILE}]}]}]}))
        .await;
        assert!(missing.body.contains("mandatory"), "{}", missing.body);
        let foreign = bad(json!({"services": [{"service": "shop", "purposes": [
            {"purposeId": 1, "piiCategory": [{"piiCategoryId": EMAIL}]}]}]}))
        .await;
        assert_eq!(foreign.status, StatusCode::BAD_REQUEST);
        let malformed = app
            .rest("POST", BASE, &cookie, Some(json!({"services": "shop"})))
            .await;
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
        let id = user_id(&app, "nora").await.unwrap();
        assert_eq!(
            receipts_of(&app, id).await.len(),
            1,
            "refused requests stored nothing"
        );

        let first = shop_consent(&app, &cookie, &[EMAIL]).await;
        let second = shop_consent(&app, &cookie, &[EMAIL, MOBILE]).await;
        let all = (app.get(BASE, Some(&cookie)).await).json();
        assert_eq!(all.as_array().unwrap().len(), 3);
        assert_eq!(all[0]["consentReceiptID"], second.as_str());
        assert_eq!(all[0]["spDisplayName"], "Pet Shop");
        let revoked = (app
            .get(&format!("{BASE}?state=REVOKED"), Some(&cookie))
            .await)
            .json();
        assert_eq!(revoked.as_array().unwrap().len(), 1);
        assert_eq!(revoked[0]["consentReceiptID"], first.as_str());
        let page = (app
            .get(&format!("{BASE}?limit=1&offset=1"), Some(&cookie))
            .await)
            .json();
        assert_eq!(page.as_array().unwrap().len(), 1);
        assert_eq!(page[0]["consentReceiptID"], all[1]["consentReceiptID"]);
        let wrong = app
            .get(&format!("{BASE}?state=PAUSED"), Some(&cookie))
            .await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST);

        let delete = app
            .rest(
                "DELETE",
                &format!("{BASE}/receipts/{second}"),
                &cookie,
                None,
            )
            .await;
        assert_eq!(delete.status, StatusCode::OK, "{}", delete.body);
        let again = app
            .rest(
                "DELETE",
                &format!("{BASE}/receipts/{second}"),
                &cookie,
                None,
            )
            .await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
        assert!(server::consent::allowed_claims(&app.db, id, "shop")
            .await
            .unwrap()
            .is_empty());

        // A self-registered user may revoke their system consent.
        let system = &all[2]["consentReceiptID"];
        let reply = app
            .rest(
                "DELETE",
                &format!("{BASE}/receipts/{}", system.as_str().unwrap()),
                &cookie,
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

        let purposes = (app
            .get(&format!("{BASE}/purposes?group=shop"), Some(&cookie))
            .await)
            .json();
        assert_eq!(purposes.as_array().unwrap().len(), 2);
        assert_eq!(purposes[0]["groupType"], "SP");
        let orders = (app.get(&format!("{BASE}/purposes/10"), Some(&cookie)).await).json();
        assert_eq!(orders["piiCategories"][0]["piiCategory"], "email");
        assert_eq!(orders["piiCategories"][0]["piiCategoryId"], EMAIL);
        assert_eq!(orders["piiCategories"][0]["mandatory"], true);
        assert_eq!(
            app.get(&format!("{BASE}/purposes/99"), Some(&cookie))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        app.assert_receipts_conform().await;
    }
}

per_database! {
    async fn concurrent_consents_leave_one_active_receipt(app) with config {
        config()
    } {
        register(&app, "nora", &[]).await;
        let cookie = app.sign_in("nora", PASSWORD).await;
        let body = json!({"services": [{"service": "shop", "purposes": [
            {"purposeId": 10, "piiCategory": [{"piiCategoryId": EMAIL}]}]}]});
        for _ in 0..4 {
            let (a, b) = tokio::join!(
                app.rest("POST", BASE, &cookie, Some(body.clone())),
                app.rest("POST", BASE, &cookie, Some(body.clone()))
            );
            for reply in [a, b] {
                assert!(
                    [StatusCode::CREATED, StatusCode::CONFLICT].contains(&reply.status),
                    "[{}] {} {}",
                    app.label,
                    reply.status,
                    reply.body
                );
            }
        }
        let id = user_id(&app, "nora").await.unwrap();
        let active = receipts_of(&app, id)
            .await
            .into_iter()
            .filter(|r| r.1 == "shop" && r.2 == "ACTIVE")
            .count();
        assert_eq!(active, 1, "[{}]", app.label);
    }
}

per_database! {
    async fn the_privacy_notice_names_the_controller_and_purposes_for_everyone(app) with config {
        config()
    } {
        let page = app.get("/privacy", None).await;
        assert_eq!(page.status, StatusCode::OK, "[{}]", app.label);
        assert!(page.body.contains("Selfserve operator"), "{}", page.body);
        assert!(page.body.contains("Account administration"));
        assert!(page.body.contains("Email (required)"));
        app.add_user("olga", PASSWORD).await;
        let cookie = app.sign_in("olga", PASSWORD).await;
        assert_eq!(
            app.get("/privacy", Some(&cookie)).await.status,
            StatusCode::OK
        );
        // The registration form points receipts' readers to it by default.
        let form = (app.post("/api/get_registration_form", &[], None).await).json();
        assert_eq!(form["policy_url"], format!("{ORIGIN}/privacy"));
    }
}

per_database! {
    async fn a_purpose_the_operator_removed_drops_out_on_the_next_update(app) with config {
        config()
    } {
        register(&app, "nora", &[("consents[p2-email]", "on")]).await;
        let cookie = app.sign_in("nora", PASSWORD).await;
        let mut narrowed = config();
        narrowed.consent.purposes.retain(|p| p.id != 2);
        let later = app.with_config(narrowed);
        let detail = (later
            .post(
                "/api/get_consent_detail",
                &[("service", "system")],
                Some(&cookie),
            )
            .await)
            .json();
        assert_eq!(detail["purposes"].as_array().unwrap().len(), 1, "{detail}");
        let form = [
            ("service", "system"),
            ("selected[p1-first_name]", "on"),
            ("selected[p1-last_name]", "on"),
        ];
        let reply = later
            .post("/api/update_consent", &form, Some(&cookie))
            .await;
        reply.assert_status(StatusCode::OK, app.label);
        let listed = (later
            .get(&format!("{BASE}?state=ACTIVE"), Some(&cookie))
            .await)
            .json();
        let id = listed[0]["consentReceiptID"].as_str().unwrap().to_string();
        let receipt = (later
            .get(&format!("{BASE}/receipts/{id}"), Some(&cookie))
            .await)
            .json();
        let purposes = receipt["services"][0]["purposes"].as_array().unwrap();
        assert_eq!(purposes.len(), 1, "{receipt}");
        assert_eq!(purposes[0]["purpose"], "Account administration");
        assert_eq!(
            purposes[0]["piiCategory"],
            json!(["email", "first_name", "last_name"])
        );
        later.assert_receipts_conform().await;
    }
}

per_database! {
    async fn registrations_from_one_address_are_limited_per_hour(app) with config {
        let mut limited = config();
        limited.registration.per_address_per_hour = 2;
        limited
    } {
        assert_eq!(register(&app, "first", &[]).await.status, StatusCode::OK);
        // Invalid forms do not count: a typo costs nothing.
        let weak = [("username", "typo"), ("password", "x"), ("confirm", "x")];
        assert_eq!(
            app.post("/api/register", &weak, None).await.status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(register(&app, "second", &[]).await.status, StatusCode::OK);
        let refused = register(&app, "third", &[]).await;
        assert_eq!(
            refused.status,
            StatusCode::TOO_MANY_REQUESTS,
            "[{}]",
            app.label
        );
        assert!(
            refused.body.contains("RegistrationThrottled"),
            "{}",
            refused.body
        );
        assert!(user_id(&app, "third").await.is_none());
        // An hour later the address may register again.
        sqlx::query("UPDATE signin_throttle SET updated_at = updated_at - 3600001")
            .execute(&app.db.pool)
            .await
            .unwrap();
        assert_eq!(register(&app, "third", &[]).await.status, StatusCode::OK);
    }
}
