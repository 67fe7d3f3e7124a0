//! Consent Management: every service's consent, and revoking one.

use super::{badge_class, get_consents, listing, ConsentEntry, RevokeConsent};
use crate::layout::{ConfirmDialog, Notice, Page, StatusMessage, When};
use leptos::either::Either;
use leptos::prelude::*;

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

#[component]
pub fn ConsentPage() -> impl IntoView {
    let revoke = ServerAction::<RevokeConsent>::new();
    // Read again after a revocation here, or a change made elsewhere (the
    // REST API, an application's sign-in, an end date passing).
    let changes = RwSignal::new(0u32);
    let consents = Resource::new(
        move || (revoke.version().get(), changes.get()),
        |_| get_consents(),
    );
    let live = crate::live::subscribe(move |event| {
        if event == crate::live::LiveEvent::ConsentChanged {
            changes.update(|n| *n += 1);
        }
    });
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
            <crate::live::LiveLine status=live what="changes made elsewhere (an application, an end date passing)" />
            <Transition fallback=|| view! { <p class="loading">"Loading your consents…"</p> }>
                {move || Suspend::new(async move {
                    match consents.await {
                        Ok(entries) => Either::Left(view! { <ConsentList entries pending /> }),
                        Err(e) => Either::Right(view! { <StatusMessage error=e.to_string() /> }),
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
                                Some(at) => Either::Left(view! { <When at /> }),
                                None => Either::Right("Never"),
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
