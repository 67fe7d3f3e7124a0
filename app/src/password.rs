//! Change Password: the form, the live strength meter and the server functions.
//! The policy itself (length, breached/common passwords, username) lives on the
//! server, which answers both the meter and the final check, so the two can
//! never disagree.

use crate::associations::ProviderButtons;
use crate::error::{message_for, AppError, FieldError};
use crate::layout::{Notice, Page, PasswordField, PasswordKind, When};
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos::server_fn::ServerFn as _;
use serde::{Deserialize, Serialize};

/// What the strength meter shows for a candidate password.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordFeedback {
    /// 0 (very weak) to 4 (very strong).
    pub score: u8,
    /// Whether the server would accept this password.
    pub acceptable: bool,
    /// Why it would be refused, or how to make it stronger.
    pub problems: Vec<String>,
}

impl PasswordFeedback {
    pub fn label(&self) -> &'static str {
        if !self.acceptable {
            return "Not allowed";
        }
        match self.score {
            0 | 1 => "Weak",
            2 => "Fair",
            3 => "Good",
            _ => "Strong",
        }
    }
}

/// A request to change the password, with the confirmation already checked.
#[derive(Debug, Clone)]
pub struct PasswordChange {
    pub current: String,
    pub new_password: String,
    pub sign_out_other_devices: bool,
}

/// Whether the account has a password to change; one created through an
/// identity provider has none until its user sets one, after proving
/// themselves again at a provider linked to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordStatus {
    pub has_password: bool,
    /// When the password was last set, when that is known.
    pub changed: Option<crate::layout::Moment>,
    /// The linked providers that can confirm it is the user.
    pub providers: Vec<crate::associations::ProviderChoice>,
    /// Confirmed at a provider within the last 10 minutes.
    pub confirmed: bool,
}

#[server(endpoint = "password_status")]
pub async fn load_password_status() -> Result<PasswordStatus, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.password_status(&session).await)
}

/// Checks what the browser can check on its own: both entries given and
/// equal, and the current password unless the account has none.
pub fn check_entries(current: Option<&str>, new_password: &str, confirm: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if current.is_some_and(str::is_empty) {
        errors.push(FieldError::new("current", "Enter your current password."));
    }
    if new_password.is_empty() {
        errors.push(FieldError::new("new_password", "Enter a new password."));
    }
    if confirm != new_password {
        errors.push(FieldError::new(
            "confirm",
            "The two new passwords do not match.",
        ));
    }
    errors
}

#[server(endpoint = "password_strength")]
pub async fn password_strength(candidate: String) -> Result<PasswordFeedback, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.password_feedback(&session, &candidate).await)
}

#[server(endpoint = "change_password")]
pub async fn change_password(
    #[server(default)] current: String,
    new_password: String,
    confirm: String,
    sign_out_others: Option<String>,
    /// Set by the form of an account without a password (the server checks
    /// that it has none).
    #[server(default)]
    setting_first: Option<String>,
) -> Result<(), AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    let expected_current = setting_first.is_none().then_some(current.as_str());
    let errors = check_entries(expected_current, &new_password, &confirm);
    if !errors.is_empty() {
        return Err(fail(AppError::Invalid(errors)));
    }
    let change = PasswordChange {
        current,
        new_password,
        sign_out_other_devices: sign_out_others.is_some(),
    };
    let client = client_info()?;
    let cookie = respond(backend()?.change_password(&session, change, &client).await)?;
    set_cookie(cookie);
    Ok(())
}

