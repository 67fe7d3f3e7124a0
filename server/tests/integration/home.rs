//! The home page's account overview: each card's figure is what its
//! section lists, through the real router, and the page shows it.

use crate::common::*;
use http::StatusCode;
use serde_json::json;

async fn overview(app: &TestApp, cookie: &str) -> serde_json::Value {
    let reply = app.post("/api/account_overview", &[], Some(cookie)).await;
    reply.assert_status(StatusCode::OK, app.label);
    reply.json()
}

/// The text of an HTML fragment.
fn without_tags(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

/// The home page's card statuses, in page order; those marked for the
/// user's attention start with "(!) ".
async fn statuses(app: &TestApp, cookie: &str) -> Vec<String> {
    let page = app.get("/", Some(cookie)).await;
    page.assert_status(StatusCode::OK, app.label);
    page.body
        .split(r#"data-testid="card-status" class="card-status"#)
        .skip(1)
        .map(|rest| {
            let (class, text) = rest.split_once("\">").unwrap();
            let text = without_tags(text.split("</p>").next().unwrap());
            let text = text.trim();
            match class {
                " attention" => format!("(!) {text}"),
                "" => text.to_string(),
                other => panic!("unexpected class {other:?}"),
            }
        })
        .collect()
}

per_database! {
    async fn the_overview_counts_what_each_section_lists(app) with config { crate::apps::config() } {
        let (shop_secret, _) = crate::apps::secrets(&app).await;
        app.add_user("ada", PASSWORD).await;
        app.add_user("bob", PASSWORD).await;
        let ada = app.sign_in("ada", PASSWORD).await;

        let mut fresh = overview(&app, &ada).await;
        let changed = fresh["password_changed"].clone();
        let changed_at = changed["ms"].as_i64().expect("the password's date");
        assert!(server::time::now_ms() - changed_at < 60_000, "[{}]", app.label);
        assert_eq!(fresh["has_password"], true);
        let fresh = fresh.as_object_mut().unwrap();
        fresh.remove("password_changed");
        fresh.remove("has_password");
        assert_eq!(
            json!(fresh),
            json!({
                "profile_missing": [
                    "First Name", "Last Name", "Organization", "Country", "Email",
                    "Telephone", "Mobile", "IM", "URL", "Department"
                ],
                "second_factor": { "authenticator_app": false, "passkeys": 0, "recovery_codes_left": null },
                "sessions": 1,
                "recovery_questions": { "answered": 0, "sets": 2 },
                "tasks_waiting": 0,
                "requests_waiting": 0,
                "application_consents": 0,
                "applications": 0,
                "authorized_apps": 0,
                "associated_accounts": 0,
                "linked_identities": 0
            }),
            "[{}]",
            app.label
        );
        let last_changed = format!("Last changed {}.", changed["utc"].as_str().unwrap());
        let page = app.get("/", Some(&ada)).await;
        assert!(
            without_tags(&page.body).contains(
                "2 sections need your attention: Multi-factor authentication and Account Recovery."
            ),
            "[{}] the checkup names them: {}",
            app.label,
            without_tags(&page.body)
        );
        assert_eq!(
            statuses(&app, &ada).await,
            [
                "0 of 10 details filled in. Missing: First Name, Last Name, Organization and 7 more.",
                last_changed.as_str(),
                "(!) Off: your password alone protects your account.",
                "Signed in on this device only.",
                "(!) Not set up: you could not answer questions to reset a forgotten password.",
                "Nothing is waiting for you.",
                "No application has your consent, only Selfserve.",
                "No applications are listed for you yet.",
                "No application can access your account.",
                "Nothing linked yet.",
            ],
            "[{}]",
            app.label
        );

        // Each section changes, and its card follows.
        app.sign_in("ada", PASSWORD).await;
        crate::mfa::enrol(&app, &ada).await;
        crate::recovery::set_answers(&app, &ada, PASSWORD, "my first school", "a blue bicycle")
            .await
            .assert_status(StatusCode::OK, app.label);
        crate::associations::associate(&app, &ada, "bob", PASSWORD)
            .await
            .assert_status(StatusCode::CREATED, app.label);
        crate::apps::sign_in_to(&app, "shop", &shop_secret, "openid email phone", &ada).await;
        let form = [
            ("input[first_name]", "Ada"),
            ("input[last_name]", "Lovelace"),
            ("input[email]", "ada@example.com"),
            ("version", "1"),
        ];
        app.post("/api/update_profile", &form, Some(&ada))
            .await
            .assert_status(StatusCode::OK, app.label);

        let changed = overview(&app, &ada).await;
        assert_eq!(
            changed["second_factor"],
            json!({ "authenticator_app": true, "passkeys": 0, "recovery_codes_left": 10 }),
            "[{}]",
            app.label
        );
        assert_eq!(changed["sessions"], 2);
        assert_eq!(changed["recovery_questions"], json!({ "answered": 2, "sets": 2 }));
        assert_eq!(changed["associated_accounts"], 1);
        assert_eq!(changed["authorized_apps"], 1);
        assert_eq!(changed["application_consents"], 1);
        assert_eq!(
            statuses(&app, &ada).await,
            [
                "3 of 10 details filled in. Missing: Organization, Country, Telephone and 4 more.",
                last_changed.as_str(),
                "On: an authenticator app.",
                "Signed in in 2 places, this device included.",
                "Set up: 2 questions to reset a forgotten password.",
                "Nothing is waiting for you.",
                "1 application has your consent to receive your details.",
                "No applications are listed for you yet.",
                "1 application has access to your account.",
                "Linked: 1 account.",
            ],
            "[{}]",
            app.label
        );

        let page = app.get("/", Some(&ada)).await;
        assert!(
            without_tags(&page.body).contains("Nothing needs your attention."),
            "[{}]",
            app.label
        );

        // Only the signed-in user's own account is described.
        let bob = app.sign_in("bob", PASSWORD).await;
        let other = overview(&app, &bob).await;
        assert_eq!(other["second_factor"]["authenticator_app"], false);
        assert_eq!(other["authorized_apps"], 0);
        let anonymous = app.post("/api/account_overview", &[], None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "[{}]", app.label);
    }
}

per_database! {
    async fn tasks_waiting_are_counted_for_approvers_and_requests_for_their_requesters(app) with config {
        crate::approvals::config()
    } {
        let alice = crate::approvals::approver(&app, "alice", "Approver").await;
        app.add_user("ada", PASSWORD).await;
        let ada = app.sign_in("ada", PASSWORD).await;
        crate::approvals::register(&app, "newbie").await.assert_status(StatusCode::OK, app.label);
        let form = [("input[department]", "Research"), ("version", "1")];
        app.post("/api/update_profile", &form, Some(&ada))
            .await
            .assert_status(StatusCode::OK, app.label);

        let approver = overview(&app, &alice).await;
        assert_eq!(approver["tasks_waiting"], 2, "[{}] {approver}", app.label);
        assert_eq!(approver["requests_waiting"], 0);
        let requester = overview(&app, &ada).await;
        assert_eq!(requester["tasks_waiting"], 0, "[{}] {requester}", app.label);
        assert_eq!(requester["requests_waiting"], 1);
        assert!(
            statuses(&app, &alice)
                .await
                .contains(&"(!) 2 tasks waiting for your decision.".to_string()),
            "[{}]",
            app.label
        );
        assert!(statuses(&app, &ada)
            .await
            .contains(&"1 request of yours waiting for approval.".to_string()));

        // A decided task no longer waits; the request it decided is done.
        let task = crate::approvals::first_task(&app, &alice).await;
        crate::approvals::act(&app, &alice, &task, "APPROVE")
            .await
            .assert_status(StatusCode::OK, app.label);
        assert_eq!(overview(&app, &alice).await["tasks_waiting"], 1, "[{}]", app.label);
    }
}
