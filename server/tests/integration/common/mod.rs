//! The test harness: the real router over a real database. Every test runs
//! once per backend (`per_database!` makes a `sqlite` and a `postgres` case
//! of it, reported apart): a fresh SQLite file, and a fresh database on the
//! PostgreSQL server named by TEST_POSTGRES_URL (the README's test command
//! starts one; with TEST_REQUIRE_POSTGRES=1 its absence fails the run),
//! dropped when the test ends.
#![allow(dead_code)]

use axum::body::Body;
use axum::Router;
use http::{header, Request, Response, StatusCode};
use http_body_util::BodyExt;
use leptos::prelude::LeptosOptions;
use server::config::Config;
use server::db::{Db, DbKind};
use server::users::{self, Username};
use server::AppState;
use sqlx::Connection;
use tower::ServiceExt;

pub mod specs;

pub const ORIGIN: &str = "http://selfserve.test";
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub router: Router,
    pub db: Db,
    pub config: Config,
    pub label: &'static str,
    /// The database's URL, for another node's own connections.
    url: String,
    _dir: Option<tempfile::TempDir>,
    /// The PostgreSQL database this app created and drops: (admin URL, name).
    owned_database: Option<(String, String)>,
}

/// Declares a test that runs once on SQLite and once on PostgreSQL, as the
/// cases `<name>::sqlite` and `<name>::postgres`: a failure on one does not
/// hide the other's result. `with config { ... }` gives the configuration
/// (the test configuration when left out); `multi_thread` runs it on two
/// worker threads.
#[macro_export]
macro_rules! per_database {
    (async fn $name:ident($app:ident) $body:block) => {
        $crate::per_database!(async fn $name($app) with config { $crate::common::test_config($crate::common::ORIGIN) } $body);
    };
    (async fn $name:ident($app:ident) with config $config:block $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let $app = $crate::common::TestApp::sqlite($config).await;
                $body
            }

            #[tokio::test]
            async fn postgres() {
                let Some($app) = $crate::common::TestApp::postgres($config).await else {
                    return;
                };
                $body
            }
        }
    };
    (multi_thread async fn $name:ident($app:ident) with config $config:block $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = $crate::common::TestApp::sqlite($config).await;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some($app) = $crate::common::TestApp::postgres($config).await else {
                    return;
                };
                $body
            }
        }
    };
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.owned_database.take() else {
            return;
        };
        // Drop is not async: a thread with its own runtime drops the
        // database, ending the pool's connections (FORCE).
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin = sqlx::AnyConnection::connect(&admin_url).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database (left for the cluster's removal)");
        }
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(String::from))
            .collect()
    }

    /// Fails the test unless the status is `expected`, naming the database
    /// (`label`) and showing the body.
    #[track_caller]
    pub fn assert_status(&self, expected: StatusCode, label: &str) {
        assert_eq!(self.status, expected, "[{label}] {}", self.body);
    }

    /// The body as JSON; a body that is not JSON fails the test, showing it.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    /// The `name=value` pair of the session cookie this reply sets, if any.
    pub fn session_cookie(&self) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .filter_map(|c| c.split(';').next().map(String::from))
            .find(|pair| pair.contains("selfserve_session=") && !pair.ends_with('='))
    }
}

pub fn test_config(public_url: &str) -> Config {
    Config {
        public_url: public_url.into(),
        ..Config::default()
    }
}

/// The site options every test app is built with.
pub fn leptos_options() -> LeptosOptions {
    LeptosOptions::builder().output_name("selfserve").build()
}

impl TestApp {
    /// One app per backend, each with a fresh, empty database.
    pub async fn all() -> Vec<TestApp> {
        Self::all_with(test_config(ORIGIN)).await
    }

    pub async fn all_with(config: Config) -> Vec<TestApp> {
        let mut apps = vec![Self::sqlite(config.clone()).await];
        apps.extend(Self::postgres(config).await);
        apps
    }

    /// On a fresh database of the PostgreSQL server the test command
    /// started; None when there is none and none is required.
    pub async fn postgres(config: Config) -> Option<TestApp> {
        match std::env::var("TEST_POSTGRES_URL") {
            Ok(admin_url) => Some(Self::postgres_at(config, &admin_url).await),
            Err(_) if std::env::var("TEST_REQUIRE_POSTGRES").is_ok() => {
                panic!("TEST_REQUIRE_POSTGRES is set but TEST_POSTGRES_URL is not")
            }
            Err(_) => None,
        }
    }

    /// On a fresh SQLite file, serving the site (the `/pkg/` bundle) that
    /// `options` names.
    pub async fn sqlite_with_site(config: Config, options: LeptosOptions) -> TestApp {
        let mut app = Self::sqlite(config).await;
        let state = AppState::new(app.db.clone(), app.config.clone(), options);
        app.router = server::router(state);
        app
    }

