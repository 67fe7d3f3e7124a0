//! Multi-factor authentication: the page that sets up an authenticator app
//! and recovery codes, and the second step of sign-in that asks for them.

use crate::error::{message_for, AppError};
use crate::layout::{CardPage, ConfirmDialog, Moment, Notice, Page, StatusMessage, When};
use leptos::either::{Either, EitherOf3, EitherOf4};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

pub mod passkeys;

/// How many recovery codes a set has.
pub const RECOVERY_CODE_COUNT: usize = 10;

/// The cookie that names a sign-in waiting for its second factor.
pub const CHALLENGE_COOKIE: &str = "selfserve_second_factor";

/// A way to give the second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// A code from an authenticator app (TOTP).
    Otp,
    /// One of the single-use recovery codes.
    RecoveryCode,
    /// A passkey or security key (WebAuthn), given with the browser's dialog
    /// instead of a typed code.
    Passkey,
}

impl Method {
    pub fn code(self) -> &'static str {
        match self {
            Method::Otp => "otp",
            Method::RecoveryCode => "recovery_code",
            Method::Passkey => "passkey",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "otp" => Some(Method::Otp),
            "recovery_code" => Some(Method::RecoveryCode),
            "passkey" => Some(Method::Passkey),
            _ => None,
        }
    }

    /// What the field asks for.
    fn label(self) -> &'static str {
        match self {
            Method::Otp => "6-digit code from your authenticator app",
            Method::RecoveryCode => "Recovery code",
            Method::Passkey => "Passkey",
        }
    }

    /// The choice that switches to this method.
    fn switch_label(self) -> &'static str {
        match self {
            Method::Otp => "Use your authenticator app instead",
            Method::RecoveryCode => "Use a recovery code instead",
            Method::Passkey => "Use a passkey instead",
        }
    }
}

/// The page's picture of the user's factors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MfaOverview {
    /// The operator offers authenticator apps.
    pub totp_offered: bool,
    /// The operator requires every user to have a second factor.
    pub required: bool,
    pub totp: Option<TotpStatus>,
    pub recovery_codes: Option<RecoveryCodeStatus>,
    /// Changes on this page need a second factor first: the last one given
    /// in this session is older than 10 minutes.
    pub step_up_needed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TotpStatus {
    pub added: Moment,
    pub last_used: Option<Moment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryCodeStatus {
    pub remaining: u32,
    pub created: Moment,
}

/// What the user needs to add an authenticator app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TotpSetup {
    /// The secret in base32, in groups of four, to type in by hand.
    pub secret: String,
    /// The `otpauth://` URI that the QR code holds.
    pub uri: String,
    /// The QR code, an SVG image as a `data:` URI.
    pub qr_code: String,
}

/// What the second step of sign-in offers: the last method used first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondFactorPrompt {
    pub methods: Vec<Method>,
    /// The account has no second factor and the operator requires one: the
    /// app to set up before the session starts.
    pub enrol: Option<TotpSetup>,
}

/// The second step done: where to go, and the recovery codes of an app set
/// up at this sign-in (shown once, before going on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondStepDone {
    /// An application's request or a page of the dashboard; None when the
    /// server already sent the browser on.
    pub next: Option<String>,
    pub recovery_codes: Option<Vec<String>>,
}

#[server(endpoint = "mfa_overview")]
pub async fn load_mfa_overview() -> Result<MfaOverview, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.mfa_overview(&session).await)
}

/// Whether a change needs the second factor given again first.
#[server(endpoint = "second_factor_needed")]
pub async fn second_factor_needed() -> Result<bool, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    Ok(respond(backend()?.mfa_overview(&session).await)?.step_up_needed)
}

/// A new secret for an authenticator app; it counts only once a code from
/// the app is typed.
#[server(endpoint = "begin_totp_setup")]
pub async fn begin_totp_setup() -> Result<TotpSetup, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.begin_totp_setup(&session).await)
}

/// Enables the app being set up with a code from it; the first factor also
/// brings recovery codes, returned once.
#[server(endpoint = "finish_totp_setup")]
pub async fn finish_totp_setup(code: String) -> Result<Option<Vec<String>>, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    let client = client_info()?;
    respond(backend()?.finish_totp_setup(&session, &code, &client).await)
}

