//! The dashboard home: one card per section that is built.

use crate::layout::TopBar;
use leptos::prelude::*;

struct Section {
    title: &'static str,
    summary: &'static str,
    href: &'static str,
}

const SECTIONS: [Section; 9] = [
    Section {
        title: "My Profile",
        summary: "Your name, contact details and organisation, as applications see them.",
        href: "/profile",
    },
    Section {
        title: "Change Password",
        summary: "Set a new password, and sign out of your other devices at the same time.",
        href: "/password",
    },
    Section {
        title: "Multi-factor authentication",
        summary: "Ask for a code from an authenticator app after your password, with recovery codes as a backup.",
        href: "/mfa",
    },
    Section {
        title: "My Login Sessions",
        summary: "See where you are signed in, and sign out of sessions you do not recognise.",
        href: "/sessions",
    },
    Section {
        title: "Account Recovery",
        summary: "Choose security questions that let you reset a forgotten password.",
        href: "/recovery",
    },
    Section {
        title: "Pending Approvals",
        summary: "Decide requests that need your approval, and follow your own requests.",
        href: "/approvals",
    },
    Section {
        title: "Consent Management",
        summary: "See what you agreed to share and with whom; narrow, time-limit or revoke it.",
        href: "/consent",
    },
    Section {
        title: "Authorized Apps",
        summary: "Applications you signed in to with this account; remove one to end its access.",
        href: "/apps",
    },
    Section {
        title: "Associated Accounts",
        summary: "Link your other accounts on this service and switch between them without signing in again.",
        href: "/associations",
    },
];

#[component]
pub fn HomePage() -> impl IntoView {
    let cards = SECTIONS
        .iter()
        .map(|s| {
            view! {
                <section class="card section-card">
                    <h2>{s.title}</h2>
                    <p>{s.summary}</p>
                    <a class="button" href=s.href aria-label=format!("View details: {}", s.title)>"View details"</a>
                </section>
            }
        })
        .collect_view();
    view! {
        <TopBar />
        <main id="main" tabindex="-1" class="page">
            <h1>"My Account"</h1>
            <p class="intro">"Manage your personal details and how you sign in."</p>
            <div class="cards">{cards}</div>
        </main>
    }
}
