//! "Create an account": self-registration with consent. The registrant gives
//! the attributes Selfserve's purposes ask for and ticks the consents; the
//! account and its consent receipt are created together. When the operator
//! holds registrations for approval, the account waits until an approver decides.

use crate::consent::{get_registration_form, ChoiceMode, PurposeFieldset, RegistrationForm};
use crate::error::{message_for, AppError};
use crate::layout::{PasswordField, PasswordKind, StatusMessage};
use leptos::prelude::*;
use std::collections::HashMap;

/// `attributes` holds profile values by claim; `consents` one
/// `p<purpose id>-<claim>` key per ticked checkbox.
#[server(endpoint = "register")]
pub async fn register(
    username: String,
    password: String,
    confirm: String,
    #[server(default)] attributes: HashMap<String, String>,
    #[server(default)] consents: HashMap<String, String>,
) -> Result<bool, AppError> {
    use crate::backend::ssr::*;
    if password != confirm {
        return Err(fail(AppError::Invalid(vec![
            crate::error::FieldError::new("confirm", "The two passwords do not match."),
        ])));
    }
    let consents =
        crate::consent::parse_selection(consents.keys()).map_err(|e| fail(AppError::Refused(e)))?;
    let attributes = attributes.into_iter().collect();
    let client = client_info()?;
    respond(
        backend()?
            .register(&username, &password, &attributes, &consents, &client)
            .await,
    )
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    let form = Resource::new(|| (), |_| get_registration_form());
    view! {
        <main id="main" tabindex="-1" class="signin">
            <div class="card signin-card wide">
                <h1>"Create an account"</h1>
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match form.await {
                            Ok(form) if form.enabled => view! { <RegisterForm form /> }.into_any(),
                            Ok(_) => view! { <StatusMessage error="Self-registration is turned off. Ask your administrator for an account." /> }.into_any(),
                            Err(e) => view! { <StatusMessage error=e.to_string() /> }.into_any(),
                        }
                    })}
                </Suspense>
                <p class="hint"><a href="/signin">"Back to sign in"</a></p>
            </div>
        </main>
    }
}

#[component]
fn RegisterForm(form: RegistrationForm) -> impl IntoView {
    let register = ServerAction::<Register>::new();
    let errors = move || {
        register
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| e.field_errors().to_vec())
            .unwrap_or_default()
    };
    let error_for = move |field: String| move || message_for(&errors(), &field);
    let outcome = move || {
        register.value().get().map(|result| match result {
            Ok(true) => view! { <StatusMessage success="Your registration has been sent for approval. You can sign in once it is approved." /> }.into_any(),
            Ok(false) => view! { <StatusMessage success="Your account has been created. You can sign in now." /> }.into_any(),
            Err(e) => view! { <StatusMessage error=e.to_string() /> }.into_any(),
        })
    };
    let attributes = form
        .attributes
        .iter()
        .map(|(claim, label, mandatory)| {
            let id = format!("reg-{claim}");
            let kind = if claim == "email" { "email" } else { "text" };
            view! {
                <div class="field">
                    <label for=id.clone()>{label.clone()}
                        {if *mandatory { " (required)" } else { " (optional)" }}</label>
                    <input id=id type=kind name=format!("attributes[{claim}]") required=*mandatory />
                    <p class="field-error" role="alert">{error_for(claim.clone())}</p>
                </div>
            }
        })
        .collect_view();
    let purposes = form
        .purposes
        .iter()
        .map(|p| {
            view! { <PurposeFieldset purpose=p.clone() mode=ChoiceMode::Registration errors=Signal::derive(errors) /> }
        })
        .collect_view();
    let has_purposes = !form.purposes.is_empty();
    view! {
        <p class="intro">"Choose a username and a password. Long passphrases are easiest to remember and hardest to guess."</p>
        <ActionForm action=register attr:class="form single">
            <div class="field">
                <label for="reg-username">"Username"</label>
                <input id="reg-username" name="username" type="text" autocomplete="username" />
                <p class="field-error" role="alert">{error_for("username".into())}</p>
            </div>
            <PasswordField id="reg-password" name="password" label="Password" kind=PasswordKind::New
                error=Signal::derive(error_for("password".into())) />
            <PasswordField id="reg-confirm" name="confirm" label="Confirm Password" kind=PasswordKind::New
                error=Signal::derive(error_for("confirm".into())) />
            {attributes}
            {has_purposes.then(|| view! {
                <h2>"Your consent"</h2>
                <p class="hint">{form.controller.clone()}" asks your consent to use these details for the purposes below. Read the "
                    <a href=form.policy_url.clone() target="_blank" rel="noopener">"privacy policy"</a>
                    ". You can change or revoke optional consents later under Consent Management."</p>
                {purposes}
                <p class="field-error" role="alert">{error_for("consent".into())}</p>
            })}
            <div class="actions"><button type="submit" class="primary">"Create account"</button></div>
        </ActionForm>
        {outcome}
    }
}
