//! Selfserve as an OpenID Connect provider: its clients, from the
//! configuration file and from the database, found and authenticated alike.

use crate::common::*;
use server::config::clients::{ClientId, RedirectUri, Scope};
use server::config::{Application, Config};
use server::oidc::{self, ClientError, ClientKind, ClientSource, NewClient};

fn config_with_shop() -> Config {
    let mut config = test_config(ORIGIN);
    config.consent.applications.push(Application {
        id: "shop".into(),
        name: "Pet Shop".into(),
        description: "Sells pet food.".into(),
        redirect_uris: vec![RedirectUri::parse("https://shop.example/callback").unwrap()],
        post_logout_redirect_uris: Vec::new(),
        public: false,
        scopes: vec![Scope::OpenId, Scope::Email],
        access_url: None,
    });
    config
}

fn new_client(id: &str, kind: ClientKind) -> NewClient {
    NewClient {
        id: ClientId::parse(id).unwrap(),
        name: format!("{id} app"),
        description: String::new(),
        redirect_uris: vec![RedirectUri::parse(&format!("https://{id}.example/cb")).unwrap()],
        post_logout_redirect_uris: Vec::new(),
        kind,
        scopes: vec![Scope::OpenId],
        access_url: None,
    }
}

per_database! {
    async fn secrets_authenticate_until_rotated_and_only_confidential_clients(app) with config { config_with_shop() } {
        let (db, config) = (&app.db, &app.config);
        let secret = oidc::add(db, config, new_client("billing", ClientKind::Confidential))
            .await
            .unwrap()
            .expect("a confidential client gets a secret");
        let found = oidc::authenticate(db, config, "billing", secret.expose()).await.unwrap();
        assert_eq!(found.map(|c| c.source), Some(ClientSource::Database), "[{}]", app.label);
        assert!(oidc::authenticate(db, config, "billing", "wrong").await.unwrap().is_none());
        assert!(oidc::authenticate(db, config, "nobody", secret.expose()).await.unwrap().is_none());

        let rotated = oidc::rotate_secret(db, config, "billing").await.unwrap();
        assert!(oidc::authenticate(db, config, "billing", secret.expose()).await.unwrap().is_none(),
            "[{}] the old secret stops working at once", app.label);
        assert!(oidc::authenticate(db, config, "billing", rotated.expose()).await.unwrap().is_some());

        // A public client has no secret and never authenticates with one.
        assert!(oidc::add(db, config, new_client("spa", ClientKind::Public)).await.unwrap().is_none());
        assert!(matches!(oidc::rotate_secret(db, config, "spa").await, Err(ClientError::Public(_))));
        assert!(oidc::authenticate(db, config, "spa", "").await.unwrap().is_none());

        // The configured client: found with its settings; no secret until set.
        let shop = oidc::find(db, config, "shop").await.unwrap().unwrap();
        assert_eq!((shop.source, shop.kind), (ClientSource::Configuration, ClientKind::Confidential));
        assert_eq!(shop.scopes, vec![Scope::OpenId, Scope::Email]);
        assert!(oidc::authenticate(db, config, "shop", "").await.unwrap().is_none());
        let shop_secret = oidc::rotate_secret(db, config, "shop").await.unwrap();
        assert!(oidc::authenticate(db, config, "shop", shop_secret.expose()).await.unwrap().is_some());

        let ids: Vec<String> = oidc::all(db, config).await.unwrap().iter().map(|c| c.id.to_string()).collect();
        assert_eq!(ids, ["shop", "billing", "spa"], "[{}]", app.label);

        // Removing a client removes its secret: a new client of the same id
        // does not inherit it.
        oidc::remove(db, config, "billing").await.unwrap();
        assert!(oidc::find(db, config, "billing").await.unwrap().is_none());
        assert!(oidc::authenticate(db, config, "billing", rotated.expose()).await.unwrap().is_none());
        let again = oidc::add(db, config, new_client("billing", ClientKind::Confidential)).await.unwrap().unwrap();
        assert!(oidc::authenticate(db, config, "billing", rotated.expose()).await.unwrap().is_none());
        assert!(oidc::authenticate(db, config, "billing", again.expose()).await.unwrap().is_some());
    }
}

