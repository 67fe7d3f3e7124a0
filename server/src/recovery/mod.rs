//! Account Recovery: challenge questions the user answers (stored only as
//! argon2id hashes of the normalised answer), and the password recovery flow
//! that uses them (`flow`). Recovery never reveals whether an account exists:
//! an unknown account, or one without answers, is asked plausible questions
//! and fails at the end exactly like a wrong answer, after the same hashing
//! work.

mod flow;
pub mod rest;
mod store;

use crate::config::Config;
use crate::db::{Db, DbError};
use app::backend::ssr::{ClientInfo, CurrentSession};
use app::error::{AppError, FieldError};
use app::recovery::{AnswerInput, QuestionOption, QuestionSetView, RecoverySettings};

pub use flow::{answer, finish, redeem_code, start};
pub use store::delete_expired;

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// The operator turned question-based recovery off.
    #[error("recovery with security questions is turned off")]
    Disabled,
    #[error("invalid answers")]
    Invalid(Vec<FieldError>),
    /// A set to answer anew is answered already.
    #[error("a set is answered already")]
    AlreadyAnswered,
    /// No such question set, or none answered.
    #[error("no such question set")]
    NotFound,
    /// The REST API's proof of presence is missing: no recent sign-in.
    #[error("no recent sign-in")]
    StaleSignIn,
    #[error("throttled")]
    Throttled,
    /// The recovery attempt ended (used, failed, expired or unknown).
    #[error("recovery attempt ended")]
    Ended,
    /// What the re-authentication answered.
    #[error("{0}")]
    App(AppError),
    #[error(transparent)]
    Busy(#[from] crate::hashing::Busy),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for RecoveryError {
    fn from(e: sqlx::Error) -> Self {
        RecoveryError::Db(e.into())
    }
}

impl From<RecoveryError> for AppError {
    fn from(e: RecoveryError) -> Self {
        match e {
            RecoveryError::Disabled => AppError::Forbidden(
                "Password recovery with security questions is turned off. Contact your administrator."
                    .into(),
            ),
            RecoveryError::Invalid(errors) => AppError::Invalid(errors),
            RecoveryError::AlreadyAnswered => AppError::InConflict(
                "A set in the request is answered already; use PUT to replace it.".into(),
            ),
            RecoveryError::NotFound => AppError::NotFound,
            RecoveryError::StaleSignIn => AppError::Forbidden(
                "Changing recovery answers needs a recent sign-in: sign in again, then retry within 5 minutes."
                    .into(),
            ),
            RecoveryError::Throttled => AppError::Throttled,
            RecoveryError::Ended => AppError::Invalid(vec![FieldError::new(
                "flow",
                "This recovery attempt has ended. Start again with your username.",
            )]),
            RecoveryError::App(e) => e,
            RecoveryError::Busy(busy) => busy.into(),
            RecoveryError::Db(e) => e.into(),
        }
    }
}

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
    let stored = store::answers(db, user_id).await?;
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
async fn check_answers(
    db: &Db,
    config: &Config,
    user_id: i64,
    username: &str,
    inputs: &[AnswerInput],
    require_all: bool,
) -> Result<Vec<NewAnswer>, RecoveryError> {
    let stored = store::answers(db, user_id).await?;
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
            if config
                .verify_password(
                    a.answer.as_str().to_string(),
                    Some(kept.answer_hash.clone()),
                )
                .await?
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
        Err(RecoveryError::Invalid(errors))
    }
}

/// How the user proves it is them before recovery answers change.
pub enum Proof<'a> {
    /// The page: the current password, failures counted like failed sign-ins.
    CurrentPassword {
        password: &'a str,
        client: &'a ClientInfo,
    },
    /// The REST API: a sign-in within the last 5 minutes.
    RecentSignIn,
}

const RECENT_SIGN_IN_MS: i64 = 5 * 60_000;

/// A change to the user's recovery answers.
pub enum AnswersChange {
    /// Answer sets not answered yet (AlreadyAnswered otherwise).
    AddNew(Vec<AnswerInput>),
    /// Answer or replace sets; blank answers keep a set's stored answer.
    /// With `require_all`, every set must end up answered.
    Set {
        inputs: Vec<AnswerInput>,
        require_all: bool,
    },
    /// Remove one set's answer (NotFound when it has none), or all.
    Remove(Option<String>),
}

/// Changes the user's recovery answers, after the proof; the one place that
/// checks whether recovery is on, for the page and the REST API alike.
pub async fn change_answers(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
    proof: Proof<'_>,
    change: AnswersChange,
) -> Result<RecoverySettings, RecoveryError> {
    if !config.recovery.enabled {
        return Err(RecoveryError::Disabled);
    }
    match proof {
        Proof::CurrentPassword { password, client } => {
            crate::password::reauthenticate(db, config, me, password, "current_password", client)
                .await
                .map_err(RecoveryError::App)?;
        }
        Proof::RecentSignIn => {
            let signed_in_at = store::session_started(db, &me.session_id)
                .await?
                .unwrap_or(0);
            if crate::time::now_ms() - signed_in_at > RECENT_SIGN_IN_MS {
                return Err(RecoveryError::StaleSignIn);
            }
        }
    }
    let (inputs, require_all) = match change {
        AnswersChange::Remove(set_id) => {
            if let Some(set) = &set_id {
                if !config.recovery.question_sets.iter().any(|s| &s.id == set) {
                    return Err(RecoveryError::NotFound);
                }
            }
            let removed = store::remove_answers(db, me.user_id, set_id.as_deref()).await?;
            if set_id.is_some() && removed == 0 {
                return Err(RecoveryError::NotFound);
            }
            tracing::info!(user = %me.username, "recovery answers removed");
            return Ok(settings(db, config, me.user_id).await?);
        }
        AnswersChange::AddNew(inputs) => {
            let stored = store::answers(db, me.user_id).await?;
            if inputs
                .iter()
                .any(|a| stored.iter().any(|s| s.set_id == a.set_id))
            {
                return Err(RecoveryError::AlreadyAnswered);
            }
            (inputs, false)
        }
        AnswersChange::Set {
            inputs,
            require_all,
        } => (inputs, require_all),
    };
    let checked = check_answers(db, config, me.user_id, &me.username, &inputs, require_all).await?;
    let mut hashed = Vec::new();
    for a in checked {
        let hash = config.hash_password(a.answer.0).await?;
        hashed.push((a.set_id, a.question_id, hash));
    }
    store::replace_answers(db, me.user_id, hashed).await?;
    tracing::info!(user = %me.username, "recovery answers updated");
    Ok(settings(db, config, me.user_id).await?)
}

/// The text of the questions the user answered, for the export.
pub async fn answered_questions(
    db: &Db,
    config: &Config,
    user_id: i64,
) -> Result<Vec<(String, String)>, DbError> {
    Ok(store::answers(db, user_id)
        .await?
        .into_iter()
        .map(|a| {
            let text = question_text(config, &a.set_id, &a.question_id).unwrap_or_default();
            (a.set_id, text)
        })
        .collect())
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
