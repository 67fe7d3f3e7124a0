//! The authorization endpoint, the consent prompt's answers and discovery,
//! through the real router as a browser meets them.

use crate::common::*;
use base64::Engine;
use http::StatusCode;
use server::config::clients::{RedirectUri, Scope};
use server::config::Config;

const REDIRECT: &str = "https://shop.example/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The consent tests' shop (purpose 10: email required, mobile optional;
/// purpose 11: country optional), as a confidential client.
fn config() -> Config {
    let mut config = crate::consent::config();
    let shop = config
        .consent
        .applications
        .iter_mut()
        .find(|a| a.id == "shop")
        .unwrap();
    shop.redirect_uris = vec![RedirectUri::parse(REDIRECT).unwrap()];
    shop.scopes = vec![Scope::OpenId, Scope::Email, Scope::Phone];
    config
}

/// An authorization request's query, with these parameters changed or added.
fn request(changes: &[(&str, &str)]) -> String {
    let mut parameters = vec![
        ("client_id", "shop"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid email"),
        ("state", "st4te"),
        ("nonce", "n0nce"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    for (name, value) in changes {
        parameters.retain(|(n, _)| n != name);
        if !value.is_empty() {
            parameters.push((name, value));
        }
    }
    encode(&parameters)
}

/// The query parameters of an address.
fn parameters_of(location: &str) -> Vec<(String, String)> {
    url::Url::parse(&format!(
        "http://x{}",
        location.trim_start_matches("https://shop.example")
    ))
    .unwrap()
    .query_pairs()
    .into_owned()
    .collect()
}

fn parameter(location: &str, name: &str) -> Option<String> {
    parameters_of(location)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

async fn authorize(app: &TestApp, query: &str, cookie: Option<&str>) -> Reply {
    app.get(&format!("/oauth2/authorize?{query}"), cookie).await
}

per_database! {
    async fn requests_that_cannot_be_answered_to_the_client_stop_on_a_page(app) with config { config() } {
        for (query, says) in [
            (request(&[("client_id", "nobody")]), "not registered"),
            (request(&[("client_id", "")]), "which application"),
            (request(&[("redirect_uri", "https://evil.example/cb")]), "Pet Shop asked to send you back to an address it has not registered"),
            (request(&[("redirect_uri", "")]), "not registered"),
            (format!("{}&client_id=shop", request(&[])), "twice"),
        ] {
            let reply = authorize(&app, &query, None).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "[{}] {query}", app.label);
            assert!(reply.header("location").is_none(), "never redirected: {query}");
            assert!(reply.body.contains(says), "{query}: {}", reply.body);
        }
    }
}

per_database! {
    async fn other_errors_go_back_with_state_and_issuer(app) with config { config() } {
        for (changes, error) in [
            (vec![("response_type", "token")], "unsupported_response_type"),
            (vec![("scope", "email")], "invalid_scope"),
            (vec![("scope", "openid profile")], "invalid_scope"),
            (vec![("code_challenge_method", "plain")], "invalid_request"),
            (vec![("prompt", "none login")], "invalid_request"),
            (vec![("max_age", "soon")], "invalid_request"),
            (vec![("prompt", "none")], "login_required"),
        ] {
            let reply = authorize(&app, &request(&changes), None).await;
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {changes:?}", app.label);
            let location = reply.header("location").unwrap();
            assert!(location.starts_with(REDIRECT), "{location}");
            assert_eq!(parameter(location, "error").as_deref(), Some(error), "{changes:?}: {location}");
            assert_eq!(parameter(location, "state").as_deref(), Some("st4te"));
            assert_eq!(parameter(location, "iss").as_deref(), Some(ORIGIN));
        }
        // A public client must use PKCE.
        let mut config = config();
        config.consent.applications[0].public = true;
        let public = app.with_config(config);
        let reply = authorize(&public, &request(&[("code_challenge", ""), ("code_challenge_method", "")]), None).await;
        assert_eq!(parameter(reply.header("location").unwrap(), "error").as_deref(), Some("invalid_request"));
    }
}

per_database! {
    async fn sign_in_then_consent_then_a_code_that_the_client_exchanges(app) with config { config() } {
        let user_id = app.add_user("alice", PASSWORD).await;
        sqlx::query("UPDATE users SET email = 'alice@example.com', mobile = '+15551234567' WHERE id = $1")
            .bind(user_id).execute(&app.db.pool).await.unwrap();

        // Signed out: to sign-in, with the way back.
        let reply = authorize(&app, &request(&[]), None).await;
        let location = reply.header("location").unwrap().to_string();
        assert!(location.starts_with("/signin?return_to=%2Foauth2%2Fauthorize%3F"), "[{}] {location}", app.label);
        let return_to = parameter(&location, "return_to").unwrap();

        // The sign-in page names the application; signing in returns the way back.
        let named = app.post("/api/signing_in_to", &[("return_to", &return_to)], None).await;
        assert!(named.body.contains("Pet Shop"), "{}", named.body);
        let signed_in = app.post("/api/sign_in", &[("username", "alice"), ("password", PASSWORD), ("return_to", &return_to)], None).await;
        assert!(signed_in.body.contains("/oauth2/authorize?"), "[{}] {}", app.label, signed_in.body);
        let cookie = signed_in.session_cookie().unwrap();
        // An address elsewhere is never returned to.
        let elsewhere = app.post("/api/sign_in", &[("username", "alice"), ("password", PASSWORD), ("return_to", "https://evil.example/")], None).await;
        assert!(!elsewhere.body.contains("evil"), "{}", elsewhere.body);
        // A signed-in browser sent to sign-in again goes straight back.
        let bounce = app.get(&format!("/signin?return_to={}", url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()), Some(&cookie)).await;
        assert_eq!(bounce.header("location"), Some(return_to.as_str()));

        // No consent yet: the prompt (prompt=none would be refused).
        let reply = authorize(&app, &request(&[]), Some(&cookie)).await;
        let prompt = reply.header("location").unwrap().to_string();
        assert!(prompt.starts_with("/authorize/consent?"), "[{}] {prompt}", app.label);
        let none = authorize(&app, &request(&[("prompt", "none")]), Some(&cookie)).await;
        assert_eq!(parameter(none.header("location").unwrap(), "error").as_deref(), Some("consent_required"));

        // The prompt's content, then Allow with the optional mobile ticked.
        let query = prompt.trim_start_matches("/authorize/consent?");
        let shown = app.post("/api/consent_prompt", &[("query", query)], Some(&cookie)).await;
        assert!(shown.body.contains("Pet Shop") && shown.body.contains("Orders"), "{}", shown.body);
        let allowed = app.post("/api/answer_consent", &[("query", query), ("decision", "allow"), ("selected[p10-mobile]", "on")], Some(&cookie)).await;
        let back = allowed.header("location").unwrap_or_else(|| panic!("[{}] {} {}", app.label, allowed.status, allowed.body)).to_string();
        assert!(back.starts_with(REDIRECT), "{back}");
        assert_eq!(parameter(&back, "state").as_deref(), Some("st4te"));
        assert_eq!(parameter(&back, "iss").as_deref(), Some(ORIGIN));
        let code = parameter(&back, "code").unwrap();

        // The receipt is on Consent Management, with email and mobile, not country.
        let consents = app.rest("GET", "/api/identity/consent-mgt/v1.0/consents?piiPrincipalId=alice", &cookie, None).await;
        assert!(consents.body.contains("\"spDisplayName\":\"Pet Shop\""), "{}", consents.body);
        let claims = server::consent::active_claims(&app.db, user_id, "shop").await.unwrap().unwrap();
        assert_eq!(claims.into_iter().collect::<Vec<_>>(), ["email", "mobile"], "[{}]", app.label);

        // The client exchanges the code; the ID token carries the nonce.
        let secret = server::oidc::rotate_secret(&app.db, &app.config, "shop").await.unwrap();
        let tokens = app.send(http::Request::post("/oauth2/token")
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(encode(&[
                ("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER), ("client_id", "shop"), ("client_secret", secret.expose()),
            ]))).unwrap()).await;
        tokens.assert_status(StatusCode::OK, app.label);
        let id_token = tokens.json()["id_token"].as_str().unwrap().to_string();
        let claims: serde_json::Value = serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(id_token.split('.').nth(1).unwrap()).unwrap()).unwrap();
        assert_eq!(claims["nonce"], "n0nce");

        // Consent covers the request now: straight back with a code, unless
        // the client asks for the prompt again.
        let again = authorize(&app, &request(&[]), Some(&cookie)).await;
        assert!(parameter(again.header("location").unwrap(), "code").is_some(), "[{}]", app.label);
        let asked = authorize(&app, &request(&[("prompt", "consent")]), Some(&cookie)).await;
        assert!(asked.header("location").unwrap().starts_with("/authorize/consent?"));

        // Deny sends access_denied and records nothing new.
        let denied = app.post("/api/answer_consent", &[("query", query), ("decision", "deny")], Some(&cookie)).await;
        assert_eq!(parameter(denied.header("location").unwrap(), "error").as_deref(), Some("access_denied"));
        // After revoking the consent, the next sign-in asks again.
        let receipt = server::consent::list(&app.db, user_id).await.unwrap().into_iter().find(|r| r.is_active() && r.service == "shop").unwrap();
        server::consent::revoke(&app.db, user_id, &receipt.id).await.unwrap();
        let reply = authorize(&app, &request(&[]), Some(&cookie)).await;
        assert!(reply.header("location").unwrap().starts_with("/authorize/consent?"), "[{}]", app.label);
        // A tampered answer naming a claim the shop does not ask for changes nothing.
        let tampered = app.post("/api/answer_consent", &[("query", query), ("decision", "allow"), ("selected[p10-department]", "on")], Some(&cookie)).await;
        assert!(tampered.header("location").is_none_or(|l| !l.contains("code=")), "{}", tampered.body);
        assert!(server::consent::active_claims(&app.db, user_id, "shop").await.unwrap().is_none());
    }
}

per_database! {
    async fn prompt_login_and_max_age_start_a_new_sign_in(app) with config { config() } {
        app.add_user("alice", PASSWORD).await;
        let cookie = app.sign_in("alice", PASSWORD).await;
        let reply = authorize(&app, &request(&[("prompt", "login")]), Some(&cookie)).await;
        let location = reply.header("location").unwrap().to_string();
        let return_to = parameter(&location, "return_to").unwrap();
        assert!(!return_to.contains("prompt"), "[{}] {return_to}", app.label);
        assert_eq!(app.session_count().await, 0, "the old login session ended");
        let cookie = app.sign_in("alice", PASSWORD).await;
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let reply = authorize(&app, &request(&[("max_age", "1")]), Some(&cookie)).await;
        assert!(reply.header("location").unwrap().starts_with("/signin?return_to="), "[{}]", app.label);
    }
}

per_database! {
    async fn discovery_names_what_is_built(app) with config { config() } {
        let reply = app.get("/.well-known/openid-configuration", None).await;
        reply.assert_status(StatusCode::OK, app.label);
        let document = reply.json();
        assert_eq!(document["issuer"], ORIGIN);
        assert_eq!(document["authorization_endpoint"], format!("{ORIGIN}/oauth2/authorize"));
        assert_eq!(document["code_challenge_methods_supported"], serde_json::json!(["S256"]));
        assert_eq!(document["authorization_response_iss_parameter_supported"], true);
        for endpoint in ["token_endpoint", "userinfo_endpoint", "jwks_uri", "revocation_endpoint", "introspection_endpoint"] {
            let path = document[endpoint].as_str().unwrap().trim_start_matches(ORIGIN).to_string();
            let answered = app.get(&path, None).await;
            assert_ne!(answered.status, StatusCode::NOT_FOUND, "[{}] {endpoint} {path}", app.label);
        }
    }
}

per_database! {
    async fn an_application_signs_the_user_out_after_they_confirm(app) with config {
        let mut config = config();
        config.consent.applications[0].post_logout_redirect_uris =
            vec![RedirectUri::parse("https://shop.example/bye").unwrap()];
        config
    } {
        let user_id = app.add_user("alice", PASSWORD).await;
        let cookie = app.sign_in("alice", PASSWORD).await;
        let session_id: String = sqlx::query_scalar("SELECT id FROM sessions WHERE user_id = $1")
            .bind(user_id).fetch_one(&app.db.pool).await.unwrap();
        let code = server::oidc::grants::issue_code(&app.db, server::oidc::grants::Authorization {
            user_id,
            client_id: server::config::clients::ClientId::parse("shop").unwrap(),
            session_id,
            scopes: vec![Scope::OpenId],
            nonce: None,
            auth_time: 0,
            redirect_uri: RedirectUri::parse(REDIRECT).unwrap(),
            code_challenge: None,
        }).await.unwrap();
        let shop = server::oidc::find(&app.db, &app.config, "shop").await.unwrap().unwrap();
        let issued = server::oidc::grants::exchange_code(&app.db, &shop, code.expose(), REDIRECT, None).await.unwrap();
        let id_token = server::oidc::id_token::mint(&app.db, &app.config, &issued.grant).await.unwrap();
        let logout = |extra: &[(&str, &str)]| {
            let mut parameters = vec![("id_token_hint", id_token.as_str()), ("post_logout_redirect_uri", "https://shop.example/bye"), ("state", "s1")];
            for (name, value) in extra {
                parameters.retain(|(n, _)| n != name);
                parameters.push((name, value));
            }
            format!("/oidc/logout?{}", encode(&parameters))
        };

        // Requests that cannot be honoured stop on a page.
        let mut forged = id_token.clone();
        forged.replace_range(forged.len() - 4.., "AAAA");
        for (extra, says) in [
            (vec![("post_logout_redirect_uri", "https://evil.example/")], "not registered"),
            (vec![("id_token_hint", forged.as_str())], "did not issue"),
            (vec![("client_id", "other")], "two different applications"),
        ] {
            let reply = app.get(&logout(&extra), Some(&cookie)).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "[{}] {extra:?}", app.label);
            assert!(reply.header("location").is_none() && reply.body.contains(says), "{}", reply.body);
        }

        // A signed-in user confirms first; the page names the application.
        let reply = app.get(&logout(&[]), Some(&cookie)).await;
        let confirm = reply.header("location").unwrap().to_string();
        assert!(confirm.starts_with("/signout?"), "[{}] {confirm}", app.label);
        let query = confirm.trim_start_matches("/signout?");
        let named = app.post("/api/logout_prompt", &[("query", query)], Some(&cookie)).await;
        assert!(named.body.contains("Pet Shop"), "{}", named.body);
        let stayed = app.post("/api/confirm_logout", &[("query", query), ("decision", "stay")], Some(&cookie)).await;
        assert_eq!(stayed.header("location"), Some("/"));
        assert_eq!(app.session_count().await, 1);

        let out = app.post("/api/confirm_logout", &[("query", query), ("decision", "sign_out")], Some(&cookie)).await;
        assert_eq!(out.header("location"), Some("https://shop.example/bye?state=s1"), "[{}] {}", app.label, out.body);
        assert_eq!(app.session_count().await, 0);
        assert!(server::oidc::grants::access(&app.db, issued.access_token.expose()).await.unwrap().is_none(),
            "the session's grants ended with it");

        // Signed out already: straight back.
        let again = app.get(&logout(&[]), None).await;
        assert_eq!(again.header("location"), Some("https://shop.example/bye?state=s1"), "[{}]", app.label);
    }
}

per_database! {
    async fn the_request_may_come_as_a_form_post_from_the_applications_page(app) with config { config() } {
        app.add_user("alice", PASSWORD).await;
        // Posted from the shop's page: no same-origin marks, no session cookie.
        let post = |cookie: Option<String>| {
            let mut request = http::Request::post("/oauth2/authorize")
                .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header("sec-fetch-site", "cross-site")
                .header(http::header::ORIGIN, "https://shop.example");
            if let Some(cookie) = cookie {
                request = request.header(http::header::COOKIE, cookie);
            }
            request.body(axum::body::Body::from(request_body())).unwrap()
        };
        let reply = app.send(post(None)).await;
        let location = reply.header("location").unwrap_or_else(|| panic!("[{}] {} {}", app.label, reply.status, reply.body)).to_string();
        assert!(location.starts_with("/signin?return_to=%2Foauth2%2Fauthorize%3F"), "[{}] {location}", app.label);
        // Back by GET after sign-in; errors go back to the client as for GET.
        let return_to = parameter(&location, "return_to").unwrap();
        assert!(return_to.contains("client_id=shop") && return_to.contains("code_challenge="));
        let cookie = app.sign_in("alice", PASSWORD).await;
        let reply = app.send(post(Some(cookie))).await;
        assert!(reply.header("location").unwrap().starts_with("/authorize/consent?"), "[{}]", app.label);
        // Only a form is a request.
        let json = app.send(http::Request::post("/oauth2/authorize")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from("{}")).unwrap()).await;
        assert_eq!(json.status, StatusCode::BAD_REQUEST);
    }
}

