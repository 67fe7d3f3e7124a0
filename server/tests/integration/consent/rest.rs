//! The consent-mgt REST API and its limits.

#[allow(unused_imports)]
use super::*;

per_database! {
    async fn another_users_receipt_is_not_found(app) with config {
        config()
    } {
        register(&app, "nora", &[]).await;
        app.add_user("bob", PASSWORD).await;
        let nora = app.sign_in("nora", PASSWORD).await;
        let bob = app.sign_in("bob", PASSWORD).await;
        let receipt = shop_consent(&app, &nora, &[EMAIL]).await;
        for path in [
            format!("{BASE}/receipts/{receipt}"),
            format!("{BASE}/receipts/{receipt}/jws"),
        ] {
            let theirs = app.get(&path, Some(&bob)).await;
            let missing = app
                .get(&path.replace(&receipt, "no-such-receipt"), Some(&bob))
                .await;
            assert_eq!(
                theirs.status,
                StatusCode::NOT_FOUND,
                "[{}] {path}",
                app.label
            );
            assert_eq!(missing.status, StatusCode::NOT_FOUND);
            assert_eq!(theirs.json()["code"], missing.json()["code"]);
        }
        let delete = app
            .rest("DELETE", &format!("{BASE}/receipts/{receipt}"), &bob, None)
            .await;
        assert_eq!(delete.status, StatusCode::NOT_FOUND);
        let revoke = app
            .post(
                "/api/revoke_consent",
                &[("receipt_id", &receipt)],
                Some(&bob),
            )
            .await;
        assert_eq!(revoke.status, StatusCode::NOT_FOUND);
        assert_eq!((app.get(BASE, Some(&bob)).await).json(), json!([]));
        let asked = app
            .get(&format!("{BASE}?piiPrincipalId=nora"), Some(&bob))
            .await;
        assert_eq!(asked.json(), json!([]));
        let page = app
            .post(
                "/api/get_consent_detail",
                &[("service", "shop")],
                Some(&bob),
            )
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
        // Nora's receipt is untouched.
        let got = (app
            .get(&format!("{BASE}/receipts/{receipt}"), Some(&nora))
            .await)
            .json();
        assert_eq!(got["state"], "ACTIVE");
        // Without a session there is nothing at all.
        assert_eq!(app.get(BASE, None).await.status, StatusCode::UNAUTHORIZED);
    }
}

