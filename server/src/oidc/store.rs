//! The clients added through the CLI, and every client's secret hash.

use super::{Client, ClientError, ClientKind, ClientSource, NewClient};
use crate::config::clients::{AccessUrl, ClientId, RedirectUri, Scope};
use crate::db::{Db, DbError};

#[derive(sqlx::FromRow)]
pub struct ClientRow {
    id: String,
    name: String,
    description: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    public: i64,
    scopes: String,
    access_url: Option<String>,
}

/// A stored value that does not parse: the row was written by something
/// other than this code.
fn damaged(id: &str, problem: impl std::fmt::Display) -> ClientError {
    ClientError::Db(DbError::Sql(sqlx::Error::Decode(
        format!("stored client {id} is damaged: {problem}").into(),
    )))
}

impl ClientRow {
    pub fn into_client(self) -> Result<Client, ClientError> {
        let uris = |json: &str| -> Result<Vec<RedirectUri>, ClientError> {
            serde_json::from_str(json).map_err(|e| damaged(&self.id, e))
        };
        let scopes: Vec<Scope> =
            serde_json::from_str(&self.scopes).map_err(|e| damaged(&self.id, e))?;
        let access_url = self
            .access_url
            .as_deref()
            .map(AccessUrl::parse)
            .transpose()
            .map_err(|e| damaged(&self.id, e))?;
        Ok(Client {
            id: ClientId::parse(&self.id).map_err(|e| damaged(&self.id, e))?,
            access_url,
            redirect_uris: uris(&self.redirect_uris)?,
            post_logout_redirect_uris: uris(&self.post_logout_redirect_uris)?,
            kind: if self.public != 0 {
                ClientKind::Public
            } else {
                ClientKind::Confidential
            },
            scopes,
            source: ClientSource::Database,
            name: self.name,
            description: self.description,
        })
    }
}

/// A list stored as a JSON array of strings.
fn json<T: serde::Serialize>(value: &T) -> Result<String, DbError> {
    serde_json::to_string(value).map_err(|e| DbError::Sql(sqlx::Error::Encode(e.into())))
}

const COLUMNS: &str =
    "SELECT id, name, description, redirect_uris, post_logout_redirect_uris, public, scopes, access_url FROM oidc_clients";

pub async fn all(db: &Db) -> Result<Vec<ClientRow>, DbError> {
    Ok(sqlx::query_as(&format!("{COLUMNS} ORDER BY id"))
        .fetch_all(&db.pool)
        .await?)
}

