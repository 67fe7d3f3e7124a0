//! The queries on tables that grow with the users (sessions, users, the
//! throttle, recovery flows, consent receipts, OpenID Connect grants and
//! tokens) are served by an index on
//! both databases, so a page or a sign-in costs the same with a million
//! users as with ten thousand (`scripts/scale.sh` measures it). The SQL here
//! is the SQL of the stores, copied: a change to a hot query should come
//! with its plan checked here.

use crate::common::*;
use server::db::DbKind;
use sqlx::Row;

/// A value bound to a query's placeholder, typed as the column it meets.
enum Bind {
    Int(i64),
    Text(&'static str),
}
use Bind::{Int, Text};

/// Each hot query with values for its placeholders.
const HOT_QUERIES: &[(&str, &[Bind])] = &[
    // sessions: every page (resolve, touch), My Login Sessions, sign-out,
    // terminate, the periodic clean-up.
    (
        "SELECT s.id, s.user_id, u.username, s.last_active_at, s.expires_at,
                (SELECT COUNT(*) FROM account_associations a
                 WHERE a.user_low = s.user_id OR a.user_high = s.user_id) AS associations
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1",
        &[Text("hash")],
    ),
    (
        "UPDATE sessions SET last_active_at = $1 WHERE id = $2",
        &[Int(1), Text("id")],
    ),
    (
        "SELECT id, ip, user_agent, created_at, last_active_at FROM sessions
         WHERE user_id = $1 AND expires_at > $2 AND last_active_at > $3
         ORDER BY created_at DESC, id",
        &[Int(1), Int(1), Int(1)],
    ),
    (
        "DELETE FROM sessions WHERE id = $1 AND user_id = $2",
        &[Text("id"), Int(1)],
    ),
    (
        "DELETE FROM sessions WHERE user_id = $1 AND id <> $2",
        &[Int(1), Text("id")],
    ),
    (
        "DELETE FROM sessions WHERE expires_at <= $1 OR last_active_at <= $2",
        &[Int(1), Int(1)],
    ),
    // Sign-in: the throttle's standing and the account, in one query.
    (
        "SELECT * FROM (SELECT MAX(locked_until) AS locked_until,
                SUM(CASE WHEN key = $1 THEN 1 ELSE 0 END) AS account_rows
            FROM signin_throttle WHERE key IN ($1, $2)) AS standing
         LEFT JOIN (SELECT id, username, password_hash, status,
                (SELECT COUNT(*) FROM totp_authenticators
                 WHERE user_id = users.id AND enabled_at IS NOT NULL) AS authenticators
            FROM users WHERE username_key = $3) AS account ON TRUE",
        &[Text("a"), Text("b"), Text("alice")],
    ),
    // users: registration's look-alike check.
    (
        "SELECT username FROM users WHERE username_skeleton = $1 AND username_key <> $2 LIMIT 1",
        &[Text("alice"), Text("alice")],
    ),
    // The throttle: every recovery attempt, and its clean-up.
    (
        "SELECT MAX(locked_until) AS locked_until,
                SUM(CASE WHEN key = $1 THEN 1 ELSE 0 END) AS account_rows
         FROM signin_throttle WHERE key IN ($1, $2)",
        &[Text("a"), Text("b")],
    ),
    (
        "DELETE FROM signin_throttle WHERE updated_at < $1 AND locked_until < $1",
        &[Int(1)],
    ),
    // Recovery flows and consent receipts: their clean-up and expiry jobs,
    // and Consent Management.
    (
        "DELETE FROM recovery_flows WHERE expires_at <= $1",
        &[Int(1)],
    ),
    (
        "UPDATE consent_receipts SET state = $2, revoked_at = expires_at
         WHERE state = $3 AND expires_at IS NOT NULL AND expires_at <= $1",
        &[Int(1), Text("REVOKED"), Text("ACTIVE")],
    ),
    (
        "SELECT id FROM consent_receipts WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
        &[Int(1)],
    ),
    // OpenID Connect grants and tokens: every token request, userinfo and
    // introspection; Authorized Apps' Remove; the clean-up; and the cascade
    // from a session's end (by session, then by grant).
    (
        "SELECT t.token_hash, t.grant_id, t.kind, t.expires_at, t.used_at, t.redirect_uri, t.code_challenge,
                g.user_id, g.client_id, g.session_id, g.scopes, g.nonce, g.auth_time
         FROM oidc_tokens t JOIN oidc_grants g ON g.id = t.grant_id
         WHERE t.token_hash = $1 AND t.kind = $2",
        &[Text("hash"), Text("access")],
    ),
    (
        "DELETE FROM oidc_grants WHERE user_id = $1 AND client_id = $2",
        &[Int(1), Text("shop")],
    ),
    (
        "DELETE FROM oidc_tokens WHERE expires_at <= $1 AND (kind = 'access' OR used_at IS NULL)",
        &[Int(1)],
    ),
    // Applications (and the home page's card): when each was last used.
    (
        "SELECT client_id, MAX(last_used_at) FROM oidc_grants WHERE user_id = $1 GROUP BY client_id",
        &[Int(1)],
    ),
    (
        "SELECT id FROM oidc_grants WHERE session_id = $1",
        &[Text("id")],
    ),
    (
        "SELECT token_hash FROM oidc_tokens WHERE grant_id = $1",
        &[Text("id")],
    ),
    // Authorized Apps and My Login Sessions.
    (
        "SELECT g.client_id, g.session_id, g.scopes, g.created_at, g.last_used_at
         FROM oidc_grants g
         WHERE g.user_id = $1 AND EXISTS (
             SELECT 1 FROM oidc_tokens t
             WHERE t.grant_id = g.id AND t.kind IN ('access', 'refresh')
               AND t.used_at IS NULL AND t.expires_at > $2)
         ORDER BY g.last_used_at DESC, g.id",
        &[Int(1), Int(2)],
    ),
    // The account menu of every page whose user has associated accounts.
    (
        "SELECT u.id AS user_id, u.username, u.first_name, u.last_name, u.email, a.created_at
         FROM account_associations a
         JOIN users u ON u.id = CASE WHEN a.user_low = $1 THEN a.user_high ELSE a.user_low END
         WHERE a.user_low = $1 OR a.user_high = $1
         ORDER BY a.created_at DESC, u.username",
        &[Int(1)],
    ),
];

