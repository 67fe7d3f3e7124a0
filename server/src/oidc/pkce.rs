//! Proof Key for Code Exchange (RFC 7636), S256 only: the plain method
//! would send the verifier itself through the browser.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A `code_challenge` sent with `code_challenge_method=S256`: the base64url
/// SHA-256 of the verifier, so exactly 43 base64url characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    pub fn parse(challenge: &str, method: Option<&str>) -> Result<Self, &'static str> {
        match method {
            Some("S256") => {}
            None | Some("plain") => {
                return Err("code_challenge_method must be S256 (plain is not accepted)")
            }
            Some(_) => return Err("code_challenge_method must be S256"),
        }
        let well_formed = challenge.len() == 43
            && challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(
                "code_challenge must be the base64url SHA-256 of the verifier (43 characters)",
            );
        }
        Ok(CodeChallenge(challenge.to_string()))
    }

    /// As stored with the code; trusted, it was parsed before it was stored.
    pub(super) fn stored(challenge: String) -> Self {
        CodeChallenge(challenge)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the verifier (43 to 128 unreserved characters) hashes to this
    /// challenge; compared in constant time.
    pub fn is_met_by(&self, verifier: &str) -> bool {
        let well_formed = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        let computed = B64.encode(Sha256::digest(verifier.as_bytes()));
        well_formed && bool::from(computed.as_bytes().ct_eq(self.0.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7636_appendix_b() {
        let challenge =
            CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Some("S256"))
                .unwrap();
        assert!(challenge.is_met_by("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!challenge.is_met_by("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl"));
        assert!(!challenge.is_met_by("short"));
    }

    #[test]
    fn only_s256_and_well_formed_challenges() {
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(CodeChallenge::parse(challenge, None).is_err());
        assert!(CodeChallenge::parse(challenge, Some("plain")).is_err());
        assert!(CodeChallenge::parse("too-short", Some("S256")).is_err());
        assert!(CodeChallenge::parse(&format!("{}!", &challenge[..42]), Some("S256")).is_err());
    }
}