#[server(endpoint = "remove_totp")]
pub async fn remove_totp() -> Result<(), AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.remove_totp(&session).await)
}

/// A new set of recovery codes, returned once; the old ones stop working.
#[server(endpoint = "regenerate_recovery_codes")]
pub async fn regenerate_recovery_codes() -> Result<Vec<String>, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.regenerate_recovery_codes(&session).await)
}

#[cfg(feature = "ssr")]
fn parse_method(method: &str) -> Result<Method, AppError> {
    Method::parse(method).ok_or_else(|| AppError::Malformed(format!("unknown method {method}")))
}

/// Gives the second factor again in this session, before sensitive changes.
#[server(endpoint = "confirm_second_factor")]
pub async fn confirm_second_factor(method: String, code: String) -> Result<(), AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    let client = client_info()?;
    let method = respond(parse_method(&method))?;
    respond(backend()?.step_up(&session, method, &code, &client).await)
}

/// The sign-in waiting for its second factor in this browser, if any.
#[server(endpoint = "second_factor_prompt")]
pub async fn load_second_factor_prompt() -> Result<Option<SecondFactorPrompt>, AppError> {
    use crate::backend::ssr::*;
    match request_cookie(CHALLENGE_COOKIE) {
        Some(token) => respond(backend()?.second_factor_prompt(&token).await),
        None => Ok(None),
    }
}

/// The second step of sign-in: the session starts once the code is right.
/// Then as after a password: the application that asked, or My Account.
#[server(endpoint = "verify_second_factor")]
pub async fn verify_second_factor(
    method: String,
    code: String,
) -> Result<SecondStepDone, AppError> {
    use crate::backend::ssr::*;
    let client = client_info()?;
    let method = respond(parse_method(&method))?;
    let token = challenge_token()?;
    let pending = request_cookie(crate::associations::PENDING_IDENTITY_COOKIE);
    let mut done = respond(
        backend()?
            .answer_second_factor(&token, method, &code, &client, pending.as_deref())
            .await,
    )?;
    Ok(match done.recovery_codes.take() {
        // The page shows the new codes first, then goes on.
        Some(codes) => SecondStepDone {
            next: Some(crate::signin::start_session(done).0),
            recovery_codes: Some(codes),
        },
        None => SecondStepDone {
            next: crate::signin::after_sign_in(done),
            recovery_codes: None,
        },
    })
}

/// The token of the sign-in waiting in this browser for its second step.
#[cfg(feature = "ssr")]
pub(crate) fn challenge_token() -> Result<String, AppError> {
    use crate::backend::ssr::*;
    request_cookie(CHALLENGE_COOKIE).ok_or_else(|| fail(AppError::Refused(CHALLENGE_ENDED.into())))
}

pub const CHALLENGE_ENDED: &str =
    "This sign-in has expired (it waits 10 minutes for the second step). Please sign in again.";

