//! Self-registration with system consent. The account, its profile attributes
//! and its consent receipt are created in one transaction: without the
//! mandatory consents there is no account. When the operator engages
//! registration to an approval workflow, the account is created pending (it
//! cannot sign in) together with its approval request.

use crate::config::{Config, SYSTEM_SERVICE};
use crate::consent::{self, NewConsent};
use crate::db::Db;
use crate::db::DbError;
use crate::hashing::PasswordHash;
use crate::password::evaluate;
use crate::users::{self, UserError, Username};
use crate::{approvals, throttle};
use app::approvals::WorkflowOperation;
use app::consent::{AttributeChoice, PurposeChoice, RegistrationForm};
use app::error::{AppError, FieldError};
use app::profile::ValidProfile;
use app::profile::{ProfileInput, FIELDS};
use app::states::AccountStatus;
use std::collections::{BTreeMap, BTreeSet};

const IDENTITY_GONE: &str = "The sign-in at your identity provider has expired, or that provider does not create accounts here. Start again with its button on the sign-in page.";

/// What a registrant sends.
pub struct Registration<'a> {
    pub username: &'a str,
    pub password: &'a str,
    /// Profile attribute values by claim (first_name, email, ...).
    pub attributes: &'a BTreeMap<String, String>,
    /// The (purpose, claim) pairs ticked.
    pub consents: &'a [(u32, String)],
    /// Instead of a password: the browser's pending identity (its cookie),
    /// which the new account is created with and signs in with.
    pub identity: Option<&'a str>,
}

/// The attributes the system purposes ask for, in profile order:
/// (claim, label, mandatory in some purpose).
fn requested(config: &Config) -> Vec<(String, String, bool)> {
    let purposes: Vec<_> = config.consent.purposes_of(SYSTEM_SERVICE).collect();
    FIELDS
        .iter()
        .filter_map(|field| {
            let uses: Vec<bool> = purposes
                .iter()
                .flat_map(|p| p.pii.iter())
                .filter(|pii| pii.claim == field.name)
                .map(|pii| pii.mandatory)
                .collect();
            (!uses.is_empty()).then(|| {
                (
                    field.name.to_string(),
                    field.label.to_string(),
                    uses.contains(&true),
                )
            })
        })
        .collect()
}

pub fn form(config: &Config) -> RegistrationForm {
    let purposes = config
        .consent
        .purposes_of(SYSTEM_SERVICE)
        .map(|p| PurposeChoice {
            id: p.id,
            name: p.name.clone(),
            description: p.description.clone(),
            attributes: p
                .pii
                .iter()
                .map(|pii| AttributeChoice {
                    claim: pii.claim.clone(),
                    label: consent::label_of(&pii.claim),
                    mandatory: pii.mandatory,
                    selected: false,
                    locked: false,
                })
                .collect(),
        })
        .collect();
    RegistrationForm {
        enabled: config.registration.enabled,
        attributes: requested(config),
        purposes,
        policy_url: config.policy_url(),
        controller: config.consent.controller.name.clone(),
    }
}

/// Checks the consents and attribute values together; every problem at once.
fn check_consent(
    config: &Config,
    registration: &Registration<'_>,
    errors: &mut Vec<FieldError>,
) -> (ProfileInput, Vec<(u32, String)>) {
    let system: Vec<_> = config.consent.purposes_of(SYSTEM_SERVICE).collect();
    let mut ticked: BTreeSet<(u32, String)> = BTreeSet::new();
    for (purpose, claim) in registration.consents {
        let offered = system
            .iter()
            .any(|p| p.id == *purpose && p.pii.iter().any(|pii| pii.claim == *claim));
        if !offered {
            errors.push(FieldError::new(
                "consent",
                "The form asked for a consent that is not offered. Reload the page and try again.",
            ));
            return (ProfileInput::default(), Vec::new());
        }
        ticked.insert((*purpose, claim.clone()));
    }
    for purpose in &system {
        for pii in purpose.pii.iter().filter(|pii| pii.mandatory) {
            if !ticked.contains(&(purpose.id, pii.claim.clone())) {
                errors.push(FieldError::new(
                    &format!("consent-{}", AttributeChoice::key(purpose.id, &pii.claim)),
                    format!(
                        "\"{}\" needs your consent to use your {}: an account cannot be created without it.",
                        purpose.name,
                        consent::label_of(&pii.claim).to_lowercase()
                    ),
                ));
            }
        }
    }
    let consented_claims: BTreeSet<&str> = ticked.iter().map(|(_, c)| c.as_str()).collect();
    let mut profile = ProfileInput::default();
    for (claim, label, mandatory) in requested(config) {
        let value = registration
            .attributes
            .get(&claim)
            .map(|v| v.trim())
            .unwrap_or_default();
        if value.is_empty() {
            if mandatory {
                errors.push(FieldError::new(
                    &claim,
                    format!("Enter your {}.", label.to_lowercase()),
                ));
            }
            continue;
        }
        if !consented_claims.contains(claim.as_str()) {
            errors.push(FieldError::new(
                &claim,
                format!(
                    "You entered your {} but did not consent to its use. Tick it below, or clear the field.",
                    label.to_lowercase()
                ),
            ));
            continue;
        }
        profile.set(&claim, value);
    }
    (profile, ticked.into_iter().collect())
}

/// Counts a registration from `address`; false once the last hour holds
/// more than the configured number.
async fn within_hourly_limit(db: &Db, config: &Config, address: &str) -> Result<bool, AppError> {
    let key = throttle::Key::registration(address);
    let count = throttle::count_in_window(db, &key, 3_600_000).await?;
    Ok(count <= config.registration.per_address_per_hour as i64)
}

