//! The frame every signed-in page shares: the top bar with the account menu,
//! the page heading and the status messages.

use crate::signin::{whoami, SignOut};
use leptos::prelude::*;

#[component]
pub fn TopBar() -> impl IntoView {
    let user = Resource::new(|| (), |_| whoami());
    let sign_out = ServerAction::<SignOut>::new();
    view! {
        <header class="topbar">
            <a href="/" class="brand">"Selfserve" <span>"My Account"</span></a>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    user.await.ok().flatten().map(|name| view! {
                        <details class="account-menu">
                            <summary aria-label="Account menu">
                                <span class="avatar" aria-hidden="true">{initial(&name)}</span>
                                <span class="account-name">{name.clone()}</span>
                            </summary>
                            <div class="menu" role="menu">
                                <p class="menu-user">"Signed in as " <strong>{name.clone()}</strong></p>
                                <ActionForm action=sign_out>
                                    <button type="submit" role="menuitem">"Sign out"</button>
                                </ActionForm>
                            </div>
                        </details>
                    })
                })}
            </Suspense>
        </header>
    }
}

fn initial(name: &str) -> String {
    name.chars()
        .next()
        .map(|c| c.to_uppercase().to_string())
        .unwrap_or_default()
}

/// A dashboard page: back link, heading, one-line explanation, content.
#[component]
pub fn Page(title: &'static str, intro: &'static str, children: Children) -> impl IntoView {
    view! {
        <TopBar />
        <main class="page">
            <nav class="breadcrumb" aria-label="Breadcrumb"><a href="/">"← My Account"</a></nav>
            <h1>{title}</h1>
            <p class="intro">{intro}</p>
            {children()}
        </main>
    }
}

/// A success or error banner, announced to screen readers.
#[component]
pub fn StatusMessage(
    #[prop(optional, into)] success: Option<String>,
    #[prop(optional, into)] error: Option<String>,
) -> impl IntoView {
    match (success, error) {
        (Some(text), _) => view! { <p class="status success" role="status">{text}</p> }.into_any(),
        (None, Some(text)) => view! { <p class="status error" role="alert">{text}</p> }.into_any(),
        (None, None) => ().into_any(),
    }
}

/// The outcome of a page's latest action, if any: a success or an error banner.
#[component]
pub fn Notice(notice: RwSignal<Option<Result<String, String>>>) -> impl IntoView {
    move || {
        notice.get().map(|n| match n {
            Ok(text) => view! { <StatusMessage success=text /> }.into_any(),
            Err(text) => view! { <StatusMessage error=text /> }.into_any(),
        })
    }
}
