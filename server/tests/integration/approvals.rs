//! Pending Approvals: the workflow engine, its task states and its REST API,
//! on SQLite and PostgreSQL, including two approvers claiming at once.

use crate::common::*;
use app::approvals::WorkflowOperation as Operation;
use axum::body::Body;
use http::{header, Request, StatusCode};
use server::config::{Config, Workflow};
use sqlx::Row;

fn config() -> Config {
    let mut config = test_config(ORIGIN);
    config.workflows = vec![
        Workflow {
            operation: Operation::SelfRegistration,
            claims: vec![],
            steps: vec!["Approver".into()],
        },
        Workflow {
            operation: Operation::ProfileChange,
            claims: vec!["department".into()],
            steps: vec!["Approver".into()],
        },
        Workflow {
            operation: Operation::RoleAssignment,
            claims: vec![],
            steps: vec!["Approver".into(), "Security".into()],
        },
    ];
    config
}

async fn approver(app: &TestApp, name: &str, role: &str) -> String {
    let id = app.add_user(name, PASSWORD).await;
    server::users::grant_role(&app.db, id, role).await.unwrap();
    app.sign_in(name, PASSWORD).await
}

async fn tasks(app: &TestApp, cookie: &str) -> Vec<serde_json::Value> {
    let reply = app
        .rest("GET", "/api/users/v1/me/approval-tasks", cookie, None)
        .await;
    reply.assert_status(StatusCode::OK, app.label);
    serde_json::from_str(&reply.body).unwrap()
}

