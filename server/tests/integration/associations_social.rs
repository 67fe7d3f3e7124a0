//! Associated Accounts, social identities: the storage and the WSO2
//! federated-associations REST API, the identity waiting for its browser to
//! sign in, the last-way-in guard, and callbacks that must change nothing.
//! The round trip through a real provider (npm oidc-provider) is proven by
//! end2end/tests/associations-social.spec.ts.

use crate::common::*;
use app::backend::ssr::CurrentSession;
use http::StatusCode;
use serde_json::json;
use server::associations::social::{self, SocialError};
use server::config::{Config, IdentityProvider, Secret};

const FEDERATED: &str = "/api/users/v1/me/federated-associations";

/// The test configuration with one provider, "Corp ID", whose issuer is a
/// closed port: starting a round trip finds it unreachable.
fn config() -> Config {
    let mut config = test_config(ORIGIN);
    config.identity_providers.push(IdentityProvider {
        id: "corp".into(),
        name: "Corp ID".into(),
        issuer: "http://127.0.0.1:9".into(),
        client_id: "selfserve".into(),
        client_secret: Some(Secret::new("integration tests only")),
        scopes: vec!["openid".into(), "email".into()],
        allow_sign_up: false,
    });
    config
}

fn ids(reply: &Reply) -> Vec<String> {
    reply
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect()
}

fn session_of(user_id: i64, username: &str) -> CurrentSession {
    CurrentSession {
        user_id,
        username: username.into(),
        session_id: "not a session".into(),
        has_associated_accounts: false,
    }
}

per_database! {
    async fn one_address_starts_a_bounded_number_of_provider_round_trips(app) with config { config() } {
        let limit = server::federation::ROUND_TRIPS_PER_ADDRESS;
        for _ in 0..limit {
            let started = app.post("/federation/corp/signin", &[], None).await;
            assert_eq!(started.header("location"), Some("/signin?federation=unavailable&provider=corp"), "[{}]", app.label);
        }
        // One more from the same address within the window: refused before
        // anything is stored or asked of the provider, and said so.
        let refused = app.post("/federation/corp/signin", &[], None).await;
        refused.assert_status(StatusCode::SEE_OTHER, app.label);
        let page = refused.header("location").unwrap().to_string();
        assert_eq!(page, "/signin?federation=too_many&provider=corp", "[{}]", app.label);
        let shown = app.get(&page, None).await;
        assert!(shown.body.contains("Too many sign-ins with Corp ID were started from your network"), "[{}]", app.label);
    }
}