#[component]
pub fn MfaPage() -> impl IntoView {
    let begin = ServerAction::<BeginTotpSetup>::new();
    let finish = ServerAction::<FinishTotpSetup>::new();
    let remove = ServerAction::<RemoveTotp>::new();
    let regenerate = ServerAction::<RegenerateRecoveryCodes>::new();
    let step_up = StepUpActions::new();
    let remove_passkey = ServerAction::<passkeys::RemovePasskey>::new();
    let passkeys_changed = RwSignal::new(0u32);
    let passkeys = Resource::new(
        move || {
            (
                passkeys_changed.get(),
                remove_passkey.version().get(),
                step_up.version(),
            )
        },
        |_| passkeys::load_passkeys(),
    );
    let overview = Resource::new(
        move || {
            (
                finish.version().get(),
                remove.version().get(),
                regenerate.version().get(),
                step_up.version(),
            )
        },
        |_| load_mfa_overview(),
    );
    let notice = RwSignal::new(None::<Result<String, String>>);
    let setup = RwSignal::new(None::<TotpSetup>);
    let new_codes = RwSignal::new(None::<Vec<String>>);
    let pending = RwSignal::new(None::<Change>);
    Effect::new(move |_| match begin.value().get() {
        Some(Ok(started)) => {
            notice.set(None);
            setup.set(Some(started));
        }
        Some(Err(e)) => notice.set(Some(Err(e.to_string()))),
        None => {}
    });
    Effect::new(move |_| {
        if let Some(Ok(codes)) = finish.value().get() {
            setup.set(None);
            new_codes.set(codes);
            notice.set(Some(Ok(
                "Your authenticator app is set up. From now on, signing in asks for a code from it after your password."
                    .into(),
            )));
        }
    });
    Effect::new(move |_| match remove.value().get() {
        Some(Ok(())) => {
            new_codes.set(None);
            notice.set(Some(Ok(
                "Your authenticator app was removed, and your recovery codes with it. Signing in asks for your password only."
                    .into(),
            )));
        }
        Some(Err(e)) => notice.set(Some(Err(e.to_string()))),
        None => {}
    });
    Effect::new(move |_| match regenerate.value().get() {
        Some(Ok(codes)) => {
            new_codes.set(Some(codes));
            notice.set(Some(Ok(
                "New recovery codes were made; the old ones no longer work.".into(),
            )));
        }
        Some(Err(e)) => notice.set(Some(Err(e.to_string()))),
        None => {}
    });
    Effect::new(move |_| {
        if step_up.accepted() {
            notice.set(Some(Ok(
                "Thank you. You can change these settings for the next 10 minutes.".into(),
            )));
        }
    });
    Effect::new(move |_| match remove_passkey.value().get() {
        Some(Ok(())) => notice.set(Some(Ok(
            "The passkey was removed. It no longer signs you in.".into(),
        ))),
        Some(Err(e)) => notice.set(Some(Err(e.to_string()))),
        None => {}
    });
    let ask_remove_passkey = Callback::new(move |passkey: passkeys::PasskeyStatus| {
        pending.set(Some(Change::RemovePasskey(passkey)));
    });
    let confirm = Callback::new(move |change| match change {
        Change::RemovePasskey(passkey) => {
            remove_passkey.dispatch(passkeys::RemovePasskey { id: passkey.id });
        }
        Change::RemoveApp { .. } => {
            remove.dispatch(RemoveTotp {});
        }
        Change::NewCodes { .. } => {
            regenerate.dispatch(RegenerateRecoveryCodes {});
        }
    });
    view! {
        <Page title="Multi-factor authentication" intro="Ask for more than your password when you sign in: a code from an authenticator app on your phone, with single-use recovery codes for when you do not have it with you.">
            <Notice notice />
            {move || new_codes.get().map(|codes| view! { <NewCodes codes on_done=Callback::new(move |_| new_codes.set(None)) /> })}
            <Transition fallback=|| view! { <section class="card"><p class="loading">"Loading your sign-in methods…"</p></section> }>
                {move || Suspend::new(async move {
                    let passkeys = passkeys.await;
                    match overview.await {
                        Ok(overview) => {
                            let enabled = overview.totp.is_some();
                            let passkeys = match passkeys {
                                Ok(Some(list)) => Some(Either::Left(view! {
                                    <passkeys::PasskeysCard passkeys=list locked=overview.step_up_needed
                                        on_remove=ask_remove_passkey changed=passkeys_changed notice />
                                })),
                                Ok(None) => None,
                                Err(e) => Some(Either::Right(view! { <section class="card"><StatusMessage error=e.to_string() /></section> })),
                            };
                            Either::Left(view! {
                                {(enabled && overview.step_up_needed).then(|| view! {
                                    <StepUpCard actions=step_up reason="To change how you sign in, give your second factor again: it was last given more than 10 minutes ago." />
                                })}
                                <TotpCard status=overview.totp.clone() setup begin finish pending locked=overview.step_up_needed
                                    offered=overview.totp_offered required=overview.required />
                                <RecoveryCodesCard status=overview.recovery_codes.clone() enabled pending locked=overview.step_up_needed />
                                {passkeys}
                            })
                        }
                        Err(e) => Either::Right(view! { <section class="card"><StatusMessage error=e.to_string() /></section> }),
                    }
                })}
            </Transition>
            <ConfirmDialog pending describe on_confirm=confirm />
        </Page>
    }
}