/// Creates the account and its system consent; true when it awaits approval.
pub async fn register(
    db: &Db,
    config: &Config,
    registration: Registration<'_>,
    address: &str,
) -> Result<bool, AppError> {
    if !config.registration.enabled {
        return Err(AppError::Refused(
            "Self-registration is turned off. Ask your administrator for an account.".into(),
        ));
    }
    if let Some(token) = registration.identity {
        if !crate::associations::social::may_create_account(db, config, token).await? {
            return Err(AppError::Refused(IDENTITY_GONE.into()));
        }
    }
    let mut errors = Vec::new();
    let username = Username::parse(registration.username)
        .map_err(|e| errors.push(FieldError::new("username", e)))
        .ok();
    let (profile, consents) = check_consent(config, &registration, &mut errors);
    let profile = match profile.parse() {
        Ok(valid) => Some(valid),
        Err(found) => {
            errors.extend(found);
            None
        }
    };
    if registration.identity.is_none() {
        let feedback = evaluate(
            &config.password,
            registration.password,
            &[registration.username.trim()],
        );
        if !feedback.acceptable {
            errors.push(FieldError::new("password", feedback.problems.join(" ")));
        }
    }
    let (Some(username), Some(profile)) = (username, profile) else {
        return Err(AppError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    // Counted only once the form is valid: correcting a typo costs nothing.
    if !within_hourly_limit(db, config, address).await? {
        tracing::warn!(ip = %address, "registration refused: hourly limit for the address reached");
        return Err(AppError::RegistrationThrottled);
    }
    let hash = match registration.identity {
        Some(_) => PasswordHash::none(),
        None => {
            config
                .hash_password(registration.password.to_string())
                .await?
        }
    };
    let held = config
        .workflow(WorkflowOperation::SelfRegistration)
        .is_some();
    let status = if held {
        AccountStatus::Pending
    } else {
        AccountStatus::Active
    };
    let account = NewAccount {
        username: &username,
        hash: &hash,
        profile: &profile,
        status,
        identity: registration.identity,
    };
    store(db, config, &account, &consents).await?;
    tracing::info!(user = %username.as_str(), held, "account registered");
    Ok(held)
}

/// Why a checked registration could not be stored.
#[derive(Debug, thiserror::Error)]
enum StoreError {
    #[error("the username is taken")]
    Taken,
    #[error("the pending identity is gone")]
    IdentityGone,
    #[error(transparent)]
    Consent(#[from] consent::ConsentError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Db(e.into())
    }
}

impl From<UserError> for StoreError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Exists(_) | UserError::LooksLikeAnother(_) => StoreError::Taken,
            UserError::NotFound(name) => StoreError::Db(DbError::Sql(sqlx::Error::Protocol(
                format!("no user {name} right after inserting it"),
            ))),
            UserError::Db(e) => StoreError::Db(e),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Taken => AppError::Invalid(vec![FieldError::new(
                "username",
                "That username is taken. Choose another one.",
            )]),
            StoreError::IdentityGone => AppError::Refused(IDENTITY_GONE.into()),
            StoreError::Consent(e) => e.into(),
            StoreError::Db(e) => e.into(),
        }
    }
}

/// Stores the account, its profile, its system consent and (when held) its
/// approval request in one transaction.
/// A checked registration, ready to store.
struct NewAccount<'a> {
    username: &'a Username,
    hash: &'a PasswordHash,
    profile: &'a ValidProfile,
    status: AccountStatus,
    /// The pending identity the account is created with.
    identity: Option<&'a str>,
}

async fn store(
    db: &Db,
    config: &Config,
    account: &NewAccount<'_>,
    consents: &[(u32, String)],
) -> Result<(), StoreError> {
    let NewAccount {
        username,
        hash,
        profile,
        status,
        identity,
    } = *account;
    // Fetched before the transaction: SQLite has one writer at a time.
    let key = consent::signing_key(db, config).await?;
    let services = consent::Services::load(db, config).await?;
    let email = &profile.claims().email;
    let mut tx = db.pool.begin().await?;
    let id = users::insert(&mut tx, username, hash, status, email).await?;
    users::set_registered_profile(&mut tx, id, profile).await?;
    if let Some(token) = identity {
        if !crate::associations::social::link_new_account(&mut tx, id, token).await? {
            return Err(StoreError::IdentityGone);
        }
    }
    if !consents.is_empty() {
        let consent = NewConsent {
            service: SYSTEM_SERVICE,
            collection_method: "Sign-Up",
            consented: consent::group(consents),
        };
        consent::issue(
            &mut tx,
            config,
            &services,
            &key,
            id,
            username.as_str(),
            consent,
        )
        .await?;
    }
    let mut submitted = None;
    if let Some(workflow) = config.workflow(WorkflowOperation::SelfRegistration) {
        let properties = serde_json::json!({ "Username": username.as_str(), "Email": email });
        let request = approvals::NewRequest {
            operation: WorkflowOperation::SelfRegistration,
            subject: &format!("Self-registration of {}", username.as_str()),
            description:
                "A new account asks to be created. Approve to let it sign in; reject to delete it.",
            initiator: username.as_str(),
            target_user_id: Some(id),
            properties: &properties,
        };
        submitted = Some(approvals::submit(&mut tx, workflow, request).await?);
    }
    // A name that was rejected before is in use again: forget the old rejection.
    approvals::forget_rejection(&mut tx, &username.key()).await?;
    tx.commit().await?;
    if let Some(request_id) = submitted {
        approvals::announce(db, &request_id).await;
    }
    Ok(())
}
