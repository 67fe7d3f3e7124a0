//! The dashboard home: one card per section that is built, each saying
//! what that section holds for the account now and flagging what needs
//! the user's attention (no second factor, recovery not set up, tasks
//! waiting), as an account overview should.

use crate::error::AppError;
use crate::layout::{Moment, TopBar, When};
use leptos::either::Either;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The account as the home page's cards describe it, read through each
/// section's own operations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountOverview {
    /// The profile's empty fields (labels), in the form's order.
    pub profile_missing: Vec<String>,
    /// False for an account that signs in only with a linked identity or
    /// a passkey.
    pub has_password: bool,
    /// When the password was last set, when that is known.
    pub password_changed: Option<Moment>,
    /// None when the operator offers no second factor.
    pub second_factor: Option<SecondFactors>,
    /// Live sessions, this one included.
    pub sessions: u32,
    /// None when the operator turned security questions off.
    pub recovery_questions: Option<QuestionsAnswered>,
    /// Tasks this user may decide now (ready, or started by them).
    pub tasks_waiting: u32,
    /// This user's own requests still waiting for approval.
    pub requests_waiting: u32,
    /// Applications (not Selfserve itself) whose consent is active.
    pub application_consents: u32,
    /// Applications the user can open from the Applications page.
    pub applications: u32,
    pub authorized_apps: u32,
    pub associated_accounts: u32,
    pub linked_identities: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondFactors {
    pub authenticator_app: bool,
    pub passkeys: u32,
    /// Unused recovery codes, when the account has them.
    pub recovery_codes_left: Option<u32>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionsAnswered {
    pub answered: u32,
    pub sets: u32,
}

#[server(endpoint = "account_overview")]
pub async fn load_account_overview() -> Result<AccountOverview, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.account_overview(&session).await)
}

/// What a card says about its section: `attention` when the user should act.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardStatus {
    pub text: String,
    /// A moment the text ends with, shown in the user's time zone.
    pub at: Option<Moment>,
    pub attention: bool,
}

impl CardStatus {
    fn fine(text: impl Into<String>) -> Option<Self> {
        Some(Self {
            text: text.into(),
            at: None,
            attention: false,
        })
    }

    fn act(text: impl Into<String>) -> Option<Self> {
        Some(Self {
            text: text.into(),
            at: None,
            attention: true,
        })
    }
}

