//! Authorized Apps: every application that holds a live grant for the user
//! (it signed the user in through Selfserve and holds a token it can still
//! use), and removing one. Removal deletes every grant of the application
//! for the user (codes, access and refresh tokens) and revokes its consent
//! receipt in one transaction; tokens are looked up in the database on
//! every use, so access ends at once on every node.

pub mod rest;

use crate::config::clients::{AccessUrl, Scope};
use crate::config::Config;
use crate::consent::{self, ConsentError, Services};
use crate::db::{Db, DbError};
use crate::oidc::{claims, grants};
use crate::time::moment;
use app::apps::{AuthorizedAppView, GrantedScope};
use app::backend::ssr::CurrentSession;
use app::error::AppError;
use std::collections::BTreeSet;

#[derive(Debug, thiserror::Error)]
pub enum AppsError {
    /// The same for "never authorized" and "another user's".
    #[error("no such authorized application")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Consent(#[from] ConsentError),
}

impl From<sqlx::Error> for AppsError {
    fn from(e: sqlx::Error) -> Self {
        AppsError::Db(e.into())
    }
}

impl From<AppsError> for AppError {
    fn from(e: AppsError) -> Self {
        match e {
            AppsError::NotFound => AppError::NotFound,
            AppsError::Db(e) => e.into(),
            AppsError::Consent(e) => e.into(),
        }
    }
}

/// An application that can act for the user now.
#[derive(Debug, Clone)]
pub struct AuthorizedApp {
    pub client_id: String,
    pub name: String,
    pub description: String,
    /// Where it opens, if the operator gave it an access URL.
    pub access_url: Option<AccessUrl>,
    /// The oldest live grant's creation.
    pub first_authorized: i64,
    /// The last code exchange or refresh.
    pub last_used: i64,
    /// Every scope of its live grants.
    pub scopes: Vec<Scope>,
    /// The login sessions its grants came from.
    pub session_ids: Vec<String>,
}

/// The user's authorized applications, last used first.
pub async fn list(db: &Db, config: &Config, user_id: i64) -> Result<Vec<AuthorizedApp>, AppsError> {
    let live = grants::live(db, user_id).await?;
    if live.is_empty() {
        return Ok(Vec::new());
    }
    let services = Services::load(db, config).await?;
    Ok(gather(live, &services))
}

/// The same, named from services the caller has loaded already (the home
/// page's overview loads them once for every card).
pub async fn list_with(
    db: &Db,
    services: &Services,
    user_id: i64,
) -> Result<Vec<AuthorizedApp>, AppsError> {
    Ok(gather(grants::live(db, user_id).await?, services))
}

/// One entry per application of the live grants, in their order.
fn gather(live: Vec<grants::LiveGrant>, services: &Services) -> Vec<AuthorizedApp> {
    let mut apps: Vec<AuthorizedApp> = Vec::new();
    // Grants come last used first, so each application's first grant
    // gives its place and its last use.
    for grant in live {
        let index = match apps.iter().position(|a| a.client_id == grant.client_id) {
            Some(index) => index,
            None => {
                let info = services.info(&grant.client_id);
                apps.push(AuthorizedApp {
                    client_id: grant.client_id.clone(),
                    name: info.name,
                    description: info.description,
                    access_url: info.access_url,
                    first_authorized: grant.created_at,
                    last_used: grant.last_used_at,
                    scopes: Vec::new(),
                    session_ids: Vec::new(),
                });
                apps.len() - 1
            }
        };
        let app = &mut apps[index];
        app.first_authorized = app.first_authorized.min(grant.created_at);
        for scope in grant.scopes {
            if !app.scopes.contains(&scope) {
                app.scopes.push(scope);
            }
        }
        if !app.session_ids.contains(&grant.session_id) {
            app.session_ids.push(grant.session_id);
        }
    }
    for app in &mut apps {
        app.scopes.sort();
    }
    apps
}

