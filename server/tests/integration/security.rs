//! CSRF refusal, page guarding, session expiry and security headers.

use crate::common::*;
use axum::body::Body;
use http::{header, Request, StatusCode};

fn sign_in_request(origin_headers: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::post("/api/sign_in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (k, v) in origin_headers {
        request = request.header(*k, *v);
    }
    request
        .body(Body::from(encode(&[
            ("username", "alice"),
            ("password", PASSWORD),
        ])))
        .unwrap()
}

per_database! {
    async fn cross_origin_state_changes_are_refused(app) {
        app.add_user("alice", PASSWORD).await;
        let refused = [
            vec![("origin", "https://evil.example")],
            vec![("sec-fetch-site", "cross-site"), ("origin", ORIGIN)],
            vec![("sec-fetch-site", "same-site")],
            vec![],
        ];
        for headers in refused {
            let reply = app.send(sign_in_request(&headers)).await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "[{}] {headers:?}",
                app.label
            );
            assert!(reply.session_cookie().is_none());
        }
        assert_eq!(app.session_count().await, 0, "[{}]", app.label);

        // A cross-origin request carrying a valid session cookie is refused too.
        let cookie = app.sign_in("alice", PASSWORD).await;
        let reply = app
            .send(
                Request::post("/api/update_profile")
                    .header(header::ORIGIN, "https://evil.example")
                    .header(header::COOKIE, &cookie)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from("input%5Bfirst_name%5D=Mallory&version=1"))
                    .unwrap(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        let profile = app.post("/api/get_profile", &[], Some(&cookie)).await;
        assert!(!profile.body.contains("Mallory"), "[{}]", app.label);

        // The same origin, by either header, is accepted.
        let ok = app
            .send(sign_in_request(&[("sec-fetch-site", "same-origin")]))
            .await;
        assert_eq!(
            ok.header("location"),
            Some("/"),
            "[{}] {}",
            app.label,
            ok.status
        );
        assert!(ok.session_cookie().is_some());
    }
}

per_database! {
    async fn pages_need_a_session_and_carry_security_headers(app) {
        for path in ["/", "/profile", "/password"] {
            let reply = app.get(path, None).await;
            assert_eq!(
                reply.status,
                StatusCode::SEE_OTHER,
                "[{}] {path}",
                app.label
            );
            assert_eq!(reply.header("location"), Some("/signin"));
        }
        let page = app.get("/signin", None).await;
        assert_eq!(page.status, StatusCode::OK);
        let csp = page
            .header("content-security-policy")
            .unwrap_or_default()
            .to_string();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("'nonce-"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        // The nonce in the header is the one on the page's scripts.
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .unwrap()
            .split('\'')
            .next()
            .unwrap();
        assert!(
            page.body.contains(&format!("nonce=\"{nonce}\"")),
            "scripts carry the nonce"
        );
        assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(page.header("x-frame-options"), Some("DENY"));
        assert_eq!(page.header("cache-control"), Some("no-store"));

        let health = app.get("/healthz", None).await;
        assert_eq!(health.status, StatusCode::OK, "[{}]", app.label);
        assert_eq!(health.body, "ok");
    }
}

per_database! {
    async fn a_signed_in_user_skips_the_sign_in_page(app) {
        app.add_user("alice", PASSWORD).await;
        let cookie = app.sign_in("alice", PASSWORD).await;
        let reply = app.get("/signin", Some(&cookie)).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}]", app.label);
        assert_eq!(reply.header("location"), Some("/"));
    }
}

per_database! {
    async fn idle_and_absolute_expiry_end_sessions(app) {
        app.add_user("alice", PASSWORD).await;
        let idle = app.sign_in("alice", PASSWORD).await;
        let absolute = app.sign_in("alice", PASSWORD).await;
        let live = app.sign_in("alice", PASSWORD).await;
        let hash = |pair: &str| server::sessions::token_hash(pair.split_once('=').unwrap().1);
        let long_ago = server::time::now_ms() - 31 * 60_000;
        sqlx::query("UPDATE sessions SET last_active_at = $1 WHERE token_hash = $2")
            .bind(long_ago)
            .bind(hash(&idle))
            .execute(&app.db.pool)
            .await
            .unwrap();
        sqlx::query("UPDATE sessions SET expires_at = $1 WHERE token_hash = $2")
            .bind(server::time::now_ms() - 1)
            .bind(hash(&absolute))
            .execute(&app.db.pool)
            .await
            .unwrap();
        for expired in [&idle, &absolute] {
            let reply = app.get("/profile", Some(expired)).await;
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}]", app.label);
            assert!(reply.set_cookies().iter().any(|c| c.contains("Max-Age=0")));
        }
        assert_eq!(
            app.get("/profile", Some(&live)).await.status,
            StatusCode::OK
        );
        // The expired rows are gone, whether by look-up or by the periodic job.
        server::sessions::delete_expired(&app.db, &app.config)
            .await
            .unwrap();
        assert_eq!(app.session_count().await, 1, "[{}]", app.label);
    }
}

