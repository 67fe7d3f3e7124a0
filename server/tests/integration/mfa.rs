//! Multi-factor authentication through the router: setting up an
//! authenticator app, the second step of sign-in, recovery codes, the
//! lockout, step-up and "Forgot password?". Codes are computed with
//! `totp-lite`, an implementation independent of the server's.

use crate::common::*;
use http::StatusCode;
use std::time::{SystemTime, UNIX_EPOCH};

const STEP: u64 = 30;

fn now_step() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / STEP
}

/// The code an authenticator app shows at time step `step`.
fn code_at(secret: &str, step: u64) -> String {
    let compact: String = secret.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &compact)
        .expect("the secret is base32");
    totp_lite::totp_custom::<totp_lite::Sha1>(STEP, 6, &bytes, step * STEP)
}

fn cookie_named(reply: &Reply, name: &str) -> Option<String> {
    reply
        .set_cookies()
        .iter()
        .filter_map(|c| c.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")) && pair.len() > name.len() + 1)
        .map(String::from)
}

const CHALLENGE: &str = "selfserve_second_factor";

/// Sets up an authenticator app with a code of the current step; its secret,
/// the step used and the recovery codes shown.
pub(crate) async fn enrol(app: &TestApp, cookie: &str) -> (String, u64, Vec<String>) {
    let setup = app.post("/api/begin_totp_setup", &[], Some(cookie)).await;
    setup.assert_status(StatusCode::OK, app.label);
    let setup = setup.json();
    let secret = setup["secret"].as_str().unwrap().to_string();
    assert!(
        setup["uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Selfserve:"),
        "{setup}"
    );
    assert!(setup["qr_code"]
        .as_str()
        .unwrap()
        .starts_with("data:image/svg+xml;base64,"));
    let step = now_step();
    let done = app
        .post(
            "/api/finish_totp_setup",
            &[("code", &code_at(&secret, step))],
            Some(cookie),
        )
        .await;
    done.assert_status(StatusCode::OK, app.label);
    let codes: Vec<String> = serde_json::from_value(done.json()).unwrap();
    (secret, step, codes)
}

/// The password step: the challenge cookie, as the second step needs it.
pub(crate) async fn password_step(app: &TestApp, username: &str) -> String {
    let reply = app
        .post(
            "/api/sign_in",
            &[("username", username), ("password", PASSWORD)],
            None,
        )
        .await;
    assert_eq!(
        reply.session_cookie(),
        None,
        "[{}] no session before the second factor",
        app.label
    );
    assert_eq!(reply.header("location"), Some("/signin/verify"));
    cookie_named(&reply, CHALLENGE).expect("a challenge cookie")
}

async fn second_step(app: &TestApp, challenge: &str, method: &str, code: &str) -> Reply {
    app.post(
        "/api/verify_second_factor",
        &[("method", method), ("code", code)],
        Some(challenge),
    )
    .await
}

/// As if the sessions' last second factor was given 11 minutes ago.
pub(crate) async fn second_factor_given_long_ago(app: &TestApp) {
    sqlx::query("UPDATE sessions SET second_factor_at = $1")
        .bind(server::time::now_ms() - 11 * 60_000)
        .execute(&app.db.pool)
        .await
        .unwrap();
}

async fn overview(app: &TestApp, cookie: &str) -> serde_json::Value {
    let reply = app.post("/api/mfa_overview", &[], Some(cookie)).await;
    reply.assert_status(StatusCode::OK, app.label);
    reply.json()
}

per_database! {
    async fn sign_in_asks_for_the_app_s_code_and_accepts_each_code_once(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let (secret, step, codes) = enrol(&app, &cookie).await;
        assert_eq!(codes.len(), 10, "[{}] recovery codes come with the app", app.label);

        let challenge = password_step(&app, "ada").await;
        let prompt = app.post("/api/second_factor_prompt", &[], Some(&challenge)).await;
        assert_eq!(prompt.json()["methods"], serde_json::json!(["Otp", "RecoveryCode"]));
        // The code typed at setup was accepted once; it is not accepted again.
        let replay = second_step(&app, &challenge, "otp", &code_at(&secret, step)).await;
        assert_eq!(replay.status, StatusCode::BAD_REQUEST, "[{}] {}", app.label, replay.body);
        assert!(replay.body.contains("used already"), "{}", replay.body);
        let wrong = second_step(&app, &challenge, "otp", "000000").await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
        let malformed = second_step(&app, &challenge, "otp", "12ab").await;
        assert!(malformed.body.contains("6 digits"), "{}", malformed.body);

        let next = code_at(&secret, step + 1);
        let done = second_step(&app, &challenge, "otp", &next).await;
        done.assert_status(StatusCode::OK, app.label);
        let session = done.session_cookie().expect("a session after the second factor");
        assert_eq!(done.header("location"), Some("/"));
        assert!(
            done.set_cookies().iter().any(|c| c.starts_with(&format!("{CHALLENGE}=;"))),
            "[{}] the challenge cookie is forgotten",
            app.label
        );
        let sessions = app.post("/api/list_sessions", &[], Some(&session)).await.json();
        let mine = sessions.as_array().unwrap().iter().find(|s| s["current"] == true).unwrap();
        assert_eq!(mine["second_factor"], "authenticator app");

        // The challenge is spent, and the code too.
        let again = second_step(&app, &challenge, "otp", &next).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
        assert!(again.body.contains("sign in again"), "{}", again.body);
        let challenge = password_step(&app, "ada").await;
        let replay = second_step(&app, &challenge, "otp", &next).await;
        assert!(replay.body.contains("used already"), "{}", replay.body);
    }
}

per_database! {
    async fn a_setup_counts_only_once_a_code_from_the_app_is_typed(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let first = app.post("/api/begin_totp_setup", &[], Some(&cookie)).await.json();
        let second = app.post("/api/begin_totp_setup", &[], Some(&cookie)).await.json();
        assert_ne!(first["secret"], second["secret"], "each setup gets a new secret");
        let stale = app
            .post(
                "/api/finish_totp_setup",
                &[("code", &code_at(first["secret"].as_str().unwrap(), now_step()))],
                Some(&cookie),
            )
            .await;
        assert_eq!(stale.status, StatusCode::BAD_REQUEST, "[{}] the replaced secret", app.label);
        // Not yet on: signing in asks for the password only.
        app.sign_in("ada", PASSWORD).await;
        assert!(overview(&app, &cookie).await["totp"].is_null());

        let (_, _, _) = enrol(&app, &cookie).await;
        let again = app.post("/api/begin_totp_setup", &[], Some(&cookie)).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "[{}] one app per account", app.label);
        let summary = overview(&app, &cookie).await;
        assert!(summary["totp"]["added"]["ms"].is_i64(), "{summary}");
        assert_eq!(summary["recovery_codes"]["remaining"], 10);
        assert_eq!(summary["step_up_needed"], false, "the setup's code counts as given");
    }
}

