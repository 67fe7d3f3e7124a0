//! Selfserve as the relying party of external OpenID providers
//! (`[[identity_providers]]`), through the `openidconnect` crate: the
//! authorization code flow with PKCE (S256), `state` and `nonce`, the ID
//! token checked (signature, `iss`, `aud`, `exp`, `nonce`) and the `iss`
//! response parameter compared when the provider sends it (mix-up defence).
//!
//! A flow is stored in the database, so any node can take the callback, and
//! bound to the browser that started it by a cookie. Discovery documents are
//! cached per node; the keys are fetched again when a token names one the
//! cache does not have.

pub mod rest;
mod store;

use crate::config::{Config, IdentityProvider};
use crate::db::{Db, DbError};
use crate::sessions::token_hash;
use crate::time::now_ms;
use app::backend::ssr::CurrentSession;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJsonWebKeySet, CoreProviderMetadata,
};
use openidconnect::{
    reqwest, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SignatureVerificationError, TokenResponse,
};
use rand::RngCore;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::RwLock;

pub use store::FlowRow;

/// How long the user may take at the provider.
pub const FLOW_MINUTES: i64 = 10;

/// Round trips one client address may start in `FLOW_MINUTES`: far above
/// what the people behind one address start, it bounds the flows a client
/// can leave waiting (each a row until it expires) and the redirects it can
/// have us sign.
pub const ROUND_TRIPS_PER_ADDRESS: i64 = 100;

/// Counts a round trip started from `address`; refused beyond
/// `ROUND_TRIPS_PER_ADDRESS` in `FLOW_MINUTES`.
pub async fn admit_round_trip(db: &Db, address: &str) -> Result<(), FederationError> {
    let key = crate::throttle::Key::provider_round_trips(address);
    if crate::throttle::count_in_window(db, &key, FLOW_MINUTES * 60_000).await?
        > ROUND_TRIPS_PER_ADDRESS
    {
        return Err(FederationError::TooMany);
    }
    Ok(())
}

/// What the user set out to do at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    SignIn,
    Link,
    /// Prove it is the user again (an account without a password sets one).
    Confirm,
}

impl Intent {
    const ALL: [Intent; 3] = [Intent::SignIn, Intent::Link, Intent::Confirm];

    fn code(self) -> &'static str {
        match self {
            Intent::SignIn => "sign_in",
            Intent::Link => "link",
            Intent::Confirm => "confirm",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("no such identity provider")]
    UnknownProvider,
    /// Discovery, keys or the token endpoint could not be reached.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The provider's answer did not pass the checks.
    #[error("verification failed: {0}")]
    Failed(String),
    /// The user turned back at the provider (or it refused).
    #[error("cancelled at the provider: {0}")]
    Cancelled(String),
    /// No flow for this state, or another browser's.
    #[error("no such flow in this browser")]
    Expired,
    /// The client's address started too many round trips lately.
    #[error("too many round trips from this address")]
    TooMany,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A flow to send the browser on: where to, and the cookie binding it.
pub struct Started {
    pub authorization_url: String,
    pub binding: String,
}

/// The provider's account, as its verified ID token describes it.
#[derive(Debug, Clone)]
pub struct VerifiedIdentity {
    pub subject: String,
    /// Email, else name, else preferred username, else the subject.
    pub display: String,
    /// What "Create an account" is filled in with, when signing up is allowed.
    pub profile: crate::associations::social::ProviderProfile,
}

/// The callback's parameters.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
}

pub struct Federation {
    http: reqwest::Client,
    discovered: RwLock<HashMap<String, CoreProviderMetadata>>,
}

