//! The storage layer's guarantees on both databases.

use crate::common::*;
use server::db::DbKind;
use server::users::{self, UserError, Username};
use sqlx::Row;

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_foreign_keys() {
    // Properties of SQLite files only.
    let app = TestApp::sqlite(test_config(ORIGIN)).await;
    assert_eq!(app.db.kind, DbKind::Sqlite);
    {
        let mode: String = sqlx::query("PRAGMA journal_mode")
            .fetch_one(&app.db.pool)
            .await
            .unwrap()
            .get(0);
        assert_eq!(mode, "wal");
        let sync: i64 = sqlx::query("PRAGMA synchronous")
            .fetch_one(&app.db.pool)
            .await
            .unwrap()
            .get(0);
        assert_eq!(sync, 2, "FULL: commits survive an OS crash");
        let keys: i64 = sqlx::query("PRAGMA foreign_keys")
            .fetch_one(&app.db.pool)
            .await
            .unwrap()
            .get(0);
        assert_eq!(keys, 1);
    }
}

per_database! {
    async fn usernames_are_unique_regardless_of_case(app) {
        app.add_user("Alice", PASSWORD).await;
        let hash = server::password::hash_password(PASSWORD.into()).await;
        let again = users::create(&app.db, &Username::parse("aLiCe").unwrap(), &hash, "").await;
        assert!(
            matches!(again, Err(UserError::Exists(_))),
            "[{}]",
            app.label
        );
        // Sign-in finds the account whatever the case typed.
        app.sign_in("ALICE", PASSWORD).await;
    }
}

per_database! {
    async fn deleting_a_user_deletes_their_sessions(app) {
        let id = app.add_user("alice", PASSWORD).await;
        app.sign_in("alice", PASSWORD).await;
        assert_eq!(app.session_count().await, 1);
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&app.db.pool)
            .await
            .unwrap();
        assert_eq!(app.session_count().await, 0, "[{}]", app.label);
    }
}

/// The two migration trees must describe the same tables: the same files,
/// the same statements, differing only in how an id column is generated
/// (comments aside). A column added to one dialect only fails here.
#[test]
fn the_sqlite_and_postgresql_migrations_differ_only_in_id_columns() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let names = |dialect: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(root.join(dialect))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let sqlite = names("sqlite");
    assert_eq!(sqlite, names("postgres"), "the same migration files");
    assert!(!sqlite.is_empty());
    let normalised = |dialect: &str, name: &str| -> Vec<String> {
        std::fs::read_to_string(root.join(dialect).join(name))
            .unwrap()
            .lines()
            .map(|line| line.split("--").next().unwrap_or("").trim().to_string())
            .filter(|line| !line.is_empty())
            .map(|line| {
                line.replace("id INTEGER PRIMARY KEY AUTOINCREMENT", "id <generated id>")
                    .replace(
                        "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
                        "id <generated id>",
                    )
            })
            .collect()
    };
    for name in &sqlite {
        assert_eq!(
            normalised("sqlite", name),
            normalised("postgres", name),
            "{name}: the dialects differ in more than the id column type"
        );
    }
}