per_database! {
    async fn wrong_codes_lock_the_second_step_and_the_password_does_not_unlock_it(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let (secret, step, _) = enrol(&app, &cookie).await;
        let challenge = password_step(&app, "ada").await;
        let mut statuses = Vec::new();
        for wrong in ["111111", "222222", "333333", "444444", "555555"] {
            statuses.push(second_step(&app, &challenge, "otp", wrong).await.status);
        }
        assert_eq!(statuses[..4], [StatusCode::BAD_REQUEST; 4], "[{}]", app.label);
        assert_eq!(statuses[4], StatusCode::TOO_MANY_REQUESTS, "[{}]", app.label);
        // A right password again does not buy more guesses, and a right code
        // waits for the lock to end.
        let challenge = password_step(&app, "ada").await;
        let right = second_step(&app, &challenge, "otp", &code_at(&secret, step + 1)).await;
        assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS, "[{}]", app.label);
        assert_eq!(right.session_cookie(), None);
    }
}

per_database! {
    async fn a_recovery_code_signs_in_once(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let (_, _, codes) = enrol(&app, &cookie).await;
        assert!(codes.iter().all(|c| c.len() == 19 && c.matches('-').count() == 3), "{codes:?}");
        let typed = codes[3].replace('-', "").to_uppercase();

        let challenge = password_step(&app, "ada").await;
        let done = second_step(&app, &challenge, "recovery_code", &typed).await;
        done.assert_status(StatusCode::OK, app.label);
        let session = done.session_cookie().unwrap();
        let sessions = app.post("/api/list_sessions", &[], Some(&session)).await.json();
        let mine = sessions.as_array().unwrap().iter().find(|s| s["current"] == true).unwrap();
        assert_eq!(mine["second_factor"], "recovery code");
        assert_eq!(overview(&app, &session).await["recovery_codes"]["remaining"], 9);

        let challenge = password_step(&app, "ada").await;
        // The last method used is offered first.
        let prompt = app.post("/api/second_factor_prompt", &[], Some(&challenge)).await;
        assert_eq!(prompt.json()["methods"][0], "RecoveryCode");
        let again = second_step(&app, &challenge, "recovery_code", &codes[3]).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST, "[{}] used once only", app.label);
        assert!(again.body.contains("used already"), "{}", again.body);
        second_step(&app, &challenge, "recovery_code", &codes[4])
            .await
            .assert_status(StatusCode::OK, app.label);

        // New codes void the old ones.
        let fresh: Vec<String> = serde_json::from_value(
            app.post("/api/regenerate_recovery_codes", &[], Some(&session)).await.json(),
        )
        .unwrap();
        assert_eq!(fresh.len(), 10);
        let challenge = password_step(&app, "ada").await;
        let old = second_step(&app, &challenge, "recovery_code", &codes[5]).await;
        assert_eq!(old.status, StatusCode::BAD_REQUEST, "[{}]", app.label);
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE code_hash LIKE '$argon2id$%'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        assert_eq!(stored, 10, "[{}] codes are stored only as argon2id hashes", app.label);

        // The export lists the factors, never a secret or a code.
        let export = app.get("/api/identity/user/v1.0/me", Some(&session)).await;
        export.assert_status(StatusCode::OK, app.label);
        let factors = &export.json()["security"]["secondFactors"];
        assert_eq!(factors[0]["type"], "totp", "{factors}");
        assert!(factors[0]["created"].as_str().unwrap().ends_with('Z'));
        assert_eq!(factors[1]["type"], "recovery_codes", "{factors}");
        assert_eq!(factors[1]["remaining"], 10);
        assert!(!export.body.contains(&fresh[0]) && !export.body.contains(&codes[0]));
    }
}