per_database! {
    async fn refusals_change_nothing(app) with config { config_with_shop() } {
        let (db, config) = (&app.db, &app.config);
        oidc::add(db, config, new_client("billing", ClientKind::Confidential)).await.unwrap();
        assert!(matches!(
            oidc::add(db, config, new_client("billing", ClientKind::Public)).await,
            Err(ClientError::Exists(_))
        ));
        assert!(matches!(
            oidc::add(db, config, new_client("shop", ClientKind::Public)).await,
            Err(ClientError::Exists(_))
        ), "[{}] a configured application's id is taken", app.label);
        let mut no_openid = new_client("web", ClientKind::Public);
        no_openid.scopes = vec![Scope::Email];
        assert!(matches!(oidc::add(db, config, no_openid).await, Err(ClientError::Invalid(_))));
        let mut no_redirect = new_client("web", ClientKind::Public);
        no_redirect.redirect_uris.clear();
        assert!(matches!(oidc::add(db, config, no_redirect).await, Err(ClientError::Invalid(_))));
        assert!(matches!(oidc::remove(db, config, "shop").await, Err(ClientError::Configured(_))));

        let billing = oidc::find(db, config, "billing").await.unwrap().unwrap();
        assert_eq!(billing.kind, ClientKind::Confidential, "[{}] unchanged", app.label);
        assert!(oidc::find(db, config, "web").await.unwrap().is_none());
        assert!(oidc::find(db, config, "shop").await.unwrap().is_some());
    }
}

mod grants {
    use super::*;
    use server::oidc::grants::{self, Authorization, GrantError};
    use server::oidc::pkce::CodeChallenge;
    use server::oidc::Client;

    // RFC 7636 appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const REDIRECT: &str = "https://shop.example/callback";

    /// alice signed in (over HTTP), her session's id and cookie, and the
    /// configured client "shop".
    async fn signed_in(app: &TestApp) -> (i64, String, String, Client) {
        let user_id = app.add_user("alice", PASSWORD).await;
        let cookie = app.sign_in("alice", PASSWORD).await;
        let session_id: String = sqlx::query_scalar("SELECT id FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        let shop = oidc::find(&app.db, &app.config, "shop")
            .await
            .unwrap()
            .unwrap();
        (user_id, session_id, cookie, shop)
    }

    async fn code(app: &TestApp, user_id: i64, session_id: &str, pkce: bool) -> String {
        let authorization = Authorization {
            user_id,
            client_id: ClientId::parse("shop").unwrap(),
            session_id: session_id.to_string(),
            scopes: vec![Scope::OpenId, Scope::Email],
            nonce: Some("n-0S6_WzA2Mj".into()),
            auth_time: 1,
            redirect_uri: RedirectUri::parse(REDIRECT).unwrap(),
            code_challenge: pkce.then(|| CodeChallenge::parse(CHALLENGE, Some("S256")).unwrap()),
        };
        grants::issue_code(&app.db, authorization)
            .await
            .unwrap()
            .expose()
            .to_string()
    }

    fn refused(result: Result<grants::Issued, GrantError>) -> &'static str {
        match result {
            Err(GrantError::Invalid(reason)) => reason,
            Err(other) => panic!("not a refusal: {other}"),
            Ok(_) => panic!("accepted"),
        }
    }

