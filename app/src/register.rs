//! "Create an account": self-registration. When the operator holds
//! registrations for approval, the account waits until an approver decides.

use crate::error::{message_for, AppError};
use crate::layout::StatusMessage;
use leptos::prelude::*;

#[server(endpoint = "register")]
pub async fn register(
    username: String,
    password: String,
    confirm: String,
    email: String,
) -> Result<bool, AppError> {
    use crate::backend::ssr::*;
    if password != confirm {
        return Err(fail(AppError::Invalid(vec![
            crate::error::FieldError::new("confirm", "The two passwords do not match."),
        ])));
    }
    let client = client_info()?;
    respond(
        backend()?
            .register(&username, &password, &email, &client)
            .await,
    )
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    let register = ServerAction::<Register>::new();
    let errors = move || {
        register
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| e.field_errors().to_vec())
            .unwrap_or_default()
    };
    let error_for = move |field: &'static str| move || message_for(&errors(), field);
    let outcome = move || {
        register.value().get().map(|result| match result {
            Ok(true) => view! { <StatusMessage success="Your registration has been sent for approval. You can sign in once it is approved." /> }.into_any(),
            Ok(false) => view! { <StatusMessage success="Your account has been created. You can sign in now." /> }.into_any(),
            Err(e) => view! { <StatusMessage error=e.to_string() /> }.into_any(),
        })
    };
    view! {
        <main class="signin">
            <div class="card signin-card">
                <h1>"Create an account"</h1>
                <p class="intro">"Choose a username and a password. Long passphrases are easiest to remember and hardest to guess."</p>
                <ActionForm action=register attr:class="form single">
                    <div class="field">
                        <label for="reg-username">"Username"</label>
                        <input id="reg-username" name="username" type="text" autocomplete="username" />
                        <p class="field-error" role="alert">{error_for("username")}</p>
                    </div>
                    <div class="field">
                        <label for="reg-email">"Email"</label>
                        <input id="reg-email" name="email" type="email" autocomplete="email" />
                        <p class="field-error" role="alert">{error_for("email")}</p>
                    </div>
                    <div class="field">
                        <label for="reg-password">"Password"</label>
                        <input id="reg-password" name="password" type="password" autocomplete="new-password" />
                        <p class="field-error" role="alert">{error_for("password")}</p>
                    </div>
                    <div class="field">
                        <label for="reg-confirm">"Confirm Password"</label>
                        <input id="reg-confirm" name="confirm" type="password" autocomplete="new-password" />
                        <p class="field-error" role="alert">{error_for("confirm")}</p>
                    </div>
                    <div class="actions"><button type="submit" class="primary">"Create account"</button></div>
                </ActionForm>
                {outcome}
                <p class="hint"><a href="/signin">"Back to sign in"</a></p>
            </div>
        </main>
    }
}