per_database! {
    async fn changes_need_the_second_factor_again_after_ten_minutes(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let (secret, step, codes) = enrol(&app, &cookie).await;
        second_factor_given_long_ago(&app).await;
        assert_eq!(overview(&app, &cookie).await["step_up_needed"], true);
        for path in ["/api/remove_totp", "/api/regenerate_recovery_codes"] {
            let refused = app.post(path, &[], Some(&cookie)).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "[{}] {path}", app.label);
            assert!(refused.body.contains("Confirm it is you"), "{}", refused.body);
        }
        let wrong = app
            .post("/api/confirm_second_factor", &[("method", "otp"), ("code", "123456")], Some(&cookie))
            .await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
        app.post(
            "/api/confirm_second_factor",
            &[("method", "recovery_code"), ("code", &codes[0])],
            Some(&cookie),
        )
        .await
        .assert_status(StatusCode::OK, app.label);
        assert_eq!(overview(&app, &cookie).await["step_up_needed"], false);
        app.post("/api/remove_totp", &[], Some(&cookie))
            .await
            .assert_status(StatusCode::OK, app.label);
        let summary = overview(&app, &cookie).await;
        assert!(summary["totp"].is_null() && summary["recovery_codes"].is_null(), "{summary}");
        // Signing in asks for the password only again.
        app.sign_in("ada", PASSWORD).await;
        let _ = (secret, step);
    }
}

