//! Associated Accounts: the user's other local accounts on this service,
//! associated by proving their password, and switching between them from the
//! account menu without signing in again. The remove dialog is run by the
//! hydrated client.

use crate::error::{message_for, AppError};
use crate::layout::{
    ConfirmDialog, Moment, Notice, Page, PasswordField, PasswordKind, StatusMessage, When,
};
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// An associated account, as its profile describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssociatedAccount {
    pub username: String,
    /// First and last name; empty when the profile has none.
    pub name: String,
    pub email: String,
    pub associated_at: Moment,
}

/// An identity at an external provider, linked to the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocialIdentity {
    pub id: String,
    pub provider_name: String,
    /// The external account's email or name, as the provider gave it.
    pub display: String,
    pub linked_at: Moment,
    pub last_used_at: Option<Moment>,
}

/// A configured provider, for the "Link" and "Sign in with" buttons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderChoice {
    pub id: String,
    pub name: String,
}

/// The "Social identities" card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocialIdentities {
    pub linked: Vec<SocialIdentity>,
    pub providers: Vec<ProviderChoice>,
    /// Without a password, the last identity is the only way in.
    pub has_password: bool,
}

/// The cookie naming the identity that waits for this browser to sign in.
pub const PENDING_IDENTITY_COOKIE: &str = "selfserve_pending_identity";

/// An identity that came back from a provider linked to no account, as the
/// sign-in page describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingIdentity {
    pub provider_name: String,
    pub display: String,
    /// Whether it may create an account ("Create an account" is offered).
    pub can_sign_up: bool,
    /// A username to suggest, from the provider's claims (may be empty).
    pub username: String,
    /// Profile values by claim (email, first_name, last_name).
    pub attributes: std::collections::BTreeMap<String, String>,
}

/// How a round trip to a provider ended, as the page it returns to says it
/// (`?federation=<code>&provider=<id>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FederationOutcome {
    Linked,
    AlreadyLinked,
    LinkedElsewhere,
    NotLinked,
    Unavailable,
    Cancelled,
    Failed,
    Expired,
    Locked,
    AwaitingApproval,
    /// Proved again at the provider (to set a password).
    Confirmed,
    /// Proved at the provider as an account not linked to this one.
    WrongAccount,
    /// Too many round trips from the client's address lately.
    TooMany,
}

impl FederationOutcome {
    const CODES: [(FederationOutcome, &'static str); 13] = [
        (FederationOutcome::Linked, "linked"),
        (FederationOutcome::AlreadyLinked, "already_linked"),
        (FederationOutcome::LinkedElsewhere, "linked_elsewhere"),
        (FederationOutcome::NotLinked, "not_linked"),
        (FederationOutcome::Unavailable, "unavailable"),
        (FederationOutcome::Cancelled, "cancelled"),
        (FederationOutcome::Failed, "failed"),
        (FederationOutcome::Expired, "expired"),
        (FederationOutcome::Locked, "locked"),
        (FederationOutcome::AwaitingApproval, "awaiting_approval"),
        (FederationOutcome::Confirmed, "confirmed"),
        (FederationOutcome::WrongAccount, "wrong_account"),
        (FederationOutcome::TooMany, "too_many"),
    ];

    pub fn code(self) -> &'static str {
        Self::CODES
            .iter()
            .find(|(outcome, _)| *outcome == self)
            .map(|(_, code)| *code)
            .unwrap_or("failed")
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::CODES
            .iter()
            .find(|(_, c)| *c == code)
            .map(|(outcome, _)| *outcome)
    }

    pub fn is_success(self) -> bool {
        matches!(
            self,
            FederationOutcome::Linked
                | FederationOutcome::AlreadyLinked
                | FederationOutcome::Confirmed
        )
    }

