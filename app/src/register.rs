//! "Create an account": self-registration with consent. The registrant gives
//! the attributes Selfserve's purposes ask for and ticks the consents; the
//! account and its consent receipt are created together. When the operator
//! holds registrations for approval, the account waits until an approver decides.

use crate::consent::{get_registration_form, ChoiceMode, PurposeFieldset, RegistrationForm};
use crate::error::{message_for, AppError};
use crate::layout::{CardPage, PasswordField, PasswordKind, StatusMessage};
use leptos::either::Either;
use leptos::prelude::*;
use std::collections::HashMap;

/// `attributes` holds profile values by claim; `consents` one
/// `p<purpose id>-<claim>` key per ticked checkbox. `with_identity`: the
/// account is created with the identity that came back from a provider
/// linked to nothing (named by this browser's cookie), without a password.
#[server(endpoint = "register")]
pub async fn register(
    username: String,
    #[server(default)] password: String,
    #[server(default)] confirm: String,
    #[server(default)] attributes: HashMap<String, String>,
    #[server(default)] consents: HashMap<String, String>,
    #[server(default)] with_identity: Option<String>,
) -> Result<bool, AppError> {
    use crate::backend::ssr::*;
    let identity = match with_identity {
        Some(_) => Some(
            request_cookie(crate::associations::PENDING_IDENTITY_COOKIE).ok_or_else(|| {
                fail(AppError::Refused(
                    "The sign-in at your identity provider has expired. Start again with its button on the sign-in page."
                        .into(),
                ))
            })?,
        ),
        None => None,
    };
    if identity.is_none() && password != confirm {
        return Err(fail(AppError::Invalid(vec![
            crate::error::FieldError::new("confirm", "The two passwords do not match."),
        ])));
    }
    let consents =
        crate::consent::parse_selection(consents.keys()).map_err(|e| fail(AppError::Refused(e)))?;
    let attributes = attributes.into_iter().collect();
    let client = client_info()?;
    let backend = backend()?;
    let held = respond(
        backend
            .register(
                &username,
                &password,
                &attributes,
                &consents,
                identity.as_deref(),
                &client,
            )
            .await,
    )?;
    if identity.is_some() {
        set_cookie(backend.forget_pending_identity());
    }
    Ok(held)
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    let form = Resource::new(|| (), |_| get_registration_form());
    let query = leptos_router::hooks::use_query_map();
    let with_identity = move || query.with(|q| q.get("with").as_deref() == Some("identity"));
    let identity = Resource::new(with_identity, |wanted| async move {
        if !wanted {
            return None;
        }
        crate::associations::waiting_identity()
            .await
            .ok()
            .flatten()
            .filter(|identity| identity.can_sign_up)
    });
    view! {
        <CardPage title="Create an account" wide=true>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let identity = identity.await;
                    if with_identity() && identity.is_none() {
                        return Either::Left(view! { <StatusMessage error="The sign-in at your identity provider has expired, or that provider does not create accounts here. Start again with its button on the sign-in page." /> });
                    }
                    match form.await {
                        Ok(form) if form.enabled => Either::Right(view! { <RegisterForm form identity /> }),
                        Ok(_) => Either::Left(view! { <StatusMessage error="Self-registration is turned off. Ask your administrator for an account." /> }),
                        Err(e) => Either::Left(view! { <StatusMessage error=e.to_string() /> }),
                    }
                })}
            </Suspense>
            <p class="hint"><a href="/signin">"Back to sign in"</a></p>
        </CardPage>
    }
}

#[component]
fn RegisterForm(
    form: RegistrationForm,
    /// Created with this identity, without a password.
    identity: Option<crate::associations::PendingIdentity>,
) -> impl IntoView {
    let provider = identity.as_ref().map(|i| i.provider_name.clone());
    let prefilled = identity
        .as_ref()
        .map(|i| i.attributes.clone())
        .unwrap_or_default();
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
        let provider = provider.clone();
        register.value().get().map(|result| match (result, provider) {
            (Ok(true), None) => view! { <StatusMessage success="Your registration has been sent for approval. You can sign in once it is approved." /> }.into_any(),
            (Ok(false), None) => view! { <StatusMessage success="Your account has been created. You can sign in now." /> }.into_any(),
            (Ok(true), Some(provider)) => view! { <StatusMessage success=format!("Your registration has been sent for approval. Once it is approved, sign in with {provider}.") /> }.into_any(),
            (Ok(false), Some(provider)) => view! { <StatusMessage success=format!("Your account has been created. Sign in with {provider} to use it.") /> }.into_any(),
            (Err(e), _) => view! { <StatusMessage error=e.to_string() /> }.into_any(),
        })
    };
    let attributes = form
        .attributes
        .iter()
        .map(|(claim, label, mandatory)| {
            let id = format!("reg-{claim}");
            let kind = if claim == "email" { "email" } else { "text" };
            let value = prefilled.get(claim).cloned().unwrap_or_default();
            view! {
                <div class="field">
                    <label for=id.clone()>{label.clone()}
                        {if *mandatory { " (required)" } else { " (optional)" }}</label>
                    <input id=id type=kind name=format!("attributes[{claim}]") required=*mandatory value=value />
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
        {match &identity {
            None => Either::Left(view! { <p class="intro">"Choose a username and a password. Long passphrases are easiest to remember and hardest to guess."</p> }),
            Some(identity) => Either::Right(view! {
                <p class="intro">"Create an account that you sign in to with "<strong>{identity.display.clone()}</strong>" at "{identity.provider_name.clone()}
                    ". It needs no password; you can set one later on Change Password."</p>
            }),
        }}
        <ActionForm action=register attr:class="form single">
            <div class="field">
                <label for="reg-username">"Username"</label>
                <input id="reg-username" name="username" type="text" autocomplete="username"
                    value=identity.as_ref().map(|i| i.username.clone()).unwrap_or_default() />
                <p class="field-error" role="alert">{error_for("username".into())}</p>
            </div>
            {match identity.is_some() {
                true => Either::Left(view! { <input type="hidden" name="with_identity" value="on" /> }),
                false => Either::Right(view! {
                    <PasswordField id="reg-password" name="password" label="Password" kind=PasswordKind::New
                        error=Signal::derive(error_for("password".into())) />
                    <PasswordField id="reg-confirm" name="confirm" label="Confirm Password" kind=PasswordKind::New
                        error=Signal::derive(error_for("confirm".into())) />
                }),
            }}
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