per_database! {
    async fn forgot_password_does_not_bypass_the_second_factor(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let form = [
            ("current_password", PASSWORD),
            ("answers[0][set_id]", "challengeQuestion1"),
            ("answers[0][question_id]", "question1"),
            ("answers[0][answer]", "Colombo"),
            ("answers[1][set_id]", "challengeQuestion2"),
            ("answers[1][question_id]", "question3"),
            ("answers[1][answer]", "Blue Whale"),
        ];
        app.post("/api/save_recovery_answers", &form, Some(&cookie))
            .await
            .assert_status(StatusCode::OK, app.label);
        enrol(&app, &cookie).await;

        let started = app.post("/api/start_recovery", &[("username", "ada")], None).await.json();
        let token = started["token"].as_str().unwrap();
        let answered = app
            .post(
                "/api/answer_recovery",
                &[("token", token), ("answers[0]", "Colombo"), ("answers[1]", "Blue Whale")],
                None,
            )
            .await;
        answered.assert_status(StatusCode::OK, app.label);
        let verified: String = serde_json::from_str(&answered.body).unwrap();
        let new = "the lighthouse keeper sleeps late";
        let done = app
            .post(
                "/api/finish_recovery",
                &[("token", &verified), ("new_password", new), ("confirm", new)],
                None,
            )
            .await;
        done.assert_status(StatusCode::OK, app.label);
        assert_eq!(done.session_cookie(), None, "[{}] recovery signs no one in", app.label);
        let reply = app
            .post("/api/sign_in", &[("username", "ada"), ("password", new)], None)
            .await;
        assert_eq!(reply.session_cookie(), None, "[{}] the new password alone is not enough", app.label);
        assert_eq!(reply.header("location"), Some("/signin/verify"));
    }
}

per_database! {
    async fn the_second_step_needs_its_own_browser_s_challenge(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let (secret, step, _) = enrol(&app, &cookie).await;
        let next = code_at(&secret, step + 1);
        let none = app
            .post("/api/verify_second_factor", &[("method", "otp"), ("code", &next)], None)
            .await;
        assert_eq!(none.status, StatusCode::BAD_REQUEST, "[{}]", app.label);
        let forged = format!("{CHALLENGE}={}", "ab".repeat(32));
        let refused = second_step(&app, &forged, "otp", &next).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "[{}]", app.label);
        assert_eq!(refused.session_cookie(), None);
        let prompt = app.post("/api/second_factor_prompt", &[], Some(&forged)).await;
        assert_eq!(prompt.json(), serde_json::Value::Null);
        // The page is reached signed out (after a password or a provider) and
        // signed in (a switch): the guard sends neither to sign-in.
        for cookie in [None, Some(cookie.as_str())] {
            let page = app.get("/signin/verify", cookie).await;
            assert_ne!(page.header("location"), Some("/signin"), "[{}] {cookie:?}", app.label);
        }
    }
}

per_database! {
    async fn switching_into_an_account_with_a_second_factor_asks_for_it(app) {
        app.add_user("ada", PASSWORD).await;
        app.add_user("bob", PASSWORD).await;
        let bob = app.sign_in("bob", PASSWORD).await;
        let (secret, step, _) = enrol(&app, &bob).await;
        let ada = app.sign_in("ada", PASSWORD).await;
        let challenge = switch_to_bob_waiting(&app, &ada).await;
        // Ada's session lasts until the switch completes.
        app.post("/api/mfa_overview", &[], Some(&ada))
            .await
            .assert_status(StatusCode::OK, app.label);

        let done = second_step(&app, &challenge, "otp", &code_at(&secret, step + 1)).await;
        let mine = switched_from_ada(&app, &done, &ada).await;
        assert_eq!(mine["second_factor"], "authenticator app", "{mine}");
    }
}

/// Ada associates Bob's account and switches to it; the switch waits for
/// Bob's second step: its challenge cookie.
async fn switch_to_bob_waiting(app: &TestApp, ada: &str) -> String {
    app.post(
        "/api/associate_account",
        &[("username", "bob"), ("password", PASSWORD)],
        Some(ada),
    )
    .await
    .assert_status(StatusCode::OK, app.label);
    let switched = app
        .post("/api/switch_account", &[("username", "bob")], Some(ada))
        .await;
    switched.assert_status(StatusCode::OK, app.label);
    assert_eq!(switched.json(), "/signin/verify", "[{}]", app.label);
    assert_eq!(
        switched.session_cookie(),
        None,
        "[{}] not bob yet",
        app.label
    );
    cookie_named(&switched, CHALLENGE).expect("a challenge cookie")
}

