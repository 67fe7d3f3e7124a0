//! Sign in and sign out, with throttling that never reveals whether an
//! account exists: failures are counted per username typed (existing or not)
//! and per client address, and an unknown user costs a real hash check.

use crate::config::Config;
use crate::db::{Db, DbError};
use crate::users::{self, Username};
use crate::{mfa, sessions, throttle};
use app::backend::ssr::{ClientInfo, CurrentSession};
use app::error::AppError;
use app::states::AccountStatus;
use sqlx::{FromRow, Row};
use std::sync::LazyLock;

/// Why a sign-in did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("throttled")]
    Throttled,
    #[error("registration awaiting approval")]
    PendingApproval,
    #[error("registration rejected")]
    RegistrationRejected,
    #[error(transparent)]
    Busy(#[from] crate::hashing::Busy),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<SignInError> for AppError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::InvalidCredentials => AppError::InvalidCredentials,
            SignInError::Throttled => AppError::Throttled,
            SignInError::PendingApproval => AppError::PendingApproval,
            SignInError::RegistrationRejected => AppError::RegistrationRejected,
            SignInError::Busy(busy) => busy.into(),
            SignInError::Db(e) => e.into(),
        }
    }
}

/// Where a right password leads.
pub enum FirstStepDone {
    /// A new session (never reusing one: no fixation).
    SignedIn {
        user_id: i64,
        token: sessions::SessionToken,
    },
    /// The account asks for a second factor first: the `Set-Cookie` value
    /// naming the sign-in that waits for it.
    SecondFactor(String),
}

/// Signs in with a password. An account with a second factor gets no
/// session yet: the second step (`mfa::answer`) starts it.
pub async fn sign_in(
    db: &Db,
    config: &Config,
    raw_username: &str,
    password: &str,
    client: &ClientInfo,
    return_to: Option<&str>,
) -> Result<FirstStepDone, SignInError> {
    let account = check_credentials(db, config, raw_username, password, client).await?;
    if mfa::second_step_needed_for(config, &account) {
        let cookie =
            mfa::challenge(db, config, account.id, mfa::FirstStep::Password, return_to).await?;
        tracing::info!(user = %account.username, ip = %client.ip, "password accepted; second factor asked");
        return Ok(FirstStepDone::SecondFactor(cookie));
    }
    let (id, token) = sessions::create(
        db,
        config,
        account.id,
        client,
        sessions::Origin::Password,
        None,
        None,
    )
    .await?;
    tracing::info!(user = %account.username, session = %id, ip = %client.ip, "signed in");
    Ok(FirstStepDone::SignedIn {
        user_id: account.id,
        token,
    })
}

/// Signs in with a passkey alone: the user and the session's token. A new
/// session, as after a password; a pending registration is refused as
/// sign-in refuses it.
pub async fn sign_in_with_passkey(
    db: &Db,
    config: &Config,
    ceremony: &str,
    credential: &str,
    client: &ClientInfo,
) -> Result<(i64, sessions::SessionToken), AppError> {
    let (account, kind) = mfa::passkeys::finish_sign_in(db, config, ceremony, credential).await?;
    if account.status()? == AccountStatus::Pending {
        return Err(SignInError::PendingApproval.into());
    }
    let (id, token) = sessions::create(
        db,
        config,
        account.id,
        client,
        sessions::Origin::Passkey,
        None,
        Some(kind),
    )
    .await
    .map_err(SignInError::from)?;
    tracing::info!(user = %account.username, session = %id, ip = %client.ip, "signed in with a passkey");
    Ok((account.id, token))
}

/// Checks a username and password as sign-in does, with its throttling and
/// lockout: a failure counts against the username typed and the address.
/// Associating an account proves its password the same way.
pub async fn check_credentials(
    db: &Db,
    config: &Config,
    raw_username: &str,
    password: &str,
    client: &ClientInfo,
) -> Result<users::Credentials, SignInError> {
    // An impossible username still takes the same path, so it is neither
    // faster nor differently worded than an unknown one.
    let username = Username::parse(raw_username).ok();
    let key = throttle::Key::sign_in(
        &username
            .as_ref()
            .map(Username::key)
            .unwrap_or_else(|| raw_username.trim().to_lowercase()),
    );
    let address = throttle::Key::sign_in_address(&client.ip);
    let (standing, account) = standing_and_account(db, &key, &address, username.as_ref()).await?;
    if standing.locked {
        return Err(SignInError::Throttled);
    }
    // A rejected registration is told so, but only to whoever knows its password.
    let rejected = match (&account, &username) {
        (None, Some(name)) => crate::approvals::rejected_registration(db, &name.key()).await?,
        _ => None,
    };
    let verified = config
        .verify_password(
            password.to_string(),
            account
                .as_ref()
                .map(|a| a.password_hash.clone())
                .or(rejected.clone()),
        )
        .await?;
    if rejected.is_some() && verified {
        return Err(SignInError::RegistrationRejected);
    }
    match account {
        Some(account) if verified => {
            if account.status()? == AccountStatus::Pending {
                return Err(SignInError::PendingApproval);
            }
            if standing.account_failures {
                throttle::clear(db, &key).await?;
            }
            Ok(account)
        }
        _ => {
            tracing::info!(ip = %client.ip, "password check failed");
            let locked = throttle::record_sign_in_failure(db, config, &key, &address).await?;
            Err(if locked {
                SignInError::Throttled
            } else {
                SignInError::InvalidCredentials
            })
        }
    }
}

/// What a password check reads before its hash, in one round trip: the
/// throttle's standing of the name and the address, and the account (with
/// whether it has an authenticator app). During a flood of sign-ins every
/// round trip to the database wakes threads that take a core from the
/// hashing (`scripts/bench.sh` measures the flood).
async fn standing_and_account(
    db: &Db,
    key: &throttle::Key,
    address: &throttle::Key,
    username: Option<&Username>,
) -> Result<(throttle::Standing, Option<users::Credentials>), DbError> {
    static QUERY: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT * FROM ({}) AS standing
             LEFT JOIN ({} WHERE username_key = $3) AS account ON TRUE",
            throttle::STANDING,
            users::CREDENTIALS
        )
    });
    let row = sqlx::query(QUERY.as_str())
        .bind(key.as_str())
        .bind(address.as_str())
        .bind(username.map(Username::key))
        .fetch_one(&db.pool)
        .await?;
    let standing = throttle::Standing::from_row(&row)?;
    let account = match row.try_get::<Option<i64>, _>("id")? {
        Some(_) => Some(users::Credentials::from_row(&row)?),
        None => None,
    };
    Ok((standing, account))
}

/// Whether failed sign-ins have locked the account now.
pub async fn is_locked(db: &Db, username: &Username) -> Result<bool, DbError> {
    throttle::is_locked(db, &throttle::Key::sign_in(&username.key())).await
}

/// Signs the session out: its row is deleted, so it ends on every node.
pub async fn sign_out(db: &Db, session: &CurrentSession) -> Result<(), DbError> {
    sessions::end(db, session.user_id, &session.session_id).await?;
    tracing::info!(user = %session.username, session = %session.session_id, "signed out");
    Ok(())
}
