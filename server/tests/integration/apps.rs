//! Authorized Apps: the applications holding a live grant, and removing
//! one, through the real router as the dashboard and the REST API use it.
//! Grants are obtained the way an application obtains them: the
//! authorization endpoint, the consent prompt, the token endpoint.

use crate::common::*;
use http::{header, Request, StatusCode};
use server::config::clients::{RedirectUri, Scope};
use server::config::{Application, Config};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const APPS: &str = "/api/users/v2/me/authorized-apps";

fn redirect(client: &str) -> String {
    format!("https://{client}.example/callback")
}

/// The consent tests' shop (purposes: email required, mobile optional) and a
/// blog without purposes, both confidential clients.
pub(crate) fn config() -> Config {
    let mut config = crate::consent::config();
    for app in &mut config.consent.applications {
        if app.id == "shop" {
            app.redirect_uris = vec![RedirectUri::parse(&redirect("shop")).unwrap()];
            app.scopes = vec![Scope::OpenId, Scope::Email, Scope::Phone];
        }
    }
    config.consent.applications.push(Application {
        id: "blog".into(),
        name: "Team Blog".into(),
        description: "Posts by the team.".into(),
        redirect_uris: vec![RedirectUri::parse(&redirect("blog")).unwrap()],
        post_logout_redirect_uris: Vec::new(),
        public: false,
        scopes: vec![Scope::OpenId, Scope::Profile],
        access_url: None,
    });
    config
}

/// What an application holds after signing the user in.
pub(crate) struct Tokens {
    access: String,
    refresh: String,
}

