//! One service's consent: its attributes per purpose, narrowing it, and its
//! last day.

use super::{
    badge_class, get_consent_detail, ChoiceMode, ConsentDetail, ConsentState, PurposeFieldset,
    SetConsentExpiry, UpdateConsent,
};
use crate::error::AppError;
use crate::layout::{Notice, Page, StatusMessage, When};
use leptos::either::EitherOf3;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// Labels selected in `detail`, to tell the user what an update changed.
fn selected_labels(detail: &ConsentDetail) -> Vec<(u32, String, String)> {
    detail
        .selected()
        .map(|(p, a)| (p.id, a.claim.clone(), format!("{} ({})", a.label, p.name)))
        .collect()
}

fn change_message(before: &ConsentDetail, after: &ConsentDetail) -> String {
    let old = selected_labels(before);
    let new = selected_labels(after);
    let removed: Vec<String> = old
        .iter()
        .filter(|o| !new.contains(o))
        .map(|o| o.2.clone())
        .collect();
    let added: Vec<String> = new
        .iter()
        .filter(|n| !old.contains(n))
        .map(|n| n.2.clone())
        .collect();
    let name = &after.entry.service_name;
    let mut parts = vec![format!(
        "Your consent for {name} was updated and a new receipt issued."
    )];
    if !removed.is_empty() {
        parts.push(format!(
            "From now on {name} no longer receives: {}.",
            removed.join(", ")
        ));
    }
    if !added.is_empty() {
        parts.push(format!("You now also consent to: {}.", added.join(", ")));
    }
    parts.join(" ")
}

#[component]
pub fn ConsentDetailPage() -> impl IntoView {
    let params = use_params_map();
    let service = move || params.with(|p| p.get("service").unwrap_or_default());
    // These live here, not in the editor: the editor is rebuilt after each
    // change, and the detail is read again when either action has finished.
    let notice = RwSignal::new(None::<Result<String, String>>);
    let update = ServerAction::<UpdateConsent>::new();
    let expiry = ServerAction::<SetConsentExpiry>::new();
    let detail = Resource::new(
        move || (service(), update.version().get(), expiry.version().get()),
        |(s, _, _)| get_consent_detail(s),
    );
    view! {
        <Page title="Consent details" intro="What this service may receive, per purpose. Deselect what you no longer want it to have, or set a date after which the consent ends.">
            <Transition fallback=|| view! { <p class="loading">"Loading the consent…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(detail) => EitherOf3::A(view! { <ConsentEditor detail update expiry notice /> }),
                        Err(AppError::NotFound) => EitherOf3::B(view! {
                            <StatusMessage error="You have not given this service any consent." />
                            <p><a href="/consent">"Back to Consent Management"</a></p>
                        }),
                        Err(e) => EitherOf3::C(view! { <StatusMessage error=e.to_string() /> }),
                    }
                })}
            </Transition>
        </Page>
    }
}

#[component]
fn ConsentEditor(
    detail: ConsentDetail,
    update: ServerAction<UpdateConsent>,
    expiry: ServerAction<SetConsentExpiry>,
    notice: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let before = StoredValue::new(detail.clone());
    // The editor is rebuilt once an action has finished: only results that
    // arrive after it was built are news to this editor.
    let seen_updates = update.version().get_untracked();
    let seen_expiries = expiry.version().get_untracked();
    Effect::new(move |_| {
        if update.version().get() == seen_updates {
            return;
        }
        if let Some(result) = update.value().get_untracked() {
            notice.set(Some(match result {
                Ok(after) => Ok(change_message(&before.get_value(), &after)),
                Err(e) => Err(e.to_string()),
            }));
        }
    });
    Effect::new(move |_| {
        if expiry.version().get() == seen_expiries {
            return;
        }
        if let Some(result) = expiry.value().get_untracked() {
            notice.set(Some(match result {
                Ok(after) => Ok(match after.entry.expires_on {
                    Some(day) => format!("Your consent for {} now ends after {day}. After that it is revoked automatically.", after.entry.service_name),
                    None => format!("Your consent for {} no longer has an end date.", after.entry.service_name),
                }),
                Err(e) => Err(e.to_string()),
            }));
        }
    });
    let entry = detail.entry.clone();
    let service = entry.service_id.clone();
    let active = entry.state == ConsentState::Active;
    let expiry_form = active.then(|| {
        view! { <ExpiryForm service=service.clone() today=detail.today.clone() current=entry.expires_on.clone() action=expiry notice /> }
    });
    let mode = ChoiceMode::Review {
        editable: detail.editable,
        active,
    };
    let purposes = detail
        .purposes
        .iter()
        .map(|p| view! { <PurposeFieldset purpose=p.clone() mode /> })
        .collect_view();
    let locked_note = detail
        .purposes
        .iter()
        .any(|p| p.attributes.iter().any(|a| a.locked))
        .then(|| view! { <p class="hint">"Required attributes cannot be deselected: to withdraw them, revoke the whole consent."</p> });
    view! {
        <leptos_meta::Title text=format!("Consent for {}", entry.service_name) />
        <section class="card" aria-labelledby="service-title">
            <h2 id="service-title">{entry.service_name.clone()} " " <span class=badge_class(entry.state)>{entry.state.label()}</span></h2>
            {(entry.state == ConsentState::NotGiven).then(|| view! {
                <p class="hint">"You have not given this consent yet. Tick what it may use and press Update; required attributes come with their purpose."</p>
            })}
            <p class="hint">{entry.description.clone()}</p>
            {entry.given_at.clone().zip(entry.receipt_id.clone()).map(|(at, id)| {
                let receipt = format!("/api/identity/consent-mgt/v1.0/consents/receipts/{id}");
                view! {
                    <p class="hint">"Receipt issued " <When at /> ". Receipt ID: " <code>{id.clone()}</code></p>
                    <p class="receipt-links">
                        <a href=receipt.clone() target="_blank" rel="noopener">"View receipt"</a>
                        <a href=format!("{receipt}/jws") download=format!("consent-receipt-{id}.jwt")>"Download signed receipt"</a>
                    </p>
                }
            })}
            <Notice notice />
            <ActionForm action=update attr:class="form single">
                <input type="hidden" name="service" value=service />
                {purposes}
                {locked_note}
                {detail.editable.then(|| view! { <div class="actions"><button type="submit" class="primary">"Update"</button></div> })}
                {(!detail.editable).then(|| view! { <p class="hint">"This consent is revoked. The application asks for it again when you next use it."</p> })}
            </ActionForm>
        </section>
        {expiry_form}
        <p><a href="/consent">"Back to Consent Management"</a></p>
    }
}

