//! Real server processes: two nodes on one PostgreSQL database (what one
//! node does holds on the other at its next request, because the database is
//! the only state), and a node killed while writing (every write it
//! acknowledged is there after the restart).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery staple";

/// A server process, killed when dropped.
struct Node {
    child: Child,
    port: u16,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(database_url: &str, public_url: &str) -> Node {
    start_with(database_url, public_url, None)
}

/// The end-to-end configuration: self-registration held for the Approver
/// role, and the "shop" application that records consents.
fn e2e_config() -> String {
    format!(
        "{}/../end2end/selfserve.e2e.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn start_with(database_url: &str, public_url: &str, config: Option<&str>) -> Node {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_selfserve"));
    if let Some(config) = config {
        command
            .env("SELFSERVE_CONFIG", config)
            .env("SELFSERVE_REGISTRATION__PER_ADDRESS_PER_HOUR", "100000");
    }
    let child = command
        .env("DATABASE_URL", database_url)
        .env("SELFSERVE_LISTEN", format!("127.0.0.1:{port}"))
        .env("SELFSERVE_PUBLIC_URL", public_url)
        .env("LEPTOS_SITE_ROOT", std::env::temp_dir())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start selfserve");
    let node = Node { child, port };
    let started = Instant::now();
    while node.request("GET", "/healthz", None, None).0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "node did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    node
}

/// One HTTP/1.1 request on its own connection: (status, headers, body).
fn request(
    port: u16,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> (u16, String, String) {
    {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
            return (0, String::new(), String::new());
        };
        let body = form.unwrap_or("");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Sec-Fetch-Site: same-origin\r\nContent-Length: {}\r\n",
            body.len()
        );
        if form.is_some() {
            head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        }
        if let Some(cookie) = cookie {
            head.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        head.push_str("\r\n");
        // A node killed mid-request resets the connection: no answer.
        if stream.write_all(head.as_bytes()).is_err() || stream.write_all(body.as_bytes()).is_err()
        {
            return (0, String::new(), String::new());
        }
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        let (headers, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = headers
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, headers.to_string(), body.to_string())
    }
}

impl Node {
    fn request(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        form: Option<&str>,
    ) -> (u16, String, String) {
        request(self.port, method, path, cookie, form)
    }

    fn sign_in(&self, username: &str, password: &str) -> (u16, Option<String>) {
        let form = format!(
            "username={username}&password={}",
            password.replace(' ', "+")
        );
        let (status, headers, _) = self.request("POST", "/api/sign_in", None, Some(&form));
        let cookie = headers
            .lines()
            .filter_map(|l| l.strip_prefix("set-cookie: "))
            .filter_map(|c| c.split(';').next())
            .find(|c| c.starts_with("selfserve_session=") && !c.ends_with('='))
            .map(String::from);
        (status, cookie)
    }
}

#[tokio::test]
async fn what_one_node_does_holds_on_the_other_at_once() {
    use sqlx::Connection;
    let Ok(admin_url) = std::env::var("TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("TEST_REQUIRE_POSTGRES").is_err(),
            "TEST_REQUIRE_POSTGRES is set but TEST_POSTGRES_URL is not"
        );
        return;
    };
    sqlx::any::install_default_drivers();
    let name = format!("selfserve_nodes_{}", std::process::id());
    let mut admin = sqlx::AnyConnection::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(b, _)| b);
    let database_url = format!("{base}/{name}");

    let public_url = "http://127.0.0.1";
    let a = start(&database_url, public_url);
    let b = start(&database_url, public_url);
    let added = Command::new(env!("CARGO_BIN_EXE_selfserve"))
        .args(["user", "add", "alice", "--password-env", "NODE_PASSWORD"])
        .env("DATABASE_URL", &database_url)
        .env("NODE_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(added.status.success());

    // A session started on A is good on B, and ended on A it is gone on B.
    let (_, cookie) = a.sign_in("alice", PASSWORD);
    let cookie = cookie.expect("signed in on A");
    assert_eq!(b.request("GET", "/", Some(&cookie), None).0, 200);
    let (ended, _, _) = a.request("DELETE", "/api/users/v1/me/sessions", Some(&cookie), None);
    assert_eq!(ended, 204);
    let (status, headers, _) = b.request("GET", "/", Some(&cookie), None);
    assert_eq!(
        status, 303,
        "B sends the ended session to sign-in: {headers}"
    );

    // A password changed on A is the only one B accepts.
    let (_, cookie) = a.sign_in("alice", PASSWORD);
    let cookie = cookie.unwrap();
    let new = "the lighthouse keeper sleeps late";
    let form = format!(
        "current={}&new_password={}&confirm={}&sign_out_others=on",
        PASSWORD.replace(' ', "+"),
        new.replace(' ', "+"),
        new.replace(' ', "+")
    );
    let (changed, _, body) = a.request("POST", "/api/change_password", Some(&cookie), Some(&form));
    assert_eq!(changed, 200, "{body}");
    assert_eq!(b.sign_in("alice", PASSWORD).0, 401);
    assert!(b.sign_in("alice", new).1.is_some());

    // Failures counted on A lock the account on B.
    for _ in 0..5 {
        a.sign_in("alice", "not the password");
    }
    assert_eq!(b.sign_in("alice", new).0, 429, "locked on every node");

    drop((a, b));
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
}

/// A fresh PostgreSQL database for one test, when the test command started a
/// server; dropped by the caller.
async fn postgres_database(label: &str) -> Option<(sqlx::AnyConnection, String, String)> {
    use sqlx::Connection;
    let Ok(admin_url) = std::env::var("TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("TEST_REQUIRE_POSTGRES").is_err(),
            "TEST_REQUIRE_POSTGRES is set but TEST_POSTGRES_URL is not"
        );
        return None;
    };
    sqlx::any::install_default_drivers();
    let name = format!("selfserve_{label}_{}", std::process::id());
    let mut admin = sqlx::AnyConnection::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(b, _)| b);
    let url = format!("{base}/{name}");
    Some((admin, name, url))
}

/// The stored department and version, through the page's server function.
fn department(node: &Node, cookie: &str) -> (String, i64) {
    let (status, _, body) = node.request("POST", "/api/get_profile", Some(cookie), Some(""));
    assert_eq!(status, 200, "{body}");
    let profile: serde_json::Value = serde_json::from_str(&body).unwrap();
    (
        profile["claims"]["department"]
            .as_str()
            .unwrap()
            .to_string(),
        profile["version"].as_i64().unwrap(),
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
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new(), String::new());
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nSec-Fetch-Site: same-origin\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nCookie: {cookie}\r\n\r\n",
        body.len()
    );
    if stream.write_all(head.as_bytes()).is_err() || stream.write_all(body.as_bytes()).is_err() {
        return (0, String::new(), String::new());
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let (headers, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, headers.to_string(), body.to_string())
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
