//! Smaller browser bundles for the pages people land on first: the sign-in
//! page (and its second step), the home page once signed in, and the consent prompt of an
//! application they sign in to. Each hydrates the same markup as `App` (the
//! same `Frame` and page), but its router knows only its own page, so its
//! WASM holds only that page's code. The server picks the bundle by the
//! page's path (`AssetNames::bundle_for`); every other page, and any page
//! reached from these, loads with the whole app.

use crate::Frame;
use leptos::prelude::*;
use leptos_router::{
    components::{Route, Routes},
    SsrMode, StaticSegment,
};

/// Each single-page bundle: its name (the frontend's feature `entry-NAME`
/// builds it, as `/pkg/selfserve-NAME.HASH.wasm`) and its page's path.
pub const ENTRIES: [(&str, &str); 4] = [
    ("signin", "/signin"),
    ("verify", "/signin/verify"),
    ("home", "/"),
    ("consent", "/authorize/consent"),
];

/// `/signin` alone.
#[component]
pub fn SignInEntry() -> impl IntoView {
    view! {
        <Frame>
            <Routes fallback=LoadFromServer>
                <Route path=StaticSegment("signin") ssr=SsrMode::Async view=crate::signin::SignInPage />
            </Routes>
        </Frame>
    }
}

/// `/signin/verify` alone: the second step of signing in.
#[component]
pub fn SecondFactorEntry() -> impl IntoView {
    view! {
        <Frame>
            <Routes fallback=LoadFromServer>
                <Route path=(StaticSegment("signin"), StaticSegment("verify")) ssr=SsrMode::Async view=crate::mfa::SecondFactorPage />
            </Routes>
        </Frame>
    }
}

/// `/` alone.
#[component]
pub fn HomeEntry() -> impl IntoView {
    view! {
        <Frame>
            <Routes fallback=LoadFromServer>
                <Route path=StaticSegment("") ssr=SsrMode::Async view=crate::home::HomePage />
            </Routes>
        </Frame>
    }
}

/// `/authorize/consent` alone: the consent prompt, all that people who sign
/// in to an application through Selfserve see besides the sign-in page.
#[component]
pub fn ConsentPromptEntry() -> impl IntoView {
    view! {
        <Frame>
            <Routes fallback=LoadFromServer>
                <Route path=(StaticSegment("authorize"), StaticSegment("consent")) ssr=SsrMode::Async view=crate::authorize::ConsentPromptPage />
            </Routes>
        </Frame>
    }
}

/// A page this bundle does not have, reached by the router (a server
/// function's redirect, say after signing in): load it from the server, with
/// the bundle that has it.
#[component]
fn LoadFromServer() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        let location = leptos_router::hooks::use_location();
        let target = format!(
            "{}{}{}",
            location.pathname.get_untracked(),
            location.search.get_untracked(),
            location.hash.get_untracked()
        );
        let shown = window().location();
        // A redirect has already put the address in the history; a link
        // (see `follow_links_from_server`) would not have.
        if shown.pathname().ok().as_deref() == Some(location.pathname.get_untracked().as_str()) {
            let _ = shown.reload();
        } else {
            let _ = shown.assign(&target);
        }
    }
}

/// Hydrates an entry page: its router takes only links within the page.
#[cfg(feature = "hydrate")]
pub fn hydrate<N: IntoView>(entry: impl FnOnce() -> N + 'static) {
    follow_links_from_server();
    leptos::mount::hydrate_body(entry);
}

/// Links to other pages load those pages from the server rather than through
/// this bundle's router (which would only find `LoadFromServer` there). The
/// router listens for clicks on `window`; this listener, on `document`, hears
/// them first and keeps them from it, and the browser follows the link.
#[cfg(feature = "hydrate")]
fn follow_links_from_server() {
    use wasm_bindgen::{closure::Closure, JsCast};
    let keep_from_router =
        Closure::<dyn Fn(web_sys::MouseEvent)>::new(|ev: web_sys::MouseEvent| {
            let anchor = ev
                .composed_path()
                .iter()
                .find_map(|node| node.dyn_into::<web_sys::HtmlAnchorElement>().ok());
            let Some(anchor) = anchor else { return };
            // A link within the page (`#main`, `?search=`) stays the router's.
            let here = window().location().pathname().unwrap_or_default();
            if anchor.pathname() != here {
                ev.stop_propagation();
            }
        });
    // The listener lives as long as the page, so its closure is never freed.
    let _ = leptos::prelude::document().add_event_listener_with_callback(
        "click",
        keep_from_router.into_js_value().unchecked_ref(),
    );
}

#[cfg(test)]
mod tests {
    /// A page listed here but not built would get no bundle (and the whole
    /// app's); one built but not listed would never be sent.
    #[test]
    fn the_build_and_the_frontend_know_every_entry() {
        let setup = include_str!("../../scripts/setup.sh");
        let manifest = include_str!("../../frontend/Cargo.toml");
        let hydrate = include_str!("../../frontend/src/lib.rs");
        let built: Vec<&str> = setup
            .lines()
            .find_map(|line| line.strip_prefix("ENTRY_BUNDLES="))
            .expect("scripts/setup.sh sets ENTRY_BUNDLES")
            .trim_matches('"')
            .split_whitespace()
            .collect();
        let listed: Vec<&str> = super::ENTRIES.iter().map(|(name, _)| *name).collect();
        assert_eq!(built, listed);
        for name in listed {
            let feature = format!("entry-{name} = []");
            assert!(
                manifest.contains(&feature),
                "frontend/Cargo.toml lacks {feature}"
            );
            let hydrates = format!("#[cfg(feature = \"entry-{name}\")]");
            assert!(
                hydrate.contains(&hydrates),
                "frontend/src/lib.rs lacks {hydrates}"
            );
        }
    }
}