per_database! {
    async fn the_rest_api_records_lists_and_revokes_consents(app) with config {
        config()
    } {
        register(&app, "nora", &[]).await;
        let cookie = app.sign_in("nora", PASSWORD).await;
        let bad = |body: Value| {
            let app = &app;
            let cookie = cookie.clone();
            async move { app.rest("POST", BASE, &cookie, Some(body)).await }
        };
        let unknown = bad(json!({"services": [{"service": "casino", "purposes": []}]})).await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
        assert!(unknown.body.contains("Unknown service"), "{}", unknown.body);
        let missing = bad(json!({"services": [{"service": "shop", "purposes": [
            {"purposeId": 10, "piiCategory": [{"piiCategoryId": MOBILE}]}]}]}))
        .await;
        assert!(missing.body.contains("mandatory"), "{}", missing.body);
        let foreign = bad(json!({"services": [{"service": "shop", "purposes": [
            {"purposeId": 1, "piiCategory": [{"piiCategoryId": EMAIL}]}]}]}))
        .await;
        assert_eq!(foreign.status, StatusCode::BAD_REQUEST);
        let malformed = app
            .rest("POST", BASE, &cookie, Some(json!({"services": "shop"})))
            .await;
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
        let id = user_id(&app, "nora").await.unwrap();
        assert_eq!(
            receipts_of(&app, id).await.len(),
            1,
            "refused requests stored nothing"
        );

        let first = shop_consent(&app, &cookie, &[EMAIL]).await;
        let second = shop_consent(&app, &cookie, &[EMAIL, MOBILE]).await;
        let all = (app.get(BASE, Some(&cookie)).await).json();
        assert_eq!(all.as_array().unwrap().len(), 3);
        assert_eq!(all[0]["consentReceiptID"], second.as_str());
        assert_eq!(all[0]["spDisplayName"], "Pet Shop");
        let revoked = (app
            .get(&format!("{BASE}?state=REVOKED"), Some(&cookie))
            .await)
            .json();
        assert_eq!(revoked.as_array().unwrap().len(), 1);
        assert_eq!(revoked[0]["consentReceiptID"], first.as_str());
        let page = (app
            .get(&format!("{BASE}?limit=1&offset=1"), Some(&cookie))
            .await)
            .json();
        assert_eq!(page.as_array().unwrap().len(), 1);
        assert_eq!(page[0]["consentReceiptID"], all[1]["consentReceiptID"]);
        let wrong = app
            .get(&format!("{BASE}?state=PAUSED"), Some(&cookie))
            .await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST);

        let delete = app
            .rest(
                "DELETE",
                &format!("{BASE}/receipts/{second}"),
                &cookie,
                None,
            )
            .await;
        assert_eq!(delete.status, StatusCode::OK, "{}", delete.body);
        let again = app
            .rest(
                "DELETE",
                &format!("{BASE}/receipts/{second}"),
                &cookie,
                None,
            )
            .await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
        assert!(server::consent::allowed_claims(&app.db, id, "shop")
            .await
            .unwrap()
            .is_empty());

        // A self-registered user may revoke their system consent.
        let system = &all[2]["consentReceiptID"];
        let reply = app
            .rest(
                "DELETE",
                &format!("{BASE}/receipts/{}", system.as_str().unwrap()),
                &cookie,
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

        let purposes = (app
            .get(&format!("{BASE}/purposes?group=shop"), Some(&cookie))
            .await)
            .json();
        assert_eq!(purposes.as_array().unwrap().len(), 2);
        assert_eq!(purposes[0]["groupType"], "SP");
        let orders = (app.get(&format!("{BASE}/purposes/10"), Some(&cookie)).await).json();
        assert_eq!(orders["piiCategories"][0]["piiCategory"], "email");
        assert_eq!(orders["piiCategories"][0]["piiCategoryId"], EMAIL);
        assert_eq!(orders["piiCategories"][0]["mandatory"], true);
        assert_eq!(
            app.get(&format!("{BASE}/purposes/99"), Some(&cookie))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        app.assert_receipts_conform().await;
    }
}

per_database! {
    async fn concurrent_consents_leave_one_active_receipt(app) with config {
        config()
    } {
        register(&app, "nora", &[]).await;
        let cookie = app.sign_in("nora", PASSWORD).await;
        let body = json!({"services": [{"service": "shop", "purposes": [
            {"purposeId": 10, "piiCategory": [{"piiCategoryId": EMAIL}]}]}]});
        for _ in 0..4 {
            let (a, b) = tokio::join!(
                app.rest("POST", BASE, &cookie, Some(body.clone())),
                app.rest("POST", BASE, &cookie, Some(body.clone()))
            );
            for reply in [a, b] {
                assert!(
                    [StatusCode::CREATED, StatusCode::CONFLICT].contains(&reply.status),
                    "[{}] {} {}",
                    app.label,
                    reply.status,
                    reply.body
                );
            }
        }
        let id = user_id(&app, "nora").await.unwrap();
        let active = receipts_of(&app, id)
            .await
            .into_iter()
            .filter(|r| r.1 == "shop" && r.2 == "ACTIVE")
            .count();
        assert_eq!(active, 1, "[{}]", app.label);
    }
}

per_database! {
    async fn the_privacy_notice_names_the_controller_and_purposes_for_everyone(app) with config {
        config()
    } {
        let page = app.get("/privacy", None).await;
        assert_eq!(page.status, StatusCode::OK, "[{}]", app.label);
        assert!(page.body.contains("Selfserve operator"), "{}", page.body);
        assert!(page.body.contains("Account administration"));
        assert!(page.body.contains("Email (required)"));
        app.add_user("olga", PASSWORD).await;
        let cookie = app.sign_in("olga", PASSWORD).await;
        assert_eq!(
            app.get("/privacy", Some(&cookie)).await.status,
            StatusCode::OK
        );
        // The registration form points receipts' readers to it by default.
        let form = (app.post("/api/get_registration_form", &[], None).await).json();
        assert_eq!(form["policy_url"], format!("{ORIGIN}/privacy"));
    }
}

per_database! {
    async fn a_purpose_the_operator_removed_drops_out_on_the_next_update(app) with config {
        config()
    } {
        register(&app, "nora", &[("consents[p2-email]", "on")]).await;
        let cookie = app.sign_in("nora", PASSWORD).await;
        let mut narrowed = config();
        narrowed.consent.purposes.retain(|p| p.id != 2);
        let later = app.with_config(narrowed);
        let detail = (later
            .post(
                "/api/get_consent_detail",
                &[("service", "system")],
                Some(&cookie),
            )
            .await)
            .json();
        assert_eq!(detail["purposes"].as_array().unwrap().len(), 1, "{detail}");
        let form = [
            ("service", "system"),
            ("selected[p1-first_name]", "on"),
            ("selected[p1-last_name]", "on"),
        ];
        let reply = later
            .post("/api/update_consent", &form, Some(&cookie))
            .await;
        reply.assert_status(StatusCode::OK, app.label);
        let listed = (later
            .get(&format!("{BASE}?state=ACTIVE"), Some(&cookie))
            .await)
            .json();
        let id = listed[0]["consentReceiptID"].as_str().unwrap().to_string();
        let receipt = (later
            .get(&format!("{BASE}/receipts/{id}"), Some(&cookie))
            .await)
            .json();
        let purposes = receipt["services"][0]["purposes"].as_array().unwrap();
        assert_eq!(purposes.len(), 1, "{receipt}");
        assert_eq!(purposes[0]["purpose"], "Account administration");
        assert_eq!(
            purposes[0]["piiCategory"],
            json!(["email", "first_name", "last_name"])
        );
        later.assert_receipts_conform().await;
    }
}

per_database! {
    async fn registrations_from_one_address_are_limited_per_hour(app) with config {
        let mut limited = config();
        limited.registration.per_address_per_hour = 2;
        limited
    } {
        assert_eq!(register(&app, "first", &[]).await.status, StatusCode::OK);
        // Invalid forms do not count: a typo costs nothing.
        let weak = [("username", "typo"), ("password", "x"), ("confirm", "x")];
        assert_eq!(
            app.post("/api/register", &weak, None).await.status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(register(&app, "second", &[]).await.status, StatusCode::OK);
        let refused = register(&app, "third", &[]).await;
        assert_eq!(
            refused.status,
            StatusCode::TOO_MANY_REQUESTS,
            "[{}]",
            app.label
        );
        assert!(
            refused.body.contains("RegistrationThrottled"),
            "{}",
            refused.body
        );
        assert!(user_id(&app, "third").await.is_none());
        // An hour later the address may register again.
        sqlx::query("UPDATE signin_throttle SET updated_at = updated_at - 3600001")
            .execute(&app.db.pool)
            .await
            .unwrap();
        assert_eq!(register(&app, "third", &[]).await.status, StatusCode::OK);
    }
}

per_database! {
    async fn purposes_filter_by_group_type_and_receipts_name_third_parties(app) with config {
        config()
    } {
        register(&app, "nora", &[]).await;
        let cookie = app.sign_in("nora", PASSWORD).await;
        let groups = |group_type: &'static str| {
            let cookie = cookie.clone();
            let app = &app;
            async move {
                app.rest("GET", &format!("{BASE}/purposes?groupType={group_type}"), &cookie, None)
                    .await
            }
        };
        for (group_type, own) in [("SYSTEM", true), ("SP", false)] {
            let reply = groups(group_type).await;
            reply.assert_status(StatusCode::OK, app.label);
            let listed = reply.json();
            let listed = listed.as_array().unwrap();
            assert!(!listed.is_empty(), "[{}] {group_type}", app.label);
            for purpose in listed {
                assert_eq!(purpose["groupType"], group_type);
                assert_eq!(purpose["group"] == "system", own, "{purpose}");
            }
        }
        groups("OTHER").await.assert_status(StatusCode::BAD_REQUEST, app.label);

        // WSO2's purposeResponse requires thirdPartyName; "" when nothing is
        // disclosed to a third party.
        let receipt = shop_consent(&app, &cookie, &[EMAIL]).await;
        let document = app
            .get(&format!("{BASE}/receipts/{receipt}"), Some(&cookie))
            .await
            .json();
        for purpose in document["services"][0]["purposes"].as_array().unwrap() {
            assert_eq!(purpose["thirdPartyName"], "", "{purpose}");
            assert_eq!(purpose["thirdPartyDisclosure"], false);
        }
        app.assert_receipts_conform().await;
    }
}
