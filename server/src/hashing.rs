//! Password hashing: argon2id (OWASP's m=19456 KiB, t=2, p=1) on tokio's
//! blocking pool, so a hash never stalls the async runtime. Used for
//! passwords and recovery answers alike.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHasher, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, LazyLock, OnceLock};
use tokio::sync::Semaphore;

/// Limits on concurrent hashing (the `hashing` settings).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashingConfig {
    /// Hashes computed at once; 0 means one per core.
    pub concurrent: usize,
    /// Requests that may wait for a turn; beyond them the answer is 503.
    pub queue: usize,
}

impl Default for HashingConfig {
    fn default() -> Self {
        HashingConfig {
            concurrent: 0,
            queue: 64,
        }
    }
}

/// Hashing is at capacity: the answer is 503 with Retry-After.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many password hashes at once")]
pub struct Busy;

impl From<Busy> for app::error::AppError {
    fn from(_: Busy) -> Self {
        app::error::AppError::Busy
    }
}

/// Bounds the memory-hard hashing: at most `concurrent` hashes run at once
/// (as many as cores: more would only thrash), at most `queue` more wait for
/// a turn, and anything beyond is refused at once rather than piling up
/// threads and 19 MiB buffers until the server falls over. Clones share the
/// same limits; they are made on first use from the configuration.
#[derive(Debug, Clone, Default)]
pub struct Hasher(Arc<OnceLock<Limits>>);

#[derive(Debug)]
struct Limits {
    running: Semaphore,
    admitted: Semaphore,
}

impl Hasher {
    fn limits(&self, concurrent: usize, queue: usize) -> &Limits {
        self.0.get_or_init(|| {
            let concurrent = if concurrent == 0 {
                std::thread::available_parallelism().map_or(1, usize::from)
            } else {
                concurrent
            };
            Limits {
                running: Semaphore::new(concurrent),
                admitted: Semaphore::new(concurrent + queue),
            }
        })
    }

    /// Runs `work` on the blocking pool when a turn is free; Busy when the
    /// queue is full.
    async fn run<T: Send + 'static>(
        &self,
        concurrent: usize,
        queue: usize,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let limits = self.limits(concurrent, queue);
        let _admitted = limits.admitted.try_acquire().map_err(|_| Busy)?;
        // The semaphores are never closed, so acquiring only waits.
        let _running = limits.running.acquire().await.map_err(|_| Busy)?;
        tokio::task::spawn_blocking(work).await.map_err(|_| Busy)
    }

    /// A new hash, within the limits.
    pub async fn hash(
        &self,
        config: &HashingConfig,
        password: String,
    ) -> Result<PasswordHash, Busy> {
        self.run(config.concurrent, config.queue, move || hash_now(&password))
            .await
    }

    /// A verification, within the limits (`None` checks the decoy and fails).
    pub async fn verify(
        &self,
        config: &HashingConfig,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, Busy> {
        self.run(config.concurrent, config.queue, move || {
            verify_now(&password, stored)
        })
        .await
    }
}

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
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .expect("hashing task")
}

// With valid parameters and a generated salt argon2 cannot fail.
#[allow(clippy::expect_used)]
fn hash_now(password: &str) -> PasswordHash {
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with valid parameters")
        .to_string();
    PasswordHash(hash)
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
    tokio::task::spawn_blocking(move || verify_now(&password, stored))
        .await
        .unwrap_or(false)
}

fn verify_now(password: &str, stored: Option<String>) -> bool {
    let known = stored.is_some();
    let stored = stored.unwrap_or_else(|| DECOY_HASH.clone());
    let Ok(parsed) = argon2::PasswordHash::new(&stored) else {
        return false;
    };
    argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && known
}

/// Raw argon2id hashes per second with one thread per core, for
/// `selfserve bench-hashing` (the figure the bounded hashing is measured by).
pub fn bench(seconds: f64) -> f64 {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let started = std::time::Instant::now();
    let counts: Vec<usize> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut n = 0;
                    while started.elapsed().as_secs_f64() < seconds {
                        hash_now("a benchmark password of some length");
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).collect()
    });
    counts.iter().sum::<usize>() as f64 / started.elapsed().as_secs_f64()
}

/// Warms the decoy hash at start so the first unknown-user sign-in is not slower.
pub fn prepare() {
    LazyLock::force(&DECOY_HASH);
}
