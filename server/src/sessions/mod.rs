//! Server-side sessions: a 256-bit random token in the cookie, only its SHA-256
//! in the database, so a leaked database cannot be replayed as cookies. The
//! database is the only source of truth: every request looks the session up,
//! so a revoked session ends on every node at once.

use crate::config::Config;
use crate::db::{Db, DbError};
use crate::time::now_ms;
use app::backend::ssr::{ClientInfo, CurrentSession};
use app::error::AppError;
use app::sessions::SessionView;

mod device;
pub mod rest;
mod store;

use crate::events::{self, Event};
use app::mfa::Method;
pub use device::{describe, Device};
use rand::RngCore;
use sha2::{Digest, Sha256};
pub use store::{delete, delete_expired, delete_for_user, list_for_user, SessionRecord};

/// A session's secret, as the cookie carries it.
pub struct SessionToken(String);

impl SessionToken {
    fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        SessionToken(hex::encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn public_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A short-lived HttpOnly cookie of a sign-in under way (a provider round
/// trip, a second step), sent on top-level navigations back to us
/// (SameSite=Lax); `seconds` 0 forgets it.
pub fn lax_cookie(config: &Config, name: &str, value: &str, path: &str, seconds: i64) -> String {
    format!(
        "{name}={value}; HttpOnly; SameSite=Lax; Path={path}; Max-Age={seconds}{}",
        config.secure_attribute()
    )
}

/// Only this many bytes of a user agent are kept.
const MAX_USER_AGENT: usize = 512;

/// How a session began.
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    /// The user proved their password (sign-in, or a password change).
    Password,
    /// Switched from an associated account, named by its username.
    SwitchedFrom(&'a str),
    /// Signed in with an identity provider, named as configured.
    Federated(&'a str),
    /// Signed in with a passkey alone: user verification on the device
    /// makes it two factors, so the session counts as having given one.
    Passkey,
}

/// Where a passkey's private key lives, as its authenticator reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyKind {
    /// It cannot leave its authenticator (a security key, a device's
    /// secure hardware): `amr` `hwk`.
    DeviceBound,
    /// The authenticator may back it up (WebAuthn's backup-eligible flag):
    /// a passkey synced through a cloud keychain, `amr` `swk`.
    Synced,
}

impl PasskeyKind {
    fn code(self) -> &'static str {
        match self {
            PasskeyKind::DeviceBound => "device",
            PasskeyKind::Synced => "synced",
        }
    }

    fn parse(code: &str) -> Option<Self> {
        match code {
            "device" => Some(PasskeyKind::DeviceBound),
            "synced" => Some(PasskeyKind::Synced),
            _ => None,
        }
    }

    /// Its RFC 8176 `amr` value.
    fn amr(kind: Option<Self>) -> &'static str {
        match kind {
            Some(PasskeyKind::DeviceBound) => "hwk",
            // Unrecorded (a session begun before kinds were): not claimed
            // as hardware.
            Some(PasskeyKind::Synced) | None => "swk",
        }
    }
}

/// How long a proof at an identity provider lets an account without a
/// password set one.
pub const CONFIRMATION_WINDOW_MS: i64 = 10 * 60_000;

/// Records that the session's user proved themselves again at a provider.
pub async fn confirm(db: &Db, session_id: &str) -> Result<(), DbError> {
    store::set_confirmed(db, session_id, now_ms()).await
}

/// Whether the session's user proved themselves again within the window.
pub async fn recently_confirmed(db: &Db, session_id: &str) -> Result<bool, DbError> {
    Ok(store::confirmed_at(db, session_id)
        .await?
        .is_some_and(|at| now_ms() - at < CONFIRMATION_WINDOW_MS))
}

/// Starts a new session for the user and returns its id and token;
/// `passkey` is the kind of the passkey that proved it, if one did (as its
/// first step or its second factor).
pub async fn create(
    db: &Db,
    config: &Config,
    user_id: i64,
    client: &ClientInfo,
    origin: Origin<'_>,
    second_factor: Option<Method>,
    passkey: Option<PasskeyKind>,
) -> Result<(String, SessionToken), DbError> {
    let token = SessionToken::generate();
    let id = public_id();
    let now = now_ms();
    let expires = now + config.absolute_timeout().as_millis() as i64;
    let user_agent: String = client.user_agent.chars().take(MAX_USER_AGENT).collect();
    store::insert(
        db,
        store::NewSession {
            id: &id,
            token_hash: &token_hash(token.as_str()),
            user_id,
            ip: &client.ip,
            user_agent: &user_agent,
            created_at: now,
            expires_at: expires,
            switched_from: match origin {
                Origin::SwitchedFrom(username) => Some(username),
                _ => None,
            },
            signed_in_with: match origin {
                Origin::Federated(provider) => Some(provider),
                _ => None,
            },
            second_factor: second_factor.map(Method::code),
            signed_in_by: matches!(origin, Origin::Passkey).then_some("passkey"),
            passkey_kind: passkey.map(PasskeyKind::code),
        },
    )
    .await?;
    events::raise(
        db,
        user_id,
        Event::SessionStarted {
            session: id.clone(),
        },
    )
    .await;
    Ok((id, token))
}

/// Ends one session of the user (signing out, switching away); its open
/// pages learn it at once.
pub async fn end(db: &Db, user_id: i64, session_id: &str) -> Result<(), DbError> {
    store::delete(db, session_id).await?;
    events::raise(
        db,
        user_id,
        Event::SessionEnded {
            session: session_id.to_string(),
        },
    )
    .await;
    Ok(())
}

/// Ends every session of the user but `keep`; returns how many.
pub async fn end_all(db: &Db, user_id: i64, keep: Option<&str>) -> Result<u64, DbError> {
    let ended = store::delete_all_for_user(db, user_id, keep).await?;
    if ended > 0 {
        events::raise(
            db,
            user_id,
            Event::SessionsEnded {
                kept: keep.map(String::from),
            },
        )
        .await;
    }
    Ok(ended)
}

/// Whether the session exists and has not timed out (without touching it).
pub async fn is_live(db: &Db, config: &Config, session_id: &str) -> Result<bool, DbError> {
    let now = now_ms();
    store::is_live(
        db,
        session_id,
        now,
        now - config.idle_timeout().as_millis() as i64,
    )
    .await
}

/// When the session's user signed in (its `auth_time`); None once it ended.
pub async fn signed_in_at(db: &Db, session_id: &str) -> Result<Option<i64>, DbError> {
    store::created_at(db, session_id).await
}

/// How the user of a session proved who they are at its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    Password,
    IdentityProvider,
    Passkey,
}