    /// What the page says, naming the provider.
    pub fn message(self, provider: &str) -> String {
        match self {
            FederationOutcome::Linked => format!("Your {provider} account is now linked. You can sign in with it."),
            FederationOutcome::AlreadyLinked => format!("That {provider} account was already linked to this account."),
            FederationOutcome::LinkedElsewhere => format!(
                "That {provider} account is linked to another account here, so it was not linked to this one. Remove it from the other account first."
            ),
            FederationOutcome::NotLinked => format!(
                "That {provider} account is not linked to any account here. Sign in with your username and password to link it; we never link accounts by matching email addresses."
            ),
            FederationOutcome::Unavailable => format!(
                "{provider} could not be reached. Try again in a moment, or sign in with your password."
            ),
            FederationOutcome::Cancelled => format!("Signing in with {provider} was cancelled; nothing changed."),
            FederationOutcome::Failed => format!(
                "{provider}'s answer could not be verified, so nothing changed. Try again; if it keeps failing, tell your administrator."
            ),
            FederationOutcome::Expired => format!(
                "That {provider} sign-in expired or was started in another browser. Start again from this page."
            ),
            FederationOutcome::Locked => "This account is locked after too many failed sign-ins. Try again in a few minutes.".into(),
            FederationOutcome::AwaitingApproval => "This account is awaiting approval of its registration.".into(),
            FederationOutcome::Confirmed => format!("{provider} confirmed it is you. Choose your password within 10 minutes."),
            FederationOutcome::WrongAccount => format!(
                "The {provider} account you signed in with is not linked to this account, so nothing changed. Sign in at {provider} with the account linked here."
            ),
            FederationOutcome::TooMany => format!(
                "Too many sign-ins with {provider} were started from your network in the last few minutes. Wait a few minutes and try again, or sign in with your password."
            ),
        }
    }
}

#[server(endpoint = "associated_accounts")]
pub async fn associated_accounts() -> Result<Vec<AssociatedAccount>, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.associated_accounts(&session).await)
}

/// The usernames the account menu offers to switch to.
#[server(endpoint = "account_switches")]
pub async fn account_switches() -> Result<Vec<String>, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.associated_usernames(&session).await)
}

/// Associates the account whose username and password are given; returns
/// its username as stored.
#[server(endpoint = "associate_account")]
pub async fn associate_account(username: String, password: String) -> Result<String, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    let client = client_info()?;
    respond(
        backend()?
            .associate_account(&session, &username, &password, &client)
            .await,
    )
}

/// Removes the association for both accounts.
#[server(endpoint = "remove_association")]
pub async fn remove_association(username: String) -> Result<(), AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.remove_association(&session, &username).await)
}

/// The configured identity providers (the sign-in page's buttons).
#[server(endpoint = "identity_providers")]
pub async fn identity_providers() -> Result<Vec<ProviderChoice>, AppError> {
    Ok(crate::backend::ssr::backend()?.identity_providers())
}

#[server(endpoint = "social_identities")]
pub async fn load_social_identities() -> Result<SocialIdentities, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.social_identities(&session).await)
}

/// Unlinks one identity; returns its provider's name.
#[server(endpoint = "remove_social_identity")]
pub async fn remove_social_identity(id: String) -> Result<String, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.remove_social_identity(&session, &id).await)
}

/// The identity that came back from a provider linked to no account and
/// waits for this browser to sign in, if any.
#[server(endpoint = "pending_identity")]
pub async fn waiting_identity() -> Result<Option<PendingIdentity>, AppError> {
    use crate::backend::ssr::*;
    match request_cookie(PENDING_IDENTITY_COOKIE) {
        Some(token) => respond(backend()?.pending_identity(&token).await),
        None => Ok(None),
    }
}

/// What a `?federation=` outcome says, with the provider named as
/// configured; None without one.
pub fn federation_notice(
    query: &leptos_router::params::ParamsMap,
    providers: &[ProviderChoice],
) -> Option<Result<String, String>> {
    let outcome = FederationOutcome::parse(&query.get("federation")?)?;
    let id = query.get("provider").unwrap_or_default();
    let name = providers
        .iter()
        .find(|p| p.id == id)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| "the identity provider".into());
    let text = outcome.message(&name);
    Some(if outcome.is_success() {
        Ok(text)
    } else {
        Err(text)
    })
}

