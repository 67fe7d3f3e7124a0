//! Associated Accounts: associating by the other account's password (a
//! sign-in of that account, throttled alike), mutual listing, switching, and
//! removal, through the real router.

use crate::common::*;
use http::StatusCode;
use serde_json::json;

const ASSOCIATIONS: &str = "/api/users/v1/me/associations";

pub(crate) async fn associate(
    app: &TestApp,
    cookie: &str,
    username: &str,
    password: &str,
) -> Reply {
    app.rest(
        "POST",
        ASSOCIATIONS,
        cookie,
        Some(json!({ "userId": username, "password": password })),
    )
    .await
}

fn usernames(reply: &Reply) -> Vec<String> {
    reply
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect()
}

async fn failures(app: &TestApp, key: &str) -> i64 {
    sqlx::query_scalar("SELECT failures FROM signin_throttle WHERE key = $1")
        .bind(key)
        .fetch_optional(&app.db.pool)
        .await
        .unwrap()
        .unwrap_or(0)
}

per_database! {
    async fn accounts_associate_by_password_mutually_and_refuse_clearly(app) {
        app.add_user("alice", PASSWORD).await;
        let bob = app.add_user("bob", PASSWORD).await;
        sqlx::query("UPDATE users SET first_name = 'Bob', last_name = 'Builder', email = 'bob@example.com' WHERE id = $1")
            .bind(bob).execute(&app.db.pool).await.unwrap();
        let dave = app.add_user("dave", PASSWORD).await;
        sqlx::query("UPDATE users SET status = 'pending' WHERE id = $1").bind(dave).execute(&app.db.pool).await.unwrap();
        let alice = app.sign_in("alice", PASSWORD).await;

        // A wrong password counts as a failed sign-in of bob, and reads the
        // same as an account that does not exist.
        let wrong = associate(&app, &alice, "bob", "not bob's password").await;
        wrong.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert_eq!(failures(&app, "user:bob").await, 1, "[{}]", app.label);
        let unknown = associate(&app, &alice, "nobody", "not bob's password").await;
        assert_eq!(unknown.status, wrong.status);
        assert_eq!(unknown.json()["description"], wrong.json()["description"], "[{}]", app.label);
        assert!(wrong.body.contains("other account is incorrect"), "{}", wrong.body);

        // One's own account and an account awaiting approval are refused.
        let own = associate(&app, &alice, "alice", PASSWORD).await;
        own.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert!(own.body.contains("account you are signed in to"), "{}", own.body);
        let pending = associate(&app, &alice, "dave", PASSWORD).await;
        pending.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert!(pending.body.contains("awaiting approval"), "{}", pending.body);
        let missing = associate(&app, &alice, "", "").await;
        missing.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert_eq!(usernames(&app.rest("GET", ASSOCIATIONS, &alice, None).await), Vec::<String>::new());

        // The right password associates, once; the success clears bob's failures.
        associate(&app, &alice, "BOB", PASSWORD).await.assert_status(StatusCode::CREATED, app.label);
        assert_eq!(failures(&app, "user:bob").await, 0);
        let again = associate(&app, &alice, "bob", PASSWORD).await;
        again.assert_status(StatusCode::CONFLICT, app.label);

        // Both list each other, with the profile's name and email.
        let listed = app.rest("GET", ASSOCIATIONS, &alice, None).await;
        listed.assert_status(StatusCode::OK, app.label);
        assert_eq!(listed.json(), json!([{ "userId": "bob", "username": "bob", "userStoreDomain": "PRIMARY",
            "tenantDomain": "carbon.super", "firstName": "Bob", "lastName": "Builder", "email": "bob@example.com" }]));
        let bobs = app.sign_in("bob", PASSWORD).await;
        assert_eq!(usernames(&app.rest("GET", ASSOCIATIONS, &bobs, None).await), ["alice"]);
        let page = app.post("/api/associated_accounts", &[], Some(&alice)).await.json();
        assert_eq!((page[0]["username"].as_str(), page[0]["name"].as_str()), (Some("bob"), Some("Bob Builder")));

        // Five wrong passwords lock an account for association as for sign-in.
        let carol = app.add_user("carol", PASSWORD).await;
        for _ in 0..5 {
            associate(&app, &alice, "carol", "wrong wrong wrong").await;
        }
        let locked = associate(&app, &alice, "carol", PASSWORD).await;
        locked.assert_status(StatusCode::TOO_MANY_REQUESTS, app.label);
        let signed_in = app.post("/api/sign_in", &[("username", "carol"), ("password", PASSWORD)], None).await;
        signed_in.assert_status(StatusCode::TOO_MANY_REQUESTS, app.label);
        let _ = carol;

        // Removal from bob's side removes it for both; another user's or an
        // unknown association answers 404.
        app.rest("DELETE", &format!("{ASSOCIATIONS}/carol"), &bobs, None).await.assert_status(StatusCode::NOT_FOUND, app.label);
        app.rest("DELETE", &format!("{ASSOCIATIONS}/alice"), &bobs, None).await.assert_status(StatusCode::NO_CONTENT, app.label);
        assert!(usernames(&app.rest("GET", ASSOCIATIONS, &alice, None).await).is_empty());
        app.rest("DELETE", &format!("{ASSOCIATIONS}/alice"), &bobs, None).await.assert_status(StatusCode::NOT_FOUND, app.label);
    }
}