fn request_body() -> String {
    request(&[])
}

/// The shop's purposes, with the shop itself added through the CLI rather
/// than configured.
fn config_without_the_shop() -> Config {
    let mut config = crate::consent::config();
    config.consent.applications.retain(|a| a.id != "shop");
    config
}

per_database! {
    async fn a_client_added_through_the_cli_asks_for_its_purposes_like_a_configured_one(app) with config { config_without_the_shop() } {
        use server::consent::Services;
        use server::oidc::{ClientKind, NewClient};
        // Purposes of a service that does not exist stop the start.
        let unknown = Services::load(&app.db, &app.config).await.unwrap().check_purposes(&app.config).unwrap_err();
        assert!(unknown.contains("purpose 10") && unknown.contains("\"shop\""), "{unknown}");
        let secret = server::oidc::add(&app.db, &app.config, NewClient {
            id: server::config::clients::ClientId::parse("shop").unwrap(),
            name: "Pet Shop Online".into(),
            description: "Sells pet food, added by the operator.".into(),
            redirect_uris: vec![RedirectUri::parse(REDIRECT).unwrap()],
            post_logout_redirect_uris: Vec::new(),
            kind: ClientKind::Confidential,
            scopes: vec![Scope::OpenId, Scope::Email, Scope::Phone],
            access_url: None,
        }).await.unwrap().unwrap();
        Services::load(&app.db, &app.config).await.unwrap().check_purposes(&app.config).unwrap();

        let user_id = app.add_user("alice", PASSWORD).await;
        sqlx::query("UPDATE users SET email = 'alice@example.com', mobile = '+15551234567' WHERE id = $1")
            .bind(user_id).execute(&app.db.pool).await.unwrap();
        let cookie = app.sign_in("alice", PASSWORD).await;
        let prompt = authorize(&app, &request(&[("scope", "openid email phone")]), Some(&cookie)).await;
        let prompt = prompt.header("location").unwrap().to_string();
        assert!(prompt.starts_with("/authorize/consent?"), "[{}] {prompt}", app.label);
        let query = prompt.trim_start_matches("/authorize/consent?");
        let shown = app.post("/api/consent_prompt", &[("query", query)], Some(&cookie)).await;
        assert!(shown.body.contains("Pet Shop Online") && shown.body.contains("Orders"), "{}", shown.body);
        let allowed = app.post("/api/answer_consent", &[("query", query), ("decision", "allow")], Some(&cookie)).await;
        let code = parameter(allowed.header("location").unwrap(), "code").unwrap();

        // The receipt names the client as the CLI recorded it.
        let consents = app.rest("GET", "/api/identity/consent-mgt/v1.0/consents", &cookie, None).await;
        assert!(consents.body.contains("\"spDisplayName\":\"Pet Shop Online\""), "[{}] {}", app.label, consents.body);
        let receipt = server::consent::list(&app.db, user_id).await.unwrap().remove(0);
        assert_eq!(receipt.receipt["services"][0]["service"], "Pet Shop Online");

        // Userinfo gives what was consented (email, not the optional mobile).
        let tokens = app.send(http::Request::post("/oauth2/token")
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(encode(&[
                ("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER), ("client_id", "shop"), ("client_secret", secret.expose()),
            ]))).unwrap()).await;
        tokens.assert_status(StatusCode::OK, app.label);
        let access = tokens.json()["access_token"].as_str().unwrap().to_string();
        let info = app.send(http::Request::get("/oauth2/userinfo")
            .header(http::header::AUTHORIZATION, format!("Bearer {access}"))
            .body(axum::body::Body::empty()).unwrap()).await;
        let info = info.json();
        assert_eq!(info["email"], "alice@example.com", "[{}] {info}", app.label);
        assert!(info.get("phone_number").is_none(), "{info}");

        // Its purposes hold the client: removing it is refused until they go.
        let refused = server::oidc::remove(&app.db, &app.config, "shop").await.unwrap_err().to_string();
        assert!(refused.contains("purpose 10"), "{refused}");
        assert!(server::oidc::find(&app.db, &app.config, "shop").await.unwrap().is_some());
    }
}
