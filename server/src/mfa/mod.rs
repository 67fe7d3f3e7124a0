//! Multi-factor authentication: an authenticator app (TOTP, RFC 6238) and
//! single-use recovery codes; the second step of sign-in that asks for them;
//! and the step-up that asks again before sensitive changes.
//!
//! Wrong codes count toward a lockout of their own (per account and per
//! address), which a right password does not clear: knowing the password
//! must not buy more guesses at the code.

use crate::config::{Config, MfaMethod};
use crate::db::{Db, DbError};
use crate::hashing::Busy;
use crate::sealing::{is_sealed, Sealer};
use crate::time::{moment, now_ms};
use crate::users::{self, Username};
use crate::{sessions, throttle};
use app::backend::ssr::{ClientInfo, CurrentSession};
use app::error::{AppError, FieldError};
use app::mfa::{
    Method, MfaOverview, RecoveryCodeStatus, SecondFactorPrompt, TotpSetup, TotpStatus,
    RECOVERY_CODE_COUNT,
};
use rand::{Rng, RngCore};
use totp_rs::{Builder, Secret, Totp};

pub mod passkeys;
pub mod rest;
pub mod store;

/// Why a second factor was not accepted or a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    #[error("wrong code")]
    WrongCode(Method),
    #[error("code accepted already")]
    Replayed,
    #[error("not a code")]
    Malformed(Method),
    #[error("throttled")]
    Throttled,
    #[error("no authenticator app")]
    NotSetUp,
    #[error("an authenticator app is set up already")]
    AlreadySetUp,
    #[error("no setup under way")]
    NoSetup,
    #[error("second factor needed again")]
    StepUpNeeded,
    #[error("sign-in challenge ended")]
    ChallengeEnded,
    #[error("authenticator apps are not offered")]
    NotOffered,
    #[error("passkeys are not offered")]
    PasskeysNotOffered,
    #[error("passkey ceremony ended")]
    CeremonyEnded,
    #[error("passkey refused")]
    PasskeyRefused,
    #[error("passkey registered already")]
    PasskeyKnown,
    #[error("no such passkey")]
    PasskeyNotFound,
    #[error("the last way into the account")]
    LastWayIn,
    /// A stored authenticator-app secret that cannot be read: sealed while
    /// `mfa.encryption_secret` is unset or another, or damaged.
    #[error("authenticator app secret of user {user_id}: {problem}")]
    SecretUnreadable { user_id: i64, problem: String },
    #[error(transparent)]
    Busy(#[from] Busy),
    #[error(transparent)]
    Db(#[from] DbError),
}

fn code_error(message: &str) -> AppError {
    AppError::Invalid(vec![FieldError::new("code", message)])
}

impl From<MfaError> for AppError {
    fn from(e: MfaError) -> Self {
        match e {
            MfaError::WrongCode(Method::Otp) => code_error(
                "That code is not right. Type the code your app shows now; if it keeps failing, \
                 check that your phone sets its clock automatically.",
            ),
            MfaError::WrongCode(Method::RecoveryCode) => {
                code_error("That recovery code is not right, or it was used already.")
            }
            MfaError::Replayed => code_error(
                "That code was used already. Wait for your app to show the next one (within 30 seconds).",
            ),
            MfaError::Malformed(Method::Otp) => {
                code_error("Type the 6 digits your authenticator app shows.")
            }
            MfaError::WrongCode(Method::Passkey) | MfaError::Malformed(Method::Passkey) => {
                MfaError::PasskeyRefused.into()
            }
            MfaError::Malformed(Method::RecoveryCode) => code_error(
                "A recovery code has 16 letters and digits, such as abcd-efgh-jkmn-pqrs.",
            ),
            MfaError::Throttled => AppError::Throttled,
            MfaError::NotSetUp => AppError::NotFound,
            MfaError::AlreadySetUp => AppError::InConflict(
                "An authenticator app is set up already. Remove it first to set up another.".into(),
            ),
            MfaError::NoSetup => AppError::Refused(
                "This setup was replaced or has ended. Start setting up the authenticator app again."
                    .into(),
            ),
            MfaError::StepUpNeeded => AppError::Forbidden(
                "Confirm it is you first: give a code from your authenticator app or a recovery \
                 code (your second factor was last given more than 10 minutes ago)."
                    .into(),
            ),
            MfaError::ChallengeEnded => AppError::Refused(app::mfa::CHALLENGE_ENDED.into()),
            MfaError::NotOffered => AppError::Forbidden(
                "Authenticator apps are not offered here. Ask your administrator.".into(),
            ),
            MfaError::PasskeysNotOffered => AppError::Forbidden(
                "Passkeys are not offered here. Ask your administrator.".into(),
            ),
            MfaError::CeremonyEnded => AppError::Refused(
                "That passkey request has ended (they last 5 minutes). Try again.".into(),
            ),
            MfaError::PasskeyRefused => AppError::Refused(
                "That passkey was not accepted. Use a passkey you added to your account here, \
                 or sign in another way."
                    .into(),
            ),
            MfaError::PasskeyKnown => AppError::InConflict(
                "That passkey is added already.".into(),
            ),
            MfaError::PasskeyNotFound => AppError::NotFound,
            MfaError::LastWayIn => AppError::Refused(
                "This passkey is the only way into your account. Set a password or add another \
                 passkey first."
                    .into(),
            ),
            e @ MfaError::SecretUnreadable { .. } => crate::internal(e),
            MfaError::Busy(busy) => busy.into(),
            MfaError::Db(e) => e.into(),
        }
    }
}

/// The issuer an authenticator app lists the account under.
const ISSUER: &str = "Selfserve";

/// RFC 4226 recommends 160 bits.
const SECRET_BYTES: usize = 20;

/// An authenticator app's generator: SHA-1, 6 digits, 30-second steps and
/// one step either side accepted, as every app expects.
fn generator(secret: &str, account: &str) -> Option<Totp> {
    Builder::new()
        .with_secret(Secret::try_from_base32(secret).ok()?)
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .ok()
}

/// The HKDF salt of the key that encrypts authenticator-app secrets.
const SECRET_PURPOSE: &[u8] = b"selfserve totp secret v1";

/// How a new secret is stored: sealed and bound to its account when
/// `mfa.encryption_secret` is set, otherwise as is (base32).
fn stored_secret(config: &Config, user_id: i64, secret: &str) -> Result<String, MfaError> {
    match &config.mfa.encryption_secret {
        Some(key) => Sealer::new(key, SECRET_PURPOSE)
            .and_then(|sealer| sealer.seal(&user_id.to_string(), secret.as_bytes()))
            .map_err(|e| MfaError::SecretUnreadable {
                user_id,
                problem: e.to_string(),
            }),
        None => Ok(secret.to_string()),
    }
}

/// The secret (base32) of a stored one.
pub(crate) fn readable_secret(
    config: &Config,
    user_id: i64,
    stored: &str,
) -> Result<String, MfaError> {
    if !is_sealed(stored) {
        return Ok(stored.to_string());
    }
    let unreadable = |problem: &str| MfaError::SecretUnreadable {
        user_id,
        problem: problem.to_string(),
    };
    let key = config.mfa.encryption_secret.as_ref().ok_or_else(|| {
        unreadable("stored encrypted, and mfa.encryption_secret (SELFSERVE_MFA__ENCRYPTION_SECRET) is not set")
    })?;
    let plain = Sealer::new(key, SECRET_PURPOSE)
        .and_then(|sealer| sealer.open(&user_id.to_string(), stored))
        .map_err(|_| unreadable("mfa.encryption_secret is not the one it was encrypted with"))?;
    String::from_utf8(plain).map_err(|_| unreadable("not text"))
}

/// Checks at start that authenticator-app secrets can be read with the
/// configured `mfa.encryption_secret` (so a wrong or missing one stops the
/// start, not a user's sign-in), and encrypts those stored in the clear once
/// it is set. Returns how many it encrypted.
pub async fn prepare_secrets(db: &Db, config: &Config) -> Result<usize, MfaError> {
    if let Some((user_id, stored)) = store::any_sealed_secret(db).await? {
        readable_secret(config, user_id, &stored)?;
    }
    if config.mfa.encryption_secret.is_none() {
        return Ok(0);
    }
    let mut sealed = 0;
    for (user_id, stored) in store::clear_secrets(db).await? {
        let sealed_form = stored_secret(config, user_id, &stored)?;
        // Unless the user replaced it meanwhile.
        if store::replace_secret(db, user_id, &stored, &sealed_form).await? {
            sealed += 1;
        }
    }
    Ok(sealed)
}

/// The secret in groups of four, as a person types it.
fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The QR code of an `otpauth://` URI, as an SVG `data:` URI.
fn qr_code(uri: &str) -> Option<String> {
    use base64::Engine;
    use qrcode::render::svg;
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    let image = code
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    Some(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(image)
    ))
}

