//! Change Password through the router, by the page's form and by the REST
//! API: policy, wrong current password, session rotation and signing out
//! other devices.

use crate::common::*;
use http::StatusCode;

const NEW: &str = "a brand new passphrase for ada";

async fn change(app: &TestApp, cookie: &str, current: &str, new: &str, others: bool) -> Reply {
    let mut form = vec![
        ("current", current),
        ("new_password", new),
        ("confirm", new),
    ];
    if others {
        form.push(("sign_out_others", "on"));
    }
    app.post("/api/change_password", &form, Some(cookie)).await
}

/// What a change that signs out other devices leaves, whether the page or
/// the REST API made it: this browser on a new session, both old cookies
/// signed out, and only the new password signing in.
async fn assert_changed_everywhere(
    app: &TestApp,
    reply: &Reply,
    this_device: &str,
    other_device: &str,
) {
    let rotated = reply.session_cookie().expect("a new session cookie");
    assert_ne!(rotated, this_device);
    assert_eq!(
        app.get("/profile", Some(&rotated)).await.status,
        StatusCode::OK
    );
    for old in [this_device, other_device] {
        assert_eq!(
            app.get("/profile", Some(old)).await.status,
            StatusCode::SEE_OTHER,
            "[{}]",
            app.label
        );
    }
    assert_eq!(app.session_count().await, 1, "[{}]", app.label);
    app.sign_in("ada", NEW).await;
    let old = app
        .post(
            "/api/sign_in",
            &[("username", "ada"), ("password", PASSWORD)],
            None,
        )
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED, "[{}]", app.label);
}

/// What a change that keeps other devices leaves: the other device still
/// signed in, this browser's old cookie signed out.
async fn assert_other_device_kept(app: &TestApp, this_device: &str, other_device: &str) {
    assert_eq!(
        app.get("/profile", Some(other_device)).await.status,
        StatusCode::OK,
        "[{}]",
        app.label
    );
    assert_eq!(
        app.get("/profile", Some(this_device)).await.status,
        StatusCode::SEE_OTHER,
        "[{}]",
        app.label
    );
}

per_database! {
    async fn policy_refuses_weak_passwords_and_the_username(app) {
        app.add_user("ada.lovelace", PASSWORD).await;
        let cookie = app.sign_in("ada.lovelace", PASSWORD).await;
        for weak in ["password1", "short", "Ada.Lovelace", "qwertyuiop"] {
            let reply = change(&app, &cookie, PASSWORD, weak, true).await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "[{}] {weak}",
                app.label
            );
            assert!(reply.body.contains("new_password"), "{}", reply.body);
        }
        let long: String = "river cedar mill ".repeat(5).chars().take(80).collect();
        let reply = change(&app, &cookie, PASSWORD, &long, true).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "[{}] 80 characters accepted: {}",
            app.label,
            reply.body
        );
    }
}

per_database! {
    async fn mismatched_confirmation_is_refused(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let form = [
            ("current", PASSWORD),
            ("new_password", NEW),
            ("confirm", "something else"),
        ];
        let reply = app.post("/api/change_password", &form, Some(&cookie)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "[{}]", app.label);
        assert!(reply.body.contains("confirm"));
        app.sign_in("ada", PASSWORD).await;
    }
}

