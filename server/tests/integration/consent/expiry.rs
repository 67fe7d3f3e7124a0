//! End dates: expired receipts read as REVOKED everywhere.

#[allow(unused_imports)]
use super::*;

per_database! {
    async fn an_expired_receipt_is_revoked_everywhere(app) with config {
        config()
    } {
        register(&app, "nora", &[]).await;
        let cookie = app.sign_in("nora", PASSWORD).await;
        let receipt = shop_consent(&app, &cookie, &[EMAIL]).await;
        let id = user_id(&app, "nora").await.unwrap();

        // The page refuses a past date and accepts today.
        let past = [("service", "shop"), ("last_day", "2020-01-01")];
        let reply = app
            .post("/api/set_consent_expiry", &past, Some(&cookie))
            .await;
        assert!(reply.body.contains("in the past"), "{}", reply.body);
        let today = time::OffsetDateTime::now_utc().date().to_string();
        let reply = app
            .post(
                "/api/set_consent_expiry",
                &[("service", "shop"), ("last_day", &today)],
                Some(&cookie),
            )
            .await;
        reply.assert_status(StatusCode::OK, app.label);
        assert_eq!(reply.json()["entry"]["expires_on"], today);
        assert_eq!(
            (app.get(&format!("{BASE}/receipts/{receipt}"), Some(&cookie))
                .await)
                .json()["state"],
            "ACTIVE"
        );

        // Time passes: the expiry is now behind us, and the job has not run.
        sqlx::query("UPDATE consent_receipts SET expires_at = $1 WHERE id = $2")
            .bind(server::time::now_ms() - 1_000)
            .bind(&receipt)
            .execute(&app.db.pool)
            .await
            .unwrap();
        let listed = (app
            .get(&format!("{BASE}?service=shop"), Some(&cookie))
            .await)
            .json();
        assert_eq!(listed[0]["state"], "REVOKED", "[{}] {listed}", app.label);
        let active = (app
            .get(&format!("{BASE}?state=ACTIVE&service=Pet*"), Some(&cookie))
            .await)
            .json();
        assert_eq!(active, json!([]));
        let got = (app
            .get(&format!("{BASE}/receipts/{receipt}"), Some(&cookie))
            .await)
            .json();
        assert_eq!(got["state"], "REVOKED");
        let export = (app.get("/api/identity/user/v1.0/me", Some(&cookie)).await).json();
        let exported = export["consents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["consentReceiptID"] == receipt.as_str())
            .expect("the receipt is exported");
        assert_eq!(exported["state"], "REVOKED");
        let page = (app.post("/api/get_consents", &[], Some(&cookie)).await).json();
        let shop = page
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["service_id"] == "shop")
            .unwrap();
        assert_eq!(shop["state"], "Revoked");
        assert_eq!(shop["shares"], json!([]));
        assert!(server::consent::allowed_claims(&app.db, id, "shop")
            .await
            .unwrap()
            .is_empty());

        // The periodic job records it.
        assert_eq!(server::consent::expire_due(&app.db).await.unwrap(), 1);
        assert_eq!(
            receipts_of(&app, id)
                .await
                .iter()
                .filter(|r| r.2 == "ACTIVE")
                .count(),
            1
        );
    }
}

per_database! {
    async fn an_end_date_ends_at_the_users_midnight(app) with config {
        config()
    } {
        register(&app, "nora", &[]).await;
        let cookie = app.sign_in("nora", PASSWORD).await;
        let receipt = shop_consent(&app, &cookie, &[EMAIL]).await;
        let day = time::OffsetDateTime::now_utc().date() + time::Duration::days(30);
        let set = |last_day: String, offset: &'static str| {
            let (app, cookie) = (&app, cookie.clone());
            async move {
                let form = [
                    ("service", "shop"),
                    ("last_day", last_day.as_str()),
                    ("minutes_behind_utc", offset),
                ];
                app.post("/api/set_consent_expiry", &form, Some(&cookie))
                    .await
            }
        };
        let valid_until = || async {
            (app.get(&format!("{BASE}/receipts/{receipt}"), Some(&cookie))
                .await)
                .json()["validUntil"]
                .clone()
        };

        // New York (UTC-5): the day ends at 05:00 UTC the next morning.
        let reply = set(day.to_string(), "300").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.json()["entry"]["expires_on"], day.to_string());
        assert_eq!(
            valid_until().await,
            format!("{}T05:00:00Z", day.next_day().unwrap())
        );

        // Neither a number nor a real offset: refused, nothing changed.
        let reply = set(day.to_string(), "east").await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert!(reply.body.contains("Malformed"), "{}", reply.body);
        assert_eq!(
            valid_until().await,
            format!("{}T05:00:00Z", day.next_day().unwrap())
        );
        // An offset no time zone has is refused and changes nothing.
        let reply = set(day.to_string(), "900").await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(reply.body.contains("UTC-12 and UTC+14"), "{}", reply.body);
        assert_eq!(
            valid_until().await,
            format!("{}T05:00:00Z", day.next_day().unwrap())
        );

        // Tokyo (UTC+9): midnight after the day is 15:00 UTC on the day.
        let reply = set(day.to_string(), "-540").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(valid_until().await, format!("{day}T15:00:00Z"));
    }
}