/// Whether sign-in asks the user for a second factor.
pub async fn enabled(db: &Db, user_id: i64) -> Result<bool, DbError> {
    Ok(store::totp(db, user_id)
        .await?
        .is_some_and(|row| row.enabled_at.is_some()))
}

/// Whether sign-in must set up a second factor for an account without one.
pub fn required(config: &Config) -> bool {
    config.mfa.required && config.mfa.offers(MfaMethod::Totp)
}

/// Whether a sign-in of the account needs a second step: its factor, or
/// (when the operator requires one) setting one up.
pub async fn second_step_needed(db: &Db, config: &Config, user_id: i64) -> Result<bool, DbError> {
    Ok(required(config) || enabled(db, user_id).await?)
}

/// The same for an account whose credentials sign-in has just read (they
/// say whether it has an authenticator app), without another query.
pub fn second_step_needed_for(config: &Config, account: &users::Credentials) -> bool {
    required(config) || account.has_authenticator()
}

/// The Multi-factor authentication page.
pub async fn overview(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
) -> Result<MfaOverview, DbError> {
    let totp = store::totp(db, me.user_id)
        .await?
        .filter(|row| row.enabled_at.is_some());
    let codes = store::code_summary(db, me.user_id).await?;
    Ok(MfaOverview {
        totp_offered: config.mfa.offers(MfaMethod::Totp),
        required: required(config),
        step_up_needed: totp.is_some()
            && !sessions::second_factor_fresh(db, &me.session_id).await?,
        totp: totp.map(|row| TotpStatus {
            added: moment(row.enabled_at.unwrap_or(row.created_at)),
            last_used: row.last_used_at.map(moment),
        }),
        recovery_codes: codes.map(|summary| RecoveryCodeStatus {
            remaining: summary.remaining as u32,
            created: moment(summary.created_at),
        }),
    })
}

