//! The home page's account overview: what each section's card says about
//! the account now, read through the sections' own operations (so a card
//! counts what its page lists), all at once.

use crate::config::{Config, SYSTEM_SERVICE};
use crate::db::Db;
use crate::{
    applications, approvals, apps, associations, consent, mfa, profile, recovery, sessions,
};
use app::approvals::TaskStatus;
use app::backend::ssr::CurrentSession;
use app::consent::ConsentState;
use app::error::AppError;
use app::home::{AccountOverview, QuestionsAnswered, SecondFactors};
use std::future::Future;

/// Each section's operation answers in its own error type.
async fn section<T, E: Into<AppError>>(
    operation: impl Future<Output = Result<T, E>>,
) -> Result<T, AppError> {
    operation.await.map_err(Into::into)
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

pub async fn overview(
    db: &Db,
    config: &Config,
    me: &CurrentSession,
) -> Result<AccountOverview, AppError> {
    // Three cards name applications: read them once.
    let services = section(consent::Services::load(db, config)).await?;
    let (
        profile,
        password,
        factors,
        passkeys,
        live,
        questions,
        approvals,
        consents,
        apps,
        associated,
        social,
    ) = tokio::try_join!(
        section(profile::load(db, me.user_id)),
        section(associations::social::password_status(db, config, me)),
        section(mfa::overview(db, config, me)),
        section(mfa::passkeys::list(db, config, me)),
        section(sessions::list_for_user(db, config, me.user_id)),
        section(recovery::settings(db, config, me.user_id)),
        section(approvals::overview(db, config, me, None)),
        section(consent::overview_with(db, &services, me.user_id)),
        section(apps::list_with(db, &services, me.user_id)),
        section(associations::list(db, me.user_id)),
        section(associations::social::views(db, config, me)),
    )?;
    let second_factor = (factors.totp_offered || passkeys.is_some()).then(|| SecondFactors {
        authenticator_app: factors.totp.is_some(),
        passkeys: passkeys.as_ref().map_or(0, |p| count(p.list.len())),
        recovery_codes_left: factors.recovery_codes.map(|codes| codes.remaining),
    });
    let recovery_questions =
        (questions.enabled && !questions.sets.is_empty()).then(|| QuestionsAnswered {
            answered: count(
                questions
                    .sets
                    .iter()
                    .filter(|set| set.current_question.is_some())
                    .count(),
            ),
            sets: count(questions.sets.len()),
        });
    let decidable = |status: TaskStatus| matches!(status, TaskStatus::Ready | TaskStatus::Reserved);
    Ok(AccountOverview {
        profile_missing: profile
            .map(|p| p.claims.missing().into_iter().map(String::from).collect())
            .unwrap_or_default(),
        has_password: password.has_password,
        password_changed: password.changed,
        second_factor,
        sessions: count(live.len()),
        recovery_questions,
        tasks_waiting: count(
            approvals
                .tasks
                .iter()
                .filter(|task| !task.own_request && decidable(task.summary.status))
                .count(),
        ),
        requests_waiting: count(approvals.requests.len()),
        application_consents: count(
            consents
                .iter()
                .filter(|c| c.service_id != SYSTEM_SERVICE && c.state == ConsentState::Active)
                .count(),
        ),
        applications: count(applications::count_in(&services)),
        authorized_apps: count(apps.len()),
        associated_accounts: count(associated.len()),
        linked_identities: count(social.linked.len()),
    })
}
