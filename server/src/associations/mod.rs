//! Associated Accounts: a user's other local accounts, associated by
//! proving the other account's password (as a sign-in of that account: its
//! lockout and the address throttle apply), and switching between them.
//! An association is mutual; removing it or either account ends it for both.
//! Switching starts a new session as the other account (never reusing the
//! current token) and ends the current one.

pub mod rest;
pub mod social;
pub mod social_store;
mod store;

use crate::config::Config;
use crate::db::{Db, DbError};
use crate::sessions::{self, SessionToken};
use crate::signin::{self, SignInError};
use crate::time::{moment, now_ms};
use crate::users::{self, Username};
use app::associations::AssociatedAccount;
use app::backend::ssr::{ClientInfo, CurrentSession};
use app::error::{AppError, FieldError};
use app::states::AccountStatus;

pub use store::AssociatedRow;

#[derive(Debug, thiserror::Error)]
pub enum AssociationError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// The other account's password check failed (wrong password, unknown
    /// account, lockout, an account awaiting approval).
    #[error("password check: {0}")]
    SignIn(SignInError),
    #[error("the user's own account")]
    OwnAccount,
    #[error("{0} is associated already")]
    AlreadyAssociated(String),
    /// The same for "never associated" and "associated with someone else".
    #[error("no such association")]
    NotFound,
    #[error("{0} is locked")]
    Locked(String),
    #[error("{0} awaits approval")]
    AwaitingApproval(String),
    /// The user's own second factor is needed again first (step-up).
    #[error(transparent)]
    SecondFactor(#[from] crate::mfa::MfaError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<AssociationError> for AppError {
    fn from(e: AssociationError) -> Self {
        match e {
            AssociationError::Invalid(errors) => AppError::Invalid(errors),
            // Worded for the other account, and never a 401: the user's own
            // session is fine.
            AssociationError::SignIn(SignInError::InvalidCredentials) => AppError::Refused(
                "The username or password of the other account is incorrect.".into(),
            ),
            AssociationError::SignIn(SignInError::PendingApproval) => AppError::Refused(
                "That account is awaiting approval of its registration; associate it once it is approved."
                    .into(),
            ),
            AssociationError::SignIn(SignInError::RegistrationRejected) => AppError::Refused(
                "That account's registration was rejected, so it cannot be associated.".into(),
            ),
            AssociationError::SignIn(other) => other.into(),
            AssociationError::OwnAccount => AppError::Refused(
                "That is the account you are signed in to: enter another account's username."
                    .into(),
            ),
            AssociationError::AlreadyAssociated(username) => {
                AppError::InConflict(format!("{username} is already associated with your account."))
            }
            AssociationError::NotFound => AppError::NotFound,
            AssociationError::Locked(username) => AppError::Forbidden(format!(
                "{username} is locked after too many failed sign-ins. Try again in a few minutes."
            )),
            AssociationError::AwaitingApproval(username) => AppError::Forbidden(format!(
                "{username} is awaiting approval of its registration and cannot be signed in to yet."
            )),
            AssociationError::SecondFactor(e) => e.into(),
            AssociationError::Db(e) => e.into(),
        }
    }
}

/// The user's associated accounts, newest association first.
pub async fn list(db: &Db, user_id: i64) -> Result<Vec<AssociatedRow>, AssociationError> {
    Ok(store::list(db, user_id).await?)
}

/// The association with the account named `username`; NotFound otherwise.
async fn find(db: &Db, user_id: i64, username: &str) -> Result<AssociatedRow, AssociationError> {
    let wanted = Username::parse(username)
        .map_err(|_| AssociationError::NotFound)?
        .key();
    store::list(db, user_id)
        .await?
        .into_iter()
        .find(|row| row.username.to_lowercase() == wanted)
        .ok_or(AssociationError::NotFound)
}

