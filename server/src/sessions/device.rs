//! Browser, operating system and kind of device, read from a user agent.

/// Browser, operating system and kind of device, read from a user agent.
pub struct Device {
    pub browser: String,
    pub os: String,
    pub kind: String,
}

pub fn describe(user_agent: &str) -> Device {
    let unknown = || "Unknown".to_string();
    match woothee::parser::Parser::new().parse(user_agent) {
        Some(found) => {
            let known = |s: &str| (!s.is_empty() && s != "UNKNOWN").then(|| s.to_string());
            let browser = known(found.name).map(|name| match known(found.version) {
                Some(version) => {
                    format!("{name} {}", version.split('.').next().unwrap_or(&version))
                }
                None => name,
            });
            let kind = match found.category {
                "pc" => "Computer",
                "smartphone" => "Phone",
                "mobilephone" => "Mobile phone",
                "appliance" => "Device",
                "crawler" => "Crawler",
                _ => "Unknown device",
            };
            Device {
                browser: browser.unwrap_or_else(unknown),
                os: known(found.os).unwrap_or_else(unknown),
                kind: kind.into(),
            }
        }
        None => Device {
            browser: unknown(),
            os: unknown(),
            kind: "Unknown device".into(),
        },
    }
}
