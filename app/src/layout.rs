//! The frame every signed-in page shares: the top bar with the account menu,
//! the page heading and the status messages.

use crate::associations::SwitchAccount;
use crate::signin::{Me, SignOut};
use crate::theme::ThemeChoice;
use leptos::prelude::*;
use leptos::server_fn::ServerFn as _;

#[component]
pub fn TopBar() -> impl IntoView {
    // Who is signed in: the server knows from the request's session and
    // hands the browser the same value to hydrate from (no query, resource
    // or suspense, which cost every page a share of its CPU and the bundle
    // some kilobytes; README, "The top bar"). After a navigation in the
    // browser the session may not be the one the page was loaded with
    // (signing in again on a page the router showed, say): the menu asks.
    let me = crate::backend::known_or_read(known_by_the_server, || async {
        crate::signin::whoami().await.ok().flatten()
    });
    view! {
        <header class="topbar">
            <a href="/" class="brand">"Selfserve" <span>"My Account"</span></a>
            {move || me.get().map(|me| view! { <AccountMenu me /> })}
        </header>
    }
}

/// The request's user, if signed in; never known in the browser.
fn known_by_the_server() -> Option<Me> {
    #[cfg(feature = "ssr")]
    {
        crate::signin::me_of_request()
    }
    #[cfg(not(feature = "ssr"))]
    None
}

#[component]
fn AccountMenu(me: Me) -> impl IntoView {
    let name = me.username;
    let switches = me
        .has_associated_accounts
        .then(|| view! { <AccountSwitches /> });
    view! {
        <details class="account-menu">
            <summary aria-label="Account menu">
                <span class="avatar" aria-hidden="true">{initial(&name)}</span>
                <span class="account-name">{name.clone()}</span>
            </summary>
            <div class="menu" role="menu">
                <p class="menu-user">"Signed in as " <strong>{name}</strong></p>
                {switches}
                <ThemeChoice current=me.theme />
                // A plain form: signing out loads the sign-in page anew,
                // and no action is built for it on every page.
                <form action=SignOut::url() method="post">
                    <button type="submit" role="menuitem">"Sign out"</button>
                </form>
            </div>
        </details>
    }
}

/// "Switch to ..." for each associated account. Most users have none, and
/// do not read their names on every page. Plain forms, as the theme's: the
/// hydrated client sends the pressed one itself (`ActionForm` and its action
/// made most of the home page's bundle, README "The top bar").
#[component]
fn AccountSwitches() -> impl IntoView {
    let associated = Resource::new(|| (), |_| crate::associations::account_switches());
    let error = RwSignal::new(None::<String>);
    let switch = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            let Some(username) = take_submit(&ev) else {
                return;
            };
            leptos::task::spawn_local(async move {
                match crate::associations::switch_account(username).await {
                    Ok(next) => crate::associations::load_after_switch(&next),
                    Err(e) => {
                        let _ = error.try_set(Some(e.to_string()));
                    }
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, error);
    };
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let buttons = associated
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .map(|other| {
                        let value = other.clone();
                        view! {
                            <button type="submit" name="username" value=value role="menuitem">
                                "Switch to "{other}
                            </button>
                        }
                    })
                    .collect_view();
                view! { <form action=SwitchAccount::url() method="post" on:submit=switch>{buttons}</form> }
            })}
        </Suspense>
        {move || error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
    }
}

/// The value of the button that submitted a plain form, whose submit the
/// hydrated client then takes from the browser to send the form itself;
/// `None`, leaving it to the browser, when no button with a value did.
#[cfg(feature = "hydrate")]
pub fn take_submit(ev: &leptos::ev::SubmitEvent) -> Option<String> {
    let value = ev.submitter()?.get_attribute("value")?;
    ev.prevent_default();
    Some(value)
}

/// The first letter of a name, upper-cased, for an avatar.
pub fn initial(name: &str) -> String {
    name.chars()
        .next()
        .map(|c| c.to_uppercase().to_string())
        .unwrap_or_default()
}

