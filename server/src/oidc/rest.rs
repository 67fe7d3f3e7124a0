//! The provider's protocol endpoints that clients call directly: token
//! (RFC 6749 section 3.2), userinfo (OpenID Connect Core 5.3), revocation
//! (RFC 7009), introspection (RFC 7662) and the ID-token keys. They take no
//! session cookie (the request guard neither checks their origin nor looks
//! a session up): clients authenticate with their secret or, for public
//! clients, by PKCE, and bearers of access tokens by the token.

use super::grants::{self, GrantError, Issued};
use super::{Client, ClientKind};
use crate::config::clients::Scope;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// An OAuth error answer (RFC 6749 section 5.2).
pub struct OAuthError {
    status: StatusCode,
    code: &'static str,
    description: String,
    /// Set when the client tried HTTP Basic: the 401 then names the scheme.
    basic: bool,
}

impl OAuthError {
    fn new(code: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status: StatusCode::BAD_REQUEST,
            code,
            description: description.into(),
            basic: false,
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        OAuthError::new("invalid_request", description)
    }

    fn invalid_client(basic: bool) -> Self {
        OAuthError {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_client",
            description: "Client authentication failed.".into(),
            basic,
        }
    }

    fn server_error(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "token endpoint failed");
        OAuthError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "server_error",
            description: "The server could not complete the request.".into(),
            basic: false,
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(json!({ "error": self.code, "error_description": self.description })),
        )
            .into_response();
        if self.basic {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"selfserve\""),
            );
        }
        no_store(response)
    }
}

/// Token and userinfo answers must never be cached (RFC 6749 section 5.1).
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The form body's parameters; a parameter given twice is refused (RFC 6749
/// section 3.1), as is a body that is not a form.
fn form(headers: &HeaderMap, body: &[u8]) -> Result<BTreeMap<String, String>, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(OAuthError::invalid_request(
            "The body must be application/x-www-form-urlencoded.",
        ));
    }
    let mut parameters = BTreeMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if parameters
            .insert(name.to_string(), value.to_string())
            .is_some()
        {
            return Err(OAuthError::invalid_request(format!(
                "The parameter {name} is given more than once."
            )));
        }
    }
    Ok(parameters)
}

/// Decodes one half of HTTP Basic credentials, form-encoded (RFC 6749 2.3.1).
fn form_decoded(part: &str) -> Option<String> {
    percent_encoding::percent_decode_str(&part.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// The client making the request, authenticated by `client_secret_basic`,
/// `client_secret_post`, or (a public client) by its id alone, PKCE then
/// proving it at the exchange.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    parameters: &BTreeMap<String, String>,
) -> Result<Client, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
    let posted_secret = parameters.get("client_secret");
    let (id, secret) = match (basic, posted_secret) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "Use one client authentication method, not two.",
            ))
        }
        (Some(credentials), None) => {
            let decoded = BASE64
                .decode(credentials.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| OAuthError::invalid_client(true))?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(|| OAuthError::invalid_client(true))?;
            let id = form_decoded(id).ok_or_else(|| OAuthError::invalid_client(true))?;
            let secret = form_decoded(secret).ok_or_else(|| OAuthError::invalid_client(true))?;
            if parameters
                .get("client_id")
                .is_some_and(|given| *given != id)
            {
                return Err(OAuthError::invalid_request(
                    "client_id differs from the authenticated client.",
                ));
            }
            (id, Some(secret))
        }
        (None, secret) => {
            let id = parameters
                .get("client_id")
                .ok_or_else(|| OAuthError::invalid_client(false))?;
            (id.clone(), secret.cloned())
        }
    };
    let from_basic = basic.is_some();
    match secret {
        Some(secret) => super::authenticate(&state.db, &state.config, &id, &secret)
            .await
            .map_err(OAuthError::server_error)?
            .ok_or_else(|| OAuthError::invalid_client(from_basic)),
        None => match super::find(&state.db, &state.config, &id)
            .await
            .map_err(OAuthError::server_error)?
        {
            Some(client) if client.kind == ClientKind::Public => Ok(client),
            _ => Err(OAuthError::invalid_client(false)),
        },
    }
}

