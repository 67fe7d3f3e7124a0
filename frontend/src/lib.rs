//! The browser entry points: `hydrate` for pages the server rendered (the
//! product), and the client-only mount in `main.rs` for `trunk serve`.

#[cfg(any(
    all(feature = "entry-signin", feature = "entry-verify"),
    all(feature = "entry-signin", feature = "entry-home"),
    all(feature = "entry-signin", feature = "entry-consent"),
    all(feature = "entry-verify", feature = "entry-home"),
    all(feature = "entry-verify", feature = "entry-consent"),
    all(feature = "entry-home", feature = "entry-consent"),
))]
compile_error!("a bundle has one entry: build each `entry-*` feature separately");

/// Marks the page interactive, for the end-to-end tests.
pub fn mark_interactive() {
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "");
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    #[cfg(feature = "entry-signin")]
    app::entries::hydrate(app::entries::SignInEntry);
    #[cfg(feature = "entry-verify")]
    app::entries::hydrate(app::entries::SecondFactorEntry);
    #[cfg(feature = "entry-home")]
    app::entries::hydrate(app::entries::HomeEntry);
    #[cfg(feature = "entry-consent")]
    app::entries::hydrate(app::entries::ConsentPromptEntry);
    #[cfg(not(any(
        feature = "entry-signin",
        feature = "entry-verify",
        feature = "entry-home",
        feature = "entry-consent"
    )))]
    leptos::mount::hydrate_body(app::App);
    mark_interactive();
}