/// How a session began: the first step, and the second factor if one was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInProof {
    pub first: Proof,
    pub second: Option<Method>,
    /// The kind of the passkey that proved it, when one did.
    pub passkey: Option<PasskeyKind>,
}

impl SignInProof {
    /// Its OpenID Connect `amr` values (RFC 8176).
    pub fn amr(self) -> Vec<&'static str> {
        let mut amr = vec![match self.first {
            Proof::Password => "pwd",
            Proof::IdentityProvider => "fed",
            // A key unlocked by user verification.
            Proof::Passkey => PasskeyKind::amr(self.passkey),
        }];
        if self.first == Proof::Passkey {
            amr.push("mfa");
            return amr;
        }
        if let Some(factor) = self.second {
            amr.extend(match factor {
                Method::Passkey => Some(PasskeyKind::amr(self.passkey)),
                other => crate::mfa::amr(other),
            });
            amr.push("mfa");
        }
        amr
    }

    pub fn acr(self) -> &'static str {
        match (self.second, self.first) {
            (Some(_), _) | (None, Proof::Passkey) => "urn:selfserve:acr:mfa",
            (None, Proof::Password) => "urn:selfserve:acr:password",
            (None, Proof::IdentityProvider) => "urn:selfserve:acr:federated",
        }
    }
}