/// Signs this browser in as the associated account in a new session; the
/// current session ends. Returns the page to load: My Account, or the second
/// step of sign-in when that account asks for its second factor.
#[server(endpoint = "switch_account")]
pub async fn switch_account(username: String) -> Result<String, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    let client = client_info()?;
    let (cookie, next) = respond(
        backend()?
            .switch_account(&session, &username, &client)
            .await,
    )?;
    set_cookie(cookie);
    Ok(next.to_string())
}

/// After a switch the whole page belongs to another account: load it afresh.
pub fn load_after_switch(next: &str) {
    #[cfg(feature = "hydrate")]
    {
        let next = if next == "/signin/verify" { next } else { "/" };
        let _ = window().location().set_href(next);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = next;
}

#[component]
pub fn AssociationsPage() -> impl IntoView {
    let associate = ServerAction::<AssociateAccount>::new();
    let remove = ServerAction::<RemoveAssociation>::new();
    let remove_social = ServerAction::<RemoveSocialIdentity>::new();
    let switch = ServerAction::<SwitchAccount>::new();
    let social = Resource::new(
        move || remove_social.version().get(),
        |_| load_social_identities(),
    );
    let accounts = Resource::new(
        move || (associate.version().get(), remove.version().get()),
        |_| associated_accounts(),
    );
    let pending = RwSignal::new(None::<Removal>);
    let notice = RwSignal::new(None::<Result<String, String>>);
    Effect::new(move |_| {
        if let Some(result) = associate.value().get() {
            notice.set(Some(match result {
                Ok(username) => Ok(format!(
                    "{username} is now associated with your account. Switch to it from the account menu at the top right."
                )),
                Err(e) => Err(e.to_string()),
            }));
        }
    });
    Effect::new(move |_| {
        if let Some(result) = remove.value().get() {
            notice.set(Some(match result {
                Ok(()) => Ok("The association was removed from both accounts.".into()),
                Err(e) => Err(e.to_string()),
            }));
        }
    });
    Effect::new(move |_| {
        if let Some(result) = remove_social.value().get() {
            notice.set(Some(match result {
                Ok(provider) => Ok(format!(
                    "Your {provider} identity was removed; it no longer signs in to this account."
                )),
                Err(e) => Err(e.to_string()),
            }));
        }
    });
    Effect::new(move |_| match switch.value().get() {
        Some(Ok(next)) => load_after_switch(&next),
        Some(Err(e)) => notice.set(Some(Err(e.to_string()))),
        None => {}
    });
    let field_error = move |field: &'static str| {
        Signal::derive(move || {
            associate.value().with(|v| {
                v.as_ref()
                    .and_then(|r| r.as_ref().err())
                    .and_then(|e| message_for(e.field_errors(), field))
            })
        })
    };
    let confirm = Callback::new(move |removal| match removal {
        Removal::Local { username } => {
            remove.dispatch(RemoveAssociation { username });
        }
        Removal::Social { id, .. } => {
            remove_social.dispatch(RemoveSocialIdentity { id });
        }
    });
    let query = leptos_router::hooks::use_query_map();
    view! {
        <Page title="Associated Accounts" intro="Your identities at other providers that you sign in with, and your other accounts on this service, such as a work and a personal account, to switch between without signing in again.">
            <Notice notice />
            <Transition fallback=|| view! { <section class="card"><h2>"Social identities"</h2><p class="loading">"Loading your linked identities…"</p></section> }>
                {move || Suspend::new(async move {
                    match social.await {
                        // Shown once a provider is configured (or one is still linked).
                        Ok(identities) if identities.providers.is_empty() && identities.linked.is_empty() => EitherOf3::A(()),
                        Ok(identities) => {
                            let outcome = query.with(|q| federation_notice(q, &identities.providers));
                            EitherOf3::B(view! { <SocialCard identities outcome pending /> })
                        }
                        Err(e) => EitherOf3::C(view! { <section class="card"><h2>"Social identities"</h2><StatusMessage error=e.to_string() /></section> }),
                    }
                })}
            </Transition>
            <section class="card">
                <h2>"Local accounts"</h2>
                <Transition fallback=|| view! { <p class="loading">"Loading your associated accounts…"</p> }>
                    {move || Suspend::new(async move {
                        match accounts.await {
                            Ok(list) if list.is_empty() => EitherOf3::A(view! {
                                <p class="empty">"No other account is associated with this one yet. Associate one below to switch to it without typing its password each time."</p>
                            }),
                            Ok(list) => EitherOf3::B(view! { <AccountList list pending switch /> }),
                            Err(e) => EitherOf3::C(view! { <StatusMessage error=e.to_string() /> }),
                        }
                    })}
                </Transition>
            </section>
            <crate::mfa::StepUp reason="Before you associate another account, give your second factor again: it was last given more than 10 minutes ago." />
            <section class="card">
                <h2>"Associate an account"</h2>
                <p class="hint">"Enter the other account's username and password. Both accounts will list each other; removing the association removes it for both."</p>
                <ActionForm action=associate attr:class="form single">
                    <div class="field">
                        <label for="associate-username">"Username"</label>
                        <input id="associate-username" name="username" type="text" autocomplete="off" required
                            aria-describedby="associate-username-error" />
                        <p class="field-error" id="associate-username-error" role="alert">{move || field_error("username").get()}</p>
                    </div>
                    <PasswordField id="associate-password" name="password" label="Password" kind=PasswordKind::Current
                        required=true error=field_error("password") />
                    <div class="actions"><button type="submit" class="primary">"Associate"</button></div>
                </ActionForm>
            </section>
            <ConfirmDialog pending describe on_confirm=confirm />
        </Page>
    }
}

