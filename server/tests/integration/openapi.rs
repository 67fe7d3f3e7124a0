//! The published OpenAPI document stays in step with the code: the served
//! document equals the committed `server/openapi.json`, and every path in it
//! is routed. Regenerate the file with `UPDATE_OPENAPI=1 cargo test --release -p server --features app/ssr -- openapi::`.

use crate::common::*;
use http::StatusCode;

#[tokio::test]
async fn the_committed_document_matches_the_code() {
    let generated = server::openapi::document();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(path, format!("{generated}\n")).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert_eq!(
        committed.trim_end(),
        generated,
        "server/openapi.json is out of date: run UPDATE_OPENAPI=1 cargo test --release -p server --features app/ssr -- openapi::"
    );
}

per_database! {
    async fn every_documented_operation_is_served(app) {
        let doc: serde_json::Value = serde_json::from_str(&server::openapi::document()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.contains_key("/api/users/v1/me/sessions"));
        assert!(paths.contains_key("/api/identity/user/v1.0/me"));
        let served = app.get("/api/openapi.json", None).await;
        assert_eq!(served.status, StatusCode::OK);
        assert_eq!(served.body, server::openapi::document());
        app.add_user("alice", PASSWORD).await;
        for (path, operations) in paths {
            // An endless stream: events.rs opens and reads it.
            if path == "/api/events" {
                continue;
            }
            for method in operations.as_object().unwrap().keys() {
                // A fresh session each time: the collection DELETE ends them all.
                let cookie = app.sign_in("alice", PASSWORD).await;
                let uri = path.replace("{session-id}", "0123456789abcdef0123456789abcdef");
                let reply = app
                    .send(
                        http::Request::builder()
                            .method(method.to_uppercase().as_str())
                            .uri(&uri)
                            .header("origin", ORIGIN)
                            .header("cookie", &cookie)
                            .body(axum::body::Body::empty())
                            .unwrap(),
                    )
                    .await;
                let documented = operations[method]["responses"]
                    .as_object()
                    .unwrap()
                    .contains_key(reply.status.as_str());
                assert!(
                    documented,
                    "[{}] {method} {uri} answered {} which is not documented",
                    app.label, reply.status
                );
            }
        }
    }
}

/// The check every REST answer passes (`common/specs.rs`) does find a
/// wrong shape, and is not fooled by our known deviations.
#[test]
fn answers_are_checked_against_the_wso2_specs() {
    use crate::common::specs::problems;
    let sessions = "/api/users/v1/me/sessions";
    assert!(!problems("GET", sessions, 200, r#"{"userId": 7, "sessions": "none"}"#).is_empty());
    assert!(problems("GET", sessions, 200, r#"{"userId": "ada", "sessions": []}"#).is_empty());
    let tasks = "/api/users/v1/me/approval-tasks";
    let blocked = r#"[{"id": "1", "status": "BLOCKED"}]"#;
    assert!(
        problems("GET", tasks, 200, blocked).is_empty(),
        "BLOCKED is a known addition"
    );
    let unknown = r#"[{"id": "1", "status": "SLEEPING"}]"#;
    assert!(!problems("GET", tasks, 200, unknown).is_empty());
    // SCIM: `schemas` is a list, as the RFCs (not WSO2's file) say; the rest
    // of the file still holds.
    let user =
        r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "meta": {}}"#;
    assert!(problems("GET", "/scim2/Me", 200, user).is_empty());
    let no_meta = r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1"}"#;
    assert!(!problems("GET", "/scim2/Me", 200, no_meta).is_empty());
    let error = r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400", "detail": "x"}"#;
    assert!(problems("PATCH", "/scim2/Me", 400, error).is_empty());
    let numeric_status = r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": 400, "detail": "x"}"#;
    assert!(!problems("PATCH", "/scim2/Me", 400, numeric_status).is_empty());
    // SCIM discovery: a ListResponse and RFC 7643's spelling of the enums;
    // anything else the file says still holds.
    let schema = |kind: &str| {
        format!(
            r#"{{"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "Resources": [{{"id": "urn:x", "attributes": [{{"name": "a", "type": "{kind}", "mutability": "readWrite"}}]}}]}}"#
        )
    };
    assert!(problems("GET", "/scim2/Schemas", 200, &schema("string")).is_empty());
    assert!(!problems("GET", "/scim2/Schemas", 200, &schema("text")).is_empty());
    let unique = |value: &str| {
        format!(
            r#"{{"Resources": [{{"id": "urn:x", "attributes": [{{"name": "a", "uniqueness": "{value}"}}]}}]}}"#
        )
    };
    assert!(problems("GET", "/scim2/Schemas", 200, &unique("server")).is_empty());
    assert!(!problems("GET", "/scim2/Schemas", 200, &unique("everywhere")).is_empty());
    let numeric_name = r#"{"Resources": [{"id": "urn:x", "name": 7}]}"#;
    assert!(!problems("GET", "/scim2/Schemas", 200, numeric_name).is_empty());
}