/// How the session began; None when it has ended.
pub async fn proof(db: &Db, session_id: &str) -> Result<Option<SignInProof>, DbError> {
    Ok(store::begun(db, session_id)
        .await?
        .map(|begun| SignInProof {
            first: match (begun.signed_in_with, begun.signed_in_by.as_deref()) {
                (Some(_), _) => Proof::IdentityProvider,
                (None, Some("passkey")) => Proof::Passkey,
                (None, _) => Proof::Password,
            },
            second: begun.second_factor.as_deref().and_then(Method::parse),
            passkey: begun.passkey_kind.as_deref().and_then(PasskeyKind::parse),
        }))
}

/// How long a second factor given in a session lets its user make sensitive
/// changes without giving it again (step-up).
pub const SECOND_FACTOR_WINDOW_MS: i64 = 10 * 60_000;

/// Whether the session's user gave a second factor within the window.
pub async fn second_factor_fresh(db: &Db, session_id: &str) -> Result<bool, DbError> {
    Ok(store::second_factor_at(db, session_id)
        .await?
        .is_some_and(|at| now_ms() - at < SECOND_FACTOR_WINDOW_MS))
}

/// Records a second factor given in the session just now (setting up an
/// app, or a step-up); a session begun without one now counts as verified
/// with it.
pub async fn record_second_factor(
    db: &Db,
    session_id: &str,
    method: Method,
) -> Result<(), DbError> {
    store::set_second_factor_at(db, session_id, method.code(), now_ms()).await
}

/// Records the kind of passkey just given in the session, when a passkey is
/// what the session records as its proof.
pub async fn record_passkey_kind(
    db: &Db,
    session_id: &str,
    kind: PasskeyKind,
) -> Result<(), DbError> {
    store::set_passkey_kind(db, session_id, kind.code()).await
}

/// Writing last-active on every request would make each page view a write;
/// once a minute is precise enough for the idle timeout, but never less
/// often than half of it, or a session in use could expire between writes.
fn touch_after_ms(config: &Config) -> i64 {
    (config.idle_timeout().as_millis() as i64 / 2).min(60_000)
}

/// Finds the live session for a cookie token. Expired sessions are deleted
/// and never returned.
pub async fn resolve(
    db: &Db,
    config: &Config,
    token: &str,
) -> Result<Option<CurrentSession>, DbError> {
    let Some(found) = store::find_by_token_hash(db, &token_hash(token)).await? else {
        return Ok(None);
    };
    let now = now_ms();
    let idle_limit = found.last_active_at + config.idle_timeout().as_millis() as i64;
    if now >= found.expires_at || now >= idle_limit {
        delete(db, &found.id).await?;
        return Ok(None);
    }
    if now - found.last_active_at >= touch_after_ms(config) {
        store::touch(db, &found.id, now).await?;
    }
    Ok(Some(CurrentSession {
        session_id: found.id,
        user_id: found.user_id,
        username: found.username,
        has_associated_accounts: found.associations > 0,
    }))
}

/// The cookie's name: with https the `__Host-` prefix pins it to this host and path.
pub fn cookie_name(config: &Config) -> &'static str {
    if config.secure_cookies() {
        "__Host-selfserve_session"
    } else {
        "selfserve_session"
    }
}

pub fn session_cookie(config: &Config, token: &SessionToken) -> String {
    let secure = config.secure_attribute();
    format!(
        "{}={}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{}",
        cookie_name(config),
        token.as_str(),
        config.absolute_timeout().as_secs(),
        secure
    )
}

pub fn clear_cookie(config: &Config) -> String {
    let secure = config.secure_attribute();
    format!(
        "{}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{}",
        cookie_name(config),
        secure
    )
}

