//! "Forgot password?": the attempt, its throttling and what it never reveals.

#[allow(unused_imports)]
use super::*;

per_database! {
    async fn recovery_with_right_answers_sets_a_new_password_and_ends_sessions(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        assert_eq!(
            set_answers(&app, &cookie, PASSWORD, "Colombo", "Blue Whale")
                .await
                .status,
            StatusCode::OK
        );
        let other = app.sign_in("ada", PASSWORD).await;

        let challenge = start(&app, "Ada").await;
        let questions = challenge["questions"].as_array().unwrap();
        assert_eq!(questions.len(), 2);
        assert_eq!(questions[0][1], "In which city were you born?");
        let token = challenge["token"].as_str().unwrap();
        // Normalised: case and spaces do not matter.
        let reply = answer(&app, token, "  colombo ", "BLUE   whale").await;
        reply.assert_status(StatusCode::OK, app.label);
        let verified: String = serde_json::from_str(&reply.body).unwrap();

        let weak = app
            .post(
                "/api/finish_recovery",
                &[
                    ("token", &verified),
                    ("new_password", "password1"),
                    ("confirm", "password1"),
                ],
                None,
            )
            .await;
        assert_eq!(
            weak.status,
            StatusCode::BAD_REQUEST,
            "[{}] the usual policy applies",
            app.label
        );
        let new = "the lighthouse keeper sleeps late";
        let done = app
            .post(
                "/api/finish_recovery",
                &[
                    ("token", &verified),
                    ("new_password", new),
                    ("confirm", new),
                ],
                None,
            )
            .await;
        done.assert_status(StatusCode::OK, app.label);
        assert_eq!(
            app.session_count().await,
            0,
            "[{}] every session ended",
            app.label
        );
        for old in [&cookie, &other] {
            assert_eq!(app.get("/", Some(old)).await.status, StatusCode::SEE_OTHER);
        }
        app.sign_in("ada", new).await;

        // Single use: the same tokens do nothing again.
        let again = app
            .post(
                "/api/finish_recovery",
                &[
                    ("token", &verified),
                    ("new_password", new),
                    ("confirm", new),
                ],
                None,
            )
            .await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            answer(&app, token, "Colombo", "Blue Whale").await.status,
            StatusCode::BAD_REQUEST
        );
    }
}

per_database! {
    async fn wrong_answers_fail_and_three_lock_recovery(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        set_answers(&app, &cookie, PASSWORD, "Colombo", "Blue Whale").await;
        let mut statuses = Vec::new();
        for _ in 0..3 {
            let token = start(&app, "ada").await["token"]
                .as_str()
                .unwrap()
                .to_string();
            // One right, one wrong: all must be right.
            statuses.push(answer(&app, &token, "Colombo", "Grey Whale").await.status);
        }
        assert_eq!(
            statuses,
            [
                StatusCode::BAD_REQUEST,
                StatusCode::BAD_REQUEST,
                StatusCode::TOO_MANY_REQUESTS
            ],
            "[{}]",
            app.label
        );
        let locked = app
            .post("/api/start_recovery", &[("username", "ada")], None)
            .await;
        assert_eq!(
            locked.status,
            StatusCode::TOO_MANY_REQUESTS,
            "[{}]",
            app.label
        );
        // The password did not change.
        app.sign_in("ada", PASSWORD).await;
    }
}

per_database! {
    async fn an_unknown_user_is_indistinguishable_from_a_wrong_answer(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        set_answers(&app, &cookie, PASSWORD, "Colombo", "Blue Whale").await;
        app.add_user("noanswers", PASSWORD).await;

        for name in ["ghost", "noanswers"] {
            let first = start(&app, name).await;
            let second = start(&app, name).await;
            assert_eq!(
                first["questions"].as_array().unwrap().len(),
                2,
                "[{}] {name}",
                app.label
            );
            assert_eq!(
                first["questions"], second["questions"],
                "[{}] the same questions each time",
                app.label
            );
        }
        let known = start(&app, "ada").await;
        let unknown = start(&app, "ghost").await;
        let wrong = answer(&app, known["token"].as_str().unwrap(), "Kandy", "Orca").await;
        let fictional = answer(&app, unknown["token"].as_str().unwrap(), "Kandy", "Orca").await;
        assert_eq!(wrong.status, fictional.status, "[{}]", app.label);
        assert_eq!(wrong.body, fictional.body, "[{}]", app.label);
    }
}

