//! Configuration: one TOML file (`--config` or `SELFSERVE_CONFIG`), every key
//! overridable by an environment variable `SELFSERVE_<KEY>` (nested keys joined
//! with `__`, e.g. `SELFSERVE_SESSION__IDLE_TIMEOUT_MINUTES`). `DATABASE_URL`
//! overrides `database_url`. Invalid values stop the start with the key named.

use app::approvals::WorkflowOperation;
use figment::{
    providers::{Env, Format, Serialized, Toml},
    Figment,
};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

pub mod clients;
mod consent;
mod identity_providers;
mod recovery;

pub use crate::hashing::HashingConfig;

pub use consent::{
    Application, ConsentConfig, PiiController, Purpose, PurposePii, Secret, SYSTEM_SERVICE,
};
pub use identity_providers::IdentityProvider;
pub use recovery::{Question, QuestionSet, RecoveryConfig};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The address users open; its origin is the only one allowed to change state.
    pub public_url: String,
    /// Where the server listens.
    pub listen: SocketAddr,
    /// `sqlite://<file>` (created if missing) or `postgres://...`.
    pub database_url: String,
    /// Take the client address from `X-Forwarded-For` behind one trusted
    /// proxy (the same as `trusted_proxies = 1`).
    pub trust_forwarded_for: bool,
    /// How many proxies in front of Selfserve append to `X-Forwarded-For`:
    /// the entry that many from the right is the client's address.
    pub trusted_proxies: usize,
    pub session: SessionConfig,
    pub lockout: LockoutConfig,
    pub password: PasswordConfig,
    /// Limits on concurrent password hashing (see `hashing`).
    pub hashing: HashingConfig,
    /// The limiter itself, shared by clones of this configuration.
    #[serde(skip)]
    pub hasher: crate::hashing::Hasher,
    pub recovery: RecoveryConfig,
    pub registration: RegistrationConfig,
    /// What users may do to their own account.
    pub accounts: AccountsConfig,
    /// Operations held for approval; none by default.
    pub workflows: Vec<Workflow>,
    pub consent: ConsentConfig,
    /// External OpenID providers to sign in with; none by default.
    pub identity_providers: Vec<IdentityProvider>,
    pub mfa: MfaConfig,
}

/// Multi-factor authentication as the operator sets it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaConfig {
    /// Every user must have a second factor: a sign-in without one sets one
    /// up before the session starts.
    pub required: bool,
    /// The second factors users may set up.
    pub methods: Vec<MfaMethod>,
    /// The secret the key that encrypts authenticator-app secrets in the
    /// database is derived from (at least 32 characters, the same on every
    /// node; give it as `SELFSERVE_MFA__ENCRYPTION_SECRET`). Without it they
    /// are stored in the clear, and the start warns.
    #[serde(default)]
    pub encryption_secret: Option<Secret>,
}

/// A second factor users may set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MfaMethod {
    /// An authenticator app (TOTP); recovery codes come with it.
    Totp,
    /// Passkeys and security keys (WebAuthn), which also sign in on their
    /// own. Offered only when `public_url`'s host is a name, not an address:
    /// browsers refuse an IP address as the relying party.
    Passkey,
}

impl Default for MfaConfig {
    fn default() -> Self {
        Self {
            required: false,
            methods: vec![MfaMethod::Totp, MfaMethod::Passkey],
            encryption_secret: None,
        }
    }
}

impl MfaConfig {
    pub fn offers(&self, method: MfaMethod) -> bool {
        self.methods.contains(&method)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    /// A session unused for this long ends.
    pub idle_timeout_minutes: u64,
    /// A session ends this long after sign-in, however active.
    pub absolute_timeout_hours: u64,
    /// How often expired sessions are removed from the database.
    pub cleanup_interval_minutes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutConfig {
    /// Consecutive failed sign-ins that lock an account.
    pub max_failures: u32,
    /// How long the first lock lasts.
    pub lock_minutes: u64,
    /// Each further lock lasts this many times longer than the one before.
    pub lock_multiplier: u32,
    /// Failed sign-ins from one address that make it wait.
    pub ip_max_failures: u32,
    /// How long an address waits then.
    pub ip_lock_minutes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordConfig {
    /// NIST SP 800-63B: at least 8.
    pub min_length: usize,
    /// NIST SP 800-63B: at least 64 must be accepted.
    pub max_length: usize,
    /// The least zxcvbn score (0-4) accepted; 2 refuses the most common passwords.
    pub min_score: u8,
}

/// Self-registration ("Create an account" on the sign-in page).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationConfig {
    pub enabled: bool,
    /// Accounts one client address may create per hour (each costs a
    /// memory-hard password hash, so this also limits load).
    pub per_address_per_hour: u32,
}

/// What users may do to their own account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsConfig {
    /// Offer "Delete your account" on My Profile (ASVS V8.3.2). Turn it off
    /// where accounts are created and removed elsewhere (an HR system, say):
    /// the page then says to ask the administrator.
    pub self_deletion: bool,
}

/// An operation that needs approval, and the roles that approve it, step by step.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    pub operation: WorkflowOperation,
    /// For `profile_change`: which claims (`department`, `organization`, ...)
    /// need approval when they change.
    #[serde(default)]
    pub claims: Vec<String>,
    /// One role per step; every holder of the role may approve that step.
    pub steps: Vec<String>,
}