per_database! {
    async fn identities_are_listed_removed_and_never_another_users(app) with config { config() } {
        let alice_id = app.add_user("alice", PASSWORD).await;
        let bob_id = app.add_user("bob", PASSWORD).await;
        social::link(&app.db, alice_id, "corp", "sub-alice", "alice@corp.example").await.unwrap();
        social::link(&app.db, bob_id, "corp", "sub-bob", "bob@corp.example").await.unwrap();

        // A subject links to one account only, whoever asks.
        assert!(matches!(
            social::link(&app.db, bob_id, "corp", "sub-alice", "alice@corp.example").await,
            Err(SocialError::LinkedElsewhere)
        ));
        assert!(matches!(
            social::link(&app.db, alice_id, "corp", "sub-alice", "alice@corp.example").await,
            Err(SocialError::AlreadyLinked)
        ));

        let alice = app.sign_in("alice", PASSWORD).await;
        let bob = app.sign_in("bob", PASSWORD).await;
        let listed = app.rest("GET", FEDERATED, &alice, None).await;
        listed.assert_status(StatusCode::OK, app.label);
        let alice_identity = ids(&listed)[0].clone();
        assert_eq!(
            listed.json(),
            json!([{ "id": alice_identity, "idp": { "id": "corp", "name": "corp", "displayName": "Corp ID" },
                     "federatedUserId": "alice@corp.example" }]),
            "[{}]", app.label
        );
        let bob_identity = ids(&app.rest("GET", FEDERATED, &bob, None).await)[0].clone();

        // Another user's identity is not found, and stays.
        let theirs = app.rest("DELETE", &format!("{FEDERATED}/{bob_identity}"), &alice, None).await;
        theirs.assert_status(StatusCode::NOT_FOUND, app.label);
        assert_eq!(ids(&app.rest("GET", FEDERATED, &bob, None).await), vec![bob_identity.clone()]);

        // The export names the identity, and holds no token.
        let export = app.rest("GET", "/api/identity/user/v1.0/me", &alice, None).await;
        export.assert_status(StatusCode::OK, app.label);
        let linked = export.json()["linkedAccounts"].clone();
        assert_eq!(linked[0]["kind"], "federated", "[{}] {linked}", app.label);
        assert_eq!(linked[0]["provider"], "Corp ID");
        assert_eq!(linked[0]["subject"], "sub-alice");
        assert!(!export.body.to_lowercase().contains("token"), "{}", export.body);

        // Alice removes hers; bob removes all of his.
        app.rest("DELETE", &format!("{FEDERATED}/{alice_identity}"), &alice, None).await
            .assert_status(StatusCode::NO_CONTENT, app.label);
        assert!(ids(&app.rest("GET", FEDERATED, &alice, None).await).is_empty());
        app.rest("DELETE", &format!("{FEDERATED}/{alice_identity}"), &alice, None).await
            .assert_status(StatusCode::NOT_FOUND, app.label);
        app.rest("DELETE", FEDERATED, &bob, None).await.assert_status(StatusCode::NO_CONTENT, app.label);
        assert!(ids(&app.rest("GET", FEDERATED, &bob, None).await).is_empty());

        // Without a session, nothing is listed.
        app.rest("GET", FEDERATED, "selfserve_session=0", None).await
            .assert_status(StatusCode::UNAUTHORIZED, app.label);
    }
}

per_database! {
    async fn the_last_way_into_an_account_without_a_password_stays(app) with config { config() } {
        let carol_id = app.add_user("carol", PASSWORD).await;
        social::link(&app.db, carol_id, "corp", "sub-carol", "carol@corp.example").await.unwrap();
        social::link(&app.db, carol_id, "other", "sub-carol-2", "carol@other.example").await.unwrap();
        // An account with no password (as one created through a provider is).
        sqlx::query("UPDATE users SET password_hash = '' WHERE id = $1")
            .bind(carol_id).execute(&app.db.pool).await.unwrap();
        let carol = session_of(carol_id, "carol");

        // Removing both at once would leave no way in: refused, nothing changes.
        assert!(matches!(social::remove_all(&app.db, &carol).await, Err(SocialError::LastWayIn)));
        let rows = social::list(&app.db, carol_id).await.unwrap();
        assert_eq!(rows.len(), 2, "[{}]", app.label);

        // One may go; the last may not.
        social::remove(&app.db, &app.config, &carol, &rows[0].id).await.unwrap();
        let last = social::list(&app.db, carol_id).await.unwrap();
        assert_eq!(last.len(), 1);
        let refused = social::remove(&app.db, &app.config, &carol, &last[0].id).await;
        assert!(matches!(refused, Err(SocialError::LastWayIn)), "[{}]", app.label);
        let message = app::error::AppError::from(refused.unwrap_err()).to_string();
        assert!(message.contains("Set a password on Change Password"), "{message}");
        assert_eq!(social::list(&app.db, carol_id).await.unwrap().len(), 1);

        // Removing the account removes its identities.
        server::users::remove(&app.db, &server::users::Username::parse("carol").unwrap()).await.unwrap();
        assert!(social::linked(&app.db, "corp", "sub-carol").await.unwrap().is_none()
            && social::linked(&app.db, "other", "sub-carol-2").await.unwrap().is_none(), "[{}]", app.label);
    }
}

