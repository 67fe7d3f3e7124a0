//! The browser entry points: `hydrate` for pages the server rendered (the
//! product), and the client-only mount in `main.rs` for `trunk serve`.

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
    leptos::mount::hydrate_body(app::App);
    mark_interactive();
}
