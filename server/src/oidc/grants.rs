//! Grants and their tokens: the authorization code flow's state. A code is
//! single-use and lives 60 seconds; a second use revokes what the first
//! issued. Refresh tokens rotate at every use; a reused one revokes the whole
//! grant (it was stolen, or the client is confused: either way, stop).
//! Access tokens are opaque and looked up on every use, so a revocation, a
//! terminated login session or a password change ends them at once, on
//! every node. Only hashes of codes and tokens are stored.

use super::pkce::CodeChallenge;
use super::store::{self, GrantRow, TokenRow};
use super::Client;
use crate::config::clients::{ClientId, RedirectUri, Scope};
use crate::db::{Db, DbError};
use crate::time::now_ms;
use rand::RngCore;
use std::collections::HashMap;

/// How long a code may wait for its exchange (RFC 6749 recommends at most
/// ten minutes; a client exchanges it within a second).
pub const CODE_LIFETIME_MS: i64 = 60_000;
/// How long an access token works; the client refreshes after that.
pub const ACCESS_TOKEN_LIFETIME_MS: i64 = 10 * 60_000;

/// A code or token as the client receives it: 256 random bits, base64url.
pub struct Token(String);

impl Token {
    fn generate() -> Self {
        Token(super::random_value())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A grant's id, as Authorized Apps will name it: 128 random bits, hex.
fn public_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub(super) fn hash(token: &str) -> String {
    super::hash_secret(token)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenKind {
    Code,
    Access,
    Refresh,
}

impl TokenKind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            TokenKind::Code => "code",
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }
}

/// What the user allowed at the authorization endpoint.
pub struct Authorization {
    pub user_id: i64,
    pub client_id: ClientId,
    pub session_id: String,
    pub scopes: Vec<Scope>,
    pub nonce: Option<String>,
    pub auth_time: i64,
    pub redirect_uri: RedirectUri,
    pub code_challenge: Option<CodeChallenge>,
}

/// A live grant, as the token, userinfo and introspection endpoints see it.
#[derive(Debug, Clone)]
pub struct Grant {
    pub id: String,
    pub user_id: i64,
    pub client_id: String,
    pub session_id: String,
    pub scopes: Vec<Scope>,
    pub nonce: Option<String>,
    pub auth_time: i64,
}

/// Stored scopes were parsed before they were stored.
fn parse_scopes(stored: &str) -> Vec<Scope> {
    stored
        .split(' ')
        .filter_map(|s| Scope::parse(s).ok())
        .collect()
}

impl From<GrantRow> for Grant {
    fn from(row: GrantRow) -> Self {
        Grant {
            scopes: parse_scopes(&row.scopes),
            id: row.id,
            user_id: row.user_id,
            client_id: row.client_id,
            session_id: row.session_id,
            nonce: row.nonce,
            auth_time: row.auth_time,
        }
    }
}

/// What a successful exchange or refresh hands the client.
pub struct Issued {
    pub grant: Grant,
    pub access_token: Token,
    pub refresh_token: Token,
    pub expires_in_seconds: i64,
}

/// Why the token endpoint refuses (RFC 6749 section 5.2 `invalid_grant`);
/// the reason is for the log, the client only learns `invalid_grant`.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("invalid grant: {0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Db(#[from] DbError),
}

fn invalid(reason: &'static str) -> GrantError {
    GrantError::Invalid(reason)
}

/// Records the grant and returns the code to send to the client.
pub async fn issue_code(db: &Db, authorization: Authorization) -> Result<Token, GrantError> {
    let now = now_ms();
    let code = Token::generate();
    let scopes: Vec<&str> = authorization.scopes.iter().map(|s| s.as_str()).collect();
    let grant = GrantRow {
        id: public_id(),
        user_id: authorization.user_id,
        client_id: authorization.client_id.to_string(),
        session_id: authorization.session_id,
        scopes: scopes.join(" "),
        nonce: authorization.nonce,
        auth_time: authorization.auth_time,
    };
    let token = TokenRow {
        token_hash: hash(code.expose()),
        grant_id: grant.id.clone(),
        kind: TokenKind::Code.as_str().to_string(),
        expires_at: now + CODE_LIFETIME_MS,
        used_at: None,
        redirect_uri: Some(authorization.redirect_uri.as_str().to_string()),
        code_challenge: authorization.code_challenge.map(|c| c.as_str().to_string()),
    };
    store::insert_grant(db, &grant, &token, now).await?;
    Ok(code)
}

