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

/// Static files need no session look-up: the bundle under `/pkg/`, and the
/// files of `public/` (copied to the site root), which sit at the top level.
/// Anything else with a dot in it (`/api/.../tasks/1.0`) is not a file.
fn is_asset(path: &str, site_root: &str) -> bool {
    if path.starts_with("/pkg/") {
        return true;
    }
    let name = path.trim_start_matches('/');
    // Files have an extension; checking for the dot first keeps page paths
    // (/profile, /sessions) from costing a file-system look-up per request.
    name.contains('.')
        && !name.contains('/')
        && !name.starts_with('.')
        && std::path::Path::new(site_root).join(name).is_file()
}

/// Paths of pages (server-rendered HTML), as opposed to APIs and files.
pub fn is_page(path: &str, site_root: &str) -> bool {
    !is_asset(path, site_root) && !is_api(path) && path != "/healthz"
}

/// REST endpoints: WSO2's under `/api/`, and SCIM's `/scim2/`.
fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/scim2/")
}

/// Bodies larger than this are refused before they are read: no form or
/// REST request of Selfserve's comes near it.
pub const MAX_BODY_BYTES: u64 = 256 * 1024;

const SIGN_IN_PAGE: &str = "/signin";
/// Pages for people who are not signed in.
const PUBLIC_PAGES: [&str; 3] = [SIGN_IN_PAGE, "/recover", "/register"];
/// Pages for everyone, signed in or not.
/// The second step of sign-in: reached signed out (after a password or a
/// provider) or signed in (a switch into an account with a second factor).
const OPEN_PAGES: [&str; 2] = ["/privacy", "/signin/verify"];
/// A provider's answer arrives signed in (a link) or not (a sign-in).
const FEDERATION: &str = "/federation/";

const AUTHORIZE: &str = "/oauth2/authorize";
/// RP-initiated logout: a signed-out browser is sent on, not to sign-in.
const LOGOUT: &str = "/oidc/logout";

/// The sign-in page's `return_to`, when it is the authorization endpoint's.
fn return_address(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(name, _)| name == "return_to")
        .map(|(_, value)| value.into_owned())
        .filter(|path| app::authorize::is_return_address(path))
}

/// The OpenID Connect endpoints that applications call directly. They carry
/// client credentials or bearer tokens, never the session cookie: no origin
/// check (a server calls them; there is no ambient authority to abuse) and
/// no session look-up (a cookie sent along must not stand for a token).
const PROTOCOL_ENDPOINTS: [&str; 6] = [
    "/.well-known/openid-configuration",
    "/oauth2/token",
    "/oauth2/userinfo",
    "/oauth2/revoke",
    "/oauth2/introspect",
    "/oauth2/jwks",
];

/// The client's address as the trusted proxies saw it: each trusted proxy
/// appends the address it received from, so the entry `trusted_proxies` from
/// the right is the one the nearest untrusted hop cannot forge. Entries to
/// its left are the client's own claims and are ignored; an entry that is not
/// an IP address is not believed at all.
pub fn forwarded_client(headers: &HeaderMap, trusted_proxies: usize) -> Option<std::net::IpAddr> {
    if trusted_proxies == 0 {
        return None;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let index = entries.len().checked_sub(trusted_proxies)?;
    entries.get(index)?.parse().ok()
}

fn client_info(state: &AppState, req: &Request) -> ClientInfo {
    let forwarded =
        forwarded_client(req.headers(), state.config.trusted_proxies()).map(|ip| ip.to_string());
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
    let site_root = state.leptos_options.site_root.clone();
    let too_large = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|length| length > MAX_BODY_BYTES);
    if too_large {
        let refusal = refusal(
            &path,
            StatusCode::PAYLOAD_TOO_LARGE,
            "The request is larger than this service accepts (256 KiB). Nothing was changed.",
        );
        return with_security_headers(refusal, false, state.config.secure_cookies());
    }
    let protocol = PROTOCOL_ENDPOINTS.contains(&path.as_str());
    // An application's page may post its authorization request here (the
    // form of OpenID Connect Core 3.1.2.1): it changes nothing but where the
    // browser goes next, to a redirect URI the client registered, and a
    // cross-site post carries no session cookie.
    if changes_state(req.method())
        && !protocol
        && path != AUTHORIZE
        && !same_origin(&state.public_origin, req.headers())
    {
        tracing::warn!(%path, "cross-origin state change refused");
        let refusal = refusal(
            &path,
            StatusCode::FORBIDDEN,
            "This request did not come from this site's own pages, so it was refused.",
        );
        return with_security_headers(refusal, false, state.config.secure_cookies());
    }
    let client = client_info(&state, &req);
    req.extensions_mut().insert(client);

    let mut clear_cookie = false;
    if !is_asset(&path, &site_root) && !protocol {
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
                    return with_security_headers(
                        unavailable,
                        false,
                        state.config.secure_cookies(),
                    );
                }
            }
        }
    }
    let signed_in_user = req.extensions().get::<CurrentSession>().map(|s| s.user_id);
    let signed_in = signed_in_user.is_some();
    // The authorization endpoint sends a signed-out browser to sign-in itself,
    // with the way back; RP-initiated logout sends it on.
    let page = req.method() == Method::GET
        && !protocol
        && path != AUTHORIZE
        && path != LOGOUT
        && is_page(&path, &site_root);

    let public = PUBLIC_PAGES.contains(&path.as_str());
    let open = OPEN_PAGES.contains(&path.as_str()) || path.starts_with(FEDERATION);
    let mut response = if open {
        next.run(req).await
    } else if page && path == "/" && system_consent_lapsed(&state, signed_in_user).await {
        // The dashboard opens only once Selfserve's own consent is renewed.
        Redirect::to("/consent-required").into_response()
    } else if page && !signed_in && !public {
        Redirect::to(SIGN_IN_PAGE).into_response()
    } else if page && signed_in && public {
        // Signed in already (another tab, the back button): on to the
        // application's request the sign-in page was to return to, if any.
        let back = return_address(req.uri().query());
        Redirect::to(back.as_deref().unwrap_or("/")).into_response()
    } else {
        next.run(req).await
    };
    // A stale cookie is cleared, unless the answer sets a new session (a
    // sign-in with a stale cookie): clearing after it would sign straight out.
    let cookie_name = sessions::cookie_name(&state.config);
    let sets_session = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| {
            v.as_bytes()
                .starts_with(format!("{cookie_name}=").as_bytes())
        });
    if clear_cookie && !sets_session {
        if let Ok(value) = HeaderValue::from_str(&sessions::clear_cookie(&state.config)) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    with_security_headers(
        response,
        page || is_api(&path),
        state.config.secure_cookies(),
    )
}

