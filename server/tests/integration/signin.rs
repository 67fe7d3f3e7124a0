//! Sign in and sign out through the router, on SQLite and PostgreSQL.

use crate::common::*;
use http::StatusCode;
use server::throttle::Key;
use sqlx::Row;

per_database! {
    async fn right_password_starts_a_session_with_a_safe_cookie(app) {
        app.add_user("alice", PASSWORD).await;
        let reply = app
            .post(
                "/api/sign_in",
                &[("username", "Alice"), ("password", PASSWORD)],
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "[{}]", app.label);
        assert_eq!(reply.header("location"), Some("/"), "[{}]", app.label);
        let cookie = reply.set_cookies().join("\n");
        for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(flag), "[{}] {cookie}", app.label);
        }
        assert!(
            !cookie.contains("Secure"),
            "[{}] http must not set Secure",
            app.label
        );
        assert_eq!(app.session_count().await, 1, "[{}]", app.label);

        // Only the token's hash is stored.
        let pair = reply.session_cookie().unwrap();
        let token = pair.split_once('=').unwrap().1;
        assert_eq!(token.len(), 64, "256 bits as hex");
        let stored: String = sqlx::query("SELECT token_hash FROM sessions")
            .fetch_one(&app.db.pool)
            .await
            .unwrap()
            .get(0);
        assert_ne!(stored, token);
        assert_eq!(stored, server::sessions::token_hash(token));

        let home = app.get("/", Some(&pair)).await;
        assert_eq!(home.status, StatusCode::OK, "[{}]", app.label);
        assert!(home.body.contains("My Profile"), "[{}]", app.label);
    }
}

per_database! {
    async fn wrong_password_and_unknown_user_look_the_same(app) {
        app.add_user("alice", PASSWORD).await;
        let wrong = app
            .post(
                "/api/sign_in",
                &[("username", "alice"), ("password", "not the password")],
                None,
            )
            .await;
        let unknown = app
            .post(
                "/api/sign_in",
                &[("username", "nobody"), ("password", "not the password")],
                None,
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "[{}]", app.label);
        assert_eq!(wrong.status, unknown.status);
        assert_eq!(wrong.body, unknown.body);
        assert!(wrong.body.contains("InvalidCredentials"), "{}", wrong.body);
        assert!(wrong.session_cookie().is_none());
        assert_eq!(app.session_count().await, 0);
    }
}

per_database! {
    async fn five_failures_lock_the_account_and_unknown_names_alike(app) {
        app.add_user("alice", PASSWORD).await;
        for name in ["alice", "ghost"] {
            let mut statuses = Vec::new();
            for _ in 0..5 {
                let reply = app
                    .post(
                        "/api/sign_in",
                        &[("username", name), ("password", "wrong password")],
                        None,
                    )
                    .await;
                statuses.push(reply.status);
            }
            assert_eq!(
                statuses[..4],
                [StatusCode::UNAUTHORIZED; 4],
                "[{}] {name}",
                app.label
            );
            assert_eq!(
                statuses[4],
                StatusCode::TOO_MANY_REQUESTS,
                "[{}] {name}",
                app.label
            );
            // Even the right password is refused while locked.
            let reply = app
                .post(
                    "/api/sign_in",
                    &[("username", name), ("password", PASSWORD)],
                    None,
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::TOO_MANY_REQUESTS,
                "[{}] {name}",
                app.label
            );
            assert!(reply.body.contains("Throttled"));
        }
        assert_eq!(app.session_count().await, 0);

        // When the lock has passed, the right password works again; the
        // next lock would last twice as long.
        sqlx::query("UPDATE signin_throttle SET locked_until = 0 WHERE key = 'user:alice'")
            .execute(&app.db.pool)
            .await
            .unwrap();
        app.sign_in("alice", PASSWORD).await;
    }
}