impl Default for Federation {
    fn default() -> Self {
        Self::new()
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Where the provider sends the browser back: one address per provider, so
/// an answer cannot arrive at another provider's flow.
pub fn redirect_uri(config: &Config, provider: &IdentityProvider) -> String {
    format!(
        "{}/federation/{}/callback",
        config.public_url.trim_end_matches('/'),
        provider.id
    )
}

impl Federation {
    // Building fails only when the TLS backend cannot start (rustls,
    // compiled in): nothing could be done without it anyway.
    #[allow(clippy::expect_used)]
    pub fn new() -> Self {
        // No redirects: an endpoint that redirects is refused, not followed.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("the HTTP client for identity providers starts");
        Self {
            http,
            discovered: RwLock::new(HashMap::new()),
        }
    }

    /// The provider's discovery document (with its keys), from the cache
    /// unless `refresh`.
    async fn metadata(
        &self,
        provider: &IdentityProvider,
        refresh: bool,
    ) -> Result<CoreProviderMetadata, FederationError> {
        if !refresh {
            if let Some(metadata) = self.discovered.read().await.get(&provider.id) {
                return Ok(metadata.clone());
            }
        }
        let issuer = IssuerUrl::new(provider.issuer.clone())
            .map_err(|e| FederationError::Unavailable(format!("issuer: {e}")))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| FederationError::Unavailable(format!("discovery: {e}")))?;
        self.discovered
            .write()
            .await
            .insert(provider.id.clone(), metadata.clone());
        Ok(metadata)
    }

    /// Fetches the provider's keys again (a token named a key not cached).
    async fn refresh_keys(
        &self,
        provider: &IdentityProvider,
        mut metadata: CoreProviderMetadata,
    ) -> Result<CoreProviderMetadata, FederationError> {
        let keys = CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), &self.http)
            .await
            .map_err(|e| FederationError::Unavailable(format!("keys: {e}")))?;
        metadata = metadata.set_jwks(keys);
        self.discovered
            .write()
            .await
            .insert(provider.id.clone(), metadata.clone());
        Ok(metadata)
    }

    /// The origins the browser may be sent to from a form (the page's
    /// `form-action`): each provider's issuer and authorization endpoint.
    pub fn form_origins(&self, config: &Config) -> Vec<String> {
        let mut origins: Vec<String> = config
            .identity_providers
            .iter()
            .filter_map(|p| url::Url::parse(&p.issuer).ok())
            .map(|u| u.origin().ascii_serialization())
            .collect();
        if let Ok(cache) = self.discovered.try_read() {
            origins.extend(cache.values().map(|m| {
                m.authorization_endpoint()
                    .url()
                    .origin()
                    .ascii_serialization()
            }));
        }
        origins.sort();
        origins.dedup();
        origins
    }

    /// Starts a sign-in or a link at the provider: records the flow and
    /// returns where to send the browser, with the cookie that binds it.
    pub async fn start(
        &self,
        db: &Db,
        config: &Config,
        provider_id: &str,
        intent: Intent,
        me: Option<&CurrentSession>,
        return_to: Option<String>,
    ) -> Result<Started, FederationError> {
        let provider = config
            .identity_provider(provider_id)
            .ok_or(FederationError::UnknownProvider)?;
        let metadata = self.metadata(provider, false).await?;
        let client = relying_party(config, provider, metadata)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = random_token();
        let nonce = random_token();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            {
                let state = state.clone();
                move || CsrfToken::new(state)
            },
            {
                let nonce = nonce.clone();
                move || Nonce::new(nonce)
            },
        );
        for scope in provider.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, _, _) = request.set_pkce_challenge(challenge).url();
        let binding = random_token();
        store::insert(
            db,
            &FlowRow {
                state_hash: token_hash(&state),
                binding_hash: token_hash(&binding),
                provider: provider.id.clone(),
                intent: intent.code().into(),
                user_id: me.map(|m| m.user_id),
                session_id: me.map(|m| m.session_id.clone()),
                nonce,
                pkce_verifier: verifier.secret().clone(),
                return_to,
                expires_at: now_ms() + FLOW_MINUTES * 60_000,
            },
        )
        .await?;
        Ok(Started {
            authorization_url: url.to_string(),
            binding,
        })
    }

    /// Takes the flow a callback answers (once), checks that this browser
    /// started it, and verifies the provider's answer.
    pub async fn finish(
        &self,
        db: &Db,
        config: &Config,
        provider_id: &str,
        callback: &Callback,
        binding: Option<&str>,
    ) -> Result<(FlowRow, Intent, Result<VerifiedIdentity, FederationError>), FederationError> {
        let provider = config
            .identity_provider(provider_id)
            .ok_or(FederationError::UnknownProvider)?;
        let state = callback.state.as_deref().ok_or(FederationError::Expired)?;
        let flow = store::take(db, &token_hash(state), now_ms())
            .await?
            .ok_or(FederationError::Expired)?;
        let bound = binding.is_some_and(|b| {
            subtle::ConstantTimeEq::ct_eq(token_hash(b).as_bytes(), flow.binding_hash.as_bytes())
                .into()
        });
        if !bound || flow.provider != provider.id {
            return Err(FederationError::Expired);
        }
        let intent = Intent::ALL
            .into_iter()
            .find(|intent| intent.code() == flow.intent)
            .unwrap_or(Intent::SignIn);
        let verified = self.verify(config, provider, callback, &flow).await;
        Ok((flow, intent, verified))
    }

    async fn verify(
        &self,
        config: &Config,
        provider: &IdentityProvider,
        callback: &Callback,
        flow: &FlowRow,
    ) -> Result<VerifiedIdentity, FederationError> {
        if let Some(error) = &callback.error {
            return Err(FederationError::Cancelled(
                error.chars().take(100).collect(),
            ));
        }
        let code = callback
            .code
            .clone()
            .ok_or_else(|| FederationError::Failed("no code in the answer".into()))?;
        let metadata = self.metadata(provider, false).await?;
        if let Some(iss) = &callback.iss {
            if iss != metadata.issuer().as_str() {
                return Err(FederationError::Failed(
                    "the answer's iss is not the provider's issuer".into(),
                ));
            }
        }
        let client = relying_party(config, provider, metadata.clone())?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| FederationError::Failed(format!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                openidconnect::RequestTokenError::ServerResponse(answer) => {
                    FederationError::Failed(format!("token request refused: {}", answer.error()))
                }
                other => FederationError::Unavailable(format!("token request: {other}")),
            })?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| FederationError::Failed("no ID token".into()))?;
        let nonce = Nonce::new(flow.nonce.clone());
        let checked = id_token
            .claims(&client.id_token_verifier(), &nonce)
            .map(identity);
        match checked {
            Ok(identity) => Ok(identity),
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let metadata = self.refresh_keys(provider, metadata).await?;
                let client = relying_party(config, provider, metadata)?;
                let verifier = client.id_token_verifier();
                let checked = id_token
                    .claims(&verifier, &nonce)
                    .map(identity)
                    .map_err(|e| FederationError::Failed(format!("ID token: {e}")));
                checked
            }
            Err(e) => Err(FederationError::Failed(format!("ID token: {e}"))),
        }
    }
}

