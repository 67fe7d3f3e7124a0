//! Personal information export (`userInfo.json`), on SQLite and PostgreSQL.

use crate::common::*;
use http::StatusCode;

per_database! {
    async fn export_holds_every_profile_field_and_no_secret(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let fields = [
            ("first_name", "Ada"),
            ("last_name", "Lovelace"),
            ("organization", "Engines"),
            ("country", "GB"),
            ("email", "ada@example.com"),
            ("telephone", "+442079460000"),
            ("mobile", "+447911123456"),
            ("im", "ada@im.example"),
            ("url", "https://ada.example.com"),
            ("department", "Mathematics"),
        ];
        let mut form: Vec<(String, &str)> = fields
            .iter()
            .map(|(k, v)| (format!("input[{k}]"), *v))
            .collect();
        form.push(("version".into(), "1"));
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(
            app.post("/api/update_profile", &pairs, Some(&cookie))
                .await
                .status,
            StatusCode::OK
        );

        let reply = app.get("/api/identity/user/v1.0/me", Some(&cookie)).await;
        reply.assert_status(StatusCode::OK, app.label);
        assert_eq!(
            reply.header("content-disposition"),
            Some("attachment; filename=\"userInfo.json\"")
        );
        assert!(reply
            .header("content-type")
            .unwrap()
            .starts_with("application/json"));
        let doc = reply.json();
        let basic = &doc["basic"];
        let claim = |name: &str| {
            basic[format!("http://wso2.org/claims/{name}")]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(claim("username"), "ada");
        assert_eq!(claim("givenname"), "Ada");
        assert_eq!(claim("lastname"), "Lovelace");
        assert_eq!(claim("organization"), "Engines");
        assert_eq!(claim("country"), "GB");
        assert_eq!(claim("emailaddress"), "ada@example.com");
        assert_eq!(claim("telephone"), "+442079460000");
        assert_eq!(claim("mobile"), "+447911123456");
        assert_eq!(claim("im"), "ada@im.example");
        assert_eq!(claim("url"), "https://ada.example.com");
        assert_eq!(claim("department"), "Mathematics");
        assert!(claim("created").ends_with('Z'), "{}", claim("created"));
        assert_eq!(doc["consents"], serde_json::json!([]));
        assert_eq!(doc["security"]["challengeQuestions"], serde_json::json!([]));
        let changed = doc["security"]["passwordChanged"].as_str().unwrap_or_default();
        assert!(changed.ends_with('Z') && changed.contains('T'), "[{}] {changed:?}", app.label);
        assert_eq!(doc["sessions"].as_array().unwrap().len(), 1);
        assert_eq!(doc["sessions"][0]["current"], true);

        // No secrets and no internal identifiers.
        let token = cookie.split_once('=').unwrap().1;
        let hash: String = {
            use sqlx::Row;
            sqlx::query("SELECT password_hash FROM users")
                .fetch_one(&app.db.pool)
                .await
                .unwrap()
                .get(0)
        };
        for secret in [
            token,
            hash.as_str(),
            &server::sessions::token_hash(token),
            "$argon2",
            PASSWORD,
        ] {
            assert!(
                !reply.body.contains(secret),
                "[{}] the export leaks {secret}",
                app.label
            );
        }
        let session_id: String = {
            use sqlx::Row;
            sqlx::query("SELECT id FROM sessions")
                .fetch_one(&app.db.pool)
                .await
                .unwrap()
                .get(0)
        };
        assert!(
            !reply.body.contains(&session_id),
            "[{}] session ids stay out",
            app.label
        );
        assert!(
            !reply.body.contains("\"id\""),
            "[{}] no internal ids",
            app.label
        );
    }
}

per_database! {
    async fn export_needs_a_session(app) {
        let reply = app.get("/api/identity/user/v1.0/me", None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "[{}]", app.label);
    }
}