fn required<'a>(
    parameters: &'a BTreeMap<String, String>,
    name: &str,
) -> Result<&'a str, OAuthError> {
    parameters
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::invalid_request(format!("The parameter {name} is missing.")))
}

fn refused(error: GrantError) -> OAuthError {
    match error {
        GrantError::Invalid(reason) => {
            tracing::info!(reason, "token request refused");
            OAuthError::new(
                "invalid_grant",
                "The code or refresh token is invalid, expired, already used, or was issued to another client.",
            )
        }
        GrantError::Db(e) => OAuthError::server_error(e),
    }
}

/// `POST /oauth2/token`.
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match token_answer(&state, &headers, &body).await {
        Ok(answer) => no_store(Json(answer).into_response()),
        Err(error) => error.into_response(),
    }
}

async fn token_answer(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, OAuthError> {
    let parameters = form(headers, body)?;
    let grant_type = required(&parameters, "grant_type")?;
    let client = authenticate(state, headers, &parameters).await?;
    let issued = match grant_type {
        "authorization_code" => grants::exchange_code(
            &state.db,
            &client,
            required(&parameters, "code")?,
            required(&parameters, "redirect_uri")?,
            parameters.get("code_verifier").map(String::as_str),
        )
        .await
        .map_err(refused)?,
        "refresh_token" => {
            grants::refresh(&state.db, &client, required(&parameters, "refresh_token")?)
                .await
                .map_err(refused)?
        }
        other => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                format!(
                "The grant type {other} is not supported: use authorization_code or refresh_token."
            ),
            ))
        }
    };
    let with_id_token = grant_type == "authorization_code";
    answer(state, issued, with_id_token).await
}

async fn answer(
    state: &AppState,
    issued: Issued,
    with_id_token: bool,
) -> Result<Value, OAuthError> {
    let scopes: Vec<&str> = issued.grant.scopes.iter().map(|s| s.as_str()).collect();
    let mut answer = json!({
        "access_token": issued.access_token.expose(),
        "token_type": "Bearer",
        "expires_in": issued.expires_in_seconds,
        "refresh_token": issued.refresh_token.expose(),
        "scope": scopes.join(" "),
    });
    if with_id_token && issued.grant.scopes.contains(&Scope::OpenId) {
        let id_token = super::id_token::mint(&state.db, &state.config, &issued.grant)
            .await
            .map_err(OAuthError::server_error)?;
        answer["id_token"] = Value::String(id_token);
    }
    Ok(answer)
}

/// A refusal of a bearer token (RFC 6750 section 3).
fn bearer_refused(description: &str) -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": "invalid_token", "error_description": description })),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&format!(
        "Bearer realm=\"selfserve\", error=\"invalid_token\", error_description=\"{description}\""
    )) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    no_store(response)
}

/// `GET` or `POST /oauth2/userinfo` with `Authorization: Bearer <token>`.
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(token) = token else {
        return bearer_refused("An access token is required (Authorization: Bearer).");
    };
    let grant = match grants::access(&state.db, token).await {
        Ok(Some(grant)) if grant.scopes.contains(&Scope::OpenId) => grant,
        Ok(_) => return bearer_refused("The access token is invalid, expired or revoked."),
        Err(e) => return OAuthError::server_error(e).into_response(),
    };
    match super::claims::userinfo(&state.db, &grant).await {
        Ok(claims) => no_store(Json(claims).into_response()),
        Err(e) => OAuthError::server_error(e).into_response(),
    }
}

/// `POST /oauth2/revoke`: 200 whether or not the token was live (RFC 7009
/// section 2.2), so that it tells nothing.
pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let revoked = async {
        let parameters = form(&headers, &body)?;
        let client = authenticate(&state, &headers, &parameters).await?;
        let token = required(&parameters, "token")?;
        grants::revoke(&state.db, &client, token)
            .await
            .map_err(OAuthError::server_error)
    };
    match revoked.await {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(error) => error.into_response(),
    }
}

