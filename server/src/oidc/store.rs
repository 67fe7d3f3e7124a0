//! The clients added through the CLI, and every client's secret hash.

use super::{Client, ClientError, ClientKind, ClientSource, NewClient};
use crate::config::clients::{ClientId, RedirectUri, Scope};
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
        Ok(Client {
            id: ClientId::parse(&self.id).map_err(|e| damaged(&self.id, e))?,
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
    "SELECT id, name, description, redirect_uris, post_logout_redirect_uris, public, scopes FROM oidc_clients";

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
        "INSERT INTO oidc_clients (id, name, description, redirect_uris, post_logout_redirect_uris, public, scopes, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
    )
    .bind(client.id.as_str())
    .bind(client.name.trim())
    .bind(client.description.trim())
    .bind(json(&client.redirect_uris)?)
    .bind(json(&client.post_logout_redirect_uris)?)
    .bind(i64::from(client.kind == ClientKind::Public))
    .bind(json(&client.scopes)?)
    .bind(now)
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

/// Deletes a client and its secret; false when there was no such client.
pub async fn delete(db: &Db, id: &str) -> Result<bool, DbError> {
    let mut tx = db.pool.begin().await?;
    let removed = sqlx::query("DELETE FROM oidc_clients WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    sqlx::query("DELETE FROM oidc_client_secrets WHERE client_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(removed)
}