per_database! {
    async fn every_api_error_has_the_json_body_and_its_trace_id_names_the_request(app) {
        app.add_user("alice", PASSWORD).await;
        let cookie = app.sign_in("alice", PASSWORD).await;
        // Refused by the request guard, before any handler.
        let csrf = app
            .send(
                Request::delete("/api/users/v1/me/sessions")
                    .header(header::ORIGIN, "https://evil.example")
                    .header(header::COOKIE, &cookie)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        // Answered by a handler.
        let missing = app
            .rest("DELETE", "/api/users/v1/me/sessions/no-such-session", &cookie, None)
            .await;
        for (reply, status) in [(csrf, StatusCode::FORBIDDEN), (missing, StatusCode::NOT_FOUND)] {
            reply.assert_status(status, app.label);
            let body = reply.json();
            for field in ["code", "message", "description", "traceId"] {
                assert!(body[field].is_string(), "[{}] {field}: {body}", app.label);
            }
            let request_id = reply.header("x-request-id").unwrap_or_default().to_string();
            assert_eq!(request_id.len(), 32, "[{}]", app.label);
            assert_eq!(body["traceId"], request_id.as_str(), "[{}]", app.label);
        }
        assert_eq!(app.session_count().await, 1, "the refused request changed nothing");
    }
}

/// A path or method the router does not know, under the APIs: the API's own
/// error body, saying what to do, not the pages' not-found page or nothing.
#[tokio::test]
async fn routing_refusals_under_the_apis_come_in_the_apis_error_shape() {
    let app = TestApp::sqlite(test_config(ORIGIN)).await;
    app.add_user("ada", PASSWORD).await;
    let cookie = app.sign_in("ada", PASSWORD).await;
    let send = |method: &str, path: &str| {
        app.send(
            Request::builder()
                .method(method)
                .uri(path)
                .header(header::ORIGIN, ORIGIN)
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
    };
    let unknown = send("GET", "/api/users/v1/me/nothing").await;
    unknown.assert_status(StatusCode::NOT_FOUND, app.label);
    assert_eq!(unknown.json()["code"], "SSV-40401");
    assert!(unknown.json()["description"]
        .as_str()
        .unwrap()
        .contains("/api/openapi.json"));

    let no_users = send("GET", "/scim2/Users").await;
    no_users.assert_status(StatusCode::NOT_FOUND, app.label);
    assert_eq!(
        no_users.header("content-type"),
        Some("application/scim+json")
    );
    assert_eq!(no_users.json()["status"], "404");
    assert!(no_users.json()["detail"]
        .as_str()
        .unwrap()
        .contains("/scim2/Me"));

    let patch_sessions = send("PATCH", "/api/users/v1/me/sessions").await;
    patch_sessions.assert_status(StatusCode::METHOD_NOT_ALLOWED, app.label);
    assert_eq!(patch_sessions.json()["code"], "SSV-40501");
    assert_eq!(patch_sessions.header("allow"), Some("GET,HEAD,DELETE"));

    // Deleting the account through SCIM says where it is done instead, and
    // deletes nothing.
    let delete_me = send("DELETE", "/scim2/Me").await;
    delete_me.assert_status(StatusCode::METHOD_NOT_ALLOWED, app.label);
    assert_eq!(delete_me.json()["status"], "405");
    assert!(delete_me.json()["detail"]
        .as_str()
        .unwrap()
        .contains("Delete your account"));
    send("GET", "/scim2/Me")
        .await
        .assert_status(StatusCode::OK, app.label);

    // Pages keep theirs.
    let page = send("GET", "/no-such-page").await;
    page.assert_status(StatusCode::NOT_FOUND, app.label);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
}
