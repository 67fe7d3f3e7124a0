//! The My Profile page: the form, each field with its error, and the
//! changes held for approval.

use super::*;
use crate::error::message_for;
use crate::layout::{Notice, Page, StatusMessage};
use leptos::either::Either;
use leptos::server_fn::ServerFn as _;

#[component]
pub fn ProfilePage() -> impl IntoView {
    let profile = Resource::new(|| (), |_| get_profile());
    view! {
        <Page title="My Profile" intro="Your personal details. Other applications you sign in to may receive them, according to the consents you give.">
            <p class="page-tools">
                <a class="button secondary" href=EXPORT_PATH download="userInfo.json">"Export"</a>
                <span class="hint">"Download everything we hold about you as userInfo.json."</span>
            </p>
            <Suspense fallback=|| view! { <p class="loading">"Loading your profile…"</p> }>
                {move || Suspend::new(async move {
                    match profile.await {
                        Ok(view) => Either::Left(view! { <ProfileForm profile=view /> }),
                        Err(e) => Either::Right(view! { <StatusMessage error=e.to_string() /> }),
                    }
                })}
            </Suspense>
            <DeleteAccountCard />
        </Page>
    }
}

/// Deleting the account: the password, then a confirmation; the browser then
/// leaves for the sign-in page, which says the account is gone. Where the
/// operator keeps deletion to themselves, the card says whom to ask.
#[component]
fn DeleteAccountCard() -> impl IntoView {
    let offered = Resource::new(|| (), |_| account_deletion_offered());
    // "Confirm it is you" is the client's alone (see `mfa::StepUp`), so it
    // stands outside the Suspense and is asked once deletion is offered. An
    // effect, not a derived signal: the server must not read the resource
    // outside a Suspense.
    let deletable = RwSignal::new(false);
    Effect::new(move |_| deletable.set(matches!(offered.get(), Some(Ok(true)))));
    view! {
        <section class="card" aria-labelledby="delete-heading">
            <h2 id="delete-heading">"Delete your account"</h2>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match offered.await {
                        Ok(true) => Either::Left(view! {
                            <p>"Your profile, sessions, security questions, second factors, passkeys, consents and linked accounts are deleted, \
                                and applications you signed in to lose their access. This cannot be undone. "
                                <a href=EXPORT_PATH download="userInfo.json">"Export your data"</a>" first if you want to keep it."</p>
                        }),
                        Ok(false) => Either::Right(view! { <p>{DELETION_BY_ADMINISTRATOR}</p> }.into_any()),
                        Err(e) => Either::Right(view! { <StatusMessage error=e.to_string() /> }.into_any()),
                    }
                })}
            </Suspense>
            <crate::mfa::StepUp reason="Before you delete your account, give your second factor again: it was last given more than 10 minutes ago."
                when=deletable />
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    matches!(offered.await, Ok(true)).then(|| view! { <DeleteAccountForm /> })
                })}
            </Suspense>
        </section>
    }
}

/// The password and the button, with the confirm dialog they open.
#[component]
fn DeleteAccountForm() -> impl IntoView {
    let delete = ServerAction::<DeleteAccount>::new();
    let password = RwSignal::new(String::new());
    let pending = RwSignal::new(None::<()>);
    let error = Signal::derive(move || {
        delete
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| message_for(e.field_errors(), "password").unwrap_or_else(|| e.to_string()))
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            let _ = window().location().set_href(DELETED_PATH);
        }
    });
    let confirm = Callback::new(move |()| {
        delete.dispatch(DeleteAccount {
            password: password.get_untracked(),
        });
    });
    view! {
        <form class="form single" novalidate on:submit=move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            pending.set(Some(()));
        }>
            <crate::layout::PasswordField id="delete_password" name="password" label="Current Password"
                kind=crate::layout::PasswordKind::Current error on_input=Callback::new(move |value| password.set(value)) />
            <div class="actions">
                <button type="submit" class="danger" disabled=move || delete.pending().get()>
                    {move || if delete.pending().get() { "Deleting…" } else { "Delete account…" }}
                </button>
            </div>
        </form>
        <crate::layout::ConfirmDialog pending describe=describe_deletion on_confirm=confirm />
    }
}

/// Everything held about the user, as a download (WSO2's personal-info export).
const EXPORT_PATH: &str = "/api/identity/user/v1.0/me";

/// Where the browser goes once its account is deleted.
pub const DELETED_PATH: &str = "/signin?account=deleted";

fn describe_deletion(_: &()) -> (String, String) {
    (
        "Delete your account?".into(),
        "Everything Selfserve holds about you is deleted at once, and you are signed out everywhere. \
         This cannot be undone. Do you want to proceed?"
            .into(),
    )
}

