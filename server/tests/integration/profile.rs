//! My Profile through the router: round trip, validation, conflicts, escaping.

use crate::common::*;
use http::StatusCode;

fn profile_form<'a>(fields: &[(&'a str, &'a str)], version: &'a str) -> Vec<(String, &'a str)> {
    let mut form: Vec<(String, &str)> = fields
        .iter()
        .map(|(k, v)| (format!("input[{k}]"), *v))
        .collect();
    form.push(("version".into(), version));
    form
}

async fn update(app: &TestApp, cookie: &str, fields: &[(&str, &str)], version: &str) -> Reply {
    let form = profile_form(fields, version);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    app.post("/api/update_profile", &pairs, Some(cookie)).await
}

const EVERY_FIELD: [(&str, &str); 10] = [
    ("first_name", "Ada"),
    ("last_name", "Lovelace"),
    ("organization", "Analytical Engines"),
    ("country", "GB"),
    ("email", "ada@example.com"),
    ("telephone", "+442079460000"),
    ("mobile", "+447911123456"),
    ("im", "ada@im.example"),
    ("url", "https://ada.example.com"),
    ("department", "Mathematics"),
];

per_database! {
    async fn every_field_round_trips(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let reply = update(&app, &cookie, &EVERY_FIELD, "1").await;
        reply.assert_status(StatusCode::OK, app.label);
        let saved = reply.json();
        assert_eq!(saved["version"], 2);
        let loaded = app.post("/api/get_profile", &[], Some(&cookie)).await;
        let loaded = loaded.json();
        for (field, value) in EVERY_FIELD {
            assert_eq!(loaded["claims"][field], value, "[{}] {field}", app.label);
        }
        // The page shows them too, rendered on the server.
        let page = app.get("/profile", Some(&cookie)).await;
        assert!(page.body.contains("Analytical Engines"), "[{}]", app.label);
    }
}

per_database! {
    async fn invalid_fields_are_named_and_nothing_is_saved(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let long_name = "x".repeat(101);
        let bad = [
            ("first_name", "Ada"),
            ("email", "ada-at-example"),
            ("mobile", "+1 555"),
            ("url", "javascript:alert(1)"),
            ("country", "ZZ"),
            ("last_name", long_name.as_str()),
        ];
        let reply = update(&app, &cookie, &bad, "1").await;
        reply.assert_status(StatusCode::BAD_REQUEST, app.label);
        for field in ["email", "mobile", "url", "country", "last_name"] {
            assert!(
                reply.body.contains(&format!("\"field\":\"{field}\"")),
                "[{}] {field}: {}",
                app.label,
                reply.body
            );
        }
        let loaded = app.post("/api/get_profile", &[], Some(&cookie)).await;
        let loaded = loaded.json();
        assert_eq!(
            loaded["claims"]["first_name"], "",
            "[{}] nothing saved",
            app.label
        );
        assert_eq!(loaded["version"], 1);
    }
}

per_database! {
    async fn a_stale_version_is_a_conflict_not_an_overwrite(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        // Two tabs load version 1; the first saves.
        let first = update(&app, &cookie, &[("department", "Engines")], "1").await;
        assert_eq!(first.status, StatusCode::OK);
        let second = update(&app, &cookie, &[("department", "Poetry")], "1").await;
        second.assert_status(StatusCode::CONFLICT, app.label);
        assert!(second.body.contains("Conflict"));
        let loaded = app.post("/api/get_profile", &[], Some(&cookie)).await;
        assert!(
            loaded.body.contains("Engines") && !loaded.body.contains("Poetry"),
            "[{}]",
            app.label
        );
    }
}

per_database! {
    async fn markup_is_stored_as_typed_and_shown_as_text(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let script = "<script>alert('x')</script>";
        let reply = update(&app, &cookie, &[("department", script)], "1").await;
        assert_eq!(reply.status, StatusCode::OK, "[{}]", app.label);
        let loaded = app.post("/api/get_profile", &[], Some(&cookie)).await;
        let loaded = loaded.json();
        assert_eq!(loaded["claims"]["department"], script);
        let page = app.get("/profile", Some(&cookie)).await;
        assert!(
            !page.body.contains(script),
            "[{}] raw markup in the page",
            app.label
        );
        assert!(page.body.contains("&lt;script&gt;"), "[{}]", app.label);
    }
}

per_database! {
    async fn role_cannot_be_set_by_the_user(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let reply = update(
            &app,
            &cookie,
            &[("department", "Ops"), ("role", "admin")],
            "1",
        )
        .await;
        assert_ne!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        let loaded = app.post("/api/get_profile", &[], Some(&cookie)).await;
        let loaded = loaded.json();
        assert_eq!(loaded["role"], "", "[{}]", app.label);
    }
}