/// What a code field says of its action's latest answer, if that failed.
fn code_error<T>(latest: Option<Result<T, AppError>>) -> Option<String> {
    latest
        .and_then(Result::err)
        .map(|e| message_for(e.field_errors(), "code").unwrap_or_else(|| e.to_string()))
}

/// What the confirm dialog asks about.
#[derive(Debug, Clone)]
enum Change {
    /// `required`: the operator requires a second factor.
    RemoveApp {
        required: bool,
    },
    /// `replacing`: the user has codes, which stop working.
    NewCodes {
        replacing: bool,
    },
    RemovePasskey(passkeys::PasskeyStatus),
}

fn describe(change: &Change) -> (String, String) {
    match change {
        Change::RemovePasskey(passkey) => (
            format!("Remove the passkey \u{201c}{}\u{201d}?", passkey.name),
            "It will no longer sign you in. The device or security key may keep it: remove it \
             there too. You can still sign in with your password, your identity provider or your \
             other passkeys. Do you want to proceed?"
                .into(),
        ),
        Change::RemoveApp { required: false } => (
            "Remove your authenticator app?".into(),
            "Signing in will ask for your password only, and your recovery codes will stop working. \
             You can set up an app again at any time. Do you want to proceed?"
                .into(),
        ),
        Change::RemoveApp { required: true } => (
            "Remove your authenticator app?".into(),
            "Your recovery codes will stop working too. Your organisation requires a second factor, \
             so your next sign-in will ask you to set up an app again. Do you want to proceed?"
                .into(),
        ),
        Change::NewCodes { replacing: false } => (
            "Make recovery codes?".into(),
            "You will see 10 codes once; keep them somewhere safe, such as a password manager. \
             Do you want to proceed?"
                .into(),
        ),
        Change::NewCodes { replacing: true } => (
            "Make new recovery codes?".into(),
            "Your current recovery codes will stop working at once; keep the new ones somewhere safe. \
             Do you want to proceed?"
                .into(),
        ),
    }
}

/// Asks for the second factor again where a page's change needs it (the
/// last one given in this session is older than 10 minutes); nothing
/// otherwise. Rendered by the hydrated client only, outside the page's
/// `Transition` (a browser-only resource inside one leaves the server's
/// chunk unfinished): the server refuses the change anyway. `when`: asked
/// only while it holds (the change is offered at all).
#[component]
pub fn StepUp(
    reason: &'static str,
    #[prop(optional, into)] when: Option<Signal<bool>>,
) -> impl IntoView {
    let actions = StepUpActions::new();
    let needed = LocalResource::new(move || {
        actions.version();
        second_factor_needed()
    });
    move || {
        let wanted = when.is_none_or(|when| when.get());
        match needed.get() {
            Some(Ok(true)) if wanted => Either::Left(view! { <StepUpCard actions reason /> }),
            _ => Either::Right((wanted && actions.accepted()).then(|| {
                view! {
                    <StatusMessage success="Thank you. For the next 10 minutes you can make changes without giving it again." />
                }
            })),
        }
    }
}

/// The two ways to give the second factor again: a typed code, or one of
/// the user's passkeys.
#[derive(Clone, Copy)]
struct StepUpActions {
    code: ServerAction<ConfirmSecondFactor>,
    passkey: Action<(), Result<(), String>>,
}

impl StepUpActions {
    fn new() -> Self {
        Self {
            code: ServerAction::new(),
            passkey: Action::new_local(|_: &()| passkeys::step_up()),
        }
    }

    /// Changes with each answer, for what must load again after one.
    fn version(&self) -> usize {
        self.code.version().get() + self.passkey.version().get()
    }

    /// Whether an answer was accepted.
    fn accepted(&self) -> bool {
        matches!(self.code.value().get(), Some(Ok(())))
            || matches!(self.passkey.value().get(), Some(Ok(())))
    }
}

