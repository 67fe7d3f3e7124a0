//! Registrations held for approval and the task state machine.

#[allow(unused_imports)]
use super::*;

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
    async fn the_task_list_filters_on_several_statuses_as_wso2_sends_them(app) with config {
        config()
    } {
        let alice = approver(&app, "alice", "Approver").await;
        for name in ["first", "second"] {
            register(&app, name).await;
        }
        let done = first_task(&app, &alice).await;
        act(&app, &alice, &done, "APPROVE").await.assert_status(StatusCode::OK, app.label);
        let list = |query: &'static str| {
            let alice = alice.clone();
            let app = &app;
            async move {
                app.rest(
                    "GET",
                    &format!("/api/users/v1/me/approval-tasks?status={query}"),
                    &alice,
                    None,
                )
                .await
            }
        };
        let both = list("READY,COMPLETED").await;
        both.assert_status(StatusCode::OK, app.label);
        let mut statuses: Vec<String> = both
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["status"].as_str().unwrap().to_string())
            .collect();
        statuses.sort();
        assert_eq!(statuses, ["COMPLETED", "READY"], "[{}]", app.label);
        let ready = list("READY").await.json();
        assert_eq!(ready.as_array().unwrap().len(), 1, "[{}]", app.label);
        let bad = list("READY,SOMEDAY").await;
        bad.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert!(bad.body.contains("SOMEDAY"), "{}", bad.body);
    }
}
