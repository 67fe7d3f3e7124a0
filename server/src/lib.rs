//! Selfserve's server: configuration, storage, sessions and the HTTP router.
//! Each dashboard section has a module here named like its page module in `app`.

pub mod api;
pub mod applications;
pub mod approvals;
pub mod apps;
pub mod associations;
pub mod backend;
pub mod config;
pub mod consent;
pub mod db;
pub mod events;
pub mod export;
pub mod federation;
pub mod hashing;
pub mod home;
pub mod jobs;
pub mod mfa;
pub mod oidc;
pub mod openapi;
pub mod password;
pub mod profile;
pub mod recovery;
pub mod register;
pub mod renders;
pub mod sealing;
pub mod security;
pub mod sessions;
pub mod signin;
pub mod throttle;
pub mod time;
pub mod trace;
pub mod users;

use app::backend::ssr::SharedBackend;
use app::error::AppError;
use axum::{
    extract::State,
    http::StatusCode,
    response::IntoResponse,
    routing::{any, get, post},
    Router,
};
use config::Config;
use db::Db;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use std::sync::{Arc, OnceLock};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// What every handler shares, behind one `Arc`: a page clones the state for
/// each extractor and server function, and each clone is then one count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub db: Db,
    pub config: Arc<Config>,
    pub public_origin: String,
    pub leptos_options: LeptosOptions,
    /// The relying party of `[[identity_providers]]`, with its caches.
    pub federation: Arc<federation::Federation>,
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    pub fn new(db: Db, config: Config, leptos_options: LeptosOptions) -> Self {
        Self(Arc::new(Shared {
            db,
            public_origin: config.public_origin(),
            config: Arc::new(config),
            leptos_options,
            federation: Arc::new(federation::Federation::new()),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Logs the cause and gives the user the generic message: internals stay here.
pub fn internal(error: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %error, "internal error");
    AppError::Internal
}

/// Ready when the database answers.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// The listener the server accepts on. Its connections answer without
/// Nagle's delay: a page is streamed in several writes, and with Nagle each
/// keep-alive request would wait for the client's delayed ACK (~40 ms).
pub fn listener(
    listener: tokio::net::TcpListener,
) -> axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)> {
    use axum::serve::ListenerExt;
    listener.tap_io(no_delay)
}

fn no_delay(tcp: &mut tokio::net::TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::warn!(error = %e, "could not set TCP_NODELAY on a connection");
    }
}

/// Where the release build (scripts/setup.sh) writes the bundle's hashes:
/// beside the server's binary, as `cargo leptos` does.
pub fn hash_file(options: &LeptosOptions) -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join(options.hash_file.as_ref()))
}

/// The bundle's names, read once: with hashed names (the release build) from
/// the hash file.
fn asset_names(options: &LeptosOptions) -> app::assets::AssetNames {
    let hash_file = if options.hash_files {
        match hash_file(options).map(std::fs::read_to_string) {
            Some(Ok(text)) => text,
            Some(Err(e)) => {
                tracing::error!(error = %e, "hashed asset names are on but the hash file cannot be read");
                String::new()
            }
            None => String::new(),
        }
    } else {
        String::new()
    };
    app::assets::AssetNames::of(options, &hash_file)
}

/// `/pkg/`: the WASM, JS and CSS bundle. Files precompressed at build time
/// (`.br`, `.gz`) are sent to clients that accept them. With hashed names
/// (the release build) a file's name changes with its content, so browsers
/// keep it for a year; otherwise they must ask again.
fn assets(
    options: &LeptosOptions,
) -> tower_http::set_header::SetResponseHeader<
    tower_http::set_header::SetResponseHeader<ServeDir, http::HeaderValue>,
    http::HeaderValue,
> {
    let dir = std::path::Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    let caching = if options.hash_files {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let files = ServeDir::new(dir).precompressed_br().precompressed_gzip();
    let vary = SetResponseHeaderLayer::if_not_present(
        http::header::VARY,
        http::HeaderValue::from_static("accept-encoding"),
    );
    let cache = SetResponseHeaderLayer::overriding(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static(caching),
    );
    tower::Layer::layer(&cache, tower::Layer::layer(&vary, files))
}

/// The app's routes, walked once per process. Leptos stops every resource
/// in the process from loading while it walks them (a global flag), and a
/// resource first polled meanwhile never loads: walking them again for each
/// router would hang pages that another router is serving.
fn route_list() -> &'static [AxumRouteListing] {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(app::App))
}