/// A new secret for the user's authenticator app; sign-in asks for it only
/// once a code from it is typed.
pub async fn begin_setup(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
) -> Result<TotpSetup, MfaError> {
    setup_for(db, config, me.user_id, &me.username, false).await
}

/// A setup for the account: a new secret, or (`reuse`) the one under way,
/// so that reloading the second step of sign-in shows the code scanned.
async fn setup_for(
    db: &Db,
    config: &Config,
    user_id: i64,
    username: &str,
    reuse: bool,
) -> Result<TotpSetup, MfaError> {
    if !config.mfa.offers(MfaMethod::Totp) {
        return Err(MfaError::NotOffered);
    }
    let pending = match store::totp(db, user_id).await? {
        Some(row) if row.enabled_at.is_some() => return Err(MfaError::AlreadySetUp),
        Some(row) if reuse => Some(readable_secret(config, user_id, &row.secret)?),
        _ => None,
    };
    let secret = match pending {
        Some(secret) => secret,
        None => {
            let mut bytes = [0u8; SECRET_BYTES];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let secret = Secret::from(bytes.to_vec()).to_base32();
            let stored = stored_secret(config, user_id, &secret)?;
            if !store::begin_totp(db, user_id, &stored, now_ms()).await? {
                return Err(MfaError::AlreadySetUp);
            }
            tracing::info!(user = %username, "authenticator app setup started");
            secret
        }
    };
    let uri = setup_uri(&secret, username).ok_or(MfaError::NoSetup)?;
    Ok(TotpSetup {
        qr_code: qr_code(&uri).ok_or(MfaError::NoSetup)?,
        secret: grouped(&secret),
        uri,
    })
}

