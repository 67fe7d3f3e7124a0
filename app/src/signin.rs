//! Sign in and sign out.

use crate::error::AppError;
use crate::layout::{PasswordField, PasswordKind, StatusMessage};
use leptos::prelude::*;

#[server(endpoint = "sign_in")]
pub async fn sign_in(username: String, password: String) -> Result<(), AppError> {
    use crate::backend::ssr::*;
    let client = client_info()?;
    let cookie = respond(backend()?.sign_in(&username, &password, &client).await)?;
    set_cookie(cookie);
    leptos_axum::redirect("/");
    Ok(())
}

#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    use crate::backend::ssr::*;
    // Signing out without a session is not an error: the goal is already met.
    if let Ok(session) = current_session() {
        let cookie = respond(backend()?.sign_out(&session).await)?;
        set_cookie(cookie);
    }
    leptos_axum::redirect("/signin");
    Ok(())
}

/// Whether self-registration is offered.
#[server(endpoint = "registration_enabled")]
pub async fn registration_enabled() -> Result<bool, AppError> {
    Ok(crate::backend::ssr::backend()?.registration_enabled())
}

/// The name of the signed-in user, for the account menu.
#[server(endpoint = "whoami")]
pub async fn whoami() -> Result<Option<String>, AppError> {
    Ok(crate::backend::ssr::maybe_session().map(|s| s.username))
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let sign_in = ServerAction::<SignIn>::new();
    let can_register = Resource::new(|| (), |_| registration_enabled());
    let error = move || {
        sign_in
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| e.to_string())
    };
    view! {
        <main class="signin">
            <div class="card signin-card">
                <h1>"Sign in"</h1>
                <p class="intro">"Sign in to manage your account: your profile, your password and more."</p>
                <ActionForm action=sign_in attr:class="form">
                    <div class="field">
                        <label for="username">"Username"</label>
                        <input id="username" name="username" type="text" autocomplete="username" required autofocus />
                    </div>
                    <PasswordField id="password" label="Password" kind=PasswordKind::Current required=true />
                    <div class="actions">
                        <button type="submit" class="primary" disabled=move || sign_in.pending().get()>
                            {move || if sign_in.pending().get() { "Signing in…" } else { "Sign In" }}
                        </button>
                    </div>
                    {move || error().map(|e| view! { <StatusMessage error=e /> })}
                </ActionForm>
                <p class="hint"><a href="/recover">"Forgot password?"</a></p>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        can_register.await.unwrap_or(false).then(|| view! {
                            <p class="hint">"New here? "<a href="/register">"Create an account"</a></p>
                        })
                    })}
                </Suspense>
            </div>
        </main>
    }
}
