//! Browser, operating system and kind of device, read from a user agent.

/// Browser, operating system and kind of device, read from a user agent.
pub struct Device {
    pub browser: String,
    pub os: String,
    pub kind: String,
}

pub fn describe(user_agent: &str) -> Device {
    let found = woothee::parser::Parser::new().parse(user_agent);
    fn known(s: &str) -> Option<&str> {
        (!s.is_empty() && s != "UNKNOWN").then_some(s)
    }
    // woothee names curl, Python's urllib and the like only "HTTP Library".
    let program = found
        .as_ref()
        .is_none_or(|f| f.name == "HTTP Library" || known(f.name).is_none());
    let browser = match &found {
        Some(f) if !program => Some(match known(f.version) {
            Some(version) => format!("{} {}", f.name, major(version)),
            None => f.name.to_string(),
        }),
        _ => product(user_agent),
    };
    let kind = match found.as_ref().map(|f| f.category) {
        _ if program && browser.is_some() => "Program",
        Some("pc") => "Computer",
        Some("smartphone") => "Phone",
        Some("mobilephone") => "Mobile phone",
        Some("appliance") => "Device",
        Some("crawler") => "Crawler",
        _ => "Unknown device",
    };
    Device {
        browser: browser.unwrap_or_else(|| "Unknown browser".into()),
        os: found
            .and_then(|f| known(f.os))
            .unwrap_or("Unknown OS")
            .into(),
        kind: kind.into(),
    }
}

fn major(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
}

/// The product a program names first in its user agent (RFC 9110, 10.1.5),
/// as "curl 8" for `curl/8.5.0`; None when there is no plausible one.
fn product(user_agent: &str) -> Option<String> {
    let token = user_agent.split_whitespace().next()?;
    let (name, version) = token.split_once('/').unwrap_or((token, ""));
    let plausible = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if name.is_empty() || name.len() > 40 || !plausible(name) {
        return None;
    }
    let version = major(version);
    Some(
        if !version.is_empty() && version.chars().all(|c| c.is_ascii_digit()) {
            format!("{name} {version}")
        } else {
            name.to_string()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn title(user_agent: &str) -> String {
        let d = describe(user_agent);
        format!("{} on {} · {}", d.browser, d.os, d.kind)
    }

    #[test]
    fn browsers_are_named_with_their_system_and_device() {
        assert_eq!(
            title("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"),
            "Firefox 120 on Linux · Computer"
        );
        assert_eq!(
            title("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"),
            "Safari 17 on iPhone · Phone"
        );
    }

    #[test]
    fn programs_are_named_by_their_product() {
        assert_eq!(title("curl/8.5.0"), "curl 8 on Unknown OS · Program");
        assert_eq!(
            title("python-requests/2.31.0"),
            "python-requests 2 on Unknown OS · Program"
        );
        assert_eq!(
            title("Go-http-client/1.1"),
            "Go-http-client 1 on Unknown OS · Program"
        );
        assert_eq!(title("okhttp"), "okhttp on Unknown OS · Program");
    }

    #[test]
    fn what_cannot_be_read_is_said_to_be_unknown() {
        assert_eq!(title(""), "Unknown browser on Unknown OS · Unknown device");
        assert_eq!(
            title("<script>/1"),
            "Unknown browser on Unknown OS · Unknown device"
        );
    }
}
