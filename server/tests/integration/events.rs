//! Live updates: the signed-in user's event stream through the real router:
//! what it tells, that it resumes, that it ends with its session, and its
//! limits. (`nodes.rs` sends an event from one server process to a stream
//! on another.)

use crate::common::*;
use axum::body::Body;
use http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use std::time::Duration;
use tower::ServiceExt;

/// An open event stream, read as the browser would.
struct Stream {
    body: Body,
    seen: String,
}

impl Stream {
    async fn open(
        app: &TestApp,
        cookie: &str,
        last_event_id: Option<&str>,
    ) -> Result<Stream, StatusCode> {
        let mut request = Request::get("/api/events").header(header::COOKIE, cookie);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = app
            .router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        if response.status() != StatusCode::OK {
            return Err(response.status());
        }
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/event-stream"
        );
        let mut stream = Stream {
            body: response.into_body(),
            seen: String::new(),
        };
        assert!(
            stream.until("event: ready").await,
            "the stream says it is open"
        );
        Ok(stream)
    }

    /// Reads until `needle` has arrived (true), the stream ended or 5 s
    /// passed (false).
    async fn until(&mut self, needle: &str) -> bool {
        self.until_count(needle, 1, Duration::from_secs(5)).await
    }

    /// Reads until `needle` has arrived `count` times in all (true), the
    /// stream ended or `wait` passed (false).
    async fn until_count(&mut self, needle: &str, count: usize, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        while self.seen.matches(needle).count() < count {
            match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Ok(Some(Ok(frame))) => {
                    if let Some(data) = frame.data_ref() {
                        self.seen.push_str(&String::from_utf8_lossy(data));
                    }
                }
                _ => return false,
            }
        }
        true
    }

    /// Whether the stream ends within 5 s.
    async fn ends(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Ok(None) => return true,
                Ok(Some(Ok(frame))) => {
                    if let Some(data) = frame.data_ref() {
                        self.seen.push_str(&String::from_utf8_lossy(data));
                    }
                }
                Ok(Some(Err(_))) => return true,
                Err(_) => return false,
            }
        }
    }

    /// The id of the last event seen.
    fn last_id(&self) -> Option<String> {
        self.seen
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("id: "))
            .map(String::from)
    }
}

