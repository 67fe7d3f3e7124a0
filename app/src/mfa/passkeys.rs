//! Passkeys and security keys (WebAuthn): the card on the Multi-factor
//! authentication page that registers, renames and removes them, and "Sign
//! in with a passkey" on the sign-in page. The ceremonies run in the hydrated
//! client through `navigator.credentials`; the server checks them.

use crate::error::{message_for, AppError, FieldError};
use crate::layout::{Moment, When};
use leptos::either::Either;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The longest name a passkey may have, in characters.
pub const NAME_MAX: usize = 64;

/// What the user calls a passkey ("Work laptop"): 1 to 64 characters, no
/// control characters, without surrounding spaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyName(String);

impl PasskeyName {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let name = raw.trim();
        let problem = if name.is_empty() {
            Some("Give the passkey a name you will recognise, such as \"Work laptop\".")
        } else if name.chars().count() > NAME_MAX {
            Some("A passkey's name has at most 64 characters.")
        } else if name.chars().any(char::is_control) {
            Some("A passkey's name cannot contain control characters.")
        } else {
            None
        };
        match problem {
            Some(message) => Err(AppError::Invalid(vec![FieldError::new("name", message)])),
            None => Ok(Self(name.to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One of the user's passkeys as the page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasskeyStatus {
    /// The credential id (base64url), as REST names it too.
    pub id: String,
    pub name: String,
    pub added: Moment,
    pub last_used: Option<Moment>,
}

/// The user's passkeys, when the server offers them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Passkeys {
    pub list: Vec<PasskeyStatus>,
    /// The account has no password and no linked identity: its last passkey
    /// is its only way in, and cannot be removed.
    pub only_way_in: bool,
}

/// A ceremony the server began: the token that names it and the options
/// for `navigator.credentials` (JSON, as webauthn-rs writes them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasskeyCeremony {
    pub ceremony: String,
    pub options: String,
}

/// The user's passkeys; None when the server does not offer them.
#[server(endpoint = "passkeys")]
pub async fn load_passkeys() -> Result<Option<Passkeys>, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.passkeys(&session).await)
}

#[server(endpoint = "begin_passkey_registration")]
pub async fn begin_passkey_registration() -> Result<PasskeyCeremony, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.begin_passkey_registration(&session).await)
}

#[server(endpoint = "finish_passkey_registration")]
pub async fn finish_passkey_registration(
    ceremony: String,
    name: String,
    credential: String,
) -> Result<(), AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    let name = respond(PasskeyName::parse(&name))?;
    respond(
        backend()?
            .finish_passkey_registration(&session, &ceremony, name, &credential)
            .await,
    )
}

#[server(endpoint = "rename_passkey")]
pub async fn rename_passkey(id: String, name: String) -> Result<(), AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    let name = respond(PasskeyName::parse(&name))?;
    respond(backend()?.rename_passkey(&session, &id, name).await)
}

#[server(endpoint = "remove_passkey")]
pub async fn remove_passkey(id: String) -> Result<(), AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.remove_passkey(&session, &id).await)
}

/// Whether the sign-in page offers "Sign in with a passkey".
#[server(endpoint = "passkey_sign_in_offered")]
pub async fn passkey_sign_in_offered() -> Result<bool, AppError> {
    Ok(crate::backend::ssr::backend()?.passkeys_offered())
}

#[server(endpoint = "begin_passkey_sign_in")]
pub async fn begin_passkey_sign_in() -> Result<PasskeyCeremony, AppError> {
    use crate::backend::ssr::*;
    respond(backend()?.begin_passkey_sign_in().await)
}

/// Signs in with the passkey the browser chose; where to go next (the
/// page opens it with a full navigation).
#[server(endpoint = "finish_passkey_sign_in")]
pub async fn finish_passkey_sign_in(
    ceremony: String,
    credential: String,
    #[server(default)] return_to: Option<String>,
) -> Result<String, AppError> {
    use crate::backend::ssr::*;
    let client = client_info()?;
    let pending = request_cookie(crate::associations::PENDING_IDENTITY_COOKIE);
    let return_to = return_to.filter(|path| crate::authorize::is_return_address(path));
    let signed_in = respond(
        backend()?
            .finish_passkey_sign_in(
                &ceremony,
                &credential,
                &client,
                pending.as_deref(),
                return_to.as_deref(),
            )
            .await,
    )?;
    Ok(crate::signin::start_session(signed_in).0)
}

