//! What makes an application an OpenID Connect client: its redirect URIs,
//! whether it can keep a secret, the scopes it may ask for. Parsed once, so
//! an application in the configuration file and one added through the CLI
//! hold the same checked values.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A client id: the application's id. Letters, digits, `_` and `-`, at most
/// 64: it travels in URLs and logs unescaped, and appears in page addresses
/// (`/consent/<id>`, where a dot would make it look like a file).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let valid = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
        if !valid {
            return Err(format!(
                "\"{raw}\" is not a valid client id: use 1 to 64 letters, digits, '_' or '-'"
            ));
        }
        if raw == super::consent::SYSTEM_SERVICE {
            return Err(format!(
                "\"{raw}\" is Selfserve's own service and cannot be a client id"
            ));
        }
        Ok(ClientId(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientId {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        ClientId::parse(&raw)
    }
}

impl From<ClientId> for String {
    fn from(id: ClientId) -> String {
        id.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A registered redirect URI. Requests must name it exactly (string
/// comparison, no wildcards, RFC 9700 section 4.1.3), so it is kept as
/// written. It must be absolute, without a fragment or user information, and
/// https, or http on a loopback host only (RFC 8252 section 7.3: native and
/// development applications); anything else would send codes in the clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RedirectUri(String);

impl RedirectUri {
    pub fn parse(raw: &str) -> Result<Self, String> {
        web_address(raw, "redirect URI", Fragment::Forbidden)?;
        Ok(RedirectUri(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RedirectUri {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        RedirectUri::parse(&raw)
    }
}

impl From<RedirectUri> for String {
    fn from(uri: RedirectUri) -> String {
        uri.0
    }
}

/// Where users open an application (its home page), listed on the
/// Applications page as a link. Checked as a redirect URI is (https, or http
/// on a loopback host; no user information): the link leaves Selfserve with
/// the user on it, so it must not downgrade them to plain http or carry a
/// credential. A fragment is kept (single-page applications route by it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccessUrl(String);

impl AccessUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        web_address(raw, "access URL", Fragment::Allowed)?;
        Ok(AccessUrl(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccessUrl {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        AccessUrl::parse(&raw)
    }
}

impl From<AccessUrl> for String {
    fn from(url: AccessUrl) -> String {
        url.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fragment {
    Allowed,
    Forbidden,
}

/// The checks an address of an application passes: absolute, https or http
/// on a loopback host, no user information; `what` names it in the message.
fn web_address(raw: &str, what: &str, fragment: Fragment) -> Result<(), String> {
    let problem = |why: &str| format!("{what} \"{raw}\" {why}");
    let url = url::Url::parse(raw).map_err(|e| problem(&format!("is not a URL ({e})")))?;
    if fragment == Fragment::Forbidden && url.fragment().is_some() {
        return Err(problem("has a fragment (#...), which OAuth forbids"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(problem("holds user information"));
    }
    let loopback = matches!(
        url.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(problem(
            "uses http: only https, or http on localhost, 127.0.0.1 or [::1]",
        )),
        other => Err(problem(&format!(
            "uses the scheme {other}: only https, or http on a loopback host"
        ))),
    }
}

/// A scope Selfserve can grant: `openid`, the OpenID Connect claim groups,
/// and `offline_access` (refresh tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Scope {
    OpenId,
    Profile,
    Email,
    Phone,
    Address,
    OfflineAccess,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::OpenId,
        Scope::Profile,
        Scope::Email,
        Scope::Phone,
        Scope::Address,
        Scope::OfflineAccess,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::OpenId => "openid",
            Scope::Profile => "profile",
            Scope::Email => "email",
            Scope::Phone => "phone",
            Scope::Address => "address",
            Scope::OfflineAccess => "offline_access",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == raw)
            .ok_or_else(|| {
                let known: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown scope \"{raw}\" (known: {})", known.join(", "))
            })
    }
}

impl TryFrom<String> for Scope {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Scope::parse(&raw)
    }
}

impl From<Scope> for String {
    fn from(scope: Scope) -> String {
        scope.as_str().to_string()
    }
}

pub fn default_scopes() -> Vec<Scope> {
    vec![Scope::OpenId, Scope::Profile, Scope::Email]
}

/// The checks every client passes, wherever it is defined.
pub fn check_client(redirect_uris: &[RedirectUri], scopes: &[Scope]) -> Result<(), &'static str> {
    if redirect_uris.is_empty() {
        return Err("a client needs at least one redirect URI");
    }
    if !scopes.contains(&Scope::OpenId) {
        return Err("a client's scopes must include openid");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_https_or_loopback_http_without_fragments() {
        for good in [
            "https://app.example/callback",
            "https://app.example/cb?tenant=1",
            "http://127.0.0.1:8080/cb",
            "http://localhost/cb",
            "http://[::1]:9000/cb",
        ] {
            assert!(RedirectUri::parse(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("http://app.example/cb", "uses http"),
            ("https://app.example/cb#x", "fragment"),
            ("https://user:pw@app.example/cb", "user information"),
            ("javascript:alert(1)", "scheme javascript"),
            ("/relative", "not a URL"),
        ] {
            let error = RedirectUri::parse(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }

    #[test]
    fn access_urls_are_https_or_loopback_http_without_credentials() {
        for good in [
            "https://shop.example/",
            "https://app.example/#/home",
            "http://localhost:3000/",
        ] {
            assert!(AccessUrl::parse(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("http://shop.example/", "uses http"),
            ("https://user:pw@shop.example/", "user information"),
            ("javascript:alert(1)", "scheme javascript"),
            ("data:text/html,hi", "scheme data"),
            ("shop.example", "not a URL"),
        ] {
            let error = AccessUrl::parse(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }

    #[test]
    fn client_ids_and_scopes_are_checked() {
        assert!(ClientId::parse("shop-app_1").is_ok());
        assert!(ClientId::parse("shop.app").is_err());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse("has space").is_err());
        assert!(ClientId::parse("system").is_err());
        assert_eq!(Scope::parse("email"), Ok(Scope::Email));
        assert!(Scope::parse("admin").unwrap_err().contains("known: openid"));
        let uri = RedirectUri::parse("https://a.example/cb").unwrap();
        assert!(check_client(std::slice::from_ref(&uri), &[Scope::OpenId]).is_ok());
        assert!(check_client(&[], &[Scope::OpenId]).is_err());
        assert!(check_client(&[uri], &[Scope::Email]).is_err());
    }
}