    pub async fn sqlite(config: Config) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let db = Db::connect(&url).await.expect("sqlite");
        assert_eq!(db.kind, DbKind::Sqlite);
        Self::build(db, &url, config, "sqlite", Some(dir))
    }

    async fn postgres_at(config: Config, admin_url: &str) -> TestApp {
        sqlx::any::install_default_drivers();
        let name = format!("selfserve_test_{}", hex_id());
        let mut admin = sqlx::AnyConnection::connect(admin_url)
            .await
            .expect("postgres admin connection");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b)
            .unwrap_or(admin_url);
        let url = format!("{base}/{name}");
        let db = Db::connect(&url).await.expect("postgres");
        assert_eq!(db.kind, DbKind::Postgres);
        let mut app = Self::build(db, &url, config, "postgres", None);
        app.owned_database = Some((admin_url.to_string(), name));
        app
    }

    fn build(
        db: Db,
        url: &str,
        config: Config,
        label: &'static str,
        dir: Option<tempfile::TempDir>,
    ) -> TestApp {
        let state = AppState::new(db.clone(), config.clone(), leptos_options());
        TestApp {
            router: server::router(state),
            db,
            config,
            label,
            url: url.to_string(),
            _dir: dir,
            owned_database: None,
        }
    }

    /// A new app on a fresh database of the same kind (SQLite or PostgreSQL).
    pub async fn fresh(&self, config: Config) -> TestApp {
        match self.db.kind {
            DbKind::Sqlite => Self::sqlite(config).await,
            DbKind::Postgres => Self::postgres(config)
                .await
                .expect("a PostgreSQL app makes another"),
        }
    }

    /// A second server on the same database with another configuration, as
    /// after an operator's change (or another node).
    pub fn with_config(&self, config: Config) -> TestApp {
        Self::build(self.db.clone(), &self.url, config, self.label, None)
    }

    /// Another node: its own router and its own connections to the same
    /// database, sharing nothing with this one but the database.
    pub async fn other_node(&self) -> TestApp {
        let db = Db::connect(&self.url).await.expect("another node connects");
        Self::build(db, &self.url, self.config.clone(), self.label, None)
    }

    /// Every stored receipt must conform to the Kantara v1.1 schema.
    pub async fn assert_receipts_conform(&self) {
        use sqlx::Row;
        let rows = sqlx::query("SELECT id, receipt FROM consent_receipts")
            .fetch_all(&self.db.pool)
            .await
            .unwrap();
        for row in rows {
            let id: String = row.get(0);
            let receipt: serde_json::Value =
                serde_json::from_str(&row.get::<String, _>(1)).unwrap();
            let problems = server::consent::schema_problems(&receipt);
            assert!(
                problems.is_empty(),
                "[{}] receipt {id}: {problems:?}",
                self.label
            );
        }
    }

    pub async fn add_user(&self, username: &str, password: &str) -> i64 {
        let hash = server::password::hash_password(password.into()).await;
        users::create(&self.db, &Username::parse(username).unwrap(), &hash, "")
            .await
            .expect("create user")
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let method = request.method().to_string();
        let uri = request.uri().to_string();
        let compressed = request.headers().contains_key(header::ACCEPT_ENCODING);
        let response: Response<Body> = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let reply = Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        };
        if !compressed {
            let problems = specs::problems(&method, &uri, status.as_u16(), &reply.body);
            assert!(
                problems.is_empty(),
                "[{}] the answer breaks the WSO2 spec it follows:\n{}",
                self.label,
                problems.join("\n")
            );
        }
        reply
    }

    /// A same-origin form post, as the app's own pages make.
    pub async fn post(&self, path: &str, form: &[(&str, &str)], cookie: Option<&str>) -> Reply {
        let mut request = Request::post(path)
            .header(header::ORIGIN, self.config.public_origin())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::USER_AGENT, "integration-test");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::from(encode(form))).unwrap())
            .await
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut request = Request::get(path);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// A same-origin REST call with the session cookie and, if given, a JSON body.
    pub async fn rest(
        &self,
        method: &str,
        path: &str,
        cookie: &str,
        body: Option<serde_json::Value>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::ORIGIN, self.config.public_origin())
            .header(header::COOKIE, cookie);
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let body = body
            .map(|b| Body::from(b.to_string()))
            .unwrap_or_else(Body::empty);
        self.send(request.body(body).unwrap()).await
    }

    /// Signs in and returns the session cookie pair.
    pub async fn sign_in(&self, username: &str, password: &str) -> String {
        let reply = self
            .post(
                "/api/sign_in",
                &[("username", username), ("password", password)],
                None,
            )
            .await;
        reply.session_cookie().unwrap_or_else(|| {
            panic!(
                "[{}] sign-in failed: {} {}",
                self.label, reply.status, reply.body
            )
        })
    }

    /// Serves the router on a loopback port, for a peer that speaks HTTP
    /// itself (a SCIM client); it stops with the test's runtime.
    pub async fn listen(&self) -> std::net::SocketAddr {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = tcp.local_addr().unwrap();
        let service = self
            .router
            .clone()
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        tokio::spawn(async move { axum::serve(tcp, service).await });
        address
    }

    pub async fn session_count(&self) -> i64 {
        use sqlx::Row;
        sqlx::query("SELECT COUNT(*) FROM sessions")
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
            .get(0)
    }
}

pub fn encode(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn hex_id() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}_{}_{n}", t, std::process::id())
}