per_database! {
    async fn an_identity_waiting_for_its_browser_is_linked_by_the_password_sign_in_only(app) with config { config() } {
        let dave_id = app.add_user("dave", PASSWORD).await;
        let token = social::hold_pending(&app.db, "corp", "sub-dave", "dave@corp.example", &Default::default()).await.unwrap();
        let cookie = format!("selfserve_pending_identity={token}");

        // A wrong password links nothing, and the identity keeps waiting.
        let wrong = app.post("/api/sign_in", &[("username", "dave"), ("password", "not dave's")], Some(&cookie)).await;
        assert!(wrong.session_cookie().is_none(), "[{}]", app.label);
        assert!(social::linked(&app.db, "corp", "sub-dave").await.unwrap().is_none());
        assert!(social::pending(&app.db, &app.config, &token).await.unwrap().is_some());

        // The right one links it to dave, forgets the cookie, and says so.
        let right = app.post("/api/sign_in", &[("username", "dave"), ("password", PASSWORD)], Some(&cookie)).await;
        assert!(right.session_cookie().is_some(), "[{}] {}", app.label, right.body);
        assert!(right.set_cookies().iter().any(|c| c.starts_with("selfserve_pending_identity=;") && c.contains("Max-Age=0")));
        assert_eq!(right.header("location"), Some("/associations?federation=linked&provider=corp"));
        let linked = social::linked(&app.db, "corp", "sub-dave").await.unwrap().unwrap();
        assert_eq!((linked.user_id, linked.display.as_str()), (dave_id, "dave@corp.example"));

        // Taken once: signing in again with the same cookie links nothing more.
        assert!(social::pending(&app.db, &app.config, &token).await.unwrap().is_none());
        let erin_id = app.add_user("erin", PASSWORD).await;
        app.post("/api/sign_in", &[("username", "erin"), ("password", PASSWORD)], Some(&cookie)).await;
        assert!(social::list(&app.db, erin_id).await.unwrap().is_empty(), "[{}]", app.label);
    }
}

per_database! {
    async fn callbacks_without_their_flow_in_this_browser_change_nothing(app) with config { config() } {
        app.add_user("frank", PASSWORD).await;
        // No flow with this state: expired, said on the sign-in page.
        let unknown = app.get("/federation/corp/callback?code=abc&state=nothing-started", None).await;
        unknown.assert_status(StatusCode::SEE_OTHER, app.label);
        assert_eq!(unknown.header("location"), Some("/signin?federation=expired&provider=corp"));

        // A flow started in another browser: the state is right, the binding
        // cookie is not. The flow is used up, and no session begins.
        use server::sessions::token_hash;
        let (state, binding) = ("a".repeat(64), "b".repeat(64));
        sqlx::query(
            "INSERT INTO federation_flows (state_hash, binding_hash, provider, intent, nonce, pkce_verifier, expires_at)
             VALUES ($1, $2, 'corp', 'sign_in', 'n', 'v', $3)",
        )
        .bind(token_hash(&state)).bind(token_hash(&binding)).bind(i64::MAX / 2)
        .execute(&app.db.pool).await.unwrap();
        let sessions_before = app.session_count().await;
        let elsewhere = app.get(
            &format!("/federation/corp/callback?code=abc&state={state}"),
            Some(&format!("selfserve_federation={}", "c".repeat(64))),
        ).await;
        assert_eq!(elsewhere.header("location"), Some("/signin?federation=expired&provider=corp"), "[{}]", app.label);
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM federation_flows").fetch_one(&app.db.pool).await.unwrap();
        assert_eq!(left, 0, "[{}] the flow is used up", app.label);
        assert_eq!(app.session_count().await, sessions_before);

        // A provider that cannot be reached is said so; nothing is stored.
        let unreachable = app.post("/federation/corp/signin", &[], None).await;
        unreachable.assert_status(StatusCode::SEE_OTHER, app.label);
        assert_eq!(unreachable.header("location"), Some("/signin?federation=unavailable&provider=corp"));
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM federation_flows").fetch_one(&app.db.pool).await.unwrap();
        assert_eq!(left, 0);

        // An unknown provider, and a link without a session.
        let unknown_provider = app.post("/federation/nowhere/signin", &[], None).await;
        assert_eq!(unknown_provider.header("location"), Some("/signin?federation=failed&provider=nowhere"));
        let link = app.post("/federation/corp/link", &[], None).await;
        assert_eq!(link.header("location"), Some("/signin"), "[{}]", app.label);

        // A cross-site post to start one is refused like every state change.
        let cross = app.send(
            http::Request::post("/federation/corp/signin")
                .header("origin", "https://evil.example")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::empty()).unwrap(),
        ).await;
        cross.assert_status(StatusCode::FORBIDDEN, app.label);
    }
}

