//! Sign in and sign out.

use crate::error::AppError;
use crate::layout::{CardPage, PasswordField, PasswordKind, StatusMessage};
use leptos::either::Either;
use leptos::prelude::*;

/// Signs in; then to My Account, or back to the application's authorization
/// request that sent the user here (`return_to`), which the page opens with a
/// full navigation (the authorization endpoint is not a page of this app).
#[server(endpoint = "sign_in")]
pub async fn sign_in(
    username: String,
    password: String,
    #[server(default)] return_to: Option<String>,
) -> Result<Option<String>, AppError> {
    use crate::backend::ssr::*;
    let client = client_info()?;
    let pending = request_cookie(crate::associations::PENDING_IDENTITY_COOKIE);
    let return_to = return_to.filter(|path| crate::authorize::is_return_address(path));
    let step = respond(
        backend()?
            .sign_in(
                &username,
                &password,
                &client,
                pending.as_deref(),
                return_to.as_deref(),
            )
            .await,
    )?;
    match step {
        SignInStep::SignedIn(signed_in) => Ok(after_sign_in(signed_in)),
        SignInStep::SecondFactor(cookie) => {
            set_cookie(cookie);
            leptos_axum::redirect("/signin/verify");
            Ok(None)
        }
    }
}

/// Once signed in (after the password, or the second factor): the session's
/// cookie; then back to the application's authorization request, which the
/// page opens with a full navigation (returned), or on to My Account.
#[cfg(feature = "ssr")]
pub fn after_sign_in(signed_in: crate::backend::ssr::SignedIn) -> Option<String> {
    let (next, to_application) = start_session(signed_in);
    if to_application {
        return Some(next);
    }
    leptos_axum::redirect(&next);
    None
}

/// Sets the new session's cookies; where the browser goes next, and whether
/// that is an application's authorization request.
#[cfg(feature = "ssr")]
pub fn start_session(signed_in: crate::backend::ssr::SignedIn) -> (String, bool) {
    use crate::backend::ssr::*;
    set_cookie(signed_in.cookie);
    let linked = signed_in.linked.map(|(provider, forget)| {
        set_cookie(forget);
        provider
    });
    if let Some(forget) = signed_in.forget_challenge {
        set_cookie(forget);
    }
    if let Some(path) = signed_in.return_to {
        return (path, true);
    }
    // The dashboard opens once Selfserve's own consent, if it lapsed, is
    // given again; a link made at this sign-in is shown where identities are
    // listed.
    let next = if signed_in.consent_required {
        "/consent-required".to_string()
    } else if let Some(provider) = linked {
        format!(
            "/associations?federation={}&provider={provider}",
            crate::associations::FederationOutcome::Linked.code()
        )
    } else {
        "/".to_string()
    };
    (next, false)
}

/// The application a sign-in started from, to name it on the page.
#[server(endpoint = "signing_in_to")]
pub async fn signing_in_to(return_to: String) -> Result<Option<String>, AppError> {
    if !crate::authorize::is_return_address(&return_to) {
        return Ok(None);
    }
    Ok(crate::backend::ssr::backend()?
        .signing_in_to(&return_to)
        .await)
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

/// Who is signed in, as the account menu shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Me {
    pub username: String,
    /// The menu offers to switch to them (and reads their names) only then.
    pub has_associated_accounts: bool,
    pub theme: crate::theme::Theme,
}

/// The request's user, from its session and theme cookie: no query.
#[cfg(feature = "ssr")]
pub fn me_of_request() -> Option<Me> {
    crate::backend::ssr::maybe_session().map(|session| Me {
        username: session.username,
        has_associated_accounts: session.has_associated_accounts,
        theme: crate::theme::of_request(),
    })
}