/// Starts giving a passkey at the second step of sign-in.
#[server(endpoint = "begin_passkey_second_step")]
pub async fn begin_passkey_second_step() -> Result<PasskeyCeremony, AppError> {
    use crate::backend::ssr::*;
    let token = super::challenge_token()?;
    respond(backend()?.begin_passkey_second_step(&token).await)
}

/// The second step of sign-in with a passkey; then as after a password.
#[server(endpoint = "finish_passkey_second_step")]
pub async fn finish_passkey_second_step(
    ceremony: String,
    credential: String,
) -> Result<String, AppError> {
    use crate::backend::ssr::*;
    let client = client_info()?;
    let token = super::challenge_token()?;
    let pending = request_cookie(crate::associations::PENDING_IDENTITY_COOKIE);
    let done = respond(
        backend()?
            .answer_with_passkey(&token, &ceremony, &credential, &client, pending.as_deref())
            .await,
    )?;
    Ok(crate::signin::start_session(done).0)
}

/// Starts giving one of the signed-in user's passkeys again (step-up).
#[server(endpoint = "begin_passkey_step_up")]
pub async fn begin_passkey_step_up() -> Result<PasskeyCeremony, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.begin_passkey_step_up(&session).await)
}

/// The passkey given again: changes need no other factor for 10 minutes.
#[server(endpoint = "finish_passkey_step_up")]
pub async fn finish_passkey_step_up(ceremony: String, credential: String) -> Result<(), AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(
        backend()?
            .finish_passkey_step_up(&session, &ceremony, &credential)
            .await,
    )
}

