//! Findings of probing the running server as an attacker and a careless
//! user would, each kept fixed by a test (README, "Security").

use crate::common::*;
use axum::body::Body;
use http::{header, Request, StatusCode};

per_database! {
    async fn a_dot_in_an_id_does_not_skip_the_session(app) {
        app.add_user("alice", PASSWORD).await;
        let cookie = app.sign_in("alice", PASSWORD).await;
        for (method, path) in [
            ("GET", "/api/users/v1/me/approval-tasks/1.0"),
            ("DELETE", "/api/users/v1/me/sessions/x.y"),
        ] {
            let reply = app.rest(method, path, &cookie, None).await;
            // Signed in, so "not found", never "not signed in".
            reply.assert_status(StatusCode::NOT_FOUND, app.label);
        }
    }
}

per_database! {
    async fn signing_in_with_a_stale_cookie_keeps_the_new_session(app) {
        app.add_user("alice", PASSWORD).await;
        let stale = app.sign_in("alice", PASSWORD).await;
        sqlx::query("DELETE FROM sessions")
            .execute(&app.db.pool)
            .await
            .unwrap();
        let reply = app
            .send(
                Request::post("/api/sign_in")
                    .header(header::ORIGIN, ORIGIN)
                    .header(header::COOKIE, &stale)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(encode(&[
                        ("username", "alice"),
                        ("password", PASSWORD),
                    ])))
                    .unwrap(),
            )
            .await;
        let session_cookies: Vec<String> = reply
            .set_cookies()
            .into_iter()
            .filter(|c| c.starts_with("selfserve_session="))
            .collect();
        assert_eq!(session_cookies.len(), 1, "[{}] {session_cookies:?}", app.label);
        let fresh = reply.session_cookie().unwrap();
        assert_ne!(fresh, stale);
        assert_eq!(app.get("/", Some(&fresh)).await.status, StatusCode::OK);
    }
}

per_database! {
    async fn a_session_in_use_outlives_a_short_idle_timeout(app) with config {
        let mut config = test_config(ORIGIN);
        config.session.idle_timeout_minutes = 1;
        config
    } {
        app.add_user("alice", PASSWORD).await;
        let cookie = app.sign_in("alice", PASSWORD).await;
        // Last used 40 s ago: less than half the minute is left.
        let forty_seconds_ago = server::time::now_ms() - 40_000;
        sqlx::query("UPDATE sessions SET last_active_at = $1")
            .bind(forty_seconds_ago)
            .execute(&app.db.pool)
            .await
            .unwrap();
        assert_eq!(app.get("/", Some(&cookie)).await.status, StatusCode::OK);
        let last_active: i64 = sqlx::query_scalar("SELECT last_active_at FROM sessions")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        assert!(last_active > forty_seconds_ago, "[{}] the use was recorded", app.label);
    }
}

per_database! {
    async fn https_deployments_send_strict_transport_security(app) with config {
        test_config("https://id.example.com")
    } {
        let reply = app.get("/signin", None).await;
        assert_eq!(
            reply.header("strict-transport-security"),
            Some("max-age=63072000; includeSubDomains")
        );
        let plain = app.with_config(test_config(ORIGIN));
        assert_eq!(plain.get("/signin", None).await.header("strict-transport-security"), None);
    }
}

per_database! {
    async fn an_oversized_body_is_refused_before_it_is_read(app) {
        app.add_user("alice", PASSWORD).await;
        let cookie = app.sign_in("alice", PASSWORD).await;
        let huge = "a".repeat(300 * 1024);
        for path in ["/api/update_profile", "/api/identity/consent-mgt/v1.0/consents"] {
            let reply = app
                .send(
                    Request::post(path)
                        .header(header::ORIGIN, ORIGIN)
                        .header(header::COOKIE, &cookie)
                        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .header(header::CONTENT_LENGTH, huge.len())
                        .body(Body::from(huge.clone()))
                        .unwrap(),
                )
                .await;
            reply.assert_status(StatusCode::PAYLOAD_TOO_LARGE, app.label);
            assert_eq!(reply.json()["code"], "SSV-41301", "{path}");
            // The same body without a declared length is cut off while read.
            let reply = app
                .send(
                    Request::post(path)
                        .header(header::ORIGIN, ORIGIN)
                        .header(header::COOKIE, &cookie)
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from(huge.clone()))
                        .unwrap(),
                )
                .await;
            reply.assert_status(StatusCode::PAYLOAD_TOO_LARGE, app.label);
            assert_eq!(reply.json()["code"], "SSV-41301", "{path}");
        }
    }
}

