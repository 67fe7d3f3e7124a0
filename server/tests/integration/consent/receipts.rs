//! Receipts as registration and Consent Management issue them.

#[allow(unused_imports)]
use super::*;

per_database! {
    async fn registration_creates_the_account_and_its_receipt_together(app) with config {
        config()
    } {
        let reply = register(&app, "nora", &[("consents[p2-email]", "on")]).await;
        reply.assert_status(StatusCode::OK, app.label);
        let id = user_id(&app, "nora").await.expect("account created");
        let receipts = receipts_of(&app, id).await;
        assert_eq!(receipts.len(), 1, "[{}]", app.label);
        assert_eq!(
            (receipts[0].1.as_str(), receipts[0].2.as_str()),
            ("system", "ACTIVE")
        );
        let cookie = app.sign_in("nora", PASSWORD).await;
        let receipt = (app
            .get(&format!("{BASE}/receipts/{}", receipts[0].0), Some(&cookie))
            .await)
            .json();
        assert_eq!(receipt["collectionMethod"], "Sign-Up");
        assert_eq!(receipt["piiPrincipalId"], "nora");
        assert_eq!(
            receipt["services"][0]["purposes"][0]["piiCategory"],
            json!(["email", "first_name"])
        );
        assert_eq!(
            receipt["services"][0]["purposes"][1]["piiCategory"],
            json!(["email"])
        );
        let profile: (String, String, i64) =
            sqlx::query_as("SELECT email, first_name, self_registered FROM users WHERE id = $1")
                .bind(id)
                .fetch_one(&app.db.pool)
                .await
                .unwrap();
        assert_eq!(profile, ("new@example.com".into(), "Nora".into(), 1));

        // Without the mandatory consent there is no account, and the form says why.
        let form = [
            ("username", "nomandate"),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
            ("attributes[email]", "x@example.com"),
            ("consents[p2-email]", "on"),
        ];
        let refused = app.post("/api/register", &form, None).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "[{}]", app.label);
        assert!(
            refused.body.contains("consent-p1-email"),
            "{}",
            refused.body
        );
        assert!(user_id(&app, "nomandate").await.is_none());

        // A value given without consent to its use is refused, not stored.
        let reply = register(&app, "sneaky", &[("attributes[last_name]", "Smith")]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(reply.body.contains("did not consent"), "{}", reply.body);
        assert!(user_id(&app, "sneaky").await.is_none());

        // A consent the form never offered changes nothing.
        let reply = register(&app, "forger", &[("consents[p10-email]", "on")]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(user_id(&app, "forger").await.is_none());

        // When storing the receipt fails, the account is not created either.
        sqlx::query("DROP TABLE consent_receipts")
            .execute(&app.db.pool)
            .await
            .unwrap();
        let reply = register(&app, "halfway", &[]).await;
        assert_eq!(
            reply.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "[{}]",
            app.label
        );
        assert!(
            user_id(&app, "halfway").await.is_none(),
            "[{}] account without receipt",
            app.label
        );
    }
}

per_database! {
    async fn every_receipt_conforms_to_the_kantara_schema(app) with config {
        config()
    } {
        register(&app, "nora", &[("consents[p2-email]", "on")]).await;
        let cookie = app.sign_in("nora", PASSWORD).await;
        shop_consent(&app, &cookie, &[EMAIL, MOBILE]).await;
        let body = json!({"services": [{"service": "shop", "purposes": [
            {"purposeId": 10, "piiCategory": [{"piiCategory": "email"}]},
            {"purposeId": 11, "piiCategory": [{"piiCategoryId": 4}]}]}]});
        assert_eq!(
            app.rest("POST", BASE, &cookie, Some(body)).await.status,
            StatusCode::CREATED
        );
        app.assert_receipts_conform().await;
        // The checker is not vacuous: WSO2's own sample receipt fails it.
        let wso2: Value =
            serde_json::from_str(include_str!("../../../schemas/wso2-sample-receipt.json")).unwrap();
        assert!(server::consent::schema_problems(&wso2).len() >= 4);
    }
}

per_database! {
    async fn a_receipt_keeps_the_controller_it_was_issued_with(app) with config {
        config()
    } {
        register(&app, "nora", &[]).await;
        let cookie = app.sign_in("nora", PASSWORD).await;
        let first = shop_consent(&app, &cookie, &[EMAIL]).await;
        let mut changed = config();
        changed.consent.controller.name = "New Owner plc".into();
        changed.consent.controller.email = "dpo@new-owner.example".into();
        let later = app.with_config(changed);
        let old = (later
            .get(&format!("{BASE}/receipts/{first}"), Some(&cookie))
            .await)
            .json();
        assert_eq!(
            old["piiControllers"][0]["piiController"],
            "Selfserve operator"
        );
        let second = shop_consent(&later, &cookie, &[EMAIL, MOBILE]).await;
        let new = (later
            .get(&format!("{BASE}/receipts/{second}"), Some(&cookie))
            .await)
            .json();
        assert_eq!(new["piiControllers"][0]["piiController"], "New Owner plc");
        assert_eq!(new["piiControllers"][0]["email"], "dpo@new-owner.example");
        // Giving consent again revoked the earlier receipt, which stays as history.
        let old = (later
            .get(&format!("{BASE}/receipts/{first}"), Some(&cookie))
            .await)
            .json();
        assert_eq!(old["state"], "REVOKED");
        assert_eq!(
            old["piiControllers"][0]["piiController"],
            "Selfserve operator"
        );
        later.assert_receipts_conform().await;
    }
}

per_database! {
    async fn deselecting_attributes_issues_a_receipt_without_them(app) with config {
        config()
    } {
        // An operator-onboarded user gives system consent on the page.
        let id = app.add_user("olga", PASSWORD).await;
        let cookie = app.sign_in("olga", PASSWORD).await;
        let all = [
            ("service", "system"),
            ("selected[p1-email]", "on"),
            ("selected[p1-first_name]", "on"),
            ("selected[p1-last_name]", "on"),
            ("selected[p2-email]", "on"),
        ];
        // A purpose is consented to with what it requires, or not at all.
        let partial = [("service", "system"), ("selected[p1-first_name]", "on")];
        let reply = app
            .post("/api/update_consent", &partial, Some(&cookie))
            .await;
        assert!(reply.body.contains("needs your email"), "{}", reply.body);
        assert!(receipts_of(&app, id).await.is_empty());
        let reply = app.post("/api/update_consent", &all, Some(&cookie)).await;
        reply.assert_status(StatusCode::OK, app.label);
        let first = receipts_of(&app, id).await;
        assert_eq!(first.len(), 1);

        // Deselect last name and the newsletter; email for purpose 1 is locked.
        let narrower = [("service", "system"), ("selected[p1-first_name]", "on")];
        let reply = app
            .post("/api/update_consent", &narrower, Some(&cookie))
            .await;
        reply.assert_status(StatusCode::OK, app.label);
        let receipts = receipts_of(&app, id).await;
        assert_eq!(receipts.len(), 2);
        assert_eq!(receipts[0].2, "REVOKED");
        assert_eq!(receipts[1].2, "ACTIVE");
        let receipt = (app
            .get(&format!("{BASE}/receipts/{}", receipts[1].0), Some(&cookie))
            .await)
            .json();
        let purposes = &receipt["services"][0]["purposes"];
        assert_eq!(purposes[0]["piiCategory"], json!(["email", "first_name"]));
        assert!(purposes.get(1).is_none(), "{receipt}");
        let allowed = server::consent::allowed_claims(&app.db, id, "system")
            .await
            .unwrap();
        assert_eq!(
            allowed.into_iter().collect::<Vec<_>>(),
            ["email", "first_name"]
        );

        // The same selection again, and a claim not offered, change nothing.
        let same = app
            .post("/api/update_consent", &narrower, Some(&cookie))
            .await;
        assert!(same.body.contains("Nothing changed"), "{}", same.body);
        let forged = [("service", "system"), ("selected[p1-mobile]", "on")];
        assert_ne!(
            app.post("/api/update_consent", &forged, Some(&cookie))
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(receipts_of(&app, id).await.len(), 2);

        // An operator-onboarded user may narrow but not revoke system consent.
        let reply = app
            .rest(
                "DELETE",
                &format!("{BASE}/receipts/{}", receipts[1].0),
                &cookie,
                None,
            )
            .await;
        reply.assert_status(StatusCode::FORBIDDEN, app.label);
        app.assert_receipts_conform().await;
    }
}

per_database! {
    async fn an_attribute_added_later_can_be_consented_to(app) with config {
        config()
    } {
        register(&app, "nora", &[]).await;
        let cookie = app.sign_in("nora", PASSWORD).await;
        let mut widened = config();
        widened.consent.purposes[0].pii.push(pii("mobile", false));
        let later = app.with_config(widened);
        let detail = later
            .post(
                "/api/get_consent_detail",
                &[("service", "system")],
                Some(&cookie),
            )
            .await;
        let detail = detail.json();
        let mobile = detail["purposes"][0]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["claim"] == "mobile")
            .cloned()
            .expect("the new attribute is offered");
        assert_eq!(mobile["selected"], false);
        let form = [
            ("service", "system"),
            ("selected[p1-first_name]", "on"),
            ("selected[p1-mobile]", "on"),
        ];
        let reply = later
            .post("/api/update_consent", &form, Some(&cookie))
            .await;
        reply.assert_status(StatusCode::OK, app.label);
        let id = user_id(&app, "nora").await.unwrap();
        let allowed = server::consent::allowed_claims(&app.db, id, "system")
            .await
            .unwrap();
        assert!(allowed.contains("mobile"), "{allowed:?}");
        later.assert_receipts_conform().await;
    }
}