/// "1 passkey", "2 passkeys".
fn count(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Recovery codes at or below this many are worth replacing.
const FEW_RECOVERY_CODES: u32 = 3;

/// Missing fields named before "and N more".
const MISSING_NAMED: usize = 3;

fn profile_status(o: &AccountOverview) -> Option<CardStatus> {
    let total = crate::profile::FIELDS.len();
    let missing = &o.profile_missing;
    if missing.is_empty() {
        return CardStatus::fine(format!("Complete: all {total} details are filled in."));
    }
    let mut named: Vec<String> = missing.iter().take(MISSING_NAMED).cloned().collect();
    if missing.len() > MISSING_NAMED {
        named.push(format!("{} more", missing.len() - MISSING_NAMED));
    }
    let last = named.pop().unwrap_or_default();
    let list = if named.is_empty() {
        last
    } else {
        format!("{} and {last}", named.join(", "))
    };
    CardStatus::fine(format!(
        "{} of {total} details filled in. Missing: {list}.",
        total - missing.len()
    ))
}

fn password_status(o: &AccountOverview) -> Option<CardStatus> {
    if !o.has_password {
        return CardStatus::fine("No password: you sign in with a linked identity or a passkey.");
    }
    Some(CardStatus {
        text: "Last changed".into(),
        at: Some(o.password_changed.clone()?),
        attention: false,
    })
}

fn second_factor_status(o: &AccountOverview) -> Option<CardStatus> {
    let factors = o.second_factor.as_ref()?;
    let mut kinds = Vec::new();
    if factors.authenticator_app {
        kinds.push("an authenticator app".to_string());
    }
    if factors.passkeys > 0 {
        kinds.push(count(factors.passkeys, "passkey", "passkeys"));
    }
    if kinds.is_empty() {
        return CardStatus::act("Off: your password alone protects your account.");
    }
    let on = format!("On: {}.", kinds.join(" and "));
    match factors.recovery_codes_left {
        Some(left) if left <= FEW_RECOVERY_CODES => CardStatus::act(format!(
            "{on} Only {} left: make new ones.",
            count(left, "recovery code", "recovery codes")
        )),
        _ => CardStatus::fine(on),
    }
}

fn sessions_status(o: &AccountOverview) -> Option<CardStatus> {
    match o.sessions {
        0 | 1 => CardStatus::fine("Signed in on this device only."),
        n => CardStatus::fine(format!("Signed in in {n} places, this device included.")),
    }
}

fn recovery_status(o: &AccountOverview) -> Option<CardStatus> {
    let questions = o.recovery_questions?;
    if questions.answered == 0 {
        CardStatus::act("Not set up: you could not answer questions to reset a forgotten password.")
    } else if questions.answered < questions.sets {
        CardStatus::act(format!(
            "{} of {} question sets answered: answer them all.",
            questions.answered, questions.sets
        ))
    } else {
        CardStatus::fine(format!(
            "Set up: {} to reset a forgotten password.",
            count(questions.answered, "question", "questions")
        ))
    }
}

fn approvals_status(o: &AccountOverview) -> Option<CardStatus> {
    let requests = (o.requests_waiting > 0).then(|| {
        format!(
            "{} waiting for approval.",
            count(o.requests_waiting, "request of yours", "requests of yours")
        )
    });
    let tasks = format!(
        "{} waiting for your decision.",
        count(o.tasks_waiting, "task", "tasks")
    );
    match (o.tasks_waiting, requests) {
        (0, None) => CardStatus::fine("Nothing is waiting for you."),
        (0, Some(requests)) => CardStatus::fine(requests),
        (_, None) => CardStatus::act(tasks),
        (_, Some(requests)) => CardStatus::act(format!("{tasks} {requests}")),
    }
}

/// `none`, or "1 application has …" / "2 applications have …" `what`.
fn applications(n: u32, none: &str, what: &str) -> Option<CardStatus> {
    match n {
        0 => CardStatus::fine(none),
        n => CardStatus::fine(format!(
            "{} {what}.",
            count(n, "application has", "applications have")
        )),
    }
}

fn consent_status(o: &AccountOverview) -> Option<CardStatus> {
    applications(
        o.application_consents,
        "No application has your consent, only Selfserve.",
        "your consent to receive your details",
    )
}

fn applications_status(o: &AccountOverview) -> Option<CardStatus> {
    match o.applications {
        0 => CardStatus::fine("No applications are listed for you yet."),
        n => CardStatus::fine(format!(
            "{} you can open.",
            count(n, "application", "applications")
        )),
    }
}

fn apps_status(o: &AccountOverview) -> Option<CardStatus> {
    applications(
        o.authorized_apps,
        "No application can access your account.",
        "access to your account",
    )
}

fn associations_status(o: &AccountOverview) -> Option<CardStatus> {
    let mut linked = Vec::new();
    if o.associated_accounts > 0 {
        linked.push(count(o.associated_accounts, "account", "accounts"));
    }
    if o.linked_identities > 0 {
        linked.push(count(
            o.linked_identities,
            "sign-in provider",
            "sign-in providers",
        ));
    }
    if linked.is_empty() {
        CardStatus::fine("Nothing linked yet.")
    } else {
        CardStatus::fine(format!("Linked: {}.", linked.join(" and ")))
    }
}

struct Section {
    title: &'static str,
    summary: &'static str,
    href: &'static str,
    /// What the card says about the account, for sections with a state.
    status: fn(&AccountOverview) -> Option<CardStatus>,
}

const SECTIONS: [Section; 10] = [
    Section {
        title: "My Profile",
        summary: "Your name, contact details and organisation, as applications see them.",
        href: "/profile",
        status: profile_status,
    },
    Section {
        title: "Change Password",
        summary: "Set a new password, and sign out of your other devices at the same time.",
        href: "/password",
        status: password_status,
    },
    Section {
        title: "Multi-factor authentication",
        summary: "Ask for a code from an authenticator app or a passkey after your password, or sign in with a passkey alone; recovery codes are the backup.",
        href: "/mfa",
        status: second_factor_status,
    },
    Section {
        title: "My Login Sessions",
        summary: "See where you are signed in, and sign out of sessions you do not recognise.",
        href: "/sessions",
        status: sessions_status,
    },
    Section {
        title: "Account Recovery",
        summary: "Choose security questions that let you reset a forgotten password.",
        href: "/recovery",
        status: recovery_status,
    },
    Section {
        title: "Pending Approvals",
        summary: "Decide requests that need your approval, and follow your own requests.",
        href: "/approvals",
        status: approvals_status,
    },
    Section {
        title: "Consent Management",
        summary: "See what you agreed to share and with whom; narrow, time-limit or revoke it.",
        href: "/consent",
        status: consent_status,
    },
    Section {
        title: "Applications",
        summary: "Open the applications you use with this account; the ones you used last come first.",
        href: "/applications",
        status: applications_status,
    },
    Section {
        title: "Authorized Apps",
        summary: "Applications you signed in to with this account; remove one to end its access.",
        href: "/apps",
        status: apps_status,
    },
    Section {
        title: "Associated Accounts",
        summary: "Link your other accounts on this service and switch between them without signing in again.",
        href: "/associations",
        status: associations_status,
    },
];

/// The cards; without an overview (it could not be read) they only
/// describe their sections.
fn cards(overview: Option<AccountOverview>) -> impl IntoView {
    SECTIONS
        .iter()
        .map(|s| {
            let status = overview.as_ref().and_then(|o| (s.status)(o)).map(|status| {
                view! {
                    <p class="card-status" class:attention=status.attention data-testid="card-status">
                        {status.text}
                        {status.at.map(|at| view! { " " <When at /> "." })}
                    </p>
                }
            });
            view! {
                <section class="card section-card" aria-label=s.title>
                    <h2>{s.title}</h2>
                    <p>{s.summary}</p>
                    {status}
                    <a class="button" href=s.href aria-label=format!("View details: {}", s.title)>"View details"</a>
                </section>
            }
        })
        .collect_view()
}

/// The sections whose cards need the user, in page order.
fn needing_attention(overview: &AccountOverview) -> Vec<&'static Section> {
    SECTIONS
        .iter()
        .filter(|s| (s.status)(overview).is_some_and(|status| status.attention))
        .collect()
}