    per_database! {
        async fn a_code_is_exchanged_once_and_a_second_use_revokes_the_grant(app) with config { config_with_shop() } {
            let (user_id, session_id, _, shop) = signed_in(&app).await;
            let db = &app.db;
            let code = code(&app, user_id, &session_id, true).await;

            // Wrong redirect URI, missing or wrong verifier, another client: refused,
            // and the code stays usable for the right request.
            assert_eq!(refused(grants::exchange_code(db, &shop, &code, "https://shop.example/other", Some(VERIFIER)).await),
                "redirect_uri differs from the authorization request's");
            assert_eq!(refused(grants::exchange_code(db, &shop, &code, REDIRECT, None).await),
                "code_verifier missing or wrong");
            assert_eq!(refused(grants::exchange_code(db, &shop, &code, REDIRECT, Some(&VERIFIER.replace('d', "e"))).await),
                "code_verifier missing or wrong");
            oidc::add(db, &app.config, new_client("other", ClientKind::Confidential)).await.unwrap();
            let other = oidc::find(db, &app.config, "other").await.unwrap().unwrap();
            assert_eq!(refused(grants::exchange_code(db, &other, &code, REDIRECT, Some(VERIFIER)).await),
                "code issued to another client");

            let issued = grants::exchange_code(db, &shop, &code, REDIRECT, Some(VERIFIER)).await.unwrap();
            assert_eq!(issued.grant.user_id, user_id, "[{}]", app.label);
            assert_eq!(issued.grant.scopes, vec![Scope::OpenId, Scope::Email]);
            assert_eq!(issued.grant.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
            let access = issued.access_token.expose().to_string();
            assert!(grants::access(db, &access).await.unwrap().is_some());

            // The second use fails and ends what the first issued.
            assert_eq!(refused(grants::exchange_code(db, &shop, &code, REDIRECT, Some(VERIFIER)).await), "code already used");
            assert!(grants::access(db, &access).await.unwrap().is_none(), "[{}]", app.label);
            assert_eq!(refused(grants::refresh(db, &shop, issued.refresh_token.expose()).await), "unknown refresh token");
        }
    }

    per_database! {
        async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_grant(app) with config { config_with_shop() } {
            let (user_id, session_id, _, shop) = signed_in(&app).await;
            let db = &app.db;
            // A confidential client may leave PKCE out; then no verifier is accepted.
            let code = code(&app, user_id, &session_id, false).await;
            assert_eq!(refused(grants::exchange_code(db, &shop, &code, REDIRECT, Some(VERIFIER)).await),
                "code_verifier without a code_challenge");
            let first = grants::exchange_code(db, &shop, &code, REDIRECT, None).await.unwrap();

            let second = grants::refresh(db, &shop, first.refresh_token.expose()).await.unwrap();
            assert_ne!(second.refresh_token.expose(), first.refresh_token.expose());
            assert!(grants::access(db, second.access_token.expose()).await.unwrap().is_some());
            // The first access token lives out its lifetime; the refresh token is spent.
            assert!(grants::access(db, first.access_token.expose()).await.unwrap().is_some());

            assert_eq!(refused(grants::refresh(db, &shop, first.refresh_token.expose()).await),
                "refresh token already used");
            for token in [&second.access_token, &first.access_token] {
                assert!(grants::access(db, token.expose()).await.unwrap().is_none(), "[{}]", app.label);
            }
            assert!(grants::refresh(db, &shop, second.refresh_token.expose()).await.is_err(),
                "[{}] the whole grant ended", app.label);
        }
    }

    per_database! {
        async fn signing_out_revoking_and_removing_end_tokens_at_once(app) with config { config_with_shop() } {
            let (user_id, session_id, cookie, shop) = signed_in(&app).await;
            let db = &app.db;
            let issue = || async {
                let code = code(&app, user_id, &session_id, true).await;
                grants::exchange_code(db, &shop, &code, REDIRECT, Some(VERIFIER)).await.unwrap()
            };

            // Revoking an access token ends it alone; a refresh token, the grant.
            let one = issue().await;
            grants::revoke(db, &shop, one.access_token.expose()).await.unwrap();
            assert!(grants::access(db, one.access_token.expose()).await.unwrap().is_none());
            let two = grants::refresh(db, &shop, one.refresh_token.expose()).await.unwrap();
            grants::revoke(db, &shop, two.refresh_token.expose()).await.unwrap();
            assert!(grants::access(db, two.access_token.expose()).await.unwrap().is_none(), "[{}]", app.label);
            // Another client cannot revoke shop's tokens.
            let three = issue().await;
            oidc::add(db, &app.config, new_client("other", ClientKind::Confidential)).await.unwrap();
            let other = oidc::find(db, &app.config, "other").await.unwrap().unwrap();
            grants::revoke(db, &other, three.refresh_token.expose()).await.unwrap();
            assert!(grants::access(db, three.access_token.expose()).await.unwrap().is_some());

            // Removing the application (Authorized Apps) ends its grants.
            let mut conn = db.pool.acquire().await.unwrap();
            assert_eq!(grants::end_grants(&mut conn, user_id, "shop").await.unwrap(), 1);
            drop(conn);
            assert!(grants::access(db, three.access_token.expose()).await.unwrap().is_none());

            // A password change ends every grant of the user, although the
            // other login sessions stay (the box "sign out other devices" is off).
            let changed = issue().await;
            let other_cookie = app.sign_in("alice", PASSWORD).await;
            let new = "a brand new passphrase for alice";
            let reply = app
                .post("/api/change_password", &[("current", PASSWORD), ("new_password", new), ("confirm", new)], Some(&other_cookie))
                .await;
            assert_eq!(reply.status, http::StatusCode::OK, "{}", reply.body);
            assert!(grants::access(db, changed.access_token.expose()).await.unwrap().is_none(), "[{}]", app.label);
            assert!(grants::refresh(db, &shop, changed.refresh_token.expose()).await.is_err());

            // Signing out of Selfserve ends the grants issued under that session.
            let four = issue().await;
            app.post("/api/sign_out", &[], Some(&cookie)).await;
            assert!(grants::access(db, four.access_token.expose()).await.unwrap().is_none(), "[{}]", app.label);
            assert!(grants::refresh(db, &shop, four.refresh_token.expose()).await.is_err());
        }
    }

    per_database! {
        async fn expired_codes_are_refused_and_cleaned_up(app) with config { config_with_shop() } {
            let (user_id, session_id, _, shop) = signed_in(&app).await;
            let db = &app.db;
            let code = code(&app, user_id, &session_id, true).await;
            sqlx::query("UPDATE oidc_tokens SET expires_at = 0 WHERE kind = 'code'")
                .execute(&db.pool)
                .await
                .unwrap();
            assert_eq!(refused(grants::exchange_code(db, &shop, &code, REDIRECT, Some(VERIFIER)).await), "code expired");
            assert_eq!(grants::delete_expired(db).await.unwrap(), 1, "[{}]", app.label);
            assert_eq!(refused(grants::exchange_code(db, &shop, &code, REDIRECT, Some(VERIFIER)).await), "unknown code");
        }
    }

    /// The claims of an ID token, verified against the published ID-token keys.
    async fn verified(app: &TestApp, token: &str) -> serde_json::Value {
        let set: jsonwebtoken::jwk::JwkSet =
            serde_json::from_value(oidc::id_token::jwks(&app.db, &app.config).await.unwrap())
                .unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
        let jwk = set
            .find(header.kid.as_deref().unwrap())
            .expect("the key is published");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&["shop"]);
        validation.set_issuer(&[ORIGIN]);
        jsonwebtoken::decode::<serde_json::Value>(
            token,
            &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
            &validation,
        )
        .unwrap()
        .claims
    }

