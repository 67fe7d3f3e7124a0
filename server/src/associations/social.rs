//! Social identities: accounts at external OpenID providers linked to a
//! local account, to sign in with. A provider's subject links to one account
//! at most, and only by the user proving both sides (signed in here, then
//! at the provider); never by matching email addresses. An account keeps a
//! way in: the last identity of an account without a password stays.

use super::social_store::{self as store, IdentityRow, PendingRow};
use crate::config::Config;
use crate::db::{Db, DbError};
use crate::time::{moment, now_ms};
use crate::users;
use app::associations::{ProviderChoice, SocialIdentities, SocialIdentity};
use app::backend::ssr::CurrentSession;
use app::error::AppError;
use rand::RngCore;

/// How long an identity that came back linked to nothing waits for its
/// browser to sign in.
pub const PENDING_MINUTES: i64 = 10;

/// The longest external account name kept.
const MAX_DISPLAY: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum SocialError {
    /// The same for "never linked" and "linked to someone else".
    #[error("no such identity")]
    NotFound,
    #[error("it is the last way into the account")]
    LastWayIn,
    #[error("linked to another account")]
    LinkedElsewhere,
    #[error("linked to this account already")]
    AlreadyLinked,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<SocialError> for AppError {
    fn from(e: SocialError) -> Self {
        match e {
            SocialError::NotFound => AppError::NotFound,
            SocialError::LastWayIn => AppError::Refused(
                "This is the only way into your account: it has no password and no other linked identity. \
                 Set a password on Change Password, or link another identity, before removing it."
                    .into(),
            ),
            SocialError::LinkedElsewhere => AppError::InConflict(
                "That identity is linked to another account here.".into(),
            ),
            SocialError::AlreadyLinked => {
                AppError::InConflict("That identity is linked to this account already.".into())
            }
            SocialError::Db(e) => e.into(),
        }
    }
}

/// The provider's name, or its id when it is no longer configured.
pub fn provider_name(config: &Config, id: &str) -> String {
    config
        .identity_provider(id)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| id.to_string())
}

pub fn providers(config: &Config) -> Vec<ProviderChoice> {
    config
        .identity_providers
        .iter()
        .map(|p| ProviderChoice {
            id: p.id.clone(),
            name: p.name.clone(),
        })
        .collect()
}

/// The user's linked identities, newest first.
pub async fn list(db: &Db, user_id: i64) -> Result<Vec<IdentityRow>, SocialError> {
    Ok(store::list(db, user_id).await?)
}

pub async fn views(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
) -> Result<SocialIdentities, SocialError> {
    let linked = list(db, me.user_id)
        .await?
        .into_iter()
        .map(|row| SocialIdentity {
            provider_name: provider_name(config, &row.provider),
            id: row.id,
            display: row.display,
            linked_at: moment(row.linked_at),
            last_used_at: row.last_used_at.map(moment),
        })
        .collect();
    Ok(SocialIdentities {
        linked,
        providers: providers(config),
        has_password: users::has_password(db, me.user_id).await?,
    })
}

/// Change Password's question: a password to change, or none yet, and then
/// the linked providers that may confirm it is the user.
pub async fn password_status(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
) -> Result<app::password::PasswordStatus, SocialError> {
    if let Some(changed_at) = users::password_record(db, me.user_id).await? {
        return Ok(app::password::PasswordStatus {
            has_password: true,
            changed: changed_at.map(crate::time::moment),
            providers: Vec::new(),
            confirmed: false,
        });
    }
    let linked = list(db, me.user_id).await?;
    let providers = providers(config)
        .into_iter()
        .filter(|provider| linked.iter().any(|row| row.provider == provider.id))
        .collect();
    Ok(app::password::PasswordStatus {
        has_password: false,
        changed: None,
        providers,
        confirmed: crate::sessions::recently_confirmed(db, &me.session_id).await?,
    })
}

/// Keeps what the provider calls the account, within bounds.
pub fn display_name(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_control())
        .take(MAX_DISPLAY)
        .collect()
}

fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Links the provider's subject to the user.
pub async fn link(
    db: &Db,
    user_id: i64,
    provider: &str,
    subject: &str,
    display: &str,
) -> Result<(), SocialError> {
    let row = IdentityRow {
        id: random_id(),
        user_id,
        provider: provider.to_string(),
        subject: subject.to_string(),
        display: display_name(display),
        linked_at: now_ms(),
        last_used_at: None,
    };
    if store::insert(db, &row).await? {
        tracing::info!(user_id, provider, "social identity linked");
        return Ok(());
    }
    match store::find(db, provider, subject).await? {
        Some(existing) if existing.user_id == user_id => Err(SocialError::AlreadyLinked),
        _ => Err(SocialError::LinkedElsewhere),
    }
}

/// The identity a provider's subject signs in as, if it is linked.
pub async fn linked(
    db: &Db,
    provider: &str,
    subject: &str,
) -> Result<Option<IdentityRow>, DbError> {
    store::find(db, provider, subject).await
}

pub async fn record_use(db: &Db, identity: &IdentityRow, display: &str) -> Result<(), SocialError> {
    Ok(store::used(db, &identity.id, &display_name(display), now_ms()).await?)
}