/// The id of the newest task the user sees.
async fn first_task(app: &TestApp, cookie: &str) -> String {
    tasks(app, cookie).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn act(app: &TestApp, cookie: &str, task: &str, action: &str) -> Reply {
    app.rest(
        "PUT",
        &format!("/api/users/v1/me/approval-tasks/{task}/state"),
        cookie,
        Some(serde_json::json!({ "action": action })),
    )
    .await
}

async fn register(app: &TestApp, username: &str) -> Reply {
    let form = [
        ("username", username),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
        ("attributes[email]", "registrant@example.com"),
        ("consents[p1-email]", "on"),
    ];
    app.post("/api/register", &form, None).await
}

per_database! {
    async fn a_registration_waits_for_approval_then_signs_in(app) with config {
        config()
    } {
        let alice = approver(&app, "alice", "Approver").await;
        let reply = register(&app, "newbie").await;
        reply.assert_status(StatusCode::OK, app.label);
        assert_eq!(reply.body, "true", "held for approval");

        let pending = app
            .post(
                "/api/sign_in",
                &[("username", "newbie"), ("password", PASSWORD)],
                None,
            )
            .await;
        assert_eq!(pending.status, StatusCode::FORBIDDEN, "[{}]", app.label);
        assert!(pending.body.contains("PendingApproval"));

        let list = tasks(&app, &alice).await;
        assert_eq!(list.len(), 1, "[{}]", app.label);
        assert_eq!(list[0]["status"], "READY");
        assert_eq!(
            list[0]["presentationSubject"],
            "Self-registration of newbie"
        );
        let id = list[0]["id"].as_str().unwrap().to_string();
        let detail = app
            .rest(
                "GET",
                &format!("/api/users/v1/me/approval-tasks/{id}"),
                &alice,
                None,
            )
            .await;
        let detail = detail.json();
        assert_eq!(detail["approvalStatus"], "PENDING");
        assert!(detail["properties"].to_string().contains("newbie"));

        assert_eq!(act(&app, &alice, &id, "CLAIM").await.status, StatusCode::OK);
        let approved = act(&app, &alice, &id, "APPROVE").await;
        approved.assert_status(StatusCode::OK, app.label);
        let approved = approved.json();
        assert_eq!(approved["approvalStatus"], "APPROVED");
        app.sign_in("newbie", PASSWORD).await;
    }
}

per_database! {
    async fn a_rejected_registration_is_deleted_and_told_only_to_its_owner(app) with config {
        config()
    } {
        let alice = approver(&app, "alice", "Approver").await;
        register(&app, "spammer").await;
        let id = first_task(&app, &alice).await;
        // Reject straight from READY (an implicit claim).
        assert_eq!(
            act(&app, &alice, &id, "REJECT").await.status,
            StatusCode::OK
        );
        let gone: i64 = sqlx::query("SELECT COUNT(*) FROM users WHERE username_key = 'spammer'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap()
            .get(0);
        assert_eq!(gone, 0, "[{}] its data is deleted", app.label);
        let receipts: i64 = sqlx::query("SELECT COUNT(*) FROM consent_receipts")
            .fetch_one(&app.db.pool)
            .await
            .unwrap()
            .get(0);
        assert_eq!(receipts, 0, "[{}] its consent receipt too", app.label);
        let told = app
            .post(
                "/api/sign_in",
                &[("username", "spammer"), ("password", PASSWORD)],
                None,
            )
            .await;
        assert_eq!(told.status, StatusCode::FORBIDDEN, "[{}]", app.label);
        assert!(told.body.contains("RegistrationRejected"));
        let guess = app
            .post(
                "/api/sign_in",
                &[("username", "spammer"), ("password", "a wrong guess")],
                None,
            )
            .await;
        assert_eq!(
            guess.status,
            StatusCode::UNAUTHORIZED,
            "[{}] others learn nothing",
            app.label
        );
        // The name is free again.
        assert_eq!(register(&app, "spammer").await.status, StatusCode::OK);
    }
}

per_database! {
    async fn transitions_follow_the_state_machine(app) with config {
        config()
    } {
        let alice = approver(&app, "alice", "Approver").await;
        let bob = approver(&app, "bob", "Approver").await;
        let carol = approver(&app, "carol", "Auditor").await;
        register(&app, "newbie").await;
        let id = first_task(&app, &alice).await;

        // Release before anyone started it: refused.
        assert_eq!(
            act(&app, &alice, &id, "RELEASE").await.status,
            StatusCode::BAD_REQUEST,
            "[{}]",
            app.label
        );
        assert_eq!(act(&app, &alice, &id, "CLAIM").await.status, StatusCode::OK);
        // Bob sees it BLOCKED and can neither claim, release, approve nor reject it.
        assert_eq!(tasks(&app, &bob).await[0]["status"], "BLOCKED");
        assert_eq!(tasks(&app, &alice).await[0]["status"], "RESERVED");
        for action in ["CLAIM", "RELEASE", "APPROVE", "REJECT"] {
            let reply = act(&app, &bob, &id, action).await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "[{}] bob {action}",
                app.label
            );
            assert!(
                reply.body.contains("alice has already started"),
                "{}",
                reply.body
            );
        }
        // Release by the owner: READY again, and Bob may start it.
        assert_eq!(
            act(&app, &alice, &id, "RELEASE").await.status,
            StatusCode::OK
        );
        assert_eq!(tasks(&app, &bob).await[0]["status"], "READY");
        assert_eq!(act(&app, &bob, &id, "CLAIM").await.status, StatusCode::OK);
        assert_eq!(act(&app, &bob, &id, "APPROVE").await.status, StatusCode::OK);
        // Completed: nothing more.
        for action in ["CLAIM", "RELEASE", "APPROVE", "REJECT"] {
            let reply = act(&app, &bob, &id, action).await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "[{}] completed {action}",
                app.label
            );
        }
        // An unknown action is a clear 400.
        let unknown = act(&app, &bob, &id, "ESCALATE").await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
        // A user without the role sees nothing: 404, as for a missing task.
        let hidden = app
            .rest(
                "GET",
                &format!("/api/users/v1/me/approval-tasks/{id}"),
                &carol,
                None,
            )
            .await;
        let missing = app
            .rest(
                "GET",
                "/api/users/v1/me/approval-tasks/999999",
                &carol,
                None,
            )
            .await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND, "[{}]", app.label);
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(
            act(&app, &carol, &id, "CLAIM").await.status,
            StatusCode::NOT_FOUND
        );
        assert!(tasks(&app, &carol).await.is_empty());
        // Status filter.
        let filtered = app
            .rest(
                "GET",
                "/api/users/v1/me/approval-tasks?status=COMPLETED",
                &alice,
                None,
            )
            .await;
        assert_eq!(
            serde_json::from_str::<Vec<serde_json::Value>>(&filtered.body)
                .unwrap()
                .len(),
            1
        );
        let bad = app
            .rest(
                "GET",
                "/api/users/v1/me/approval-tasks?status=DONE",
                &alice,
                None,
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    }
}