per_database! {
    async fn a_malformed_query_string_answers_with_the_error_body(app) {
        app.add_user("alice", PASSWORD).await;
        let cookie = app.sign_in("alice", PASSWORD).await;
        let reply = app
            .rest("GET", "/api/users/v1/me/sessions?limit=-5", &cookie, None)
            .await;
        reply.assert_status(StatusCode::BAD_REQUEST, app.label);
        let body = reply.json();
        assert_eq!(body["code"], "SSV-40001");
        assert!(body["traceId"].is_string());
    }
}

per_database! {
    async fn only_the_trusted_proxys_entry_is_the_client_address(app) with config {
        let mut config = test_config(ORIGIN);
        config.trusted_proxies = 1;
        config
    } {
        app.add_user("alice", PASSWORD).await;
        let sign_in = |forwarded: &'static str| {
            app.send(
                Request::post("/api/sign_in")
                    .header(header::ORIGIN, ORIGIN)
                    .header("x-forwarded-for", forwarded)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(encode(&[
                        ("username", "alice"),
                        ("password", PASSWORD),
                    ])))
                    .unwrap(),
            )
        };
        // The client's own claim (6.6.6.6) is ignored; the proxy's is kept.
        let cookie = sign_in("6.6.6.6, 203.0.113.7").await.session_cookie().unwrap();
        sign_in("<script>alert(1)</script>").await.session_cookie().unwrap();
        let listed = app.rest("GET", "/api/users/v1/me/sessions", &cookie, None).await;
        let ips: Vec<String> = listed.json()["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["ip"].as_str().unwrap().to_string())
            .collect();
        assert!(ips.contains(&"203.0.113.7".to_string()), "[{}] {ips:?}", app.label);
        assert!(!ips.iter().any(|ip| ip.contains("6.6.6.6") || ip.contains('<')), "{ips:?}");
    }
}

per_database! {
    async fn look_alike_and_compatibility_usernames_are_refused(app) {
        app.add_user("bob", PASSWORD).await;
        let register = |username: &'static str| {
            let app = &app;
            async move {
                let form = [
                    ("username", username),
                    ("password", PASSWORD),
                    ("confirm", PASSWORD),
                    ("attributes[email]", "someone@example.com"),
                    ("consents[p1-email]", "on"),
                ];
                app.post("/api/register", &form, None).await
            }
        };
        // "bоb" with a Cyrillic о looks exactly like bob.
        let cyrillic = register("b\u{43e}b").await;
        cyrillic.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert!(cyrillic.body.contains("taken"), "{}", cyrillic.body);
        // Full-width letters are the same name once normalised.
        let wide = register("ｂｏｂ").await;
        wide.assert_status(StatusCode::BAD_REQUEST, app.label);
        // A different name is fine, and signing in with the full-width form of
        // an existing name finds it.
        register("rob").await.assert_status(StatusCode::OK, app.label);
        app.sign_in("ｂｏｂ", PASSWORD).await;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        assert_eq!(count, 2, "[{}] bob and rob only", app.label);
    }
}

