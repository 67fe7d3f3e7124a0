//! Change Password: the password policy (NIST SP 800-63B), proving the
//! current password, and the change itself. Hashing lives in `hashing`.

pub mod rest;

use crate::config::{Config, PasswordConfig};
use crate::db::{Db, DbError};
use crate::sessions::{self, SessionToken};
use crate::time::now_ms;
use crate::{throttle, users};
use app::backend::ssr::{ClientInfo, CurrentSession};
use app::error::{AppError, FieldError};
use app::password::{PasswordChange, PasswordFeedback};

pub use crate::hashing::{hash_password, prepare, verify_password, PasswordHash};

/// Evaluates a candidate password against the policy. The same answer feeds
/// the strength meter and the final check.
pub fn evaluate(
    policy: &PasswordConfig,
    candidate: &str,
    user_inputs: &[&str],
) -> PasswordFeedback {
    let mut problems = Vec::new();
    let length = candidate.chars().count();
    if length < policy.min_length {
        problems.push(format!(
            "Use at least {} characters (you have {length}).",
            policy.min_length
        ));
    }
    if length > policy.max_length {
        problems.push(format!("Use at most {} characters.", policy.max_length));
    }
    let lowered = candidate.to_lowercase();
    if user_inputs
        .iter()
        .any(|input| !input.is_empty() && input.to_lowercase() == lowered)
    {
        problems.push("Your password cannot be your username.".into());
    }
    // zxcvbn knows the 30,000 most common passwords, names and words, and
    // scores how many guesses a password would take.
    let checked: String = candidate.chars().take(256).collect();
    let score = if checked.is_empty() {
        0
    } else {
        let entropy = zxcvbn::zxcvbn(&checked, user_inputs);
        let score = u8::from(entropy.score());
        if score < policy.min_score && length >= policy.min_length {
            problems.push(
                "This password is too common or too easy to guess. Try a few unrelated words together."
                    .into(),
            );
            if let Some(warning) = entropy.feedback().and_then(|f| f.warning()) {
                problems.push(warning.to_string());
            }
        }
        score
    };
    PasswordFeedback {
        score,
        acceptable: problems.is_empty(),
        problems,
    }
}

/// Re-authentication for security-sensitive changes: the current password,
/// with failures counted like failed sign-ins. `field` names the form field
/// that a wrong password is reported on.
pub async fn reauthenticate(
    db: &Db,
    config: &Config,
    session: &CurrentSession,
    password: &str,
    field: &str,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let account = users::credentials_by_id(db, session.user_id)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let key = throttle::Key::sign_in(&account.username.to_lowercase());
    if throttle::is_locked(db, &key).await? {
        return Err(AppError::Throttled);
    }
    // An account created through an identity provider has no password to
    // type: say what to do rather than call every entry incorrect.
    if account.password_hash.is_empty() {
        return Err(AppError::Refused(
            "Your account has no password yet, and this change needs one. Set it on Change Password first (after confirming at your identity provider)."
                .into(),
        ));
    }
    if config
        .verify_password(password.to_string(), Some(account.password_hash))
        .await?
    {
        return Ok(());
    }
    let address = throttle::Key::sign_in_address(&client.ip);
    if throttle::record_sign_in_failure(db, config, &key, &address).await? {
        return Err(AppError::Throttled);
    }
    Err(AppError::Invalid(vec![FieldError::new(
        field,
        "Your current password is incorrect.",
    )]))
}

/// The meter's answer for what the signed-in user is typing.
pub fn feedback(config: &Config, me: &CurrentSession, candidate: &str) -> PasswordFeedback {
    evaluate(&config.password, candidate, &[me.username.as_str()])
}