fn sign_up_config(allow: bool) -> Config {
    let mut config = config();
    config.identity_providers[0].allow_sign_up = allow;
    config
}

async fn register_with_identity(app: &TestApp, username: &str, cookie: Option<&str>) -> Reply {
    let form = [
        ("username", username),
        ("attributes[email]", "grace@corp.example"),
        ("consents[p1-email]", "on"),
        ("with_identity", "on"),
    ];
    app.post("/api/register", &form, cookie).await
}

async fn hold(app: &TestApp, subject: &str) -> String {
    let profile = social::ProviderProfile {
        email: Some("grace@corp.example".into()),
        ..Default::default()
    };
    social::hold_pending(&app.db, "corp", subject, "grace@corp.example", &profile)
        .await
        .unwrap()
}

async fn user_id(app: &TestApp, username: &str) -> Option<i64> {
    sqlx::query_scalar("SELECT id FROM users WHERE username_key = $1")
        .bind(username)
        .fetch_optional(&app.db.pool)
        .await
        .unwrap()
}

per_database! {
    async fn an_identity_creates_an_account_without_a_password_only_where_the_provider_allows(app) with config { sign_up_config(false) } {
        // Not allowed by the provider: refused, nothing created, nothing taken.
        let token = hold(&app, "sub-grace").await;
        let cookie = format!("selfserve_pending_identity={token}");
        let refused = register_with_identity(&app, "grace", Some(&cookie)).await;
        refused.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert!(refused.body.contains("does not create accounts here"), "{}", refused.body);
        assert!(user_id(&app, "grace").await.is_none());
        assert!(social::pending(&app.db, &app.config, &token).await.unwrap().is_some());

        // Allowed: the account has no password and signs in with the identity.
        let app = app.with_config(sign_up_config(true));
        let created = register_with_identity(&app, "grace", Some(&cookie)).await;
        created.assert_status(StatusCode::OK, app.label);
        assert!(created.set_cookies().iter().any(|c| c.starts_with("selfserve_pending_identity=;")), "{:?}", created.set_cookies());
        let grace = user_id(&app, "grace").await.expect("grace created");
        assert!(!server::users::has_password(&app.db, grace).await.unwrap());
        assert_eq!(social::linked(&app.db, "corp", "sub-grace").await.unwrap().unwrap().user_id, grace);
        // No password signs in to it, not even an empty one.
        let empty = app.post("/api/sign_in", &[("username", "grace"), ("password", "")], None).await;
        assert!(empty.session_cookie().is_none(), "[{}]", app.label);

        // The identity was taken with the account: the cookie creates nothing more.
        let again = register_with_identity(&app, "grace2", Some(&cookie)).await;
        again.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert!(user_id(&app, "grace2").await.is_none());
        // And without the cookie there is nothing to create it with.
        let none = register_with_identity(&app, "grace3", None).await;
        none.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert!(user_id(&app, "grace3").await.is_none(), "[{}]", app.label);
    }
}