    per_database! {
        async fn id_tokens_carry_the_grant_and_verify_against_their_own_keys(app) with config { config_with_shop() } {
            let (user_id, session_id, _, shop) = signed_in(&app).await;
            let db = &app.db;
            let code = code(&app, user_id, &session_id, true).await;
            let issued = grants::exchange_code(db, &shop, &code, REDIRECT, Some(VERIFIER)).await.unwrap();
            let token = oidc::id_token::mint(db, &app.config, &issued.grant).await.unwrap();
            let claims = verified(&app, &token).await;
            assert_eq!(claims["nonce"], "n-0S6_WzA2Mj", "[{}]", app.label);
            assert_eq!(claims["sid"], session_id.as_str());
            assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
            let sub = claims["sub"].as_str().unwrap().to_string();
            assert!(sub.len() >= 32 && !sub.contains("alice") && sub != user_id.to_string());

            // Stable for the user; another user gets another.
            let again = verified(&app, &oidc::id_token::mint(db, &app.config, &issued.grant).await.unwrap()).await;
            assert_eq!(again["sub"], sub.as_str());
            let bob = app.add_user("bob", PASSWORD).await;
            assert_ne!(oidc::id_token::subject(db, bob).await.unwrap(), sub);

            // A key set of its own: the receipt keys do not verify ID tokens.
            let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
            let receipts = server::consent::jwks(db, &app.config).await.unwrap().to_string();
            assert!(!receipts.contains(&kid), "[{}]", app.label);

            // After a rotation new tokens use the new key, and the earlier one still verifies.
            let new_kid = server::consent::rotate_signing_key(db, &app.config, server::consent::KeySet::IdTokens).await.unwrap();
            let rotated = oidc::id_token::mint(db, &app.config, &issued.grant).await.unwrap();
            assert_eq!(jsonwebtoken::decode_header(&rotated).unwrap().kid.as_deref(), Some(new_kid.as_str()));
            verified(&app, &rotated).await;
            verified(&app, &token).await;
        }
    }
}

