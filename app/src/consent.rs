//! Consent Management: the receipts of the consents the user gave, what each
//! service may receive, and the pages that revoke, narrow or time-limit them.

use crate::layout::Moment;
use serde::{Deserialize, Serialize};

/// One service's consent as the list shows it: the latest receipt, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentEntry {
    /// "system" (Selfserve) or an application's id.
    pub service_id: String,
    pub service_name: String,
    pub description: String,
    pub receipt_id: Option<String>,
    /// When the latest receipt was issued.
    pub given_at: Option<Moment>,
    pub state: ConsentState,
    /// The last day the consent holds (YYYY-MM-DD, in the user's calendar),
    /// when the user set one.
    pub expires_on: Option<String>,
    /// What the service may receive now (labels); empty unless ACTIVE.
    pub shares: Vec<String>,
    pub can_revoke: bool,
}

crate::states::states! {
    /// A receipt's state as stored and as the REST API reports it. Past its
    /// end date a receipt reads as REVOKED, before the periodic job records it.
    pub enum ReceiptState {
        Active = "ACTIVE",
        Revoked = "REVOKED",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsentState {
    Active,
    Revoked,
    NotGiven,
}

impl ConsentState {
    pub fn label(self) -> &'static str {
        match self {
            ConsentState::Active => "Active",
            ConsentState::Revoked => "Revoked",
            ConsentState::NotGiven => "Not given",
        }
    }
}

/// The detail view of one service's consent: every attribute per purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentDetail {
    pub entry: ConsentEntry,
    pub purposes: Vec<PurposeChoice>,
    /// Whether the user may change the attribute selection here.
    pub editable: bool,
    /// Today (UTC, YYYY-MM-DD): the picker's earliest date until the
    /// hydrated client replaces it with the user's own today.
    pub today: String,
}

/// The last day a consent should hold, as the date picker sends it: a day in
/// the user's calendar and where that calendar is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastDayChoice {
    /// YYYY-MM-DD.
    pub date: String,
    /// Minutes the user's clock is behind UTC, as `Date.getTimezoneOffset()`
    /// reports it (UTC-5 is 300).
    pub minutes_behind_utc: i32,
}

impl ConsentDetail {
    /// The attributes the current receipt covers, with their purpose.
    pub fn selected(&self) -> impl Iterator<Item = (&PurposeChoice, &AttributeChoice)> {
        self.purposes.iter().flat_map(|p| {
            p.attributes
                .iter()
                .filter(|a| a.selected)
                .map(move |a| (p, a))
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurposeChoice {
    pub id: u32,
    pub name: String,
    pub description: String,
    pub attributes: Vec<AttributeChoice>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeChoice {
    pub claim: String,
    pub label: String,
    pub mandatory: bool,
    /// Covered by the current receipt.
    pub selected: bool,
    /// Cannot be deselected here (a mandatory attribute already consented to:
    /// withdrawing it means revoking the whole consent).
    pub locked: bool,
}

impl AttributeChoice {
    /// The form key of a checkbox: `p<purpose id>-<claim>`. (A key that starts
    /// with a digit would be read as a list index by the form decoder.)
    pub fn key(purpose: u32, claim: &str) -> String {
        format!("p{purpose}-{claim}")
    }
}

/// Parses checkbox keys (`p<purpose id>-<claim>`) into pairs; unknown shapes are
/// errors, so a tampered form changes nothing.
pub fn parse_selection<'a>(
    keys: impl IntoIterator<Item = &'a String>,
) -> Result<Vec<(u32, String)>, String> {
    keys.into_iter()
        .map(|key| {
            key.strip_prefix('p')
                .and_then(|k| k.split_once('-'))
                .and_then(|(p, c)| Some((p.parse::<u32>().ok()?, c.to_string())))
                .ok_or_else(|| format!("Unknown consent choice \"{key}\"."))
        })
        .collect()
}

/// What "Create an account" asks for: the attributes the system purposes
/// need and the purposes to consent to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationForm {
    pub enabled: bool,
    /// (claim, label, mandatory) of each attribute asked for, in profile order.
    pub attributes: Vec<(String, String, bool)>,
    pub purposes: Vec<PurposeChoice>,
    pub policy_url: String,
    pub controller: String,
}

use crate::error::AppError;
use crate::layout::{ConfirmDialog, Notice, Page, StatusMessage, When};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use std::collections::HashMap;

#[server(endpoint = "get_consents")]
pub async fn get_consents() -> Result<Vec<ConsentEntry>, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.consents(&session).await)
}

#[server(endpoint = "get_consent_detail")]
pub async fn get_consent_detail(service: String) -> Result<ConsentDetail, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.consent_detail(&session, &service).await)
}

#[server(endpoint = "revoke_consent")]
pub async fn revoke_consent(receipt_id: String) -> Result<(), AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.revoke_consent(&session, &receipt_id).await)
}