/// Where the user is, as the browser knows it: today's date in their calendar
/// and how many minutes their clock is behind UTC. The server knows only UTC.
#[cfg(any(feature = "hydrate", feature = "csr"))]
fn browser_calendar() -> Option<(String, i32)> {
    let now = js_sys::Date::new_0();
    let today = format!(
        "{:04}-{:02}-{:02}",
        now.get_full_year(),
        now.get_month() + 1,
        now.get_date()
    );
    Some((today, now.get_timezone_offset() as i32))
}

/// While rendering on the server there is no browser to ask.
#[cfg(not(any(feature = "hydrate", feature = "csr")))]
fn browser_calendar() -> Option<(String, i32)> {
    None
}

/// The expiry date picker. The hydrated client keeps the date at the user's
/// today or later before anything is sent, and sends the user's time zone so
/// the consent ends at their midnight; the server checks again.
#[component]
fn ExpiryForm(
    service: String,
    today: String,
    current: Option<String>,
    action: ServerAction<SetConsentExpiry>,
    notice: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let input = NodeRef::<leptos::html::Input>::new();
    let problem = RwSignal::new(None::<String>);
    // The server's UTC today until the browser says what day it is locally.
    let earliest = RwSignal::new(today);
    Effect::new(move |_| {
        if let Some((today, _)) = browser_calendar() {
            earliest.set(today);
        }
    });
    let submit = {
        let service = service.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let value = input.get().map(|i| i.value()).unwrap_or_default();
            if value.is_empty() {
                problem.set(Some("Choose a date first.".into()));
                return;
            }
            // ISO dates compare correctly as text.
            let first = earliest.get_untracked();
            if value < first {
                problem.set(Some(format!("Choose today ({first}) or a later date.")));
                return;
            }
            problem.set(None);
            notice.set(None);
            action.dispatch(SetConsentExpiry {
                service: service.clone(),
                last_day: value,
                minutes_behind_utc: browser_calendar().map(|(_, offset)| offset),
            });
        }
    };
    let clear = {
        let service = service.clone();
        move |_| {
            action.dispatch(SetConsentExpiry {
                service: service.clone(),
                last_day: String::new(),
                minutes_behind_utc: None,
            });
        }
    };
    let has_expiry = current.is_some();
    view! {
        <section class="card" aria-labelledby="expiry-title">
            <h2 id="expiry-title">"End date"</h2>
            <p class="hint">{match &current {
                Some(day) => format!("This consent ends at midnight after {day}, your time. Then it is revoked automatically."),
                None => "This consent has no end date. Choose the last day it should hold: it ends at midnight after that day, your time.".to_string(),
            }}</p>
            <form class="form inline" novalidate on:submit=submit>
                <div class="field">
                    <label for="consent-expiry">"Last day of consent"</label>
                    <input id="consent-expiry" type="date" name="last_day" min=move || earliest.get()
                        value=current.clone().unwrap_or_default() node_ref=input aria-describedby="expiry-error" />
                </div>
                <div class="actions">
                    <button type="submit" class="primary">"Set end date"</button>
                    {has_expiry.then(|| view! { <button type="button" class="secondary" on:click=clear.clone()>"Remove end date"</button> })}
                </div>
                // Below the row, so the buttons line up with the date field.
                <p class="field-error" id="expiry-error" role="alert">{move || problem.get()}</p>
            </form>
        </section>
    }
}
