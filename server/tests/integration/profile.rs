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

// SCIM 2.0: `/scim2/Me`.

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// If-Match, content type, body; then the status, `scimType` and part of the
/// detail expected.
type PatchCase<'a> = (
    Option<&'a str>,
    &'a str,
    String,
    StatusCode,
    Option<&'a str>,
    &'a str,
);

/// A same-origin SCIM PATCH with the session cookie.
async fn scim_patch(
    app: &TestApp,
    cookie: &str,
    if_match: Option<&str>,
    content_type: &str,
    body: String,
) -> Reply {
    let mut request = http::Request::patch("/scim2/Me")
        .header(http::header::ORIGIN, app.config.public_origin())
        .header(http::header::COOKIE, cookie)
        .header(http::header::CONTENT_TYPE, content_type);
    if let Some(tag) = if_match {
        request = request.header(http::header::IF_MATCH, tag);
    }
    app.send(request.body(axum::body::Body::from(body)).unwrap())
        .await
}

fn operations(operations: serde_json::Value) -> String {
    serde_json::json!({ "schemas": [PATCH_OP], "Operations": operations }).to_string()
}

per_database! {
    async fn scim_me_is_the_profile_as_a_scim_user(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        update(&app, &cookie, &EVERY_FIELD, "1").await.assert_status(StatusCode::OK, app.label);
        let reply = app.get("/scim2/Me", Some(&cookie)).await;
        reply.assert_status(StatusCode::OK, app.label);
        assert_eq!(reply.header("content-type"), Some("application/scim+json"));
        assert_eq!(reply.header("etag"), Some("W/\"2\""), "[{}]", app.label);
        let me = reply.json();
        assert_eq!(me["userName"], "ada");
        assert_eq!(me["name"]["givenName"], "Ada");
        assert_eq!(me["name"]["familyName"], "Lovelace");
        assert_eq!(me["name"]["formatted"], "Ada Lovelace");
        assert_eq!(me["emails"], serde_json::json!([{"value": "ada@example.com", "type": "work", "primary": true}]));
        assert_eq!(
            me["phoneNumbers"],
            serde_json::json!([
                {"value": "+442079460000", "type": "work"},
                {"value": "+447911123456", "type": "mobile"},
            ])
        );
        assert_eq!(me["ims"], serde_json::json!([{"value": "ada@im.example"}]));
        assert_eq!(me["profileUrl"], "https://ada.example.com");
        assert_eq!(me["addresses"][0]["country"], "GB");
        let enterprise = &me["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
        assert_eq!(enterprise["organization"], "Analytical Engines");
        assert_eq!(enterprise["department"], "Mathematics");
        assert_eq!(me["meta"]["version"], "W/\"2\"");
        assert_eq!(me["meta"]["resourceType"], "User");
        // The id is the stable, random subject of ID tokens, never the username.
        let id = me["id"].as_str().unwrap().to_string();
        assert_eq!(id.len(), 32, "[{}] {id}", app.label);
        let again = app.get("/scim2/Me", Some(&cookie)).await.json();
        assert_eq!(again["id"], id.as_str());
        // A client holding the current version is told nothing changed.
        let if_none_match = |tag: &'static str| {
            app.send(
                http::Request::get("/scim2/Me")
                    .header(http::header::COOKIE, &cookie)
                    .header(http::header::IF_NONE_MATCH, tag)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
        };
        let unchanged = if_none_match("W/\"2\"").await;
        unchanged.assert_status(StatusCode::NOT_MODIFIED, app.label);
        assert_eq!(unchanged.header("etag"), Some("W/\"2\""));
        assert!(unchanged.body.is_empty(), "[{}]", app.label);
        if_none_match("W/\"1\", \"7\"").await.assert_status(StatusCode::OK, app.label);
        if_none_match("*").await.assert_status(StatusCode::NOT_MODIFIED, app.label);
    }
}

per_database! {
    async fn scim_patch_changes_what_the_profile_page_shows(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let body = operations(serde_json::json!([
            {"op": "add", "path": "name.givenName", "value": "Ada"},
            {"op": "replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+447911123456"},
            {"op": "add", "path": "emails", "value": [{"value": "ada@example.com", "primary": true}]},
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Mathematics"},
            {"op": "replace", "value": {
                "profileUrl": "https://ada.example.com",
                "addresses": [{"type": "work", "country": "gb"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"organization": "Analytical Engines"},
            }},
        ]));
        let reply = scim_patch(&app, &cookie, Some("W/\"1\""), "application/scim+json", body).await;
        reply.assert_status(StatusCode::OK, app.label);
        assert_eq!(reply.header("etag"), Some("W/\"2\""), "[{}]", app.label);
        assert_eq!(reply.json()["phoneNumbers"][0]["value"], "+447911123456");
        let loaded = app.post("/api/get_profile", &[], Some(&cookie)).await.json();
        let claims = &loaded["claims"];
        assert_eq!(claims["first_name"], "Ada", "[{}]", app.label);
        assert_eq!(claims["mobile"], "+447911123456");
        assert_eq!(claims["email"], "ada@example.com");
        assert_eq!(claims["department"], "Mathematics");
        assert_eq!(claims["organization"], "Analytical Engines");
        assert_eq!(claims["url"], "https://ada.example.com");
        // Checked and stored as the page stores it: the country's code in capitals.
        assert_eq!(claims["country"], "GB");
        assert_eq!(loaded["version"], 2);

        // Removing an attribute clears it; without If-Match the change applies
        // to the profile as it is.
        let body = operations(serde_json::json!([
            {"op": "remove", "path": "phoneNumbers[type eq \"mobile\"]"},
            {"op": "remove", "path": "name"},
        ]));
        let reply = scim_patch(&app, &cookie, None, "application/scim+json", body).await;
        reply.assert_status(StatusCode::OK, app.label);
        let me = reply.json();
        assert!(me.get("phoneNumbers").is_none() && me.get("name").is_none(), "[{}] {me}", app.label);
        assert_eq!(me["emails"][0]["value"], "ada@example.com");
        let page = app.get("/profile", Some(&cookie)).await;
        assert!(page.body.contains("Analytical Engines") && !page.body.contains("+447911123456"), "[{}]", app.label);
    }
}

per_database! {
    async fn scim_patch_says_what_is_wrong_and_changes_nothing(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        update(&app, &cookie, &[("department", "Mathematics")], "1").await.assert_status(StatusCode::OK, app.label);
        let scim = "application/scim+json";
        // A filter nested deeper than any real one is refused as it is read,
        // before anything recurses over it.
        let nested = format!(
            "emails[{}type eq \"work\"{}]",
            "not (".repeat(5000),
            ")".repeat(5000)
        );
        let cases: Vec<PatchCase> = vec![
            // A good operation beside a bad one: neither applies.
            (None, scim, operations(serde_json::json!([
                {"op": "replace", "path": "department", "value": "Poetry"},
            ])), StatusCode::BAD_REQUEST, Some("invalidPath"), "This account has no attribute department"),
            (None, scim, operations(serde_json::json!([
                {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Poetry"},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ada-at-example"},
            ])), StatusCode::BAD_REQUEST, Some("invalidValue"), "emails[type eq \\\"work\\\"].value: Enter an email address such as name@example.com."),
            (None, scim, operations(serde_json::json!([
                {"op": "replace", "path": "userName", "value": "eve"},
            ])), StatusCode::BAD_REQUEST, Some("mutability"), "userName cannot be changed here"),
            (None, scim, operations(serde_json::json!([
                {"op": "replace", "path": "password", "value": "a new password"},
            ])), StatusCode::BAD_REQUEST, Some("mutability"), "POST /api/users/v1/me/change-password"),
            (None, scim, operations(serde_json::json!([
                {"op": "replace", "path": "phoneNumbers[type eq \"fax\"].value", "value": "+442079460000"},
            ])), StatusCode::BAD_REQUEST, Some("noTarget"), "No element of phoneNumbers matches [type eq \\\"fax\\\"]"),
            (None, scim, operations(serde_json::json!([
                {"op": "remove", "path": "phoneNumbers[value gt \"+4\"]"},
            ])), StatusCode::BAD_REQUEST, Some("invalidFilter"), "use eq, ne, co, sw, ew or pr"),
            (None, scim, operations(serde_json::json!([
                {"op": "replace", "path": "name.givenName", "value": ["Ada"]},
            ])), StatusCode::BAD_REQUEST, Some("invalidValue"), "name.givenName (First Name) must be a string."),
            (None, scim, operations(serde_json::json!([
                {"op": "replace", "path": "emails[", "value": "ada@example.com"},
            ])), StatusCode::BAD_REQUEST, Some("invalidSyntax"), "invalid SCIM path"),
            (None, scim, serde_json::json!({"Operations": []}).to_string(), StatusCode::BAD_REQUEST, Some("invalidSyntax"), "missing field `schemas`"),
            (None, scim, serde_json::json!({"schemas": [PATCH_OP], "Operations": []}).to_string(), StatusCode::BAD_REQUEST, Some("invalidSyntax"), "nothing to change"),
            (None, scim, operations(serde_json::json!([
                {"op": "remove", "path": nested},
            ])), StatusCode::BAD_REQUEST, Some("invalidSyntax"), "filter nesting depth exceeds maximum of 64"),
            (None, scim, "{not json".into(), StatusCode::BAD_REQUEST, Some("invalidSyntax"), "The body is not a SCIM PatchOp request"),
            (None, "text/plain", operations(serde_json::json!([
                {"op": "replace", "path": "name.givenName", "value": "Eve"},
            ])), StatusCode::UNSUPPORTED_MEDIA_TYPE, None, "Content-Type: application/scim+json"),
            // Another tab saved version 2 meanwhile.
            (Some("W/\"1\""), scim, operations(serde_json::json!([
                {"op": "replace", "path": "name.givenName", "value": "Eve"},
            ])), StatusCode::PRECONDITION_FAILED, None, "changed since the version in If-Match"),
        ];
        for (if_match, content_type, body, status, scim_type, detail) in cases {
            let reply = scim_patch(&app, &cookie, if_match, content_type, body.clone()).await;
            reply.assert_status(status, app.label);
            let error = reply.json();
            assert_eq!(error["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "[{}] {body}", app.label);
            assert_eq!(error["status"], status.as_str());
            assert_eq!(error["scimType"].as_str(), scim_type, "[{}] {body}: {error}", app.label);
            assert!(reply.body.contains(detail), "[{}] {body}: {}", app.label, reply.body);
        }
        let loaded = app.post("/api/get_profile", &[], Some(&cookie)).await.json();
        assert_eq!(loaded["version"], 2, "[{}] nothing saved", app.label);
        assert_eq!(loaded["claims"]["department"], "Mathematics");
        assert_eq!(loaded["claims"]["first_name"], "");
    }
}

per_database! {
    async fn scim_refuses_other_sites_and_strangers(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let stranger = app.get("/scim2/Me", None).await;
        stranger.assert_status(StatusCode::UNAUTHORIZED, app.label);
        assert_eq!(stranger.json()["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
        let request = http::Request::patch("/scim2/Me")
            .header(http::header::ORIGIN, "https://evil.example")
            .header(http::header::COOKIE, &cookie)
            .header(http::header::CONTENT_TYPE, "application/scim+json")
            .body(axum::body::Body::from(operations(serde_json::json!([
                {"op": "replace", "path": "name.givenName", "value": "Eve"},
            ]))))
            .unwrap();
        let cross_site = app.send(request).await;
        cross_site.assert_status(StatusCode::FORBIDDEN, app.label);
        assert_eq!(cross_site.json()["status"], "403");
        let loaded = app.post("/api/get_profile", &[], Some(&cookie)).await.json();
        assert_eq!(loaded["version"], 1, "[{}]", app.label);
    }
}

per_database! {
    async fn scim_put_replaces_the_profile_and_ignores_what_is_read_only(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        update(&app, &cookie, &EVERY_FIELD, "1").await.assert_status(StatusCode::OK, app.label);
        let put = |body: serde_json::Value| {
            let request = http::Request::put("/scim2/Me")
                .header(http::header::ORIGIN, app.config.public_origin())
                .header(http::header::COOKIE, &cookie)
                .header(http::header::CONTENT_TYPE, "application/scim+json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap();
            app.send(request)
        };
        let user = "urn:ietf:params:scim:schemas:core:2.0:User";
        // Mistakes first: each changes nothing.
        let renamed = put(serde_json::json!({"schemas": [user], "userName": "eve"})).await;
        renamed.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert_eq!(renamed.json()["scimType"], "mutability");
        let no_schema = put(serde_json::json!({"name": {"givenName": "Grace"}})).await;
        no_schema.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert!(no_schema.body.contains("schemas must list"), "[{}] {}", app.label, no_schema.body);
        let bad_email = put(serde_json::json!({"schemas": [user], "emails": [{"value": "grace"}]})).await;
        bad_email.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert!(bad_email.body.contains("Enter an email address"), "[{}] {}", app.label, bad_email.body);
        let loaded = app.post("/api/get_profile", &[], Some(&cookie)).await.json();
        assert_eq!(loaded["version"], 2, "[{}] nothing saved", app.label);

        let reply = put(serde_json::json!({
            "schemas": [user],
            "id": "not-this-id",
            "userName": "ada",
            "name": {"givenName": "Grace"},
            "emails": [{"value": "grace@example.com", "type": "work"}],
            "roles": [{"value": "Administrator"}],
            "meta": {"version": "W/\"99\""},
        }))
        .await;
        reply.assert_status(StatusCode::OK, app.label);
        let me = reply.json();
        assert_ne!(me["id"], "not-this-id");
        assert_eq!(me["name"], serde_json::json!({"givenName": "Grace", "formatted": "Grace"}));
        assert!(me.get("roles").is_none(), "[{}] roles are the operator's: {me}", app.label);
        let claims = app.post("/api/get_profile", &[], Some(&cookie)).await.json()["claims"].clone();
        assert_eq!(claims["email"], "grace@example.com", "[{}]", app.label);
        // What the replacement left out is cleared.
        for cleared in ["last_name", "organization", "country", "telephone", "mobile", "im", "url", "department"] {
            assert_eq!(claims[cleared], "", "[{}] {cleared}", app.label);
        }
    }
}

per_database! {
    async fn scim_answers_only_the_attributes_asked_for(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        update(&app, &cookie, &EVERY_FIELD, "1").await.assert_status(StatusCode::OK, app.label);
        let only = app
            .get("/scim2/Me?attributes=name.givenName,emails.value,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", Some(&cookie))
            .await;
        only.assert_status(StatusCode::OK, app.label);
        let me = only.json();
        let mut members: Vec<&String> = me.as_object().unwrap().keys().collect();
        members.sort();
        assert_eq!(
            members,
            ["emails", "id", "meta", "name", "schemas", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "[{}] {me}",
            app.label
        );
        assert_eq!(me["name"], serde_json::json!({"givenName": "Ada"}));
        assert_eq!(me["emails"], serde_json::json!([{"value": "ada@example.com"}]));
        assert_eq!(
            me["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            serde_json::json!({"department": "Mathematics"})
        );
        let but = app.get("/scim2/Me?excludedAttributes=phoneNumbers,name.formatted,id,ims", Some(&cookie)).await.json();
        assert!(but.get("ims").is_none() && but.get("phoneNumbers").is_none(), "[{}] {but}", app.label);
        assert_eq!(but["name"], serde_json::json!({"givenName": "Ada", "familyName": "Lovelace"}));
        assert!(but["id"].is_string(), "[{}] id is always returned", app.label);
        assert_eq!(but["emails"][0]["value"], "ada@example.com");
        // An empty list selects nothing away.
        let empty = app.get("/scim2/Me?attributes=", Some(&cookie)).await.json();
        assert_eq!(empty["userName"], "ada", "[{}] {empty}", app.label);
        let both = app.get("/scim2/Me?attributes=name&excludedAttributes=meta", Some(&cookie)).await;
        both.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert!(both.body.contains("not both"), "[{}] {}", app.label, both.body);
        let nonsense = app.get("/scim2/Me?attributes=name..x", Some(&cookie)).await;
        nonsense.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert!(nonsense.body.contains("is not an attribute name"), "[{}] {}", app.label, nonsense.body);
    }
}

per_database! {
    async fn scim_discovery_describes_what_me_serves(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        update(&app, &cookie, &EVERY_FIELD, "1").await.assert_status(StatusCode::OK, app.label);
        let me = app.get("/scim2/Me", Some(&cookie)).await.json();
        // Discovery needs no session: it describes the service, not a user.
        let config = app.get("/scim2/ServiceProviderConfig", None).await;
        config.assert_status(StatusCode::OK, app.label);
        assert_eq!(config.header("content-type"), Some("application/scim+json"));
        let config = config.json();
        assert_eq!(config["patch"]["supported"], true);
        assert_eq!(config["etag"]["supported"], true);
        assert_eq!(config["filter"]["supported"], false);
        let types = app.get("/scim2/ResourceTypes", None).await.json();
        assert_eq!(types["totalResults"], 1);
        assert_eq!(types["Resources"][0]["endpoint"], "/Me");
        assert_eq!(app.get("/scim2/ResourceTypes/User", None).await.json(), types["Resources"][0]);
        // Every attribute /Me answers is described, with what may change.
        let schemas = app.get("/scim2/Schemas", None).await.json();
        let user = &schemas["Resources"][0];
        assert_eq!(user["id"], "urn:ietf:params:scim:schemas:core:2.0:User");
        let described: std::collections::BTreeSet<&str> = user["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        let answered: std::collections::BTreeSet<&str> = me
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|k| !["schemas", "id", "meta"].contains(k) && !k.starts_with("urn:"))
            .collect();
        // Ada has every claim but no role.
        let unanswered: Vec<&str> = described.difference(&answered).copied().collect();
        assert_eq!(unanswered, ["roles"], "[{}] {me}", app.label);
        assert!(answered.is_subset(&described), "[{}] {me}", app.label);
        let attribute = |name: &str| {
            user["attributes"].as_array().unwrap().iter().find(|a| a["name"] == name).unwrap().clone()
        };
        assert_eq!(attribute("roles")["mutability"], "readOnly");
        assert_eq!(attribute("userName")["mutability"], "immutable");
        let phone_types = attribute("phoneNumbers")["subAttributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "type")
            .unwrap()["canonicalValues"]
            .clone();
        assert_eq!(phone_types, serde_json::json!(["work", "mobile"]));
        let enterprise = app
            .get("/scim2/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", None)
            .await
            .json();
        assert_eq!(enterprise, schemas["Resources"][1]);
        let enterprise_answered: Vec<&String> = me["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        let enterprise_described: Vec<&str> = enterprise["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert_eq!(enterprise_answered.len(), enterprise_described.len());
        for unknown in ["/scim2/Schemas/urn:example:Group", "/scim2/ResourceTypes/Group"] {
            let reply = app.get(unknown, None).await;
            reply.assert_status(StatusCode::NOT_FOUND, app.label);
            assert_eq!(reply.json()["status"], "404", "[{}] {unknown}", app.label);
        }
    }
}

/// The Python interpreter of the SCIM client's environment (PyPI
/// scim2-client, installed by scripts/test.sh); `None` when it is not
/// installed and the peers are not required.
fn scim_client_python() -> Option<String> {
    let python = format!(
        "{}/.cache/selfserve/scim-client/bin/python",
        std::env::var("HOME").unwrap_or_default()
    );
    if std::path::Path::new(&python).exists() {
        return Some(python);
    }
    assert!(
        std::env::var("TEST_REQUIRE_PEERS").is_err(),
        "TEST_REQUIRE_PEERS is set but the SCIM client is not installed at {python}"
    );
    eprintln!("skipped: the SCIM client is not installed (run scripts/test.sh)");
    None
}

per_database! {
    multi_thread async fn scim_an_independent_client_discovers_reads_and_changes_the_profile(app) with config { test_config(ORIGIN) } {
        let Some(python) = scim_client_python() else { return };
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let address = app.listen().await;
        let cookie_for_client = cookie.clone();
        // On a blocking thread: the runtime keeps serving the client meanwhile.
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new(python)
                .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../end2end/scim/client.py"))
                .arg(format!("http://{address}"))
                .arg(ORIGIN)
                .arg("ada")
                .env("SCIM_COOKIE", &cookie_for_client)
                .output()
        })
        .await
        .unwrap()
        .expect("the SCIM client runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "[{}] the SCIM client failed:\n{stderr}", app.label);
        let final_resource: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        // What the client was last told is what the profile page holds.
        let claims = app.post("/api/get_profile", &[], Some(&cookie)).await.json()["claims"].clone();
        assert_eq!(claims["first_name"], "Grace", "[{}]", app.label);
        assert_eq!(claims["last_name"], "Lovelace");
        assert_eq!(claims["mobile"], "+447911123457");
        assert_eq!(claims["im"], "");
        assert_eq!(claims["department"], "Compilers");
        assert_eq!(final_resource["name"]["givenName"], claims["first_name"]);
        let page = app.get("/profile", Some(&cookie)).await;
        assert!(page.body.contains("Compilers"), "[{}]", app.label);
    }
}
