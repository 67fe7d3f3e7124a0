//! Consent Management: the receipts of the consents the user gave, what each
//! service may receive, and the pages that revoke, narrow or time-limit them.

mod detail;
mod list;
mod purposes;
pub mod required;

pub use detail::ConsentDetailPage;
pub use list::ConsentPage;
pub use purposes::{ChoiceMode, PurposeFieldset};

use crate::error::AppError;
use crate::layout::Moment;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

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

fn badge_class(state: ConsentState) -> &'static str {
    match state {
        ConsentState::Active => "badge",
        _ => "badge muted",
    }
}

fn listing(labels: &[String]) -> String {
    labels.join(", ")
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
        <leptos_meta::Title text="Privacy notice" />
        <main id="main" tabindex="-1" class="page">
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
