//! Consent settings: the PII controller, the purposes (Selfserve's own and
//! each application's), the applications, and the receipt signing secret.

use super::clients::{check_client, default_scopes, AccessUrl, ClientId, RedirectUri, Scope};
use super::ConfigError;
use serde::{Deserialize, Serialize};

/// Consent management: who controls the data (copied into each receipt when it
/// is issued), the purposes data is collected for, and the applications that
/// ask for consent. `service = "system"` purposes are Selfserve's own.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentConfig {
    /// Kantara `jurisdiction`, e.g. "EU" or "CA".
    pub jurisdiction: String,
    /// ISO 639-1 language the consent is collected in.
    pub language: String,
    /// How often receipts past their expiry are recorded as REVOKED.
    pub expiry_check_minutes: u64,
    pub controller: PiiController,
    pub purposes: Vec<Purpose>,
    pub applications: Vec<Application>,
    /// Encrypts the receipt signing keys stored in the database (AES-256-GCM
    /// under a key derived from it): at least 32 characters, the same on every
    /// node; best given as `SELFSERVE_CONSENT__SIGNING_KEY_SECRET`. Without
    /// it the keys are stored in the clear.
    #[serde(default)]
    pub signing_key_secret: Option<Secret>,
}

/// A secret from the configuration: never printed (Debug shows it redacted).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// An optional secret of the setting `key`, refused when too short to
    /// derive a key from (the message never shows it).
    pub(super) fn check(secret: Option<&Secret>, key: &'static str) -> Result<(), ConfigError> {
        match secret {
            Some(secret) if secret.0.chars().count() < 32 => Err(ConfigError::Invalid {
                key,
                problem: "must be at least 32 characters (e.g. `openssl rand -base64 32`)"
                    .to_string(),
            }),
            _ => Ok(()),
        }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The PII controller (Kantara `piiControllers[0]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PiiController {
    pub name: String,
    pub contact: String,
    pub email: String,
    pub phone: String,
    /// Kantara leaves the address's shape open: e.g. streetAddress, addressCountry.
    pub address: std::collections::BTreeMap<String, String>,
    /// The privacy policy in effect (Kantara `policyUrl`); empty means
    /// Selfserve's own privacy page, `<public_url>/privacy`.
    pub policy_url: String,
    #[serde(default)]
    pub url: Option<String>,
    /// True when the controller acts on behalf of another organisation.
    #[serde(default)]
    pub on_behalf: bool,
}

/// Why personal data is collected, and which claims it needs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Purpose {
    pub id: u32,
    pub name: String,
    pub description: String,
    /// "system" (Selfserve itself) or an application's id.
    #[serde(default = "system_service")]
    pub service: String,
    /// Kantara purpose categories, e.g. "1 - Core Function", "6 - Marketing".
    pub categories: Vec<String>,
    /// Whether this purpose is part of the service's core (Kantara `primaryPurpose`).
    #[serde(default)]
    pub primary: bool,
    #[serde(default = "default_termination")]
    pub termination: String,
    /// Set when the data is disclosed to a third party: its name.
    #[serde(default)]
    pub third_party: Option<String>,
    pub pii: Vec<PurposePii>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PurposePii {
    /// A profile claim: first_name, last_name, email, ...
    pub claim: String,
    #[serde(default)]
    pub mandatory: bool,
}

/// An application that records consents through the REST API and, when it
/// has redirect URIs, signs its users in through Selfserve (an OpenID Connect
/// client whose client id is its id).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Application {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Where authorization codes may be sent; none: not an OpenID Connect client.
    #[serde(default)]
    pub redirect_uris: Vec<RedirectUri>,
    /// Where the user may be sent after signing out through the application.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// A browser or native application: it keeps no secret and must use PKCE.
    /// A confidential one gets its secret from `selfserve client rotate-secret`.
    #[serde(default)]
    pub public: bool,
    /// The scopes it may ask for.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<Scope>,
    /// Where users open it; with one, it is listed on the Applications page.
    #[serde(default)]
    pub access_url: Option<AccessUrl>,
}

impl Application {
    /// Whether it signs users in through Selfserve.
    pub fn is_client(&self) -> bool {
        !self.redirect_uris.is_empty()
    }
}

pub const SYSTEM_SERVICE: &str = "system";

fn system_service() -> String {
    SYSTEM_SERVICE.into()
}

fn default_termination() -> String {
    "Until you revoke it".into()
}

impl ConsentConfig {
    pub fn purposes_of<'a>(&'a self, service: &'a str) -> impl Iterator<Item = &'a Purpose> + 'a {
        self.purposes.iter().filter(move |p| p.service == service)
    }

    pub fn purpose(&self, id: u32) -> Option<&Purpose> {
        self.purposes.iter().find(|p| p.id == id)
    }

    pub fn application(&self, id: &str) -> Option<&Application> {
        self.applications.iter().find(|a| a.id == id)
    }

    pub(super) fn check(&self) -> Result<(), ConfigError> {
        let invalid = |key, problem: &str| ConfigError::Invalid {
            key,
            problem: problem.to_string(),
        };
        let c = &self.controller;
        if [&c.name, &c.contact, &c.email, &c.phone]
            .iter()
            .any(|v| v.trim().is_empty())
        {
            return Err(invalid(
                "consent.controller",
                "name, contact, email and phone must not be empty",
            ));
        }
        if self.jurisdiction.trim().is_empty() || self.language.trim().is_empty() {
            return Err(invalid(
                "consent",
                "jurisdiction and language must not be empty",
            ));
        }
        if self.expiry_check_minutes == 0 {
            return Err(invalid(
                "consent.expiry_check_minutes",
                "must be greater than zero",
            ));
        }
        Secret::check(
            self.signing_key_secret.as_ref(),
            "consent.signing_key_secret",
        )?;
        let mut app_ids = std::collections::HashSet::new();
        for app in &self.applications {
            // The id appears in page addresses (/consent/<id>).
            let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
            if app.id.is_empty()
                || !app.id.chars().all(plain)
                || app.id == SYSTEM_SERVICE
                || app.name.trim().is_empty()
                || !app_ids.insert(app.id.as_str())
            {
                return Err(invalid(
                    "consent.applications",
                    "each application needs a unique id (letters, digits, - and _; not \"system\") and a name",
                ));
            }
            if app.is_client() || !app.post_logout_redirect_uris.is_empty() {
                check_client(&app.redirect_uris, &app.scopes).map_err(|problem| {
                    ConfigError::Invalid {
                        key: "consent.applications",
                        problem: format!("application {}: {problem}", app.id),
                    }
                })?;
            }
        }
        let claims = app::profile::FIELDS.map(|f| f.name);
        let mut purpose_ids = std::collections::HashSet::new();
        for purpose in &self.purposes {
            if !purpose_ids.insert(purpose.id) || purpose.name.trim().is_empty() {
                return Err(invalid(
                    "consent.purposes",
                    "each purpose needs a unique id and a name",
                ));
            }
            // A client added through the CLI may own purposes too: the
            // service is checked against the database at start-up.
            if purpose.service != SYSTEM_SERVICE
                && !app_ids.contains(purpose.service.as_str())
                && ClientId::parse(&purpose.service).is_err()
            {
                return Err(invalid(
                    "consent.purposes.service",
                    "must be \"system\" or an application's id",
                ));
            }
            if purpose.categories.is_empty()
                || purpose.categories.iter().any(|c| c.trim().is_empty())
            {
                return Err(invalid(
                    "consent.purposes.categories",
                    "name at least one Kantara purpose category",
                ));
            }
            let mut seen = std::collections::HashSet::new();
            if purpose.pii.is_empty()
                || purpose
                    .pii
                    .iter()
                    .any(|p| !claims.contains(&p.claim.as_str()) || !seen.insert(&p.claim))
            {
                return Err(invalid(
                    "consent.purposes.pii",
                    "list one or more distinct profile claims (first_name, email, ...)",
                ));
            }
        }
        Ok(())
    }
}

impl Default for ConsentConfig {
    fn default() -> Self {
        let pii = |claim: &str, mandatory| PurposePii {
            claim: claim.into(),
            mandatory,
        };
        Self {
            jurisdiction: "EU".into(),
            language: "en".into(),
            expiry_check_minutes: 10,
            // Placeholders the operator replaces (README, "Consent").
            controller: PiiController {
                name: "Selfserve operator".into(),
                contact: "Data Protection Officer".into(),
                email: "privacy@selfserve.invalid".into(),
                phone: "+1 555 0100".into(),
                address: [("addressCountry".to_string(), "US".to_string())].into(),
                policy_url: String::new(),
                url: None,
                on_behalf: false,
            },
            purposes: vec![
                Purpose {
                    id: 1,
                    name: "Account administration".into(),
                    description: "To create and run your account and reach you about it.".into(),
                    service: system_service(),
                    categories: vec!["1 - Core Function".into()],
                    primary: true,
                    termination: default_termination(),
                    third_party: None,
                    pii: vec![
                        pii("email", true),
                        pii("first_name", false),
                        pii("last_name", false),
                    ],
                },
                Purpose {
                    id: 2,
                    name: "Product news".into(),
                    description: "To send you occasional news about the service.".into(),
                    service: system_service(),
                    categories: vec!["6 - Marketing".into()],
                    primary: false,
                    termination: default_termination(),
                    third_party: None,
                    pii: vec![pii("email", false)],
                },
            ],
            applications: Vec::new(),
            signing_key_secret: None,
        }
    }
}
