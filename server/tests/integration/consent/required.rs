//! Selfserve's own consent asked again at sign-in once it lapsed.

use crate::common::*;
use http::StatusCode;

per_database! {
    async fn a_lapsed_consent_to_selfserve_is_asked_again_before_the_dashboard(app) {
        // Self-registered with the system consent, which the user then revokes.
        let reply = app.post("/api/register", &[
            ("username", "nora"), ("password", PASSWORD), ("confirm", PASSWORD),
            ("attributes[email]", "nora@example.com"), ("consents[p1-email]", "on"),
        ], None).await;
        assert!(reply.status.is_success() || reply.status.is_redirection(), "{} {}", reply.status, reply.body);
        let cookie = app.sign_in("nora", PASSWORD).await;
        assert_eq!(app.get("/", Some(&cookie)).await.status, StatusCode::OK, "[{}]", app.label);
        let user_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'nora'")
            .fetch_one(&app.db.pool).await.unwrap();
        let receipt = server::consent::list(&app.db, user_id).await.unwrap().remove(0);
        server::consent::revoke(&app.db, user_id, &receipt.id).await.unwrap();

        // Signing in leads to the prompt, and the dashboard waits for the answer.
        let again = app.post("/api/sign_in", &[("username", "nora"), ("password", PASSWORD)], None).await;
        assert_eq!(again.header("location"), Some("/consent-required"), "[{}]", app.label);
        let home = app.get("/", Some(&cookie)).await;
        assert_eq!(home.header("location"), Some("/consent-required"), "[{}]", app.label);
        let shown = app.post("/api/system_consent_prompt", &[], Some(&cookie)).await;
        assert!(shown.body.contains("Account administration"), "{}", shown.body);

        // Allow: a new ACTIVE receipt, with the controller as configured now.
        app.post("/api/renew_consent", &[("decision", "allow")], Some(&cookie)).await;
        assert_eq!(app.get("/", Some(&cookie)).await.status, StatusCode::OK, "[{}]", app.label);
        let receipts = server::consent::list(&app.db, user_id).await.unwrap();
        assert_eq!(receipts.len(), 2);
        assert!(receipts[0].is_active() && receipts[0].claims().contains("email"));

        // Deny signs the user out.
        let latest = receipts[0].id.clone();
        server::consent::revoke(&app.db, user_id, &latest).await.unwrap();
        let denied = app.post("/api/renew_consent", &[("decision", "deny")], Some(&cookie)).await;
        assert_eq!(denied.header("location"), Some("/signin?signed_out=consent"), "[{}] {}", app.label, denied.body);
        let after = app.get("/profile", Some(&cookie)).await;
        assert_eq!(after.header("location"), Some("/signin"), "[{}] that session ended", app.label);

        // An account an operator added, with no receipt, is not asked.
        app.add_user("olga", PASSWORD).await;
        let olga = app.sign_in("olga", PASSWORD).await;
        assert_eq!(app.get("/", Some(&olga)).await.status, StatusCode::OK);
    }
}
