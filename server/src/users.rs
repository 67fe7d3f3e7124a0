//! User accounts: the username type and the storage every section builds on.

use crate::db::{Db, DbError};
use crate::hashing::PasswordHash;
use crate::time::now_ms;
use app::profile::ValidProfile;
use app::states::AccountStatus;
use std::collections::BTreeMap;

/// A username: 3 to 64 characters of letters, digits and `. _ @ -`, in
/// Unicode compatibility form (NFKC: a full-width `ａｌｉｃｅ` is `alice`).
/// Unique regardless of case, and no two may look alike (see `skeleton`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, String> {
        use unicode_normalization::UnicodeNormalization;
        let normalised: String = raw.trim().nfkc().collect();
        let name = normalised.as_str();
        let length = name.chars().count();
        if !(3..=64).contains(&length) {
            return Err("A username must be 3 to 64 characters long.".into());
        }
        if !name
            .chars()
            .all(|c| c.is_alphanumeric() || "._@-".contains(c))
        {
            return Err("A username may contain only letters, digits and . _ @ -".into());
        }
        Ok(Username(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive key the uniqueness rule and look-ups use.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }

    /// What the name looks like (Unicode TR39 skeleton of its key): `bоb`
    /// with a Cyrillic `о` and `bob` have the same one.
    pub fn skeleton(&self) -> String {
        skeleton_of(&self.key())
    }
}

fn skeleton_of(key: &str) -> String {
    unicode_security::skeleton(key).collect()
}

/// Records the skeleton of accounts created before skeletons were stored;
/// returns how many. Run at every start (cheap once done).
pub async fn backfill_skeletons(db: &Db) -> Result<u64, DbError> {
    let missing: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, username_key FROM users WHERE username_skeleton IS NULL")
            .fetch_all(&db.pool)
            .await?;
    for (id, key) in &missing {
        sqlx::query("UPDATE users SET username_skeleton = $1 WHERE id = $2")
            .bind(skeleton_of(key))
            .bind(id)
            .execute(&db.pool)
            .await?;
    }
    Ok(missing.len() as u64)
}

/// What sign-in needs to know about an account.
#[derive(sqlx::FromRow)]
pub struct Credentials {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    status: String,
    /// Enabled authenticator apps (none or one), read with the credentials
    /// so that a sign-in knows at once whether a second step follows.
    authenticators: i64,
}

impl Credentials {
    /// Whether the account has an enabled authenticator app (TOTP).
    pub fn has_authenticator(&self) -> bool {
        self.authenticators > 0
    }

