//! Applications: the applications the user can open from here, those used
//! last first, with a search by name. The search is a plain GET form, so it
//! works before the client has hydrated and its address can be shared.

use crate::error::AppError;
use crate::layout::{initial, Moment, Page, StatusMessage, When};
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One application the user can open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationView {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Where it opens (https, or http on a loopback host).
    pub access_url: String,
    /// When the user last signed in to it through Selfserve.
    pub last_used: Option<Moment>,
}

/// The applications whose names contain `search` (all when it is blank).
#[server(endpoint = "applications")]
pub async fn list_applications(search: String) -> Result<Vec<ApplicationView>, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.applications(&session, &search).await)
}

#[component]
pub fn ApplicationsPage() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let search = move || query.with(|q| q.get("search")).unwrap_or_default();
    let apps = Resource::new(search, list_applications);
    view! {
        <Page title="Applications" intro="The applications you can open with this account. The ones you used last come first.">
            // A plain GET form: the browser loads the result page, which the
            // server renders with the search applied (the router's own form
            // would add an empty `&=` pair for the nameless button).
            <form method="get" action="/applications" class="search" role="search">
                <label for="search">"Search applications by name"</label>
                <div class="search-row">
                    <input id="search" name="search" type="search" maxlength="100" autocomplete="off" value=search />
                    <button type="submit" class="secondary">"Search"</button>
                </div>
            </form>
            <Transition fallback=|| view! { <p class="loading">"Loading your applications…"</p> }>
                {move || Suspend::new(async move {
                    let searched = search();
                    match apps.await {
                        Ok(list) if list.is_empty() => EitherOf3::A(view! { <NoApplications searched /> }),
                        Ok(list) => EitherOf3::B(view! { <ApplicationList list searched /> }),
                        // The search is the page's only field: say what is wrong with it.
                        Err(e) => EitherOf3::C(view! { <StatusMessage error=e.field_errors().first().map_or_else(|| e.to_string(), |f| f.message.clone()) /> }),
                    }
                })}
            </Transition>
        </Page>
    }
}

#[component]
fn NoApplications(searched: String) -> impl IntoView {
    if searched.trim().is_empty() {
        Either::Left(view! {
            <div class="card empty-state">
                <p class="empty">"No applications are listed for you yet."</p>
                <p class="hint">"When your organisation makes an application available here, it appears with a link to open it. Applications you signed in to with this account are under "<a href="/apps">"Authorized Apps"</a>"."</p>
            </div>
        })
    } else {
        Either::Right(view! {
            <div class="card empty-state">
                <p class="empty" role="status">"No application's name contains “"{searched.trim().to_string()}"”."</p>
                <p class="hint"><a href="/applications">"Show all applications"</a></p>
            </div>
        })
    }
}

#[component]
fn ApplicationList(list: Vec<ApplicationView>, searched: String) -> impl IntoView {
    let n = list.len();
    let summary = match (searched.trim().is_empty(), n) {
        (true, _) => None,
        (false, 1) => Some(format!(
            "1 application's name contains “{}”.",
            searched.trim()
        )),
        (false, n) => Some(format!(
            "{n} applications' names contain “{}”.",
            searched.trim()
        )),
    };
    let cards = list
        .into_iter()
        .map(|app| {
            let initial = initial(&app.name);
            let label = format!("Open {}", app.name);
            view! {
                <li class="application card" data-testid="application">
                    <span class="avatar" aria-hidden="true">{initial}</span>
                    <div class="application-main">
                        <h2>{app.name.clone()}</h2>
                        {(!app.description.is_empty()).then(|| view! { <p class="app-description">{app.description.clone()}</p> })}
                        {app.last_used.map(|at| view! { <p class="hint" data-testid="last-used">"You last signed in to it " <When at /> "."</p> })}
                    </div>
                    <a class="button" href=app.access_url rel="noopener noreferrer" aria-label=label>"Open"</a>
                </li>
            }
        })
        .collect_view();
    view! {
        {summary.map(|text| view! { <p class="search-summary" role="status">{text}" "<a href="/applications">"Show all"</a></p> })}
        <ul class="applications">{cards}</ul>
    }
}
