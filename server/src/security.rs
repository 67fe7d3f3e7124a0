//! The request guard every request passes: CSRF refusal, session look-up,
//! redirects for pages that need a signed-in user, and security headers.

use crate::{sessions, AppState};
use app::backend::ssr::{ClientInfo, CurrentSession};
use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use std::net::SocketAddr;

/// A state-changing request is accepted only when the browser says it comes
/// from our own origin: `Sec-Fetch-Site: same-origin`, or (for browsers
/// without fetch metadata) an `Origin` equal to the public URL's origin.
/// Requests that show neither are refused too.
pub fn same_origin(public_origin: &str, headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    headers
        .get(header::ORIGIN)
        .is_some_and(|origin| origin.as_bytes() == public_origin.as_bytes())
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Static files need no session look-up.
fn is_asset(path: &str) -> bool {
    path.starts_with("/pkg/")
        || path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.'))
}

/// Paths of pages (server-rendered HTML), as opposed to APIs and files.
fn is_page(path: &str) -> bool {
    !is_asset(path) && !path.starts_with("/api/") && path != "/healthz"
}

const SIGN_IN_PAGE: &str = "/signin";
/// Pages for people who are not signed in.
const PUBLIC_PAGES: [&str; 3] = [SIGN_IN_PAGE, "/recover", "/register"];
/// Pages for everyone, signed in or not.
const OPEN_PAGES: [&str; 1] = ["/privacy"];

fn client_info(state: &AppState, req: &Request) -> ClientInfo {
    let forwarded = state
        .config
        .trust_forwarded_for
        .then(|| req.headers().get("x-forwarded-for"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_string());
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    ClientInfo {
        ip: forwarded.or(peer).unwrap_or_else(|| "unknown".into()),
        user_agent,
    }
}

pub async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if changes_state(req.method()) && !same_origin(&state.public_origin, req.headers()) {
        tracing::warn!(%path, "cross-origin state change refused");
        let refusal = refusal(
            &path,
            StatusCode::FORBIDDEN,
            "This request did not come from this site's own pages, so it was refused.",
        );
        return with_security_headers(refusal, false);
    }
    let client = client_info(&state, &req);
    req.extensions_mut().insert(client);

    let mut clear_cookie = false;
    if !is_asset(&path) {
        if let Some(token) = sessions::token_from_headers(&state.config, req.headers()) {
            match sessions::resolve(&state.db, &state.config, token).await {
                Ok(Some(session)) => {
                    req.extensions_mut().insert(session);
                }
                Ok(None) => clear_cookie = true,
                Err(e) => {
                    tracing::error!(error = %e, "session look-up failed");
                    let unavailable = refusal(
                        &path,
                        StatusCode::SERVICE_UNAVAILABLE,
                        "The service is temporarily unavailable. Please try again shortly.",
                    );
                    return with_security_headers(unavailable, false);
                }
            }
        }
    }
    let signed_in = req.extensions().get::<CurrentSession>().is_some();
    let page = req.method() == Method::GET && is_page(&path);

    let public = PUBLIC_PAGES.contains(&path.as_str());
    let open = OPEN_PAGES.contains(&path.as_str());
    let mut response = if open {
        next.run(req).await
    } else if page && !signed_in && !public {
        Redirect::to(SIGN_IN_PAGE).into_response()
    } else if page && signed_in && public {
        Redirect::to("/").into_response()
    } else {
        next.run(req).await
    };
    if clear_cookie {
        if let Ok(value) = HeaderValue::from_str(&sessions::clear_cookie(&state.config)) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    with_security_headers(response, page || path.starts_with("/api/"))
}

/// A refusal before any handler ran: the REST error body under `/api/`,
/// plain text elsewhere.
fn refusal(path: &str, status: StatusCode, why: &str) -> Response {
    if path.starts_with("/api/") {
        let (code, message) = match status {
            StatusCode::FORBIDDEN => ("SSV-40302", "Cross-origin request refused"),
            _ => ("SSV-50301", "Unavailable"),
        };
        crate::api::error_response(status, code, message, why.to_string())
    } else {
        (status, why.to_string()).into_response()
    }
}

fn with_security_headers(mut response: Response, private: bool) -> Response {
    let headers = response.headers_mut();
    // Pages set their own policy with a per-response nonce; everything else
    // gets the strictest one.
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
    if private {
        // Account pages and answers must not be kept by shared caches or the back button.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn origin_rules() {
        let origin = "https://id.example.com";
        assert!(same_origin(
            origin,
            &headers(&[("sec-fetch-site", "same-origin")])
        ));
        assert!(!same_origin(
            origin,
            &headers(&[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://id.example.com")
            ])
        ));
        assert!(same_origin(
            origin,
            &headers(&[("origin", "https://id.example.com")])
        ));
        assert!(!same_origin(
            origin,
            &headers(&[("origin", "https://evil.example")])
        ));
        assert!(!same_origin(origin, &headers(&[])));
    }

    #[test]
    fn pages_and_assets() {
        assert!(is_page("/profile"));
        assert!(!is_page("/pkg/selfserve.wasm"));
        assert!(!is_page("/favicon.svg"));
        assert!(!is_page("/api/sign_in"));
    }
}