/// The second step `done` made Bob's session, switched from Ada's, which
/// ended; Bob's session as listed.
async fn switched_from_ada(app: &TestApp, done: &Reply, ada: &str) -> serde_json::Value {
    done.assert_status(StatusCode::OK, app.label);
    let as_bob = done.session_cookie().expect("bob's session");
    let sessions = app
        .post("/api/list_sessions", &[], Some(&as_bob))
        .await
        .json();
    let mine = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()
        .clone();
    assert_eq!(mine["switched_from"], "ada", "{mine}");
    let left = app.post("/api/mfa_overview", &[], Some(ada)).await;
    assert_eq!(
        left.status,
        StatusCode::UNAUTHORIZED,
        "[{}] the session switched from ends",
        app.label
    );
    mine
}

per_database! {
    async fn a_required_second_factor_is_set_up_on_a_switch_too(app) with config {
        let mut config = test_config(ORIGIN);
        config.mfa.required = true;
        config
    } {
        app.add_user("ada", PASSWORD).await;
        app.add_user("bob", PASSWORD).await;
        // Ada signs in, setting up her app as required.
        let challenge = password_step(&app, "ada").await;
        let prompt = app.post("/api/second_factor_prompt", &[], Some(&challenge)).await.json();
        let secret = prompt["enrol"]["secret"].as_str().expect("ada sets up an app").to_string();
        let ada = second_step(&app, &challenge, "otp", &code_at(&secret, now_step()))
            .await
            .session_cookie()
            .expect("ada's session");

        // Bob has no app: switching to him sets one up first, as signing in would.
        let challenge = switch_to_bob_waiting(&app, &ada).await;
        let prompt = app.post("/api/second_factor_prompt", &[], Some(&challenge)).await.json();
        let secret = prompt["enrol"]["secret"].as_str().expect("bob sets up an app").to_string();
        let done = second_step(&app, &challenge, "otp", &code_at(&secret, now_step())).await;
        switched_from_ada(&app, &done, &ada).await;
        let as_bob = done.session_cookie().unwrap();
        assert!(overview(&app, &as_bob).await["totp"].is_object(), "[{}] bob's app is on", app.label);
    }
}

per_database! {
    async fn changing_the_password_associating_or_deleting_needs_a_recent_second_factor(app) {
        app.add_user("ada", PASSWORD).await;
        app.add_user("bob", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let (secret, step, _) = enrol(&app, &cookie).await;
        second_factor_given_long_ago(&app).await;
        let new = "a brand new passphrase for ada";
        let change = [("current", PASSWORD), ("new_password", new), ("confirm", new)];
        let associate = [("username", "bob"), ("password", PASSWORD)];
        let delete = [("password", PASSWORD)];
        let needed = app.post("/api/second_factor_needed", &[], Some(&cookie)).await;
        assert_eq!(needed.json(), true, "[{}]", app.label);
        for (path, form) in [
            ("/api/change_password", &change[..]),
            ("/api/associate_account", &associate[..]),
            ("/api/delete_account", &delete[..]),
        ] {
            let refused = app.post(path, form, Some(&cookie)).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "[{}] {path}: {}", app.label, refused.body);
            assert!(refused.body.contains("Confirm it is you"), "{}", refused.body);
        }
        app.post(
            "/api/confirm_second_factor",
            &[("method", "otp"), ("code", &code_at(&secret, step + 1))],
            Some(&cookie),
        )
        .await
        .assert_status(StatusCode::OK, app.label);
        let needed = app.post("/api/second_factor_needed", &[], Some(&cookie)).await;
        assert_eq!(needed.json(), false, "[{}]", app.label);
        app.post("/api/associate_account", &associate, Some(&cookie))
            .await
            .assert_status(StatusCode::OK, app.label);
        let changed = app.post("/api/change_password", &change, Some(&cookie)).await;
        changed.assert_status(StatusCode::OK, app.label);
        // The new session keeps the second factor the old one was begun with.
        let renewed = changed.session_cookie().unwrap();
        let sessions = app.post("/api/list_sessions", &[], Some(&renewed)).await.json();
        let mine = sessions.as_array().unwrap().iter().find(|s| s["current"] == true).unwrap();
        assert_eq!(mine["second_factor"], "authenticator app", "{mine}");
    }
}

