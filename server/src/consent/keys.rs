//! The ES256 keys that sign consent receipts. They live in the database so
//! that every node signs with the same key (the newest); with
//! `consent.signing_key_secret` set they are stored encrypted (AES-256-GCM
//! under a key derived from the secret, bound to the key's `kid`), so reading
//! the database alone is not enough to forge a receipt.
//!
//! Migration 0004's comment on `signing_keys` says nodes use the oldest key:
//! that was so before rotation existed. Every node signs with the newest key,
//! and all keys stay published. (Applied migrations are never edited.)

use super::ConsentError;
use crate::config::{Config, Secret};
use crate::db::Db;
use crate::sealing::{is_sealed, Sealer};
use crate::time::now_ms;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use sha2::Digest;

/// Which key set: each signs one kind of document (one purpose per key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySet {
    /// Consent receipts (Kantara), published at the consent API's JWKS.
    Receipts,
    /// OpenID Connect ID tokens, published at the provider's JWKS.
    IdTokens,
}

impl KeySet {
    pub const ALL: [KeySet; 2] = [KeySet::Receipts, KeySet::IdTokens];

    /// Its table: a fixed name, never input.
    fn table(self) -> &'static str {
        match self {
            KeySet::Receipts => "signing_keys",
            KeySet::IdTokens => "oidc_signing_keys",
        }
    }

    pub fn signs(self) -> &'static str {
        match self {
            KeySet::Receipts => "consent receipts",
            KeySet::IdTokens => "ID tokens",
        }
    }
}

pub struct SigningKey {
    pub kid: String,
    pub pkcs8: Vec<u8>,
}

/// A stored key as the operator's listing shows it.
pub struct KeyInfo {
    pub kid: String,
    pub created_at: i64,
    pub encrypted: bool,
}

fn key_error(problem: impl Into<String>) -> ConsentError {
    ConsentError::Key(problem.into())
}

/// The HKDF salt of the signing keys' encryption key (unchanged since the first
/// sealed key, so that those still open).
const PURPOSE: &[u8] = b"selfserve consent signing key v1";

fn secret(config: &Config) -> Option<&Secret> {
    config.consent.signing_key_secret.as_ref()
}

/// The stored form of a key: sealed when a secret is configured.
fn pack(config: &Config, kid: &str, pkcs8: &[u8]) -> Result<String, ConsentError> {
    match secret(config) {
        Some(secret) => Sealer::new(secret, PURPOSE)
            .and_then(|sealer| sealer.seal(kid, pkcs8))
            .map_err(|e| key_error(format!("cannot encrypt the signing key: {e}"))),
        None => Ok(B64.encode(pkcs8)),
    }
}

/// A key as stored: a sealed one needs the secret it was sealed with.
fn unpack(config: &Config, kid: &str, stored: &str) -> Result<Vec<u8>, ConsentError> {
    match (is_sealed(stored), secret(config)) {
        (true, Some(secret)) => Sealer::new(secret, PURPOSE)
            .and_then(|sealer| sealer.open(kid, stored))
            .map_err(|_| {
            key_error(format!(
                "signing key {kid} cannot be decrypted: consent.signing_key_secret is not the one it was encrypted with"
            ))
        }),
        (true, None) => Err(key_error(format!(
            "signing key {kid} is stored encrypted: set consent.signing_key_secret \
             (SELFSERVE_CONSENT__SIGNING_KEY_SECRET) to the secret it was encrypted with"
        ))),
        (false, _) => B64
            .decode(stored)
            .map_err(|e| key_error(format!("signing key {kid} is damaged: {e}"))),
    }
}

/// The public half as a JWK (RFC 7517) with its RFC 7638 thumbprint as `kid`.
pub fn public_jwk(pkcs8: &[u8]) -> Result<(String, Value), ConsentError> {
    let pair = EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8,
        &SystemRandom::new(),
    )
    .map_err(|e| key_error(e.to_string()))?;
    // Uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
    let point = pair.public_key().as_ref();
    let (x, y) = (B64.encode(&point[1..33]), B64.encode(&point[33..65]));
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let kid = B64.encode(sha2::Sha256::digest(canonical.as_bytes()));
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "use": "sig", "alg": "ES256"});
    Ok((kid, jwk))
}

/// A key as stored: its private part sealed (or, without a secret, in the clear).
#[derive(sqlx::FromRow)]
struct StoredKey {
    kid: String,
    pkcs8: String,
}

impl StoredKey {
    fn open(self, config: &Config) -> Result<SigningKey, ConsentError> {
        let pkcs8 = unpack(config, &self.kid, &self.pkcs8)?;
        Ok(SigningKey {
            kid: self.kid,
            pkcs8,
        })
    }
}

async fn newest(db: &Db, config: &Config, set: KeySet) -> Result<Option<SigningKey>, ConsentError> {
    let stored: Option<StoredKey> = sqlx::query_as(&format!(
        "SELECT kid, pkcs8 FROM {} ORDER BY created_at DESC, kid LIMIT 1",
        set.table()
    ))
    .fetch_optional(&db.pool)
    .await?;
    stored.map(|key| key.open(config)).transpose()
}

/// The key every node signs with: the newest stored, created on first use.
/// Nodes racing to create the first key may each sign with their own for a
/// moment; every key is published, so those signatures verify too.
pub async fn current(db: &Db, config: &Config, set: KeySet) -> Result<SigningKey, ConsentError> {
    if let Some(key) = newest(db, config, set).await? {
        return Ok(key);
    }
    create(db, config, set).await?;
    newest(db, config, set)
        .await?
        .ok_or_else(|| key_error("no key after creating one"))
}