/// Asks for the second factor again before the page's changes.
#[component]
fn StepUpCard(actions: StepUpActions, reason: &'static str) -> impl IntoView {
    let step_up = actions.code;
    let method = RwSignal::new(Method::Otp);
    let error = move || code_error(step_up.value().get());
    view! {
        <section class="card" aria-labelledby="step-up-heading">
            <h2 id="step-up-heading">"Confirm it is you"</h2>
            <p class="hint">{reason}</p>
            <ActionForm action=step_up attr:class="form single">
                <CodeField method error=Signal::derive(error) id="step-up-code" />
                <div class="actions">
                    <button type="submit" class="primary" disabled=move || step_up.pending().get()>"Confirm"</button>
                    <MethodSwitch method />
                </div>
            </ActionForm>
            <passkeys::PasskeyStepUp giving=actions.passkey />
        </section>
    }
}

/// The code input for a method, with the method as a hidden field.
#[component]
fn CodeField(
    method: RwSignal<Method>,
    error: Signal<Option<String>>,
    id: &'static str,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    view! {
        <input type="hidden" name="method" value=move || method.get().code() />
        <div class="field">
            <label for=id>{move || method.get().label()}</label>
            <input id=id name="code" type="text" required autocomplete="one-time-code" spellcheck="false"
                inputmode=move || if method.get() == Method::Otp { "numeric" } else { "text" }
                aria-invalid=move || error.with(Option::is_some).to_string()
                aria-describedby=format!("{error_id} {hint_id}") />
            <p class="field-error" id=error_id role="alert">{move || error.get()}</p>
            <p class="hint" id=hint_id>{move || match method.get() {
                Method::Otp => "Open the app and type the code it shows for Selfserve now.",
                Method::RecoveryCode => "Each recovery code works once. Letters may be typed with or without the dashes.",
                Method::Passkey => "",
            }}</p>
        </div>
    }
}

/// Switches between the authenticator app and a recovery code.
#[component]
fn MethodSwitch(method: RwSignal<Method>) -> impl IntoView {
    let other = move || match method.get() {
        Method::Otp => Method::RecoveryCode,
        Method::RecoveryCode | Method::Passkey => Method::Otp,
    };
    view! {
        <button type="button" class="link" on:click=move |_| method.set(other())>
            {move || other().switch_label()}
        </button>
    }
}

#[component]
fn TotpCard(
    status: Option<TotpStatus>,
    setup: RwSignal<Option<TotpSetup>>,
    begin: ServerAction<BeginTotpSetup>,
    finish: ServerAction<FinishTotpSetup>,
    pending: RwSignal<Option<Change>>,
    locked: bool,
    offered: bool,
    required: bool,
) -> impl IntoView {
    let body = match status {
        Some(status) => Either::Left(view! {
            <ul class="sessions">
                <li class="session" data-testid="totp-authenticator">
                    <div class="session-main">
                        <p class="session-title"><strong>"Authenticator app"</strong>" "<span class="badge">"On"</span></p>
                        <dl class="session-facts">
                            <div><dt>"Added"</dt><dd><When at=status.added /></dd></div>
                            <div><dt>"Last used"</dt><dd>{match status.last_used {
                                Some(at) => Either::Left(view! { <When at /> }),
                                None => Either::Right("Not used to sign in yet"),
                            }}</dd></div>
                        </dl>
                    </div>
                    <div class="row-actions">
                        <button class="danger" disabled=locked on:click=move |_| pending.set(Some(Change::RemoveApp { required }))
                            aria-label="Remove authenticator app">"Remove"</button>
                    </div>
                </li>
            </ul>
        }),
        None => Either::Right(view! {
            {move || match setup.get() {
                _ if !offered => EitherOf3::A(view! {
                    <p class="empty">"Authenticator apps are not offered here. Ask your administrator."</p>
                }),
                Some(started) => EitherOf3::B(view! { <SetupSteps started><SetupForm finish /></SetupSteps> }),
                None => EitherOf3::C(view! {
                    <p class="empty">"No authenticator app is set up. With one, a stolen password alone no longer lets anyone into your account."</p>
                    <p class="hint">"Any app that follows the TOTP standard works, for example Google Authenticator, Microsoft Authenticator, FreeOTP or a password manager."</p>
                    <div class="actions">
                        <button class="primary" on:click=move |_| { begin.dispatch(BeginTotpSetup {}); }
                            disabled=move || begin.pending().get()>"Set up an authenticator app"</button>
                    </div>
                }),
            }}
        }),
    };
    view! {
        <section class="card" aria-labelledby="totp-heading">
            <h2 id="totp-heading">"Authenticator app"</h2>
            {body}
        </section>
    }
}