per_database! {
    async fn a_right_password_clears_the_names_failures_not_the_addresss(app) {
        app.add_user("alice", PASSWORD).await;
        for _ in 0..4 {
            assert_eq!(sign_in_status(&app, "wrong password").await, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(sign_in_status(&app, PASSWORD).await, StatusCode::OK, "[{}]", app.label);
        let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM signin_throttle ORDER BY key")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
        assert_eq!(keys.len(), 1, "[{}] {keys:?}", app.label);
        assert!(keys[0].starts_with("ip:"), "[{}] {keys:?}", app.label);
        // The name counts from zero again: four more failures do not lock it.
        for _ in 0..4 {
            assert_eq!(
                sign_in_status(&app, "wrong password").await,
                StatusCode::UNAUTHORIZED,
                "[{}]",
                app.label
            );
        }
        assert_eq!(sign_in_status(&app, PASSWORD).await, StatusCode::OK, "[{}]", app.label);
    }
}

per_database! {
    async fn lock_duration_doubles(app) {
        let key = "user:carol";
        let config = &app.config;
        let mut durations = Vec::new();
        for _ in 0..2 {
            for _ in 0..5 {
                server::throttle::record_sign_in_failure(
                    &app.db,
                    config,
                    &Key::sign_in("carol"),
                    &Key::sign_in_address("test"),
                )
                .await
                .unwrap();
            }
            let row =
                sqlx::query("SELECT locked_until, updated_at FROM signin_throttle WHERE key = $1")
                    .bind(key)
                    .fetch_one(&app.db.pool)
                    .await
                    .unwrap();
            let until: i64 = row.get(0);
            let at: i64 = row.get(1);
            durations.push((until - at) / 60_000);
        }
        assert_eq!(durations, [5, 10], "[{}]", app.label);
    }
}

per_database! {
    async fn every_sign_in_gets_a_new_session(app) {
        app.add_user("alice", PASSWORD).await;
        let first = app.sign_in("alice", PASSWORD).await;
        // Signing in while presenting an existing cookie still issues a new one.
        let reply = app
            .post(
                "/api/sign_in",
                &[("username", "alice"), ("password", PASSWORD)],
                Some(&first),
            )
            .await;
        let second = reply.session_cookie().expect("new cookie");
        assert_ne!(first, second, "[{}]", app.label);
        assert_eq!(app.session_count().await, 2);
    }
}

per_database! {
    async fn sign_out_ends_the_session_on_the_server(app) {
        app.add_user("alice", PASSWORD).await;
        let cookie = app.sign_in("alice", PASSWORD).await;
        let reply = app.post("/api/sign_out", &[], Some(&cookie)).await;
        assert_eq!(reply.header("location"), Some("/signin"), "[{}]", app.label);
        assert!(reply.set_cookies().iter().any(|c| c.contains("Max-Age=0")));
        assert_eq!(app.session_count().await, 0, "[{}]", app.label);
        // The old cookie no longer opens anything.
        let page = app.get("/profile", Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(page.header("location"), Some("/signin"));
    }
}

per_database! {
    async fn https_deployments_get_secure_host_cookies(app) with config {
        test_config("https://id.example.com")
    } {
        app.add_user("alice", PASSWORD).await;
        let reply = app
            .send(
                http::Request::post("/api/sign_in")
                    .header("origin", "https://id.example.com")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(axum::body::Body::from(encode(&[
                        ("username", "alice"),
                        ("password", PASSWORD),
                    ])))
                    .unwrap(),
            )
            .await;
        let cookie = reply.set_cookies().join("\n");
        assert!(
            cookie.starts_with("__Host-selfserve_session="),
            "[{}] {cookie}",
            app.label
        );
        assert!(cookie.contains("; Secure"), "[{}] {cookie}", app.label);
    }
}

per_database! {
    async fn one_address_trying_many_names_is_throttled(app) with config {
        let mut config = test_config(ORIGIN);
        config.lockout.ip_max_failures = 3;
        config
    } {
        app.add_user("alice", PASSWORD).await;
        let mut statuses = Vec::new();
        for name in ["bob", "carol", "dave"] {
            let reply = app
                .post(
                    "/api/sign_in",
                    &[("username", name), ("password", "guess")],
                    None,
                )
                .await;
            statuses.push(reply.status);
        }
        assert_eq!(
            statuses,
            [
                StatusCode::UNAUTHORIZED,
                StatusCode::UNAUTHORIZED,
                StatusCode::TOO_MANY_REQUESTS
            ],
            "[{}]",
            app.label
        );
        // The address is locked even for an account it never tried.
        let reply = app
            .post(
                "/api/sign_in",
                &[("username", "alice"), ("password", PASSWORD)],
                None,
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::TOO_MANY_REQUESTS,
            "[{}]",
            app.label
        );
    }
}

per_database! {
    async fn idle_throttle_counters_are_pruned_after_a_day(app) {
        let config = &app.config;
        for name in ["quiet", "recent", "locked"] {
            server::throttle::record_sign_in_failure(
                &app.db,
                config,
                &Key::sign_in(name),
                &Key::sign_in_address("test"),
            )
            .await
            .unwrap();
        }
        let day_ago = server::time::now_ms() - 24 * 3_600_000 - 1_000;
        sqlx::query("UPDATE signin_throttle SET updated_at = $1 WHERE key <> 'user:recent'")
            .bind(day_ago)
            .execute(&app.db.pool)
            .await
            .unwrap();
        // A lock still running keeps its row, however old the last failure.
        sqlx::query("UPDATE signin_throttle SET locked_until = $1 WHERE key = 'user:locked'")
            .bind(server::time::now_ms() + 60_000)
            .execute(&app.db.pool)
            .await
            .unwrap();

        let pruned = server::throttle::prune(&app.db).await.unwrap();
        assert_eq!(pruned, 2, "[{}] user:quiet and ip:test", app.label);
        let rows = sqlx::query("SELECT key FROM signin_throttle ORDER BY key")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
        let keys: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(keys, ["user:locked", "user:recent"], "[{}]", app.label);
    }
}

/// The answer to alice's sign-in with `password`.
async fn sign_in_status(app: &TestApp, password: &str) -> StatusCode {
    app.post(
        "/api/sign_in",
        &[("username", "alice"), ("password", password)],
        None,
    )
    .await
    .status
}