/// A dashboard page: back link, heading, one-line explanation, content.
#[component]
pub fn Page(title: &'static str, intro: &'static str, children: Children) -> impl IntoView {
    view! {
        <leptos_meta::Title text=title />
        <TopBar />
        <main id="main" tabindex="-1" class="page">
            <nav class="breadcrumb" aria-label="Breadcrumb"><a href="/">"← My Account"</a></nav>
            <h1>{title}</h1>
            <p class="intro">{intro}</p>
            {children()}
        </main>
    }
}

/// A page of one narrow card (sign-in, registration, password reset): its
/// heading names the page in the browser's title too, as [`Page`]'s does.
#[component]
pub fn CardPage(
    title: &'static str,
    /// For a card with a longer form (registration).
    #[prop(optional)]
    wide: bool,
    children: Children,
) -> impl IntoView {
    view! {
        <leptos_meta::Title text=title />
        <main id="main" tabindex="-1" class="signin">
            <div class="card signin-card" class:wide=wide>
                <h1>{title}</h1>
                {children()}
            </div>
        </main>
    }
}

/// A success or error banner, announced to screen readers.
#[component]
pub fn StatusMessage(
    #[prop(optional, into)] success: Option<String>,
    #[prop(optional, into)] error: Option<String>,
) -> impl IntoView {
    match (success, error) {
        (Some(text), _) => view! { <p class="status success" role="status">{text}</p> }.into_any(),
        (None, Some(text)) => view! { <p class="status error" role="alert">{text}</p> }.into_any(),
        (None, None) => ().into_any(),
    }
}

/// The outcome of a page's latest action, if any: a success or an error banner.
#[component]
pub fn Notice(notice: RwSignal<Option<Result<String, String>>>) -> impl IntoView {
    move || {
        notice.get().map(|n| match n {
            Ok(text) => view! { <StatusMessage success=text /> }.into_any(),
            Err(text) => view! { <StatusMessage error=text /> }.into_any(),
        })
    }
}

/// Which password a field asks for: browsers fill in a current one and offer
/// to generate a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordKind {
    Current,
    New,
}

/// A labelled password input with its error line below it (announced, and
/// tied to the input by `aria-describedby`), and an optional hint. `children`
/// (e.g. a strength meter) sit between the input and the error; name them in
/// `described_by` too.
#[component]
pub fn PasswordField(
    id: &'static str,
    label: &'static str,
    kind: PasswordKind,
    /// The form field's name; the id when not given.
    #[prop(optional)]
    name: Option<&'static str>,
    /// The field's error, shown under it; fields that never have one (the
    /// sign-in page reports its errors above the form) have no error line.
    #[prop(optional, into)]
    error: Option<Signal<Option<String>>>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] required: bool,
    /// More ids that describe the input (e.g. the strength meter's).
    #[prop(optional)]
    described_by: Option<&'static str>,
    /// Called with the value as the user types.
    #[prop(optional)]
    on_input: Option<Callback<String>>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    let described = match (error.is_some(), described_by) {
        (true, Some(more)) => Some(format!("{error_id} {more}")),
        (true, None) => Some(error_id.clone()),
        (false, more) => more.map(String::from),
    };
    let autocomplete = match kind {
        PasswordKind::Current => "current-password",
        PasswordKind::New => "new-password",
    };
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <input id=id name=name.unwrap_or(id) type="password" autocomplete=autocomplete required=required
                aria-invalid=move || error.is_some_and(|e| e.with(Option::is_some)).to_string()
                aria-describedby=described
                on:input=move |ev| {
                    if let Some(callback) = on_input {
                        callback.run(event_target_value(&ev));
                    }
                } />
            {children.map(|c| c())}
            {error.map(|error| view! { <p class="field-error" id=error_id role="alert">{move || error.get()}</p> })}
            {hint.map(|text| view! { <p class="hint">{text}</p> })}
        </div>
    }
}

