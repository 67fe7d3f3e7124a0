//! My Login Sessions and its REST API (`/api/users/v1/me/sessions`), on
//! SQLite and PostgreSQL.

use crate::common::*;
use axum::body::Body;
use http::{header, Request, StatusCode};

const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";

async fn list(app: &TestApp, cookie: &str) -> serde_json::Value {
    let reply = app
        .rest("GET", "/api/users/v1/me/sessions", cookie, None)
        .await;
    reply.assert_status(StatusCode::OK, app.label);
    reply.json()
}

async fn sign_in_with_agent(app: &TestApp, username: &str, agent: &str) -> String {
    let reply = app
        .send(
            Request::post("/api/sign_in")
                .header(header::ORIGIN, ORIGIN)
                .header(header::USER_AGENT, agent)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(encode(&[
                    ("username", username),
                    ("password", PASSWORD),
                ])))
                .unwrap(),
        )
        .await;
    reply.session_cookie().expect("signed in")
}

per_database! {
    async fn a_user_sees_only_their_own_sessions_in_the_spec_shape(app) {
        app.add_user("alice", PASSWORD).await;
        app.add_user("bob", PASSWORD).await;
        let first = sign_in_with_agent(&app, "alice", FIREFOX_LINUX).await;
        let second = app.sign_in("alice", PASSWORD).await;
        app.sign_in("bob", PASSWORD).await;

        let doc = list(&app, &second).await;
        assert_eq!(doc["userId"], "alice", "[{}]", app.label);
        let sessions = doc["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 2, "[{}] only alice's sessions", app.label);
        for session in sessions {
            for field in [
                "id",
                "ip",
                "userAgent",
                "loginTime",
                "lastAccessTime",
                "applications",
            ] {
                assert!(
                    session.get(field).is_some(),
                    "[{}] {field} missing",
                    app.label
                );
            }
            assert!(session["loginTime"]
                .as_str()
                .unwrap()
                .parse::<i64>()
                .is_ok());
        }
        // Newest first: the second sign-in is listed first.
        assert_eq!(sessions[1]["userAgent"], FIREFOX_LINUX);
        let _ = first;

        // The page lists them with the browser read from the user agent.
        let page = app.post("/api/list_sessions", &[], Some(&second)).await;
        let views = page.json();
        let views = views.as_array().unwrap();
        assert_eq!(views.len(), 2);
        assert_eq!(views.iter().filter(|v| v["current"] == true).count(), 1);
        let firefox = views
            .iter()
            .find(|v| v["user_agent"] == FIREFOX_LINUX)
            .unwrap();
        assert_eq!(firefox["browser"], "Firefox 120", "[{}]", app.label);
        assert_eq!(firefox["os"], "Linux");
        assert_eq!(firefox["device"], "Computer");
        assert_eq!(firefox["current"], false);
    }
}

per_database! {
    async fn the_page_arrives_with_the_users_sessions_in_it(app) {
        app.add_user("alice", PASSWORD).await;
        app.add_user("bob", PASSWORD).await;
        sign_in_with_agent(&app, "alice", FIREFOX_LINUX).await;
        let alice = app.sign_in("alice", PASSWORD).await;
        let safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.0 Safari/605.1.15";
        sign_in_with_agent(&app, "bob", safari).await;

        // The server read the list before rendering: the rows are in the
        // page as sent, not left loading for the browser.
        let page = app.get("/sessions", Some(&alice)).await;
        page.assert_status(StatusCode::OK, app.label);
        assert_eq!(page.body.matches(r#"data-testid="session""#).count(), 2, "[{}]", app.label);
        assert!(page.body.contains("<strong>Firefox 120</strong> on "), "[{}]", app.label);
        assert!(page.body.contains("Terminate session: Firefox 120 on Linux"));
        assert!(page.body.contains("Terminate all other sessions"));
        assert!(!page.body.contains("Loading your sessions"));
        // Only alice's: bob's browser is nowhere in it.
        assert!(!page.body.contains("Macintosh"), "[{}]", app.label);
        // The browser hydrates from the same list, sent with the page: the
        // agent is in the row and once more in the page's data.
        assert_eq!(page.body.matches(FIREFOX_LINUX).count(), 2, "[{}]", app.label);

        // Signed out, the page is not rendered at all.
        let signed_out = app.get("/sessions", None).await;
        assert!(!signed_out.body.contains(r#"data-testid="session""#));
    }
}

per_database! {
    async fn terminating_one_session_signs_that_browser_out_at_once(app) {
        app.add_user("alice", PASSWORD).await;
        let other = app.sign_in("alice", PASSWORD).await;
        let mine = app.sign_in("alice", PASSWORD).await;
        let doc = list(&app, &mine).await;
        let other_id = doc["sessions"][1]["id"].as_str().unwrap().to_string();

        let reply = app
            .post("/api/terminate_session", &[("id", &other_id)], Some(&mine))
            .await;
        reply.assert_status(StatusCode::OK, app.label);
        let page = app.get("/profile", Some(&other)).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "[{}]", app.label);
        assert_eq!(page.header("location"), Some("/signin"));
        assert_eq!(
            app.get("/profile", Some(&mine)).await.status,
            StatusCode::OK
        );

        // Again: it is gone.
        let again = app
            .post("/api/terminate_session", &[("id", &other_id)], Some(&mine))
            .await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);
    }
}

per_database! {
    async fn terminate_all_others_keeps_only_this_session(app) {
        app.add_user("alice", PASSWORD).await;
        let a = app.sign_in("alice", PASSWORD).await;
        let b = app.sign_in("alice", PASSWORD).await;
        let mine = app.sign_in("alice", PASSWORD).await;
        let reply = app
            .post("/api/terminate_other_sessions", &[], Some(&mine))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "[{}]", app.label);
        assert_eq!(reply.body, "2");
        for ended in [&a, &b] {
            assert_eq!(
                app.get("/", Some(ended)).await.status,
                StatusCode::SEE_OTHER
            );
        }
        assert_eq!(
            list(&app, &mine).await["sessions"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}

per_database! {
    async fn another_users_session_answers_as_if_it_did_not_exist(app) {
        app.add_user("alice", PASSWORD).await;
        app.add_user("mallory", PASSWORD).await;
        let alice = app.sign_in("alice", PASSWORD).await;
        let mallory = app.sign_in("mallory", PASSWORD).await;
        let alice_id = list(&app, &alice).await["sessions"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();

        let theirs = app
            .rest(
                "DELETE",
                &format!("/api/users/v1/me/sessions/{alice_id}"),
                &mallory,
                None,
            )
            .await;
        let missing = app
            .rest(
                "DELETE",
                "/api/users/v1/me/sessions/0123456789abcdef0123456789abcdef",
                &mallory,
                None,
            )
            .await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "[{}]", app.label);
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        let strip = |body: &str| {
            let mut v: serde_json::Value = serde_json::from_str(body).unwrap();
            v.as_object_mut().unwrap().remove("traceId");
            v
        };
        assert_eq!(strip(&theirs.body), strip(&missing.body));
        assert_eq!(strip(&theirs.body)["code"], "SSV-40401");
        // Through the page's server function too.
        let page = app
            .post(
                "/api/terminate_session",
                &[("id", &alice_id)],
                Some(&mallory),
            )
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
        // Alice is still signed in.
        assert_eq!(
            app.get("/", Some(&alice)).await.status,
            StatusCode::OK,
            "[{}]",
            app.label
        );
    }
}

per_database! {
    async fn rest_deletes_one_or_all_sessions(app) {
        app.add_user("alice", PASSWORD).await;
        let other = app.sign_in("alice", PASSWORD).await;
        let mine = app.sign_in("alice", PASSWORD).await;
        let other_id = list(&app, &mine).await["sessions"][1]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let one = app
            .rest(
                "DELETE",
                &format!("/api/users/v1/me/sessions/{other_id}"),
                &mine,
                None,
            )
            .await;
        one.assert_status(StatusCode::NO_CONTENT, app.label);
        assert_eq!(
            app.get("/", Some(&other)).await.status,
            StatusCode::SEE_OTHER
        );

        // DELETE on the collection ends every session, this one included.
        app.sign_in("alice", PASSWORD).await;
        let all = app
            .rest("DELETE", "/api/users/v1/me/sessions", &mine, None)
            .await;
        assert_eq!(all.status, StatusCode::NO_CONTENT);
        assert!(all.set_cookies().iter().any(|c| c.contains("Max-Age=0")));
        assert_eq!(app.session_count().await, 0, "[{}]", app.label);
    }
}

per_database! {
    async fn rest_needs_a_session_and_the_same_origin(app) {
        app.add_user("alice", PASSWORD).await;
        let cookie = app.sign_in("alice", PASSWORD).await;
        let anonymous = app.get("/api/users/v1/me/sessions", None).await;
        assert_eq!(
            anonymous.status,
            StatusCode::UNAUTHORIZED,
            "[{}]",
            app.label
        );
        let body = anonymous.json();
        for field in ["code", "message", "description", "traceId"] {
            assert!(body.get(field).is_some(), "{field}");
        }
        let cross = app
            .send(
                Request::delete("/api/users/v1/me/sessions")
                    .header(header::ORIGIN, "https://evil.example")
                    .header(header::COOKIE, &cookie)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(cross.status, StatusCode::FORBIDDEN);
        assert_eq!(app.session_count().await, 1, "[{}]", app.label);
    }
}

per_database! {
    async fn expired_sessions_are_never_listed(app) {
        app.add_user("alice", PASSWORD).await;
        let stale = app.sign_in("alice", PASSWORD).await;
        let mine = app.sign_in("alice", PASSWORD).await;
        let hash = server::sessions::token_hash(stale.split_once('=').unwrap().1);
        sqlx::query("UPDATE sessions SET last_active_at = $1 WHERE token_hash = $2")
            .bind(server::time::now_ms() - 31 * 60_000)
            .bind(hash)
            .execute(&app.db.pool)
            .await
            .unwrap();
        // Still in the table (the cleanup job has not run), but not listed.
        assert_eq!(app.session_count().await, 2);
        let doc = list(&app, &mine).await;
        assert_eq!(
            doc["sessions"].as_array().unwrap().len(),
            1,
            "[{}]",
            app.label
        );
        let export = app.get("/api/identity/user/v1.0/me", Some(&mine)).await;
        let export = export.json();
        assert_eq!(export["sessions"].as_array().unwrap().len(), 1);
    }
}
