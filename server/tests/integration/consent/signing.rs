//! Signed receipts and the keys that sign them.

#[allow(unused_imports)]
use super::*;

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
        let new_kid = server::consent::rotate_signing_key(&app.db, &app.config, server::consent::KeySet::Receipts)
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

per_database! {
    async fn signing_keys_are_stored_encrypted_under_the_configured_secret(app) {
        let secret = |s: &str| Some(server::config::Secret::new(s));
        let mut sealed_config = config();
        sealed_config.consent.signing_key_secret = secret("the operator's secret, 32 chars or more");
        {
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
        let app = app.fresh(sealed_config.clone()).await;
        {
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
}
