//! Page renders run to their end in a task of their own, even when the
//! browser goes away half-way. A Leptos render dropped half-way can make one
//! of its own tasks panic ("Tried to access a reactive value that has already
//! been disposed"), and could deadlock a runtime thread before the patch in
//! `vendor/reactive_graph`. Only so many run at once, so a storm of abandoned
//! loads leaves at most that many renders behind; a request still waiting
//! for its turn goes with its client, before anything started.

use crate::AppState;
use app::backend::ssr::{CurrentSession, Preloaded, SharedBackend};
use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http::{Method, StatusCode};
use std::sync::{Arc, LazyLock};
use tokio::sync::Semaphore;

/// Renders at once, per core. A page takes a few hundred microseconds of
/// CPU, so this many is more than the cores get through in a few
/// milliseconds: only a storm waits.
const PER_CORE: usize = 32;

static RENDERS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Arc::new(Semaphore::new(PER_CORE * cores))
});

pub async fn run_to_completion(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let page = req.method() == Method::GET
        && crate::security::is_page(req.uri().path(), &state.leptos_options.site_root);
    if !page {
        return next.run(req).await;
    }
    // The semaphore is never closed.
    let Ok(turn) = RENDERS.clone().acquire_owned().await else {
        return next.run(req).await;
    };
    let render = tokio::spawn(crate::trace::carry(async move {
        let response = next.run(req).await;
        drop(turn);
        response
    }));
    match render.await {
        Ok(response) => response,
        Err(error) => {
            tracing::error!(%error, "a page render failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Reads a page's data before the page renders and puts it into the request
/// (app's `Preloaded`, taken by `read_before_render`), so the page renders at
/// once, without a resource and its suspense (README, "Measured"). Pages
/// without an entry here read their data through resources.
pub async fn preload(
    State(backend): State<SharedBackend>,
    mut req: Request,
    next: Next,
) -> Response {
    // Every request passes here: only the preloaded pages copy the session.
    let page = match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => PreloadedPage::Home,
        (&Method::GET, "/sessions") => PreloadedPage::Sessions,
        _ => return next.run(req).await,
    };
    if let Some(session) = req.extensions().get::<CurrentSession>().cloned() {
        match page {
            PreloadedPage::Home => keep(&mut req, backend.account_overview(&session).await),
            PreloadedPage::Sessions => keep(&mut req, backend.list_sessions(&session).await),
        }
    }
    next.run(req).await
}

enum PreloadedPage {
    Home,
    Sessions,
}

fn keep<T: Send + Sync + 'static>(req: &mut Request, read: T) {
    req.extensions_mut().insert(Preloaded(Arc::new(read)));
}