/// Adds a key that every node signs with from now on; earlier keys stay
/// published so that what they signed still verifies. Returns its `kid`.
pub async fn rotate(db: &Db, config: &Config, set: KeySet) -> Result<String, ConsentError> {
    create(db, config, set).await
}

/// Every stored key, newest (the one in use) first.
pub async fn list(db: &Db, set: KeySet) -> Result<Vec<KeyInfo>, ConsentError> {
    let rows: Vec<(String, i64, String)> = sqlx::query_as(&format!(
        "SELECT kid, created_at, pkcs8 FROM {} ORDER BY created_at DESC, kid",
        set.table()
    ))
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(kid, created_at, pkcs8)| KeyInfo {
            kid,
            created_at,
            encrypted: is_sealed(&pkcs8),
        })
        .collect())
}

async fn create(db: &Db, config: &Config, set: KeySet) -> Result<String, ConsentError> {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|e| key_error(e.to_string()))?;
    let (kid, _) = public_jwk(pkcs8.as_ref())?;
    // Strictly after the newest key, so that a new key is the newest even
    // within one millisecond of the last.
    let newest_at: Option<i64> =
        sqlx::query_scalar(&format!("SELECT MAX(created_at) FROM {}", set.table()))
            .fetch_one(&db.pool)
            .await?;
    let created_at = newest_at.map_or(now_ms(), |at| now_ms().max(at + 1));
    sqlx::query(&format!(
        "INSERT INTO {} (kid, pkcs8, created_at) VALUES ($1, $2, $3)",
        set.table()
    ))
    .bind(&kid)
    .bind(pack(config, &kid, pkcs8.as_ref())?)
    .bind(created_at)
    .execute(&db.pool)
    .await?;
    tracing::info!(%kid, signs = set.signs(), "created a signing key");
    Ok(kid)
}

/// Checks at start that every stored key can be read with the configured
/// secret (so a wrong or missing secret stops the start, not a user's
/// registration), and encrypts keys stored in the clear once a secret is set.
/// Returns how many keys it encrypted.
pub async fn prepare(db: &Db, config: &Config) -> Result<usize, ConsentError> {
    let mut sealed = 0;
    for set in KeySet::ALL {
        let rows: Vec<StoredKey> =
            sqlx::query_as(&format!("SELECT kid, pkcs8 FROM {}", set.table()))
                .fetch_all(&db.pool)
                .await?;
        for StoredKey { kid, pkcs8: stored } in rows {
            let pkcs8 = unpack(config, &kid, &stored)?;
            if secret(config).is_some() && !is_sealed(&stored) {
                sqlx::query(&format!(
                    "UPDATE {} SET pkcs8 = $1 WHERE kid = $2 AND pkcs8 = $3",
                    set.table()
                ))
                .bind(pack(config, &kid, &pkcs8)?)
                .bind(&kid)
                .bind(&stored)
                .execute(&db.pool)
                .await?;
                sealed += 1;
            }
        }
    }
    Ok(sealed)
}

/// Every stored public key, as a JWK Set (creating the first key if there is
/// none yet, as signing would).
pub async fn jwks(db: &Db, config: &Config, set: KeySet) -> Result<Value, ConsentError> {
    let sql = format!(
        "SELECT kid, pkcs8 FROM {} ORDER BY created_at, kid",
        set.table()
    );
    let select = || sqlx::query_as::<_, StoredKey>(&sql).fetch_all(&db.pool);
    let mut rows = select().await?;
    if rows.is_empty() {
        create(db, config, set).await?;
        rows = select().await?;
    }
    let mut keys = Vec::new();
    for stored in rows {
        keys.push(public_jwk(&stored.open(config)?.pkcs8)?.1);
    }
    Ok(json!({ "keys": keys }))
}

/// The claims (a receipt or an ID token) as a compact JWS (ES256) with the
/// given key.
pub fn sign(key: &SigningKey, receipt: &Value) -> Result<String, ConsentError> {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    header.typ = Some("JWT".into());
    let encoding = jsonwebtoken::EncodingKey::from_ec_der(&key.pkcs8);
    jsonwebtoken::encode(&header, receipt, &encoding).map_err(|e| key_error(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_secret(secret: Option<&str>) -> Config {
        let mut config = Config::default();
        config.consent.signing_key_secret = secret.map(Secret::new);
        config
    }

    #[test]
    fn sealed_keys_open_only_with_their_secret_and_kid() {
        let config = with_secret(Some("a secret of at least thirty-two characters"));
        let stored = pack(&config, "kid-1", b"private key bytes").unwrap();
        assert!(is_sealed(&stored));
        assert_eq!(
            unpack(&config, "kid-1", &stored).unwrap(),
            b"private key bytes"
        );
        // Moved to another key's row, or opened with another secret: refused,
        // naming the setting.
        assert!(unpack(&config, "kid-2", &stored).is_err());
        let other = with_secret(Some("another secret of thirty-two characters"));
        let err = unpack(&other, "kid-1", &stored).unwrap_err().to_string();
        assert!(err.contains("consent.signing_key_secret"), "{err}");
        let missing = unpack(&with_secret(None), "kid-1", &stored)
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("SELFSERVE_CONSENT__SIGNING_KEY_SECRET"),
            "{missing}"
        );
    }
}