per_database! {
    multi_thread async fn two_approvers_starting_at_once_exactly_one_wins(app) with config {
        config()
    } {
        let alice = approver(&app, "alice", "Approver").await;
        let bob = approver(&app, "bob", "Approver").await;
        for round in 0..8 {
            register(&app, &format!("racer{round}")).await;
            let list = tasks(&app, &alice).await;
            let id = list.iter().find(|t| t["status"] == "READY").unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string();
            // Two requests on two worker threads, released together.
            let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
            let claim = |cookie: String| {
                let request = Request::put(format!("/api/users/v1/me/approval-tasks/{id}/state"))
                    .header(header::ORIGIN, ORIGIN)
                    .header(header::COOKIE, cookie)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(r#"{"action":"CLAIM"}"#))
                    .unwrap();
                let router = app.router.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    use http_body_util::BodyExt;
                    use tower::ServiceExt;
                    barrier.wait().await;
                    let response = router.oneshot(request).await.unwrap();
                    let status = response.status();
                    let body = response.into_body().collect().await.unwrap().to_bytes();
                    (status, String::from_utf8_lossy(&body).into_owned())
                })
            };
            let (a, b) = (claim(alice.clone()), claim(bob.clone()));
            let (a, b) = (a.await.unwrap(), b.await.unwrap());
            let (a, b) = (
                Reply {
                    status: a.0,
                    headers: Default::default(),
                    body: a.1,
                },
                Reply {
                    status: b.0,
                    headers: Default::default(),
                    body: b.1,
                },
            );
            let statuses = [a.status, b.status];
            let winners = statuses.iter().filter(|s| **s == StatusCode::OK).count();
            assert_eq!(
                winners, 1,
                "[{}] round {round}: {statuses:?} {} {}",
                app.label, a.body, b.body
            );
            let loser = if a.status == StatusCode::OK { &b } else { &a };
            assert_eq!(loser.status, StatusCode::BAD_REQUEST);
            assert!(
                loser.body.contains("has already started"),
                "[{}] {}",
                app.label,
                loser.body
            );
        }
    }
}