#[component]
fn AccountList(
    list: Vec<AssociatedAccount>,
    pending: RwSignal<Option<Removal>>,
    switch: ServerAction<SwitchAccount>,
) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|account| {
            let ask = {
                let username = account.username.clone();
                move |_| {
                    pending.set(Some(Removal::Local {
                        username: username.clone(),
                    }))
                }
            };
            let switch_to = {
                let username = account.username.clone();
                move |_| {
                    switch.dispatch(SwitchAccount {
                        username: username.clone(),
                    });
                }
            };
            let name = if account.name.is_empty() {
                "No name in its profile".to_string()
            } else {
                account.name.clone()
            };
            view! {
                <li class="session" data-testid="associated-account">
                    <div class="session-main">
                        <p class="session-title"><strong>{account.username.clone()}</strong></p>
                        <dl class="session-facts">
                            <div><dt>"Name"</dt><dd>{name}</dd></div>
                            {(!account.email.is_empty()).then(|| view! { <div><dt>"Email"</dt><dd>{account.email.clone()}</dd></div> })}
                            <div><dt>"Associated"</dt><dd><When at=account.associated_at.clone() /></dd></div>
                        </dl>
                    </div>
                    <div class="row-actions">
                        <button class="secondary" on:click=switch_to aria-label=format!("Switch to {}", account.username)>"Switch"</button>
                        <button class="danger" on:click=ask aria-label=format!("Remove association: {}", account.username)>"Remove"</button>
                    </div>
                </li>
            }
        })
        .collect_view();
    view! { <ul class="sessions">{rows}</ul> }
}