/// The authorization request's answer for a signed-in browser: the code,
/// after allowing the consent prompt when one is shown.
async fn code(app: &TestApp, client: &str, scope: &str, cookie: &str) -> String {
    let query = encode(&[
        ("client_id", client),
        ("redirect_uri", &redirect(client)),
        ("response_type", "code"),
        ("scope", scope),
        ("state", "s"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    let reply = app
        .get(&format!("/oauth2/authorize?{query}"), Some(cookie))
        .await;
    let mut location = reply.header("location").unwrap().to_string();
    if let Some(prompt) = location.strip_prefix("/authorize/consent?") {
        let allowed = app
            .post(
                "/api/answer_consent",
                &[("query", prompt), ("decision", "allow")],
                Some(cookie),
            )
            .await;
        location = allowed.header("location").unwrap().to_string();
    }
    url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "code")
        .unwrap_or_else(|| panic!("[{}] no code in {location}", app.label))
        .1
        .into_owned()
}

async fn token_request(app: &TestApp, client: &str, secret: &str, form: &[(&str, &str)]) -> Reply {
    let mut form = form.to_vec();
    form.extend([("client_id", client), ("client_secret", secret)]);
    app.send(
        Request::post("/oauth2/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(encode(&form)))
            .unwrap(),
    )
    .await
}

async fn exchange(app: &TestApp, client: &str, secret: &str, code: &str) -> Reply {
    token_request(
        app,
        client,
        secret,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect(client)),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

/// Signs the user in to the application, as the application would.
pub(crate) async fn sign_in_to(
    app: &TestApp,
    client: &str,
    secret: &str,
    scope: &str,
    cookie: &str,
) -> Tokens {
    let code = code(app, client, scope, cookie).await;
    let reply = exchange(app, client, secret, &code).await;
    reply.assert_status(StatusCode::OK, app.label);
    let json = reply.json();
    Tokens {
        access: json["access_token"].as_str().unwrap().into(),
        refresh: json["refresh_token"].as_str().unwrap().into(),
    }
}

async fn userinfo(app: &TestApp, access: &str) -> StatusCode {
    app.send(
        Request::get("/oauth2/userinfo")
            .header(header::AUTHORIZATION, format!("Bearer {access}"))
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .status
}

async fn refresh(app: &TestApp, client: &str, secret: &str, refresh: &str) -> Reply {
    token_request(
        app,
        client,
        secret,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await
}

pub(crate) async fn secrets(app: &TestApp) -> (String, String) {
    let secret = |id| async move {
        server::oidc::rotate_secret(&app.db, &app.config, id)
            .await
            .unwrap()
            .expose()
            .to_string()
    };
    (secret("shop").await, secret("blog").await)
}

per_database! {
    async fn removing_an_application_ends_its_access_and_revokes_its_consent(app) with config { config() } {
        let (shop_secret, blog_secret) = secrets(&app).await;
        let alice = app.add_user("alice", PASSWORD).await;
        sqlx::query("UPDATE users SET email = 'alice@example.com', first_name = 'Alice' WHERE id = $1")
            .bind(alice).execute(&app.db.pool).await.unwrap();
        app.add_user("bob", PASSWORD).await;
        let cookie = app.sign_in("alice", PASSWORD).await;
        let bob = app.sign_in("bob", PASSWORD).await;

        // Nothing authorized yet: an empty list, and the page says why.
        assert_eq!(app.rest("GET", APPS, &cookie, None).await.json(), serde_json::json!([]));

        let shop = sign_in_to(&app, "shop", &shop_secret, "openid email phone", &cookie).await;
        let blog = sign_in_to(&app, "blog", &blog_secret, "openid profile", &cookie).await;
        let bobs_blog = sign_in_to(&app, "blog", &blog_secret, "openid", &bob).await;
        // A code the shop has not exchanged yet.
        let pending_code = code(&app, "shop", "openid email", &cookie).await;

        // Last used first, in WSO2's shape (checked against its spec).
        let listed = app.rest("GET", APPS, &cookie, None).await;
        listed.assert_status(StatusCode::OK, app.label);
        let ids: Vec<String> = listed.json().as_array().unwrap().iter()
            .map(|a| a["id"].as_str().unwrap().to_string()).collect();
        assert_eq!(ids, ["blog", "shop"], "[{}] {}", app.label, listed.body);
        let one = app.rest("GET", &format!("{APPS}/shop"), &cookie, None).await.json();
        assert_eq!(one["name"], "Pet Shop");
        assert_eq!(one["clientId"], "shop");
        assert_eq!(one["approvedScopes"], serde_json::json!(["openid", "email", "phone"]));

        // The page's view: the claims it receives now (email consented;
        // mobile was optional and left out), and where it was authorized.
        let page = app.post("/api/authorized_apps", &[], Some(&cookie)).await;
        page.assert_status(StatusCode::OK, app.label);
        let views = page.json();
        let shop_view = views.as_array().unwrap().iter().find(|v| v["id"] == "shop").unwrap().clone();
        assert_eq!(shop_view["claims"], serde_json::json!(["Email"]), "[{}] {shop_view}", app.label);
        assert!(shop_view["sessions"][0].as_str().unwrap().contains("(this device)"), "{shop_view}");
        // The blog asks for no purposes, so it gets no consent and no claims.
        assert_eq!(views.as_array().unwrap().iter().find(|v| v["id"] == "blog").unwrap()["claims"],
            serde_json::json!([]), "[{}]", app.label);

        // My Login Sessions names the applications signed in through each session.
        let sessions = app.rest("GET", "/api/users/v1/me/sessions", &cookie, None).await.json();
        let mut names: Vec<&str> = sessions["sessions"][0]["applications"].as_array().unwrap().iter()
            .map(|a| a["appName"].as_str().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["Pet Shop", "Team Blog"], "[{}] {sessions}", app.label);
        let page = app.post("/api/list_sessions", &[], Some(&cookie)).await.json();
        assert_eq!(page[0]["applications"], serde_json::json!(["Team Blog", "Pet Shop"]), "[{}]", app.label);

        // Another user's application, or none: 404, and nothing changes.
        for (path, who) in [(format!("{APPS}/shop"), &bob), (format!("{APPS}/nowhere"), &cookie)] {
            app.rest("GET", &path, who, None).await.assert_status(StatusCode::NOT_FOUND, app.label);
            app.rest("DELETE", &path, who, None).await.assert_status(StatusCode::NOT_FOUND, app.label);
        }
        assert_eq!(userinfo(&app, &shop.access).await, StatusCode::OK);

        // Remove the shop, answered by another node: everything it holds ends at once.
        let other = app.other_node().await;
        other.rest("DELETE", &format!("{APPS}/shop"), &cookie, None).await.assert_status(StatusCode::NO_CONTENT, app.label);
        assert_eq!(userinfo(&app, &shop.access).await, StatusCode::UNAUTHORIZED, "[{}] access token", app.label);
        let refused = refresh(&app, "shop", &shop_secret, &shop.refresh).await;
        assert_eq!((refused.status, refused.json()["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "[{}] refresh token", app.label);
        let late = exchange(&app, "shop", &shop_secret, &pending_code).await;
        assert_eq!(late.json()["error"], "invalid_grant", "[{}] unexchanged code", app.label);
        app.rest("GET", &format!("{APPS}/shop"), &cookie, None).await.assert_status(StatusCode::NOT_FOUND, app.label);
        // Its consent is revoked: REVOKED on Consent Management, and the
        // next sign-in through the shop asks again.
        assert!(server::consent::active_claims(&app.db, alice, "shop").await.unwrap().is_none());
        let consents = app.rest("GET", "/api/identity/consent-mgt/v1.0/consents?state=REVOKED", &cookie, None).await;
        assert!(consents.body.contains("\"spDisplayName\":\"Pet Shop\""), "[{}] {}", app.label, consents.body);
        let again = app.get(&format!("/oauth2/authorize?{}", encode(&[
            ("client_id", "shop"), ("redirect_uri", &redirect("shop")), ("response_type", "code"),
            ("scope", "openid email"), ("code_challenge", CHALLENGE), ("code_challenge_method", "S256"),
        ])), Some(&cookie)).await;
        assert!(again.header("location").unwrap().starts_with("/authorize/consent?"), "[{}]", app.label);

        // The other application and the other user are untouched.
        assert_eq!(userinfo(&app, &blog.access).await, StatusCode::OK, "[{}] blog", app.label);
        assert_eq!(userinfo(&app, &bobs_blog.access).await, StatusCode::OK, "[{}] bob", app.label);

        // The export lists the blog, and no token or hash of one.
        let export = app.rest("GET", "/api/identity/user/v1.0/me", &cookie, None).await;
        let authorized = &export.json()["authorizedApps"];
        assert_eq!(authorized.as_array().unwrap().len(), 1, "[{}] {authorized}", app.label);
        assert_eq!(authorized[0]["clientId"], "blog");
        assert_eq!(authorized[0]["approvedScopes"], serde_json::json!(["openid", "profile"]));
        for secret in [&blog.access, &blog.refresh, &server::sessions::token_hash(&blog.refresh)] {
            assert!(!export.body.contains(secret.as_str()), "[{}] the export holds a token", app.label);
        }

        // Removing all: the blog's access ends too; bob's stays.
        app.rest("DELETE", APPS, &cookie, None).await.assert_status(StatusCode::NO_CONTENT, app.label);
        assert_eq!(userinfo(&app, &blog.access).await, StatusCode::UNAUTHORIZED);
        assert_eq!(app.rest("GET", APPS, &cookie, None).await.json(), serde_json::json!([]));
        assert_eq!(userinfo(&app, &bobs_blog.access).await, StatusCode::OK, "[{}] bob", app.label);
        app.assert_receipts_conform().await;
    }
}

per_database! {
    async fn the_dashboard_removes_through_its_server_function(app) with config { config() } {
        let (shop_secret, _) = secrets(&app).await;
        app.add_user("alice", PASSWORD).await;
        let cookie = app.sign_in("alice", PASSWORD).await;
        let shop = sign_in_to(&app, "shop", &shop_secret, "openid email", &cookie).await;
        let removed = app.post("/api/remove_authorized_app", &[("id", "shop")], Some(&cookie)).await;
        removed.assert_status(StatusCode::OK, app.label);
        assert!(removed.body.contains("Pet Shop"), "{}", removed.body);
        assert_eq!(userinfo(&app, &shop.access).await, StatusCode::UNAUTHORIZED);
        // A second removal (another tab) says there is nothing to remove.
        let again = app.post("/api/remove_authorized_app", &[("id", "shop")], Some(&cookie)).await;
        again.assert_status(StatusCode::NOT_FOUND, app.label);
        // Signed out: no list.
        let anonymous = app.post("/api/authorized_apps", &[], None).await;
        anonymous.assert_status(StatusCode::UNAUTHORIZED, app.label);
    }
}

per_database! {
    async fn removing_a_client_from_the_cli_ends_its_grants(app) with config { config() } {
        use server::oidc::{ClientKind, NewClient};
        let secret = server::oidc::add(&app.db, &app.config, NewClient {
            id: server::config::clients::ClientId::parse("notes").unwrap(),
            name: "Notes".into(),
            description: String::new(),
            redirect_uris: vec![RedirectUri::parse(&redirect("notes")).unwrap()],
            post_logout_redirect_uris: Vec::new(),
            kind: ClientKind::Confidential,
            scopes: vec![Scope::OpenId],
            access_url: None,
        }).await.unwrap().unwrap();
        app.add_user("alice", PASSWORD).await;
        let cookie = app.sign_in("alice", PASSWORD).await;
        let notes = sign_in_to(&app, "notes", secret.expose(), "openid", &cookie).await;
        let listed = app.rest("GET", APPS, &cookie, None).await.json();
        assert_eq!(listed[0]["name"], "Notes", "[{}] a CLI client is named as recorded", app.label);
        server::oidc::remove(&app.db, &app.config, "notes").await.unwrap();
        assert_eq!(userinfo(&app, &notes.access).await, StatusCode::UNAUTHORIZED, "[{}]", app.label);
        assert_eq!(app.rest("GET", APPS, &cookie, None).await.json(), serde_json::json!([]));
    }
}

per_database! {
    async fn many_alike_grants_are_one_application_read_in_one_row_per_session(app) with config { config() } {
        // An application that signs the user in over and over holds many
        // grants alike; Authorized Apps and every listing of sessions read
        // them grouped, as one application with its first and last use.
        let user = app.add_user("alice", PASSWORD).await;
        let cookie = app.sign_in("alice", PASSWORD).await;
        let session: String = sqlx::query_scalar("SELECT id FROM sessions WHERE user_id = $1")
            .bind(user).fetch_one(&app.db.pool).await.unwrap();
        let far = server::time::now_ms() + 3_600_000;
        for n in 0..300_i64 {
            let grant = format!("grant-{n}");
            sqlx::query("INSERT INTO oidc_grants (id, user_id, client_id, session_id, scopes, auth_time, created_at, last_used_at)
                         VALUES ($1, $2, 'shop', $3, 'openid email', 1, $4, $5)")
                .bind(&grant).bind(user).bind(&session).bind(1_000 + n).bind(2_000 + n)
                .execute(&app.db.pool).await.unwrap();
            sqlx::query("INSERT INTO oidc_tokens (token_hash, grant_id, kind, expires_at, created_at) VALUES ($1, $2, 'access', $3, 1)")
                .bind(format!("hash-{n}")).bind(&grant).bind(far)
                .execute(&app.db.pool).await.unwrap();
        }
        let rows = server::oidc::grants::live(&app.db, user).await.unwrap();
        assert_eq!(rows.len(), 1, "[{}]", app.label);
        let apps = server::apps::list(&app.db, &app.config, user).await.unwrap();
        assert_eq!(apps.len(), 1);
        assert_eq!((apps[0].first_authorized, apps[0].last_used), (1_000, 2_299), "[{}]", app.label);
        assert_eq!(apps[0].session_ids, vec![session.clone()]);
        let listed = app.rest("GET", APPS, &cookie, None).await;
        listed.assert_status(StatusCode::OK, app.label);
        assert_eq!(listed.json().as_array().unwrap().len(), 1);
        let sessions = app.rest("GET", "/api/users/v1/me/sessions", &cookie, None).await;
        assert_eq!(sessions.json()["sessions"][0]["applications"].as_array().unwrap().len(), 1, "{}", sessions.body);
    }
}