/// Change Password: the current password (failures count as failed
/// sign-ins), the policy, then the new hash. The other sessions end when
/// asked, and this browser gets a new session: a token seen before the
/// change is worth nothing after it. Returns the new session's token.
pub async fn change(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
    change: PasswordChange,
    client: &ClientInfo,
) -> Result<SessionToken, AppError> {
    crate::mfa::require_recent_second_factor(db, me).await?;
    // An account created through a provider has no password to type: a
    // fresh sign-in at one of its providers stands for it.
    let has_password = users::has_password(db, me.user_id).await?;
    if has_password {
        reauthenticate(db, config, me, &change.current, "current", client).await?;
    } else if !sessions::recently_confirmed(db, &me.session_id).await? {
        return Err(AppError::Refused(
            "Confirm it is you at your identity provider first (the button on this page); then choose your password within 10 minutes."
                .into(),
        ));
    }
    let feedback = feedback(config, me, &change.new_password);
    if !feedback.acceptable {
        return Err(AppError::Invalid(vec![FieldError::new(
            "new_password",
            feedback.problems.join(" "),
        )]));
    }
    if has_password && change.new_password == change.current {
        return Err(AppError::Invalid(vec![FieldError::new(
            "new_password",
            "Choose a password different from your current one.",
        )]));
    }
    let hash = config.hash_password(change.new_password).await?;
    let ended = store_new_password(
        db,
        me.user_id,
        &hash,
        Some(&me.session_id),
        change.sign_out_other_devices,
    )
    .await?;
    // Replaced by the new session in the same browser: no "ended" event,
    // which would send this browser's open pages to sign-in.
    // The new session keeps the second factor the old one was begun with,
    // and the passkey's kind when that was a passkey.
    let proof = sessions::proof(db, &me.session_id).await?;
    let second_factor = proof.and_then(|proof| proof.second);
    let passkey = proof
        .filter(|proof| proof.second == Some(app::mfa::Method::Passkey))
        .and_then(|proof| proof.passkey);
    sessions::delete(db, &me.session_id).await?;
    let (_, token) = sessions::create(
        db,
        config,
        me.user_id,
        client,
        sessions::Origin::Password,
        second_factor,
        passkey,
    )
    .await?;
    tracing::info!(user = %me.username, other_sessions_ended = ended, "password changed");
    Ok(token)
}

/// Stores a new hash for the user and ends their sessions as asked, all in one
/// transaction; returns the number of other sessions ended.
pub async fn store_new_password(
    db: &Db,
    user_id: i64,
    hash: &PasswordHash,
    keep_session: Option<&str>,
    end_other_sessions: bool,
) -> Result<u64, DbError> {
    let mut tx = db.pool.begin().await?;
    sqlx::query(
        "UPDATE users SET password_hash = $1, updated_at = $2, password_changed_at = $2 WHERE id = $3",
    )
        .bind(hash.as_str())
        .bind(now_ms())
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let mut ended = 0;
    if end_other_sessions {
        ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
            .bind(user_id)
            .bind(keep_session.unwrap_or(""))
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    tx.commit().await?;
    if ended > 0 {
        crate::events::raise(
            db,
            user_id,
            crate::events::Event::SessionsEnded {
                kept: keep_session.map(String::from),
            },
        )
        .await;
    }
    // Applications' tokens end with a password change, whichever login
    // sessions stay open.
    crate::oidc::grants::end_all(db, user_id).await?;
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn policy() -> PasswordConfig {
        Config::default().password
    }

    #[test]
    fn common_passwords_are_refused() {
        for common in ["password", "12345678", "qwertyuiop", "iloveyou1"] {
            let feedback = evaluate(&policy(), common, &["alice"]);
            assert!(!feedback.acceptable, "{common} should be refused");
        }
    }

    #[test]
    fn short_and_username_passwords_are_refused() {
        assert!(!evaluate(&policy(), "x7#Kq", &[]).acceptable);
        let feedback = evaluate(&policy(), "Alice.Smith", &["alice.smith"]);
        assert!(feedback.problems.iter().any(|p| p.contains("username")));
    }

    #[test]
    fn long_passphrases_are_accepted_without_composition_rules() {
        let feedback = evaluate(&policy(), "correct horse battery staple orbit", &[]);
        assert!(feedback.acceptable, "{feedback:?}");
        assert_eq!(feedback.score, 4);
        let sixty_four = "a quiet river bends past seven tall cedar trees near old mill road";
        assert!(evaluate(&policy(), &sixty_four[..64], &[]).acceptable);
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let hash = hash_password("correct horse".into()).await;
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse".into(), Some(hash.as_str().into())).await);
        assert!(!verify_password("wrong horse".into(), Some(hash.as_str().into())).await);
        assert!(!verify_password("anything".into(), None).await);
        assert!(!verify_password("".into(), Some(String::new())).await);
        assert!(
            !verify_password(
                "anything".into(),
                Some(PasswordHash::none().as_str().into())
            )
            .await
        );
    }
}