pub async fn find(db: &Db, id: &str) -> Result<Option<ClientRow>, DbError> {
    Ok(sqlx::query_as(&format!("{COLUMNS} WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?)
}

/// Stores a new client and its secret hash in one transaction; false when
/// the id is taken.
pub async fn insert(
    db: &Db,
    client: &NewClient,
    secret_hash: Option<&str>,
    now: i64,
) -> Result<bool, DbError> {
    let mut tx = db.pool.begin().await?;
    let added = sqlx::query(
        "INSERT INTO oidc_clients (id, name, description, redirect_uris, post_logout_redirect_uris, public, scopes, created_at, access_url)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
    )
    .bind(client.id.as_str())
    .bind(client.name.trim())
    .bind(client.description.trim())
    .bind(json(&client.redirect_uris)?)
    .bind(json(&client.post_logout_redirect_uris)?)
    .bind(i64::from(client.kind == ClientKind::Public))
    .bind(json(&client.scopes)?)
    .bind(now)
    .bind(client.access_url.as_ref().map(AccessUrl::as_str))
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !added {
        return Ok(false);
    }
    if let Some(hash) = secret_hash {
        // A secret left by a removed client of the same id is replaced.
        upsert_secret(&mut tx, client.id.as_str(), hash, now).await?;
    }
    tx.commit().await?;
    Ok(true)
}

pub async fn set_secret(db: &Db, id: &str, hash: &str, now: i64) -> Result<(), DbError> {
    let mut tx = db.pool.begin().await?;
    upsert_secret(&mut tx, id, hash, now).await?;
    tx.commit().await?;
    Ok(())
}

async fn upsert_secret(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    hash: &str,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO oidc_client_secrets (client_id, secret_hash, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (client_id) DO UPDATE SET secret_hash = excluded.secret_hash, created_at = excluded.created_at",
    )
    .bind(id)
    .bind(hash)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn secret_hash(db: &Db, id: &str) -> Result<Option<String>, DbError> {
    Ok(
        sqlx::query_scalar("SELECT secret_hash FROM oidc_client_secrets WHERE client_id = $1")
            .bind(id)
            .fetch_optional(&db.pool)
            .await?,
    )
}

/// Deletes a client, its secret and its grants; false when there was no such client.
pub async fn delete(db: &Db, id: &str) -> Result<bool, DbError> {
    let mut tx = db.pool.begin().await?;
    let removed = sqlx::query("DELETE FROM oidc_clients WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    // Its tokens die with it, as when a user removes it from Authorized Apps.
    for statement in [
        "DELETE FROM oidc_client_secrets WHERE client_id = $1",
        "DELETE FROM oidc_grants WHERE client_id = $1",
    ] {
        sqlx::query(statement).bind(id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(removed)
}

// Grants and tokens.

#[derive(sqlx::FromRow)]
pub struct GrantRow {
    pub id: String,
    pub user_id: i64,
    pub client_id: String,
    pub session_id: String,
    pub scopes: String,
    pub nonce: Option<String>,
    pub auth_time: i64,
}

#[derive(sqlx::FromRow)]
pub struct TokenRow {
    pub token_hash: String,
    pub grant_id: String,
    pub kind: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub redirect_uri: Option<String>,
    pub code_challenge: Option<String>,
}

/// A token with its grant, read in one query.
#[derive(sqlx::FromRow)]
struct TokenAndGrant {
    token_hash: String,
    grant_id: String,
    kind: String,
    expires_at: i64,
    used_at: Option<i64>,
    redirect_uri: Option<String>,
    code_challenge: Option<String>,
    user_id: i64,
    client_id: String,
    session_id: String,
    scopes: String,
    nonce: Option<String>,
    auth_time: i64,
}

pub async fn insert_grant(
    db: &Db,
    grant: &GrantRow,
    code: &TokenRow,
    now: i64,
) -> Result<(), DbError> {
    let mut tx = db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO oidc_grants (id, user_id, client_id, session_id, scopes, nonce, auth_time, created_at, last_used_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&grant.id)
    .bind(grant.user_id)
    .bind(&grant.client_id)
    .bind(&grant.session_id)
    .bind(&grant.scopes)
    .bind(grant.nonce.as_deref())
    .bind(grant.auth_time)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    insert_token(&mut tx, code, now).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_token(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    token: &TokenRow,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO oidc_tokens (token_hash, grant_id, kind, expires_at, used_at, redirect_uri, code_challenge, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&token.token_hash)
    .bind(&token.grant_id)
    .bind(&token.kind)
    .bind(token.expires_at)
    .bind(token.used_at)
    .bind(token.redirect_uri.as_deref())
    .bind(token.code_challenge.as_deref())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores newly issued tokens and records the grant's use.
pub async fn insert_tokens(
    db: &Db,
    grant_id: &str,
    tokens: &[TokenRow],
    now: i64,
) -> Result<(), DbError> {
    let mut tx = db.pool.begin().await?;
    for token in tokens {
        insert_token(&mut tx, token, now).await?;
    }
    sqlx::query("UPDATE oidc_grants SET last_used_at = $1 WHERE id = $2")
        .bind(now)
        .bind(grant_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The token of this hash and kind, with its grant.
pub async fn token(
    db: &Db,
    token_hash: &str,
    kind: super::grants::TokenKind,
) -> Result<Option<(TokenRow, GrantRow)>, DbError> {
    let found: Option<TokenAndGrant> = sqlx::query_as(
        "SELECT t.token_hash, t.grant_id, t.kind, t.expires_at, t.used_at, t.redirect_uri, t.code_challenge,
                g.user_id, g.client_id, g.session_id, g.scopes, g.nonce, g.auth_time
         FROM oidc_tokens t JOIN oidc_grants g ON g.id = t.grant_id
         WHERE t.token_hash = $1 AND t.kind = $2",
    )
    .bind(token_hash)
    .bind(kind.as_str())
    .fetch_optional(&db.pool)
    .await?;
    Ok(found.map(|row| {
        (
            TokenRow {
                token_hash: row.token_hash,
                grant_id: row.grant_id.clone(),
                kind: row.kind,
                expires_at: row.expires_at,
                used_at: row.used_at,
                redirect_uri: row.redirect_uri,
                code_challenge: row.code_challenge,
            },
            GrantRow {
                id: row.grant_id,
                user_id: row.user_id,
                client_id: row.client_id,
                session_id: row.session_id,
                scopes: row.scopes,
                nonce: row.nonce,
                auth_time: row.auth_time,
            },
        )
    }))
}

/// Marks a single-use token spent; false when it already was.
pub async fn mark_used(db: &Db, token_hash: &str, now: i64) -> Result<bool, DbError> {
    Ok(
        sqlx::query(
            "UPDATE oidc_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(token_hash)
        .execute(&db.pool)
        .await?
        .rows_affected()
            == 1,
    )
}

/// Deletes a grant; its codes and tokens go with it.
pub async fn delete_grant(db: &Db, grant_id: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM oidc_grants WHERE id = $1")
        .bind(grant_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn delete_token(db: &Db, token_hash: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM oidc_tokens WHERE token_hash = $1")
        .bind(token_hash)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Deletes the user's grants for one client inside the caller's transaction.
pub async fn delete_grants_of(
    conn: &mut sqlx::AnyConnection,
    user_id: i64,
    client_id: &str,
) -> Result<u64, DbError> {
    Ok(
        sqlx::query("DELETE FROM oidc_grants WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client_id)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
    )
}

/// A grant as Authorized Apps lists it.
#[derive(sqlx::FromRow)]
pub struct LiveGrantRow {
    pub client_id: String,
    pub session_id: String,
    pub scopes: String,
    pub created_at: i64,
    pub last_used_at: i64,
}

/// The user's grants that hold a token the client can still use (an
/// unexpired access token or an unspent refresh token), last used first;
/// one row per application, session and scopes (an application that signs
/// in often holds many grants alike, and every page listing sessions reads
/// these).
pub async fn live_grants_of_user(
    db: &Db,
    user_id: i64,
    now: i64,
) -> Result<Vec<LiveGrantRow>, DbError> {
    Ok(sqlx::query_as(
        "SELECT g.client_id, g.session_id, g.scopes,
                MIN(g.created_at) AS created_at, MAX(g.last_used_at) AS last_used_at
         FROM oidc_grants g
         WHERE g.user_id = $1 AND EXISTS (
             SELECT 1 FROM oidc_tokens t
             WHERE t.grant_id = g.id AND t.kind IN ('access', 'refresh')
               AND t.used_at IS NULL AND t.expires_at > $2)
         GROUP BY g.client_id, g.session_id, g.scopes
         ORDER BY MAX(g.last_used_at) DESC, g.client_id, g.session_id",
    )
    .bind(user_id)
    .bind(now)
    .fetch_all(&db.pool)
    .await?)
}

/// When the user last used each application they signed in to (the last
/// code exchange or refresh of any of its grants, live or not).
pub async fn last_use_by_client(db: &Db, user_id: i64) -> Result<Vec<(String, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT client_id, MAX(last_used_at) FROM oidc_grants WHERE user_id = $1 GROUP BY client_id",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?)
}

pub async fn delete_grants_of_user(db: &Db, user_id: i64) -> Result<u64, DbError> {
    Ok(sqlx::query("DELETE FROM oidc_grants WHERE user_id = $1")
        .bind(user_id)
        .execute(&db.pool)
        .await?
        .rows_affected())
}

/// Expired access tokens and unused codes. Spent codes and refresh tokens
/// stay with their grant, so that a second use is recognised and revokes it.
pub async fn delete_expired_tokens(db: &Db, now: i64) -> Result<u64, DbError> {
    Ok(sqlx::query(
        "DELETE FROM oidc_tokens WHERE expires_at <= $1 AND (kind = 'access' OR used_at IS NULL)",
    )
    .bind(now)
    .execute(&db.pool)
    .await?
    .rows_affected())
}

// Subjects.

pub async fn subject(db: &Db, user_id: i64) -> Result<Option<String>, DbError> {
    Ok(
        sqlx::query_scalar::<_, Option<String>>("SELECT subject FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?
            .flatten(),
    )
}

/// Gives the user this subject unless they have one already.
pub async fn give_subject(db: &Db, user_id: i64, subject: &str) -> Result<(), DbError> {
    sqlx::query("UPDATE users SET subject = $1 WHERE id = $2 AND subject IS NULL")
        .bind(subject)
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}