impl Config {
    pub fn identity_provider(&self, id: &str) -> Option<&IdentityProvider> {
        self.identity_providers.iter().find(|p| p.id == id)
    }

    pub fn workflow(&self, operation: WorkflowOperation) -> Option<&Workflow> {
        self.workflows.iter().find(|w| w.operation == operation)
    }

    /// Every role that approves some step.
    pub fn approver_roles(&self) -> Vec<String> {
        let mut roles: Vec<String> = self
            .workflows
            .iter()
            .flat_map(|w| w.steps.clone())
            .collect();
        roles.sort();
        roles.dedup();
        roles
    }
}

impl Config {
    /// Hashes a password within the hashing limits.
    pub async fn hash_password(
        &self,
        password: String,
    ) -> Result<crate::hashing::PasswordHash, crate::hashing::Busy> {
        self.hasher.hash(&self.hashing, password).await
    }

    /// Verifies a password within the hashing limits.
    pub async fn verify_password(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, crate::hashing::Busy> {
        self.hasher.verify(&self.hashing, password, stored).await
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:3000".into(),
            listen: ([127, 0, 0, 1], 3000).into(),
            database_url: "sqlite://data/selfserve.db".into(),
            trust_forwarded_for: false,
            trusted_proxies: 0,
            session: SessionConfig {
                idle_timeout_minutes: 30,
                absolute_timeout_hours: 12,
                cleanup_interval_minutes: 10,
            },
            lockout: LockoutConfig {
                max_failures: 5,
                lock_minutes: 5,
                lock_multiplier: 2,
                ip_max_failures: 50,
                ip_lock_minutes: 15,
            },
            password: PasswordConfig {
                min_length: 8,
                max_length: 128,
                min_score: 2,
            },
            hashing: HashingConfig::default(),
            hasher: crate::hashing::Hasher::default(),
            recovery: RecoveryConfig::default(),
            registration: RegistrationConfig {
                enabled: true,
                per_address_per_hour: 10,
            },
            accounts: AccountsConfig {
                self_deletion: true,
            },
            workflows: Vec::new(),
            consent: ConsentConfig::default(),
            identity_providers: Vec::new(),
            mfa: MfaConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Parse(String),
    #[error("configuration key `{key}`: {problem}")]
    Invalid { key: &'static str, problem: String },
}

/// Names the key as it is written in the file (`lockout.max_failures`),
/// whichever source the bad value came from, and says which source that was.
fn describe(errors: figment::Error) -> ConfigError {
    let messages: Vec<String> = errors
        .into_iter()
        .map(|e| {
            let key = e.path.join(".").to_lowercase();
            let source = e
                .metadata
                .as_ref()
                .map(|m| format!(" (from {})", m.name))
                .unwrap_or_default();
            if key.is_empty() {
                format!("{}{source}", e.kind)
            } else {
                format!("key `{key}`: {}{source}", e.kind)
            }
        })
        .collect();
    ConfigError::Parse(messages.join("; "))
}

impl Config {
    /// Reads defaults, then the file (if given and present), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::Parse(format!(
                    "the file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment
            .merge(
                Env::prefixed("SELFSERVE_")
                    .ignore(&["CONFIG", "DEMO", "DATA_DIR"])
                    // Read by identity_providers: secrets of array entries.
                    .filter(|key| {
                        !key.as_str()
                            .to_ascii_lowercase()
                            .starts_with("identity_provider_")
                    })
                    .split("__"),
            )
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database_url".into()),
            );
        let mut config: Config = figment.extract().map_err(describe)?;
        identity_providers::apply_secret_variables(&mut config.identity_providers);
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |key, problem: &str| ConfigError::Invalid {
            key,
            problem: problem.to_string(),
        };
        identity_providers::check(&self.identity_providers)?;
        let url = url::Url::parse(&self.public_url)
            .map_err(|e| invalid("public_url", &format!("not a URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(invalid("public_url", "must be an http:// or https:// URL"));
        }
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database_url",
                "must start with sqlite: or postgres://",
            ));
        }
        if self.session.idle_timeout_minutes == 0 || self.session.absolute_timeout_hours == 0 {
            return Err(invalid("session", "timeouts must be greater than zero"));
        }
        if self.session.cleanup_interval_minutes == 0 {
            return Err(invalid(
                "session.cleanup_interval_minutes",
                "must be greater than zero",
            ));
        }
        if self.lockout.max_failures == 0 || self.lockout.ip_max_failures == 0 {
            return Err(invalid(
                "lockout",
                "failure limits must be greater than zero",
            ));
        }
        if self.lockout.lock_multiplier == 0 {
            return Err(invalid("lockout.lock_multiplier", "must be at least 1"));
        }
        if self.password.min_length < 8 {
            return Err(invalid(
                "password.min_length",
                "must be at least 8 (NIST SP 800-63B)",
            ));
        }
        if self.password.max_length < 64 || self.password.max_length > 1024 {
            return Err(invalid(
                "password.max_length",
                "must be between 64 and 1024",
            ));
        }
        if self.password.min_length > self.password.max_length {
            return Err(invalid(
                "password.min_length",
                "must not exceed password.max_length",
            ));
        }
        // A sign-in without a factor sets up an authenticator app.
        if self.mfa.required && !self.mfa.offers(MfaMethod::Totp) {
            return Err(invalid(
                "mfa.required",
                "needs \"totp\" in mfa.methods (sign-in sets up an authenticator app)",
            ));
        }
        Secret::check(self.mfa.encryption_secret.as_ref(), "mfa.encryption_secret")?;
        let recovery = &self.recovery;
        if recovery.enabled && recovery.question_sets.is_empty() {
            return Err(invalid(
                "recovery.question_sets",
                "needs at least one set when recovery is enabled",
            ));
        }
        let mut set_ids = std::collections::HashSet::new();
        for set in &recovery.question_sets {
            if set.questions.len() < 2 || !set_ids.insert(&set.id) {
                return Err(invalid(
                    "recovery.question_sets",
                    "each set needs a unique id and at least two questions",
                ));
            }
            let mut ids = std::collections::HashSet::new();
            if set
                .questions
                .iter()
                .any(|q| q.text.trim().is_empty() || !ids.insert(&q.id))
            {
                return Err(invalid(
                    "recovery.question_sets",
                    "questions need a unique id within their set and a text",
                ));
            }
        }
        if recovery.flow_minutes == 0 || recovery.flow_minutes > 15 {
            return Err(invalid("recovery.flow_minutes", "must be between 1 and 15"));
        }
        if recovery.max_failures == 0 {
            return Err(invalid("recovery.max_failures", "must be at least 1"));
        }
        let mut operations = std::collections::HashSet::new();
        for workflow in &self.workflows {
            if !operations.insert(workflow.operation as u8) {
                return Err(invalid("workflows", "each operation can be engaged once"));
            }
            if workflow.steps.is_empty() || workflow.steps.iter().any(|r| r.trim().is_empty()) {
                return Err(invalid(
                    "workflows.steps",
                    "needs at least one role, and no empty role",
                ));
            }
            let editable = app::profile::FIELDS.map(|f| f.name);
            if workflow.operation == WorkflowOperation::ProfileChange
                && (workflow.claims.is_empty()
                    || workflow
                        .claims
                        .iter()
                        .any(|c| !editable.contains(&c.as_str())))
            {
                return Err(invalid(
                    "workflows.claims",
                    "a profile_change workflow names one or more profile claims (first_name, department, ...)",
                ));
            }
        }
        if self.registration.per_address_per_hour == 0 {
            return Err(invalid(
                "registration.per_address_per_hour",
                "must be at least 1 (turn registration off with registration.enabled = false)",
            ));
        }
        if self.password.min_score > 4 {
            return Err(invalid("password.min_score", "must be between 0 and 4"));
        }
        self.consent.check()
    }

