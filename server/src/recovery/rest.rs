//! REST: `/api/users/v1/me/challenges` and `/api/users/v1/me/challenge-answers`,
//! shaped as WSO2's challenge API. Answers are never returned, hashed or not.
//! Changes need a recent sign-in (within 5 minutes): the REST form of the
//! current-password check the page asks for.

use super::{change_answers, question_text, store, AnswersChange, Proof};
use crate::api::{ApiError, ApiJson, SignedIn};
use crate::AppState;
use app::backend::ssr::CurrentSession;
use app::recovery::AnswerInput;
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
    /// The same as `questionSetId`: WSO2's ChallengeSet schema requires this
    /// name, while its examples and other operations use `questionSetId`.
    #[serde(rename = "challengeSetId")]
    pub challenge_set_id: String,
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

async fn change(
    state: &AppState,
    me: &CurrentSession,
    change: AnswersChange,
) -> Result<(), ApiError> {
    change_answers(&state.db, &state.config, me, Proof::RecentSignIn, change).await?;
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
                challenge_set_id: set.id.clone(),
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
    let stored = store::answers(&state.db, me.user_id).await?;
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
    change(&state, &me, AnswersChange::AddNew(to_inputs(answers))).await?;
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
    let inputs = to_inputs(answers);
    let set = AnswersChange::Set {
        inputs,
        require_all: true,
    };
    change(&state, &me, set).await?;
    Ok(StatusCode::OK)
}

/// Removes every answer.
#[utoipa::path(delete, path = "/api/users/v1/me/challenge-answers", tag = "me",
    responses((status = 204), (status = 401, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody)))]
pub async fn remove_all(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
) -> Result<impl IntoResponse, ApiError> {
    change(&state, &me, AnswersChange::Remove(None)).await?;
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
    let set = AnswersChange::Set {
        inputs: vec![input],
        require_all: false,
    };
    change(&state, &me, set).await?;
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
    change(&state, &me, AnswersChange::Remove(Some(set_id))).await?;
    Ok(StatusCode::NO_CONTENT)
}