/// The `authorization_code` grant: the code, from the client it was issued
/// to, with the same redirect URI and the PKCE verifier when a challenge was
/// sent.
pub async fn exchange_code(
    db: &Db,
    client: &Client,
    code: &str,
    redirect_uri: &str,
    code_verifier: Option<&str>,
) -> Result<Issued, GrantError> {
    let now = now_ms();
    let (token, grant) = store::token(db, &hash(code), TokenKind::Code)
        .await?
        .ok_or(invalid("unknown code"))?;
    if grant.client_id != client.id.as_str() {
        return Err(invalid("code issued to another client"));
    }
    if token.used_at.is_some() {
        store::delete_grant(db, &grant.id).await?;
        tracing::warn!(grant = %grant.id, client = %client.id, "a code was used twice: its grant is revoked");
        return Err(invalid("code already used"));
    }
    if token.expires_at <= now {
        return Err(invalid("code expired"));
    }
    if token.redirect_uri.as_deref() != Some(redirect_uri) {
        return Err(invalid(
            "redirect_uri differs from the authorization request's",
        ));
    }
    // A public client has no secret: PKCE is all that ties the code to it.
    if client.kind == super::ClientKind::Public && token.code_challenge.is_none() {
        return Err(invalid("a public client's code needs PKCE"));
    }
    match (&token.code_challenge, code_verifier) {
        (Some(challenge), Some(verifier))
            if CodeChallenge::stored(challenge.clone()).is_met_by(verifier) => {}
        (Some(_), _) => return Err(invalid("code_verifier missing or wrong")),
        (None, Some(_)) => return Err(invalid("code_verifier without a code_challenge")),
        (None, None) => {}
    }
    // Two exchanges at once: only one marks the code used; the other is a reuse.
    if !store::mark_used(db, &token.token_hash, now).await? {
        store::delete_grant(db, &grant.id).await?;
        return Err(invalid("code already used"));
    }
    issue_tokens(db, grant.into(), now).await
}

/// The `refresh_token` grant: a new access token and a new refresh token;
/// the presented one is spent.
pub async fn refresh(db: &Db, client: &Client, refresh_token: &str) -> Result<Issued, GrantError> {
    let now = now_ms();
    let (token, grant) = store::token(db, &hash(refresh_token), TokenKind::Refresh)
        .await?
        .ok_or(invalid("unknown refresh token"))?;
    if grant.client_id != client.id.as_str() {
        return Err(invalid("refresh token issued to another client"));
    }
    if token.used_at.is_some() || !store::mark_used(db, &token.token_hash, now).await? {
        store::delete_grant(db, &grant.id).await?;
        tracing::warn!(grant = %grant.id, client = %client.id, "a refresh token was used twice: its grant is revoked");
        return Err(invalid("refresh token already used"));
    }
    issue_tokens(db, grant.into(), now).await
}

async fn issue_tokens(db: &Db, grant: Grant, now: i64) -> Result<Issued, GrantError> {
    let access = Token::generate();
    let refresh = Token::generate();
    let row = |token: &Token, kind: TokenKind, expires_at| TokenRow {
        token_hash: hash(token.expose()),
        grant_id: grant.id.clone(),
        kind: kind.as_str().to_string(),
        expires_at,
        used_at: None,
        redirect_uri: None,
        code_challenge: None,
    };
    // The refresh token lasts as long as the grant: until its login
    // session ends, which deletes it.
    store::insert_tokens(
        db,
        &grant.id,
        &[
            row(&access, TokenKind::Access, now + ACCESS_TOKEN_LIFETIME_MS),
            row(&refresh, TokenKind::Refresh, i64::MAX),
        ],
        now,
    )
    .await?;
    Ok(Issued {
        grant,
        access_token: access,
        refresh_token: refresh,
        expires_in_seconds: ACCESS_TOKEN_LIFETIME_MS / 1000,
    })
}