/// Scan (or type) the secret, then prove it with a code (`children`: the
/// form that sends the code).
#[component]
fn SetupSteps(started: TotpSetup, children: Children) -> impl IntoView {
    view! {
        <ol class="steps">
            <li>
                <p>"Scan this QR code with your authenticator app:"</p>
                <img class="qr-code" src=started.qr_code alt="QR code that adds Selfserve to an authenticator app" width="200" height="200" />
                <p class="hint">"Cannot scan it? Choose to enter a key in the app, and type this key (time-based):"</p>
                <p><code class="secret" data-testid="totp-secret">{started.secret.clone()}</code></p>
                <p class="hint">"On this device, "<a href=started.uri.clone()>"open it in your authenticator app"</a>"."</p>
            </li>
            <li>{children()}</li>
        </ol>
    }
}

/// The code from the app being set up on the Multi-factor authentication page.
#[component]
fn SetupForm(finish: ServerAction<FinishTotpSetup>) -> impl IntoView {
    let method = RwSignal::new(Method::Otp);
    let error = move || code_error(finish.value().get());
    view! {
        <ActionForm action=finish attr:class="form single">
            <CodeField method error=Signal::derive(error) id="totp-setup-code" />
            <div class="actions">
                <button type="submit" class="primary" disabled=move || finish.pending().get()>"Turn on"</button>
            </div>
        </ActionForm>
    }
}

#[component]
fn RecoveryCodesCard(
    status: Option<RecoveryCodeStatus>,
    enabled: bool,
    pending: RwSignal<Option<Change>>,
    locked: bool,
) -> impl IntoView {
    let body = match (enabled, status) {
        (false, _) => Either::Left(view! {
            <p class="empty">"Recovery codes come with an authenticator app: they let you in when you do not have it. Set up an app first."</p>
        }),
        (true, status) => {
            let replacing = status.is_some();
            Either::Right(view! {
                <p data-testid="recovery-codes-remaining">{match status.as_ref().map(|s| s.remaining) {
                    None => "You have no recovery codes. Make some, so that you can still sign in without your authenticator app.".to_string(),
                    Some(0) => "You have no recovery codes left. Make new ones, so that you can still sign in without your authenticator app.".to_string(),
                    Some(1) => "1 recovery code remains unused.".to_string(),
                    Some(n) => format!("{n} of {RECOVERY_CODE_COUNT} recovery codes remain unused."),
                }}</p>
                {status.map(|s| view! { <p class="hint">"Made "<When at=s.created />". Each code works once."</p> })}
                <div class="actions">
                    <button class="secondary" disabled=locked on:click=move |_| pending.set(Some(Change::NewCodes { replacing }))>
                        {if replacing { "Make new codes" } else { "Make recovery codes" }}
                    </button>
                </div>
            })
        }
    };
    view! {
        <section class="card" aria-labelledby="codes-heading">
            <h2 id="codes-heading">"Recovery codes"</h2>
            {body}
        </section>
    }
}

