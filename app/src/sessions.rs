//! My Login Sessions: where the user is signed in, and ending those sessions.
//! The confirm dialog is a real modal run by the hydrated client.

use crate::error::AppError;
use crate::layout::{ConfirmDialog, Moment, Notice, Page, StatusMessage, When};
use crate::live::{LiveEvent, LiveLine};
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One active session, described for its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub id: String,
    pub ip: String,
    pub browser: String,
    pub os: String,
    pub device: String,
    pub user_agent: String,
    pub started: Moment,
    pub last_active: Moment,
    /// The session of the browser asking.
    pub current: bool,
    /// The associated account (its username) this session was switched from.
    pub switched_from: Option<String>,
    /// The identity provider it was signed in with.
    pub signed_in_with: Option<String>,
    /// The second factor given at sign-in, as the page names it.
    pub second_factor: Option<String>,
    /// The applications signed in through it that can still act for the
    /// user; terminating the session ends their access too.
    pub applications: Vec<String>,
}

#[server(endpoint = "list_sessions")]
pub async fn list_sessions() -> Result<Vec<SessionView>, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.list_sessions(&session).await)
}

#[server(endpoint = "terminate_session")]
pub async fn terminate_session(id: String) -> Result<(), AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.terminate_session(&session, &id).await)
}

#[server(endpoint = "terminate_other_sessions")]
pub async fn terminate_other_sessions() -> Result<u64, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.terminate_other_sessions(&session).await)
}

/// What the confirm dialog is asking about.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    One {
        id: String,
        label: String,
        applications: Vec<String>,
    },
    AllOthers,
}

#[component]
pub fn SessionsPage() -> impl IntoView {
    // The server reads the list before the page renders and hands the browser
    // the same value to hydrate from: no resource or suspense (README,
    // "Measured"). After a navigation in the browser the list is read here.
    let sessions = RwSignal::new(
        SharedValue::new(crate::backend::read_before_render::<Vec<SessionView>>).into_inner(),
    );
    // Only the newest read may land: an older one finishing late would show
    // sessions that have since ended.
    let reads = StoredValue::new(0u32);
    let refresh = move || {
        let Some(read) = reads.try_update_value(|n| {
            *n += 1;
            *n
        }) else {
            return;
        };
        leptos::task::spawn_local(async move {
            let listed = list_sessions().await;
            if reads.try_get_value() == Some(read) {
                let _ = sessions.try_set(Some(listed));
            }
        });
    };
    #[cfg(feature = "hydrate")]
    if sessions.with_untracked(Option::is_none) {
        refresh();
    }
    let fresh = RwSignal::new(None::<String>);
    let live = crate::live::subscribe(move |event| {
        if let LiveEvent::SessionStarted { session } = event {
            fresh.set(Some(session));
        }
        refresh();
    });
    let pending = RwSignal::new(None::<Pending>);
    let notice = RwSignal::new(None::<Result<String, String>>);

    let confirm = Callback::new(move |what: Pending| {
        leptos::task::spawn_local(async move {
            let outcome = match what {
                Pending::One { id, .. } => terminate_session(id)
                    .await
                    .map(|()| "You have successfully revoked your session!".to_string()),
                Pending::AllOthers => terminate_other_sessions().await.map(|n| match n {
                    1 => "You have successfully revoked 1 other session!".to_string(),
                    n => format!("You have successfully revoked {n} other sessions!"),
                }),
            };
            let _ = notice.try_set(Some(outcome.map_err(|e| e.to_string())));
            refresh();
        });
    });

    view! {
        <Page title="My Login Sessions" intro="Everywhere you are signed in right now. If you do not recognise a session, terminate it and change your password.">
            <Notice notice />
            <LiveLine status=live what="new sign-ins and ended sessions" />
            {move || match sessions.get() {
                None => EitherOf3::A(view! { <p class="loading">"Loading your sessions…"</p> }),
                Some(Ok(list)) => EitherOf3::B(view! { <SessionList list pending fresh /> }),
                Some(Err(e)) => EitherOf3::C(view! { <StatusMessage error=e.to_string() /> }),
            }}
            <ConfirmDialog pending describe on_confirm=confirm />
        </Page>
    }
}