fn identity(claims: &openidconnect::core::CoreIdTokenClaims) -> VerifiedIdentity {
    let subject = claims.subject().as_str().to_string();
    let display = claims
        .email()
        .map(|e| e.as_str().to_string())
        .or_else(|| {
            claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_string())
        })
        .or_else(|| claims.preferred_username().map(|u| u.as_str().to_string()))
        .unwrap_or_else(|| subject.clone());
    let profile = crate::associations::social::ProviderProfile {
        email: claims.email().map(|e| e.as_str().to_string()),
        first_name: claims
            .given_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_string()),
        last_name: claims
            .family_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_string()),
        username: claims.preferred_username().map(|u| u.as_str().to_string()),
    };
    VerifiedIdentity {
        subject,
        display,
        profile,
    }
}

type Client = openidconnect::Client<
    openidconnect::EmptyAdditionalClaims,
    openidconnect::core::CoreAuthDisplay,
    openidconnect::core::CoreGenderClaim,
    openidconnect::core::CoreJweContentEncryptionAlgorithm,
    openidconnect::core::CoreJsonWebKey,
    openidconnect::core::CoreAuthPrompt,
    openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    openidconnect::core::CoreTokenResponse,
    openidconnect::core::CoreTokenIntrospectionResponse,
    openidconnect::core::CoreRevocableToken,
    openidconnect::core::CoreRevocationErrorResponse,
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

fn relying_party(
    config: &Config,
    provider: &IdentityProvider,
    metadata: CoreProviderMetadata,
) -> Result<Client, FederationError> {
    let redirect = RedirectUrl::new(redirect_uri(config, provider))
        .map_err(|e| FederationError::Failed(format!("redirect URI: {e}")))?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(provider.client_id.clone()),
        provider
            .client_secret
            .as_ref()
            .map(|s| ClientSecret::new(s.expose().to_string())),
    )
    .set_redirect_uri(redirect))
}

/// Removes flows that were never finished.
pub async fn delete_expired(db: &Db) -> Result<u64, DbError> {
    store::delete_expired(db, now_ms()).await
}