/// Why the browser gave no passkey, in words.
#[cfg(feature = "hydrate")]
fn browser_refusal(error: wasm_bindgen::JsValue) -> String {
    let name = js_sys::Reflect::get(&error, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_default();
    match name.as_str() {
        "NotAllowedError" | "AbortError" => {
            "No passkey was used: the request was cancelled or timed out. Try again when you are ready."
                .into()
        }
        "InvalidStateError" => {
            "This device or security key already holds a passkey for your account.".into()
        }
        "SecurityError" => {
            "This browser refused to use passkeys on this address.".into()
        }
        _ => format!("Your browser could not use a passkey ({name})."),
    }
}

/// Whether this browser can use passkeys as the page asks for them: with the
/// WebAuthn JSON functions (Chromium 129, Firefox 119, Safari 18.4), which
/// spare the page a copy of the WebAuthn message types in its WASM (about a
/// tenth of it; README, "Measured").
#[cfg(feature = "hydrate")]
fn browser_has_passkeys() -> bool {
    public_key_credential()
        .and_then(|class| js_sys::Reflect::has(&class, &"parseCreationOptionsFromJSON".into()).ok())
        .unwrap_or(false)
}

#[cfg(feature = "hydrate")]
fn public_key_credential() -> Option<wasm_bindgen::JsValue> {
    js_sys::Reflect::get(&window(), &"PublicKeyCredential".into())
        .ok()
        .filter(|class| !class.is_undefined())
}

/// The browser's options for `navigator.credentials` from the server's JSON
/// (`{"publicKey": {...}}` with base64url bytes), through
/// `PublicKeyCredential.<parse>` (parseCreationOptionsFromJSON or
/// parseRequestOptionsFromJSON).
#[cfg(feature = "hydrate")]
fn browser_options(options: &str, parse: &str) -> Result<js_sys::Object, String> {
    use wasm_bindgen::JsCast;
    let unreadable = |_| "The server's passkey request could not be read.".to_string();
    let options = js_sys::JSON::parse(options).map_err(unreadable)?;
    let public_key = js_sys::Reflect::get(&options, &"publicKey".into()).map_err(unreadable)?;
    let class =
        public_key_credential().ok_or_else(|| "This browser cannot use passkeys.".to_string())?;
    let parse: js_sys::Function = js_sys::Reflect::get(&class, &parse.into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| "This browser cannot use passkeys.".to_string())?;
    let parsed = parse.call1(&class, &public_key).map_err(browser_refusal)?;
    let init = js_sys::Object::new();
    js_sys::Reflect::set(&init, &"publicKey".into(), &parsed).map_err(browser_refusal)?;
    Ok(init)
}

/// The credential the browser gave, as the WebAuthn JSON the server reads
/// (`PublicKeyCredential.toJSON()`).
#[cfg(feature = "hydrate")]
fn credential_json(credential: &wasm_bindgen::JsValue) -> Result<String, String> {
    use wasm_bindgen::JsCast;
    let to_json: js_sys::Function = js_sys::Reflect::get(credential, &"toJSON".into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| "This browser cannot use passkeys.".to_string())?;
    let json = to_json.call0(credential).map_err(browser_refusal)?;
    js_sys::JSON::stringify(&json)
        .map(String::from)
        .map_err(browser_refusal)
}

/// Asks the browser to make a passkey with the server's options; the
/// attestation as JSON for the server.
#[cfg(feature = "hydrate")]
async fn create_credential(options: &str) -> Result<String, String> {
    use wasm_bindgen::JsCast;
    let options = browser_options(options, "parseCreationOptionsFromJSON")?;
    let promise = window()
        .navigator()
        .credentials()
        .create_with_options(options.unchecked_ref())
        .map_err(browser_refusal)?;
    let credential = wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map_err(browser_refusal)?;
    credential_json(&credential)
}

/// Asks the browser for a passkey with the server's options; the assertion
/// as JSON for the server.
#[cfg(feature = "hydrate")]
async fn get_credential(options: &str) -> Result<String, String> {
    use wasm_bindgen::JsCast;
    let options = browser_options(options, "parseRequestOptionsFromJSON")?;
    let promise = window()
        .navigator()
        .credentials()
        .get_with_options(options.unchecked_ref())
        .map_err(browser_refusal)?;
    let credential = wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map_err(browser_refusal)?;
    credential_json(&credential)
}

/// Registers a new passkey under `name`, start to finish.
#[allow(unused_variables)]
async fn register(name: String) -> Result<(), String> {
    #[cfg(feature = "hydrate")]
    {
        let name = PasskeyName::parse(&name).map_err(|e| field_message(&e))?;
        let started = begin_passkey_registration()
            .await
            .map_err(|e| e.to_string())?;
        let credential = create_credential(&started.options).await?;
        finish_passkey_registration(started.ceremony, name.as_str().to_string(), credential)
            .await
            .map_err(|e| field_message(&e))
    }
    #[cfg(not(feature = "hydrate"))]
    Err("Passkeys need the page's script.".into())
}

/// Signs in with a passkey the browser offers; where to go next.
#[allow(unused_variables)]
async fn sign_in(return_to: String) -> Result<String, String> {
    #[cfg(feature = "hydrate")]
    {
        let started = begin_passkey_sign_in().await.map_err(|e| e.to_string())?;
        let credential = get_credential(&started.options).await?;
        finish_passkey_sign_in(
            started.ceremony,
            credential,
            (!return_to.is_empty()).then_some(return_to),
        )
        .await
        .map_err(|e| e.to_string())
    }
    #[cfg(not(feature = "hydrate"))]
    Err("Passkeys need the page's script.".into())
}

/// Gives a passkey at the second step of sign-in; where to go next.
async fn second_step() -> Result<String, String> {
    #[cfg(feature = "hydrate")]
    {
        let started = begin_passkey_second_step()
            .await
            .map_err(|e| e.to_string())?;
        let credential = get_credential(&started.options).await?;
        finish_passkey_second_step(started.ceremony, credential)
            .await
            .map_err(|e| e.to_string())
    }
    #[cfg(not(feature = "hydrate"))]
    Err("Passkeys need the page's script.".into())
}

/// Gives one of the user's passkeys again before a sensitive change.
pub(super) async fn step_up() -> Result<(), String> {
    #[cfg(feature = "hydrate")]
    {
        let started = begin_passkey_step_up().await.map_err(|e| e.to_string())?;
        let credential = get_credential(&started.options).await?;
        finish_passkey_step_up(started.ceremony, credential)
            .await
            .map_err(|e| e.to_string())
    }
    #[cfg(not(feature = "hydrate"))]
    Err("Passkeys need the page's script.".into())
}

/// A field's message when the error names the name field, else the error.
fn field_message(error: &AppError) -> String {
    message_for(error.field_errors(), "name").unwrap_or_else(|| error.to_string())
}

/// The passkeys card of the Multi-factor authentication page: nothing when
/// the server does not offer passkeys. `remove` asks the page's confirm
/// dialog first; `changed` bumps when the list must be read again.
#[component]
pub fn PasskeysCard(
    passkeys: Passkeys,
    locked: bool,
    on_remove: Callback<PasskeyStatus>,
    changed: RwSignal<u32>,
    notice: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let adding = Action::new_local(|name: &String| register(name.clone()));
    let name = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let supported = RwSignal::new(true);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| supported.set(browser_has_passkeys()));
    Effect::new(move |_| match adding.value().get() {
        Some(Ok(())) => {
            error.set(None);
            name.set(String::new());
            changed.update(|n| *n += 1);
            notice.set(Some(Ok(
                "Your passkey was added. You can now sign in with it, without your password."
                    .into(),
            )));
        }
        Some(Err(message)) => error.set(Some(message)),
        None => {}
    });
    let count = passkeys.list.len();
    let only_way_in = passkeys.only_way_in;
    let rows = passkeys
        .list
        .into_iter()
        .map(|key| {
            let last = only_way_in && count == 1;
            view! { <PasskeyRow passkey=key locked last on_remove changed notice /> }
        })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="passkeys-heading">
            <h2 id="passkeys-heading">"Passkeys and security keys"</h2>
            <p class="hint">
                "A passkey signs you in with your device's screen lock or a security key, without a password, and cannot be phished. \
                 Add one for each device you use."
            </p>
            {if count == 0 {
                Either::Left(view! { <p class="empty">"You have no passkeys yet."</p> })
            } else {
                Either::Right(view! { <ul class="factor-list" aria-label="Your passkeys">{rows}</ul> })
            }}
            {move || (!supported.get()).then(|| view! {
                <p class="status error" role="alert">"This browser cannot make passkeys. Update it, or try another browser or device."</p>
            })}
            <form class="form single" on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                error.set(None);
                adding.dispatch(name.get_untracked());
            }>
                <div class="field">
                    <label for="passkey-name">"Name of the new passkey"</label>
                    <input id="passkey-name" name="name" type="text" maxlength=NAME_MAX.to_string()
                        placeholder="Work laptop" autocomplete="off"
                        aria-invalid=move || error.with(Option::is_some).then_some("true")
                        aria-describedby="passkey-name-error"
                        prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev)) />
                    <p id="passkey-name-error" class="field-error" role="alert">{move || error.get()}</p>
                </div>
                <div class="actions">
                    <button type="submit" class="primary"
                        disabled=move || locked || adding.pending().get() || !supported.get()>
                        {move || if adding.pending().get() { "Waiting for your device…" } else { "Add a passkey" }}
                    </button>
                </div>
            </form>
        </section>
    }
}

