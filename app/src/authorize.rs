//! Signing in to an application through Selfserve: the consent prompt shown
//! when the application asks for claims the user has not consented to (or
//! asks again with `prompt=consent`). The authorization endpoint itself is
//! the server's (`/oauth2/authorize`); it sends the browser here with the
//! application's request, which the server checks again on every step.

use crate::consent::{ChoiceMode, PurposeChoice, PurposeFieldset};
use crate::error::AppError;
use leptos::either::Either;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the prompt shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentPrompt {
    pub client_name: String,
    pub client_description: String,
    /// Mandatory claims ticked and locked, optional ones unticked.
    pub purposes: Vec<PurposeChoice>,
    pub policy_url: String,
}

/// Only the authorization endpoint's own address may be returned to after
/// sign-in: anything else would make the sign-in page an open redirector.
pub fn is_return_address(path: &str) -> bool {
    path.starts_with("/oauth2/authorize?") && !path.contains(['\\', '\r', '\n'])
}

#[server(endpoint = "consent_prompt")]
pub async fn load_consent_prompt(query: String) -> Result<ConsentPrompt, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    backend()?.consent_prompt(&session, &query).await
}

/// Allow or Deny; either way the browser goes back to the application.
#[server(endpoint = "answer_consent")]
pub async fn answer_consent(
    query: String,
    decision: String,
    #[server(default)] selected: BTreeMap<String, String>,
) -> Result<(), AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    let selection = crate::consent::parse_selection(selected.keys()).map_err(AppError::Refused)?;
    let back = backend()?
        .answer_consent(&session, &query, decision == "allow", &selection)
        .await?;
    leptos_axum::redirect(&back);
    Ok(())
}

#[component]
pub fn ConsentPromptPage() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    // The application's request, exactly as it reached the authorization endpoint.
    let query = move || location.search.get().trim_start_matches('?').to_string();
    let prompt = Resource::new(query, load_consent_prompt);
    view! {
        <main id="main" tabindex="-1" class="signin">
            <div class="card signin-card">
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match prompt.await {
                            Ok(prompt) => {
                                let heading = format!("{} wants to use your account", prompt.client_name);
                                Either::Left(view! {
                                    <Prompt prompt heading action="/api/answer_consent" query=query() />
                                })
                            }
                            Err(error) => Either::Right(view! {
                                <leptos_meta::Title text="This sign-in cannot continue" />
                                <h1>"This sign-in cannot continue"</h1>
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

/// A consent prompt: what is asked and why, Allow and Deny. A plain form,
/// as both answers may leave for another site (an application's address),
/// which only a full navigation reaches.
#[component]
pub fn Prompt(
    prompt: ConsentPrompt,
    heading: String,
    /// The server function's address that takes the answer.
    action: &'static str,
    /// The application's request, passed back with the answer.
    #[prop(optional)]
    query: Option<String>,
) -> impl IntoView {
    let purposes = prompt
        .purposes
        .into_iter()
        .map(|purpose| {
            view! {
                <PurposeFieldset purpose mode=ChoiceMode::Review { editable: true, active: false } />
            }
        })
        .collect_view()
        // Type erasure keeps the view's type within the compiler's limits.
        .into_any();
    view! {
        <leptos_meta::Title text=heading.clone() />
        <h1>{heading}</h1>
        <p class="intro">{prompt.client_description}</p>
        <p class="hint">
            "Required items are needed for it to work; you may tick the others. \
             You can change or withdraw this later on Consent Management."
        </p>
        <form method="post" action=action class="form">
            {query.map(|query| view! { <input type="hidden" name="query" value=query /> })}
            {purposes}
            <p class="hint">
                "Read the "<a href=prompt.policy_url target="_blank" rel="noopener">"privacy policy"</a>"."
            </p>
            <div class="actions">
                <button type="submit" name="decision" value="allow" class="primary">"Allow"</button>
                <button type="submit" name="decision" value="deny">"Deny"</button>
            </div>
        </form>
    }
}