/// The `otpauth://` URI of a secret, as the QR code holds it.
pub fn setup_uri(secret: &str, username: &str) -> Option<String> {
    generator(secret, username)?.to_url().ok()
}

/// Turns the app on with a code from it. The account's first factor also
/// brings recovery codes (`with_codes`, where they can be shown), returned
/// this once.
pub async fn finish_setup(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
    code: &str,
    client: &ClientInfo,
    with_codes: bool,
) -> Result<Option<Vec<String>>, MfaError> {
    verify(
        db,
        config,
        me.user_id,
        &me.username,
        Check::Setup,
        code,
        client,
    )
    .await?;
    sessions::record_second_factor(db, &me.session_id, Method::Otp).await?;
    let codes = match store::code_summary(db, me.user_id).await? {
        Some(summary) if summary.remaining > 0 => None,
        _ if with_codes => Some(replace_codes(db, config, me.user_id).await?),
        _ => None,
    };
    tracing::info!(user = %me.username, "authenticator app enabled");
    Ok(codes)
}

/// Removes the app and the recovery codes; the account signs in with its
/// password alone.
pub async fn remove(db: &Db, me: &CurrentSession) -> Result<(), MfaError> {
    require_recent_second_factor(db, me).await?;
    if !store::delete_totp(db, me.user_id).await? {
        return Err(MfaError::NotSetUp);
    }
    tracing::info!(user = %me.username, "authenticator app removed");
    Ok(())
}

/// Deletes the recovery codes; the app alone remains.
pub async fn remove_codes(db: &Db, me: &CurrentSession) -> Result<(), MfaError> {
    require_recent_second_factor(db, me).await?;
    store::replace_codes(db, me.user_id, &[], now_ms()).await?;
    tracing::info!(user = %me.username, "recovery codes deleted");
    Ok(())
}

/// A new set of recovery codes; the old ones stop working.
pub async fn regenerate_codes(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
) -> Result<Vec<String>, MfaError> {
    require_recent_second_factor(db, me).await?;
    if !enabled(db, me.user_id).await? {
        return Err(MfaError::NotSetUp);
    }
    let codes = replace_codes(db, config, me.user_id).await?;
    tracing::info!(user = %me.username, "recovery codes regenerated");
    Ok(codes)
}

/// The second factor, given again in this session.
pub async fn step_up(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
    method: Method,
    code: &str,
    client: &ClientInfo,
) -> Result<(), MfaError> {
    verify(
        db,
        config,
        me.user_id,
        &me.username,
        Check::Factor(method),
        code,
        client,
    )
    .await?;
    sessions::record_second_factor(db, &me.session_id, method).await?;
    Ok(())
}

/// Refuses a sensitive change unless a second factor was given in the
/// session within the last 10 minutes (accounts without one pass).
pub async fn require_recent_second_factor(db: &Db, me: &CurrentSession) -> Result<(), MfaError> {
    if enabled(db, me.user_id).await? && !sessions::second_factor_fresh(db, &me.session_id).await? {
        return Err(MfaError::StepUpNeeded);
    }
    Ok(())
}

/// What a code is checked as.
#[derive(Debug, Clone, Copy)]
enum Check {
    /// A code from the app being set up.
    Setup,
    Factor(Method),
}

