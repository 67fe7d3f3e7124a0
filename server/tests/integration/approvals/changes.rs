//! Profile changes and role assignments held for approval.

#[allow(unused_imports)]
use super::*;

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

per_database! {
    async fn a_scim_change_of_a_held_claim_is_accepted_and_waits_for_approval(app) with config {
        config()
    } {
        let alice = approver(&app, "alice", "Approver").await;
        app.add_user("ada", PASSWORD).await;
        let ada = app.sign_in("ada", PASSWORD).await;
        let body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {
                "name": {"givenName": "Ada"},
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Research"},
            }}],
        });
        let reply = app.rest("PATCH", "/scim2/Me", &ada, Some(body)).await;
        // 202: accepted, not all of it done. The resource shows what is in force.
        reply.assert_status(StatusCode::ACCEPTED, app.label);
        let me = reply.json();
        assert_eq!(me["name"]["givenName"], "Ada");
        assert!(
            me.get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User").is_none(),
            "[{}] the department waits: {me}",
            app.label
        );
        let id = first_task(&app, &alice).await;
        act(&app, &alice, &id, "APPROVE").await.assert_status(StatusCode::OK, app.label);
        let me = app.get("/scim2/Me", Some(&ada)).await.json();
        assert_eq!(
            me["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
            "Research",
            "[{}] applied on approval",
            app.label
        );
    }
}
