//! "Forgot password?": the username, then that account's questions, then a
//! new password. Each stage is a single-use, server-side attempt of at most
//! `recovery.flow_minutes`; any wrong answer ends it.

use super::store::{self, NewFlow};
use super::{question_text, NormalisedAnswer, RecoveryError};
use crate::config::{Config, QuestionSet};
use crate::db::Db;
use crate::throttle;
use crate::time::now_ms;
use crate::users;
use app::error::FieldError;
use app::recovery::RecoveryChallenge;
use rand::RngCore;
use sha2::{Digest, Sha256};

const QUESTIONS: &str = "questions";

/// Recovery attempts one address may start within `recovery.flow_minutes`.
const START_LIMIT_PER_ADDRESS: i64 = 20;
/// Recovery attempts for one account name within `recovery.flow_minutes`.
const START_LIMIT_PER_NAME: i64 = 5;
const VERIFIED: &str = "verified";
/// Verified with a recovery code, which works whether or not the operator
/// offers questions.
const VERIFIED_BY_CODE: &str = "verified-by-code";

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Questions an unknown account is asked: the same ones every time for the
/// same name, so asking twice does not tell that the account is fictional,
/// and derived with a secret only the server knows (HMAC), so nobody can
/// compute them and compare.
fn plausible_questions(
    sets: &[QuestionSet],
    secret: &[u8],
    username_key: &str,
) -> Vec<(String, String)> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, username_key.as_bytes());
    let digest = tag.as_ref();
    sets.iter()
        .enumerate()
        .filter_map(|(i, set)| {
            let pick = digest[i % digest.len()] as usize % set.questions.len().max(1);
            set.questions
                .get(pick)
                .map(|q| (set.id.clone(), q.id.clone()))
        })
        .collect()
}

fn enabled(config: &Config) -> Result<(), RecoveryError> {
    if config.recovery.enabled {
        Ok(())
    } else {
        Err(RecoveryError::Disabled)
    }
}

