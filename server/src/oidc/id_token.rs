//! ID tokens: ES256 JWTs signed with the ID-token key set (apart from the
//! receipts' keys, one purpose per key; the same storage, encryption at rest
//! and rotation: `selfserve signing-key rotate --id-tokens`).

use super::grants::Grant;
use super::store;
use crate::config::Config;
use crate::consent::keys::{self, KeySet};
use crate::consent::ConsentError;
use crate::db::{Db, DbError};
use crate::time::now_ms;
use serde_json::{json, Value};

/// How long an ID token is valid: it is read once, at sign-in.
pub const LIFETIME_SECONDS: i64 = 10 * 60;

#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    #[error(transparent)]
    Key(#[from] ConsentError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The user's `sub`: random, stable, never the username or the internal id;
/// given on first need (accounts made before ID tokens existed have none).
pub async fn subject(db: &Db, user_id: i64) -> Result<String, DbError> {
    if let Some(subject) = store::subject(db, user_id).await? {
        return Ok(subject);
    }
    store::give_subject(db, user_id, &uuid::Uuid::now_v7().simple().to_string()).await?;
    // Another node may have given one first: whichever was stored is the one.
    store::subject(db, user_id)
        .await?
        .ok_or_else(|| DbError::Sql(sqlx::Error::RowNotFound))
}

/// The ID token for a grant, for the client it was issued to. `amr` and
/// `acr` say how the session began (a password, or an identity provider);
/// they are left out when the session has ended since.
pub async fn mint(db: &Db, config: &Config, grant: &Grant) -> Result<String, IdTokenError> {
    let now = now_ms() / 1000;
    let mut claims = json!({
        "iss": config.public_url.trim_end_matches('/'),
        "sub": subject(db, grant.user_id).await?,
        "aud": grant.client_id,
        "exp": now + LIFETIME_SECONDS,
        "iat": now,
        "auth_time": grant.auth_time / 1000,
        "sid": grant.session_id,
    });
    if let Value::Object(map) = &mut claims {
        if let Some(nonce) = &grant.nonce {
            map.insert("nonce".into(), Value::String(nonce.clone()));
        }
        if let Some(proof) = crate::sessions::proof(db, &grant.session_id).await? {
            map.insert("amr".into(), json!(proof.amr()));
            map.insert("acr".into(), Value::String(proof.acr().into()));
        }
    }
    let key = keys::current(db, config, KeySet::IdTokens).await?;
    Ok(keys::sign(&key, &claims)?)
}

/// The ID-token keys as a JWK Set, for the provider's `jwks_uri`.
pub async fn jwks(db: &Db, config: &Config) -> Result<Value, IdTokenError> {
    Ok(keys::jwks(db, config, KeySet::IdTokens).await?)
}