/// `selected` holds one `p<purpose id>-<claim>` key per ticked checkbox.
#[server(endpoint = "update_consent")]
pub async fn update_consent(
    service: String,
    #[server(default)] selected: HashMap<String, String>,
) -> Result<ConsentDetail, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    let selection = parse_selection(selected.keys()).map_err(|e| fail(AppError::Refused(e)))?;
    respond(
        backend()?
            .update_consent(&session, &service, &selection)
            .await,
    )
}

/// An empty `last_day` removes the expiry. Without `minutes_behind_utc` the
/// day is a UTC day.
#[server(endpoint = "set_consent_expiry")]
pub async fn set_consent_expiry(
    service: String,
    last_day: String,
    minutes_behind_utc: Option<i32>,
) -> Result<ConsentDetail, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    let choice = Some(last_day.trim())
        .filter(|d| !d.is_empty())
        .map(|date| LastDayChoice {
            date: date.to_string(),
            minutes_behind_utc: minutes_behind_utc.unwrap_or(0),
        });
    respond(
        backend()?
            .set_consent_expiry(&session, &service, choice.as_ref())
            .await,
    )
}

/// A revocation the user is asked to confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Revocation {
    receipt_id: String,
    service_id: String,
    service_name: String,
    shares: Vec<String>,
}

fn describe(revocation: &Revocation) -> (String, String) {
    (
        format!("Revoke consent for {}?", revocation.service_name),
        format!(
            "{} will no longer receive or use any of your details for these purposes{}. Do you want to proceed?",
            revocation.service_name,
            if revocation.shares.is_empty() {
                String::new()
            } else {
                format!(" ({})", revocation.shares.join(", "))
            }
        ),
    )
}

fn badge_class(state: ConsentState) -> &'static str {
    match state {
        ConsentState::Active => "badge",
        _ => "badge muted",
    }
}

fn listing(labels: &[String]) -> String {
    labels.join(", ")
}

#[component]
pub fn ConsentPage() -> impl IntoView {
    let revoke = ServerAction::<RevokeConsent>::new();
    let consents = Resource::new(move || revoke.version().get(), |_| get_consents());
    let pending = RwSignal::new(None::<Revocation>);
    let last = StoredValue::new(None::<Revocation>);
    let notice = RwSignal::new(None::<Result<String, String>>);
    Effect::new(move |_| {
        if let Some(result) = revoke.value().get() {
            let revoked = last.get_value();
            let name = revoked
                .as_ref()
                .map(|r| r.service_name.clone())
                .unwrap_or_default();
            // Selfserve keeps the account itself; an application gets nothing more.
            let own = revoked.is_some_and(|r| r.service_id == "system");
            notice.set(Some(match result {
                Ok(()) if own => Ok(format!(
                    "You revoked your consent for {name}. It keeps your account, but no longer uses your details for the purposes you had agreed to."
                )),
                Ok(()) => Ok(format!(
                    "You revoked your consent for {name}. From now on it receives none of your details."
                )),
                Err(e) => Err(e.to_string()),
            }));
        }
    });
    let confirm = Callback::new(move |revocation: Revocation| {
        last.set_value(Some(revocation.clone()));
        revoke.dispatch(RevokeConsent {
            receipt_id: revocation.receipt_id,
        });
    });
    view! {
        <Page title="Consent Management" intro="The consents you gave Selfserve and applications to use your personal details, with a receipt for each. Narrow a consent, give it an end date, or revoke it.">
            <Notice notice />
            <Transition fallback=|| view! { <p class="loading">"Loading your consents…"</p> }>
                {move || Suspend::new(async move {
                    match consents.await {
                        Ok(entries) => view! { <ConsentList entries pending /> }.into_any(),
                        Err(e) => view! { <StatusMessage error=e.to_string() /> }.into_any(),
                    }
                })}
            </Transition>
            <ConfirmDialog pending describe on_confirm=confirm />
        </Page>
    }
}