/// The protocol endpoints through the real router, as a client calls them.
mod endpoints {
    use super::*;
    use axum::body::Body;
    use base64::Engine;
    use http::{header, Request, StatusCode};
    use oidc::grants::Authorization;
    use oidc::pkce::CodeChallenge;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const REDIRECT: &str = "https://shop.example/callback";

    /// The consent tests' shop (purposes with email), as a client too.
    fn config() -> Config {
        let mut config = crate::consent::config();
        let shop = config
            .consent
            .applications
            .iter_mut()
            .find(|a| a.id == "shop")
            .unwrap();
        shop.redirect_uris = vec![RedirectUri::parse(REDIRECT).unwrap()];
        shop.scopes = vec![Scope::OpenId, Scope::Email, Scope::Profile];
        config
    }

    /// alice, signed in, with a fresh code for shop; shop's secret.
    async fn setup(app: &TestApp) -> (String, String, String) {
        let user_id = app.add_user("alice", PASSWORD).await;
        let cookie = app.sign_in("alice", PASSWORD).await;
        sqlx::query(
            "UPDATE users SET email = 'alice@example.com', first_name = 'Alice' WHERE id = $1",
        )
        .bind(user_id)
        .execute(&app.db.pool)
        .await
        .unwrap();
        let secret = oidc::rotate_secret(&app.db, &app.config, "shop")
            .await
            .unwrap();
        let code = new_code(app, user_id).await;
        (cookie, secret.expose().to_string(), code)
    }

    async fn new_code(app: &TestApp, user_id: i64) -> String {
        let session_id: String =
            sqlx::query_scalar("SELECT id FROM sessions WHERE user_id = $1 LIMIT 1")
                .bind(user_id)
                .fetch_one(&app.db.pool)
                .await
                .unwrap();
        let authorization = Authorization {
            user_id,
            client_id: ClientId::parse("shop").unwrap(),
            session_id,
            scopes: vec![Scope::OpenId, Scope::Email, Scope::Profile],
            nonce: Some("nonce-1".into()),
            auth_time: 1_700_000_000_000,
            redirect_uri: RedirectUri::parse(REDIRECT).unwrap(),
            code_challenge: Some(CodeChallenge::parse(CHALLENGE, Some("S256")).unwrap()),
        };
        oidc::grants::issue_code(&app.db, authorization)
            .await
            .unwrap()
            .expose()
            .to_string()
    }