per_database! {
    async fn an_account_without_a_password_sets_one_only_after_a_fresh_sign_in_at_its_provider(app) with config { sign_up_config(true) } {
        let token = hold(&app, "sub-heidi").await;
        register_with_identity(&app, "heidi", Some(&format!("selfserve_pending_identity={token}"))).await
            .assert_status(StatusCode::OK, app.label);
        let heidi = user_id(&app, "heidi").await.unwrap();
        // A session as the identity's sign-in would start.
        let client = app::backend::ssr::ClientInfo { ip: "127.0.0.1".into(), user_agent: "test".into() };
        let (session_id, token) = server::sessions::create(&app.db, &app.config, heidi, &client,
            server::sessions::Origin::Federated("Corp ID"), None, None).await.unwrap();
        let cookie = format!("selfserve_session={}", token.as_str());
        let new = "a brand new passphrase for heidi";
        let form = [("new_password", new), ("confirm", new), ("setting_first", "on")];

        let unconfirmed = app.post("/api/change_password", &form, Some(&cookie)).await;
        unconfirmed.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert!(unconfirmed.body.contains("Confirm it is you at your identity provider first"), "{}", unconfirmed.body);
        assert!(!server::users::has_password(&app.db, heidi).await.unwrap());

        // A confirmation older than ten minutes does not count.
        sqlx::query("UPDATE sessions SET confirmed_at = $1 WHERE id = $2")
            .bind(server::time::now_ms() - 11 * 60_000).bind(&session_id)
            .execute(&app.db.pool).await.unwrap();
        app.post("/api/change_password", &form, Some(&cookie)).await
            .assert_status(StatusCode::BAD_REQUEST, app.label);

        server::sessions::confirm(&app.db, &session_id).await.unwrap();
        let set = app.post("/api/change_password", &form, Some(&cookie)).await;
        assert!(set.session_cookie().is_some(), "[{}] {} {}", app.label, set.status, set.body);
        assert!(server::users::has_password(&app.db, heidi).await.unwrap());
        app.sign_in("heidi", new).await;

        // From now on the current password is asked for, as for everyone.
        let signed_in = app.sign_in("heidi", new).await;
        let without_current = app.post("/api/change_password", &form, Some(&signed_in)).await;
        without_current.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert!(without_current.body.contains("current password is incorrect"), "[{}] {}", app.label, without_current.body);
    }
}

/// npm oidc-provider (end2end/idp/provider.mjs) on a loopback port, as the
/// real provider of a round trip; stopped when dropped. Absent when the npm
/// packages are not installed (scripts/test.sh installs them and sets
/// TEST_REQUIRE_PEERS, which makes their absence a failure).
struct Peer {
    child: std::process::Child,
    port: u16,
}

const PEER_SECRET: &str = "integration tests only: the peer's client secret";

