//! Setting, replacing and removing answers, on the page and through the REST API.

#[allow(unused_imports)]
use super::*;

per_database! {
    async fn answers_are_set_replaced_and_removed_and_stored_only_as_hashes(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;

        // The current password is required.
        let wrong = set_answers(&app, &cookie, "not my password", "Colombo", "Lanka").await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "[{}]", app.label);
        assert!(wrong.body.contains("current_password"));

        let saved = set_answers(&app, &cookie, PASSWORD, "Colombo", "Blue Whale").await;
        saved.assert_status(StatusCode::OK, app.label);
        let settings = saved.json();
        assert_eq!(settings["sets"][0]["current_question"], "question1");
        assert_eq!(settings["sets"][1]["current_question"], "question3");
        assert!(!saved.body.contains("Colombo"), "answers never come back");
        let export = app.get("/api/identity/user/v1.0/me", Some(&cookie)).await;
        let export = export.json();
        assert_eq!(
            export["security"]["challengeQuestions"],
            serde_json::json!([
                "In which city were you born?",
                "Where did you go on your first holiday?"
            ]),
            "[{}] the export names the questions",
            app.label
        );
        assert!(
            !export.to_string().to_lowercase().contains("colombo"),
            "and never the answers"
        );

        let rows = sqlx::query("SELECT answer_hash FROM challenge_answers ORDER BY set_id")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
        assert_eq!(rows.len(), 2);
        for row in rows {
            let hash: String = row.get(0);
            assert!(hash.starts_with("$argon2id$"), "[{}] {hash}", app.label);
            assert!(!hash.to_lowercase().contains("colombo"));
        }

        // Replace one set, keep the other (blank answer).
        let form = [
            ("current_password", PASSWORD),
            ("answers[0][set_id]", SET1),
            ("answers[0][question_id]", "question2"),
            ("answers[0][answer]", "Royal College"),
            ("answers[1][set_id]", SET2),
            ("answers[1][question_id]", "question3"),
            ("answers[1][answer]", ""),
        ];
        let replaced = app
            .post("/api/save_recovery_answers", &form, Some(&cookie))
            .await;
        replaced.assert_status(StatusCode::OK, app.label);
        assert_eq!(replaced.json()["sets"][0]["current_question"], "question2");
        assert_eq!(replaced.json()["sets"][1]["current_question"], "question3");

        let removed = app
            .post(
                "/api/save_recovery_answers",
                &[("current_password", PASSWORD), ("remove", "all")],
                Some(&cookie),
            )
            .await;
        removed.assert_status(StatusCode::OK, app.label);
        assert_eq!(
            removed.json()["sets"][0]["current_question"],
            serde_json::Value::Null
        );
    }
}

per_database! {
    async fn weak_or_repeated_answers_are_refused(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        for (a1, a2, field) in [
            ("ab", "Blue Whale", "answer-challengeQuestion1"),
            ("Colombo", " COLOMBO ", "answer-challengeQuestion2"),
            ("Ada", "Blue Whale", "answer-challengeQuestion1"),
            ("Colombo", "", "answer-challengeQuestion2"),
        ] {
            let reply = set_answers(&app, &cookie, PASSWORD, a1, a2).await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "[{}] {a1}/{a2}",
                app.label
            );
            assert!(
                reply.body.contains(field),
                "[{}] {a1}/{a2}: {}",
                app.label,
                reply.body
            );
        }
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM challenge_answers")
            .fetch_one(&app.db.pool)
            .await
            .unwrap()
            .get(0);
        assert_eq!(count, 0, "[{}] nothing saved", app.label);
    }
}

per_database! {
    async fn recovery_can_be_turned_off(app) with config {
        let mut config = test_config(ORIGIN);
        config.recovery.enabled = false;
        config
    } {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let settings = app
            .post("/api/get_recovery_settings", &[], Some(&cookie))
            .await;
        assert_eq!(settings.json()["enabled"], false, "[{}]", app.label);
        let start = app
            .post("/api/start_recovery", &[("username", "ada")], None)
            .await;
        assert_eq!(start.status, StatusCode::FORBIDDEN);
        assert!(start.body.contains("turned off"), "{}", start.body);
    }
}