/// Unlinks one identity of the user; the provider's name.
pub async fn remove(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
    id: &str,
) -> Result<String, SocialError> {
    let identities = list(db, me.user_id).await?;
    let identity = identities
        .iter()
        .find(|row| row.id == id)
        .ok_or(SocialError::NotFound)?;
    if !users::WaysIn::of(db, me.user_id).await?.left_without(1, 0) {
        return Err(SocialError::LastWayIn);
    }
    if !store::delete(db, me.user_id, id).await? {
        return Err(SocialError::NotFound);
    }
    tracing::info!(user = %me.username, provider = %identity.provider, "social identity removed");
    Ok(provider_name(config, &identity.provider))
}

/// Unlinks every identity of the user; how many there were.
pub async fn remove_all(db: &Db, me: &CurrentSession) -> Result<u64, SocialError> {
    let count = list(db, me.user_id).await?.len();
    if count > 0
        && !users::WaysIn::of(db, me.user_id)
            .await?
            .left_without(count, 0)
    {
        return Err(SocialError::LastWayIn);
    }
    let removed = store::delete_all(db, me.user_id).await?;
    tracing::info!(user = %me.username, removed, "all social identities removed");
    Ok(removed)
}

/// What a provider said of the person, kept with a pending identity to fill
/// in "Create an account".
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ProviderProfile {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
}

impl ProviderProfile {
    /// A username to suggest: the provider's, else the email's local part,
    /// when it is a valid username here.
    fn suggested_username(&self) -> String {
        let email_local = self
            .email
            .as_deref()
            .and_then(|e| e.split('@').next())
            .map(String::from);
        [self.username.clone(), email_local]
            .into_iter()
            .flatten()
            .find_map(|candidate| users::Username::parse(&candidate).ok())
            .map(|name| name.as_str().to_string())
            .unwrap_or_default()
    }

    fn attributes(&self) -> std::collections::BTreeMap<String, String> {
        [
            ("email", &self.email),
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
        ]
        .into_iter()
        .filter_map(|(claim, value)| Some((claim.to_string(), display_name(value.as_deref()?))))
        .collect()
    }
}

/// Holds an identity linked to nothing for the browser to link by signing
/// in (or to create an account with); the token for its cookie.
pub async fn hold_pending(
    db: &Db,
    provider: &str,
    subject: &str,
    display: &str,
    profile: &ProviderProfile,
) -> Result<String, DbError> {
    let token = random_id() + &random_id();
    let pending = PendingRow {
        provider: provider.to_string(),
        subject: subject.to_string(),
        display: display_name(display),
        claims: serde_json::to_string(profile).unwrap_or_else(|_| "{}".into()),
    };
    let expires = now_ms() + PENDING_MINUTES * 60_000;
    store::insert_pending(db, &crate::sessions::token_hash(&token), &pending, expires).await?;
    Ok(token)
}

/// The identity waiting for this browser: its provider's name and account.
pub async fn pending(
    db: &Db,
    config: &Config,
    token: &str,
) -> Result<Option<app::associations::PendingIdentity>, SocialError> {
    let row = store::pending(db, &crate::sessions::token_hash(token), now_ms()).await?;
    Ok(row.map(|row| {
        let profile: ProviderProfile = serde_json::from_str(&row.claims).unwrap_or_default();
        app::associations::PendingIdentity {
            provider_name: provider_name(config, &row.provider),
            can_sign_up: may_sign_up(config, &row.provider),
            username: profile.suggested_username(),
            attributes: profile.attributes(),
            display: row.display,
        }
    }))
}

/// Whether an identity of this provider linked to nothing may create an
/// account: the provider allows it and self-registration is on.
pub fn may_sign_up(config: &Config, provider: &str) -> bool {
    config.registration.enabled
        && config
            .identity_provider(provider)
            .is_some_and(|p| p.allow_sign_up)
}

/// Whether the browser's pending identity may create an account now.
pub async fn may_create_account(
    db: &Db,
    config: &Config,
    token: &str,
) -> Result<bool, SocialError> {
    let row = store::pending(db, &crate::sessions::token_hash(token), now_ms()).await?;
    Ok(row.is_some_and(|row| may_sign_up(config, &row.provider)))
}

/// Within the transaction that creates an account: takes the browser's
/// pending identity and links it to the new account. False when it is gone
/// (expired, or taken by another request), or linked meanwhile.
pub async fn link_new_account(
    tx: &mut sqlx::AnyConnection,
    user_id: i64,
    token: &str,
) -> Result<bool, DbError> {
    let now = now_ms();
    let Some(row) = store::take_pending_in(tx, &crate::sessions::token_hash(token), now).await?
    else {
        return Ok(false);
    };
    let identity = IdentityRow {
        id: random_id(),
        user_id,
        provider: row.provider,
        subject: row.subject,
        display: row.display,
        linked_at: now,
        last_used_at: None,
    };
    store::insert_in(tx, &identity).await
}

/// Links the identity waiting for this browser to the account that just
/// signed in; the provider's id, or None when nothing was waiting.
pub async fn link_pending(
    db: &Db,
    user_id: i64,
    token: &str,
) -> Result<Option<String>, SocialError> {
    let Some(row) = store::take_pending(db, &crate::sessions::token_hash(token), now_ms()).await?
    else {
        return Ok(None);
    };
    link(db, user_id, &row.provider, &row.subject, &row.display).await?;
    Ok(Some(row.provider))
}

pub async fn delete_expired(db: &Db) -> Result<u64, DbError> {
    store::delete_expired_pending(db, now_ms()).await
}