per_database! {
    async fn wrong_current_password_counts_as_a_failed_sign_in(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let mut statuses = Vec::new();
        for _ in 0..5 {
            statuses.push(
                change(&app, &cookie, "not my password", NEW, true)
                    .await
                    .status,
            );
        }
        assert_eq!(
            statuses[..4],
            [StatusCode::BAD_REQUEST; 4],
            "[{}]",
            app.label
        );
        assert_eq!(
            statuses[4],
            StatusCode::TOO_MANY_REQUESTS,
            "[{}]",
            app.label
        );
        // The account is now locked for sign-in too, and the password unchanged.
        let reply = app
            .post(
                "/api/sign_in",
                &[("username", "ada"), ("password", PASSWORD)],
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    }
}

per_database! {
    async fn success_rotates_the_session_and_signs_out_other_devices(app) {
        app.add_user("ada", PASSWORD).await;
        let other_device = app.sign_in("ada", PASSWORD).await;
        let this_device = app.sign_in("ada", PASSWORD).await;
        let reply = change(&app, &this_device, PASSWORD, NEW, true).await;
        reply.assert_status(StatusCode::OK, app.label);
        assert_changed_everywhere(&app, &reply, &this_device, &other_device).await;
    }
}

per_database! {
    async fn other_devices_can_stay_signed_in(app) {
        app.add_user("ada", PASSWORD).await;
        let other_device = app.sign_in("ada", PASSWORD).await;
        let this_device = app.sign_in("ada", PASSWORD).await;
        let reply = change(&app, &this_device, PASSWORD, NEW, false).await;
        assert_eq!(reply.status, StatusCode::OK, "[{}]", app.label);
        assert_other_device_kept(&app, &this_device, &other_device).await;
    }
}

per_database! {
    async fn strength_feedback_follows_the_policy(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let weak = app
            .post(
                "/api/password_strength",
                &[("candidate", "password")],
                Some(&cookie),
            )
            .await;
        let weak = weak.json();
        assert_eq!(weak["acceptable"], false, "[{}]", app.label);
        let strong = app
            .post(
                "/api/password_strength",
                &[("candidate", "violet lantern drifts over quiet harbour")],
                Some(&cookie),
            )
            .await;
        let strong = strong.json();
        assert_eq!(strong["acceptable"], true);
        assert_eq!(strong["score"], 4);
    }
}

const REST: &str = "/api/users/v1/me/change-password";

async fn change_by_rest(app: &TestApp, cookie: &str, body: serde_json::Value) -> Reply {
    app.rest("POST", REST, cookie, Some(body)).await
}

per_database! {
    async fn the_rest_api_changes_the_password_and_replaces_the_session(app) {
        app.add_user("ada", PASSWORD).await;
        let other_device = app.sign_in("ada", PASSWORD).await;
        let this_device = app.sign_in("ada", PASSWORD).await;
        let reply = change_by_rest(
            &app,
            &this_device,
            serde_json::json!({ "currentPassword": PASSWORD, "newPassword": NEW }),
        )
        .await;
        reply.assert_status(StatusCode::NO_CONTENT, app.label);
        // Other sessions end by default, as the page's box is checked.
        assert_changed_everywhere(&app, &reply, &this_device, &other_device).await;
    }
}

per_database! {
    async fn the_rest_api_keeps_other_sessions_when_asked(app) {
        app.add_user("ada", PASSWORD).await;
        let other_device = app.sign_in("ada", PASSWORD).await;
        let this_device = app.sign_in("ada", PASSWORD).await;
        let reply = change_by_rest(
            &app,
            &this_device,
            serde_json::json!({
                "currentPassword": PASSWORD,
                "newPassword": NEW,
                "signOutOtherSessions": false,
            }),
        )
        .await;
        reply.assert_status(StatusCode::NO_CONTENT, app.label);
        assert_other_device_kept(&app, &this_device, &other_device).await;
    }
}

per_database! {
    async fn the_rest_api_says_what_is_wrong_and_changes_nothing(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let cases = [
            (
                serde_json::json!({ "currentPassword": "not my password", "newPassword": NEW }),
                "Your current password is incorrect.",
            ),
            (
                serde_json::json!({ "currentPassword": PASSWORD, "newPassword": "password1" }),
                "too common or too easy to guess",
            ),
            (
                serde_json::json!({ "currentPassword": PASSWORD, "newPassword": "ada" }),
                "Use at least",
            ),
            (
                serde_json::json!({ "currentPassword": PASSWORD, "newPassword": PASSWORD }),
                "different from your current one",
            ),
            (
                serde_json::json!({ "currentPassword": PASSWORD }),
                "newPassword",
            ),
        ];
        for (body, says) in cases {
            let reply = change_by_rest(&app, &cookie, body.clone()).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "[{}] {body}", app.label);
            let error = reply.json();
            assert_eq!(error["code"], "SSV-40001", "[{}] {body}", app.label);
            assert!(
                error["description"].as_str().unwrap_or_default().contains(says),
                "[{}] {body}: {error}",
                app.label
            );
            assert!(reply.session_cookie().is_none(), "[{}] {body}", app.label);
        }
        // The session still works and the password is the old one.
        assert_eq!(app.get("/profile", Some(&cookie)).await.status, StatusCode::OK);
        app.sign_in("ada", PASSWORD).await;
        // Wrong passwords count as failed sign-ins (that sign-in cleared the
        // count): the fifth locks.
        let mut statuses = Vec::new();
        for _ in 0..5 {
            let wrong = serde_json::json!({ "currentPassword": "still wrong", "newPassword": NEW });
            statuses.push(change_by_rest(&app, &cookie, wrong).await.status);
        }
        assert_eq!(
            statuses,
            [
                StatusCode::BAD_REQUEST,
                StatusCode::BAD_REQUEST,
                StatusCode::BAD_REQUEST,
                StatusCode::BAD_REQUEST,
                StatusCode::TOO_MANY_REQUESTS
            ],
            "[{}]",
            app.label
        );
    }
}