#[component]
fn ConsentList(entries: Vec<ConsentEntry>, pending: RwSignal<Option<Revocation>>) -> impl IntoView {
    let applications = entries.len().saturating_sub(1);
    let cards = entries
        .into_iter()
        .map(|e| {
            let ask = {
                let revocation = Revocation {
                    receipt_id: e.receipt_id.clone().unwrap_or_default(),
                    service_id: e.service_id.clone(),
                    service_name: e.service_name.clone(),
                    shares: e.shares.clone(),
                };
                move |_| pending.set(Some(revocation.clone()))
            };
            let state_class = badge_class(e.state);
            view! {
                <li class="consent card" data-testid="consent" data-service=e.service_id.clone()>
                    <div class="consent-main">
                        <p class="consent-title"><strong>{e.service_name.clone()}</strong>
                            <span class=state_class>{e.state.label()}</span></p>
                        <p class="hint">{e.description.clone()}</p>
                        <dl class="session-facts">
                            <div><dt>"Given"</dt><dd>{match e.given_at.clone() {
                                Some(at) => view! { <When at /> }.into_any(),
                                None => "Never".into_any(),
                            }}</dd></div>
                            <div><dt>"Expires"</dt><dd>{e.expires_on.clone().map(|d| format!("After {d}")).unwrap_or_else(|| "Never".into())}</dd></div>
                            <div><dt>"May receive"</dt><dd>{if e.shares.is_empty() { "Nothing".to_string() } else { listing(&e.shares) }}</dd></div>
                        </dl>
                    </div>
                    <div class="consent-actions">
                        <a class="button secondary" href=format!("/consent/{}", e.service_id)
                            aria-label=format!("Configure consent: {}", e.service_name)>"Configure"</a>
                        {e.can_revoke.then(|| view! {
                            <button class="danger" on:click=ask aria-label=format!("Revoke consent: {}", e.service_name)>"Revoke"</button>
                        })}
                    </div>
                </li>
            }
        })
        .collect_view();
    view! {
        <ul class="consents">{cards}</ul>
        {(applications == 0).then(|| view! {
            <p class="empty">"No application has asked for your consent yet. When one does, it appears here."</p>
        })}
        <details class="about card">
            <summary>"About consent receipts"</summary>
            <p>"Each time you give or change a consent, you get a consent receipt: a record, in the Kantara Initiative's Consent Receipt format (v1.1), of who controls your details, for which purposes, and which details you agreed to share. Receipts are never altered: a change issues a new receipt and the old one stays as history, marked revoked."</p>
            <p>"Every receipt is also available signed by this service (a JSON Web Signature). Anyone can check the signature with the published key, so you can prove what you agreed to. Open a consent with \"Configure\" to view or download its receipt; \"Export\" on My Profile includes them all."</p>
            <p><a href="/privacy">"How your details are used (privacy notice)"</a></p>
        </details>
    }
}

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
                        Ok(detail) => view! { <ConsentEditor detail update expiry notice /> }.into_any(),
                        Err(AppError::NotFound) => view! {
                            <StatusMessage error="You have not given this service any consent." />
                            <p><a href="/consent">"Back to Consent Management"</a></p>
                        }.into_any(),
                        Err(e) => view! { <StatusMessage error=e.to_string() /> }.into_any(),
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
    let purposes = detail
        .purposes
        .iter()
        .map(|p| {
            let boxes = p
                .attributes
                .iter()
                .map(|a| {
                    let key = AttributeChoice::key(p.id, &a.claim);
                    let id = format!("consent-{}-{}", p.id, a.claim);
                    view! {
                        <div class="check">
                            <input type="checkbox" id=id.clone() name=format!("selected[{key}]")
                                checked=a.selected disabled=a.locked || !detail.editable />
                            <label for=id>{a.label.clone()}
                                {a.mandatory.then(|| view! { " " <span class="tag">"required"</span> })}
                                {(!a.selected && active).then(|| view! { " " <span class="tag new">"not consented"</span> })}
                            </label>
                        </div>
                    }
                })
                .collect_view();
            view! {
                <fieldset class="purpose">
                    <legend>{p.name.clone()}</legend>
                    <p class="hint">{p.description.clone()}</p>
                    {boxes}
                </fieldset>
            }
        })
        .collect_view();
    let locked_note = detail
        .purposes
        .iter()
        .any(|p| p.attributes.iter().any(|a| a.locked))
        .then(|| view! { <p class="hint">"Required attributes cannot be deselected: to withdraw them, revoke the whole consent."</p> });
    view! {
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

#[server(endpoint = "get_registration_form")]
pub async fn get_registration_form() -> Result<RegistrationForm, AppError> {
    Ok(crate::backend::ssr::backend()?.registration_form())
}

/// Who controls the user's details and why they are collected.
#[component]
pub fn PrivacyPage() -> impl IntoView {
    let form = Resource::new(|| (), |_| get_registration_form());
    view! {
        <main class="page">
            <nav class="breadcrumb" aria-label="Breadcrumb"><a href="/">"← My Account"</a></nav>
            <h1>"Privacy notice"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    form.await.ok().map(|form| {
                        let purposes = form.purposes.iter().map(|p| view! {
                            <li><strong>{p.name.clone()}</strong>": "{p.description.clone()}
                                " Uses: "{p.attributes.iter().map(|a| format!("{}{}", a.label, if a.mandatory { " (required)" } else { "" })).collect::<Vec<_>>().join(", ")}"."</li>
                        }).collect_view();
                        view! {
                            <p class="intro">{form.controller.clone()}" controls the personal details you keep in this account. It uses them only for the purposes below, and only with your consent, which you can narrow, time-limit or revoke under Consent Management."</p>
                            <ul class="purposes">{purposes}</ul>
                        }
                    })
                })}
            </Suspense>
        </main>
    }
}