per_database! {
    async fn profile_needs_a_session(app) {
        let reply = app.post("/api/get_profile", &[], None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "[{}]", app.label);
    }
}

per_database! {
    async fn a_user_deletes_their_own_account_with_their_password(app) {
        let ada = app.add_user("ada", PASSWORD).await;
        app.add_user("bob", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let other_browser = app.sign_in("ada", PASSWORD).await;
        app.post(
            "/api/associate_account",
            &[("username", "bob"), ("password", PASSWORD)],
            Some(&cookie),
        )
        .await
        .assert_status(StatusCode::OK, app.label);

        // No password, or a wrong one, changes nothing.
        let empty = app.post("/api/delete_account", &[], Some(&cookie)).await;
        assert_eq!(empty.status, StatusCode::BAD_REQUEST, "[{}] {}", app.label, empty.body);
        assert!(empty.body.contains("Enter your current password."), "{}", empty.body);
        let wrong = app
            .post("/api/delete_account", &[("password", "not ada's password")], Some(&cookie))
            .await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "[{}] {}", app.label, wrong.body);
        assert!(wrong.body.contains("Your current password is incorrect."), "{}", wrong.body);
        let page = app.get("/profile", Some(&cookie)).await;
        page.assert_status(StatusCode::OK, app.label);
        // Offered by default: the page has the form.
        assert!(page.body.contains("id=\"delete_password\""), "[{}] {}", app.label, page.body);
        assert!(!page.body.contains("Ask your administrator"), "[{}]", app.label);

        // The right one deletes the account, and this browser's cookie with it.
        let deleted = app
            .post("/api/delete_account", &[("password", PASSWORD)], Some(&cookie))
            .await;
        deleted.assert_status(StatusCode::OK, app.label);
        assert!(
            deleted
                .set_cookies()
                .iter()
                .any(|c| c.starts_with("selfserve_session=;")),
            "[{}] the session cookie is cleared: {:?}",
            app.label,
            deleted.set_cookies()
        );
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE id = $1")
            .bind(ada)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        assert_eq!(left, 0, "[{}]", app.label);
        // Both of her sessions ended: her pages ask to sign in.
        for session in [&cookie, &other_browser] {
            let page = app.get("/profile", Some(session)).await;
            assert_eq!(page.status, StatusCode::SEE_OTHER, "[{}]", app.label);
            assert_eq!(page.header("location"), Some("/signin"));
        }
        // Her name now answers as an unknown one.
        let again = app
            .post("/api/sign_in", &[("username", "ada"), ("password", PASSWORD)], None)
            .await;
        assert_eq!(again.status, StatusCode::UNAUTHORIZED, "[{}]", app.label);
        assert!(again.body.contains("InvalidCredentials"), "{}", again.body);
        // Bob keeps his account, without the association.
        let bob = app.sign_in("bob", PASSWORD).await;
        let associations = app
            .rest("GET", "/api/users/v1/me/associations", &bob, None)
            .await
            .json();
        assert_eq!(associations, serde_json::json!([]), "[{}]", app.label);
    }
}

per_database! {
    async fn where_the_operator_keeps_deletion_the_page_says_whom_to_ask_and_nothing_is_deleted(app) with config {
        let mut config = test_config(ORIGIN);
        config.accounts.self_deletion = false;
        config
    } {
        let ada = app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        assert_eq!(
            app.post("/api/account_deletion_offered", &[], Some(&cookie)).await.json(),
            false,
            "[{}]",
            app.label
        );

        // The page has no deletion form; it says whom to ask instead.
        let page = app.get("/profile", Some(&cookie)).await;
        page.assert_status(StatusCode::OK, app.label);
        assert!(page.body.contains("Ask your administrator to delete it."), "[{}]", app.label);
        assert!(!page.body.contains("id=\"delete_password\""), "[{}] no password field", app.label);

        // The right password is refused too, and the account stays.
        let refused = app
            .post("/api/delete_account", &[("password", PASSWORD)], Some(&cookie))
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "[{}] {}", app.label, refused.body);
        assert!(refused.body.contains("Ask your administrator"), "{}", refused.body);
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE id = $1")
            .bind(ada)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        assert_eq!(left, 1, "[{}]", app.label);
        app.get("/profile", Some(&cookie))
            .await
            .assert_status(StatusCode::OK, app.label);
    }
}