impl Peer {
    async fn start(port: u16, key_id: &str) -> Option<Peer> {
        let end2end = concat!(env!("CARGO_MANIFEST_DIR"), "/../end2end");
        if !std::path::Path::new(&format!("{end2end}/node_modules/oidc-provider")).exists() {
            assert!(
                std::env::var("TEST_REQUIRE_PEERS").is_err(),
                "TEST_REQUIRE_PEERS is set but end2end/node_modules has no oidc-provider"
            );
            eprintln!("skipped: npm oidc-provider is not installed (run scripts/test.sh)");
            return None;
        }
        let child = std::process::Command::new("node")
            .arg("idp/provider.mjs")
            .current_dir(end2end)
            .env("IDP_PORT", port.to_string())
            .env("IDP_KEY_ID", key_id)
            .env("BASE_URL", ORIGIN)
            .env(
                "SELFSERVE_IDENTITY_PROVIDER_CORP_CLIENT_SECRET",
                PEER_SECRET,
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("node starts");
        let peer = Peer { child, port };
        let discovery = format!("{}/.well-known/openid-configuration", peer.issuer());
        for _ in 0..100 {
            if reqwest::get(&discovery)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Some(peer);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("oidc-provider did not start on port {port}");
    }

    fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn config(&self) -> Config {
        let mut config = config();
        config.identity_providers[0].issuer = self.issuer();
        config.identity_providers[0].client_secret = Some(Secret::new(PEER_SECRET));
        config
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

use openidconnect::reqwest;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The browser's part at the provider: follows its redirects with its
/// cookies, and submits its development login (as `account`) and consent
/// forms, until it is sent back to Selfserve; returns that address's path.
struct AtProvider {
    http: reqwest::Client,
    cookies: std::collections::BTreeMap<String, String>,
}

impl AtProvider {
    fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Default::default(),
        }
    }

    fn keep(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all("set-cookie") {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.insert(name.into(), value.into());
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn through(&mut self, start: &str, account: &str) -> String {
        let mut url = reqwest::Url::parse(start).unwrap();
        let mut form: Option<Vec<(&str, String)>> = None;
        for _ in 0..12 {
            let request = match form.take() {
                Some(fields) => self.http.post(url.clone()).form(&fields),
                None => self.http.get(url.clone()),
            };
            let response = request
                .header("cookie", self.cookie_header())
                .send()
                .await
                .unwrap();
            self.keep(&response);
            if let Some(location) = response.headers().get("location") {
                let next = url.join(location.to_str().unwrap()).unwrap();
                if next.as_str().starts_with(ORIGIN) {
                    return next.as_str()[ORIGIN.len()..].to_string();
                }
                url = next;
                continue;
            }
            let page = response.text().await.unwrap();
            form = Some(if page.contains(r#"name="prompt" value="login""#) {
                vec![
                    ("prompt", "login".into()),
                    ("login", account.into()),
                    ("password", "any".into()),
                ]
            } else if page.contains(r#"name="prompt" value="consent""#) {
                vec![("prompt", "consent".into())]
            } else {
                panic!("an unexpected page at the provider: {page}");
            });
        }
        panic!("the provider never sent the browser back");
    }
}

/// Starts a round trip with a form post to Selfserve; the provider's
/// address and the binding cookie.
async fn start_round_trip(app: &TestApp, path: &str, session: Option<&str>) -> (String, String) {
    let started = app.post(path, &[], session).await;
    started.assert_status(StatusCode::SEE_OTHER, app.label);
    let binding = started
        .set_cookies()
        .into_iter()
        .find_map(|c| {
            c.split(';')
                .next()
                .filter(|p| p.starts_with("selfserve_federation="))
                .map(String::from)
        })
        .expect("a binding cookie");
    (started.header("location").unwrap().to_string(), binding)
}

per_database! {
    async fn a_real_provider_links_and_signs_in_and_its_rotated_keys_are_fetched_again(app) {
        let port = free_port();
        let Some(peer) = Peer::start(port, "first-key").await else { return };
        let app = app.with_config(peer.config());
        let alice_id = app.add_user("alice", PASSWORD).await;
        let alice = app.sign_in("alice", PASSWORD).await;
        let mut browser = AtProvider::new();

        // Link: the identity joins the signed-in account.
        let (authorize, binding) = start_round_trip(&app, "/federation/corp/link", Some(&alice)).await;
        assert!(authorize.contains("code_challenge_method=S256") && authorize.contains("nonce="), "{authorize}");
        let callback = browser.through(&authorize, "alice-at-corp").await;
        assert!(callback.contains("&iss="), "the peer sends iss: {callback}");
        let linked = app.get(&callback, Some(&format!("{alice}; {binding}"))).await;
        assert_eq!(linked.header("location"), Some("/associations?federation=linked&provider=corp"), "[{}]", app.label);
        let identity = social::linked(&app.db, "corp", "alice-at-corp").await.unwrap().expect("linked");
        assert_eq!((identity.user_id, identity.display.as_str()), (alice_id, "alice-at-corp@corp.example"));

        // The same answer again finds its flow used up.
        let replay = app.get(&callback, Some(&format!("{alice}; {binding}"))).await;
        assert_eq!(replay.header("location"), Some("/associations?federation=expired&provider=corp"));

        // Bob cannot link the identity alice has linked.
        app.add_user("bob", PASSWORD).await;
        let bob = app.sign_in("bob", PASSWORD).await;
        let (authorize, binding) = start_round_trip(&app, "/federation/corp/link", Some(&bob)).await;
        let callback = browser.through(&authorize, "alice-at-corp").await;
        let taken = app.get(&callback, Some(&format!("{bob}; {binding}"))).await;
        assert_eq!(taken.header("location"), Some("/associations?federation=linked_elsewhere&provider=corp"), "[{}]", app.label);
        assert_eq!(social::linked(&app.db, "corp", "alice-at-corp").await.unwrap().unwrap().user_id, alice_id);

        // Signed out, the identity signs alice in: a new session, named federated.
        let sessions_before = app.session_count().await;
        let (authorize, binding) = start_round_trip(&app, "/federation/corp/signin", None).await;
        let callback = browser.through(&authorize, "alice-at-corp").await;
        let signed_in = app.get(&callback, Some(&binding)).await;
        assert_eq!(signed_in.header("location"), Some("/"), "[{}] {}", app.label, signed_in.body);
        let cookie = signed_in.session_cookie().expect("a session");
        assert_eq!(app.session_count().await, sessions_before + 1);
        let sessions = app.rest("GET", "/api/users/v1/me/sessions", &cookie, None).await;
        assert_eq!(sessions.json()["sessions"].as_array().unwrap().len(), 2, "{}", sessions.body);
        let with: Option<String> = sqlx::query_scalar("SELECT signed_in_with FROM sessions WHERE user_id = $1 AND signed_in_with IS NOT NULL")
            .bind(alice_id).fetch_one(&app.db.pool).await.unwrap();
        assert_eq!(with.as_deref(), Some("Corp ID"));
        assert!(social::linked(&app.db, "corp", "alice-at-corp").await.unwrap().unwrap().last_used_at.is_some());

        // An answer whose iss is not the provider's (a mix-up) changes nothing.
        let (authorize, binding) = start_round_trip(&app, "/federation/corp/signin", None).await;
        let callback = browser.through(&authorize, "alice-at-corp").await;
        let mixed_up = callback.replace(&format!("iss={}", url_encoded(&peer.issuer())), "iss=https%3A%2F%2Fevil.example");
        assert_ne!(mixed_up, callback);
        let refused = app.get(&mixed_up, Some(&binding)).await;
        assert_eq!(refused.header("location"), Some("/signin?federation=failed&provider=corp"), "[{}]", app.label);
        assert!(refused.session_cookie().is_none());

        // The provider restarts with a new signing key: Selfserve's cached
        // keys do not have it, so it fetches them again and the sign-in works.
        drop(peer);
        let _peer = Peer::start(port, "second-key").await.expect("restarted");
        let mut browser = AtProvider::new();
        let (authorize, binding) = start_round_trip(&app, "/federation/corp/signin", None).await;
        let callback = browser.through(&authorize, "alice-at-corp").await;
        let rotated = app.get(&callback, Some(&binding)).await;
        assert_eq!(rotated.header("location"), Some("/"), "[{}]", app.label);
        assert!(rotated.session_cookie().is_some());
    }
}

fn url_encoded(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The claims of a JWT, unverified (the signature is the OIDC tests' concern).
fn jwt_claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

per_database! {
    async fn id_tokens_say_how_the_session_began(app) with config { config() } {
        let ivan = app.add_user("ivan", PASSWORD).await;
        let client = app::backend::ssr::ClientInfo { ip: "127.0.0.1".into(), user_agent: "test".into() };
        let mut tokens = Vec::new();
        use app::mfa::Method;
        use server::sessions::Origin;
        for (origin, factor) in [
            (Origin::Federated("Corp ID"), None),
            (Origin::Password, None),
            (Origin::Password, Some(Method::Otp)),
            (Origin::Federated("Corp ID"), Some(Method::RecoveryCode)),
        ] {
            let (session_id, _) = server::sessions::create(&app.db, &app.config, ivan, &client, origin, factor, None).await.unwrap();
            let grant = server::oidc::grants::Grant {
                id: "grant".into(),
                user_id: ivan,
                client_id: "shop".into(),
                session_id: session_id.clone(),
                scopes: Vec::new(),
                nonce: None,
                auth_time: server::time::now_ms(),
            };
            tokens.push((session_id, grant));
        }
        let federated = jwt_claims(&server::oidc::id_token::mint(&app.db, &app.config, &tokens[0].1).await.unwrap());
        assert_eq!(federated["amr"], json!(["fed"]), "[{}] {federated}", app.label);
        assert_eq!(federated["acr"], "urn:selfserve:acr:federated");
        let password = jwt_claims(&server::oidc::id_token::mint(&app.db, &app.config, &tokens[1].1).await.unwrap());
        assert_eq!(password["amr"], json!(["pwd"]));
        // A second factor is added (RFC 8176 has no value for a recovery code: "mfa" only).
        let with_app = jwt_claims(&server::oidc::id_token::mint(&app.db, &app.config, &tokens[2].1).await.unwrap());
        assert_eq!(with_app["amr"], json!(["pwd", "otp", "mfa"]), "[{}] {with_app}", app.label);
        assert_eq!(with_app["acr"], "urn:selfserve:acr:mfa");
        let with_code = jwt_claims(&server::oidc::id_token::mint(&app.db, &app.config, &tokens[3].1).await.unwrap());
        assert_eq!(with_code["amr"], json!(["fed", "mfa"]), "[{}] {with_code}", app.label);
        // Once the session has ended, the token does not guess.
        server::sessions::end(&app.db, ivan, &tokens[0].0).await.unwrap();
        let ended = jwt_claims(&server::oidc::id_token::mint(&app.db, &app.config, &tokens[0].1).await.unwrap());
        assert!(ended.get("amr").is_none() && ended.get("acr").is_none(), "[{}] {ended}", app.label);
    }
}

per_database! {
    async fn a_change_that_needs_the_password_tells_an_account_without_one_to_set_it(app) with config { sign_up_config(true) } {
        let token = hold(&app, "sub-judy").await;
        register_with_identity(&app, "judy", Some(&format!("selfserve_pending_identity={token}"))).await
            .assert_status(StatusCode::OK, app.label);
        let judy = user_id(&app, "judy").await.unwrap();
        let client = app::backend::ssr::ClientInfo { ip: "127.0.0.1".into(), user_agent: "test".into() };
        let (_, session) = server::sessions::create(&app.db, &app.config, judy, &client,
            server::sessions::Origin::Federated("Corp ID"), None, None).await.unwrap();
        let cookie = format!("selfserve_session={}", session.as_str());
        let form = [
            ("current_password", "anything"),
            ("answers[0][set_id]", "challengeQuestion1"),
            ("answers[0][question_id]", "question1"),
            ("answers[0][answer]", "blue"),
            ("answers[1][set_id]", "challengeQuestion2"),
            ("answers[1][question_id]", "question3"),
            ("answers[1][answer]", "paris"),
        ];
        let refused = app.post("/api/save_recovery_answers", &form, Some(&cookie)).await;
        refused.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert!(refused.body.contains("Set it on Change Password first"), "[{}] {}", app.label, refused.body);
        // Not counted as a failed sign-in: nothing was guessed.
        let failures: Option<i64> = sqlx::query_scalar("SELECT failures FROM signin_throttle WHERE key = 'user:judy'")
            .fetch_optional(&app.db.pool).await.unwrap();
        assert_eq!(failures, None, "[{}]", app.label);
    }
}
