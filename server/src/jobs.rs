//! The periodic jobs, in one place that calls each section, so that no
//! section needs to know another's tables. Every node runs them; each job is
//! an idempotent delete or update, so nodes running them at once agree.

use crate::config::Config;
use crate::db::Db;
use crate::{associations, consent, federation, mfa, oidc, recovery, sessions, throttle};
use std::sync::Arc;
use std::time::Duration;

/// Starts the jobs on the runtime; they run until the process ends.
pub fn spawn(db: Db, config: Arc<Config>) {
    let cleanup_every = Duration::from_secs(config.session.cleanup_interval_minutes * 60);
    tokio::spawn(every(cleanup_every, {
        let (db, config) = (db.clone(), config.clone());
        move || {
            let (db, config) = (db.clone(), config.clone());
            async move { clean_up(&db, &config).await }
        }
    }));
    let expiry_every = Duration::from_secs(config.consent.expiry_check_minutes * 60);
    tokio::spawn(every(expiry_every, move || {
        let db = db.clone();
        async move { expire_consents(&db).await }
    }));
}

async fn every<F, Fut>(period: Duration, job: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ticker = tokio::time::interval(period);
    loop {
        ticker.tick().await;
        job().await;
    }
}

/// Removes expired sessions, recovery attempts, idle throttle counters, and
/// expired authorization codes and access tokens.
pub async fn clean_up(db: &Db, config: &Config) {
    if let Err(e) = oidc::grants::delete_expired(db).await {
        tracing::warn!(error = %e, "expired token cleanup failed");
    }
    if let Err(e) = federation::delete_expired(db).await {
        tracing::warn!(error = %e, "unfinished federation flow cleanup failed");
    }
    if let Err(e) = associations::social::delete_expired(db).await {
        tracing::warn!(error = %e, "pending identity cleanup failed");
    }
    if let Err(e) = mfa::delete_expired_challenges(db).await {
        tracing::warn!(error = %e, "second-factor challenge cleanup failed");
    }
    if let Err(e) = mfa::passkeys::delete_expired_ceremonies(db).await {
        tracing::warn!(error = %e, "passkey ceremony cleanup failed");
    }
    if let Err(e) = recovery::delete_expired(db).await {
        tracing::warn!(error = %e, "expired recovery attempt cleanup failed");
    }
    if let Err(e) = throttle::prune(db).await {
        tracing::warn!(error = %e, "throttle counter cleanup failed");
    }
    match sessions::delete_expired(db, config).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(removed = n, "expired sessions removed"),
        Err(e) => tracing::warn!(error = %e, "expired session cleanup failed"),
    }
}

/// Records expired receipts as REVOKED. Reads do not wait for it: they
/// already treat an expired receipt as REVOKED.
pub async fn expire_consents(db: &Db) {
    match consent::expire_due(db).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(revoked = n, "expired consent receipts recorded as revoked"),
        Err(e) => tracing::warn!(error = %e, "consent expiry job failed"),
    }
}
