//! Selfserve as an OpenID Connect provider. So far: its clients, the
//! applications that may sign their users in through Selfserve. A client is
//! defined in the configuration file (an application with redirect URIs) or
//! added through the CLI into the database; both are found, listed and
//! authenticated the same way. Secrets of either kind live only as hashes in
//! the database, set by `selfserve client add` or `rotate-secret`.

pub mod authorize;
pub mod claims;
pub mod grants;
pub mod id_token;
pub mod logout;
pub mod pkce;
pub mod rest;
mod store;

use crate::config::clients::{check_client, AccessUrl, ClientId, RedirectUri, Scope};
use crate::config::{Application, Config};
use crate::db::{Db, DbError};
use crate::time::now_ms;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use rand::RngCore;
use subtle::ConstantTimeEq;

/// Where a client is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientSource {
    Configuration,
    Database,
}

/// Whether the client can keep a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// A server-side application: authenticates with its secret.
    Confidential,
    /// A browser or native application: no secret; PKCE is required.
    Public,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub id: ClientId,
    pub name: String,
    pub description: String,
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub kind: ClientKind,
    pub scopes: Vec<Scope>,
    pub source: ClientSource,
    /// Where users open it (the Applications page links there).
    pub access_url: Option<AccessUrl>,
}

impl Client {
    /// The configured application as a client, when it is one (it has
    /// redirect URIs and its id is a valid client id).
    fn configured(app: &Application) -> Option<Client> {
        if !app.is_client() {
            return None;
        }
        Some(Client {
            id: ClientId::parse(&app.id).ok()?,
            name: app.name.clone(),
            description: app.description.clone(),
            redirect_uris: app.redirect_uris.clone(),
            post_logout_redirect_uris: app.post_logout_redirect_uris.clone(),
            kind: if app.public {
                ClientKind::Public
            } else {
                ClientKind::Confidential
            },
            scopes: app.scopes.clone(),
            source: ClientSource::Configuration,
            access_url: app.access_url.clone(),
        })
    }
}

/// What `selfserve client add` records.
pub struct NewClient {
    pub id: ClientId,
    pub name: String,
    pub description: String,
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub kind: ClientKind,
    pub scopes: Vec<Scope>,
    pub access_url: Option<AccessUrl>,
}

/// A client secret: 256 random bits, base64url. Shown to the operator once;
/// only its hash is stored.
pub struct ClientSecret(String);

impl ClientSecret {
    fn generate() -> Self {
        ClientSecret(random_value())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// 256 random bits, base64url: client secrets, codes and tokens.
fn random_value() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    B64.encode(bytes)
}

/// A secret as stored: high entropy, so the SHA-256 that session tokens use.
fn hash_secret(secret: &str) -> String {
    crate::sessions::token_hash(secret)
}

/// The parameters of a query string or form body, in order.
pub fn parameters(encoded: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(encoded.as_bytes())
        .into_owned()
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Invalid(String),
    #[error("an application or client with the id {0} already exists")]
    Exists(String),
    #[error("no client has the id {0}")]
    NotFound(String),
    #[error("client {0} is defined in the configuration file: change or remove it there")]
    Configured(String),
    #[error("client {0} is public: it has no secret (it proves itself with PKCE)")]
    Public(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Every client, those of the configuration file first, each group by id.
pub async fn all(db: &Db, config: &Config) -> Result<Vec<Client>, ClientError> {
    let mut clients: Vec<Client> = config
        .consent
        .applications
        .iter()
        .filter_map(Client::configured)
        .collect();
    clients.sort_by(|a, b| a.id.cmp(&b.id));
    for row in store::all(db).await? {
        clients.push(row.into_client()?);
    }
    Ok(clients)
}

/// The client with this id, wherever it is defined.
pub async fn find(db: &Db, config: &Config, id: &str) -> Result<Option<Client>, ClientError> {
    if let Some(app) = config.consent.application(id) {
        return Ok(Client::configured(app));
    }
    match store::find(db, id).await? {
        Some(row) => Ok(Some(row.into_client()?)),
        None => Ok(None),
    }
}

/// Adds a client to the database; a confidential one gets a secret, which
/// is returned to be shown once.
pub async fn add(
    db: &Db,
    config: &Config,
    client: NewClient,
) -> Result<Option<ClientSecret>, ClientError> {
    check_client(&client.redirect_uris, &client.scopes)
        .map_err(|problem| ClientError::Invalid(problem.to_string()))?;
    if client.name.trim().is_empty() {
        return Err(ClientError::Invalid("a client needs a name".into()));
    }
    // Purposes name applications by id: a database client may not take the
    // id of a configured application, client or not.
    if config.consent.application(client.id.as_str()).is_some() {
        return Err(ClientError::Exists(client.id.to_string()));
    }
    let secret = (client.kind == ClientKind::Confidential).then(ClientSecret::generate);
    let added = store::insert(
        db,
        &client,
        secret.as_ref().map(|s| hash_secret(s.expose())).as_deref(),
        now_ms(),
    )
    .await?;
    if !added {
        return Err(ClientError::Exists(client.id.to_string()));
    }
    tracing::info!(client = %client.id, "added a client");
    Ok(secret)
}

/// A new secret for a confidential client; the previous one stops working
/// at once.
pub async fn rotate_secret(
    db: &Db,
    config: &Config,
    id: &str,
) -> Result<ClientSecret, ClientError> {
    let client = find(db, config, id)
        .await?
        .ok_or_else(|| ClientError::NotFound(id.to_string()))?;
    if client.kind == ClientKind::Public {
        return Err(ClientError::Public(id.to_string()));
    }
    let secret = ClientSecret::generate();
    store::set_secret(db, id, &hash_secret(secret.expose()), now_ms()).await?;
    tracing::info!(client = %id, "rotated a client secret");
    Ok(secret)
}

/// Whether a secret has been set for the client.
pub async fn has_secret(db: &Db, id: &str) -> Result<bool, ClientError> {
    Ok(store::secret_hash(db, id).await?.is_some())
}

/// The confidential client whose id and secret these are; None for a wrong
/// secret, an unknown or public client, or one with no secret set yet.
pub async fn authenticate(
    db: &Db,
    config: &Config,
    id: &str,
    secret: &str,
) -> Result<Option<Client>, ClientError> {
    let Some(client) = find(db, config, id).await? else {
        return Ok(None);
    };
    if client.kind != ClientKind::Confidential {
        return Ok(None);
    }
    let Some(stored) = store::secret_hash(db, id).await? else {
        return Ok(None);
    };
    let matches: bool = hash_secret(secret)
        .as_bytes()
        .ct_eq(stored.as_bytes())
        .into();
    Ok(matches.then_some(client))
}

/// Removes a client added through the CLI, with its secret.
pub async fn remove(db: &Db, config: &Config, id: &str) -> Result<(), ClientError> {
    if config.consent.application(id).is_some() {
        return Err(ClientError::Configured(id.to_string()));
    }
    // Purposes that name it would belong to nothing, and the server would
    // refuse to start.
    if let Some(purpose) = config.consent.purposes_of(id).next() {
        return Err(ClientError::Invalid(format!(
            "purpose {} of the configuration file belongs to client {id}: remove the client's purposes first",
            purpose.id
        )));
    }
    if !store::delete(db, id).await? {
        return Err(ClientError::NotFound(id.to_string()));
    }
    tracing::info!(client = %id, "removed a client");
    Ok(())
}
