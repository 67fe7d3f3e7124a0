//! Real server processes: two nodes on one PostgreSQL database. What one
//! node does holds on the other at its next request, because the database is
//! the only state. (`crash.rs` kills one while it writes.)

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// A server process, killed when dropped.
pub(crate) struct Node {
    pub(crate) child: Child,
    pub(crate) port: u16,
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

pub(crate) fn start_with(database_url: &str, public_url: &str, config: Option<&str>) -> Node {
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

/// One HTTP/1.1 request on its own connection, with a form body if given:
/// (status, headers, body).
pub(crate) fn request(
    port: u16,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> (u16, String, String) {
    let body = form.map(|form| ("application/x-www-form-urlencoded", form));
    send(port, method, path, cookie, body)
}

/// One HTTP/1.1 request on its own connection with a body of the given
/// content type: (status, headers, body). (0, "", "") when the node does not
/// answer.
pub(crate) fn send(
    port: u16,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: Option<(&str, &str)>,
) -> (u16, String, String) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new(), String::new());
    };
    let content = body.map_or("", |(_, content)| content);
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Sec-Fetch-Site: same-origin\r\nContent-Length: {}\r\n",
        content.len()
    );
    if let Some((content_type, _)) = body {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    if let Some(cookie) = cookie {
        head.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    head.push_str("\r\n");
    // A node killed mid-request resets the connection: no answer.
    if stream.write_all(head.as_bytes()).is_err() || stream.write_all(content.as_bytes()).is_err() {
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

impl Node {
    pub(crate) fn request(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        form: Option<&str>,
    ) -> (u16, String, String) {
        request(self.port, method, path, cookie, form)
    }

    pub(crate) fn sign_in(&self, username: &str, password: &str) -> (u16, Option<String>) {
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

/// Two nodes on one database, and the account "alice" made with the CLI.
fn two_nodes_with_alice(database_url: &str) -> (Node, Node) {
    let public_url = "http://127.0.0.1";
    let a = start(database_url, public_url);
    let b = start(database_url, public_url);
    let added = Command::new(env!("CARGO_BIN_EXE_selfserve"))
        .args(["user", "add", "alice", "--password-env", "NODE_PASSWORD"])
        .env("DATABASE_URL", database_url)
        .env("NODE_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(added.status.success());
    (a, b)
}

#[tokio::test]
async fn what_one_node_does_holds_on_the_other_at_once() {
    let Some((mut admin, name, database_url)) = postgres_database("nodes").await else {
        return;
    };

    let (a, b) = two_nodes_with_alice(&database_url);

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
pub(crate) async fn postgres_database(
    label: &str,
) -> Option<(sqlx::AnyConnection, String, String)> {
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
pub(crate) fn department(node: &Node, cookie: &str) -> (String, i64) {
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

/// Reads a server-sent event stream from a node on a raw connection until
/// `needle` arrives (true) or 5 s pass (false).
fn read_until(stream: &mut TcpStream, seen: &mut String, needle: &str) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let started = Instant::now();
    let mut buffer = [0u8; 4096];
    while !seen.contains(needle) {
        if started.elapsed() > Duration::from_secs(5) {
            return false;
        }
        match stream.read(&mut buffer) {
            Ok(0) => return false,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buffer[..n])),
            Err(_) => continue,
        }
    }
    true
}

#[tokio::test]
async fn an_event_raised_through_one_node_reaches_a_stream_opened_on_the_other() {
    let Some((mut admin, name, database_url)) = postgres_database("events").await else {
        return;
    };
    let (a, b) = two_nodes_with_alice(&database_url);
    let (_, cookie) = a.sign_in("alice", PASSWORD);
    let cookie = cookie.unwrap();

    // The stream is opened on B ...
    let mut stream = TcpStream::connect(("127.0.0.1", b.port)).unwrap();
    write!(
        stream,
        "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n\r\n"
    )
    .unwrap();
    let mut seen = String::new();
    assert!(read_until(&mut stream, &mut seen, "event: ready"), "{seen}");
    // ... the sign-in happens on A, and B's stream tells of it.
    let (_, other) = a.sign_in("alice", PASSWORD);
    assert!(other.is_some());
    assert!(
        read_until(&mut stream, &mut seen, "session-started"),
        "{seen}"
    );
    // Signing out on A ends the stream on B.
    a.request("POST", "/api/sign_out", Some(&cookie), Some(""));
    assert!(
        read_until(&mut stream, &mut seen, "event: session-over"),
        "{seen}"
    );

    drop((a, b));
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
}
