//! A node killed with SIGKILL while writing: every write it acknowledged is
//! there after the restart, on SQLite and on PostgreSQL.

use crate::nodes::{department, postgres_database, request, send, start_with, PASSWORD};
use std::process::Command;
use std::time::Duration;

/// The end-to-end configuration: self-registration held for the Approver
/// role, and the "shop" application that records consents.
fn e2e_config() -> String {
    format!(
        "{}/../end2end/selfserve.e2e.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// What the writer was told was stored before the crash.
#[derive(Default)]
struct Acknowledged {
    /// The last profile write (`write-<n>`) acknowledged.
    profile: Option<u64>,
    /// Consent receipts recorded.
    receipts: Vec<String>,
    /// Registrations accepted (held for approval).
    registered: Vec<String>,
    /// Registrations approved.
    approved: Vec<String>,
}

fn json(body: &str) -> Option<serde_json::Value> {
    serde_json::from_str(body).ok()
}

/// Writes as fast as acknowledgements come, in turn: alice's profile, a
/// consent alice records for the shop, a self-registration, and bob's
/// approval of the oldest waiting registration. Stops at the first answer
/// that is not an acknowledgement (the node was killed).
fn write_until_killed(port: u16, alice: &str, bob: &str, mut version: i64) -> Acknowledged {
    let mut done = Acknowledged::default();
    for n in 0u64.. {
        let form = format!("input[department]=write-{n}&version={version}");
        let (status, _, body) = request(
            port,
            "POST",
            "/api/update_profile",
            Some(alice),
            Some(&form),
        );
        // A body cut off by the kill is no acknowledgement.
        let Some(saved) = json(&body)
            .and_then(|v| v["version"].as_i64())
            .filter(|_| status == 200)
        else {
            break;
        };
        version = saved;
        done.profile = Some(n);

        let categories = if n % 2 == 0 {
            "[{\"piiCategoryId\":5}]"
        } else {
            "[{\"piiCategoryId\":5},{\"piiCategoryId\":7}]"
        };
        let consent = format!(
            "{{\"services\":[{{\"service\":\"shop\",\"purposes\":[{{\"purposeId\":10,\"piiCategory\":{categories}}}]}}]}}"
        );
        let (status, _, body) = json_request(
            port,
            "POST",
            "/api/identity/consent-mgt/v1.0/consents",
            alice,
            &consent,
        );
        let Some(id) = json(&body)
            .and_then(|v| v["consentReceiptID"].as_str().map(String::from))
            .filter(|_| status == 201)
        else {
            break;
        };
        done.receipts.push(id);

        let username = format!("crash{n}");
        let form = format!(
            "username={username}&password=correct+horse+battery+staple&confirm=correct+horse+battery+staple&attributes[email]=c{n}%40example.com&consents[p1-email]=on"
        );
        let (status, _, body) = request(port, "POST", "/api/register", None, Some(&form));
        if status != 200 || body.trim() != "true" {
            break;
        }
        done.registered.push(username);

        let (status, _, body) = request(
            port,
            "GET",
            "/api/users/v1/me/approval-tasks?status=READY",
            Some(bob),
            None,
        );
        let Some(task) = json(&body)
            .and_then(|v| v.as_array().and_then(|t| t.last().cloned()))
            .filter(|_| status == 200)
        else {
            break;
        };
        let path = format!(
            "/api/users/v1/me/approval-tasks/{}/state",
            task["id"].as_str().unwrap_or("")
        );
        let (status, _, body) = json_request(port, "PUT", &path, bob, "{\"action\":\"APPROVE\"}");
        let Some(approved) = json(&body)
            .and_then(|v| {
                v["properties"].as_array().and_then(|p| {
                    p.iter()
                        .find(|p| p["key"] == "Username")
                        .and_then(|p| p["value"].as_str().map(String::from))
                })
            })
            .filter(|_| status == 200)
        else {
            break;
        };
        done.approved.push(approved);
    }
    done
}

/// A JSON request on its own connection, as a REST client sends it.
fn json_request(
    port: u16,
    method: &str,
    path: &str,
    cookie: &str,
    body: &str,
) -> (u16, String, String) {
    send(
        port,
        method,
        path,
        Some(cookie),
        Some(("application/json", body)),
    )
}

/// Writes profiles, consents, registrations and approvals as fast as
/// acknowledgements come, kills the node with SIGKILL at a moment it does not
/// choose, restarts it on the same database, and finds every acknowledged
/// write stored.
async fn crash_while_writing(database_url: String) {
    use sqlx::Connection;
    let public_url = "http://127.0.0.1";
    let config = e2e_config();
    for (name, role) in [("alice", None), ("bob", Some("Approver"))] {
        let mut add = Command::new(env!("CARGO_BIN_EXE_selfserve"));
        add.args(["user", "add", name, "--password-env", "NODE_PASSWORD"]);
        if let Some(role) = role {
            add.args(["--role", role]);
        }
        let added = add
            .env("DATABASE_URL", &database_url)
            .env("SELFSERVE_CONFIG", &config)
            .env("NODE_PASSWORD", PASSWORD)
            .output()
            .unwrap();
        assert!(added.status.success(), "{added:?}");
    }
    let mut node = start_with(&database_url, public_url, Some(&config));
    let alice = node.sign_in("alice", PASSWORD).1.expect("alice signed in");
    let bob = node.sign_in("bob", PASSWORD).1.expect("bob signed in");
    let (_, version) = department(&node, &alice);
    let port = node.port;
    let writer = {
        let alice = alice.clone();
        std::thread::spawn(move || write_until_killed(port, &alice, &bob, version))
    };
    // 0.5 to 1.5 s of writing, chosen by the clock rather than the writer.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    tokio::time::sleep(Duration::from_millis(500 + u64::from(nanos % 1000))).await;
    node.child.kill().unwrap();
    node.child.wait().unwrap();
    let done = tokio::task::spawn_blocking(move || writer.join().unwrap())
        .await
        .unwrap();
    drop(node);
    let acknowledged = done.profile.expect("some writes were acknowledged");

    let node = start_with(&database_url, public_url, Some(&config));
    let alice = node
        .sign_in("alice", PASSWORD)
        .1
        .expect("signed in after the restart");
    let (stored, _) = department(&node, &alice);
    let n: u64 = stored.trim_start_matches("write-").parse().unwrap();
    assert!(
        n == acknowledged || n == acknowledged + 1,
        "acknowledged write-{acknowledged}, found {stored} after the crash"
    );
    for receipt in &done.receipts {
        let path = format!("/api/identity/consent-mgt/v1.0/consents/receipts/{receipt}");
        assert_eq!(
            node.request("GET", &path, Some(&alice), None).0,
            200,
            "receipt {receipt}"
        );
    }
    let mut db = sqlx::AnyConnection::connect(&database_url).await.unwrap();
    for username in &done.registered {
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM users WHERE username = $1")
                .bind(username)
                .fetch_optional(&mut db)
                .await
                .unwrap();
        let expected = if done.approved.contains(username) {
            "active"
        } else {
            "pending"
        };
        // An approval in flight may have landed too.
        assert!(
            status.as_deref() == Some(expected) || status.as_deref() == Some("active"),
            "{username}: {status:?}, acknowledged as {expected}"
        );
    }
    assert!(
        !done.registered.is_empty(),
        "registrations were written before the kill"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_a_crash_sqlite() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("crash.db").display());
    crash_while_writing(url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_a_crash_postgres() {
    let Some((mut admin, name, url)) = postgres_database("crash").await else {
        return;
    };
    crash_while_writing(url).await;
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
}