per_database! {
    async fn invisible_and_direction_characters_are_refused_in_text_people_read(app) with config {
        crate::consent::config()
    } {
        app.add_user("alice", PASSWORD).await;
        let cookie = app.sign_in("alice", PASSWORD).await;
        let form = [
            ("input[first_name]", "Ali\u{202e}ecnA"),
            ("version", "1"),
        ];
        let reply = app.post("/api/update_profile", &form, Some(&cookie)).await;
        reply.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert!(reply.body.contains("text-direction"), "{}", reply.body);

        let consent = serde_json::json!({
            "services": [{"service": "shop", "purposes": [{"purposeId": 10, "piiCategory": [{"piiCategoryId": 5}]}]}],
            "collectionMethod": "web\u{1b}[31m form\r\nInjected: yes",
        });
        let reply = app
            .rest(
                "POST",
                "/api/identity/consent-mgt/v1.0/consents",
                &cookie,
                Some(consent),
            )
            .await;
        reply.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert!(reply.body.contains("collectionMethod"), "{}", reply.body);
        let receipts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM consent_receipts")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        assert_eq!(receipts, 0, "[{}] nothing recorded", app.label);
    }
}

/// Browsers abandon page loads all the time (the user clicks on). A render
/// dropped half-way used to deadlock a runtime thread in Leptos' reactive
/// graph (vendor/reactive_graph/PATCHED.md): after enough of them the
/// server could neither serve nor stop. It could also make one of the
/// render's own tasks panic on a value already disposed; renders now run to
/// their end (server/src/renders.rs). Two runtime threads, as on the
/// project's machine; loads of every page given up at random moments; then
/// no render may have panicked, the page must still render and the runtime
/// must stop at once.
#[test]
fn pages_abandoned_mid_render_leave_no_thread_stuck() {
    use rand::Rng;
    use std::time::{Duration, Instant};
    use tower::ServiceExt;
    // Every dashboard page a signed-in user can open.
    const PAGES: [&str; 10] = [
        "/",
        "/profile",
        "/password",
        "/recovery",
        "/sessions",
        "/consent",
        "/approvals",
        "/apps",
        "/associations",
        "/mfa",
    ];

    // Counted from every thread; the test's own threads only ever panic to fail.
    static DISPOSED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.to_string().contains("already been disposed") {
            DISPOSED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        previous(info);
    }));

    let (finished, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let status = runtime.block_on(async {
            let app = TestApp::sqlite(test_config(ORIGIN)).await;
            app.add_user("ada", PASSWORD).await;
            let cookie = app.sign_in("ada", PASSWORD).await;
            let until = Instant::now() + Duration::from_secs(4);
            let visitors: Vec<_> = (0..32)
                .map(|_| {
                    let router = app.router.clone();
                    let cookie = cookie.clone();
                    tokio::spawn(async move {
                        let mut abandoned = 0u32;
                        while Instant::now() < until {
                            let page = PAGES[abandoned as usize % PAGES.len()];
                            let request = Request::get(page)
                                .header(header::COOKIE, &cookie)
                                .body(Body::empty())
                                .unwrap();
                            let patience =
                                Duration::from_micros(rand::thread_rng().gen_range(0..3000));
                            let load = router.clone().oneshot(request);
                            if tokio::time::timeout(patience, load).await.is_err() {
                                abandoned += 1;
                            }
                        }
                        abandoned
                    })
                })
                .collect();
            let mut abandoned = 0;
            for visitor in visitors {
                abandoned += visitor.await.unwrap();
            }
            assert!(abandoned > 100, "only {abandoned} loads were given up");
            app.get("/sessions", Some(&cookie)).await.status
        });
        // Before the runtime stops: stopping drops whatever is still running.
        let disposed = DISPOSED.load(std::sync::atomic::Ordering::SeqCst);
        let stopping = Instant::now();
        runtime.shutdown_timeout(Duration::from_secs(10));
        let _ = finished.send((status, stopping.elapsed(), disposed));
    });
    // A stuck thread may leave no runtime thread to finish the test with.
    let (status, stopping, disposed) = outcome
        .recv_timeout(Duration::from_secs(120))
        .expect("the runtime's threads are stuck: the page loads never finished");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(disposed, 0, "renders given up half-way panicked");
    assert!(
        stopping < Duration::from_secs(5),
        "stopping the runtime took {stopping:?}: a runtime thread is stuck"
    );
}