/// One button per provider, each a plain form posting to
/// `/federation/{id}/{intent}` (the server sends the browser on to the
/// provider): "Sign in with …", "Link …", "Confirm with …".
#[component]
pub fn ProviderButtons(
    providers: Vec<ProviderChoice>,
    /// `signin`, `link` or `confirm`.
    intent: &'static str,
    /// The words before the provider's name.
    label: &'static str,
    #[prop(default = "secondary")] class: &'static str,
    /// Where a sign-in returns to (an application's authorization request).
    #[prop(optional)]
    return_to: Option<Signal<String>>,
) -> impl IntoView {
    providers
        .into_iter()
        .map(|provider| {
            view! {
                <form method="post" action=format!("/federation/{}/{intent}", provider.id)>
                    {return_to.map(|path| view! { <input type="hidden" name="return_to" value=path /> })}
                    <button type="submit" class=class>{label}{provider.name}</button>
                </form>
            }
        })
        .collect_view()
}

/// The social identities card: what is linked, and a Link button per
/// provider (a plain form: the server sends the browser on to the provider).
#[component]
fn SocialCard(
    identities: SocialIdentities,
    outcome: Option<Result<String, String>>,
    pending: RwSignal<Option<Removal>>,
) -> impl IntoView {
    let SocialIdentities {
        linked,
        providers,
        has_password,
    } = identities;
    let only_way_in = !has_password && linked.len() == 1;
    let nothing_linked = linked.is_empty();
    let any_provider = !providers.is_empty();
    let rows = linked
        .into_iter()
        .map(|identity| {
            let ask = {
                let identity = identity.clone();
                move |_| {
                    pending.set(Some(Removal::Social {
                        id: identity.id.clone(),
                        provider: identity.provider_name.clone(),
                        display: identity.display.clone(),
                    }))
                }
            };
            view! {
                <li class="session" data-testid="social-identity">
                    <div class="session-main">
                        <p class="session-title"><strong>{identity.provider_name.clone()}</strong></p>
                        <dl class="session-facts">
                            <div><dt>"Account"</dt><dd>{identity.display.clone()}</dd></div>
                            <div><dt>"Linked"</dt><dd><When at=identity.linked_at.clone() /></dd></div>
                            <div><dt>"Last sign-in"</dt><dd>{match identity.last_used_at.clone() {
                                Some(at) => Either::Left(view! { <When at /> }),
                                None => Either::Right("Not used to sign in yet"),
                            }}</dd></div>
                        </dl>
                    </div>
                    <div class="row-actions">
                        <button class="danger" on:click=ask
                            aria-label=format!("Remove {}: {}", identity.provider_name, identity.display)>"Remove"</button>
                    </div>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="social-heading">
            <h2 id="social-heading">"Social identities"</h2>
            {outcome.map(|o| match o {
                Ok(text) => view! { <StatusMessage success=text /> }.into_any(),
                Err(text) => view! { <StatusMessage error=text /> }.into_any(),
            })}
            {if nothing_linked {
                Either::Left(view! { <p class="empty">"No identity from another provider is linked yet. Link one to sign in with it instead of your password."</p> })
            } else {
                Either::Right(view! { <ul class="sessions">{rows}</ul> })
            }}
            {only_way_in.then(|| view! {
                <p class="hint">"This identity is the only way into your account: set a password on "<a href="/password">"Change Password"</a>" or link another identity before removing it."</p>
            })}
            {any_provider.then(|| view! {
                <p class="hint">"Link an identity by signing in at its provider; it joins the account you are signed in to. An identity links to one account only."</p>
                <div class="actions provider-buttons"><ProviderButtons providers intent="link" label="Link " /></div>
            })}
        </section>
    }
}

/// What the confirm dialog asks about.
#[derive(Debug, Clone)]
enum Removal {
    Local {
        username: String,
    },
    Social {
        id: String,
        provider: String,
        display: String,
    },
}

fn describe(removal: &Removal) -> (String, String) {
    match removal {
        Removal::Local { username } => (
            "Remove association?".into(),
            format!(
                "{username} and this account will no longer list each other, and you will need {username}'s password to switch to it. Do you want to proceed?"
            ),
        ),
        Removal::Social { provider, display, .. } => (
            format!("Remove {provider} identity?"),
            format!(
                "You will no longer be able to sign in to this account with {display} at {provider}. You can link it again later. Do you want to proceed?"
            ),
        ),
    }
}
