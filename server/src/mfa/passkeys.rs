//! Passkeys and security keys (WebAuthn, checked by webauthn-rs): several per
//! account, each named by its user; signing in with one alone (a
//! discoverable credential with user verification); and removal, refused for
//! the account's last way in.
//!
//! The relying party is `public_url`'s host. A ceremony's state waits in the
//! database between its two requests (any node may serve the second), named
//! by the hash of a random token and used once.

use super::{store, MfaError};
use crate::config::Config;
use crate::db::{Db, DbError};
use crate::sessions::{self, PasskeyKind};
use crate::time::{moment, now_ms};
use crate::users;
use app::backend::ssr::CurrentSession;
use app::mfa::passkeys::{PasskeyCeremony, PasskeyName, PasskeyStatus, Passkeys};
use base64::Engine;
use rand::RngCore;
use webauthn_rs::prelude::{
    AuthenticationResult, CredentialID, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Uuid,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

/// How long the browser has to answer a ceremony.
const CEREMONY_MS: i64 = 5 * 60_000;

/// The relying party of `public_url`; None when passkeys are not offered.
fn relying_party(config: &Config) -> Option<Webauthn> {
    let (id, origin) = config.passkey_relying_party()?;
    WebauthnBuilder::new(&id, &origin)
        .and_then(|builder| builder.rp_name("Selfserve").build())
        .map_err(|e| tracing::error!(error = %e, "passkeys are not offered: no relying party"))
        .ok()
}

pub fn offered(config: &Config) -> bool {
    relying_party(config).is_some()
}

fn encode_id(id: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

fn stored_passkey(row: &store::PasskeyRow) -> Result<Passkey, MfaError> {
    serde_json::from_str(&row.credential).map_err(|e| {
        tracing::error!(error = %e, "a stored passkey could not be read");
        MfaError::PasskeyRefused
    })
}

/// The user's passkeys; None when passkeys are not offered.
pub async fn list(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
) -> Result<Option<Passkeys>, MfaError> {
    if !offered(config) {
        return Ok(None);
    }
    let list = store::passkeys(db, me.user_id)
        .await?
        .into_iter()
        .map(|row| PasskeyStatus {
            id: row.credential_id,
            name: row.name,
            added: moment(row.created_at),
            last_used: row.last_used_at.map(moment),
        })
        .collect();
    let ways_in = users::WaysIn::of(db, me.user_id).await?;
    Ok(Some(Passkeys {
        list,
        only_way_in: !ways_in.left_without(0, ways_in.passkeys()),
    }))
}

/// A new ceremony: the state kept for it, and for the page its token and the
/// options for the browser.
async fn start_ceremony(
    db: &Db,
    user_id: Option<i64>,
    options: &impl serde::Serialize,
    state: &impl serde::Serialize,
) -> Result<PasskeyCeremony, MfaError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let state = serde_json::to_string(state).map_err(|_| MfaError::PasskeyRefused)?;
    let options = serde_json::to_string(options).map_err(|_| MfaError::PasskeyRefused)?;
    store::insert_ceremony(
        db,
        &sessions::token_hash(&token),
        user_id,
        &state,
        now_ms() + CEREMONY_MS,
    )
    .await?;
    Ok(PasskeyCeremony {
        ceremony: token,
        options,
    })
}

/// The account's passkeys as webauthn-rs reads them.
async fn account_passkeys(db: &Db, user_id: i64) -> Result<Vec<Passkey>, MfaError> {
    Ok(store::passkeys(db, user_id)
        .await?
        .iter()
        .filter_map(|row| stored_passkey(row).ok())
        .collect())
}

/// Where the key that answered lives, as its authenticator says.
fn kind(result: &AuthenticationResult) -> PasskeyKind {
    if result.backup_eligible() {
        PasskeyKind::Synced
    } else {
        PasskeyKind::DeviceBound
    }
}

/// Records a use of the passkey stored as `credential_id`: its new counter
/// and when.
async fn record_use(
    db: &Db,
    credential_id: &str,
    mut passkey: Passkey,
    result: &AuthenticationResult,
) -> Result<(), MfaError> {
    passkey.update_credential(result);
    let updated = serde_json::to_string(&passkey).map_err(|_| MfaError::PasskeyRefused)?;
    Ok(store::passkey_used(db, credential_id, &updated, now_ms()).await?)
}

async fn take_ceremony<T: serde::de::DeserializeOwned>(
    db: &Db,
    token: &str,
    user_id: Option<i64>,
) -> Result<T, MfaError> {
    let state = store::take_ceremony(db, &sessions::token_hash(token), user_id, now_ms())
        .await?
        .ok_or(MfaError::CeremonyEnded)?;
    serde_json::from_str(&state).map_err(|_| MfaError::CeremonyEnded)
}

/// Starts registering a passkey: the options for the browser. A passkey
/// signs in on its own, so adding one needs the second factor as any
/// change of how the account signs in does.
pub async fn begin_registration(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
) -> Result<PasskeyCeremony, MfaError> {
    let rp = relying_party(config).ok_or(MfaError::PasskeysNotOffered)?;
    super::require_recent_second_factor(db, me).await?;
    let handle = store::user_handle(db, me.user_id, &Uuid::new_v4().to_string()).await?;
    let handle = Uuid::parse_str(&handle).map_err(|_| MfaError::PasskeyRefused)?;
    let existing: Vec<CredentialID> = account_passkeys(db, me.user_id)
        .await?
        .iter()
        .map(|key| key.cred_id().clone())
        .collect();
    let (mut options, state) = rp
        .start_passkey_registration(handle, &me.username, &me.username, Some(existing))
        .map_err(|e| {
            tracing::warn!(error = %e, "passkey registration could not start");
            MfaError::PasskeyRefused
        })?;
    // "Sign in with a passkey" finds the credential with no username typed,
    // so the device must keep it (a discoverable credential).
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(webauthn_rs_proto::ResidentKeyRequirement::Required);
        selection.require_resident_key = true;
    }
    start_ceremony(db, Some(me.user_id), &options, &state).await
}

