//! Account Recovery: challenge answers and the password recovery flow, on
//! SQLite and PostgreSQL.

use crate::common::*;
use http::StatusCode;
use sqlx::Row;

const SET1: &str = "challengeQuestion1";
const SET2: &str = "challengeQuestion2";

pub(crate) async fn set_answers(
    app: &TestApp,
    cookie: &str,
    password: &str,
    a1: &str,
    a2: &str,
) -> Reply {
    let form = [
        ("current_password", password),
        ("answers[0][set_id]", SET1),
        ("answers[0][question_id]", "question1"),
        ("answers[0][answer]", a1),
        ("answers[1][set_id]", SET2),
        ("answers[1][question_id]", "question3"),
        ("answers[1][answer]", a2),
    ];
    app.post("/api/save_recovery_answers", &form, Some(cookie))
        .await
}

async fn start(app: &TestApp, username: &str) -> serde_json::Value {
    let reply = app
        .post("/api/start_recovery", &[("username", username)], None)
        .await;
    reply.assert_status(StatusCode::OK, app.label);
    reply.json()
}

async fn answer(app: &TestApp, token: &str, a1: &str, a2: &str) -> Reply {
    app.post(
        "/api/answer_recovery",
        &[("token", token), ("answers[0]", a1), ("answers[1]", a2)],
        None,
    )
    .await
}

mod answers;
mod flow;