/// A modal that asks before something irreversible, run by the hydrated
/// client. Focus moves into it ("No" first, the safe choice) and stays there
/// (a modal dialog makes the page behind it inert); Escape closes it without
/// doing anything. On closing, focus returns to the button that opened it,
/// or after "Yes" (which may remove that button) to the page's content.
/// `describe` gives the title and the question.
#[component]
pub fn ConfirmDialog<T>(
    pending: RwSignal<Option<T>>,
    describe: fn(&T) -> (String, String),
    on_confirm: Callback<T>,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
{
    let dialog = NodeRef::<leptos::html::Dialog>::new();
    // Where focus goes when the dialog closes: None back to the opener.
    let confirmed = StoredValue::new(false);
    #[cfg(any(feature = "hydrate", feature = "csr"))]
    {
        use wasm_bindgen::JsCast;
        let opener = StoredValue::new_local(None::<web_sys::HtmlElement>);
        Effect::new(move |_| {
            let open = pending.with(Option::is_some);
            let Some(dialog) = dialog.get() else {
                return;
            };
            if open && !dialog.open() {
                opener.set_value(
                    document()
                        .active_element()
                        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()),
                );
                confirmed.set_value(false);
                let _ = dialog.show_modal();
            } else if !open {
                if dialog.open() {
                    dialog.close();
                }
                // Only after the dialog was open: the opener was noted then.
                if let Some(button) = opener.try_update_value(Option::take).flatten() {
                    let target = if !confirmed.get_value() && button.is_connected() {
                        Some(button)
                    } else {
                        page_content()
                    };
                    if let Some(target) = target {
                        let _ = target.focus();
                    }
                }
            }
        });
    }
    let text = move || pending.with(|p| p.as_ref().map(describe).unwrap_or_default());
    let yes = move |_| {
        if let Some(what) = pending.get_untracked() {
            confirmed.set_value(true);
            pending.set(None);
            on_confirm.run(what);
        }
    };
    view! {
        <dialog node_ref=dialog class="confirm" aria-labelledby="confirm-title" aria-describedby="confirm-message"
            on:cancel=move |_: leptos::ev::Event| pending.set(None)
            on:close=move |_: leptos::ev::Event| pending.set(None)>
            <h2 id="confirm-title">{move || text().0}</h2>
            <p id="confirm-message">{move || text().1}</p>
            <div class="actions">
                <button class="danger" on:click=yes>"Yes"</button>
                <button class="secondary" autofocus on:click=move |_| pending.set(None)>"No"</button>
            </div>
        </dialog>
    }
}

/// The page's content (`<main id="main">`), where the skip link and a
/// confirmed dialog send focus.
#[cfg(any(feature = "hydrate", feature = "csr"))]
pub fn page_content() -> Option<web_sys::HtmlElement> {
    use wasm_bindgen::JsCast;
    document()
        .get_element_by_id("main")
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
}

/// A moment as the server knows it: milliseconds since the Unix epoch and the
/// same moment written in UTC, which is what the page shows until the browser
/// rewrites it in the user's own time zone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Moment {
    pub ms: i64,
    /// E.g. "2026-11-27 06:10 UTC".
    pub utc: String,
}

/// A moment in the user's time zone and locale once hydrated (the server
/// knows neither), with the UTC form on hover and in `datetime`.
#[component]
pub fn When(at: Moment) -> impl IntoView {
    let text = RwSignal::new(at.utc.clone());
    let ms = at.ms;
    Effect::new(move |_| {
        if let Some(local) = local_time(ms) {
            text.set(local);
        }
    });
    view! { <time datetime=iso_utc(&at.utc) title=at.utc.clone()>{move || text.get()}</time> }
}

/// "2026-11-27 06:10 UTC" as HTML's `datetime` wants it: "2026-11-27T06:10Z".
fn iso_utc(utc: &str) -> String {
    utc.trim_end_matches(" UTC").replacen(' ', "T", 1) + "Z"
}

#[cfg(any(feature = "hydrate", feature = "csr"))]
fn local_time(ms: i64) -> Option<String> {
    use wasm_bindgen::JsValue;
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"dateStyle".into(), &"medium".into()).ok()?;
    js_sys::Reflect::set(&options, &"timeStyle".into(), &"short".into()).ok()?;
    // No locales: the browser's own.
    let format = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &options);
    let date = js_sys::Date::new(&JsValue::from_f64(ms as f64));
    format
        .format()
        .call1(&JsValue::NULL, &date)
        .ok()?
        .as_string()
}

#[cfg(not(any(feature = "hydrate", feature = "csr")))]
fn local_time(_ms: i64) -> Option<String> {
    None
}