async fn session_ids(app: &TestApp, cookie: &str) -> Vec<String> {
    app.rest("GET", "/api/users/v1/me/sessions", cookie, None)
        .await
        .json()["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

per_database! {
    async fn a_stream_tells_of_sign_ins_and_terminations_and_ends_with_its_session(app) {
        app.add_user("alice", PASSWORD).await;
        app.add_user("bob", PASSWORD).await;
        let here = app.sign_in("alice", PASSWORD).await;
        let mut stream = Stream::open(&app, &here, None).await.unwrap();

        // Bob's sign-in is not alice's business; her own second sign-in is.
        app.sign_in("bob", PASSWORD).await;
        let there = app.sign_in("alice", PASSWORD).await;
        assert!(stream.until("session-started").await, "[{}] {}", app.label, stream.seen);
        assert_eq!(stream.seen.matches("session-started").count(), 1, "[{}] {}", app.label, stream.seen);
        let there_id = session_ids(&app, &there).await.into_iter().find(|id| stream.seen.contains(id.as_str())).expect("the new session is named");

        // Terminating the other session is told as that session's end.
        app.rest("DELETE", &format!("/api/users/v1/me/sessions/{there_id}"), &here, None).await.assert_status(StatusCode::NO_CONTENT, app.label);
        assert!(stream.until(&format!("\"type\":\"session-ended\",\"session\":\"{there_id}\"")).await, "[{}] {}", app.label, stream.seen);
        assert!(!stream.seen.contains("session-over"));

        // Signing out ends the stream: the last event says so, then nothing.
        app.post("/api/sign_out", &[], Some(&here)).await;
        assert!(stream.until("event: session-over").await, "[{}] {}", app.label, stream.seen);
        assert!(stream.ends().await, "[{}] the stream closes with its session", app.label);
        // And it cannot be opened again.
        assert_eq!(Stream::open(&app, &here, None).await.err(), Some(StatusCode::UNAUTHORIZED));
    }
}

per_database! {
    async fn a_stream_resumes_after_the_last_event_it_received(app) {
        app.add_user("alice", PASSWORD).await;
        let here = app.sign_in("alice", PASSWORD).await;
        let mut stream = Stream::open(&app, &here, None).await.unwrap();
        app.sign_in("alice", PASSWORD).await;
        assert!(stream.until("session-started").await);
        let last = stream.last_id().unwrap();
        drop(stream);
        // Missed while disconnected: a sign-in and "terminate all others".
        app.sign_in("alice", PASSWORD).await;
        app.post("/api/terminate_other_sessions", &[], Some(&here)).await.assert_status(StatusCode::OK, app.label);
        let mut resumed = Stream::open(&app, &here, Some(&last)).await.unwrap();
        assert!(resumed.until("sessions-ended").await, "[{}] {}", app.label, resumed.seen);
        assert_eq!(resumed.seen.matches("session-started").count(), 1, "[{}] only what came after {last}: {}", app.label, resumed.seen);
        assert!(!resumed.seen.contains("session-over"), "this session was kept");
    }
}

per_database! {
    async fn open_streams_are_limited_per_user(app) {
        app.add_user("alice", PASSWORD).await;
        app.add_user("bob", PASSWORD).await;
        let alice = app.sign_in("alice", PASSWORD).await;
        let mut open = Vec::new();
        for _ in 0..server::events::PER_USER_STREAMS {
            open.push(Stream::open(&app, &alice, None).await.unwrap());
        }
        let refused = app.get("/api/events", Some(&alice)).await;
        refused.assert_status(StatusCode::TOO_MANY_REQUESTS, app.label);
        assert!(refused.body.contains("Too many live pages"), "{}", refused.body);
        // Another user is not held back; a closed stream frees its place.
        let bob = app.sign_in("bob", PASSWORD).await;
        Stream::open(&app, &bob, None).await.unwrap();
        open.pop();
        tokio::time::sleep(Duration::from_millis(50)).await;
        Stream::open(&app, &alice, None).await.unwrap();
        // Without a session: 401.
        assert_eq!(app.get("/api/events", None).await.status, StatusCode::UNAUTHORIZED);
    }
}

/// Profile changes of the department need an Approver's decision.
fn approvals_config() -> server::config::Config {
    let mut config = test_config(ORIGIN);
    config.workflows = vec![server::config::Workflow {
        operation: app::approvals::WorkflowOperation::ProfileChange,
        claims: vec!["department".into()],
        steps: vec!["Approver".into()],
    }];
    config
}

per_database! {
    async fn approvers_and_the_requester_hear_of_a_request_and_its_decision(app) with config { approvals_config() } {
        app.add_user("ada", PASSWORD).await;
        let approver = app.add_user("alice", PASSWORD).await;
        server::users::grant_role(&app.db, approver, "Approver").await.unwrap();
        app.add_user("carol", PASSWORD).await;
        let ada = app.sign_in("ada", PASSWORD).await;
        let alice = app.sign_in("alice", PASSWORD).await;
        let carol = app.sign_in("carol", PASSWORD).await;
        let mut requester = Stream::open(&app, &ada, None).await.unwrap();
        let mut approvers = Stream::open(&app, &alice, None).await.unwrap();
        let mut bystander = Stream::open(&app, &carol, None).await.unwrap();

        let held = app.post("/api/update_profile", &[("input[department]", "Research"), ("version", "1")], Some(&ada)).await;
        held.assert_status(StatusCode::OK, app.label);
        assert!(approvers.until("approvals-changed").await, "[{}] the approver hears of the new task", app.label);
        assert!(requester.until("approvals-changed").await, "[{}] so does the requester", app.label);

        let tasks = app.rest("GET", "/api/users/v1/me/approval-tasks", &alice, None).await.json();
        let task = tasks[0]["id"].as_str().unwrap().to_string();
        let seen = requester.seen.matches("approvals-changed").count();
        let approved = app.rest("PUT", &format!("/api/users/v1/me/approval-tasks/{task}/state"), &alice,
            Some(serde_json::json!({ "action": "APPROVE" }))).await;
        approved.assert_status(StatusCode::OK, app.label);
        assert!(requester.until_count("approvals-changed", seen + 1, Duration::from_secs(5)).await,
            "[{}] the requester hears of the decision: {}", app.label, requester.seen);
        // Someone without the role hears nothing of it.
        assert!(!bystander.until_count("approvals-changed", 1, Duration::from_millis(500)).await,
            "[{}] {}", app.label, bystander.seen);
    }
}

per_database! {
    async fn consent_changes_made_elsewhere_and_expiries_are_told(app) with config { crate::consent::config() } {
        let user = app.add_user("alice", PASSWORD).await;
        let cookie = app.sign_in("alice", PASSWORD).await;
        let mut stream = Stream::open(&app, &cookie, None).await.unwrap();
        // An application records a consent through the REST API ...
        let given = app.rest("POST", "/api/identity/consent-mgt/v1.0/consents", &cookie, Some(serde_json::json!({
            "services": [{ "service": "shop", "purposes": [{ "purposeId": 10, "piiCategory": [{ "piiCategory": "email" }] }] }],
            "collectionMethod": "Web form",
        }))).await;
        given.assert_status(StatusCode::CREATED, app.label);
        assert!(stream.until("consent-changed").await, "[{}] {}", app.label, stream.seen);
        // ... and its end passes: the expiry job tells too.
        let receipt = server::consent::list(&app.db, user).await.unwrap().remove(0);
        sqlx::query("UPDATE consent_receipts SET expires_at = $1 WHERE id = $2")
            .bind(server::time::now_ms() - 1).bind(&receipt.id).execute(&app.db.pool).await.unwrap();
        assert_eq!(server::consent::expire_due(&app.db).await.unwrap(), 1);
        assert!(stream.until_count("consent-changed", 2, Duration::from_secs(5)).await, "[{}] {}", app.label, stream.seen);
    }
}