    /// Whether the account may sign in, read with the credentials so that
    /// sign-in asks the database once.
    pub fn status(&self) -> Result<AccountStatus, DbError> {
        parse_status(&self.status)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("a user named {0} already exists")]
    Exists(String),
    #[error("the name {0} looks like an existing user's name")]
    LooksLikeAnother(String),
    #[error("there is no user named {0}")]
    NotFound(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for UserError {
    fn from(e: sqlx::Error) -> Self {
        UserError::Db(e.into())
    }
}

pub async fn create(
    db: &Db,
    username: &Username,
    hash: &PasswordHash,
    role: &str,
) -> Result<i64, UserError> {
    let mut tx = db.pool.begin().await?;
    let id = insert(&mut tx, username, hash, AccountStatus::Active, "").await?;
    if !role.is_empty() {
        sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
            .bind(id)
            .bind(role)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// Inserts an account inside the caller's transaction.
pub async fn insert(
    tx: &mut sqlx::AnyConnection,
    username: &Username,
    hash: &PasswordHash,
    status: AccountStatus,
    email: &str,
) -> Result<i64, UserError> {
    let skeleton = username.skeleton();
    let look_alike: Option<String> = sqlx::query_scalar(
        "SELECT username FROM users WHERE username_skeleton = $1 AND username_key <> $2 LIMIT 1",
    )
    .bind(&skeleton)
    .bind(username.key())
    .fetch_optional(&mut *tx)
    .await?;
    if look_alike.is_some() {
        return Err(UserError::LooksLikeAnother(username.as_str().into()));
    }
    let result = sqlx::query_scalar::<_, i64>(
        "INSERT INTO users (username, username_key, username_skeleton, password_hash, status, email, created_at, updated_at,
                            password_changed_at)
         VALUES ($1, $2, $7, $3, $4, $5, $6, $6, CASE WHEN $3 = '' THEN NULL ELSE $6 END) RETURNING id",
    )
    .bind(username.as_str())
    .bind(username.key())
    .bind(hash.as_str())
    .bind(status.as_str())
    .bind(email)
    .bind(now_ms())
    .bind(&skeleton)
    .fetch_one(&mut *tx)
    .await
    .map_err(DbError::from);
    match result {
        Ok(id) => Ok(id),
        Err(e) if e.is_unique_violation() => Err(UserError::Exists(username.as_str().into())),
        Err(e) => Err(e.into()),
    }
}

/// Stores a new self-registered account's profile and marks it self-registered.
/// Only a checked profile can be stored.
pub async fn set_registered_profile(
    tx: &mut sqlx::AnyConnection,
    id: i64,
    profile: &ValidProfile,
) -> Result<(), DbError> {
    let claims = profile.claims();
    let columns: Vec<String> = app::profile::FIELDS
        .iter()
        .enumerate()
        .map(|(i, f)| format!("{} = ${}", f.name, i + 2))
        .collect();
    let sql = format!(
        "UPDATE users SET {}, self_registered = 1 WHERE id = $1",
        columns.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(id);
    for field in app::profile::FIELDS {
        query = query.bind(claims.get(field.name).to_string());
    }
    query.execute(&mut *tx).await?;
    Ok(())
}

/// Credentials by username (case-insensitive).
pub async fn credentials(db: &Db, username: &Username) -> Result<Option<Credentials>, DbError> {
    Ok(
        sqlx::query_as(&format!("{CREDENTIALS} WHERE username_key = $1"))
            .bind(username.key())
            .fetch_optional(&db.pool)
            .await?,
    )
}

pub async fn credentials_by_id(db: &Db, user_id: i64) -> Result<Option<Credentials>, DbError> {
    Ok(sqlx::query_as(&format!("{CREDENTIALS} WHERE id = $1"))
        .bind(user_id)
        .fetch_optional(&db.pool)
        .await?)
}

/// Whether the account has a password (one created through a provider has
/// none until the user sets one): stored as an empty hash.
pub async fn has_password(db: &Db, user_id: i64) -> Result<bool, DbError> {
    Ok(password_record(db, user_id).await?.is_some())
}

/// When the account's password was last set: None without a password,
/// `Some(None)` for one set before that was recorded.
pub async fn password_record(db: &Db, user_id: i64) -> Result<Option<Option<i64>>, DbError> {
    let (hash, changed_at): (String, Option<i64>) =
        sqlx::query_as("SELECT password_hash, password_changed_at FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&db.pool)
            .await?;
    Ok((!hash.is_empty()).then_some(changed_at))
}

/// The ways an account can be signed in to, which must not all go: its
/// password, its linked identities and its passkeys.
#[derive(Debug, Clone, Copy)]
pub struct WaysIn {
    password: bool,
    identities: usize,
    passkeys: usize,
}

impl WaysIn {
    pub async fn of(db: &Db, user_id: i64) -> Result<Self, DbError> {
        Ok(Self {
            password: has_password(db, user_id).await?,
            identities: crate::associations::social_store::list(db, user_id)
                .await?
                .len(),
            passkeys: usize::try_from(crate::mfa::store::passkey_count(db, user_id).await?)
                .unwrap_or(usize::MAX),
        })
    }

    /// Whether a way in is left once `identities` linked identities and
    /// `passkeys` passkeys are gone.
    pub fn left_without(&self, identities: usize, passkeys: usize) -> bool {
        self.password || self.identities > identities || self.passkeys > passkeys
    }

    pub fn passkeys(&self) -> usize {
        self.passkeys
    }
}

/// An authenticator counts once its setup was confirmed (`enabled_at`), as
/// in `mfa::enabled`.
pub(crate) const CREDENTIALS: &str = "SELECT id, username, password_hash, status,
        (SELECT COUNT(*) FROM totp_authenticators
         WHERE user_id = users.id AND enabled_at IS NOT NULL) AS authenticators
    FROM users";

/// Deletes an account and everything that belongs to it (sessions, grants,
/// receipts, answers, associations: their rows cascade); false when there
/// is no such account.
pub async fn remove(db: &Db, username: &Username) -> Result<bool, DbError> {
    Ok(sqlx::query("DELETE FROM users WHERE username_key = $1")
        .bind(username.key())
        .execute(&db.pool)
        .await?
        .rows_affected()
        == 1)
}

/// Deletes the account with this id, as [`remove`] does.
pub async fn remove_by_id(db: &Db, user_id: i64) -> Result<bool, DbError> {
    Ok(sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(user_id)
        .execute(&db.pool)
        .await?
        .rows_affected()
        == 1)
}

/// Whether the account may sign in, or awaits the approval of its registration.
pub async fn status(db: &Db, user_id: i64) -> Result<AccountStatus, DbError> {
    let status: String = sqlx::query_scalar("SELECT status FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&db.pool)
        .await?;
    parse_status(&status)
}

fn parse_status(status: &str) -> Result<AccountStatus, DbError> {
    status
        .parse()
        .map_err(|e: app::states::UnknownState| DbError::Sql(sqlx::Error::Decode(e.into())))
}

/// Whether the user created the account (rather than an operator).
pub async fn self_registered(db: &Db, user_id: i64) -> Result<bool, DbError> {
    let flag: i64 = sqlx::query_scalar("SELECT self_registered FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&db.pool)
        .await?;
    Ok(flag != 0)
}

pub async fn grant_role(db: &Db, user_id: i64, role: &str) -> Result<(), DbError> {
    sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(user_id)
        .bind(role)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// The roles a user holds, in name order.
pub async fn roles_of(db: &Db, user_id: i64) -> Result<Vec<String>, DbError> {
    Ok(
        sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
            .bind(user_id)
            .fetch_all(&db.pool)
            .await?,
    )
}

/// Sets a user's password (operator command); ends all of the user's sessions.
pub async fn set_password(
    db: &Db,
    username: &Username,
    hash: &PasswordHash,
) -> Result<(), UserError> {
    let mut tx = db.pool.begin().await?;
    let id: Option<i64> = sqlx::query_scalar(
        "UPDATE users SET password_hash = $1, updated_at = $2, password_changed_at = $2
         WHERE username_key = $3 RETURNING id",
    )
    .bind(hash.as_str())
    .bind(now_ms())
    .bind(username.key())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = id else {
        return Err(UserError::NotFound(username.as_str().into()));
    };
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    username: String,
    email: String,
    created_at: i64,
}

pub struct UserSummary {
    pub username: String,
    /// Every role the user holds, in name order.
    pub roles: Vec<String>,
    pub email: String,
    pub created_at: i64,
}

pub async fn list(db: &Db) -> Result<Vec<UserSummary>, DbError> {
    let users: Vec<UserRow> =
        sqlx::query_as("SELECT id, username, email, created_at FROM users ORDER BY username_key")
            .fetch_all(&db.pool)
            .await?;
    let grants: Vec<(i64, String)> =
        sqlx::query_as("SELECT user_id, role FROM user_roles ORDER BY role")
            .fetch_all(&db.pool)
            .await?;
    let mut roles: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for (user_id, role) in grants {
        roles.entry(user_id).or_default().push(role);
    }
    Ok(users
        .into_iter()
        .map(|u| UserSummary {
            roles: roles.remove(&u.id).unwrap_or_default(),
            username: u.username,
            email: u.email,
            created_at: u.created_at,
        })
        .collect())
}

pub async fn count(db: &Db) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&db.pool)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::Username;

    #[test]
    fn usernames_are_checked_and_case_insensitive() {
        assert!(Username::parse("al").is_err());
        assert!(Username::parse("bad name").is_err());
        assert!(Username::parse("<script>").is_err());
        let name = Username::parse(" Alice.Smith ").unwrap();
        assert_eq!(name.as_str(), "Alice.Smith");
        assert_eq!(name.key(), "alice.smith");
        // Compatibility forms are the same name.
        assert_eq!(Username::parse("ａｌｉｃｅ").unwrap().as_str(), "alice");
        // Look-alikes share a skeleton; different names do not.
        let bob = Username::parse("bob").unwrap();
        let cyrillic = Username::parse("b\u{43e}b").unwrap();
        assert_ne!(bob.key(), cyrillic.key());
        assert_eq!(bob.skeleton(), cyrillic.skeleton());
        assert_ne!(bob.skeleton(), Username::parse("rob").unwrap().skeleton());
        // Invisible and direction characters are not letters.
        assert!(Username::parse("ali\u{202e}ce").is_err());
        assert!(Username::parse("ali\u{200b}ce").is_err());
    }
}