per_database! {
    // With secrets stored encrypted, so that the API reads them back through the key.
    async fn the_rest_api_sets_up_and_removes_the_app_as_wso2_s_does(app) with config {
        with_encryption_secret(&test_config(ORIGIN), Some("the operator's mfa secret, 32 chars or more"))
    } {
        use base64::Engine;
        use serde_json::json;
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let totp = "/api/users/v1/me/totp";
        let codes = "/api/users/v1/me/backup-codes";
        let enabled = |reply: Reply| reply.json()["enabledAuthenticators"].as_str().unwrap().to_string();
        assert_eq!(app.rest("GET", totp, &cookie, None).await.status, StatusCode::NOT_FOUND);
        assert_eq!(enabled(app.rest("GET", "/api/users/v1/me/mfa/authenticators", &cookie, None).await), "");

        let init = app.rest("POST", totp, &cookie, Some(json!({"action": "INIT"}))).await;
        init.assert_status(StatusCode::CREATED, app.label);
        let uri = base64::engine::general_purpose::STANDARD
            .decode(init.json()["qrCodeUrl"].as_str().unwrap())
            .unwrap();
        let uri = String::from_utf8(uri).unwrap();
        assert!(uri.starts_with("otpauth://totp/Selfserve:ada?"), "{uri}");
        let secret = app.rest("GET", &format!("{totp}/secret"), &cookie, None).await.json()["secret"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(uri.contains(&format!("secret={secret}")), "{uri}");

        let wrong = app
            .rest("POST", totp, &cookie, Some(json!({"action": "VALIDATE", "verificationCode": 0})))
            .await;
        wrong.assert_status(StatusCode::OK, app.label);
        assert_eq!(wrong.json()["isValid"], false);
        // An integer, as WSO2 types it (leading zeros restored: unit test in mfa::rest).
        let code: u32 = code_at(&secret, now_step()).parse().unwrap();
        let right = app
            .rest("POST", totp, &cookie, Some(json!({"action": "VALIDATE", "verificationCode": code})))
            .await;
        assert_eq!(right.json()["isValid"], true, "[{}] {}", app.label, right.body);
        let on = app.rest("GET", totp, &cookie, None).await.json();
        assert_eq!(on, json!({"isValid": true}), "the secret is never sent again");
        let secret_again = app.rest("GET", &format!("{totp}/secret"), &cookie, None).await;
        assert_eq!(secret_again.status, StatusCode::NOT_FOUND);
        let again = app.rest("POST", totp, &cookie, Some(json!({"action": "INIT"}))).await;
        assert_eq!(again.status, StatusCode::CONFLICT);

        // Recovery codes are made where they can be shown.
        assert_eq!(app.rest("GET", codes, &cookie, None).await.json()["remainingBackupCodesCount"], 0);
        let made = app.rest("POST", codes, &cookie, None).await;
        made.assert_status(StatusCode::CREATED, app.label);
        assert_eq!(made.json()["backupCodes"].as_array().unwrap().len(), 10);
        assert_eq!(app.rest("GET", codes, &cookie, None).await.json()["remainingBackupCodesCount"], 10);
        assert_eq!(enabled(app.rest("GET", "/api/users/v1/me/mfa/authenticators", &cookie, None).await), "TOTP,BackupCode");
        app.rest("DELETE", codes, &cookie, None)
            .await
            .assert_status(StatusCode::NO_CONTENT, app.label);
        assert_eq!(app.rest("GET", codes, &cookie, None).await.json()["remainingBackupCodesCount"], 0);

        // The same step-up as the page.
        second_factor_given_long_ago(&app).await;
        assert_eq!(app.rest("DELETE", totp, &cookie, None).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.rest("POST", codes, &cookie, None).await.status, StatusCode::FORBIDDEN);
        app.post(
            "/api/confirm_second_factor",
            &[("method", "otp"), ("code", &code_at(&secret, now_step() + 1))],
            Some(&cookie),
        )
        .await
        .assert_status(StatusCode::OK, app.label);
        app.rest("DELETE", totp, &cookie, None)
            .await
            .assert_status(StatusCode::OK, app.label);
        assert_eq!(app.rest("GET", totp, &cookie, None).await.status, StatusCode::NOT_FOUND);
    }
}

per_database! {
    async fn a_recovery_code_resets_a_forgotten_password_when_questions_are_off(app) with config {
        let mut config = test_config(ORIGIN);
        config.recovery.enabled = false;
        config
    } {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let (_, _, codes) = enrol(&app, &cookie).await;
        assert_eq!(app.post("/api/questions_offered", &[], None).await.json(), false);
        let app = &app;
        let redeem = |username: &'static str, code: String| async move {
            app.post("/api/recover_with_code", &[("username", username), ("code", &code)], None).await
        };
        let wrong = redeem("ada", "abcd-efgh-jkmn-pqrs".into()).await;
        let unknown = redeem("nobody", codes[0].clone()).await;
        for refused in [&wrong, &unknown] {
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "[{}] {}", app.label, refused.body);
            assert!(refused.body.contains("do not match"), "{}", refused.body);
        }
        assert_eq!(wrong.body, unknown.body, "[{}] an unknown account reads like a wrong code", app.label);

        let right = redeem("Ada", codes[0].clone()).await;
        right.assert_status(StatusCode::OK, app.label);
        let token: String = serde_json::from_str(&right.body).unwrap();
        let new = "the lighthouse keeper sleeps late";
        app.post(
            "/api/finish_recovery",
            &[("token", &token), ("new_password", new), ("confirm", new)],
            None,
        )
        .await
        .assert_status(StatusCode::OK, app.label);
        assert_eq!(app.session_count().await, 0, "[{}] every session ends", app.label);

        // Used once: neither another reset nor a second factor takes it again.
        assert_eq!(redeem("ada", codes[0].clone()).await.status, StatusCode::BAD_REQUEST);
        let reply = app.post("/api/sign_in", &[("username", "ada"), ("password", new)], None).await;
        assert_eq!(reply.session_cookie(), None, "[{}] the second factor is still asked", app.label);
        let challenge = cookie_named(&reply, CHALLENGE).unwrap();
        let used = second_step(app, &challenge, "recovery_code", &codes[0]).await;
        assert_eq!(used.status, StatusCode::BAD_REQUEST);
        second_step(app, &challenge, "recovery_code", &codes[1])
            .await
            .assert_status(StatusCode::OK, app.label);
    }
}