    fn basic(id: &str, secret: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        )
    }

    /// A form POST as a client's HTTP library sends it: no Origin, no cookie.
    async fn post(
        app: &TestApp,
        path: &str,
        form: &[(&str, &str)],
        authorization: Option<&str>,
    ) -> Reply {
        let mut request =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        app.send(request.body(Body::from(encode(form))).unwrap())
            .await
    }

    async fn userinfo(app: &TestApp, access_token: &str) -> Reply {
        let request = Request::get("/oauth2/userinfo")
            .header(header::AUTHORIZATION, format!("Bearer {access_token}"))
            .body(Body::empty())
            .unwrap();
        app.send(request).await
    }

    fn exchange(code: &str) -> Vec<(&str, &str)> {
        vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ]
    }

    per_database! {
        async fn a_client_exchanges_its_code_and_reads_only_consented_claims(app) with config { config() } {
            let (cookie, secret, code) = setup(&app).await;
            let reply = post(&app, "/oauth2/token", &exchange(&code), Some(&basic("shop", &secret))).await;
            reply.assert_status(StatusCode::OK, app.label);
            assert_eq!(reply.header("cache-control"), Some("no-store"));
            let tokens = reply.json();
            assert_eq!(tokens["token_type"], "Bearer");
            assert_eq!(tokens["scope"], "openid email profile");
            let id_token = tokens["id_token"].as_str().unwrap();
            let claims: serde_json::Value = serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(id_token.split('.').nth(1).unwrap()).unwrap(),
            ).unwrap();
            assert_eq!((claims["aud"].as_str(), claims["nonce"].as_str()), (Some("shop"), Some("nonce-1")));
            assert_eq!(claims["iss"], ORIGIN);

            // No consent for shop yet: userinfo tells the subject only.
            let access = tokens["access_token"].as_str().unwrap();
            let info = userinfo(&app, access).await;
            info.assert_status(StatusCode::OK, app.label);
            assert_eq!(info.json()["sub"], claims["sub"]);
            assert!(info.json().get("email").is_none(), "[{}] {}", app.label, info.body);

            // Consent to the shop's purpose with email: email flows; the first
            // name (profile scope, but not in the receipt) does not.
            crate::consent::shop_consent(&app, &cookie, &[crate::consent::EMAIL]).await;
            let info = userinfo(&app, access).await.json();
            assert_eq!(info["email"], "alice@example.com", "[{}]", app.label);
            assert!(info.get("given_name").is_none(), "{info}");

            // The same code again: refused, and the tokens it gave die.
            let again = post(&app, "/oauth2/token", &exchange(&code), Some(&basic("shop", &secret))).await;
            again.assert_status(StatusCode::BAD_REQUEST, app.label);
            assert_eq!(again.json()["error"], "invalid_grant");
            let dead = userinfo(&app, access).await;
            dead.assert_status(StatusCode::UNAUTHORIZED, app.label);
            assert!(dead.header("www-authenticate").unwrap().contains("invalid_token"));
        }
    }

    per_database! {
        async fn clients_authenticate_and_errors_follow_rfc_6749(app) with config { config() } {
            let (_, secret, code) = setup(&app).await;
            // A wrong secret, by Basic and by post: 401 invalid_client; Basic names its scheme.
            let wrong = post(&app, "/oauth2/token", &exchange(&code), Some(&basic("shop", "wrong"))).await;
            wrong.assert_status(StatusCode::UNAUTHORIZED, app.label);
            assert_eq!(wrong.json()["error"], "invalid_client");
            assert!(wrong.header("www-authenticate").unwrap().starts_with("Basic"));
            let mut posted = exchange(&code);
            posted.extend([("client_id", "shop"), ("client_secret", "wrong")]);
            let wrong = post(&app, "/oauth2/token", &posted, None).await;
            wrong.assert_status(StatusCode::UNAUTHORIZED, app.label);
            // Both methods at once, a repeated parameter, a missing one, an unknown grant type.
            let mut both = exchange(&code);
            both.push(("client_secret", secret.as_str()));
            assert_eq!(post(&app, "/oauth2/token", &both, Some(&basic("shop", &secret))).await.json()["error"], "invalid_request");
            let mut twice = exchange(&code);
            twice.push(("code", "again"));
            let reply = post(&app, "/oauth2/token", &twice, Some(&basic("shop", &secret))).await;
            assert_eq!(reply.json()["error"], "invalid_request");
            assert!(reply.json()["error_description"].as_str().unwrap().contains("code"));
            let reply = post(&app, "/oauth2/token", &[("grant_type", "authorization_code"), ("code", &code)], Some(&basic("shop", &secret))).await;
            assert!(reply.json()["error_description"].as_str().unwrap().contains("redirect_uri"));
            let reply = post(&app, "/oauth2/token", &[("grant_type", "password"), ("username", "alice")], Some(&basic("shop", &secret))).await;
            assert_eq!(reply.json()["error"], "unsupported_grant_type");
            // Wrong verifier: invalid_grant. None of these spent the code:
            // the right request, by client_secret_post, still works.
            let mut bad_pkce = exchange(&code);
            bad_pkce[3] = ("code_verifier", "x".repeat(43).leak());
            assert_eq!(post(&app, "/oauth2/token", &bad_pkce, Some(&basic("shop", &secret))).await.json()["error"], "invalid_grant");
            let mut good = exchange(&code);
            good.extend([("client_id", "shop"), ("client_secret", secret.as_str())]);
            post(&app, "/oauth2/token", &good, None).await.assert_status(StatusCode::OK, app.label);
            // A JSON body is not a token request.
            let json = app.send(Request::post("/oauth2/token").header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}")).unwrap()).await;
            assert_eq!(json.json()["error"], "invalid_request", "[{}]", app.label);
        }
    }

    per_database! {
        async fn refresh_revoke_and_introspect(app) with config { config() } {
            let (_, secret, code) = setup(&app).await;
            let auth = basic("shop", &secret);
            let tokens = post(&app, "/oauth2/token", &exchange(&code), Some(&auth)).await.json();
            let (access, refresh) = (tokens["access_token"].as_str().unwrap(), tokens["refresh_token"].as_str().unwrap());

            let active = post(&app, "/oauth2/introspect", &[("token", access)], Some(&auth)).await.json();
            assert_eq!(active["active"], true, "[{}]", app.label);
            assert_eq!((active["client_id"].as_str(), active["scope"].as_str()), (Some("shop"), Some("openid email profile")));
            // Another client learns nothing about shop's token.
            let other = oidc::add(&app.db, &app.config, new_client("other", ClientKind::Confidential)).await.unwrap().unwrap();
            let theirs = post(&app, "/oauth2/introspect", &[("token", access)], Some(&basic("other", other.expose()))).await.json();
            assert_eq!(theirs, serde_json::json!({"active": false}));

            let renewed = post(&app, "/oauth2/token", &[("grant_type", "refresh_token"), ("refresh_token", refresh)], Some(&auth)).await;
            renewed.assert_status(StatusCode::OK, app.label);
            let renewed = renewed.json();
            assert_ne!(renewed["refresh_token"], tokens["refresh_token"]);

            // Revoking the new refresh token ends the grant: both access tokens die.
            let revoked = post(&app, "/oauth2/revoke", &[("token", renewed["refresh_token"].as_str().unwrap())], Some(&auth)).await;
            revoked.assert_status(StatusCode::OK, app.label);
            for token in [access, renewed["access_token"].as_str().unwrap()] {
                assert_eq!(post(&app, "/oauth2/introspect", &[("token", token)], Some(&auth)).await.json()["active"], false);
                userinfo(&app, token).await.assert_status(StatusCode::UNAUTHORIZED, app.label);
            }
            // Revoking an unknown token answers the same.
            post(&app, "/oauth2/revoke", &[("token", "unknown")], Some(&auth)).await.assert_status(StatusCode::OK, app.label);
            // Revocation needs the client's credentials.
            post(&app, "/oauth2/revoke", &[("token", "unknown")], Some(&basic("shop", "wrong"))).await
                .assert_status(StatusCode::UNAUTHORIZED, app.label);
        }
    }

    per_database! {
        async fn the_session_cookie_never_stands_for_a_token(app) with config { config() } {
            let (cookie, _, _) = setup(&app).await;
            let request = Request::get("/oauth2/userinfo").header(header::COOKIE, &cookie).body(Body::empty()).unwrap();
            app.send(request).await.assert_status(StatusCode::UNAUTHORIZED, app.label);
            // The keys verify ID tokens and are public.
            let keys = app.get("/oauth2/jwks", None).await;
            keys.assert_status(StatusCode::OK, app.label);
            assert_eq!(keys.json()["keys"][0]["alg"], "ES256");
        }
    }

    per_database! {
        async fn browsers_may_call_from_registered_origins_only(app) with config { config() } {
            let request = |method: &str, path: &str, origin: &str| {
                Request::builder().method(method).uri(path).header(header::ORIGIN, origin).body(Body::empty()).unwrap()
            };
            let preflight = app.send(request("OPTIONS", "/oauth2/token", "https://shop.example")).await;
            preflight.assert_status(StatusCode::NO_CONTENT, app.label);
            assert_eq!(preflight.header("access-control-allow-origin"), Some("https://shop.example"));
            assert_eq!(preflight.header("access-control-allow-methods"), Some("GET, POST"));
            assert!(preflight.header("access-control-allow-credentials").is_none());

            let keys = app.send(request("GET", "/oauth2/jwks", "https://shop.example")).await;
            assert_eq!(keys.header("access-control-allow-origin"), Some("https://shop.example"), "[{}]", app.label);
            // A client added through the CLI counts the same.
            oidc::add(&app.db, &app.config, new_client("billing", ClientKind::Public)).await.unwrap();
            let keys = app.send(request("GET", "/oauth2/jwks", "https://billing.example")).await;
            assert_eq!(keys.header("access-control-allow-origin"), Some("https://billing.example"));

            for (method, path, origin) in [
                ("GET", "/oauth2/jwks", "https://evil.example"),
                ("OPTIONS", "/oauth2/userinfo", "https://shop.example.evil.example"),
                ("OPTIONS", "/oauth2/introspect", "https://shop.example"),
            ] {
                let reply = app.send(request(method, path, origin)).await;
                assert!(reply.header("access-control-allow-origin").is_none(), "[{}] {method} {path} from {origin}", app.label);
            }
        }
    }
}
