//! Secrets the server must read back (signing keys, authenticator-app
//! secrets), stored encrypted under a key derived from an operator's secret:
//! AES-256-GCM under an HKDF-SHA256 key, each value bound to its row (the
//! additional data), so a copy of the database alone gives none of them away
//! and a value moved to another row does not open.

use crate::config::Secret;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

/// Marks a value stored encrypted: the rest is base64url(nonce || ciphertext || tag).
const SEALED: &str = "aes256gcm:";

/// A SQL `LIKE` pattern that matches the values stored encrypted.
pub fn sealed_pattern() -> String {
    format!("{SEALED}%")
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("cannot derive the encryption key")]
    Key,
    #[error("no randomness for a nonce")]
    NoRandomness,
    #[error("cannot encrypt")]
    Encrypt,
    /// A wrong secret, a damaged value, or a value moved from another row.
    #[error("cannot decrypt")]
    Decrypt,
}

/// The encryption key of one purpose, derived from the operator's secret.
pub struct Sealer(LessSafeKey);

impl Sealer {
    /// `purpose` is the HKDF salt: each purpose gets its own key from one secret.
    pub fn new(secret: &Secret, purpose: &'static [u8]) -> Result<Self, SealError> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, purpose).extract(secret.expose().as_bytes());
        let okm = prk
            .expand(&[b"aes-256-gcm"], &AES_256_GCM)
            .map_err(|_| SealError::Key)?;
        Ok(Sealer(LessSafeKey::new(UnboundKey::from(okm))))
    }

    /// The stored form of `plain`, bound to `row` (e.g. the key's id or the user's).
    pub fn seal(&self, row: &str, plain: &[u8]) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SealError::NoRandomness)?;
        let mut data = plain.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(row.as_bytes()),
                &mut data,
            )
            .map_err(|_| SealError::Encrypt)?;
        Ok(format!(
            "{SEALED}{}",
            B64.encode([&nonce[..], &data].concat())
        ))
    }

    /// The plain value of a stored one that [`is_sealed`].
    pub fn open(&self, row: &str, stored: &str) -> Result<Vec<u8>, SealError> {
        let body = stored.strip_prefix(SEALED).ok_or(SealError::Decrypt)?;
        let bytes = B64.decode(body).map_err(|_| SealError::Decrypt)?;
        if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(SealError::Decrypt);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Decrypt)?;
        let mut data = sealed.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(row.as_bytes()), &mut data)
            .map_err(|_| SealError::Decrypt)?;
        Ok(plain.to_vec())
    }
}

/// Whether a stored value is encrypted (otherwise it is in the clear).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PURPOSE: &[u8] = b"selfserve test v1";

    #[test]
    fn sealed_values_open_only_with_their_secret_purpose_and_row() {
        let secret = Secret::new("a secret of at least thirty-two characters");
        let sealer = Sealer::new(&secret, PURPOSE).unwrap();
        let sealed = sealer.seal("row-1", b"private bytes").unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("private"));
        assert_eq!(sealer.open("row-1", &sealed).unwrap(), b"private bytes");
        // Moved to another row, another purpose, another secret: refused.
        assert_eq!(sealer.open("row-2", &sealed), Err(SealError::Decrypt));
        let other_purpose = Sealer::new(&secret, b"selfserve other v1").unwrap();
        assert_eq!(
            other_purpose.open("row-1", &sealed),
            Err(SealError::Decrypt)
        );
        let other = Sealer::new(
            &Secret::new("another secret of thirty-two characters"),
            PURPOSE,
        )
        .unwrap();
        assert_eq!(other.open("row-1", &sealed), Err(SealError::Decrypt));
        // Damaged, or never sealed: refused, not a panic.
        assert_eq!(
            sealer.open("row-1", "aes256gcm:AAAA"),
            Err(SealError::Decrypt)
        );
        assert_eq!(sealer.open("row-1", "plain"), Err(SealError::Decrypt));
        // A fresh nonce each time.
        assert_ne!(
            sealer.seal("row-1", b"x").unwrap(),
            sealer.seal("row-1", b"x").unwrap()
        );
    }
}