per_database! {
    async fn switching_starts_a_new_session_and_ends_the_old_one(app) {
        app.add_user("alice", PASSWORD).await;
        app.add_user("bob", PASSWORD).await;
        let alice = app.sign_in("alice", PASSWORD).await;
        let before = app.post("/api/whoami", &[], Some(&alice)).await.json();
        assert_eq!(before["has_associated_accounts"], false, "[{}]", app.label);
        let none = app.post("/api/account_switches", &[], Some(&alice)).await.json();
        assert_eq!(none, json!([]), "[{}]", app.label);
        associate(&app, &alice, "bob", PASSWORD).await.assert_status(StatusCode::CREATED, app.label);
        let me = app.post("/api/whoami", &[], Some(&alice)).await.json();
        assert_eq!(me["has_associated_accounts"], true, "[{}]", app.label);
        let menu = app.post("/api/account_switches", &[], Some(&alice)).await.json();
        assert_eq!(menu, json!(["bob"]), "[{}] the account menu offers bob", app.label);

        let switched = app.post("/api/switch_account", &[("username", "bob")], Some(&alice)).await;
        switched.assert_status(StatusCode::OK, app.label);
        let bob = switched.session_cookie().expect("a new session cookie");
        assert_ne!(bob, alice, "a new token");
        // The old session ended; the new one is bob's, recorded as switched.
        app.rest("GET", "/api/users/v1/me/sessions", &alice, None).await.assert_status(StatusCode::UNAUTHORIZED, app.label);
        let bob_menu = app.post("/api/whoami", &[], Some(&bob)).await.json();
        assert_eq!(bob_menu["username"], "bob");
        let bob_switches = app.post("/api/account_switches", &[], Some(&bob)).await.json();
        assert_eq!(bob_switches, json!(["alice"]), "[{}] either side's menu", app.label);
        let sessions = app.post("/api/list_sessions", &[], Some(&bob)).await.json();
        assert_eq!(sessions[0]["switched_from"], "alice", "[{}] {sessions}", app.label);

        // And back, without a password.
        let back = app.post("/api/switch_account", &[("username", "alice")], Some(&bob)).await;
        back.assert_status(StatusCode::OK, app.label);
        let alice = back.session_cookie().unwrap();

        // A password change of either account leaves the association.
        let hash = server::password::hash_password("a brand new passphrase".into()).await;
        server::users::set_password(&app.db, &server::users::Username::parse("bob").unwrap(), &hash).await.unwrap();
        assert_eq!(usernames(&app.rest("GET", ASSOCIATIONS, &alice, None).await), ["bob"], "[{}]", app.label);

        // A locked account is refused, and so is one whose association was
        // removed meanwhile (another tab).
        for _ in 0..5 {
            app.post("/api/sign_in", &[("username", "bob"), ("password", "wrong wrong")], None).await;
        }
        let locked = app.post("/api/switch_account", &[("username", "bob")], Some(&alice)).await;
        locked.assert_status(StatusCode::FORBIDDEN, app.label);
        assert!(locked.body.contains("locked"), "{}", locked.body);
        app.rest("DELETE", &format!("{ASSOCIATIONS}/bob"), &alice, None).await.assert_status(StatusCode::NO_CONTENT, app.label);
        let gone = app.post("/api/switch_account", &[("username", "bob")], Some(&alice)).await;
        gone.assert_status(StatusCode::NOT_FOUND, app.label);
        // Refusals leave the current session as it was.
        assert_eq!(app.post("/api/whoami", &[], Some(&alice)).await.json()["username"], "alice");
        // Nor can one switch to an account never associated.
        let stranger = app.post("/api/switch_account", &[("username", "nobody")], Some(&alice)).await;
        stranger.assert_status(StatusCode::NOT_FOUND, app.label);
    }
}

per_database! {
    async fn removing_an_account_removes_its_associations_and_the_export_lists_them(app) {
        app.add_user("alice", PASSWORD).await;
        app.add_user("bob", PASSWORD).await;
        app.add_user("carol", PASSWORD).await;
        let alice = app.sign_in("alice", PASSWORD).await;
        associate(&app, &alice, "bob", PASSWORD).await.assert_status(StatusCode::CREATED, app.label);
        associate(&app, &alice, "carol", PASSWORD).await.assert_status(StatusCode::CREATED, app.label);
        let export = app.rest("GET", "/api/identity/user/v1.0/me", &alice, None).await.json();
        assert_eq!(export["linkedAccounts"], json!([
            { "kind": "local", "username": "carol" }, { "kind": "local", "username": "bob" }
        ]), "[{}] newest first", app.label);

        let bob = server::users::Username::parse("bob").unwrap();
        assert!(server::users::remove(&app.db, &bob).await.unwrap());
        assert_eq!(usernames(&app.rest("GET", ASSOCIATIONS, &alice, None).await), ["carol"], "[{}]", app.label);
        app.rest("DELETE", ASSOCIATIONS, &alice, None).await.assert_status(StatusCode::NO_CONTENT, app.label);
        assert!(usernames(&app.rest("GET", ASSOCIATIONS, &alice, None).await).is_empty());
    }
}
