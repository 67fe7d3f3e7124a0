//! `[[identity_providers]]`: external OpenID providers users may sign in
//! with and link to their account (Associated Accounts, social identities).

use super::{ConfigError, Secret};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IdentityProvider {
    /// Lower-case letters, digits and `-`: it appears in addresses.
    pub id: String,
    /// Shown on buttons: "Sign in with {name}".
    pub name: String,
    /// Its discovery document is `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// Overridden by `SELFSERVE_IDENTITY_PROVIDER_<ID>_CLIENT_SECRET` (the
    /// id upper-cased, `-` as `_`), so it need not be in the file.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Whether an identity linked to no account may create one.
    #[serde(default)]
    pub allow_sign_up: bool,
}

fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(String::from).to_vec()
}

impl IdentityProvider {
    /// The environment variable that overrides the client secret.
    pub fn secret_variable(&self) -> String {
        format!(
            "SELFSERVE_IDENTITY_PROVIDER_{}_CLIENT_SECRET",
            self.id.to_uppercase().replace('-', "_")
        )
    }
}

/// Applies the secrets from the environment.
pub(super) fn apply_secret_variables(providers: &mut [IdentityProvider]) {
    for provider in providers {
        if let Ok(secret) = std::env::var(provider.secret_variable()) {
            provider.client_secret = Some(Secret::new(secret));
        }
    }
}

pub(super) fn check(providers: &[IdentityProvider]) -> Result<(), ConfigError> {
    let invalid = |problem: String| ConfigError::Invalid {
        key: "identity_providers",
        problem,
    };
    for (index, provider) in providers.iter().enumerate() {
        let id = &provider.id;
        if id.is_empty()
            || id.len() > 32
            || !id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(invalid(format!(
                "id {id:?}: use 1 to 32 lower-case letters, digits and -"
            )));
        }
        if providers[..index].iter().any(|other| &other.id == id) {
            return Err(invalid(format!("id {id:?} appears twice")));
        }
        if provider.name.trim().is_empty() {
            return Err(invalid(format!("{id}: name is empty")));
        }
        let issuer = url::Url::parse(&provider.issuer)
            .map_err(|e| invalid(format!("{id}: issuer is not a URL ({e})")))?;
        if !matches!(issuer.scheme(), "http" | "https") || issuer.host_str().is_none() {
            return Err(invalid(format!("{id}: issuer must be an https:// URL")));
        }
        if provider.client_id.is_empty() {
            return Err(invalid(format!("{id}: client_id is empty")));
        }
        if provider.client_secret.is_none() {
            return Err(invalid(format!(
                "{id}: client_secret is missing (set it in the file or in {})",
                provider.secret_variable()
            )));
        }
        if !provider.scopes.iter().any(|scope| scope == "openid") {
            return Err(invalid(format!("{id}: scopes must include openid")));
        }
    }
    Ok(())
}
