//! Password hashing: argon2id (OWASP's m=19456 KiB, t=2, p=1) on tokio's
//! blocking pool, so a hash never stalls the async runtime. Used for
//! passwords and recovery answers alike.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHasher, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use std::sync::LazyLock;

/// An argon2id PHC string. Only [`hash_password`] makes one.
#[derive(Debug, Clone)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// OWASP's argon2id parameters: m=19456 KiB, t=2, p=1.
// Constant parameters within argon2's limits: `Params::new` cannot refuse them.
#[allow(clippy::expect_used)]
fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes on the blocking pool: a hash takes tens of milliseconds of CPU and
/// must not stall the async runtime.
// With valid parameters and a generated salt argon2 cannot fail, and the
// blocking task only ends in error if the hash itself panicked.
#[allow(clippy::expect_used)]
pub async fn hash_password(password: String) -> PasswordHash {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        let hash = argon2()
            .hash_password(password.as_bytes(), &salt)
            .expect("argon2 hashing with valid parameters")
            .to_string();
        PasswordHash(hash)
    })
    .await
    .expect("hashing task")
}

/// A hash of a random password, checked when the account does not exist so a
/// wrong username takes as long as a wrong password.
// As in `hash_password`: valid parameters and a generated salt cannot fail.
#[allow(clippy::expect_used)]
static DECOY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(b"decoy password that no one has", &salt)
        .expect("argon2 hashing")
        .to_string()
});

/// Verifies on the blocking pool. `None` checks against the decoy and fails.
pub async fn verify_password(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DECOY_HASH.clone());
        let Ok(parsed) = argon2::PasswordHash::new(&stored) else {
            return false;
        };
        argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
            && known
    })
    .await
    .unwrap_or(false)
}

/// Warms the decoy hash at start so the first unknown-user sign-in is not slower.
pub fn prepare() {
    LazyLock::force(&DECOY_HASH);
}
