//! Account Recovery: challenge questions the user answers (stored only as
//! argon2id hashes of the normalised answer), and the password recovery flow
//! that uses them. Recovery never reveals whether an account exists: an
//! unknown account, or one without answers, is asked plausible questions and
//! fails at the end exactly like a wrong answer, after the same hashing work.

use crate::config::{Config, QuestionSet};
use crate::db::{now_ms, Db, DbError};
use crate::password::{hash_password, verify_password};
use crate::{signin, users};
use app::backend::ssr::CurrentSession;
use app::error::{AppError, FieldError};
use app::recovery::{
    AnswerInput, QuestionOption, QuestionSetView, RecoveryChallenge, RecoverySettings,
};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

/// An answer as compared: trimmed, Unicode case-folded, inner whitespace
/// collapsed, so "  Blue  Whale " and "blue whale" match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalisedAnswer(String);

impl NormalisedAnswer {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let folded = caseless::default_case_fold_str(raw);
        let normalised = folded.split_whitespace().collect::<Vec<_>>().join(" ");
        if normalised.chars().count() < 3 {
            return Err("An answer needs at least 3 characters.".into());
        }
        if normalised.chars().count() > 256 {
            return Err("An answer can be at most 256 characters long.".into());
        }
        Ok(NormalisedAnswer(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One answered set, as stored.
pub struct StoredAnswer {
    pub set_id: String,
    pub question_id: String,
    pub answer_hash: String,
}

pub async fn stored_answers(db: &Db, user_id: i64) -> Result<Vec<StoredAnswer>, DbError> {
    let rows = sqlx::query(
        "SELECT set_id, question_id, answer_hash FROM challenge_answers WHERE user_id = $1 ORDER BY set_id",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| StoredAnswer {
            set_id: r.get(0),
            question_id: r.get(1),
            answer_hash: r.get(2),
        })
        .collect())
}

fn question_text(config: &Config, set_id: &str, question_id: &str) -> Option<String> {
    config
        .recovery
        .question_sets
        .iter()
        .find(|s| s.id == set_id)?
        .questions
        .iter()
        .find(|q| q.id == question_id)
        .map(|q| q.text.clone())
}

/// What the Account Recovery page shows: the sets, their questions, and which
/// question of each set is answered (never the answer).
pub async fn settings(db: &Db, config: &Config, user_id: i64) -> Result<RecoverySettings, DbError> {
    let stored = stored_answers(db, user_id).await?;
    let sets = config
        .recovery
        .question_sets
        .iter()
        .map(|set| {
            let current = stored.iter().find(|a| a.set_id == set.id);
            QuestionSetView {
                id: set.id.clone(),
                questions: set
                    .questions
                    .iter()
                    .map(|q| QuestionOption {
                        id: q.id.clone(),
                        text: q.text.clone(),
                    })
                    .collect(),
                current_question: current.map(|a| a.question_id.clone()),
                current_text: current
                    .and_then(|a| question_text(config, &a.set_id, &a.question_id)),
            }
        })
        .collect();
    Ok(RecoverySettings {
        enabled: config.recovery.enabled,
        sets,
    })
}

/// A checked change to one set: a question of that set and its answer.
pub struct NewAnswer {
    pub set_id: String,
    pub question_id: String,
    pub answer: NormalisedAnswer,
}

/// Checks the answers given on the page or through the API. Blank answers
/// keep a set's stored answer; every set must end up answered.
pub async fn check_answers(
    db: &Db,
    config: &Config,
    user_id: i64,
    username: &str,
    inputs: &[AnswerInput],
    require_all: bool,
) -> Result<Vec<NewAnswer>, AppError> {
    let stored = stored_answers(db, user_id).await.map_err(crate::internal)?;
    let mut errors = Vec::new();
    let mut answers = Vec::new();
    for input in inputs {
        let field = format!("answer-{}", input.set_id);
        let Some(set) = config
            .recovery
            .question_sets
            .iter()
            .find(|s| s.id == input.set_id)
        else {
            errors.push(FieldError::new(&field, "There is no such question set."));
            continue;
        };
        if input.answer.trim().is_empty() {
            continue;
        }
        if !set.questions.iter().any(|q| q.id == input.question_id) {
            errors.push(FieldError::new(&field, "Choose a question from the list."));
            continue;
        }
        match NormalisedAnswer::parse(&input.answer) {
            Ok(answer) if answer.as_str() == caseless::default_case_fold_str(username) => {
                errors.push(FieldError::new(
                    &field,
                    "An answer cannot be your username.",
                ));
            }
            Ok(answer) => answers.push(NewAnswer {
                set_id: set.id.clone(),
                question_id: input.question_id.clone(),
                answer,
            }),
            Err(message) => errors.push(FieldError::new(&field, message)),
        }
    }
    if require_all {
        for set in &config.recovery.question_sets {
            let answered = answers.iter().any(|a| a.set_id == set.id)
                || stored.iter().any(|a| a.set_id == set.id);
            if !answered
                && !errors
                    .iter()
                    .any(|e| e.field == format!("answer-{}", set.id))
            {
                errors.push(FieldError::new(
                    &format!("answer-{}", set.id),
                    "Choose a question from this set and answer it.",
                ));
            }
        }
    }
    // The same answer in two sets would make two questions one.
    for (i, a) in answers.iter().enumerate() {
        if answers[..i].iter().any(|b| b.answer == a.answer) {
            errors.push(FieldError::new(
                &format!("answer-{}", a.set_id),
                "Use a different answer for each question.",
            ));
        }
    }
    for a in &answers {
        for kept in stored
            .iter()
            .filter(|s| !answers.iter().any(|n| n.set_id == s.set_id))
        {
            if verify_password(
                a.answer.as_str().to_string(),
                Some(kept.answer_hash.clone()),
            )
            .await
            {
                errors.push(FieldError::new(
                    &format!("answer-{}", a.set_id),
                    "Use a different answer for each question.",
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(answers)
    } else {
        Err(AppError::Invalid(errors))
    }
}

/// Stores the answers (replacing those sets' previous ones) in one transaction.
pub async fn store_answers(db: &Db, user_id: i64, answers: Vec<NewAnswer>) -> Result<(), DbError> {
    let mut hashed = Vec::new();
    for a in answers {
        let hash = hash_password(a.answer.0).await;
        hashed.push((a.set_id, a.question_id, hash));
    }
    let mut tx = db.pool.begin().await?;
    for (set_id, question_id, hash) in hashed {
        sqlx::query("DELETE FROM challenge_answers WHERE user_id = $1 AND set_id = $2")
            .bind(user_id)
            .bind(&set_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO challenge_answers (user_id, set_id, question_id, answer_hash, updated_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user_id)
        .bind(&set_id)
        .bind(&question_id)
        .bind(hash.as_str())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Removes the answers of one set, or of all sets; returns how many.
pub async fn remove_answers(db: &Db, user_id: i64, set_id: Option<&str>) -> Result<u64, DbError> {
    let done = match set_id {
        Some(set) => {
            sqlx::query("DELETE FROM challenge_answers WHERE user_id = $1 AND set_id = $2")
                .bind(user_id)
                .bind(set)
                .execute(&db.pool)
                .await?
        }
        None => {
            sqlx::query("DELETE FROM challenge_answers WHERE user_id = $1")
                .bind(user_id)
                .execute(&db.pool)
                .await?
        }
    };
    Ok(done.rows_affected())
}

fn recovery_key(username_key: &str) -> String {
    format!("recovery:{username_key}")
}

fn recovery_address_key(ip: &str) -> String {
    format!("recovery-ip:{ip}")
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Questions an unknown account is asked: the same ones every time for the
/// same name, so asking twice does not tell that the account is fictional.
fn plausible_questions(sets: &[QuestionSet], username_key: &str) -> Vec<(String, String)> {
    let digest = Sha256::digest(username_key.as_bytes());
    sets.iter()
        .enumerate()
        .map(|(i, set)| {
            let pick = digest[i % digest.len()] as usize % set.questions.len();
            (set.id.clone(), set.questions[pick].id.clone())
        })
        .collect()
}

fn disabled() -> AppError {
    AppError::Invalid(vec![FieldError::new(
        "username",
        "Password recovery with security questions is turned off. Contact your administrator.",
    )])
}

/// Step 1: the user names the account; the flow continues to its questions.
pub async fn start(
    db: &Db,
    config: &Config,
    raw_username: &str,
    ip: &str,
) -> Result<RecoveryChallenge, AppError> {
    if !config.recovery.enabled {
        return Err(disabled());
    }
    if raw_username.trim().is_empty() {
        return Err(AppError::Invalid(vec![FieldError::new(
            "username",
            "Enter your username.",
        )]));
    }
    let username = users::Username::parse(raw_username).ok();
    let key = username
        .as_ref()
        .map(users::Username::key)
        .unwrap_or_else(|| raw_username.trim().to_lowercase());
    if signin::is_locked(db, &recovery_key(&key))
        .await
        .map_err(crate::internal)?
        || signin::is_locked(db, &recovery_address_key(ip))
            .await
            .map_err(crate::internal)?
    {
        return Err(AppError::Throttled);
    }
    let account = match &username {
        Some(name) => users::credentials(db, name)
            .await
            .map_err(crate::internal)?,
        None => None,
    };
    let stored = match &account {
        Some(a) => stored_answers(db, a.id).await.map_err(crate::internal)?,
        None => Vec::new(),
    };
    let sets = &config.recovery.question_sets;
    let complete = sets.iter().all(|s| stored.iter().any(|a| a.set_id == s.id));
    let (user_id, asked) = match account {
        Some(a) if complete => (
            Some(a.id),
            sets.iter()
                .map(|s| {
                    let answer = stored.iter().find(|a| a.set_id == s.id).expect("complete");
                    (s.id.clone(), answer.question_id.clone())
                })
                .collect(),
        ),
        _ => (None, plausible_questions(sets, &key)),
    };
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let expires = now_ms() + config.recovery.flow_minutes as i64 * 60_000;
    sqlx::query(
        "INSERT INTO recovery_flows (token_hash, username_key, user_id, questions, stage, expires_at)
         VALUES ($1, $2, $3, $4, 'questions', $5)",
    )
    .bind(token_hash(&token))
    .bind(&key)
    .bind(user_id)
    .bind(serde_json::to_string(&asked).map_err(crate::internal)?)
    .bind(expires)
    .execute(&db.pool)
    .await
    .map_err(crate::internal)?;
    let questions = asked
        .iter()
        .map(|(set, question)| {
            (
                set.clone(),
                question_text(config, set, question).unwrap_or_default(),
            )
        })
        .collect();
    Ok(RecoveryChallenge { token, questions })
}

struct Flow {
    username_key: String,
    user_id: Option<i64>,
    questions: Vec<(String, String)>,
}

/// Takes the flow out of the database (single use): it can be answered once.
async fn take_flow(db: &Db, token: &str, stage: &str) -> Result<Option<Flow>, DbError> {
    let row = sqlx::query(
        "DELETE FROM recovery_flows WHERE token_hash = $1 AND stage = $2 AND expires_at > $3
         RETURNING username_key, user_id, questions",
    )
    .bind(token_hash(token))
    .bind(stage)
    .bind(now_ms())
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|r| Flow {
        username_key: r.get(0),
        user_id: r.get(1),
        questions: serde_json::from_str(&r.get::<String, _>(2)).unwrap_or_default(),
    }))
}

fn expired() -> AppError {
    AppError::Invalid(vec![FieldError::new(
        "flow",
        "This recovery attempt has ended. Start again with your username.",
    )])
}

/// Step 2: all of the questions must be answered correctly. Returns a token
/// for step 3. Any failure ends the attempt.
pub async fn answer(
    db: &Db,
    config: &Config,
    token: &str,
    answers: &[String],
    ip: &str,
) -> Result<String, AppError> {
    let flow = take_flow(db, token, "questions")
        .await
        .map_err(crate::internal)?
        .ok_or_else(expired)?;
    let key = recovery_key(&flow.username_key);
    if signin::is_locked(db, &key).await.map_err(crate::internal)? {
        return Err(AppError::Throttled);
    }
    let stored = match flow.user_id {
        Some(id) => stored_answers(db, id).await.map_err(crate::internal)?,
        None => Vec::new(),
    };
    // Every question costs one verification, known account or not.
    let mut all_right = flow.user_id.is_some() && answers.len() == flow.questions.len();
    for (i, (set_id, question_id)) in flow.questions.iter().enumerate() {
        let given = answers
            .get(i)
            .and_then(|a| NormalisedAnswer::parse(a).ok())
            .map(|a| a.0)
            .unwrap_or_default();
        let hash = stored
            .iter()
            .find(|a| &a.set_id == set_id && &a.question_id == question_id)
            .map(|a| a.answer_hash.clone());
        all_right &= hash.is_some();
        all_right &= verify_password(given, hash).await;
    }
    if !all_right {
        tracing::info!(ip, "recovery answers refused");
        let lock = &config.recovery;
        let locked = signin::count_failure(db, &key, lock.max_failures, |locks| {
            signin::growing_lock_ms(lock.lock_minutes, 2, locks)
        })
        .await
        .map_err(crate::internal)?;
        let address_locked = signin::count_failure(
            db,
            &recovery_address_key(ip),
            config.lockout.ip_max_failures,
            |_| config.lockout.ip_lock_minutes as i64 * 60_000,
        )
        .await
        .map_err(crate::internal)?;
        return Err(if locked || address_locked {
            AppError::Throttled
        } else {
            AppError::Invalid(vec![FieldError::new(
                "answers",
                "Those answers are not right. Start again with your username to try once more.",
            )])
        });
    }
    signin::clear_failures(db, &key)
        .await
        .map_err(crate::internal)?;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let next = hex::encode(bytes);
    sqlx::query(
        "INSERT INTO recovery_flows (token_hash, username_key, user_id, questions, stage, expires_at)
         VALUES ($1, $2, $3, '[]', 'verified', $4)",
    )
    .bind(token_hash(&next))
    .bind(&flow.username_key)
    .bind(flow.user_id)
    .bind(now_ms() + config.recovery.flow_minutes as i64 * 60_000)
    .execute(&db.pool)
    .await
    .map_err(crate::internal)?;
    Ok(next)
}

/// Step 3: a new password under the usual policy; every session of the
/// account ends.
pub async fn finish(
    db: &Db,
    config: &Config,
    token: &str,
    new_password: &str,
) -> Result<(), AppError> {
    // Check the policy before using up the token, so a refused password can be retried.
    let row = sqlx::query(
        "SELECT u.username FROM recovery_flows f JOIN users u ON u.id = f.user_id
         WHERE f.token_hash = $1 AND f.stage = 'verified' AND f.expires_at > $2",
    )
    .bind(token_hash(token))
    .bind(now_ms())
    .fetch_optional(&db.pool)
    .await
    .map_err(crate::internal)?
    .ok_or_else(expired)?;
    let username: String = row.get(0);
    let feedback = crate::password::evaluate(&config.password, new_password, &[username.as_str()]);
    if !feedback.acceptable {
        return Err(AppError::Invalid(vec![FieldError::new(
            "new_password",
            feedback.problems.join(" "),
        )]));
    }
    let flow = take_flow(db, token, "verified")
        .await
        .map_err(crate::internal)?
        .ok_or_else(expired)?;
    let user_id = flow.user_id.ok_or_else(expired)?;
    let hash = hash_password(new_password.to_string()).await;
    let ended = crate::password::store_new_password(db, user_id, &hash, None, true)
        .await
        .map_err(crate::internal)?;
    // The account's sign-in lock, if any, no longer protects anything.
    signin::clear_failures(db, &signin::account_key(&flow.username_key))
        .await
        .map_err(crate::internal)?;
    tracing::info!(user = %username, sessions_ended = ended, "password recovered");
    Ok(())
}

/// Removes expired recovery attempts (run with the session cleanup).
pub async fn delete_expired(db: &Db) -> Result<u64, DbError> {
    let done = sqlx::query("DELETE FROM recovery_flows WHERE expires_at <= $1")
        .bind(now_ms())
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected())
}

/// REST: `/api/users/v1/me/challenges` and `/api/users/v1/me/challenge-answers`,
/// shaped as WSO2's challenge API. Answers are never returned, hashed or not.
/// Changes need a recent sign-in (within 5 minutes): the REST form of the
/// current-password check the page asks for.
pub mod rest {
    use super::*;
    use crate::api::{ApiError, ApiJson, SignedIn};
    use crate::AppState;
    use axum::{
        extract::{Path, State},
        http::StatusCode,
        response::IntoResponse,
        Json,
    };
    use serde::{Deserialize, Serialize};
    use utoipa::ToSchema;

    #[derive(Debug, Serialize, Deserialize, ToSchema)]
    pub struct ChallengeQuestion {
        pub locale: Option<String>,
        pub question: Option<String>,
        #[serde(rename = "questionId")]
        pub question_id: String,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct ChallengeSet {
        #[serde(rename = "questionSetId")]
        pub question_set_id: String,
        pub questions: Vec<ChallengeQuestion>,
    }

    #[derive(Debug, Deserialize, ToSchema)]
    pub struct ChallengeAnswer {
        #[serde(rename = "questionSetId")]
        pub question_set_id: String,
        #[serde(rename = "challengeQuestion")]
        pub challenge_question: ChallengeQuestion,
        pub answer: String,
    }

    #[derive(Debug, Deserialize, ToSchema)]
    pub struct UserChallengeAnswer {
        #[serde(rename = "challengeQuestion")]
        pub challenge_question: ChallengeQuestion,
        pub answer: String,
    }

    #[derive(Debug, Serialize, ToSchema)]
    pub struct UserChallengeAnswerResponse {
        #[serde(rename = "questionSetId")]
        pub question_set_id: String,
        pub question: String,
        /// Always masked: answers are stored only as salted hashes and never sent.
        pub answer: String,
    }

    const MASK: &str = "********";
    const RECENT_SIGN_IN_MS: i64 = 5 * 60_000;

    async fn require_recent_sign_in(state: &AppState, me: &CurrentSession) -> Result<(), ApiError> {
        let row = sqlx::query("SELECT created_at FROM sessions WHERE id = $1")
            .bind(&me.session_id)
            .fetch_optional(&state.db.pool)
            .await
            .map_err(ApiError::internal)?;
        let signed_in_at: i64 = row.map(|r| r.get(0)).unwrap_or(0);
        if now_ms() - signed_in_at > RECENT_SIGN_IN_MS {
            return Err(ApiError::Forbidden(
                "Changing recovery answers needs a recent sign-in: sign in again, then retry within 5 minutes.".into(),
            ));
        }
        if !state.config.recovery.enabled {
            return Err(ApiError::Forbidden(
                "Recovery with security questions is turned off.".into(),
            ));
        }
        Ok(())
    }

    fn invalid(error: AppError) -> ApiError {
        match error {
            AppError::Invalid(errors) => ApiError::BadRequest(
                errors
                    .into_iter()
                    .map(|e| e.message)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            other => ApiError::internal(other),
        }
    }

    async fn save(
        state: &AppState,
        me: &CurrentSession,
        inputs: Vec<AnswerInput>,
        require_all: bool,
    ) -> Result<(), ApiError> {
        require_recent_sign_in(state, me).await?;
        let checked = check_answers(
            &state.db,
            &state.config,
            me.user_id,
            &me.username,
            &inputs,
            require_all,
        )
        .await
        .map_err(invalid)?;
        store_answers(&state.db, me.user_id, checked)
            .await
            .map_err(ApiError::internal)?;
        tracing::info!(user = %me.username, "recovery answers updated through the API");
        Ok(())
    }

    fn to_inputs(answers: Vec<ChallengeAnswer>) -> Vec<AnswerInput> {
        answers
            .into_iter()
            .map(|a| AnswerInput {
                set_id: a.question_set_id,
                question_id: a.challenge_question.question_id,
                answer: a.answer,
            })
            .collect()
    }

    /// The question sets the user can answer.
    #[utoipa::path(get, path = "/api/users/v1/me/challenges", tag = "me",
        responses((status = 200, body = Vec<ChallengeSet>), (status = 401, body = crate::api::ErrorBody)))]
    pub async fn challenges(
        State(state): State<AppState>,
        SignedIn(_me): SignedIn,
    ) -> Json<Vec<ChallengeSet>> {
        Json(
            state
                .config
                .recovery
                .question_sets
                .iter()
                .map(|set| ChallengeSet {
                    question_set_id: set.id.clone(),
                    questions: set
                        .questions
                        .iter()
                        .map(|q| ChallengeQuestion {
                            locale: Some(q.locale.clone()),
                            question: Some(q.text.clone()),
                            question_id: q.id.clone(),
                        })
                        .collect(),
                })
                .collect(),
        )
    }

    /// The sets the user has answered, with the question (never the answer).
    #[utoipa::path(get, path = "/api/users/v1/me/challenge-answers", tag = "me",
        responses((status = 200, body = Vec<UserChallengeAnswerResponse>), (status = 401, body = crate::api::ErrorBody)))]
    pub async fn answered(
        State(state): State<AppState>,
        SignedIn(me): SignedIn,
    ) -> Result<Json<Vec<UserChallengeAnswerResponse>>, ApiError> {
        let stored = stored_answers(&state.db, me.user_id)
            .await
            .map_err(ApiError::internal)?;
        Ok(Json(
            stored
                .into_iter()
                .map(|a| UserChallengeAnswerResponse {
                    question: question_text(&state.config, &a.set_id, &a.question_id)
                        .unwrap_or_default(),
                    question_set_id: a.set_id,
                    answer: MASK.into(),
                })
                .collect(),
        ))
    }

    /// Answers new sets; 409 if one of them is answered already (use PUT).
    #[utoipa::path(post, path = "/api/users/v1/me/challenge-answers", tag = "me", request_body = Vec<ChallengeAnswer>,
        responses((status = 201), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody),
                  (status = 403, body = crate::api::ErrorBody), (status = 409, body = crate::api::ErrorBody)))]
    pub async fn add(
        State(state): State<AppState>,
        SignedIn(me): SignedIn,
        ApiJson(answers): ApiJson<Vec<ChallengeAnswer>>,
    ) -> Result<impl IntoResponse, ApiError> {
        let stored = stored_answers(&state.db, me.user_id)
            .await
            .map_err(ApiError::internal)?;
        if answers
            .iter()
            .any(|a| stored.iter().any(|s| s.set_id == a.question_set_id))
        {
            return Err(ApiError::Conflict(
                "A set in the request is answered already; use PUT to replace it.".into(),
            ));
        }
        save(&state, &me, to_inputs(answers), false).await?;
        Ok(StatusCode::CREATED)
    }

    /// Replaces the answers: afterwards every set must be answered.
    #[utoipa::path(put, path = "/api/users/v1/me/challenge-answers", tag = "me", request_body = Vec<ChallengeAnswer>,
        responses((status = 200), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody),
                  (status = 403, body = crate::api::ErrorBody)))]
    pub async fn replace(
        State(state): State<AppState>,
        SignedIn(me): SignedIn,
        ApiJson(answers): ApiJson<Vec<ChallengeAnswer>>,
    ) -> Result<impl IntoResponse, ApiError> {
        save(&state, &me, to_inputs(answers), true).await?;
        Ok(StatusCode::OK)
    }

    /// Removes every answer.
    #[utoipa::path(delete, path = "/api/users/v1/me/challenge-answers", tag = "me",
        responses((status = 204), (status = 401, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody)))]
    pub async fn remove_all(
        State(state): State<AppState>,
        SignedIn(me): SignedIn,
    ) -> Result<impl IntoResponse, ApiError> {
        require_recent_sign_in(&state, &me).await?;
        remove_answers(&state.db, me.user_id, None)
            .await
            .map_err(ApiError::internal)?;
        Ok(StatusCode::NO_CONTENT)
    }

    /// Answers or replaces one set.
    #[utoipa::path(put, path = "/api/users/v1/me/challenge-answers/{challenge-set-id}", tag = "me", request_body = UserChallengeAnswer,
        params(("challenge-set-id" = String, Path, description = "The question set")),
        responses((status = 200), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody),
                  (status = 403, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
    pub async fn replace_one(
        State(state): State<AppState>,
        SignedIn(me): SignedIn,
        Path(set_id): Path<String>,
        ApiJson(answer): ApiJson<UserChallengeAnswer>,
    ) -> Result<impl IntoResponse, ApiError> {
        if !state
            .config
            .recovery
            .question_sets
            .iter()
            .any(|s| s.id == set_id)
        {
            return Err(ApiError::NotFound("question set"));
        }
        let input = AnswerInput {
            set_id,
            question_id: answer.challenge_question.question_id,
            answer: answer.answer,
        };
        save(&state, &me, vec![input], false).await?;
        Ok(StatusCode::OK)
    }

    /// Removes one set's answer.
    #[utoipa::path(delete, path = "/api/users/v1/me/challenge-answers/{challenge-set-id}", tag = "me",
        params(("challenge-set-id" = String, Path, description = "The question set")),
        responses((status = 204), (status = 401, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody),
                  (status = 404, body = crate::api::ErrorBody)))]
    pub async fn remove_one(
        State(state): State<AppState>,
        SignedIn(me): SignedIn,
        Path(set_id): Path<String>,
    ) -> Result<impl IntoResponse, ApiError> {
        require_recent_sign_in(&state, &me).await?;
        if remove_answers(&state.db, me.user_id, Some(&set_id))
            .await
            .map_err(ApiError::internal)?
            == 0
        {
            return Err(ApiError::NotFound("answered question set"));
        }
        Ok(StatusCode::NO_CONTENT)
    }
}

#[cfg(test)]
mod tests {
    use super::NormalisedAnswer;

    #[test]
    fn answers_are_trimmed_case_folded_and_space_collapsed() {
        let a = NormalisedAnswer::parse("  Blue   Whale ").unwrap();
        assert_eq!(a.as_str(), "blue whale");
        assert_eq!(a, NormalisedAnswer::parse("BLUE whale").unwrap());
        // Full case folding, not just lower-casing.
        assert_eq!(
            NormalisedAnswer::parse("Straße").unwrap(),
            NormalisedAnswer::parse("STRASSE").unwrap()
        );
        assert!(
            NormalisedAnswer::parse("  ab   ").is_err(),
            "3 characters after normalising"
        );
        assert_eq!(NormalisedAnswer::parse(" a   b ").unwrap().as_str(), "a b");
    }
}