/// Whether the signed-in user's consent to Selfserve's own purposes lapsed
/// (revoked or ended); a failed look-up does not keep them out.
async fn system_consent_lapsed(state: &AppState, user_id: Option<i64>) -> bool {
    let Some(user_id) = user_id else {
        return false;
    };
    crate::consent::system_consent_needed(&state.db, &state.config, user_id)
        .await
        .unwrap_or_else(|error| {
            tracing::error!(%error, "system consent look-up failed");
            false
        })
}

/// A refusal before any handler ran (or by routing itself): the REST error
/// body under `/api/`, SCIM's under `/scim2/`, plain text elsewhere.
pub(crate) fn refusal(path: &str, status: StatusCode, why: &str) -> Response {
    if path.starts_with("/scim2/") {
        crate::profile::rest::ScimError::new(status, why).into_response()
    } else if path.starts_with("/api/") {
        let (code, message) = match status {
            StatusCode::FORBIDDEN => ("SSV-40302", "Cross-origin request refused"),
            StatusCode::PAYLOAD_TOO_LARGE => ("SSV-41301", "Request too large"),
            StatusCode::NOT_FOUND => ("SSV-40401", "Not found"),
            StatusCode::METHOD_NOT_ALLOWED => ("SSV-40501", "Method not allowed"),
            _ => ("SSV-50301", "Unavailable"),
        };
        crate::api::error_response(status, code, message, why.to_string())
    } else {
        (status, why.to_string()).into_response()
    }
}

fn with_security_headers(mut response: Response, private: bool, https: bool) -> Response {
    let headers = response.headers_mut();
    if https {
        // Served over https: browsers must never fall back to plain http.
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
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

/// Lets the page's forms lead to these origins too (its `form-action`;
/// browsers hold a form's redirects to it as well).
pub fn allow_form_targets(response: &mut Response, origins: &[String]) {
    if origins.is_empty() {
        return;
    }
    let headers = response.headers_mut();
    let widened = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .map(|policy| {
            policy.replace(
                "form-action 'self'",
                &format!("form-action 'self' {}", origins.join(" ")),
            )
        })
        .and_then(|policy| HeaderValue::from_str(&policy).ok());
    if let Some(policy) = widened {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
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
        let site = std::env::temp_dir().join(format!("selfserve-site-{}", std::process::id()));
        std::fs::create_dir_all(&site).unwrap();
        std::fs::write(site.join("favicon.svg"), "<svg/>").unwrap();
        let root = site.to_string_lossy();
        assert!(is_page("/profile", &root));
        assert!(!is_page("/pkg/selfserve.wasm", &root));
        assert!(!is_page("/favicon.svg", &root));
        assert!(!is_page("/api/sign_in", &root));
        // A dot does not make a file: these need the session.
        assert!(!is_asset("/api/users/v1/me/approval-tasks/1.0", &root));
        assert!(!is_asset("/missing.svg", &root));
        assert!(!is_asset("/../etc/passwd", &root));
        std::fs::remove_dir_all(&site).unwrap();
    }

    #[test]
    fn the_client_address_is_the_rightmost_untrusted_entry() {
        let forwarded = |value: &'static str, trusted| {
            forwarded_client(&headers(&[("x-forwarded-for", value)]), trusted)
                .map(|ip| ip.to_string())
        };
        // The client claims 6.6.6.6; the trusted proxy appended 203.0.113.7.
        assert_eq!(
            forwarded("6.6.6.6, 203.0.113.7", 1).as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(
            forwarded("6.6.6.6, 203.0.113.7, 10.0.0.2", 2).as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(forwarded("203.0.113.7", 0), None, "nothing trusted");
        assert_eq!(forwarded("<script>", 1), None, "not an address");
        assert_eq!(
            forwarded("203.0.113.7", 2),
            None,
            "fewer entries than proxies"
        );
        assert_eq!(forwarded("2001:db8::1", 1).as_deref(), Some("2001:db8::1"));
    }
}