/// Associates the account whose username and password are given with the
/// signed-in user's; returns its username as stored.
pub async fn associate(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
    username: &str,
    password: &str,
    client: &ClientInfo,
) -> Result<String, AssociationError> {
    crate::mfa::require_recent_second_factor(db, me).await?;
    let mut missing = Vec::new();
    if username.trim().is_empty() {
        missing.push(FieldError::new(
            "username",
            "Enter the username of the account to associate.",
        ));
    }
    if password.is_empty() {
        missing.push(FieldError::new(
            "password",
            "Enter that account's password.",
        ));
    }
    if !missing.is_empty() {
        return Err(AssociationError::Invalid(missing));
    }
    let other = signin::check_credentials(db, config, username, password, client)
        .await
        .map_err(AssociationError::SignIn)?;
    if other.id == me.user_id {
        return Err(AssociationError::OwnAccount);
    }
    if !store::insert(db, me.user_id, other.id, now_ms()).await? {
        return Err(AssociationError::AlreadyAssociated(other.username));
    }
    tracing::info!(user = %me.username, associated = %other.username, "accounts associated");
    Ok(other.username)
}

/// Removes the association with `username` for both accounts.
pub async fn remove(db: &Db, me: &CurrentSession, username: &str) -> Result<(), AssociationError> {
    let other = find(db, me.user_id, username).await?;
    if !store::delete(db, me.user_id, other.user_id).await? {
        return Err(AssociationError::NotFound);
    }
    tracing::info!(user = %me.username, associated = %other.username, "association removed");
    Ok(())
}

/// Removes every association of the user; how many there were.
pub async fn remove_all(db: &Db, me: &CurrentSession) -> Result<u64, AssociationError> {
    let removed = store::delete_all(db, me.user_id).await?;
    tracing::info!(user = %me.username, removed, "all associations removed");
    Ok(removed)
}

/// Where a switch leads.
pub enum Switched {
    /// A new session as the other account.
    Session(SessionToken),
    /// The other account asks for its second factor first: the `Set-Cookie`
    /// value naming the switch that waits for it.
    SecondFactor(String),
}

/// Signs the browser in as the associated account `username`: a new
/// session recorded as switched from this one, which ends. An account with a
/// second factor asks for it first, every time: this session never gave it.
/// When the operator requires one, an account without it sets one up first,
/// as at sign-in.
/// Refused when the association is gone, or the account is locked or
/// awaiting approval.
pub async fn switch(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
    username: &str,
    client: &ClientInfo,
) -> Result<Switched, AssociationError> {
    let other = find(db, me.user_id, username).await?;
    let name = Username::parse(&other.username).map_err(|_| AssociationError::NotFound)?;
    if signin::is_locked(db, &name).await? {
        return Err(AssociationError::Locked(other.username));
    }
    if users::status(db, other.user_id).await? == AccountStatus::Pending {
        return Err(AssociationError::AwaitingApproval(other.username));
    }
    if crate::mfa::second_step_needed(db, config, other.user_id).await? {
        let first_step = crate::mfa::FirstStep::Switched {
            from: &me.username,
            leaving: &me.session_id,
        };
        let cookie = crate::mfa::challenge(db, config, other.user_id, first_step, None).await?;
        tracing::info!(from = %me.username, to = %other.username, "switch waits for the second factor");
        return Ok(Switched::SecondFactor(cookie));
    }
    let (session_id, token) = sessions::create(
        db,
        config,
        other.user_id,
        client,
        sessions::Origin::SwitchedFrom(&me.username),
        None,
        None,
    )
    .await?;
    sessions::end(db, me.user_id, &me.session_id).await?;
    tracing::info!(from = %me.username, to = %other.username, session = %session_id, "switched account");
    Ok(Switched::Session(token))
}

/// The Associated Accounts page's list.
pub async fn views(
    db: &Db,
    me: &CurrentSession,
) -> Result<Vec<AssociatedAccount>, AssociationError> {
    Ok(list(db, me.user_id)
        .await?
        .into_iter()
        .map(|row| AssociatedAccount {
            name: format!("{} {}", row.first_name, row.last_name)
                .trim()
                .to_string(),
            email: row.email,
            associated_at: moment(row.created_at),
            username: row.username,
        })
        .collect())
}
