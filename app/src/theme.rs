//! The colour theme: the system's (following `prefers-color-scheme`), light
//! or dark. The choice lives in a cookie, so the server renders the chosen
//! theme on the first paint, with no flash.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

/// The cookie that holds the choice.
pub const THEME_COOKIE: &str = "theme";

impl Theme {
    pub const ALL: [Theme; 3] = [Theme::System, Theme::Light, Theme::Dark];

    pub fn as_str(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Theme::System => "System",
            Theme::Light => "Light",
            Theme::Dark => "Dark",
        }
    }

    /// Anything else (a missing or hand-made cookie) is the system's.
    pub fn parse(raw: &str) -> Theme {
        Theme::ALL
            .into_iter()
            .find(|t| t.as_str() == raw)
            .unwrap_or_default()
    }

    /// The theme a request's `Cookie` headers name.
    pub fn from_cookies<'a>(headers: impl IntoIterator<Item = &'a str>) -> Theme {
        headers
            .into_iter()
            .flat_map(|h| h.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == THEME_COOKIE)
            .map(|(_, value)| Theme::parse(value))
            .unwrap_or_default()
    }
}

/// The theme of the request being rendered.
#[cfg(feature = "ssr")]
pub fn of_request() -> Theme {
    crate::backend::ssr::with_request(|parts| {
        Theme::from_cookies(
            parts
                .headers
                .get_all(http::header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        )
    })
    .unwrap_or_default()
}

/// Remembers the choice; returns it for the page to apply at once.
#[server(endpoint = "set_theme")]
pub async fn set_theme(theme: String) -> Result<Theme, AppError> {
    use crate::backend::ssr::*;
    let theme = Theme::parse(&theme);
    set_cookie(backend()?.theme_cookie(theme));
    Ok(theme)
}

/// Applies a theme to the open page (the server renders it from the cookie
/// on the next load).
pub fn apply(theme: Theme) {
    #[cfg(feature = "hydrate")]
    if let Some(root) = document().document_element() {
        let _ = root.set_attribute("data-theme", theme.as_str());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = theme;
}

/// The theme choice in the account menu: three radio-like items, the submit
/// buttons of one plain form (the pressed one sends its `theme`). Without the
/// client the browser posts it and the server sends the page back in the new
/// theme; the hydrated client sends it itself and applies the answer. A plain
/// form, not an `ActionForm`: an action costs the server a share of every
/// page (README, "The top bar").
#[component]
pub fn ThemeChoice(current: Theme) -> impl IntoView {
    use leptos::server_fn::ServerFn as _;
    let chosen = RwSignal::new(current);
    let choose = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            let Some(raw) = crate::layout::take_submit(&ev) else {
                return;
            };
            leptos::task::spawn_local(async move {
                if let Ok(theme) = set_theme(raw).await {
                    chosen.set(theme);
                    apply(theme);
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    let items = Theme::ALL
        .into_iter()
        .map(|theme| {
            view! {
                <button type="submit" name="theme" value=theme.as_str() role="menuitemradio"
                    aria-checked=move || (chosen.get() == theme).to_string()>
                    {theme.label()}
                </button>
            }
        })
        .collect_view();
    view! {
        <div class="theme-choice" role="group" aria-label="Theme">
            <p class="menu-label" aria-hidden="true">"Theme"</p>
            <form action=SetTheme::url() method="post" on:submit=choose>{items}</form>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_names_the_theme_and_anything_else_is_the_systems() {
        assert_eq!(Theme::from_cookies(["a=1; theme=dark"]), Theme::Dark);
        assert_eq!(Theme::from_cookies(["theme=light", "b=2"]), Theme::Light);
        assert_eq!(Theme::from_cookies(["theme=<script>"]), Theme::System);
        assert_eq!(Theme::from_cookies(["themes=dark"]), Theme::System);
        assert_eq!(Theme::from_cookies([]), Theme::System);
    }
}
