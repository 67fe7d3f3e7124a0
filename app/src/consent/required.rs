//! Selfserve's own consent, asked again at sign-in when the user's receipt
//! was revoked or ended ("revoke the given consent, log out, then log back in
//! and approve consent again; a new consent receipt will be generated").
//! The dashboard does not open until the user answers: Allow issues a new
//! receipt with the PII controller as configured now; Deny signs out.

use crate::authorize::{ConsentPrompt, Prompt};
use crate::error::AppError;
use leptos::either::Either;
use leptos::prelude::*;
use std::collections::BTreeMap;

#[server(endpoint = "system_consent_prompt")]
pub async fn system_consent_prompt() -> Result<ConsentPrompt, AppError> {
    use crate::backend::ssr::*;
    current_session()?;
    Ok(backend()?.system_consent_prompt())
}

#[server(endpoint = "renew_consent")]
pub async fn renew_consent(
    decision: String,
    #[server(default)] selected: BTreeMap<String, String>,
) -> Result<(), AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    if decision != "allow" {
        let cookie = respond(backend()?.sign_out(&session).await)?;
        set_cookie(cookie);
        leptos_axum::redirect("/signin?signed_out=consent");
        return Ok(());
    }
    let selection = super::parse_selection(selected.keys()).map_err(AppError::Refused)?;
    backend()?
        .renew_system_consent(&session, &selection)
        .await?;
    leptos_axum::redirect("/");
    Ok(())
}

#[component]
pub fn ConsentRequiredPage() -> impl IntoView {
    let prompt = Resource::new(|| (), |_| system_consent_prompt());
    view! {
        <main id="main" tabindex="-1" class="signin">
            <div class="card signin-card">
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match prompt.await {
                            Ok(prompt) => Either::Left(view! {
                                <Prompt prompt heading="Selfserve needs your consent again".to_string()
                                    action="/api/renew_consent" />
                            }),
                            Err(error) => Either::Right(view! {
                                <leptos_meta::Title text="Consent needed" />
                                <p class="status error" role="alert">{error.to_string()}</p>
                            }),
                        }
                    })}
                </Suspense>
            </div>
        </main>
    }
}