per_database! {
    async fn the_challenges_rest_api_follows_the_spec_and_never_returns_answers(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let sets = app
            .rest("GET", "/api/users/v1/me/challenges", &cookie, None)
            .await
            .json();
        assert_eq!(sets.as_array().unwrap().len(), 2, "[{}]", app.label);
        assert_eq!(sets[0]["questionSetId"], SET1);
        assert!(sets[0]["questions"].as_array().unwrap().len() >= 5);
        for field in ["questionId", "question", "locale"] {
            assert!(sets[0]["questions"][0].get(field).is_some(), "{field}");
        }

        let body = serde_json::json!([
            {"questionSetId": SET1, "challengeQuestion": {"questionId": "question4"}, "answer": "Nimal"},
            {"questionSetId": SET2, "challengeQuestion": {"questionId": "question2"}, "answer": "Dune"},
        ]);
        let created = app
            .rest(
                "POST",
                "/api/users/v1/me/challenge-answers",
                &cookie,
                Some(body.clone()),
            )
            .await;
        created.assert_status(StatusCode::CREATED, app.label);
        let conflict = app
            .rest(
                "POST",
                "/api/users/v1/me/challenge-answers",
                &cookie,
                Some(body),
            )
            .await;
        assert_eq!(conflict.status, StatusCode::CONFLICT);

        let answered = app
            .rest("GET", "/api/users/v1/me/challenge-answers", &cookie, None)
            .await;
        assert!(
            !answered.body.contains("Nimal") && !answered.body.contains("argon2"),
            "[{}] {}",
            app.label,
            answered.body
        );
        let answered = answered.json();
        assert_eq!(answered[0]["questionSetId"], SET1);
        assert_eq!(
            answered[0]["question"],
            "What is your oldest cousin's first name?"
        );

        let one = app.rest("PUT", &format!("/api/users/v1/me/challenge-answers/{SET2}"), &cookie, Some(serde_json::json!({"challengeQuestion": {"questionId": "question5"}, "answer": "Queen"})))
        .await;
        one.assert_status(StatusCode::OK, app.label);
        let bad = app.rest("PUT", &format!("/api/users/v1/me/challenge-answers/{SET2}"), &cookie, Some(serde_json::json!({"challengeQuestion": {"questionId": "question5"}, "answer": "no"})))
        .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);

        let removed = app
            .rest(
                "DELETE",
                &format!("/api/users/v1/me/challenge-answers/{SET2}"),
                &cookie,
                None,
            )
            .await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT);
        let missing = app
            .rest(
                "DELETE",
                &format!("/api/users/v1/me/challenge-answers/{SET2}"),
                &cookie,
                None,
            )
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);

        // A session older than five minutes must sign in again to change answers.
        sqlx::query("UPDATE sessions SET created_at = created_at - 600000")
            .execute(&app.db.pool)
            .await
            .unwrap();
        let stale = app
            .rest(
                "DELETE",
                "/api/users/v1/me/challenge-answers",
                &cookie,
                None,
            )
            .await;
        assert_eq!(stale.status, StatusCode::FORBIDDEN, "[{}]", app.label);
    }
}

per_database! {
    async fn challenge_sets_carry_the_spec_s_challenge_set_id(app) {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let sets = app
            .rest("GET", "/api/users/v1/me/challenges", &cookie, None)
            .await
            .json();
        let sets = sets.as_array().unwrap();
        assert!(!sets.is_empty());
        for set in sets {
            assert!(set["questionSetId"].is_string(), "{set}");
            assert_eq!(set["challengeSetId"], set["questionSetId"], "{set}");
        }
    }
}