/// Checks the browser's new credential and stores it under `name`; the
/// passkey as stored.
pub async fn finish_registration(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
    ceremony: &str,
    name: PasskeyName,
    credential: &str,
) -> Result<store::PasskeyRow, MfaError> {
    let rp = relying_party(config).ok_or(MfaError::PasskeysNotOffered)?;
    let state: PasskeyRegistration = take_ceremony(db, ceremony, Some(me.user_id)).await?;
    let credential: RegisterPublicKeyCredential =
        serde_json::from_str(credential).map_err(|_| MfaError::PasskeyRefused)?;
    let passkey = rp
        .finish_passkey_registration(&credential, &state)
        .map_err(|e| {
            tracing::info!(user = %me.username, error = %e, "passkey registration refused");
            MfaError::PasskeyRefused
        })?;
    let row = store::PasskeyRow {
        credential_id: encode_id(passkey.cred_id()),
        user_id: me.user_id,
        name: name.as_str().to_string(),
        credential: serde_json::to_string(&passkey).map_err(|_| MfaError::PasskeyRefused)?,
        created_at: now_ms(),
        last_used_at: None,
    };
    if !store::insert_passkey(db, &row).await? {
        return Err(MfaError::PasskeyKnown);
    }
    tracing::info!(user = %me.username, "passkey added");
    Ok(row)
}

pub async fn rename(
    db: &Db,
    me: &CurrentSession,
    id: &str,
    name: PasskeyName,
) -> Result<(), MfaError> {
    if !store::rename_passkey(db, me.user_id, id, name.as_str()).await? {
        return Err(MfaError::PasskeyNotFound);
    }
    Ok(())
}

/// Removes one of the user's passkeys, unless it is the account's last way
/// in (no password, no linked identity, no other passkey).
pub async fn remove(db: &Db, me: &CurrentSession, id: &str) -> Result<(), MfaError> {
    super::require_recent_second_factor(db, me).await?;
    let keys = store::passkeys(db, me.user_id).await?;
    if !keys.iter().any(|row| row.credential_id == id) {
        return Err(MfaError::PasskeyNotFound);
    }
    if !users::WaysIn::of(db, me.user_id).await?.left_without(0, 1) {
        return Err(MfaError::LastWayIn);
    }
    if !store::delete_passkey(db, me.user_id, id).await? {
        return Err(MfaError::PasskeyNotFound);
    }
    tracing::info!(user = %me.username, "passkey removed");
    Ok(())
}

/// Starts "Sign in with a passkey": options that let the browser offer any
/// passkey it holds for this site.
pub async fn begin_sign_in(db: &Db, config: &Config) -> Result<PasskeyCeremony, MfaError> {
    let rp = relying_party(config).ok_or(MfaError::PasskeysNotOffered)?;
    let (mut options, state) = rp.start_discoverable_authentication().map_err(|e| {
        tracing::warn!(error = %e, "passkey sign-in could not start");
        MfaError::PasskeyRefused
    })?;
    // A button press, not the browser's autofill: the browser's own dialog.
    options.mediation = None;
    start_ceremony(db, None, &options, &state).await
}