#[component]
pub fn PasswordPage() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let notice = RwSignal::new(None::<Result<String, String>>);
    let new_password = RwSignal::new(String::new());
    let form_ref = NodeRef::<leptos::html::Form>::new();

    Effect::new(move |_| {
        if let Some(result) = change.value().get() {
            match result {
                Ok(()) => {
                    errors.set(Vec::new());
                    new_password.set(String::new());
                    if let Some(form) = form_ref.get_untracked() {
                        form.reset();
                    }
                    notice.set(Some(Ok("Your password has been changed.".into())));
                }
                Err(e) => {
                    errors.set(e.field_errors().to_vec());
                    notice.set(Some(Err(e.to_string())));
                }
            }
        }
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match ChangePassword::from_event(&ev) {
            Ok(data) => {
                let expected_current = data
                    .setting_first
                    .is_none()
                    .then_some(data.current.as_str());
                let found = check_entries(expected_current, &data.new_password, &data.confirm);
                if found.is_empty() {
                    errors.set(Vec::new());
                    notice.set(None);
                    change.dispatch(data);
                } else {
                    errors.set(found);
                    notice.set(Some(Err("Please correct the highlighted fields.".into())));
                }
            }
            Err(e) => notice.set(Some(Err(e.to_string()))),
        }
    };

    let error_for =
        move |field: &'static str| Signal::derive(move || errors.with(|e| message_for(e, field)));
    let status = Resource::new(move || change.version().get(), |_| load_password_status());
    let query = leptos_router::hooks::use_query_map();

    let form = move |has_password: bool| {
        view! {
                <form
                    class="card form single"
                    method="post"
                    action=ChangePassword::url()
                    on:submit=on_submit
                    node_ref=form_ref
                    novalidate
                >
                    {if has_password {
                        Either::Left(view! { <PasswordField id="current" label="Current Password" kind=PasswordKind::Current
                            error=error_for("current") /> })
                    } else {
                        Either::Right(view! { <input type="hidden" name="setting_first" value="on" /> })
                    }}
                    <PasswordField id="new_password" label="New Password" kind=PasswordKind::New
                        error=error_for("new_password") described_by="strength"
                        on_input=Callback::new(move |value| new_password.set(value))>
                        <StrengthMeter candidate=new_password />
                    </PasswordField>
                    <PasswordField id="confirm" label="Confirm New Password" kind=PasswordKind::New
                        error=error_for("confirm") />
                    <div class="field checkbox">
                        <input id="sign_out_others" name="sign_out_others" type="checkbox" value="on" checked />
                        <label for="sign_out_others">"Sign out of other devices"</label>
                    </div>
                    <div class="actions">
                        <button type="submit" class="primary" disabled=move || change.pending().get()>
                            {move || if change.pending().get() { "Updating…" } else { "Update" }}
                        </button>
                    </div>
                    <Notice notice />
                </form>
        }
    };

    view! {
        <Page title="Change Password" intro="Choose a password you do not use anywhere else. Long passphrases are easiest to remember and hardest to guess; there are no rules about symbols or digits.">
            <crate::mfa::StepUp reason="Before you change your password, give your second factor again: it was last given more than 10 minutes ago." />
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(status) if status.has_password => EitherOf3::A(view! {
                            {status.changed.map(|at| view! {
                                <p class="hint" data-testid="password-changed">"Your password was last changed " <When at /> "."</p>
                            })}
                            {form(true)}
                        }),
                        Ok(status) => {
                            let outcome = query.with(|q| crate::associations::federation_notice(q, &status.providers));
                            let confirmed = status.confirmed;
                            EitherOf3::B(view! { <FirstPassword status outcome /> {confirmed.then(|| form(false))} })
                        }
                        Err(e) => EitherOf3::C(view! { <crate::layout::StatusMessage error=e.to_string() /> }),
                    }
                })}
            </Transition>
        </Page>
    }
}

/// For an account without a password: what it signs in with, and a fresh
/// sign-in at one of its providers before it may choose a password.
#[component]
fn FirstPassword(status: PasswordStatus, outcome: Option<Result<String, String>>) -> impl IntoView {
    let names = status
        .providers
        .iter()
        .map(|p| p.name.clone())
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <section class="card" aria-labelledby="first-password-heading">
            <h2 id="first-password-heading">"Set a password"</h2>
            {outcome.map(|o| match o {
                Ok(text) => view! { <crate::layout::StatusMessage success=text /> }.into_any(),
                Err(text) => view! { <crate::layout::StatusMessage error=text /> }.into_any(),
            })}
            <p>"Your account has no password: you sign in with "{names}"."</p>
            {if status.confirmed {
                Either::Left(view! { <p class="hint">"Choose your password below. With it you can also sign in without your identity provider."</p> })
            } else {
                Either::Right(view! {
                    <p class="hint">"To set one, first confirm it is you by signing in again at your identity provider. You then have 10 minutes to choose your password."</p>
                    <div class="actions provider-buttons">
                        <ProviderButtons providers=status.providers.clone() intent="confirm" label="Confirm with " class="primary" />
                    </div>
                })
            }}
        </section>
    }
}

/// Shows how strong the typed password is, asking the server's policy once
/// typing pauses (only the newest answer is shown).
#[component]
fn StrengthMeter(candidate: RwSignal<String>) -> impl IntoView {
    // One request per pause rather than per keystroke, and a screen reader
    // hears the verdict once; an emptied field clears the meter at once.
    let checked = RwSignal::new(String::new());
    let mut settle = debounce(
        std::time::Duration::from_millis(250),
        move |value: String| checked.set(value),
    );
    Effect::new(move |_| {
        let value = candidate.get();
        if value.is_empty() {
            checked.set(String::new());
        }
        settle(value);
    });
    // Asked from an effect, which runs only in the browser: a resource here
    // would be created inside the page's Transition, and the server then
    // streamed the whole form as an unfinished chunk ("Loading…") that the
    // client sometimes failed to hydrate.
    let feedback = RwSignal::new(None::<PasswordFeedback>);
    Effect::new(move |_| {
        let candidate = checked.get();
        if candidate.is_empty() {
            feedback.set(None);
            return;
        }
        leptos::task::spawn_local(async move {
            let answer = password_strength(candidate.clone()).await.ok();
            // Only the newest answer is shown, and none once the page is gone.
            if checked.try_get_untracked().as_deref() == Some(candidate.as_str()) {
                let _ = feedback.try_set(answer);
            }
        });
    });
    let current = move || feedback.get();
    view! {
        <div id="strength" class="strength" aria-live="polite">
            <meter min="0" max="4" low="2" high="3" optimum="4"
                value=move || current().map(|f| f.score).unwrap_or(0).to_string()
                aria-label="Password strength"></meter>
            <span class="strength-label" data-testid="strength-label">
                {move || match current() {
                    Some(f) => format!("Strength: {}", f.label()),
                    None => "Strength: enter a new password".to_string(),
                }}
            </span>
            <ul class="strength-problems">
                {move || current().map(|f| f.problems.into_iter().map(|p| view! { <li>{p}</li> }).collect_view())}
            </ul>
        </div>
    }
}