#[component]
fn SessionList(
    list: Vec<SessionView>,
    pending: RwSignal<Option<Pending>>,
    fresh: RwSignal<Option<String>>,
) -> impl IntoView {
    let others = list.iter().filter(|s| !s.current).count();
    let rows = list
        .into_iter()
        .map(|s| {
            let label = format!("{} on {}, {}", s.browser, s.os, s.ip);
            let applications = (!s.applications.is_empty()).then(|| {
                view! { <div><dt>"Signed in to"</dt><dd>{s.applications.join(", ")}</dd></div> }
            });
            let ask = {
                let id = s.id.clone();
                let label = label.clone();
                let applications = s.applications.clone();
                move |_| {
                    pending.set(Some(Pending::One {
                        id: id.clone(),
                        label: label.clone(),
                        applications: applications.clone(),
                    }))
                }
            };
            let fresh_id = s.id.clone();
            let is_fresh = move || fresh.with(|f| f.as_deref() == Some(fresh_id.as_str()));
            let badge_id = s.id.clone();
            let show_badge = move || fresh.with(|f| f.as_deref() == Some(badge_id.as_str()));
            view! {
                <li class="session" class:current=s.current class:fresh=is_fresh data-testid="session">
                    <div class="session-main">
                        <p class="session-title">
                            <strong>{s.browser.clone()}</strong>" on "{s.os.clone()}
                            <span class="session-device">" · "{s.device.clone()}</span>
                            {s.current.then(|| view! { <span class="badge">"This device"</span> })}
                            {move || show_badge().then(|| view! { <span class="badge new">"New sign-in"</span> })}
                            {s.switched_from.clone().map(|from| view! { <span class="badge neutral">"Switched from "{from}</span> })}
                            {s.signed_in_with.clone().map(|provider| view! { <span class="badge neutral">"Signed in with "{provider}</span> })}
                            {s.second_factor.clone().map(|factor| view! { <span class="badge neutral">"Verified with "{factor}</span> })}
                        </p>
                        <dl class="session-facts">
                            <div><dt>"IP Address"</dt><dd>{s.ip.clone()}</dd></div>
                            <div><dt>"Started"</dt><dd><When at=s.started.clone() /></dd></div>
                            <div><dt>"Last active"</dt><dd><When at=s.last_active.clone() /></dd></div>
                            {applications}
                        </dl>
                        <details class="raw-agent">
                            <summary>"User agent"</summary>
                            <code>{s.user_agent.clone()}</code>
                        </details>
                    </div>
                    {(!s.current).then(|| view! {
                        <button class="danger" on:click=ask aria-label=format!("Terminate session: {label}")>"Terminate"</button>
                    })}
                </li>
            }
        })
        .collect_view();
    view! {
        <ul class="sessions card">{rows}</ul>
        {if others > 0 {
            Either::Left(view! {
                <button class="danger secondary" on:click=move |_| pending.set(Some(Pending::AllOthers))>
                    "Terminate all other sessions"
                </button>
            })
        } else {
            Either::Right(view! { <p class="empty">"You are signed in only on this device."</p> })
        }}
    }
}

fn describe(pending: &Pending) -> (String, String) {
    match pending {
        Pending::One {
            label,
            applications,
            ..
        } => {
            let apps = if applications.is_empty() {
                String::new()
            } else {
                format!(
                    " The applications signed in through it ({}) lose their access too.",
                    applications.join(", ")
                )
            };
            (
                "Terminate session?".into(),
                format!("The session ({label}) will be signed out at once.{apps} Do you want to proceed?"),
            )
        }
        Pending::AllOthers => (
            "Terminate other sessions?".into(),
            "Every session except this one will be signed out at once. Do you want to proceed?"
                .into(),
        ),
    }
}