/// Checks the passkey the browser used; the account it signs in to, and the
/// passkey's kind.
pub async fn finish_sign_in(
    db: &Db,
    config: &Config,
    ceremony: &str,
    credential: &str,
) -> Result<(users::Credentials, PasskeyKind), MfaError> {
    let rp = relying_party(config).ok_or(MfaError::PasskeysNotOffered)?;
    let state: DiscoverableAuthentication = take_ceremony(db, ceremony, None).await?;
    let credential: PublicKeyCredential =
        serde_json::from_str(credential).map_err(|_| MfaError::PasskeyRefused)?;
    let (handle, credential_id) = rp
        .identify_discoverable_authentication(&credential)
        .map_err(|_| MfaError::PasskeyRefused)?;
    let row = store::passkey(db, &encode_id(credential_id))
        .await?
        .ok_or(MfaError::PasskeyRefused)?;
    // The passkey must be the one this account registered under its handle.
    let expected = store::user_handle(db, row.user_id, &Uuid::new_v4().to_string()).await?;
    if Uuid::parse_str(&expected).ok() != Some(handle) {
        return Err(MfaError::PasskeyRefused);
    }
    let passkey = stored_passkey(&row)?;
    let result = rp
        .finish_discoverable_authentication_v2(&credential, state, &passkey)
        .map_err(|e| {
            tracing::info!(error = %e, "passkey sign-in refused");
            MfaError::PasskeyRefused
        })?;
    record_use(db, &row.credential_id, passkey, &result).await?;
    let account = users::credentials_by_id(db, row.user_id)
        .await?
        .ok_or(MfaError::PasskeyRefused)?;
    Ok((account, kind(&result)))
}

/// Starts the second step of a sign-in with one of the account's passkeys
/// (the sign-in named by its challenge token).
pub async fn begin_second_step(
    db: &Db,
    config: &Config,
    challenge: &str,
) -> Result<PasskeyCeremony, MfaError> {
    let found = store::challenge(db, &sessions::token_hash(challenge), now_ms())
        .await?
        .ok_or(MfaError::ChallengeEnded)?;
    begin_with_account_passkeys(db, config, found.user_id).await
}

/// Starts giving one of the signed-in user's passkeys again before a
/// sensitive change (step-up).
pub async fn begin_step_up(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
) -> Result<PasskeyCeremony, MfaError> {
    begin_with_account_passkeys(db, config, me.user_id).await
}

/// A ceremony that only one of `user_id`'s passkeys can answer.
async fn begin_with_account_passkeys(
    db: &Db,
    config: &Config,
    user_id: i64,
) -> Result<PasskeyCeremony, MfaError> {
    let rp = relying_party(config).ok_or(MfaError::PasskeysNotOffered)?;
    let keys = account_passkeys(db, user_id).await?;
    if keys.is_empty() {
        return Err(MfaError::PasskeyRefused);
    }
    let (options, state) = rp.start_passkey_authentication(&keys).map_err(|e| {
        tracing::warn!(error = %e, "passkey check could not start");
        MfaError::PasskeyRefused
    })?;
    start_ceremony(db, Some(user_id), &options, &state).await
}

/// The signed-in user's passkey, given again in this session: changes need
/// no other second factor for the next 10 minutes.
pub async fn finish_step_up(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
    ceremony: &str,
    credential: &str,
) -> Result<(), MfaError> {
    let kind = finish_second_step(db, config, me.user_id, ceremony, credential).await?;
    sessions::record_second_factor(db, &me.session_id, app::mfa::Method::Passkey).await?;
    sessions::record_passkey_kind(db, &me.session_id, kind).await?;
    tracing::info!(user = %me.username, "second factor given again with a passkey");
    Ok(())
}

/// Checks the passkey given at the second step or a step-up: one of
/// `user_id`'s; its kind.
pub async fn finish_second_step(
    db: &Db,
    config: &Config,
    user_id: i64,
    ceremony: &str,
    credential: &str,
) -> Result<PasskeyKind, MfaError> {
    let rp = relying_party(config).ok_or(MfaError::PasskeysNotOffered)?;
    let state: PasskeyAuthentication = take_ceremony(db, ceremony, Some(user_id)).await?;
    let credential: PublicKeyCredential =
        serde_json::from_str(credential).map_err(|_| MfaError::PasskeyRefused)?;
    let result = rp
        .finish_passkey_authentication(&credential, &state)
        .map_err(|e| {
            tracing::info!(error = %e, "passkey second step refused");
            MfaError::PasskeyRefused
        })?;
    let id = encode_id(result.cred_id());
    let row = store::passkey(db, &id)
        .await?
        .filter(|row| row.user_id == user_id)
        .ok_or(MfaError::PasskeyRefused)?;
    record_use(db, &id, stored_passkey(&row)?, &result).await?;
    Ok(kind(&result))
}

/// Removes ceremonies the browser never finished.
pub async fn delete_expired_ceremonies(db: &Db) -> Result<u64, DbError> {
    store::delete_expired_ceremonies(db, now_ms()).await
}