per_database! {
    async fn an_attempt_whose_questions_cannot_be_read_fails_closed(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        set_answers(&app, &cookie, PASSWORD, "Colombo", "Blue Whale")
            .await
            .assert_status(StatusCode::OK, app.label);
        for stored in ["[]", "not json"] {
            let challenge = start(&app, "ada").await;
            let token = challenge["token"].as_str().unwrap();
            // As if the stored attempt were damaged: no question to answer.
            sqlx::query("UPDATE recovery_flows SET questions = $1")
                .bind(stored)
                .execute(&app.db.pool)
                .await
                .unwrap();
            let reply = app
                .post("/api/answer_recovery", &[("token", token)], None)
                .await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "[{}] {stored}: {}",
                app.label,
                reply.body
            );
        }
    }
}

per_database! {
    async fn turning_recovery_off_stops_attempts_already_under_way(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        set_answers(&app, &cookie, PASSWORD, "Colombo", "Blue Whale")
            .await
            .assert_status(StatusCode::OK, app.label);
        let mut off = test_config(ORIGIN);
        off.recovery.enabled = false;
        let turned_off = app.with_config(off);

        let challenge = start(&app, "ada").await;
        let token = challenge["token"].as_str().unwrap();
        let refused = answer(&turned_off, token, "Colombo", "Blue Whale").await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "[{}]", app.label);
        assert!(refused.body.contains("turned off"), "{}", refused.body);

        let challenge = start(&app, "ada").await;
        let token = challenge["token"].as_str().unwrap();
        let reply = answer(&app, token, "Colombo", "Blue Whale").await;
        reply.assert_status(StatusCode::OK, app.label);
        let verified: String = serde_json::from_str(&reply.body).unwrap();
        let new = "the lighthouse keeper sleeps late";
        let form = [
            ("token", verified.as_str()),
            ("new_password", new),
            ("confirm", new),
        ];
        let refused = turned_off.post("/api/finish_recovery", &form, None).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "[{}]", app.label);
        app.sign_in("ada", PASSWORD).await;
    }
}

per_database! {
    async fn unknown_accounts_get_questions_no_outsider_can_compute(app) {
        // The old rule: question i was byte i of SHA-256(name) modulo the
        // set's size, which anyone could compute and compare.
        use sha2::{Digest, Sha256};
        let sets = &app.config.recovery.question_sets;
        let mut differs = false;
        for name in ["ghost", "nobody", "mallory", "trent", "peggy", "victor", "walter"] {
            let digest = Sha256::digest(name.as_bytes());
            let public_rule: Vec<String> = sets
                .iter()
                .enumerate()
                .map(|(i, set)| {
                    let question = &set.questions[digest[i] as usize % set.questions.len()];
                    question.text.clone()
                })
                .collect();
            let asked: Vec<String> = start(&app, name).await["questions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|q| q[1].as_str().unwrap().to_string())
                .collect();
            let again: Vec<String> = start(&app, name).await["questions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|q| q[1].as_str().unwrap().to_string())
                .collect();
            assert_eq!(asked, again, "[{}] the same questions each time", app.label);
            differs |= asked != public_rule;
        }
        assert!(differs, "[{}] the questions follow the public rule", app.label);
    }
}

per_database! {
    async fn starting_recovery_is_throttled_per_name_and_per_address(app) {
        app.add_user("ada", PASSWORD).await;
        async fn start_as(app: &TestApp, name: &str) -> Reply {
            app.post("/api/start_recovery", &[("username", name)], None)
                .await
        }
        for _ in 0..5 {
            start_as(&app, "ada").await.assert_status(StatusCode::OK, app.label);
        }
        // The sixth for one name is refused, as for a name that does not exist.
        start_as(&app, "ada")
            .await
            .assert_status(StatusCode::TOO_MANY_REQUESTS, app.label);
        for _ in 0..5 {
            start_as(&app, "ghost").await.assert_status(StatusCode::OK, app.label);
        }
        start_as(&app, "ghost")
            .await
            .assert_status(StatusCode::TOO_MANY_REQUESTS, app.label);
        // One address may start 20 in all, whatever the names.
        let names = ["a1x", "b2x", "c3x", "d4x", "e5x", "f6x", "g7x", "h8x", "i9x", "j0x"];
        let mut statuses = Vec::new();
        for name in names {
            statuses.push(start_as(&app, name).await.status);
        }
        assert!(
            statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
            "[{}] {statuses:?}",
            app.label
        );
    }
}
