//! Authorized Apps: the applications that can act for the user now (they
//! hold a token from signing the user in through Selfserve), and removing
//! one, which ends its access at once. The confirm dialog is run by the
//! hydrated client, as on My Login Sessions.

use crate::error::AppError;
use crate::layout::{ConfirmDialog, Moment, Notice, Page, StatusMessage, When};
use leptos::either::EitherOf3;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A scope the application was granted, with what it lets the application do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantedScope {
    pub name: String,
    pub meaning: String,
}

/// One authorized application, described for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizedAppView {
    /// The application's id, which is its client id.
    pub id: String,
    pub name: String,
    pub description: String,
    pub first_authorized: Moment,
    pub last_used: Moment,
    /// Where it opens, when the operator gave it an access URL.
    pub access_url: Option<String>,
    pub scopes: Vec<GrantedScope>,
    /// The profile attributes it receives now (labels), as the consent
    /// receipt and the scopes allow.
    pub claims: Vec<String>,
    /// The login sessions it was authorized from, described.
    pub sessions: Vec<String>,
}

#[server(endpoint = "authorized_apps")]
pub async fn authorized_apps() -> Result<Vec<AuthorizedAppView>, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.authorized_apps(&session).await)
}

/// Removes the application; its name, for the page to say what happened.
#[server(endpoint = "remove_authorized_app")]
pub async fn remove_authorized_app(id: String) -> Result<String, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.remove_authorized_app(&session, &id).await)
}

/// The application the confirm dialog asks about: its id and name.
type Pending = (String, String);

#[component]
pub fn AppsPage() -> impl IntoView {
    let remove = ServerAction::<RemoveAuthorizedApp>::new();
    let apps = Resource::new(move || remove.version().get(), |_| authorized_apps());
    let pending = RwSignal::new(None::<Pending>);
    let notice = RwSignal::new(None::<Result<String, String>>);
    Effect::new(move |_| {
        if let Some(result) = remove.value().get() {
            notice.set(Some(match result {
                Ok(name) => Ok(format!(
                    "{name} was removed: its access ended, and it will ask for your consent again if you sign in to it."
                )),
                Err(e) => Err(e.to_string()),
            }));
        }
    });
    let confirm = Callback::new(move |(id, _): Pending| {
        remove.dispatch(RemoveAuthorizedApp { id });
    });
    view! {
        <Page title="Authorized Apps" intro="Applications you signed in to with this account, which can read the details you allowed them until you remove them.">
            <Notice notice />
            <Transition fallback=|| view! { <p class="loading">"Loading your applications…"</p> }>
                {move || Suspend::new(async move {
                    match apps.await {
                        Ok(list) if list.is_empty() => EitherOf3::A(view! { <NoApps /> }),
                        Ok(list) => EitherOf3::B(view! { <AppList list pending /> }),
                        Err(e) => EitherOf3::C(view! { <StatusMessage error=e.to_string() /> }),
                    }
                })}
            </Transition>
            <ConfirmDialog pending describe on_confirm=confirm />
        </Page>
    }
}

#[component]
fn NoApps() -> impl IntoView {
    view! {
        <div class="card empty-state">
            <p class="empty">"No application can act for you right now."</p>
            <p class="hint">"When you sign in to an application with this account and allow it to read your details, it appears here: what it can see, since when, and from which device. You can remove it at any time, and its access ends at once."</p>
        </div>
    }
}

#[component]
fn AppList(list: Vec<AuthorizedAppView>, pending: RwSignal<Option<Pending>>) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|app| {
            let ask = {
                let what = (app.id.clone(), app.name.clone());
                move |_| pending.set(Some(what.clone()))
            };
            let scopes = app
                .scopes
                .iter()
                .map(|s| view! { <li><code>{s.name.clone()}</code>" — "{s.meaning.clone()}</li> })
                .collect_view();
            let claims = if app.claims.is_empty() {
                "None: it only knows that it is you.".to_string()
            } else {
                app.claims.join(", ")
            };
            let sessions = app
                .sessions
                .iter()
                .map(|s| view! { <li>{s.clone()}</li> })
                .collect_view();
            view! {
                <li class="authorized-app card" data-testid="authorized-app">
                    <div class="app-main">
                        <h2>{app.name.clone()}</h2>
                        {(!app.description.is_empty()).then(|| view! { <p class="app-description">{app.description.clone()}</p> })}
                        <dl class="session-facts">
                            <div><dt>"First authorized"</dt><dd><When at=app.first_authorized.clone() /></dd></div>
                            <div><dt>"Last used"</dt><dd><When at=app.last_used.clone() /></dd></div>
                            <div><dt>"Receives"</dt><dd data-testid="app-claims">{claims}</dd></div>
                        </dl>
                        <h3>"What it may do"</h3>
                        <ul class="app-scopes">{scopes}</ul>
                        <h3>"Authorized from"</h3>
                        <ul class="app-sessions">{sessions}</ul>
                    </div>
                    <div class="app-actions">
                        {app.access_url.clone().map(|url| view! {
                            <a class="button secondary" href=url rel="noopener noreferrer" aria-label=format!("Open {}", app.name)>"Open"</a>
                        })}
                        <button class="danger" on:click=ask aria-label=format!("Remove Application: {}", app.name)>"Remove Application"</button>
                    </div>
                </li>
            }
        })
        .collect_view();
    view! { <ul class="authorized-apps">{rows}</ul> }
}

fn describe((_, name): &Pending) -> (String, String) {
    (
        "Remove application?".into(),
        format!(
            "{name} will lose access to your account at once: its tokens stop working and your consent to it is revoked. Do you want to proceed?"
        ),
    )
}