/// Checks a code of the account within the lockout; a wrong or replayed
/// code counts as a failure.
async fn verify(
    db: &Db,
    config: &Config,
    user_id: i64,
    username: &str,
    check: Check,
    code: &str,
    client: &ClientInfo,
) -> Result<(), MfaError> {
    let username_key = Username::parse(username)
        .map(|name| name.key())
        .unwrap_or_else(|_| username.to_lowercase());
    let key = throttle::Key::second_factor(&username_key);
    let address = throttle::Key::sign_in_address(&client.ip);
    let standing = throttle::standing(db, &key, &address).await?;
    if standing.locked {
        return Err(MfaError::Throttled);
    }
    let outcome = match check {
        Check::Setup => check_totp(db, config, user_id, code, true).await,
        Check::Factor(Method::Otp) => check_totp(db, config, user_id, code, false).await,
        Check::Factor(Method::RecoveryCode) => check_recovery_code(db, config, user_id, code).await,
        // A passkey is not typed: it has its own ceremony (`answer_with_passkey`).
        Check::Factor(Method::Passkey) => Err(MfaError::Malformed(Method::Passkey)),
    };
    match outcome {
        Ok(()) => {
            if standing.account_failures {
                throttle::clear(db, &key).await?;
            }
            Ok(())
        }
        Err(e @ (MfaError::WrongCode(_) | MfaError::Replayed)) => {
            tracing::info!(ip = %client.ip, "second factor check failed");
            if throttle::record_sign_in_failure(db, config, &key, &address).await? {
                Err(MfaError::Throttled)
            } else {
                Err(e)
            }
        }
        Err(e) => Err(e),
    }
}

async fn check_totp(
    db: &Db,
    config: &Config,
    user_id: i64,
    code: &str,
    setup: bool,
) -> Result<(), MfaError> {
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MfaError::Malformed(Method::Otp));
    }
    let row = match store::totp(db, user_id).await? {
        Some(row) if row.enabled_at.is_none() == setup => row,
        _ if setup => return Err(MfaError::NoSetup),
        _ => return Err(MfaError::NotSetUp),
    };
    let secret = readable_secret(config, user_id, &row.secret)?;
    let totp = generator(&secret, "").ok_or(MfaError::NotSetUp)?;
    let now = now_ms();
    let Some(step) = totp.check(&digits, (now / 1000) as u64) else {
        return Err(MfaError::WrongCode(Method::Otp));
    };
    // One acceptance per step, and never an older step than the last one:
    // a code seen over a shoulder is worth nothing once used.
    if !store::accept_step(db, user_id, step as i64, now).await? {
        return Err(MfaError::Replayed);
    }
    Ok(())
}

/// Recovery codes: 16 characters from an alphabet without look-alikes
/// (about 79 bits), shown in groups of four.
const CODE_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
const CODE_LENGTH: usize = 16;
/// The first characters find a code's row; the whole code is checked
/// against its hash.
const LOOKUP_LENGTH: usize = 4;

fn new_code() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..CODE_LENGTH)
        .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// A code as typed (any case, with or without dashes and spaces) in its
/// stored form; None when it cannot be one.
fn normalise_code(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (code.len() == CODE_LENGTH && code.bytes().all(|b| CODE_ALPHABET.contains(&b))).then_some(code)
}

fn display_code(code: &str) -> String {
    grouped(code).replace(' ', "-")
}

async fn check_recovery_code(
    db: &Db,
    config: &Config,
    user_id: i64,
    input: &str,
) -> Result<(), MfaError> {
    let code = normalise_code(input).ok_or(MfaError::Malformed(Method::RecoveryCode))?;
    let lookup = &code[..LOOKUP_LENGTH];
    let hash = store::unused_code(db, user_id, lookup).await?;
    // Without a matching row the check still costs a hash: timing does not
    // tell which prefixes exist.
    let found = hash.is_some();
    if !config.verify_password(code.clone(), hash).await? || !found {
        return Err(MfaError::WrongCode(Method::RecoveryCode));
    }
    if !store::use_code(db, user_id, lookup, now_ms()).await? {
        return Err(MfaError::WrongCode(Method::RecoveryCode));
    }
    Ok(())
}