pub fn router(state: AppState) -> Router {
    let backend: SharedBackend = Arc::new(backend::ServerBackend {
        db: state.db.clone(),
        config: state.config.clone(),
    });
    let routes = route_list().to_vec();
    let options = state.leptos_options.clone();
    let asset_names = asset_names(&options);
    let error_page_assets = asset_names.clone();
    Router::new()
        .route("/healthz", get(healthz))
        .route(
            "/api/users/v1/me/sessions",
            get(sessions::rest::list).delete(sessions::rest::delete_all),
        )
        .route(
            "/api/users/v1/me/sessions/{session_id}",
            axum::routing::delete(sessions::rest::delete_one),
        )
        .route("/api/identity/user/v1.0/me", get(export::export))
        .route("/api/events", get(events::stream::events))
        .route(
            "/api/users/v1/me/associations",
            get(associations::rest::get_all)
                .post(associations::rest::add)
                .delete(associations::rest::delete_all),
        )
        .route(
            "/api/users/v1/me/associations/{associated_user_id}",
            axum::routing::delete(associations::rest::delete_one),
        )
        .route(
            "/api/users/v2/me/authorized-apps",
            get(apps::rest::list_apps).delete(apps::rest::delete_all),
        )
        .route(
            "/api/users/v2/me/authorized-apps/{application_id}",
            get(apps::rest::get_app).delete(apps::rest::delete_app),
        )
        .route(
            "/api/users/v1/me/challenges",
            get(recovery::rest::challenges),
        )
        .route(
            "/api/users/v1/me/approval-tasks",
            get(approvals::rest::list),
        )
        .route(
            "/api/users/v1/me/approval-tasks/{task_id}",
            get(approvals::rest::get),
        )
        .route(
            "/api/users/v1/me/approval-tasks/{task_id}/state",
            axum::routing::put(approvals::rest::change_state),
        )
        .route(
            "/api/users/v1/me/challenge-answers",
            get(recovery::rest::answered)
                .post(recovery::rest::add)
                .put(recovery::rest::replace)
                .delete(recovery::rest::remove_all),
        )
        .route(
            "/api/users/v1/me/challenge-answers/{set_id}",
            axum::routing::put(recovery::rest::replace_one).delete(recovery::rest::remove_one),
        )
        .route(
            "/api/identity/consent-mgt/v1.0/consents",
            get(consent::rest::list).post(consent::rest::add),
        )
        .route(
            "/api/identity/consent-mgt/v1.0/consents/receipts/{receipt_id}",
            get(consent::rest::get).delete(consent::rest::revoke),
        )
        .route(
            "/api/identity/consent-mgt/v1.0/consents/receipts/{receipt_id}/jws",
            get(consent::rest::get_signed),
        )
        .route(
            "/api/identity/consent-mgt/v1.0/consents/purposes",
            get(consent::rest::purposes),
        )
        .route(
            "/api/identity/consent-mgt/v1.0/consents/purposes/{purpose_id}",
            get(consent::rest::purpose),
        )
        .route(
            "/api/identity/consent-mgt/v1.0/jwks",
            get(consent::rest::jwks),
        )
        .route(
            applications::rest::PATH,
            get(applications::rest::list_applications),
        )
        .route(
            "/api/users/v1/me/applications/{application_id}",
            get(applications::rest::get_application),
        )
        .route("/api/openapi.json", get(openapi::serve))
        .merge(
            Router::new()
                .route("/oauth2/token", post(oidc::rest::token))
                .route(
                    "/oauth2/userinfo",
                    get(oidc::rest::userinfo).post(oidc::rest::userinfo),
                )
                .route("/oauth2/jwks", get(oidc::rest::jwks))
                .route(
                    "/.well-known/openid-configuration",
                    get(oidc::rest::discovery),
                )
                // Set before the layer, so a preflight (OPTIONS) still
                // reaches CORS instead of the outer router's fallback.
                .method_not_allowed_fallback(api::method_not_allowed)
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    oidc::rest::cors,
                )),
        )
        .route(
            "/oauth2/authorize",
            get(oidc::rest::authorize).post(oidc::rest::authorize_form),
        )
        .route("/oidc/logout", get(oidc::rest::logout))
        .route(
            "/federation/{provider}/{intent}",
            post(federation::rest::begin),
        )
        .route(
            "/federation/{provider}/callback",
            get(federation::rest::callback),
        )
        .route(
            "/api/users/v1/me/federated-associations",
            get(associations::rest::federated).delete(associations::rest::delete_all_federated),
        )
        .route(
            "/api/users/v1/me/federated-associations/{id}",
            axum::routing::delete(associations::rest::delete_federated),
        )
        .route(
            "/api/users/v1/me/totp",
            get(mfa::rest::get_totp)
                .post(mfa::rest::post_totp)
                .delete(mfa::rest::delete_totp),
        )
        .route("/api/users/v1/me/totp/secret", get(mfa::rest::get_secret))
        .route("/api/users/v1/me/webauthn", get(mfa::rest::list_passkeys))
        .route(
            "/api/users/v1/me/webauthn/start-registration",
            get(mfa::rest::start_passkey_registration),
        )
        .route(
            "/api/users/v1/me/webauthn/finish-registration",
            post(mfa::rest::finish_passkey_registration),
        )
        .route(
            "/api/users/v1/me/webauthn/{credential_id}",
            axum::routing::delete(mfa::rest::delete_passkey),
        )
        .route(
            "/api/users/v1/me/backup-codes",
            get(mfa::rest::get_codes)
                .post(mfa::rest::post_codes)
                .delete(mfa::rest::delete_codes),
        )
        .route(
            "/api/users/v1/me/mfa/authenticators",
            get(mfa::rest::authenticators),
        )
        .route(
            "/api/users/v1/me/change-password",
            post(password::rest::change_password),
        )
        .route(
            profile::rest::ME,
            get(profile::rest::get_me)
                .put(profile::rest::put_me)
                .patch(profile::rest::patch_me),
        )
        .route(
            profile::discovery::SERVICE_PROVIDER_CONFIG,
            get(profile::discovery::service_provider_config),
        )
        .route(
            profile::discovery::RESOURCE_TYPES,
            get(profile::discovery::resource_types),
        )
        .route(
            &format!("{}/{{id}}", profile::discovery::RESOURCE_TYPES),
            get(profile::discovery::resource_type),
        )
        .route(
            profile::discovery::SCHEMAS,
            get(profile::discovery::schemas),
        )
        .route(
            &format!("{}/{{id}}", profile::discovery::SCHEMAS),
            get(profile::discovery::schema_by_id),
        )
        .route("/oauth2/revoke", post(oidc::rest::revoke))
        .route("/oauth2/introspect", post(oidc::rest::introspect))
        .nest_service(
            &format!("/{}", state.leptos_options.site_pkg_dir),
            assets(&state.leptos_options),
        )
        .leptos_routes_with_context(
            &state,
            routes,
            {
                let backend = backend.clone();
                move || provide_context(backend.clone())
            },
            move || app::shell(options.clone(), asset_names.clone()),
        )
        // Under the APIs, routing's own refusals come in the API's error
        // shape; pages keep the not-found page.
        .route("/api/{*rest}", any(api::no_such_path))
        .route("/scim2/{*rest}", any(api::no_such_path))
        .method_not_allowed_fallback(api::method_not_allowed)
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            move |options| app::shell(options, error_page_assets.clone()),
        ))
        .layer(axum::middleware::from_fn_with_state(
            backend.clone(),
            renders::preload,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            renders::run_to_completion,
        ))
        // Bodies sent without Content-Length are cut off at the same limit
        // the request guard applies to those that declare one.
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            security::MAX_BODY_BYTES as usize,
        ))
        .layer(axum::middleware::map_response(
            api::malformed_arguments_are_bad_requests,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            oidc::rest::consent_page_policy,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            federation::rest::provider_pages_policy,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::guard,
        ))
        // Pages and JSON are gzipped as they stream, at the fastest level:
        // measured with scripts/bench.sh, a brotli encoder per response (even
        // at quality 4) cost more than rendering the page. Assets arrive
        // precompressed with brotli at its highest level.
        .layer(
            CompressionLayer::new()
                .no_br()
                .gzip(true)
                .quality(CompressionLevel::Fastest),
        )
        .layer(axum::middleware::from_fn(trace::with_request_id))
        .with_state(state)
}