per_database! {
    async fn a_held_profile_change_applies_only_when_approved_and_can_be_cancelled(app) with config {
        config()
    } {
        let alice = approver(&app, "alice", "Approver").await;
        app.add_user("ada", PASSWORD).await;
        let ada = app.sign_in("ada", PASSWORD).await;
        let form = [
            ("input[department]", "Research"),
            ("input[first_name]", "Ada"),
            ("version", "1"),
        ];
        let reply = app.post("/api/update_profile", &form, Some(&ada)).await;
        reply.assert_status(StatusCode::OK, app.label);
        let view = reply.json();
        // First name is not engaged: saved at once. Department waits.
        assert_eq!(view["claims"]["first_name"], "Ada");
        assert_eq!(
            view["claims"]["department"], "",
            "[{}] not applied yet",
            app.label
        );
        assert_eq!(
            view["pending"],
            serde_json::json!([["department", "Research"]])
        );
        // A second change to the same claim waits for the first.
        let again = app
            .post(
                "/api/update_profile",
                &[
                    ("input[department]", "Other"),
                    ("input[first_name]", "Ada"),
                    ("version", "2"),
                ],
                Some(&ada),
            )
            .await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST, "[{}]", app.label);

        let id = first_task(&app, &alice).await;
        assert_eq!(
            act(&app, &alice, &id, "APPROVE").await.status,
            StatusCode::OK
        );
        let loaded = app.post("/api/get_profile", &[], Some(&ada)).await;
        let loaded = loaded.json();
        assert_eq!(
            loaded["claims"]["department"], "Research",
            "[{}] applied on approval",
            app.label
        );
        assert_eq!(loaded["pending"], serde_json::json!([]));

        // The requester cancels a new request: nothing changes, the task closes.
        let version = loaded["version"].to_string();
        let form = [
            ("input[department]", "Poetry"),
            ("input[first_name]", "Ada"),
            ("version", version.as_str()),
        ];
        assert_eq!(
            app.post("/api/update_profile", &form, Some(&ada))
                .await
                .status,
            StatusCode::OK
        );
        let overview = app
            .post("/api/approvals_overview", &[("status", "")], Some(&ada))
            .await;
        let overview = overview.json();
        assert_eq!(overview["approver"], false);
        let request = overview["requests"][0]["id"].as_str().unwrap().to_string();
        let cancelled = app
            .post(
                "/api/cancel_request",
                &[("request_id", &request)],
                Some(&ada),
            )
            .await;
        cancelled.assert_status(StatusCode::OK, app.label);
        let status_now = tasks(&app, &alice)
            .await
            .iter()
            .all(|t| t["status"] == "COMPLETED");
        assert!(
            status_now,
            "[{}] the cancelled request's task is closed",
            app.label
        );
        let loaded = app.post("/api/get_profile", &[], Some(&ada)).await;
        assert!(loaded.body.contains("Research") && !loaded.body.contains("Poetry"));
        // Nobody else can cancel it (404 as for a missing one).
        let other = app
            .post(
                "/api/cancel_request",
                &[("request_id", &request)],
                Some(&alice),
            )
            .await;
        assert_eq!(other.status, StatusCode::NOT_FOUND);
    }
}

per_database! {
    async fn an_approver_cannot_decide_their_own_request(app) with config {
        config()
    } {
        let alice = approver(&app, "alice", "Approver").await;
        let form = [("input[department]", "Mine"), ("version", "1")];
        assert_eq!(
            app.post("/api/update_profile", &form, Some(&alice))
                .await
                .status,
            StatusCode::OK
        );
        let id = first_task(&app, &alice).await;
        let reply = act(&app, &alice, &id, "APPROVE").await;
        reply.assert_status(StatusCode::FORBIDDEN, app.label);
    }
}