/// One passkey: its name, when it was added and last used, Rename and Remove.
#[component]
fn PasskeyRow(
    passkey: PasskeyStatus,
    locked: bool,
    /// Its removal would leave the account with no way in.
    last: bool,
    on_remove: Callback<PasskeyStatus>,
    changed: RwSignal<u32>,
    notice: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let rename = ServerAction::<RenamePasskey>::new();
    let editing = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(())) = rename.value().get() {
            editing.set(false);
            changed.update(|n| *n += 1);
            notice.set(Some(Ok("The passkey was renamed.".into())));
        }
    });
    let rename_error = move || {
        rename
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| field_message(&e))
    };
    let key = passkey;
    let field_id = format!("rename-{}", key.id);
    let error_id = format!("{field_id}-error");
    let for_remove = key.clone();
    let passkey_id = key.id.clone();
    let name = key.name.clone();
    let rename_label = format!("Rename {}", key.name);
    let remove_label = format!("Remove {}", key.name);
    view! {
        <li class="factor" data-testid="passkey">
            <div class="factor-text">
                <strong>{key.name.clone()}</strong>
                <span class="hint">"Added "<When at=key.added.clone() /></span>
                <span class="hint">{match key.last_used.clone() {
                    Some(at) => Either::Left(view! { "Last used "<When at /> }),
                    None => Either::Right("Not used yet"),
                }}</span>
            </div>
            {move || if editing.get() {
                // The form's children own what they show.
                let (passkey_id, name) = (passkey_id.clone(), name.clone());
                let (field_id, error_id) = (field_id.clone(), error_id.clone());
                Either::Left(view! {
                    <ActionForm action=rename attr:class="form inline">
                        <input type="hidden" name="id" value=passkey_id.clone() />
                        <div class="field">
                            <label for=field_id.clone()>"New name for "{name.clone()}</label>
                            <input id=field_id.clone() name="name" type="text" maxlength=NAME_MAX.to_string()
                                value=name.clone() autocomplete="off" autofocus
                                aria-describedby=error_id.clone() />
                            <p id=error_id.clone() class="field-error" role="alert">{rename_error}</p>
                        </div>
                        <div class="actions">
                            <button type="submit" class="primary" disabled=move || rename.pending().get()>"Save"</button>
                            <button type="button" on:click=move |_| editing.set(false)>"Cancel"</button>
                        </div>
                    </ActionForm>
                })
            } else {
                let for_remove = for_remove.clone();
                Either::Right(view! {
                    <div class="actions">
                        <button type="button" disabled=locked on:click=move |_| editing.set(true)
                            aria-label=rename_label.clone()>"Rename"</button>
                        <button type="button" class="danger" disabled=locked || last
                            aria-label=remove_label.clone()
                            aria-describedby=last.then_some("only-way-in")
                            on:click=move |_| on_remove.run(for_remove.clone())>"Remove"</button>
                    </div>
                    {last.then(|| view! {
                        <p id="only-way-in" class="hint">"This passkey is your only way in: set a password or add another passkey before you remove it."</p>
                    })}
                })
            }}
        </li>
    }
}

