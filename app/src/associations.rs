//! Associated Accounts: the user's other local accounts on this service,
//! associated by proving their password, and switching between them from the
//! account menu without signing in again. The remove dialog is run by the
//! hydrated client.

use crate::error::{message_for, AppError};
use crate::layout::{
    ConfirmDialog, Moment, Notice, Page, PasswordField, PasswordKind, StatusMessage, When,
};
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

#[server(endpoint = "associated_accounts")]
pub async fn associated_accounts() -> Result<Vec<AssociatedAccount>, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.associated_accounts(&session).await)
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

/// Signs this browser in as the associated account in a new session; the
/// current session ends.
#[server(endpoint = "switch_account")]
pub async fn switch_account(username: String) -> Result<(), AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    let client = client_info()?;
    let cookie = respond(
        backend()?
            .switch_account(&session, &username, &client)
            .await,
    )?;
    set_cookie(cookie);
    Ok(())
}

/// After a switch the whole page belongs to another account: load it afresh.
pub fn reload_home() {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().set_href("/");
    }
}

#[component]
pub fn AssociationsPage() -> impl IntoView {
    let associate = ServerAction::<AssociateAccount>::new();
    let remove = ServerAction::<RemoveAssociation>::new();
    let switch = ServerAction::<SwitchAccount>::new();
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
    Effect::new(move |_| match switch.value().get() {
        Some(Ok(())) => reload_home(),
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
    let confirm = Callback::new(move |Removal { username }| {
        remove.dispatch(RemoveAssociation { username });
    });
    view! {
        <Page title="Associated Accounts" intro="Your other accounts on this service, such as a work and a personal account. Associate one by proving its password once; then switch between them from the account menu without signing in again.">
            <Notice notice />
            <section class="card">
                <h2>"Local accounts"</h2>
                <Transition fallback=|| view! { <p class="loading">"Loading your associated accounts…"</p> }>
                    {move || Suspend::new(async move {
                        match accounts.await {
                            Ok(list) if list.is_empty() => view! {
                                <p class="empty">"No other account is associated with this one yet. Associate one below to switch to it without typing its password each time."</p>
                            }.into_any(),
                            Ok(list) => view! { <AccountList list pending switch /> }.into_any(),
                            Err(e) => view! { <StatusMessage error=e.to_string() /> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
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
                    pending.set(Some(Removal {
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

/// The association the confirm dialog asks about.
#[derive(Debug, Clone)]
struct Removal {
    username: String,
}

fn describe(Removal { username }: &Removal) -> (String, String) {
    (
        "Remove association?".into(),
        format!(
            "{username} and this account will no longer list each other, and you will need {username}'s password to switch to it. Do you want to proceed?"
        ),
    )
}