/// New recovery codes, shown this once.
#[component]
fn NewCodes(codes: Vec<String>, on_done: Callback<()>) -> impl IntoView {
    let text: String = codes.iter().map(|c| format!("{c}\n")).collect();
    let download = format!(
        "data:text/plain;charset=utf-8,{}",
        percent_encode(&format!("Selfserve recovery codes\n\n{text}"))
    );
    view! {
        <section class="card highlight" aria-labelledby="new-codes-heading">
            <h2 id="new-codes-heading">"Save your recovery codes"</h2>
            <p>"Each code lets you sign in once without your authenticator app. Keep them somewhere safe, such as a password manager. "
               <strong>"They are shown only now."</strong></p>
            <ol class="recovery-codes" data-testid="recovery-codes">
                {codes.into_iter().map(|code| view! { <li><code>{code}</code></li> }).collect_view()}
            </ol>
            <div class="actions">
                <a class="button secondary" href=download download="selfserve-recovery-codes.txt">"Download as a text file"</a>
                <button class="primary" on:click=move |_| on_done.run(())>"I have saved them"</button>
            </div>
        </section>
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The second step of sign-in.
#[component]
pub fn SecondFactorPage() -> impl IntoView {
    let prompt = Resource::new(|| (), |_| load_second_factor_prompt());
    let verify = ServerAction::<VerifySecondFactor>::new();
    // Back to an application's request: a full navigation, as the
    // authorization endpoint is the server's, not a page of this app.
    let enrolled = RwSignal::new(None::<(Vec<String>, String)>);
    Effect::new(move |_| match verify.value().get() {
        Some(Ok(SecondStepDone {
            next: Some(next),
            recovery_codes: Some(codes),
        })) => enrolled.set(Some((codes, next))),
        Some(Ok(SecondStepDone {
            next: Some(path),
            recovery_codes: None,
        })) => {
            let _ = window().location().set_href(&path);
        }
        _ => {}
    });
    let error = move || code_error(verify.value().get());
    view! {
        <CardPage title="Verify it is you">
            {move || enrolled.get().map(|(codes, next)| view! {
                <StatusMessage success="Your authenticator app is set up, and you are signed in." />
                <NewCodes codes on_done=Callback::new(move |_| {
                    let _ = window().location().set_href(&next);
                }) />
            })}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match prompt.await {
                        Ok(Some(SecondFactorPrompt { enrol: Some(started), .. })) => EitherOf4::A(view! {
                            <div hidden=move || enrolled.with(Option::is_some)>
                                <p class="intro">"Your organisation requires a second factor. Set up an authenticator app on your phone to finish signing in."</p>
                                <SetupSteps started>
                                    <ActionForm action=verify attr:class="form">
                                        <CodeField method=RwSignal::new(Method::Otp) error=Signal::derive(error) id="second-factor-code" />
                                        <div class="actions">
                                            <button type="submit" class="primary" disabled=move || verify.pending().get()>"Turn on and sign in"</button>
                                        </div>
                                    </ActionForm>
                                </SetupSteps>
                            </div>
                        }),
                        Ok(Some(prompt)) => {
                            // Passkeys have a button of their own; the form takes typed codes.
                            let passkey = prompt.methods.contains(&Method::Passkey);
                            let passkey_first = prompt.methods.first() == Some(&Method::Passkey);
                            let codes: Vec<Method> = prompt.methods.iter().copied().filter(|m| *m != Method::Passkey).collect();
                            let method = RwSignal::new(codes.first().copied().unwrap_or(Method::Otp));
                            EitherOf4::B(view! {
                                <p class="intro">"One more step: your account asks for a second factor before you are signed in."</p>
                                {(passkey && passkey_first).then(|| view! { <passkeys::PasskeySecondStep first=true /> })}
                                <ActionForm action=verify attr:class="form">
                                    <CodeField method error=Signal::derive(error) id="second-factor-code" />
                                    <div class="actions">
                                        <button type="submit" class="primary" disabled=move || verify.pending().get()>
                                            {move || if verify.pending().get() { "Verifying…" } else { "Verify" }}
                                        </button>
                                        {(codes.len() > 1).then(|| view! { <MethodSwitch method /> })}
                                    </div>
                                </ActionForm>
                                {(passkey && !passkey_first).then(|| view! { <passkeys::PasskeySecondStep first=false /> })}
                                <p class="hint"><a href="/signin">"Cancel and sign in as someone else"</a></p>
                            })
                        }
                        Ok(None) => EitherOf4::C(view! {
                            <StatusMessage error=CHALLENGE_ENDED />
                            <p class="hint"><a href="/signin">"Sign in again"</a></p>
                        }),
                        Err(e) => EitherOf4::D(view! { <StatusMessage error=e.to_string() /> }),
                    }
                })}
            </Suspense>
        </CardPage>
    }
}
