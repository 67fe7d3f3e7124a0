//! Password hashing: argon2id (OWASP's m=19456 KiB, t=2, p=1) on threads of
//! its own, so a hash never stalls the async runtime. Used for
//! passwords and recovery answers alike.

use argon2::{
    password_hash::{
        self, rand_core::OsRng, Decimal, Ident, Output, ParamsString, PasswordHasher,
        PasswordVerifier, Salt, SaltString,
    },
    Algorithm, Argon2, Block, Params, Version,
};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::sync::{mpsc, Arc, LazyLock, Mutex, OnceLock};
use tokio::sync::{oneshot, Semaphore};

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

/// Bounds the memory-hard hashing: it runs on its own threads, one per core
/// (more would only thrash), fed from one queue; at most `queue` more
/// requests wait for a turn, and anything beyond is refused at once rather
/// than piling up threads and 19 MiB buffers until the server falls over.
/// A hashing thread takes the next job as soon as it finishes one, with no
/// hop through the async runtime in between, so under a flood the cores
/// spend their time hashing. Clones share the same pool; it starts on first
/// use from the configuration.
#[derive(Debug, Clone, Default)]
pub struct Hasher(Arc<OnceLock<Pool>>);

type Job = Box<dyn FnOnce() + Send>;

#[derive(Debug)]
struct Pool {
    /// Jobs queued or running; a permit travels with its job.
    admitted: Arc<Semaphore>,
    jobs: mpsc::Sender<Job>,
    threads: usize,
}

impl Pool {
    fn start(concurrent: usize, queue: usize) -> Pool {
        let concurrent = if concurrent == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            concurrent
        };
        let (jobs, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let threads = (0..concurrent)
            .filter(|n| {
                let receiver = Arc::clone(&receiver);
                std::thread::Builder::new()
                    .name(format!("argon2-{n}"))
                    .spawn(move || work_through(&receiver))
                    .map_err(|error| tracing::error!(%error, "could not start a hashing thread"))
                    .is_ok()
            })
            .count();
        Pool {
            admitted: Arc::new(Semaphore::new(concurrent + queue)),
            jobs,
            threads,
        }
    }
}

/// A hashing thread's life: the next job, until the pool is gone.
fn work_through(receiver: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        let next = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(job) = next else { return };
        // A job that panics loses its answer (the caller sees Busy), not the thread.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}

impl Hasher {
    fn pool(&self, concurrent: usize, queue: usize) -> &Pool {
        self.0.get_or_init(|| Pool::start(concurrent, queue))
    }

    /// Runs `work` on a hashing thread when a turn is free; Busy when the
    /// queue is full.
    async fn run<T: Send + 'static>(
        &self,
        concurrent: usize,
        queue: usize,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let pool = self.pool(concurrent, queue);
        if pool.threads == 0 {
            return Err(Busy);
        }
        let admitted = Arc::clone(&pool.admitted)
            .try_acquire_owned()
            .map_err(|_| Busy)?;
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _admitted = admitted;
            // The request went away while queued (the client hung up): skip
            // the 19 MiB of work nobody will read.
            if !answer.is_closed() {
                let _ = answer.send(work());
            }
        });
        pool.jobs.send(job).map_err(|_| Busy)?;
        answered.await.map_err(|_| Busy)
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

    /// An account created through an identity provider has no password
    /// until its user sets one: stored empty, which no password matches.
    pub fn none() -> Self {
        PasswordHash(String::new())
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
    let hash = ReusedBlocks
        .hash_password_customized(
            password.as_bytes(),
            Some(Algorithm::Argon2id.ident()),
            Some(Version::V0x13.into()),
            argon2().params().clone(),
            &salt,
        )
        .expect("argon2 hashing with valid parameters")
        .to_string();
    PasswordHash(hash)
}

thread_local! {
    /// The hashing thread's argon2 memory, kept between hashes.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// argon2 as the crate computes it, except that each thread keeps its 19 MiB
/// of blocks from one hash to the next instead of allocating and zeroing them
/// every time (argon2 overwrites every block before reading it). Verification
/// goes through the crate's own `PasswordVerifier`, with its constant-time
/// comparison.
struct ReusedBlocks;

impl PasswordHasher for ReusedBlocks {
    type Params = Params;

    fn hash_password_customized<'a>(
        &self,
        password: &[u8],
        algorithm: Option<Ident<'a>>,
        version: Option<Decimal>,
        params: Params,
        salt: impl Into<Salt<'a>>,
    ) -> password_hash::Result<argon2::PasswordHash<'a>> {
        let algorithm = algorithm
            .map(Algorithm::try_from)
            .transpose()?
            .unwrap_or_default();
        let version = version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let salt = salt.into();
        let mut salt_buffer = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_buffer)?;
        let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let block_count = params.block_count();
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let output = Output::init_with(output_len, |out| {
            BLOCKS.with_borrow_mut(|blocks| {
                if blocks.len() < block_count {
                    blocks.resize(block_count, Block::default());
                }
                argon2.hash_password_into_with_memory(password, salt_bytes, out, &mut blocks[..])
            })?;
            Ok(())
        })?;
        Ok(argon2::PasswordHash {
            algorithm: algorithm.ident(),
            version: Some(version.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt),
            hash: Some(output),
        })
    }
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
    // No password (an account created through a provider) costs the same
    // hash as a wrong one: the time taken tells nothing.
    let stored = stored.filter(|hash| !hash.is_empty());
    let known = stored.is_some();
    let stored = stored.unwrap_or_else(|| DECOY_HASH.clone());
    let Ok(parsed) = argon2::PasswordHash::new(&stored) else {
        return false;
    };
    ReusedBlocks
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes stored before the blocks were reused must still verify, and
    /// the other way round: the stored format is the crate's own.
    #[test]
    fn reused_blocks_agree_with_the_argon2_crate() {
        let ours = hash_now("correct horse battery staple");
        let parsed = argon2::PasswordHash::new(ours.as_str()).unwrap();
        assert!(argon2()
            .verify_password(b"correct horse battery staple", &parsed)
            .is_ok());
        assert!(ours.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));

        let salt = SaltString::generate(&mut OsRng);
        let theirs = argon2()
            .hash_password(b"an older password", &salt)
            .unwrap()
            .to_string();
        assert!(verify_now("an older password", Some(theirs.clone())));
        assert!(!verify_now("an older passwore", Some(theirs)));
    }

    /// The kept blocks hold the last hash's memory; the next hash must not
    /// depend on it.
    #[test]
    fn a_hash_does_not_depend_on_the_one_before() {
        let salt = SaltString::generate(&mut OsRng);
        let hash = |password: &str| {
            ReusedBlocks
                .hash_password_customized(
                    password.as_bytes(),
                    None,
                    None,
                    argon2().params().clone(),
                    &salt,
                )
                .unwrap()
                .to_string()
        };
        let first = hash("same password");
        hash("something else entirely");
        assert_eq!(hash("same password"), first);
        assert!(
            !verify_now("same password", None),
            "the decoy never verifies"
        );
    }
}