#[server(endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Me>, AppError> {
    Ok(me_of_request())
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let sign_in = ServerAction::<SignIn>::new();
    let can_register = Resource::new(|| (), |_| registration_enabled());
    let providers = Resource::new(|| (), |_| crate::associations::identity_providers());
    let waiting = Resource::new(|| (), |_| crate::associations::waiting_identity());
    let passkeys = Resource::new(|| (), |_| crate::mfa::passkeys::passkey_sign_in_offered());
    let query = leptos_router::hooks::use_query_map();
    let return_to = move || query.with(|q| q.get("return_to")).unwrap_or_default();
    let application = Resource::new(return_to, |path| async move {
        if path.is_empty() {
            return None;
        }
        signing_in_to(path).await.ok().flatten()
    });
    // Back to the application's request: a full navigation, as the
    // authorization endpoint is the server's, not a page of this app.
    Effect::new(move |_| {
        if let Some(Ok(Some(path))) = sign_in.value().get() {
            let _ = window().location().set_href(&path);
        }
    });
    let error = move || {
        sign_in
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| e.to_string())
    };
    view! {
        <CardPage title="Sign in">
            <Suspense fallback=|| view! { <p class="intro">"Sign in to manage your account: your profile, your password and more."</p> }>
                {move || Suspend::new(async move {
                    match application.await {
                        Some(name) => Either::Left(view! {
                            <p class="intro">"Sign in to continue to "<strong>{name}</strong>"."</p>
                        }),
                        None => Either::Right(view! {
                            <p class="intro">"Sign in to manage your account: your profile, your password and more."</p>
                        }),
                    }
                })}
            </Suspense>
            {move || (query.with(|q| q.get("signed_out")).as_deref() == Some("consent")).then(|| view! {
                <p class="status" role="status">
                    "You were signed out, as you did not allow Selfserve to use the details it needs \
                     to run your account. Sign in again to allow it."
                </p>
            })}
            {move || (query.with(|q| q.get("account")).as_deref() == Some("deleted")).then(|| view! {
                <p class="status success" role="status">
                    "Your account was deleted, and you were signed out everywhere."
                </p>
            })}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let providers = providers.await.unwrap_or_default();
                    let outcome = query.with(|q| crate::associations::federation_notice(q, &providers));
                    let waiting = waiting.await.ok().flatten();
                    view! {
                        {outcome.map(|o| match o {
                            Ok(text) => view! { <StatusMessage success=text /> }.into_any(),
                            Err(text) => view! { <StatusMessage error=text /> }.into_any(),
                        })}
                        {waiting.map(|w| view! {
                            <p class="status" role="status" data-testid="pending-identity">
                                "Signing in here links "<strong>{w.display.clone()}</strong>" at "{w.provider_name.clone()}
                                " to your account, so that it signs you in next time."
                            </p>
                            {w.can_sign_up.then(|| view! {
                                <p class="hint">"No account here yet? "
                                    <a href="/register?with=identity">"Create an account with "{w.provider_name.clone()}</a></p>
                            })}
                        })}
                    }
                })}
            </Suspense>
            <ActionForm action=sign_in attr:class="form">
                <input type="hidden" name="return_to" value=return_to />
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
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let providers = providers.await.unwrap_or_default();
                    let passkeys = passkeys.await.unwrap_or(false);
                    (passkeys || !providers.is_empty()).then(|| view! {
                        <div class="providers" role="group" aria-label="Other ways to sign in">
                            <p class="divider"><span>"or"</span></p>
                            <crate::mfa::passkeys::PasskeySignIn offered=passkeys return_to=Signal::derive(return_to) />
                            <crate::associations::ProviderButtons providers intent="signin" label="Sign in with "
                                class="secondary wide" return_to=Signal::derive(return_to) />
                        </div>
                    })
                })}
            </Suspense>
            <p class="hint"><a href="/recover">"Forgot password?"</a></p>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    can_register.await.unwrap_or(false).then(|| view! {
                        <p class="hint">"New here? "<a href="/register">"Create an account"</a></p>
                    })
                })}
            </Suspense>
        </CardPage>
    }
}

/// The application asking to sign the user out (RP-initiated logout), if
/// the request names one; refused when the request is not valid.
#[server(endpoint = "logout_prompt")]
pub async fn logout_prompt(query: String) -> Result<Option<String>, AppError> {
    use crate::backend::ssr::*;
    current_session()?;
    backend()?.logout_prompt(&query).await
}

/// Signs out as an application asked, once the user confirms; then back to
/// the application's registered address, or to sign-in.
#[server(endpoint = "confirm_logout")]
pub async fn confirm_logout(query: String, decision: String) -> Result<(), AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    if decision != "sign_out" {
        leptos_axum::redirect("/");
        return Ok(());
    }
    let (cookie, back) = backend()?.confirm_logout(&session, &query).await?;
    set_cookie(cookie);
    leptos_axum::redirect(&back);
    Ok(())
}

#[component]
pub fn SignOutPage() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let query = move || location.search.get().trim_start_matches('?').to_string();
    let prompt = Resource::new(query, logout_prompt);
    view! {
        <leptos_meta::Title text="Sign out" />
        <main id="main" tabindex="-1" class="signin">
            <div class="card signin-card">
                <h1>"Sign out of Selfserve?"</h1>
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match prompt.await {
                            Ok(application) => {
                                let asker = application
                                    .map(|name| format!("{name} asks you to sign out."))
                                    .unwrap_or_else(|| "An application asks you to sign out.".into());
                                Either::Left(view! {
                                    <p class="intro">{asker}" Signing out ends this session of My Account and \
                                        what the applications you signed in to here received through it."</p>
                                    // A plain form: it may leave for the application's address.
                                    <form method="post" action="/api/confirm_logout" class="form">
                                        <input type="hidden" name="query" value=query() />
                                        <div class="actions">
                                            <button type="submit" name="decision" value="sign_out" class="primary">"Sign out"</button>
                                            <button type="submit" name="decision" value="stay">"Stay signed in"</button>
                                        </div>
                                    </form>
                                })
                            }
                            Err(error) => Either::Right(view! {
                                <p class="status error" role="alert">{error.to_string()}</p>
                                <p class="hint"><a href="/">"Go to My Account"</a></p>
                            }),
                        }
                    })}
                </Suspense>
            </div>
        </main>
    }
}