/// "Forgot password?" with a recovery code: uses up the code when it is one
/// of the account's. An unknown account costs the same hash and fails alike.
pub async fn redeem_code_without_sign_in(
    db: &Db,
    config: &Config,
    user_id: Option<i64>,
    input: &str,
) -> Result<bool, MfaError> {
    match user_id {
        Some(id) => match check_recovery_code(db, config, id, input).await {
            Ok(()) => Ok(true),
            Err(MfaError::WrongCode(_) | MfaError::Malformed(_)) => Ok(false),
            Err(e) => Err(e),
        },
        None => {
            config.verify_password(input.to_string(), None).await?;
            Ok(false)
        }
    }
}

/// Makes and stores a new set of codes (the old ones go); returns them for
/// the user to keep.
async fn replace_codes(db: &Db, config: &Config, user_id: i64) -> Result<Vec<String>, MfaError> {
    let mut codes: Vec<String> = Vec::with_capacity(RECOVERY_CODE_COUNT);
    while codes.len() < RECOVERY_CODE_COUNT {
        let code = new_code();
        if !codes
            .iter()
            .any(|c| c[..LOOKUP_LENGTH] == code[..LOOKUP_LENGTH])
        {
            codes.push(code);
        }
    }
    let mut stored = Vec::with_capacity(codes.len());
    for code in &codes {
        stored.push(store::NewCode {
            lookup: code[..LOOKUP_LENGTH].to_string(),
            hash: config
                .hash_password(code.clone())
                .await?
                .as_str()
                .to_string(),
        });
    }
    store::replace_codes(db, user_id, &stored, now_ms()).await?;
    Ok(codes.iter().map(|c| display_code(c)).collect())
}

/// How a sign-in's first step was taken.
#[derive(Debug, Clone, Copy)]
pub enum FirstStep<'a> {
    Password,
    /// At an identity provider, named as configured.
    Federated(&'a str),
    /// A switch from the associated account `from`, whose session `leaving`
    /// ends once the second factor is given.
    Switched {
        from: &'a str,
        leaving: &'a str,
    },
}

/// How long a sign-in waits for its second factor.
pub const CHALLENGE_MINUTES: i64 = 10;

/// Records a sign-in waiting for the user's second factor; the `Set-Cookie`
/// value that binds it to this browser.
pub async fn challenge(
    db: &Db,
    config: &Config,
    user_id: i64,
    first_step: FirstStep<'_>,
    return_to: Option<&str>,
) -> Result<String, DbError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let (kind, detail, leaving) = match first_step {
        FirstStep::Password => ("password", None, None),
        FirstStep::Federated(provider) => ("federated", Some(provider), None),
        FirstStep::Switched { from, leaving } => ("switched", Some(from), Some(leaving)),
    };
    store::insert_challenge(
        db,
        store::NewChallenge {
            token_hash: &sessions::token_hash(&token),
            user_id,
            first_step: kind,
            first_step_detail: detail,
            leaving_session: leaving,
            return_to,
            expires_at: now_ms() + CHALLENGE_MINUTES * 60_000,
        },
    )
    .await?;
    Ok(challenge_cookie(config, &token, CHALLENGE_MINUTES * 60))
}

fn challenge_cookie(config: &Config, value: &str, seconds: i64) -> String {
    sessions::lax_cookie(config, app::mfa::CHALLENGE_COOKIE, value, "/", seconds)
}

/// The cookie that forgets a met challenge.
pub fn forget_challenge_cookie(config: &Config) -> String {
    challenge_cookie(config, "", 0)
}