#[component]
fn ProfileForm(profile: ProfileView) -> impl IntoView {
    let update = ServerAction::<UpdateProfile>::new();
    let version = RwSignal::new(profile.version);
    let pending = RwSignal::new(profile.pending.clone());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let notice = RwSignal::new(None::<Result<String, String>>);

    Effect::new(move |_| {
        if let Some(result) = update.value().get() {
            match result {
                Ok(saved) => {
                    version.set(saved.version);
                    errors.set(Vec::new());
                    let held: Vec<&str> = FIELDS
                        .iter()
                        .filter(|f| saved.pending.iter().any(|(name, _)| name == f.name))
                        .map(|f| f.label)
                        .collect();
                    notice.set(Some(Ok(if held.is_empty() {
                        "Your profile has been updated.".into()
                    } else {
                        format!(
                            "Your profile has been updated. Changes to {} await approval.",
                            held.join(", ")
                        )
                    })));
                    pending.set(saved.pending);
                }
                Err(e) => {
                    errors.set(e.field_errors().to_vec());
                    notice.set(Some(Err(e.to_string())));
                }
            }
        }
    });

    // Check in the browser first so mistakes are shown without a round trip;
    // the server checks again and has the last word.
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match UpdateProfile::from_event(&ev) {
            Ok(data) => match data.input.parse() {
                Ok(_) => {
                    errors.set(Vec::new());
                    notice.set(None);
                    update.dispatch(data);
                }
                Err(found) => {
                    errors.set(found);
                    notice.set(Some(Err(
                        "Please correct the highlighted fields. Nothing was saved.".into(),
                    )));
                }
            },
            Err(e) => notice.set(Some(Err(e.to_string()))),
        }
    };

    let claims = profile.claims.clone();
    let fields = FIELDS
        .iter()
        .map(|field| {
            let value = claims.get(field.name).to_string();
            view! { <ProfileField field=*field value errors pending /> }
        })
        .collect_view();

    view! {
        <form
            class="card form"
            method="post"
            action=UpdateProfile::url()
            on:submit=on_submit
            novalidate
        >
            <div class="readonly-field">
                <span class="label">"Username"</span>
                <span class="value" data-testid="username">{profile.username.clone()}</span>
            </div>
            {fields}
            <div class="readonly-field">
                <span class="label" id="role-label">"Role"</span>
                <span class="value" aria-labelledby="role-label" data-testid="role">
                    {if profile.role.is_empty() { "No role assigned".to_string() } else { profile.role.clone() }}
                </span>
                <span class="hint">"Roles are assigned by your administrator."</span>
            </div>
            <input type="hidden" name="version" prop:value=move || version.get().to_string() />
            <div class="actions">
                <button type="submit" class="primary" disabled=move || update.pending().get()>
                    {move || if update.pending().get() { "Updating…" } else { "Update" }}
                </button>
            </div>
            <Notice notice />
        </form>
    }
}

#[component]
fn ProfileField(
    field: FieldSpec,
    value: String,
    errors: RwSignal<Vec<FieldError>>,
    pending: RwSignal<Vec<(String, String)>>,
) -> impl IntoView {
    let pending_note = move || {
        pending.with(|p| {
            p.iter()
                .find(|(name, _)| name == field.name)
                .map(|(_, value)| {
                    let shown = if value.is_empty() {
                        "(empty)".to_string()
                    } else {
                        value.clone()
                    };
                    view! {
                        <p class="pending-note" data-testid=format!("pending-{}", field.name)>
                            {format!("Pending approval: {shown}")}
                        </p>
                    }
                })
        })
    };
    let id = format!("profile-{}", field.name);
    let error_id = format!("{id}-error");
    let name = format!("input[{}]", field.name);
    let error = move || errors.with(|e| message_for(e, field.name));
    let invalid = move || error().is_some().to_string();
    let described = error_id.clone();
    let control = match field.kind {
        FieldKind::Country => {
            let options = countries()
                .into_iter()
                .map(|(code, label)| {
                    let selected = code == value;
                    view! { <option value=code selected=selected>{label}</option> }
                })
                .collect_view();
            Either::Left(view! {
                <select id=id.clone() name=name autocomplete=field.autocomplete aria-invalid=invalid aria-describedby=described>
                    <option value="">"Choose a country"</option>
                    {options}
                </select>
            })
        }
        kind => {
            let input_type = match kind {
                FieldKind::Email => "email",
                FieldKind::Phone => "tel",
                FieldKind::Url => "url",
                _ => "text",
            };
            let placeholder = match kind {
                FieldKind::Phone => "+14155550123",
                FieldKind::Url => "https://example.com",
                FieldKind::Email => "name@example.com",
                _ => "",
            };
            Either::Right(view! {
                <input
                    id=id.clone()
                    type=input_type
                    name=name
                    value=value
                    maxlength=field.max_chars
                    placeholder=placeholder
                    autocomplete=field.autocomplete
                    aria-invalid=invalid
                    aria-describedby=described
                />
            })
        }
    };
    view! {
        <div class="field">
            <label for=id>{field.label}</label>
            {control}
            {pending_note}
            <p class="field-error" id=error_id role="alert">{error}</p>
        </div>
    }
}
