//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): an
//! application asks Selfserve to end the user's session, and to send the
//! browser back to one of its registered post-logout addresses. The user
//! confirms first; the application is known from `id_token_hint` (an ID
//! token Selfserve signed, expired or not) or `client_id`.

use super::Client;
use crate::config::Config;
use crate::db::Db;
use serde_json::Value;

/// A checked logout request.
pub struct Request {
    pub client: Option<Client>,
    /// Where to send the browser afterwards, with `state`.
    pub back: Option<String>,
}

/// The `aud` of an ID token Selfserve signed (any of its ID-token keys);
/// None when it is not one.
async fn audience_of(db: &Db, config: &Config, token: &str) -> Option<String> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    let keys = super::id_token::jwks(db, config).await.ok()?;
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(keys).ok()?;
    let jwk = set.find(header.kid.as_deref()?)?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).ok()?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    // A hint may be expired (the user signed in long ago); it must be ours.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.set_issuer(&[config.public_url.trim_end_matches('/')]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .ok()?
        .claims;
    match &claims["aud"] {
        Value::String(aud) => Some(aud.clone()),
        Value::Array(auds) => auds.first()?.as_str().map(str::to_string),
        _ => None,
    }
}

/// Checks the request; the error is shown on a page (nothing is redirected
/// to an address that is not registered).
pub async fn check(
    db: &Db,
    config: &Config,
    pairs: &[(String, String)],
) -> Result<Request, String> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let hinted = match get("id_token_hint") {
        Some(token) => Some(audience_of(db, config, token).await.ok_or_else(|| {
            "The sign-out request carries an ID token that this service did not issue.".to_string()
        })?),
        None => None,
    };
    let client_id = match (hinted, get("client_id")) {
        (Some(hinted), Some(given)) if hinted != given => {
            return Err("The sign-out request names two different applications.".into())
        }
        (Some(hinted), _) => Some(hinted),
        (None, given) => given.map(str::to_string),
    };
    let client = match &client_id {
        Some(id) => Some(
            super::find(db, config, id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| {
                    "The application asking you to sign out is not registered.".to_string()
                })?,
        ),
        None => None,
    };
    let back = match get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let registered = client
                .as_ref()
                .and_then(|c| c.post_logout_redirect_uris.iter().find(|u| u.as_str() == uri))
                .ok_or_else(|| {
                    "The application asked to send you to an address it has not registered for after sign-out."
                        .to_string()
                })?;
            let mut url = url::Url::parse(registered.as_str()).map_err(|e| e.to_string())?;
            if let Some(state) = get("state") {
                url.query_pairs_mut().append_pair("state", state);
            }
            Some(url.to_string())
        }
    };
    Ok(Request { client, back })
}