/// The line above the cards: which sections need the user, each a link.
fn checkup(overview: &AccountOverview) -> impl IntoView {
    let sections = needing_attention(overview);
    let n = sections.len();
    if n == 0 {
        return Either::Left(view! {
            <p class="checkup" data-testid="checkup">"Nothing needs your attention."</p>
        });
    }
    let links = sections
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let separator = match i {
                0 => " ",
                i if i + 1 == n => " and ",
                _ => ", ",
            };
            view! { {separator} <a href=s.href>{s.title}</a> }
        })
        .collect_view();
    Either::Right(view! {
        <p class="checkup attention" data-testid="checkup">
            {count(n as u32, "section needs", "sections need")} " your attention:" {links} "."
        </p>
    })
}

#[component]
pub fn HomePage() -> impl IntoView {
    // Read by the server before the page renders; after a navigation in the
    // browser, read here, the cards waiting meanwhile.
    let overview = crate::backend::known_or_read(
        crate::backend::read_before_render::<AccountOverview>,
        || async { Some(load_account_overview().await) },
    );
    view! {
        <TopBar />
        <main id="main" tabindex="-1" class="page">
            <h1>"My Account"</h1>
            <p class="intro">"Manage your personal details and how you sign in. Each card says where your account stands; the ones that need you are marked."</p>
            {move || {
                let overview = overview.get().and_then(Result::ok);
                view! {
                    {overview.as_ref().map(checkup)}
                    <div class="cards">{cards(overview)}</div>
                }
            }}
        </main>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overview() -> AccountOverview {
        AccountOverview {
            second_factor: Some(SecondFactors::default()),
            sessions: 1,
            recovery_questions: Some(QuestionsAnswered {
                answered: 0,
                sets: 2,
            }),
            ..AccountOverview::default()
        }
    }

    #[test]
    fn an_account_without_a_second_factor_or_recovery_is_flagged() {
        let o = overview();
        let mfa = second_factor_status(&o).unwrap();
        assert!(mfa.attention);
        assert!(mfa.text.starts_with("Off"), "{}", mfa.text);
        assert!(recovery_status(&o).unwrap().attention);
        assert!(!approvals_status(&o).unwrap().attention);
    }

    #[test]
    fn second_factors_are_named_and_few_recovery_codes_flagged() {
        let mut o = overview();
        o.second_factor = Some(SecondFactors {
            authenticator_app: true,
            passkeys: 2,
            recovery_codes_left: Some(10),
        });
        assert_eq!(
            second_factor_status(&o),
            CardStatus::fine("On: an authenticator app and 2 passkeys.")
        );
        o.second_factor = Some(SecondFactors {
            authenticator_app: false,
            passkeys: 1,
            recovery_codes_left: Some(1),
        });
        assert_eq!(
            second_factor_status(&o),
            CardStatus::act("On: 1 passkey. Only 1 recovery code left: make new ones.")
        );
    }

    #[test]
    fn the_profile_card_names_what_is_missing() {
        let mut o = overview();
        o.profile_missing = vec!["Email".into()];
        assert_eq!(
            profile_status(&o).unwrap().text,
            "9 of 10 details filled in. Missing: Email."
        );
        o.profile_missing = ["First Name", "Email", "Mobile", "URL", "IM"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            profile_status(&o).unwrap().text,
            "5 of 10 details filled in. Missing: First Name, Email, Mobile and 2 more."
        );
        o.profile_missing.clear();
        assert_eq!(
            profile_status(&o).unwrap().text,
            "Complete: all 10 details are filled in."
        );
    }

    #[test]
    fn the_password_card_says_when_it_was_changed_if_known() {
        let mut o = overview();
        assert_eq!(
            password_status(&o).unwrap().text,
            "No password: you sign in with a linked identity or a passkey."
        );
        o.has_password = true;
        assert_eq!(password_status(&o), None, "set before it was recorded");
        let at = Moment {
            ms: 1,
            utc: "1970-01-01 00:00 UTC".into(),
        };
        o.password_changed = Some(at.clone());
        let status = password_status(&o).unwrap();
        assert_eq!(
            (status.text.as_str(), status.at),
            ("Last changed", Some(at))
        );
    }

    #[test]
    fn the_checkup_names_the_sections_that_need_the_user() {
        let titles = |o: &AccountOverview| {
            needing_attention(o)
                .iter()
                .map(|s| s.title)
                .collect::<Vec<_>>()
        };
        let mut o = overview();
        assert_eq!(
            titles(&o),
            ["Multi-factor authentication", "Account Recovery"]
        );
        o.recovery_questions = Some(QuestionsAnswered {
            answered: 2,
            sets: 2,
        });
        o.second_factor = Some(SecondFactors {
            authenticator_app: true,
            ..SecondFactors::default()
        });
        assert!(titles(&o).is_empty());
    }

    #[test]
    fn sections_the_operator_turned_off_say_nothing() {
        let o = AccountOverview::default();
        assert_eq!(second_factor_status(&o), None);
        assert_eq!(recovery_status(&o), None);
    }

    #[test]
    fn waiting_tasks_need_attention_and_own_requests_are_counted() {
        let mut o = overview();
        o.requests_waiting = 1;
        assert_eq!(
            approvals_status(&o),
            CardStatus::fine("1 request of yours waiting for approval.")
        );
        o.tasks_waiting = 3;
        assert_eq!(
            approvals_status(&o),
            CardStatus::act(
                "3 tasks waiting for your decision. 1 request of yours waiting for approval."
            )
        );
    }

    #[test]
    fn counts_read_as_sentences() {
        let mut o = overview();
        o.sessions = 3;
        o.application_consents = 1;
        o.authorized_apps = 2;
        o.associated_accounts = 1;
        o.linked_identities = 2;
        assert_eq!(
            sessions_status(&o).unwrap().text,
            "Signed in in 3 places, this device included."
        );
        assert_eq!(
            consent_status(&o).unwrap().text,
            "1 application has your consent to receive your details."
        );
        assert_eq!(
            apps_status(&o).unwrap().text,
            "2 applications have access to your account."
        );
        assert_eq!(
            associations_status(&o).unwrap().text,
            "Linked: 1 account and 2 sign-in providers."
        );
    }
}