/// "Sign in with a passkey" on the sign-in page: shown once the page's
/// script runs in a browser that has passkeys, when the server offers them.
#[component]
pub fn PasskeySignIn(offered: bool, return_to: Signal<String>) -> impl IntoView {
    let signing_in = Action::new_local(|return_to: &String| sign_in(return_to.clone()));
    let ready = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| ready.set(offered && browser_has_passkeys()));
    #[cfg(not(feature = "hydrate"))]
    let _ = offered;
    Effect::new(move |_| {
        if let Some(Ok(next)) = signing_in.value().get() {
            let _ = window().location().set_href(&next);
        }
    });
    let error = move || signing_in.value().get().and_then(Result::err);
    view! {
        <div class="passkey-sign-in" hidden=move || !ready.get()>
            <button type="button" class="secondary wide"
                disabled=move || signing_in.pending().get()
                on:click=move |_| { signing_in.dispatch(return_to.get_untracked()); }>
                {move || if signing_in.pending().get() { "Waiting for your passkey…" } else { "Sign in with a passkey" }}
            </button>
            {move || error().map(|e| view! { <p class="status error" role="alert">{e}</p> })}
        </div>
    }
}

/// The second step of sign-in with a passkey: one button, shown once the
/// page's script runs. `first`: the passkey was used last, so it leads.
#[component]
pub fn PasskeySecondStep(first: bool) -> impl IntoView {
    let giving = Action::new_local(|_: &()| second_step());
    let ready = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| ready.set(browser_has_passkeys()));
    Effect::new(move |_| {
        if let Some(Ok(next)) = giving.value().get() {
            let _ = window().location().set_href(&next);
        }
    });
    let error = move || giving.value().get().and_then(Result::err);
    view! {
        <div class="passkey-second-step" hidden=move || !ready.get()>
            {(!first).then(|| view! { <p class="divider"><span>"or"</span></p> })}
            <button type="button" class=if first { "primary wide" } else { "secondary wide" }
                disabled=move || giving.pending().get()
                on:click=move |_| { giving.dispatch(()); }>
                {move || if giving.pending().get() { "Waiting for your passkey…" } else { "Use a passkey" }}
            </button>
            {move || error().map(|e| view! { <p class="status error" role="alert">{e}</p> })}
            {first.then(|| view! { <p class="divider"><span>"or"</span></p> })}
        </div>
    }
}

/// "Use a passkey" in "Confirm it is you": shown once the page's script runs,
/// to a user with a passkey, in a browser that can give one.
#[component]
pub fn PasskeyStepUp(giving: Action<(), Result<(), String>>) -> impl IntoView {
    let ready = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| ready.set(browser_has_passkeys()));
    let has_passkeys = LocalResource::new(load_passkeys);
    let shown = move || {
        ready.get()
            && has_passkeys
                .get()
                .is_some_and(|loaded| matches!(loaded, Ok(Some(keys)) if !keys.list.is_empty()))
    };
    let error = move || giving.value().get().and_then(Result::err);
    view! {
        <div class="passkey-step-up" hidden=move || !shown()>
            <p class="divider"><span>"or"</span></p>
            <button type="button" class="secondary wide"
                disabled=move || giving.pending().get()
                on:click=move |_| { giving.dispatch(()); }>
                {move || if giving.pending().get() { "Waiting for your passkey…" } else { "Use a passkey" }}
            </button>
            {move || error().map(|e| view! { <p class="status error" role="alert">{e}</p> })}
        </div>
    }
}