    /// The privacy policy receipts and the registration page point to.
    pub fn policy_url(&self) -> String {
        let configured = self.consent.controller.policy_url.trim();
        if configured.is_empty() {
            format!("{}/privacy", self.public_url.trim_end_matches('/'))
        } else {
            configured.to_string()
        }
    }

    /// The number of trusted proxies that append to `X-Forwarded-For`.
    pub fn trusted_proxies(&self) -> usize {
        if self.trusted_proxies == 0 && self.trust_forwarded_for {
            1
        } else {
            self.trusted_proxies
        }
    }

    /// Cookies get `Secure` and the `__Host-` prefix when users reach us over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// What every cookie's attributes end with: `; Secure` over https.
    pub fn secure_attribute(&self) -> &'static str {
        if self.secure_cookies() {
            "; Secure"
        } else {
            ""
        }
    }

    /// The WebAuthn relying party: `public_url`'s host as its id and the
    /// URL as the one origin passkeys are used from; None when passkeys are
    /// not offered, or the host is an IP address.
    pub fn passkey_relying_party(&self) -> Option<(String, url::Url)> {
        if !self.mfa.offers(MfaMethod::Passkey) {
            return None;
        }
        let url = url::Url::parse(&self.public_url).ok()?;
        match url.host()? {
            url::Host::Domain(name) => Some((name.to_string(), url.clone())),
            url::Host::Ipv4(_) | url::Host::Ipv6(_) => None,
        }
    }

    pub fn public_origin(&self) -> String {
        url::Url::parse(&self.public_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.session.idle_timeout_minutes * 60)
    }

    pub fn absolute_timeout(&self) -> Duration {
        Duration::from_secs(self.session.absolute_timeout_hours * 3600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_application_is_checked_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("selfserve.toml");
        let load = |application: &str| {
            std::fs::write(
                &file,
                format!("[[consent.applications]]\nid = \"shop\"\nname = \"Pet Shop\"\ndescription = \"\"\n{application}"),
            )
            .unwrap();
            Config::load(Some(&file)).map(|config| config.consent.applications[0].clone())
        };
        let shop = load("redirect_uris = [\"https://shop.example/cb\"]\npublic = true\n").unwrap();
        assert!(shop.is_client() && shop.public);
        assert_eq!(shop.scopes, clients::default_scopes());
        assert!(
            !load("").unwrap().is_client(),
            "no redirect URIs: consent only"
        );

        let err = load("redirect_uris = [\"http://shop.example/cb\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("uses http"), "{err}");
        let err = load("redirect_uris = [\"https://shop.example/cb\"]\nscopes = [\"email\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("must include openid"), "{err}");
        let err = load(
            "redirect_uris = [\"https://shop.example/cb\"]\nscopes = [\"openid\", \"admin\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown scope \"admin\""), "{err}");
        let err = load("post_logout_redirect_uris = [\"https://shop.example/bye\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least one redirect URI"), "{err}");

        // Where users open it: any application may have one, https only.
        let wiki = load("access_url = \"https://wiki.example/#/home\"\n").unwrap();
        assert_eq!(
            wiki.access_url.as_ref().map(clients::AccessUrl::as_str),
            Some("https://wiki.example/#/home")
        );
        let err = load("access_url = \"http://wiki.example/\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("access URL \"http://wiki.example/\" uses http"),
            "{err}"
        );
    }

    #[test]
    fn invalid_value_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("selfserve.toml");
        std::fs::write(&file, "[session]\nidle_timeout_minutes = \"soon\"\n").unwrap();
        let err = Config::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("key `session.idle_timeout_minutes`"), "{err}");
    }

    #[test]
    fn mfa_settings_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("selfserve.toml");
        std::fs::write(&file, "[mfa]\nrequired = true\nmethods = []\n").unwrap();
        let err = Config::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("mfa.required"), "{err}");
        std::fs::write(&file, "[mfa]\nmethods = [\"sms\"]\n").unwrap();
        let err = Config::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("mfa.methods"), "{err}");
        std::fs::write(&file, "[mfa]\nrequired = true\nmethods = [\"passkey\"]\n").unwrap();
        let err = Config::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("mfa.required"), "{err}");
        std::fs::write(&file, "[mfa]\nencryption_secret = \"hunter2\"\n").unwrap();
        let err = Config::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("mfa.encryption_secret"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        std::fs::write(&file, "[mfa]\nrequired = true\n").unwrap();
        let config = Config::load(Some(&file)).unwrap();
        assert!(config.mfa.required && config.mfa.offers(MfaMethod::Totp));
        // Passkeys need a relying party id that is a name.
        assert!(
            config.passkey_relying_party().is_none(),
            "127.0.0.1 is an address"
        );
        let named = Config {
            public_url: "http://localhost:3000".into(),
            ..config
        };
        let (id, origin) = named.passkey_relying_party().unwrap();
        assert_eq!(
            (id.as_str(), origin.as_str()),
            ("localhost", "http://localhost:3000/")
        );
    }

    #[test]
    fn a_short_signing_key_secret_is_refused_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("selfserve.toml");
        std::fs::write(&file, "[consent]\nsigning_key_secret = \"hunter2\"\n").unwrap();
        let err = Config::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("consent.signing_key_secret"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let secret = "correct horse battery staple, 32+ chars";
        std::fs::write(
            &file,
            format!("[consent]\nsigning_key_secret = \"{secret}\"\n"),
        )
        .unwrap();
        let config = Config::load(Some(&file)).unwrap();
        assert!(!format!("{config:?}").contains(secret));
        assert_eq!(config.consent.signing_key_secret.unwrap().expose(), secret);
    }

    #[test]
    fn identity_providers_are_checked_and_their_secret_comes_from_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("selfserve.toml");
        let provider = |extra: &str| {
            format!(
                "[[identity_providers]]\nid = \"test-idp-{}\"\nname = \"Corp ID\"\nissuer = \"https://id.corp.example\"\nclient_id = \"selfserve\"\n{extra}",
                std::process::id()
            )
        };
        let load = |text: String| {
            std::fs::write(&file, text).unwrap();
            Config::load(Some(&file)).map_err(|e| e.to_string())
        };
        let missing = load(provider("")).unwrap_err();
        assert!(missing.contains("client_secret is missing"), "{missing}");
        assert!(
            missing.contains(&format!(
                "SELFSERVE_IDENTITY_PROVIDER_TEST_IDP_{}_CLIENT_SECRET",
                std::process::id()
            )),
            "{missing}"
        );
        let bad_id =
            load(provider("client_secret = \"s\"").replace("test-idp", "Test IdP")).unwrap_err();
        assert!(bad_id.contains("lower-case letters"), "{bad_id}");
        let no_openid = load(provider("client_secret = \"s\"\nscopes = [\"email\"]")).unwrap_err();
        assert!(
            no_openid.contains("scopes must include openid"),
            "{no_openid}"
        );
        let twice = load(format!(
            "{}\n{}",
            provider("client_secret = \"s\""),
            provider("client_secret = \"s\"")
        ))
        .unwrap_err();
        assert!(twice.contains("appears twice"), "{twice}");

        let config = load(provider("client_secret = \"from the file\"")).unwrap();
        let idp = &config.identity_providers[0];
        assert_eq!(idp.scopes, ["openid", "email", "profile"]);
        assert!(!idp.allow_sign_up);
        assert!(!format!("{config:?}").contains("from the file"));
        // The variable (named after this test's own provider id) wins.
        std::env::set_var(idp.secret_variable(), "from the environment");
        let config = load(provider("")).unwrap();
        std::env::remove_var(config.identity_providers[0].secret_variable());
        assert_eq!(
            config.identity_providers[0]
                .client_secret
                .as_ref()
                .unwrap()
                .expose(),
            "from the environment"
        );
    }

    #[test]
    fn bad_public_url_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("selfserve.toml");
        std::fs::write(&file, "public_url = \"ftp://x\"\n").unwrap();
        let err = Config::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("public_url"), "{err}");
    }

    #[test]
    fn consent_purposes_must_name_a_known_service_and_claims() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("selfserve.toml");
        let purpose = |service: &str, claim: &str| {
            format!(
                "[[consent.purposes]]\nid = 7\nname = \"Orders\"\ndescription = \"d\"\n\
                 service = \"{service}\"\ncategories = [\"2 - Contracted Service\"]\n\
                 pii = [{{ claim = \"{claim}\", mandatory = true }}]\n"
            )
        };
        std::fs::write(&file, purpose("no where", "email")).unwrap();
        let err = Config::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("consent.purposes.service"), "{err}");
        // It may name a client added through the CLI: checked at start-up.
        std::fs::write(&file, purpose("cli-app", "email")).unwrap();
        Config::load(Some(&file)).unwrap();
        std::fs::write(&file, purpose("system", "shoe_size")).unwrap();
        let err = Config::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("consent.purposes.pii"), "{err}");
        std::fs::write(&file, purpose("system", "email")).unwrap();
        let config = Config::load(Some(&file)).unwrap();
        assert_eq!(
            config.consent.purposes.len(),
            1,
            "a given list replaces the defaults"
        );
    }

    #[test]
    fn defaults_are_valid() {
        Config::default().check().unwrap();
    }
}
