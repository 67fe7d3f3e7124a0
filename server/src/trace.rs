//! One id per request: every log line of a request carries it (a tracing
//! span), the response names it in `X-Request-Id`, and an error body quotes
//! it as `traceId`, so a user's report finds the server's log lines.

use axum::{extract::Request, middleware::Next, response::Response};
use http::HeaderValue;
use rand::RngCore;
use std::time::Instant;
use tracing::Instrument;

tokio::task_local! {
    static REQUEST_ID: String;
}

fn new_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The id of the request being served; a fresh one outside a request.
pub fn request_id() -> String {
    REQUEST_ID
        .try_with(String::clone)
        .unwrap_or_else(|_| new_id())
}

/// `future` with the current request's id and span, to run as a task of
/// its own.
pub fn carry<F: std::future::Future>(future: F) -> impl std::future::Future<Output = F::Output> {
    REQUEST_ID.scope(request_id(), future.in_current_span())
}

/// Gives the request its id, logs its outcome and names the id in the answer.
pub async fn with_request_id(req: Request, next: Next) -> Response {
    let id = new_id();
    let method = req.method().clone();
    // The path only: a query string may hold a secret someone typed.
    let path = req.uri().path().to_string();
    let span = tracing::info_span!("request", id = %id, %method, %path);
    let started = Instant::now();
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(req).instrument(span.clone()))
        .await;
    let status = response.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(status, ms, "request failed");
        } else {
            tracing::info!(status, ms, "request served");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