/// The plan of a query as the database would run it, one line per step.
async fn plan(app: &TestApp, sql: &str, binds: &[Bind]) -> Vec<String> {
    // One connection: the setting below holds for it only.
    let mut connection = app.db.pool.acquire().await.unwrap();
    let explain = match app.db.kind {
        DbKind::Sqlite => format!("EXPLAIN QUERY PLAN {sql}"),
        DbKind::Postgres => {
            // The test tables are nearly empty, and for a few rows a full
            // scan is the cheaper plan; disabling it shows whether an index
            // could serve the query (if none can, the plan still scans).
            sqlx::query("SET enable_seqscan = off")
                .execute(&mut *connection)
                .await
                .unwrap();
            format!("EXPLAIN {sql}")
        }
    };
    let mut query = sqlx::query(&explain);
    for bind in binds {
        query = match bind {
            Int(value) => query.bind(*value),
            Text(value) => query.bind(*value),
        };
    }
    let rows = query.fetch_all(&mut *connection).await.unwrap();
    let column = match app.db.kind {
        DbKind::Sqlite => "detail",
        DbKind::Postgres => "QUERY PLAN",
    };
    rows.iter()
        .map(|row| row.get::<String, _>(column))
        .collect()
}

/// A step that reads a whole table; `plan` is the query's whole plan.
fn full_scan(kind: DbKind, plan: &[String], step: &str) -> bool {
    let step = step.trim_start_matches([' ', '-', '>']);
    match kind {
        // "SCAN sessions", not "SCAN sessions USING INDEX" (an index walk),
        // "SCAN CONSTANT ROW", nor the scan of a subquery's result that the
        // plan computed as a step of its own ("CO-ROUTINE standing", then
        // "SCAN standing"): that reads what the subquery's steps found.
        DbKind::Sqlite => {
            let subquery = |name: &str| {
                plan.iter().any(|other| {
                    let other = other.trim_start_matches([' ', '-', '>']);
                    other == format!("CO-ROUTINE {name}") || other == format!("MATERIALIZE {name}")
                })
            };
            step.strip_prefix("SCAN ").is_some_and(|scanned| {
                !scanned.contains(" USING ") && scanned != "CONSTANT ROW" && !subquery(scanned)
            })
        }
        DbKind::Postgres => step.contains("Seq Scan"),
    }
}

per_database! {
    async fn hot_queries_are_served_by_indexes(app) {
        let mut report = String::new();
        for (sql, binds) in HOT_QUERIES {
            let steps = plan(&app, sql, binds).await;
            let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
            report.push_str(&format!("{sql}\n    {}\n", steps.join("\n    ")));
            assert!(
                !steps.iter().any(|step| full_scan(app.db.kind, &steps, step)),
                "[{}] a full scan for {sql}:\n{}",
                app.label,
                steps.join("\n")
            );
        }
        // The plans, for the README: `cargo test ... indexes -- --nocapture`.
        println!("[{}]\n{report}", app.label);
    }
}