per_database! {
    async fn the_rest_api_refuses_other_sites_and_strangers(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let body = serde_json::json!({ "currentPassword": PASSWORD, "newPassword": NEW });
        let cross_site = app
            .send(
                http::Request::post(REST)
                    .header(http::header::ORIGIN, "https://evil.example")
                    .header(http::header::COOKIE, &cookie)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(axum::body::Body::from(body.to_string()))
                    .unwrap(),
            )
            .await;
        assert_eq!(cross_site.status, StatusCode::FORBIDDEN, "[{}]", app.label);
        let stranger = change_by_rest(&app, "selfserve_session=nothing", body).await;
        assert_eq!(stranger.status, StatusCode::UNAUTHORIZED, "[{}]", app.label);
        app.sign_in("ada", PASSWORD).await;
    }
}

per_database! {
    async fn the_page_says_when_the_password_was_last_changed(app) {
        let id = app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let changed = |cookie: String| {
            let app = &app;
            async move {
                let status = app.post("/api/password_status", &[], Some(&cookie)).await;
                status.assert_status(StatusCode::OK, app.label);
                status.json()["changed"]["ms"].as_i64()
            }
        };
        let created = changed(cookie.clone()).await.expect("recorded at creation");
        assert!(server::time::now_ms() - created < 60_000, "[{}]", app.label);

        // As if set long ago: a refused change leaves the date, a change moves it.
        let set_at = |at: Option<i64>| {
            sqlx::query("UPDATE users SET password_changed_at = $1 WHERE id = $2")
                .bind(at)
                .bind(id)
                .execute(&app.db.pool)
        };
        set_at(Some(1_000)).await.unwrap();
        let refused = change(&app, &cookie, "not the password", NEW, false).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "[{}]", app.label);
        assert_eq!(changed(cookie.clone()).await, Some(1_000));
        let reply = change(&app, &cookie, PASSWORD, NEW, false).await;
        reply.assert_status(StatusCode::OK, app.label);
        let cookie = reply.session_cookie().expect("a new session");
        assert!(changed(cookie.clone()).await.unwrap() >= created, "[{}]", app.label);
        let page = app.get("/password", Some(&cookie)).await;
        assert!(page.body.contains("Your password was last changed"), "[{}]", app.label);

        // Set before the date was recorded: the page says nothing of when.
        set_at(None).await.unwrap();
        assert_eq!(changed(cookie.clone()).await, None);
        let page = app.get("/password", Some(&cookie)).await;
        assert!(!page.body.contains("last changed"), "[{}]", app.label);
    }
}