/// What the second step offers for the sign-in named by the cookie; None
/// when it has ended. An account without a factor (the operator requires
/// one) sets up an authenticator app here.
pub async fn prompt(
    db: &Db,
    config: &Config,
    token: &str,
) -> Result<Option<SecondFactorPrompt>, MfaError> {
    let Some(found) = store::challenge(db, &sessions::token_hash(token), now_ms()).await? else {
        return Ok(None);
    };
    let totp = store::totp(db, found.user_id)
        .await?
        .filter(|row| row.enabled_at.is_some());
    let Some(totp) = totp else {
        let Some(account) = users::credentials_by_id(db, found.user_id).await? else {
            return Ok(None);
        };
        let setup = setup_for(db, config, account.id, &account.username, true).await?;
        return Ok(Some(SecondFactorPrompt {
            methods: vec![Method::Otp],
            enrol: Some(setup),
        }));
    };
    let totp_used = totp.last_used_at;
    let codes = store::code_summary(db, found.user_id).await?;
    // Each method with when it was last used; the last used is offered first.
    let mut methods = vec![(Method::Otp, totp_used)];
    if let Some(codes) = codes.filter(|c| c.remaining > 0) {
        methods.push((Method::RecoveryCode, codes.last_used_at));
    }
    if passkeys::offered(config) {
        let keys = store::passkeys(db, found.user_id).await?;
        if !keys.is_empty() {
            let used = keys.iter().filter_map(|k| k.last_used_at).max();
            methods.push((Method::Passkey, used));
        }
    }
    // Stable: on a tie (never used) the app stays first.
    methods.sort_by_key(|(_, used)| std::cmp::Reverse(*used));
    let methods = methods.into_iter().map(|(method, _)| method).collect();
    Ok(Some(SecondFactorPrompt {
        methods,
        enrol: None,
    }))
}

/// A sign-in completed with its second factor.
pub struct Completed {
    pub user_id: i64,
    pub token: sessions::SessionToken,
    pub return_to: Option<String>,
    pub first_step: String,
    /// The recovery codes of an app set up at this sign-in, shown once.
    pub recovery_codes: Option<Vec<String>>,
}

/// The sign-in waiting under `token`: its hash, the challenge and the account.
async fn waiting(
    db: &Db,
    token: &str,
) -> Result<(String, store::ChallengeRow, users::Credentials), MfaError> {
    let hashed = sessions::token_hash(token);
    let found = store::challenge(db, &hashed, now_ms())
        .await?
        .ok_or(MfaError::ChallengeEnded)?;
    let account = users::credentials_by_id(db, found.user_id)
        .await?
        .ok_or(MfaError::ChallengeEnded)?;
    Ok((hashed, found, account))
}

/// The second step of sign-in: the session starts once the code is right.
pub async fn answer(
    db: &Db,
    config: &Config,
    token: &str,
    method: Method,
    code: &str,
    client: &ClientInfo,
) -> Result<Completed, MfaError> {
    let (hashed, found, account) = waiting(db, token).await?;
    // Without a factor (the operator requires one), the app being set up.
    let enrolling = !enabled(db, account.id).await?;
    let check = if enrolling {
        Check::Setup
    } else {
        Check::Factor(method)
    };
    verify(
        db,
        config,
        account.id,
        &account.username,
        check,
        code,
        client,
    )
    .await?;
    complete(
        db, config, &hashed, found, &account, method, None, client, enrolling,
    )
    .await
}

/// The second step with a passkey: the session starts once the browser's
/// passkey is one of the account's. The ceremony was begun by
/// `passkeys::begin_second_step` for this sign-in's account.
pub async fn answer_with_passkey(
    db: &Db,
    config: &Config,
    token: &str,
    ceremony: &str,
    credential: &str,
    client: &ClientInfo,
) -> Result<Completed, MfaError> {
    let (hashed, found, account) = waiting(db, token).await?;
    let kind = passkeys::finish_second_step(db, config, account.id, ceremony, credential).await?;
    complete(
        db,
        config,
        &hashed,
        found,
        &account,
        Method::Passkey,
        Some(kind),
        client,
        false,
    )
    .await
}