/// Step 1: the user names the account; the flow continues to its questions.
pub async fn start(
    db: &Db,
    config: &Config,
    raw_username: &str,
    ip: &str,
) -> Result<RecoveryChallenge, RecoveryError> {
    enabled(config)?;
    if raw_username.trim().is_empty() {
        return Err(RecoveryError::Invalid(vec![FieldError::new(
            "username",
            "Enter your username.",
        )]));
    }
    let username = users::Username::parse(raw_username).ok();
    let key = username
        .as_ref()
        .map(users::Username::key)
        .unwrap_or_else(|| raw_username.trim().to_lowercase());
    if throttle::standing(
        db,
        &throttle::Key::recovery(&key),
        &throttle::Key::recovery_address(ip),
    )
    .await?
    .locked
    {
        return Err(RecoveryError::Throttled);
    }
    // Each start stores an attempt and asks the database for the account:
    // counted per address and per name, existing or not, in a fixed window.
    let window = config.recovery.flow_minutes as i64 * 60_000;
    let by_address =
        throttle::count_in_window(db, &throttle::Key::recovery_start_address(ip), window).await?;
    let by_name =
        throttle::count_in_window(db, &throttle::Key::recovery_start(&key), window).await?;
    if by_address > START_LIMIT_PER_ADDRESS || by_name > START_LIMIT_PER_NAME {
        return Err(RecoveryError::Throttled);
    }
    let account = match &username {
        Some(name) => users::credentials(db, name).await?,
        None => None,
    };
    let stored = match &account {
        Some(a) => store::answers(db, a.id).await?,
        None => Vec::new(),
    };
    let sets = &config.recovery.question_sets;
    let asked_of_account: Option<Vec<(String, String)>> = sets
        .iter()
        .map(|s| {
            stored
                .iter()
                .find(|a| a.set_id == s.id)
                .map(|a| (s.id.clone(), a.question_id.clone()))
        })
        .collect();
    let (user_id, asked) = match (account, asked_of_account) {
        (Some(a), Some(asked)) if !asked.is_empty() => (Some(a.id), asked),
        _ => {
            let secret = store::decoy_secret(db).await?;
            (None, plausible_questions(sets, &secret, &key))
        }
    };
    let token = new_token();
    store::insert_flow(
        db,
        NewFlow {
            token_hash: &token_hash(&token),
            username_key: &key,
            user_id,
            // A list of string pairs always serialises; were it ever empty,
            // step 2 fails closed.
            questions: serde_json::to_string(&asked).unwrap_or_else(|_| "[]".into()),
            stage: QUESTIONS,
            expires_at: now_ms() + config.recovery.flow_minutes as i64 * 60_000,
        },
    )
    .await?;
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

/// Step 2: all of the questions must be answered correctly. Returns a token
/// for step 3. Any failure ends the attempt.
pub async fn answer(
    db: &Db,
    config: &Config,
    token: &str,
    answers: &[String],
    ip: &str,
) -> Result<String, RecoveryError> {
    enabled(config)?;
    let flow = store::take_flow(db, &token_hash(token), QUESTIONS)
        .await?
        .ok_or(RecoveryError::Ended)?;
    let key = throttle::Key::recovery(&flow.username_key);
    if throttle::is_locked(db, &key).await? {
        return Err(RecoveryError::Throttled);
    }
    // Unreadable or empty questions fail closed: nothing was asked, so
    // nothing can have been answered.
    let questions: Vec<(String, String)> =
        serde_json::from_str(&flow.questions).unwrap_or_default();
    let stored = match flow.user_id {
        Some(id) => store::answers(db, id).await?,
        None => Vec::new(),
    };
    // Every question costs one verification, known account or not.
    let mut all_right =
        flow.user_id.is_some() && !questions.is_empty() && answers.len() == questions.len();
    for (i, (set_id, question_id)) in questions.iter().enumerate() {
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
        all_right &= config.verify_password(given, hash).await?;
    }
    if !all_right {
        tracing::info!(ip, "recovery answers refused");
        return Err(refuse(
            db,
            config,
            &key,
            ip,
            "answers",
            "Those answers are not right. Start again with your username to try once more.",
        )
        .await?);
    }
    throttle::clear(db, &key).await?;
    verified(db, config, &flow.username_key, flow.user_id, VERIFIED).await
}

/// Step 3: a new password under the usual policy; every session of the
/// account ends.
pub async fn finish(
    db: &Db,
    config: &Config,
    token: &str,
    new_password: &str,
) -> Result<(), RecoveryError> {
    let hashed_token = token_hash(token);
    // Check the policy before using up the token, so a refused password can be retried.
    let (stage, username) = match store::flow_username(db, &hashed_token, VERIFIED).await? {
        Some(username) => {
            // Questions turned off stop attempts that answered them.
            enabled(config)?;
            (VERIFIED, username)
        }
        None => (
            VERIFIED_BY_CODE,
            store::flow_username(db, &hashed_token, VERIFIED_BY_CODE)
                .await?
                .ok_or(RecoveryError::Ended)?,
        ),
    };
    let feedback = crate::password::evaluate(&config.password, new_password, &[username.as_str()]);
    if !feedback.acceptable {
        return Err(RecoveryError::Invalid(vec![FieldError::new(
            "new_password",
            feedback.problems.join(" "),
        )]));
    }
    let flow = store::take_flow(db, &hashed_token, stage)
        .await?
        .ok_or(RecoveryError::Ended)?;
    let user_id = flow.user_id.ok_or(RecoveryError::Ended)?;
    let hash = config.hash_password(new_password.to_string()).await?;
    let ended = crate::password::store_new_password(db, user_id, &hash, None, true).await?;
    // The account's sign-in lock, if any, no longer protects anything.
    throttle::clear(db, &throttle::Key::sign_in(&flow.username_key)).await?;
    tracing::info!(user = %username, sessions_ended = ended, "password recovered");
    Ok(())
}

/// Step 2 with a recovery code instead of the questions (the way in when the
/// operator turned questions off): the code is used up, and the token for
/// step 3 returned. Wrong codes count like wrong answers, and an unknown
/// account fails exactly like a wrong code.
pub async fn redeem_code(
    db: &Db,
    config: &Config,
    raw_username: &str,
    code: &str,
    ip: &str,
) -> Result<String, RecoveryError> {
    let username = users::Username::parse(raw_username).ok();
    let username_key = username
        .as_ref()
        .map(users::Username::key)
        .unwrap_or_else(|| raw_username.trim().to_lowercase());
    let key = throttle::Key::recovery(&username_key);
    let address = throttle::Key::recovery_address(ip);
    if throttle::standing(db, &key, &address).await?.locked {
        return Err(RecoveryError::Throttled);
    }
    let account = match &username {
        Some(name) => users::credentials(db, name).await?,
        None => None,
    };
    let redeemed =
        crate::mfa::redeem_code_without_sign_in(db, config, account.as_ref().map(|a| a.id), code)
            .await
            .map_err(|e| match e {
                crate::mfa::MfaError::Busy(busy) => RecoveryError::Busy(busy),
                crate::mfa::MfaError::Db(e) => RecoveryError::Db(e),
                other => RecoveryError::App(other.into()),
            })?;
    let Some(account) = account.filter(|_| redeemed) else {
        tracing::info!(ip, "recovery code refused");
        return Err(refuse(
            db,
            config,
            &key,
            ip,
            "code",
            "That username and recovery code do not match. Each recovery code works once.",
        )
        .await?);
    };
    throttle::clear(db, &key).await?;
    let next = verified(
        db,
        config,
        &username_key,
        Some(account.id),
        VERIFIED_BY_CODE,
    )
    .await?;
    tracing::info!(user = %account.username, "recovery code accepted for a password reset");
    Ok(next)
}

/// Counts a failed proof (wrong answers or a wrong recovery code) for the
/// account name and the address; the error to answer with: Throttled once
/// either is locked, else the field's message.
async fn refuse(
    db: &Db,
    config: &Config,
    account: &throttle::Key,
    ip: &str,
    field: &str,
    message: &str,
) -> Result<RecoveryError, RecoveryError> {
    let lock = &config.recovery;
    let locked = throttle::count_failure(db, account, lock.max_failures, |locks| {
        throttle::growing_lock_ms(lock.lock_minutes, 2, locks)
    })
    .await?;
    let address_locked = throttle::count_failure(
        db,
        &throttle::Key::recovery_address(ip),
        config.lockout.ip_max_failures,
        |_| config.lockout.ip_lock_minutes as i64 * 60_000,
    )
    .await?;
    Ok(if locked || address_locked {
        RecoveryError::Throttled
    } else {
        RecoveryError::Invalid(vec![FieldError::new(field, message)])
    })
}

/// Starts step 3 for a proven account: the token that sets the new password.
async fn verified(
    db: &Db,
    config: &Config,
    username_key: &str,
    user_id: Option<i64>,
    stage: &str,
) -> Result<String, RecoveryError> {
    let next = new_token();
    store::insert_flow(
        db,
        NewFlow {
            token_hash: &token_hash(&next),
            username_key,
            user_id,
            questions: "[]".into(),
            stage,
            expires_at: now_ms() + config.recovery.flow_minutes as i64 * 60_000,
        },
    )
    .await?;
    Ok(next)
}