/// One of the user's authorized applications; NotFound for any other.
pub async fn find(
    db: &Db,
    config: &Config,
    user_id: i64,
    client_id: &str,
) -> Result<AuthorizedApp, AppsError> {
    list(db, config, user_id)
        .await?
        .into_iter()
        .find(|a| a.client_id == client_id)
        .ok_or(AppsError::NotFound)
}

/// Ends the application's access for the user and revokes their consent to
/// it, in one transaction; returns its name.
pub async fn remove(
    db: &Db,
    config: &Config,
    user: &CurrentSession,
    client_id: &str,
) -> Result<String, AppsError> {
    let app = find(db, config, user.user_id, client_id).await?;
    let mut tx = db.pool.begin().await?;
    let ended = grants::end_grants(&mut tx, user.user_id, client_id).await?;
    let revoked = consent::revoke_application(&mut tx, user.user_id, client_id).await?;
    tx.commit().await?;
    if revoked {
        consent::changed(db, user.user_id).await;
    }
    tracing::info!(user = %user.username, client = %client_id, ended, revoked, "authorized application removed");
    Ok(app.name)
}

/// Removes every authorized application of the user; how many there were.
pub async fn remove_all(
    db: &Db,
    config: &Config,
    user: &CurrentSession,
) -> Result<usize, AppsError> {
    let apps = list(db, config, user.user_id).await?;
    let mut tx = db.pool.begin().await?;
    for app in &apps {
        grants::end_grants(&mut tx, user.user_id, &app.client_id).await?;
        consent::revoke_application(&mut tx, user.user_id, &app.client_id).await?;
    }
    tx.commit().await?;
    if !apps.is_empty() {
        consent::changed(db, user.user_id).await;
    }
    tracing::info!(user = %user.username, removed = apps.len(), "every authorized application removed");
    Ok(apps.len())
}

/// What each scope lets an application do, in the user's words.
fn meaning(scope: Scope) -> &'static str {
    match scope {
        Scope::OpenId => "Sign you in and know it is you",
        Scope::Profile => "Ask for your name and website",
        Scope::Email => "Ask for your email address",
        Scope::Phone => "Ask for your telephone number",
        Scope::Address => "Ask for your country",
        Scope::OfflineAccess => "Keep access while you are away",
    }
}

/// The Authorized Apps page's list.
pub async fn views(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
) -> Result<Vec<AuthorizedAppView>, AppsError> {
    let apps = list(db, config, me.user_id).await?;
    if apps.is_empty() {
        return Ok(Vec::new());
    }
    let sessions = crate::sessions::views(db, config, me, &apps).await?;
    let mut views = Vec::with_capacity(apps.len());
    for app in apps {
        let consented: BTreeSet<String> =
            consent::allowed_claims(db, me.user_id, &app.client_id).await?;
        views.push(AuthorizedAppView {
            claims: claims::receivable(&app.scopes, &consented)
                .into_iter()
                .map(|(_, profile_claim)| consent::label_of(profile_claim))
                .collect(),
            scopes: app
                .scopes
                .iter()
                .map(|s| GrantedScope {
                    name: s.as_str().to_string(),
                    meaning: meaning(*s).to_string(),
                })
                .collect(),
            sessions: app
                .session_ids
                .iter()
                .map(|id| match sessions.iter().find(|s| &s.id == id) {
                    Some(s) if s.current => {
                        format!("{} on {}, {} (this device)", s.browser, s.os, s.ip)
                    }
                    Some(s) => format!("{} on {}, {}", s.browser, s.os, s.ip),
                    None => "A login session that has ended".to_string(),
                })
                .collect(),
            access_url: app.access_url.map(|url| url.as_str().to_string()),
            id: app.client_id,
            name: app.name,
            description: app.description,
            first_authorized: moment(app.first_authorized),
            last_used: moment(app.last_used),
        });
    }
    Ok(views)
}