/// `POST /oauth2/introspect`: only the client a token was issued to learns
/// that it is active; to anyone else every token is inactive.
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let introspected = async {
        let parameters = form(&headers, &body)?;
        let client = authenticate(&state, &headers, &parameters).await?;
        let token = required(&parameters, "token")?;
        let Some((grant, expires_at)) = grants::introspect(&state.db, &client, token)
            .await
            .map_err(OAuthError::server_error)?
        else {
            return Ok(json!({ "active": false }));
        };
        let scopes: Vec<&str> = grant.scopes.iter().map(|s| s.as_str()).collect();
        let mut answer = json!({
            "active": true,
            "scope": scopes.join(" "),
            "client_id": grant.client_id,
            "sub": super::id_token::subject(&state.db, grant.user_id)
                .await
                .map_err(OAuthError::server_error)?,
            "token_type": if expires_at.is_some() { "Bearer" } else { "refresh_token" },
            "iss": state.config.public_url.trim_end_matches('/'),
        });
        if let Some(expires_at) = expires_at {
            answer["exp"] = json!(expires_at / 1000);
        }
        Ok::<_, OAuthError>(answer)
    };
    match introspected.await {
        Ok(answer) => no_store(Json(answer).into_response()),
        Err(error) => error.into_response(),
    }
}

/// `GET /oauth2/jwks`: the ID-token keys.
pub async fn jwks(State(state): State<AppState>) -> Response {
    match super::id_token::jwks(&state.db, &state.config).await {
        Ok(keys) => Json(keys).into_response(),
        Err(e) => OAuthError::server_error(e).into_response(),
    }
}

/// Whether a browser page at this origin may call the token, userinfo and
/// key endpoints: only the origins of registered redirect URIs (where a
/// browser-based client runs). Asked only for requests that carry `Origin`.
async fn allowed_origin(state: &AppState, origin: &str) -> bool {
    let Ok(clients) = super::all(&state.db, &state.config).await else {
        return false;
    };
    clients
        .iter()
        .flat_map(|client| &client.redirect_uris)
        .filter_map(|uri| url::Url::parse(uri.as_str()).ok())
        .any(|uri| uri.origin().ascii_serialization() == origin)
}

/// CORS for the endpoints a browser-based client calls (RFC 6749 does not
/// forbid it; OAuth 2.0 for Browser-Based Apps expects it): the registered
/// origins get `Access-Control-Allow-Origin`, never credentials; a preflight
/// is answered here. Other origins get no CORS headers, so browsers refuse.
pub async fn cors(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let allowed = match &origin {
        Some(origin) => allowed_origin(&state, origin).await,
        None => false,
    };
    let preflight = request.method() == axum::http::Method::OPTIONS;
    let mut response = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let (true, Some(Ok(origin))) = (allowed, origin.map(|o| HeaderValue::from_str(&o))) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if preflight {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST"),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("Authorization, Content-Type"),
            );
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
    }
    response
}

/// A page for a sign-in request that cannot be answered to the client.
fn stopped_page(message: &str) -> Response {
    stopped("This sign-in was stopped", message)
}

/// A page for a request that cannot be answered to the application.
fn stopped(title: &str, message: &str) -> Response {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Selfserve</title></head><body><main>\
         <h1>{title}</h1><p>{escaped}</p>\
         <p>Nothing was sent to the application. <a href=\"/\">Go to My Account</a></p>\
         </main></body></html>"
    );
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => stopped_page("The address to continue to is not valid."),
    }
}

fn authorize_failure(error: super::authorize::AuthorizeError) -> Response {
    use super::authorize::AuthorizeError;
    match error {
        AuthorizeError::Page(message) => stopped_page(&message),
        AuthorizeError::Redirect(back) => see_other(&back),
        AuthorizeError::Db(e) => {
            tracing::error!(error = %e, "authorization failed");
            stopped_page("Something went wrong on our side. Please try again.")
        }
    }
}

/// `GET /oauth2/authorize`: an application's sign-in request. The browser
/// goes to sign-in, to the consent prompt, or back with a code or an error.
pub async fn authorize(
    State(state): State<AppState>,
    session: Option<axum::Extension<app::backend::ssr::CurrentSession>>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    authorization_request(&state, session, query.unwrap_or_default()).await
}