/// Starts the session of a sign-in whose second factor was just given (and,
/// for a passkey, which kind it was).
#[allow(clippy::too_many_arguments)]
async fn complete(
    db: &Db,
    config: &Config,
    hashed: &str,
    found: store::ChallengeRow,
    account: &users::Credentials,
    method: Method,
    passkey: Option<sessions::PasskeyKind>,
    client: &ClientInfo,
    enrolling: bool,
) -> Result<Completed, MfaError> {
    // Used once: a second answer at the same moment starts no second session.
    if !store::take_challenge(db, hashed).await? {
        return Err(MfaError::ChallengeEnded);
    }
    let origin = match (
        found.first_step.as_str(),
        found.first_step_detail.as_deref(),
    ) {
        ("federated", Some(provider)) => sessions::Origin::Federated(provider),
        ("switched", Some(from)) => sessions::Origin::SwitchedFrom(from),
        _ => sessions::Origin::Password,
    };
    let (session_id, session_token) = sessions::create(
        db,
        config,
        account.id,
        client,
        origin,
        Some(method),
        passkey,
    )
    .await?;
    // A switch ends the session it left, as a switch without a second factor does.
    if let (Some(leaving), Some(from)) = (&found.leaving_session, &found.first_step_detail) {
        if let Ok(left) = Username::parse(from) {
            if let Some(owner) = users::credentials(db, &left).await? {
                sessions::end(db, owner.id, leaving).await?;
            }
        }
    }
    tracing::info!(user = %account.username, session = %session_id, method = method.code(), ip = %client.ip, "signed in with a second factor");
    let recovery_codes = if enrolling {
        tracing::info!(user = %account.username, "authenticator app enabled at sign-in");
        Some(replace_codes(db, config, account.id).await?)
    } else {
        None
    };
    Ok(Completed {
        user_id: account.id,
        token: session_token,
        return_to: found.return_to,
        first_step: found.first_step,
        recovery_codes,
    })
}

/// Removes sign-ins that waited too long; how many.
pub async fn delete_expired_challenges(db: &Db) -> Result<u64, DbError> {
    store::delete_expired_challenges(db, now_ms()).await
}

/// Its OpenID Connect `amr` value (RFC 8176), if it has one.
pub fn amr(method: Method) -> Option<&'static str> {
    match method {
        Method::Otp => Some("otp"),
        // A look-up secret has no registered value; "mfa" says enough.
        Method::RecoveryCode => None,
        // Which key it was is the session's (`SignInProof::amr`).
        Method::Passkey => None,
    }
}

/// How My Login Sessions names it.
pub fn label(method: Method) -> &'static str {
    match method {
        Method::Otp => "authenticator app",
        Method::RecoveryCode => "recovery code",
        Method::Passkey => "passkey",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_read_as_typed() {
        let code = new_code();
        assert_eq!(code.len(), CODE_LENGTH);
        let shown = display_code(&code);
        assert_eq!(shown.len(), CODE_LENGTH + 3, "{shown}");
        assert_eq!(normalise_code(&shown).as_deref(), Some(code.as_str()));
        assert_eq!(
            normalise_code(&format!(" {} ", shown.to_uppercase())).as_deref(),
            Some(code.as_str())
        );
        assert_eq!(normalise_code("abcd-efgh-jkmn-pqr"), None, "too short");
        assert_eq!(
            normalise_code("abcd-efgh-jkmn-pqr0"),
            None,
            "0 is not in the alphabet"
        );
    }

    #[test]
    fn secrets_are_160_bits_and_grouped() {
        let secret = Secret::from(vec![7u8; SECRET_BYTES]).to_base32();
        assert_eq!(secret.len(), 32);
        assert_eq!(grouped(&secret).split(' ').count(), 8);
        let uri = generator(&secret, "ada").and_then(|t| t.to_url().ok());
        assert!(
            uri.as_deref()
                .is_some_and(|u| u.starts_with("otpauth://totp/Selfserve:ada?")),
            "{uri:?}"
        );
        assert!(qr_code("otpauth://totp/x").is_some_and(|q| q.starts_with("data:image/svg+xml")));
    }
}