per_database! {
    async fn a_required_second_factor_is_set_up_at_sign_in_before_the_session_starts(app) with config {
        let mut config = test_config(ORIGIN);
        config.mfa.required = true;
        config
    } {
        app.add_user("ada", PASSWORD).await;
        let challenge = password_step(&app, "ada").await;
        let prompt = app.post("/api/second_factor_prompt", &[], Some(&challenge)).await.json();
        let secret = prompt["enrol"]["secret"].as_str().expect("a setup to finish").to_string();
        assert_eq!(prompt["methods"], serde_json::json!(["Otp"]));
        let again = app.post("/api/second_factor_prompt", &[], Some(&challenge)).await.json();
        assert_eq!(again["enrol"]["secret"], secret.as_str(), "[{}] a reload shows the same key", app.label);

        let wrong = second_step(&app, &challenge, "otp", "000000").await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "[{}]", app.label);
        assert_eq!(wrong.session_cookie(), None);
        let done = second_step(&app, &challenge, "otp", &code_at(&secret, now_step())).await;
        done.assert_status(StatusCode::OK, app.label);
        let session = done.session_cookie().expect("a session once the app is on");
        let body = done.json();
        assert_eq!(body["next"], "/", "{body}");
        assert_eq!(body["recovery_codes"].as_array().map(Vec::len), Some(10), "{body}");
        let summary = overview(&app, &session).await;
        assert!(summary["totp"].is_object() && summary["required"] == true, "{summary}");

        // From now on, the app's code as for anyone with a factor.
        let challenge = password_step(&app, "ada").await;
        let prompt = app.post("/api/second_factor_prompt", &[], Some(&challenge)).await.json();
        assert!(prompt["enrol"].is_null(), "{prompt}");
    }
}

