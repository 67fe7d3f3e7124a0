//! Selfserve's user interface: pages, server functions and the types the
//! browser and the server share. Each dashboard section has a module here and a
//! module of the same name in `server`.

// The compiler's default depth does not reach the type of a page whose view
// holds the whole account menu (layout's `TopBar`); erasing it with
// `into_any` instead cost the bundle about 7 KB.
#![recursion_limit = "256"]

pub mod applications;
pub mod approvals;
pub mod apps;
pub mod assets;
pub mod associations;
pub mod authorize;
pub mod backend;
pub mod consent;
pub mod entries;
pub mod error;
pub mod home;
pub mod layout;
pub mod live;
pub mod mfa;
pub mod password;
pub mod profile;
pub mod recovery;
pub mod register;
pub mod sessions;
pub mod signin;
pub mod states;
pub mod theme;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    ParamSegment, SsrMode, StaticSegment,
};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions, assets: assets::AssetNames) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_content_security_policy(&options);
    #[cfg(feature = "ssr")]
    let theme = theme::of_request();
    #[cfg(not(feature = "ssr"))]
    let theme = theme::Theme::System;
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme.as_str()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                // The release build names assets by their content hash
                // (README, "Measured"), so browsers may keep them for a year.
                <assets::Assets names=assets />
                <AutoReload options=options.clone() />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Scripts run only from our origin or with this response's nonce (Leptos'
/// hydration scripts carry it), so injected markup cannot run script.
#[cfg(feature = "ssr")]
fn set_content_security_policy(options: &LeptosOptions) {
    leptos::nonce::provide_nonce();
    let Some(nonce) = leptos::nonce::use_nonce() else {
        return;
    };
    // `cargo leptos watch` reloads the page through a websocket on its own port.
    let reload = if std::env::var("LEPTOS_WATCH").is_ok() {
        format!(" ws://{}:{}", options.site_addr.ip(), options.reload_port)
    } else {
        String::new()
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'{reload}; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    );
    if let (Some(response), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(&policy),
    ) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    view! {
        <Frame>
            // Each page is rendered once its data are in (`SsrMode::Async`)
            // and sent whole: the data are local and come in well under a
            // millisecond, and streaming them out of order after the page cost
            // a quarter more CPU per page and a second write (README, "Measured").
            <Routes fallback=NotFound>
                <Route path=StaticSegment("") ssr=SsrMode::Async view=home::HomePage />
                <Route path=StaticSegment("signin") ssr=SsrMode::Async view=signin::SignInPage />
                <Route path=(StaticSegment("signin"), StaticSegment("verify")) ssr=SsrMode::Async view=mfa::SecondFactorPage />
                <Route path=StaticSegment("signout") ssr=SsrMode::Async view=signin::SignOutPage />
                <Route path=StaticSegment("mfa") ssr=SsrMode::Async view=mfa::MfaPage />
                <Route path=StaticSegment("profile") ssr=SsrMode::Async view=profile::ProfilePage />
                <Route path=StaticSegment("password") ssr=SsrMode::Async view=password::PasswordPage />
                <Route path=StaticSegment("sessions") ssr=SsrMode::Async view=sessions::SessionsPage />
                <Route path=StaticSegment("recovery") ssr=SsrMode::Async view=recovery::RecoveryPage />
                <Route path=StaticSegment("recover") ssr=SsrMode::Async view=recovery::ForgotPasswordPage />
                <Route path=StaticSegment("approvals") ssr=SsrMode::Async view=approvals::ApprovalsPage />
                <Route path=StaticSegment("register") ssr=SsrMode::Async view=register::RegisterPage />
                <Route path=StaticSegment("consent") ssr=SsrMode::Async view=consent::ConsentPage />
                <Route path=StaticSegment("applications") ssr=SsrMode::Async view=applications::ApplicationsPage />
                <Route path=StaticSegment("apps") ssr=SsrMode::Async view=apps::AppsPage />
                <Route path=StaticSegment("associations") ssr=SsrMode::Async view=associations::AssociationsPage />
                <Route path=(StaticSegment("consent"), ParamSegment("service")) ssr=SsrMode::Async view=consent::ConsentDetailPage />
                <Route path=StaticSegment("privacy") ssr=SsrMode::Async view=consent::PrivacyPage />
                <Route path=StaticSegment("consent-required") ssr=SsrMode::Async view=consent::required::ConsentRequiredPage />
                <Route path=(StaticSegment("authorize"), StaticSegment("consent")) ssr=SsrMode::Async view=authorize::ConsentPromptPage />
            </Routes>
        </Frame>
    }
}

/// What every page has around it: its title's format, the skip link and the
/// router. `App` and the entry bundles (`entries`) share it, so a page
/// hydrates against the same markup whichever bundle the server sent.
#[component]
pub(crate) fn Frame(children: Children) -> impl IntoView {
    provide_meta_context();
    view! {
        // Each page names itself (WCAG 2.4.2): "My Profile · Selfserve".
        <Title formatter=|text: String| format!("{text} · Selfserve") text="My Account" />
        // First in the page, so the first Tab reaches it.
        <a class="skip-link" href="#main" on:click=skip_to_content>"Skip to content"</a>
        <Router>{children()}</Router>
    }
}

/// Moves focus to the page's content. The router would take the click on a
/// `#main` link as a navigation; without the client, the browser follows the
/// link itself.
fn skip_to_content(ev: leptos::ev::MouseEvent) {
    #[cfg(feature = "hydrate")]
    {
        if let Some(main) = layout::page_content() {
            ev.prevent_default();
            let _ = main.focus();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ev;
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found" />
        <main id="main" tabindex="-1" class="page">
            <h1>"Page not found"</h1>
            <p class="intro">"There is nothing at this address. " <a href="/">"Go to My Account"</a></p>
        </main>
    }
}
