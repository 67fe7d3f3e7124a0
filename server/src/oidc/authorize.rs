//! The authorization endpoint's decisions (OpenID Connect Core 3.1.2): the
//! request checked, then sign-in, the consent prompt, or the code.
//! An unknown client or an unregistered redirect URI is answered on a page
//! and never redirected (an open redirector otherwise); every other error
//! goes back to the client with `state` and `iss` (RFC 9207).

use super::grants::{self, Authorization};
use super::pkce::CodeChallenge;
use super::{Client, ClientKind};
use crate::config::clients::{RedirectUri, Scope};
use crate::config::Config;
use crate::consent;
use crate::db::{Db, DbError};
use crate::time::now_ms;
use app::backend::ssr::CurrentSession;
use std::collections::{BTreeMap, BTreeSet};

/// Why the request cannot go on.
#[derive(Debug)]
pub enum AuthorizeError {
    /// Shown to the user; the client is unknown or the redirect URI is not
    /// its own, so nothing may be sent there.
    Page(String),
    /// Sent back to the client.
    Redirect(String),
    Db(DbError),
}

impl From<DbError> for AuthorizeError {
    fn from(e: DbError) -> Self {
        AuthorizeError::Db(e)
    }
}

impl From<super::ClientError> for AuthorizeError {
    fn from(e: super::ClientError) -> Self {
        match e {
            super::ClientError::Db(e) => AuthorizeError::Db(e),
            other => AuthorizeError::Page(other.to_string()),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A checked authorization request.
#[derive(Debug, Clone)]
pub struct Request {
    pub client: Client,
    pub redirect_uri: RedirectUri,
    pub scopes: Vec<Scope>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<CodeChallenge>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
}

impl Request {
    /// The client's redirect URI with these parameters, `state` and `iss`.
    pub fn answer(&self, config: &Config, parameters: &[(&str, &str)]) -> String {
        back_to(
            config,
            &self.redirect_uri,
            self.state.as_deref(),
            parameters,
        )
    }

    fn error(&self, config: &Config, code: &str, description: &str) -> AuthorizeError {
        AuthorizeError::Redirect(self.answer(
            config,
            &[("error", code), ("error_description", description)],
        ))
    }
}

fn back_to(
    config: &Config,
    redirect_uri: &RedirectUri,
    state: Option<&str>,
    parameters: &[(&str, &str)],
) -> String {
    let Ok(mut url) = url::Url::parse(redirect_uri.as_str()) else {
        return redirect_uri.as_str().to_string();
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in parameters {
            query.append_pair(name, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", config.public_url.trim_end_matches('/'));
    }
    url.to_string()
}

/// Checks the request's parameters (each at most once).
pub async fn check(
    db: &Db,
    config: &Config,
    pairs: &[(String, String)],
) -> Result<Request, AuthorizeError> {
    let mut parameters = BTreeMap::new();
    for (name, value) in pairs {
        if parameters.insert(name.as_str(), value.as_str()).is_some() {
            return Err(AuthorizeError::Page(format!(
                "The sign-in request names {name} twice, so it was refused."
            )));
        }
    }
    let get = |name: &str| parameters.get(name).copied().filter(|v| !v.is_empty());
    let client_id = get("client_id").ok_or_else(|| {
        AuthorizeError::Page("The sign-in request does not say which application it is for.".into())
    })?;
    let client = super::find(db, config, client_id).await?.ok_or_else(|| {
        AuthorizeError::Page(
            "The application asking you to sign in is not registered with this service.".into(),
        )
    })?;
    let redirect_uri = get("redirect_uri")
        .and_then(|given| client.redirect_uris.iter().find(|uri| uri.as_str() == given))
        .cloned()
        .ok_or_else(|| {
            AuthorizeError::Page(format!(
                "{} asked to send you back to an address it has not registered, so the sign-in was stopped.",
                client.name
            ))
        })?;
    let state = get("state").map(str::to_string);
    let fail = |code: &str, description: &str| {
        AuthorizeError::Redirect(back_to(
            config,
            &redirect_uri,
            state.as_deref(),
            &[("error", code), ("error_description", description)],
        ))
    };
    if get("response_type") != Some("code") {
        return Err(fail(
            "unsupported_response_type",
            "Only response_type=code is supported.",
        ));
    }
    if get("request").is_some() || get("request_uri").is_some() {
        return Err(fail(
            "request_not_supported",
            "Request objects are not supported.",
        ));
    }
    let mut scopes = BTreeSet::new();
    for raw in get("scope")
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        let scope = Scope::parse(raw).map_err(|problem| fail("invalid_scope", &problem))?;
        if !client.scopes.contains(&scope) {
            return Err(fail(
                "invalid_scope",
                &format!("The scope {raw} is not allowed for this client."),
            ));
        }
        scopes.insert(scope);
    }
    if !scopes.contains(&Scope::OpenId) {
        return Err(fail("invalid_scope", "The scope must include openid."));
    }
    let code_challenge = match get("code_challenge") {
        Some(challenge) => Some(
            CodeChallenge::parse(challenge, get("code_challenge_method"))
                .map_err(|problem| fail("invalid_request", problem))?,
        ),
        None if client.kind == ClientKind::Public => {
            return Err(fail(
                "invalid_request",
                "A public client must send a PKCE code_challenge (S256).",
            ))
        }
        None => None,
    };
    let mut prompt = Prompt::default();
    for value in get("prompt")
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            _ => {
                return Err(fail(
                    "invalid_request",
                    "prompt must be none, login or consent.",
                ))
            }
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err(fail(
            "invalid_request",
            "prompt=none cannot be combined with another value.",
        ));
    }
    let max_age = match get("max_age") {
        Some(raw) => Some(
            raw.parse::<i64>()
                .ok()
                .filter(|age| *age >= 0)
                .ok_or_else(|| fail("invalid_request", "max_age must be a number of seconds."))?,
        ),
        None => None,
    };
    Ok(Request {
        client,
        redirect_uri,
        scopes: scopes.into_iter().collect(),
        state,
        nonce: get("nonce").map(str::to_string),
        code_challenge,
        prompt,
        max_age,
        login_hint: get("login_hint").map(str::to_string),
    })
}

/// What happens next for a checked request.
#[derive(Debug)]
pub enum Next {
    /// The user must sign in (again) first.
    SignIn,
    /// The user must answer the consent prompt first.
    Consent,
    /// Back to the client, with a code.
    Code(String),
}

/// The claims the client's purposes make mandatory.
pub fn mandatory_claims(config: &Config, client: &Client) -> BTreeSet<String> {
    config
        .consent
        .purposes_of(client.id.as_str())
        .flat_map(|purpose| &purpose.pii)
        .filter(|pii| pii.mandatory)
        .map(|pii| pii.claim.clone())
        .collect()
}

/// Whether the user has an ACTIVE receipt for the client covering its
/// mandatory claims (a client without purposes collects nothing and needs none).
pub async fn consent_covers(
    db: &Db,
    config: &Config,
    user_id: i64,
    client: &Client,
) -> Result<bool, AuthorizeError> {
    if config
        .consent
        .purposes_of(client.id.as_str())
        .next()
        .is_none()
    {
        return Ok(true);
    }
    let active = consent::active_claims(db, user_id, client.id.as_str())
        .await
        .map_err(|e| match e {
            consent::ConsentError::Db(e) => AuthorizeError::Db(e),
            other => AuthorizeError::Page(other.to_string()),
        })?;
    // No receipt (never asked, revoked, expired) asks even when nothing is
    // mandatory: the user has not seen what this application collects.
    Ok(active.is_some_and(|claims| mandatory_claims(config, client).is_subset(&claims)))
}

/// Decides what follows for a checked request and the browser's session.
pub async fn next(
    db: &Db,
    config: &Config,
    request: &Request,
    session: Option<&CurrentSession>,
    consent_answered: bool,
) -> Result<Next, AuthorizeError> {
    let Some(session) = session else {
        return if request.prompt.none {
            Err(request.error(config, "login_required", "The user is not signed in."))
        } else {
            Ok(Next::SignIn)
        };
    };
    let auth_time = crate::sessions::signed_in_at(db, &session.session_id)
        .await?
        .unwrap_or(0);
    let too_old = request
        .max_age
        .is_some_and(|age| now_ms() - auth_time > age * 1000);
    if too_old || (request.prompt.login && !consent_answered) {
        return if request.prompt.none {
            Err(request.error(config, "login_required", "The user must sign in again."))
        } else {
            Ok(Next::SignIn)
        };
    }
    let covered = consent_covers(db, config, session.user_id, &request.client).await?;
    if !consent_answered && (request.prompt.consent || !covered) {
        return if request.prompt.none {
            Err(request.error(
                config,
                "consent_required",
                "The user has not consented to this application.",
            ))
        } else {
            Ok(Next::Consent)
        };
    }
    let code = grants::issue_code(
        db,
        Authorization {
            user_id: session.user_id,
            client_id: request.client.id.clone(),
            session_id: session.session_id.clone(),
            scopes: request.scopes.clone(),
            nonce: request.nonce.clone(),
            auth_time,
            redirect_uri: request.redirect_uri.clone(),
            code_challenge: request.code_challenge.clone(),
        },
    )
    .await
    .map_err(|e| match e {
        grants::GrantError::Db(e) => AuthorizeError::Db(e),
        grants::GrantError::Invalid(reason) => AuthorizeError::Page(reason.to_string()),
    })?;
    Ok(Next::Code(
        request.answer(config, &[("code", code.expose())]),
    ))
}

/// The request as the consent page passes it back: the query string the
/// authorization endpoint received.
fn parse_query(query: &str) -> Vec<(String, String)> {
    super::parameters(query)
}

fn refused(error: AuthorizeError) -> app::error::AppError {
    match error {
        AuthorizeError::Page(message) => app::error::AppError::Refused(message),
        // Only the consent answer turns these into the way back; the prompt
        // itself has nothing to show for them.
        AuthorizeError::Redirect(_) => app::error::AppError::Refused(
            "This sign-in request is not valid any more. Go back to the application and start again."
                .into(),
        ),
        AuthorizeError::Db(e) => e.into(),
    }
}

/// The prompt for the application's purposes: mandatory claims ticked and
/// locked, the others unticked.
pub async fn prompt(
    db: &Db,
    config: &Config,
    query: &str,
) -> Result<app::authorize::ConsentPrompt, app::error::AppError> {
    let request = check(db, config, &parse_query(query))
        .await
        .map_err(refused)?;
    let purposes = consent::prompt_purposes(config, request.client.id.as_str());
    Ok(app::authorize::ConsentPrompt {
        client_name: request.client.name.clone(),
        client_description: request.client.description.clone(),
        purposes,
        policy_url: config.policy_url(),
    })
}

/// Allow records a receipt for the application (the mandatory claims and
/// the optional ones ticked) and continues to the code; Deny goes back with
/// `access_denied`. Returns where the browser goes.
pub async fn answer(
    db: &Db,
    config: &Config,
    session: &CurrentSession,
    query: &str,
    allow: bool,
    selection: &[(u32, String)],
) -> Result<String, app::error::AppError> {
    let request = check(db, config, &parse_query(query))
        .await
        .map_err(refused)?;
    if !allow {
        tracing::info!(user = %session.username, client = %request.client.id, "consent denied at sign-in");
        return Ok(request.answer(
            config,
            &[
                ("error", "access_denied"),
                (
                    "error_description",
                    "The user did not allow the application.",
                ),
            ],
        ));
    }
    let has_purposes = config
        .consent
        .purposes_of(request.client.id.as_str())
        .next()
        .is_some();
    if has_purposes {
        let consented = consent::prompt_answer(config, request.client.id.as_str(), selection)?;
        let collection = format!("Sign-in to {}", request.client.name);
        consent::record(
            db,
            config,
            session,
            consent::NewConsent {
                service: request.client.id.as_str(),
                collection_method: &collection,
                consented,
            },
        )
        .await?;
    }
    match next(db, config, &request, Some(session), true).await {
        Ok(Next::Code(back)) => Ok(back),
        Ok(Next::SignIn | Next::Consent) => Err(app::error::AppError::Unauthenticated),
        Err(AuthorizeError::Redirect(back)) => Ok(back),
        Err(other) => Err(refused(other)),
    }
}

/// The name of the application whose request a sign-in returns to.
pub async fn application_of(db: &Db, config: &Config, return_to: &str) -> Option<String> {
    let query = return_to.split_once('?')?.1;
    let pairs = parse_query(query);
    let client_id = pairs
        .iter()
        .find(|(name, _)| name == "client_id")?
        .1
        .as_str();
    super::find(db, config, client_id)
        .await
        .ok()
        .flatten()
        .map(|client| client.name)
}