per_database! {
    async fn a_multi_step_role_assignment_applies_after_the_last_step(app) with config {
        config()
    } {
        let alice = approver(&app, "alice", "Approver").await;
        let sam = approver(&app, "sam", "Security").await;
        let ada_id = app.add_user("ada", PASSWORD).await;
        let mut tx = app.db.pool.begin().await.unwrap();
        server::approvals::submit(
            &mut tx,
            app.config.workflow(Operation::RoleAssignment).unwrap(),
            server::approvals::NewRequest {
                operation: Operation::RoleAssignment,
                subject: "Role Auditor for ada",
                description: "An operator asks to give a user a role.",
                initiator: "operator",
                target_user_id: Some(ada_id),
                properties: &serde_json::json!({"Username": "ada", "Role": "Auditor"}),
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert!(tasks(&app, &sam).await.is_empty(), "step 2 has no task yet");
        let first = first_task(&app, &alice).await;
        assert_eq!(
            act(&app, &alice, &first, "APPROVE").await.status,
            StatusCode::OK
        );
        assert!(
            server::users::roles_of(&app.db, ada_id)
                .await
                .unwrap()
                .is_empty(),
            "[{}] not yet",
            app.label
        );
        let second = tasks(&app, &sam).await;
        assert_eq!(second.len(), 1, "[{}]", app.label);
        let second = second[0]["id"].as_str().unwrap().to_string();
        assert_eq!(
            act(&app, &sam, &second, "APPROVE").await.status,
            StatusCode::OK
        );
        assert_eq!(
            server::users::roles_of(&app.db, ada_id).await.unwrap(),
            ["Auditor"],
            "[{}]",
            app.label
        );
    }
}

per_database! {
    async fn a_request_that_can_no_longer_apply_fails_without_half_applying(app) with config {
        config()
    } {
        let alice = approver(&app, "alice", "Approver").await;
        let ada_id = app.add_user("ada", PASSWORD).await;
        let ada = app.sign_in("ada", PASSWORD).await;
        let form = [("input[department]", "Research"), ("version", "1")];
        assert_eq!(
            app.post("/api/update_profile", &form, Some(&ada))
                .await
                .status,
            StatusCode::OK
        );
        let id = first_task(&app, &alice).await;
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(ada_id)
            .execute(&app.db.pool)
            .await
            .unwrap();
        let reply = act(&app, &alice, &id, "APPROVE").await;
        reply.assert_status(StatusCode::OK, app.label);
        let overview = app
            .post("/api/approvals_overview", &[("status", "")], Some(&alice))
            .await;
        let overview = overview.json();
        assert_eq!(
            overview["tasks"][0]["request_state"], "FAILED",
            "[{}]",
            app.label
        );
        assert_eq!(
            overview["tasks"][0]["outcome"],
            "The account no longer exists."
        );
    }
}

per_database! {
    async fn registration_without_a_workflow_is_immediate_and_checked(app) {
        let reply = register(&app, "free").await;
        assert_eq!(reply.body, "false", "[{}] {}", app.label, reply.body);
        app.sign_in("free", PASSWORD).await;
        let taken = register(&app, "FREE").await;
        assert_eq!(taken.status, StatusCode::BAD_REQUEST);
        assert!(taken.body.contains("taken"));
        let weak = app
            .post(
                "/api/register",
                &[
                    ("username", "weakling"),
                    ("password", "password"),
                    ("confirm", "password"),
                    ("email", ""),
                ],
                None,
            )
            .await;
        assert_eq!(weak.status, StatusCode::BAD_REQUEST, "[{}]", app.label);
        assert!(weak.body.contains("\"password\""));
    }
}

per_database! {
    async fn a_rejected_profile_change_is_discarded(app) with config {
        config()
    } {
        let alice = approver(&app, "alice", "Approver").await;
        app.add_user("ada", PASSWORD).await;
        let ada = app.sign_in("ada", PASSWORD).await;
        let form = [("input[department]", "Skunkworks"), ("version", "1")];
        assert_eq!(
            app.post("/api/update_profile", &form, Some(&ada))
                .await
                .status,
            StatusCode::OK
        );
        let id = first_task(&app, &alice).await;
        assert_eq!(
            act(&app, &alice, &id, "REJECT").await.status,
            StatusCode::OK
        );
        let loaded = app.post("/api/get_profile", &[], Some(&ada)).await;
        let loaded = loaded.json();
        assert_eq!(
            loaded["claims"]["department"], "",
            "[{}] nothing applied",
            app.label
        );
        assert_eq!(
            loaded["pending"],
            serde_json::json!([]),
            "[{}] nothing pending",
            app.label
        );
        let detail = app
            .rest(
                "GET",
                &format!("/api/users/v1/me/approval-tasks/{id}"),
                &alice,
                None,
            )
            .await;
        assert!(
            detail.body.contains("\"approvalStatus\":\"REJECTED\""),
            "{}",
            detail.body
        );
    }
}