/// The secret an account's authenticator app is stored under, as the database holds it.
async fn stored_totp_secret(app: &TestApp, username: &str) -> String {
    sqlx::query_scalar(
        "SELECT t.secret FROM totp_authenticators t JOIN users u ON u.id = t.user_id WHERE u.username = $1",
    )
    .bind(username)
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

fn with_encryption_secret(
    config: &server::config::Config,
    secret: Option<&str>,
) -> server::config::Config {
    let mut config = config.clone();
    config.mfa.encryption_secret = secret.map(server::config::Secret::new);
    config
}

per_database! {
    async fn authenticator_app_secrets_are_stored_encrypted_under_the_configured_secret(app) {
        let key = "the operator's mfa secret, 32 chars or more";
        let sealed = app.with_config(with_encryption_secret(&app.config, Some(key)));
        // Set up with the secret: stored sealed, never as the base32 the user saw.
        sealed.add_user("ada", PASSWORD).await;
        let cookie = sealed.sign_in("ada", PASSWORD).await;
        let (secret, step, _) = enrol(&sealed, &cookie).await;
        let compact: String = secret.chars().filter(|c| !c.is_whitespace()).collect();
        let stored = stored_totp_secret(&sealed, "ada").await;
        assert!(stored.starts_with("aes256gcm:"), "[{}] {stored}", app.label);
        assert!(!stored.contains(&compact), "[{}]", app.label);
        // The app's codes still sign in.
        let challenge = password_step(&sealed, "ada").await;
        let done = second_step(&sealed, &challenge, "otp", &code_at(&secret, step + 1)).await;
        assert!(done.session_cookie().is_some(), "[{}] {}", app.label, done.body);

        // A secret set up in the clear (before the operator set one) is
        // sealed by the next start with it, once, and keeps working.
        let clear = app.with_config(with_encryption_secret(&app.config, None));
        clear.add_user("bob", PASSWORD).await;
        let bob = clear.sign_in("bob", PASSWORD).await;
        let (bob_secret, bob_step, _) = enrol(&clear, &bob).await;
        assert_eq!(
            stored_totp_secret(&clear, "bob").await,
            bob_secret.replace(' ', ""),
            "[{}] without a secret, stored as is",
            app.label
        );
        // That start refuses: Ada's is sealed and it has no key to read it.
        let missing = server::mfa::prepare_secrets(&app.db, &clear.config)
            .await
            .unwrap_err()
            .to_string();
        assert!(missing.contains("SELFSERVE_MFA__ENCRYPTION_SECRET"), "[{}] {missing}", app.label);
        assert_eq!(server::mfa::prepare_secrets(&app.db, &sealed.config).await.unwrap(), 1);
        assert_eq!(server::mfa::prepare_secrets(&app.db, &sealed.config).await.unwrap(), 0);
        assert!(stored_totp_secret(&sealed, "bob").await.starts_with("aes256gcm:"));
        let challenge = password_step(&sealed, "bob").await;
        let done = second_step(&sealed, &challenge, "otp", &code_at(&bob_secret, bob_step + 1)).await;
        assert!(done.session_cookie().is_some(), "[{}] {}", app.label, done.body);

        // Another secret stops the start, saying why and not printing either secret.
        let other = with_encryption_secret(&app.config, Some("someone else's mfa secret of 32 chars"));
        let wrong = server::mfa::prepare_secrets(&app.db, &other).await.unwrap_err().to_string();
        assert!(wrong.contains("not the one it was encrypted with"), "[{}] {wrong}", app.label);
        assert!(!wrong.contains("operator's") && !wrong.contains("someone"), "{wrong}");

        // A sealed secret moved to another account's row does not open: the
        // code from Ada's app is refused for Bob, and nothing is revealed.
        let ada_stored = stored_totp_secret(&sealed, "ada").await;
        sqlx::query(
            "UPDATE totp_authenticators SET secret = $1
             WHERE user_id = (SELECT id FROM users WHERE username = 'bob')",
        )
        .bind(&ada_stored)
        .execute(&app.db.pool)
        .await
        .unwrap();
        let challenge = password_step(&sealed, "bob").await;
        let refused = second_step(&sealed, &challenge, "otp", &code_at(&secret, now_step())).await;
        assert_eq!(refused.session_cookie(), None, "[{}]", app.label);
        assert_eq!(refused.status, StatusCode::INTERNAL_SERVER_ERROR, "[{}] {}", app.label, refused.body);
        assert!(!refused.body.contains(&compact));
    }
}