/// The grant behind a live access token (userinfo, introspection).
pub async fn access(db: &Db, access_token: &str) -> Result<Option<Grant>, DbError> {
    Ok(store::token(db, &hash(access_token), TokenKind::Access)
        .await?
        .filter(|(token, _)| token.expires_at > now_ms())
        .map(|(_, grant)| grant.into()))
}

/// What introspection (RFC 7662) says of a token: its grant and when it
/// expires (a refresh token, with its grant), when it is live and was issued
/// to the asking client; otherwise nothing, whatever the reason.
pub async fn introspect(
    db: &Db,
    client: &Client,
    token: &str,
) -> Result<Option<(Grant, Option<i64>)>, DbError> {
    let hashed = hash(token);
    let now = now_ms();
    for kind in [TokenKind::Access, TokenKind::Refresh] {
        if let Some((token, grant)) = store::token(db, &hashed, kind).await? {
            let live = token.expires_at > now && token.used_at.is_none();
            if !live || grant.client_id != client.id.as_str() {
                return Ok(None);
            }
            let expires = (kind == TokenKind::Access).then_some(token.expires_at);
            return Ok(Some((grant.into(), expires)));
        }
    }
    Ok(None)
}

/// Revocation (RFC 7009) by the client the token was issued to: a refresh
/// token ends its whole grant, an access token only itself. A token of
/// another client, or none, changes nothing (the answer is the same).
pub async fn revoke(db: &Db, client: &Client, token: &str) -> Result<(), DbError> {
    let hashed = hash(token);
    for kind in [TokenKind::Refresh, TokenKind::Access] {
        if let Some((_, grant)) = store::token(db, &hashed, kind).await? {
            if grant.client_id == client.id.as_str() {
                match kind {
                    TokenKind::Refresh => store::delete_grant(db, &grant.id).await?,
                    _ => store::delete_token(db, &hashed).await?,
                }
            }
            return Ok(());
        }
    }
    Ok(())
}

/// Ends every grant of one client for one user, with its codes and tokens,
/// inside the caller's transaction (Authorized Apps' Remove).
pub async fn end_grants(
    conn: &mut sqlx::AnyConnection,
    user_id: i64,
    client_id: &str,
) -> Result<u64, DbError> {
    store::delete_grants_of(conn, user_id, client_id).await
}

/// A grant that still holds a token its client can use.
pub struct LiveGrant {
    pub client_id: String,
    pub session_id: String,
    pub scopes: Vec<Scope>,
    pub created_at: i64,
    pub last_used_at: i64,
}

/// The user's live grants, last used first.
pub async fn live(db: &Db, user_id: i64) -> Result<Vec<LiveGrant>, DbError> {
    Ok(store::live_grants_of_user(db, user_id, now_ms())
        .await?
        .into_iter()
        .map(|row| LiveGrant {
            scopes: parse_scopes(&row.scopes),
            client_id: row.client_id,
            session_id: row.session_id,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        })
        .collect())
}

/// When the user last used each application, by client id; applications
/// never signed in to (or removed from Authorized Apps) are absent.
pub async fn last_use(db: &Db, user_id: i64) -> Result<HashMap<String, i64>, DbError> {
    Ok(store::last_use_by_client(db, user_id)
        .await?
        .into_iter()
        .collect())
}

/// Ends every grant of the user (a password change).
pub async fn end_all(db: &Db, user_id: i64) -> Result<u64, DbError> {
    store::delete_grants_of_user(db, user_id).await
}

/// Deletes codes and access tokens past their lifetime (the periodic job).
pub async fn delete_expired(db: &Db) -> Result<u64, DbError> {
    store::delete_expired_tokens(db, now_ms()).await
}