/// `POST /oauth2/authorize`: the same request as a form (OpenID Connect Core
/// 3.1.2.1). A cross-site POST carries no session cookie (SameSite=Lax), so
/// the user signs in and returns by GET.
pub async fn authorize_form(
    State(state): State<AppState>,
    session: Option<axum::Extension<app::backend::ssr::CurrentSession>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match form(&headers, &body) {
        Ok(_) => {
            let query = String::from_utf8_lossy(&body).into_owned();
            authorization_request(&state, session, query).await
        }
        Err(_) => stopped_page(
            "The sign-in request must be a form (application/x-www-form-urlencoded), each parameter once.",
        ),
    }
}

async fn authorization_request(
    state: &AppState,
    session: Option<axum::Extension<app::backend::ssr::CurrentSession>>,
    query: String,
) -> Response {
    use super::authorize::{check, next, Next};
    let pairs = super::parameters(&query);
    let session = session.map(|axum::Extension(session)| session);
    let request = match check(&state.db, &state.config, &pairs).await {
        Ok(request) => request,
        Err(error) => return authorize_failure(error),
    };
    match next(&state.db, &state.config, &request, session.as_ref(), false).await {
        Ok(Next::Code(back)) => see_other(&back),
        Ok(Next::Consent) => see_other(&format!("/authorize/consent?{query}")),
        Ok(Next::SignIn) => {
            // Signing in again (prompt=login, or max_age passed) starts a new
            // login session: the old one ends here.
            if let Some(session) = &session {
                if let Err(e) = crate::signin::sign_out(&state.db, session).await {
                    return authorize_failure(super::authorize::AuthorizeError::Db(e));
                }
            }
            // Back without prompt=login: the new sign-in is the one asked for.
            let again: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(
                    pairs
                        .iter()
                        .filter(|(name, value)| !(name == "prompt" && value == "login")),
                )
                .finish();
            let return_to = format!("/oauth2/authorize?{again}");
            let encoded: String =
                url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
            see_other(&format!("/signin?return_to={encoded}"))
        }
        Err(error) => authorize_failure(error),
    }
}

/// `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0).
pub async fn discovery(State(state): State<AppState>) -> Response {
    let issuer = state.config.public_url.trim_end_matches('/');
    let scopes: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "userinfo_endpoint": format!("{issuer}/oauth2/userinfo"),
        "jwks_uri": format!("{issuer}/oauth2/jwks"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "end_session_endpoint": format!("{issuer}/oidc/logout"),
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "amr", "acr",
            "given_name", "family_name", "website", "email", "phone_number", "address"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    }))
    .into_response()
}

/// The consent prompt's Allow and Deny, and the sign-out confirmation, end
/// in a redirect to the application, and browsers hold redirects after a form submission to the
/// page's `form-action`: the prompt's policy adds the origin of the
/// request's redirect URI, once the request checks out (so it is registered).
pub async fn consent_page_policy(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path().to_string();
    if path != "/authorize/consent" && path != "/signout" {
        return next.run(request).await;
    }
    let pairs = super::parameters(request.uri().query().unwrap_or(""));
    let mut response = next.run(request).await;
    let target = if path == "/signout" {
        match super::logout::check(&state.db, &state.config, &pairs).await {
            Ok(super::logout::Request {
                back: Some(back), ..
            }) => back,
            _ => return response,
        }
    } else {
        match super::authorize::check(&state.db, &state.config, &pairs).await {
            Ok(checked) => checked.redirect_uri.as_str().to_string(),
            Err(_) => return response,
        }
    };
    let Ok(target) = url::Url::parse(&target) else {
        return response;
    };
    crate::security::allow_form_targets(&mut response, &[target.origin().ascii_serialization()]);
    response
}

/// `GET /oidc/logout`: an application asks to end the user's session. A
/// signed-in user confirms on `/signout`; a signed-out one goes straight
/// back (there is nothing to end).
pub async fn logout(
    State(state): State<AppState>,
    session: Option<axum::Extension<app::backend::ssr::CurrentSession>>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let pairs = super::parameters(&query);
    match super::logout::check(&state.db, &state.config, &pairs).await {
        Err(message) => stopped("This sign-out was stopped", &message),
        Ok(_) if session.is_some() => see_other(&format!("/signout?{query}")),
        Ok(request) => see_other(request.back.as_deref().unwrap_or("/signin")),
    }
}