/// Reads the session token from a request's Cookie headers.
pub fn token_from_headers<'a>(config: &Config, headers: &'a http::HeaderMap) -> Option<&'a str> {
    read_cookie(headers, cookie_name(config))
}

/// A cookie of ours: a 64-digit hexadecimal token, or None.
pub fn read_cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    app::backend::ssr::cookie(headers, name)
        .filter(|value| value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// My Login Sessions: the user's live sessions as the page shows them, each
/// with the authorized applications signed in through it.
pub async fn views(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
    apps: &[crate::apps::AuthorizedApp],
) -> Result<Vec<SessionView>, DbError> {
    Ok(list_for_user(db, config, me.user_id)
        .await?
        .into_iter()
        .map(|r| {
            let device = describe(&r.user_agent);
            SessionView {
                current: r.id == me.session_id,
                switched_from: r.switched_from,
                signed_in_with: r.signed_in_with.or_else(|| {
                    (r.signed_in_by.as_deref() == Some("passkey")).then(|| "a passkey".to_string())
                }),
                second_factor: r
                    .second_factor
                    .as_deref()
                    .and_then(Method::parse)
                    .map(|method| crate::mfa::label(method).to_string()),
                applications: apps
                    .iter()
                    .filter(|a| a.session_ids.contains(&r.id))
                    .map(|a| a.name.clone())
                    .collect(),
                id: r.id,
                ip: r.ip,
                browser: device.browser,
                os: device.os,
                device: device.kind,
                user_agent: r.user_agent,
                started: crate::time::moment(r.created_at),
                last_active: crate::time::moment(r.last_active_at),
            }
        })
        .collect())
}

/// Ends one of the user's sessions; NotFound when the user has none with
/// that id (whoever's it is).
pub async fn terminate(db: &Db, me: &CurrentSession, id: &str) -> Result<(), AppError> {
    if !delete_for_user(db, me.user_id, id).await? {
        return Err(AppError::NotFound);
    }
    events::raise(
        db,
        me.user_id,
        Event::SessionEnded {
            session: id.to_string(),
        },
    )
    .await;
    tracing::info!(user = %me.username, session = %id, "session terminated");
    Ok(())
}

/// Ends every session of the user but this one; returns how many.
pub async fn terminate_others(db: &Db, me: &CurrentSession) -> Result<u64, DbError> {
    let ended = end_all(db, me.user_id, Some(&me.session_id)).await?;
    tracing::info!(user = %me.username, ended, "other sessions terminated");
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proof(
        first: Proof,
        second: Option<Method>,
        passkey: Option<PasskeyKind>,
    ) -> Vec<&'static str> {
        SignInProof {
            first,
            second,
            passkey,
        }
        .amr()
    }

    #[test]
    fn amr_names_a_synced_passkey_a_software_key() {
        use PasskeyKind::*;
        assert_eq!(
            proof(Proof::Passkey, None, Some(DeviceBound)),
            ["hwk", "mfa"]
        );
        assert_eq!(proof(Proof::Passkey, None, Some(Synced)), ["swk", "mfa"]);
        // A session from before kinds were recorded claims no hardware.
        assert_eq!(proof(Proof::Passkey, None, None), ["swk", "mfa"]);
        assert_eq!(
            proof(Proof::Password, Some(Method::Passkey), Some(Synced)),
            ["pwd", "swk", "mfa"]
        );
        assert_eq!(
            proof(Proof::Password, Some(Method::Passkey), Some(DeviceBound)),
            ["pwd", "hwk", "mfa"]
        );
        assert_eq!(
            proof(Proof::Password, Some(Method::Otp), None),
            ["pwd", "otp", "mfa"]
        );
        assert_eq!(
            proof(Proof::IdentityProvider, Some(Method::RecoveryCode), None),
            ["fed", "mfa"]
        );
    }
}
