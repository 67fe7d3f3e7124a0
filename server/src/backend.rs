//! The server's implementation of the interface the UI's server functions
//! call. Each method is a thin step into the section module that owns it.

use crate::config::Config;
use crate::db::Db;
use crate::{
    approvals, consent, internal, password, profile, recovery, register, sessions, signin,
};
use app::approvals::{Action, ApprovalsOverview, TaskDetail};
use app::backend::ssr::{Backend, ClientInfo, CurrentSession, SetCookie};
use app::consent::{ConsentDetail, ConsentEntry, LastDayChoice, RegistrationForm};
use app::error::{AppError, FieldError};
use app::password::{PasswordChange, PasswordFeedback};
use app::profile::{ProfileView, ValidProfile};
use app::recovery::{AnswerInput, RecoveryChallenge, RecoverySettings};
use app::sessions::SessionView;
use std::sync::Arc;

pub struct ServerBackend {
    pub db: Db,
    pub config: Arc<Config>,
}

#[async_trait::async_trait]
impl Backend for ServerBackend {
    async fn sign_in(
        &self,
        username: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<SetCookie, AppError> {
        let (_, token) =
            signin::sign_in(&self.db, &self.config, username, password, client).await?;
        Ok(SetCookie(sessions::session_cookie(&self.config, &token)))
    }

    async fn sign_out(&self, session: &CurrentSession) -> Result<SetCookie, AppError> {
        sessions::delete(&self.db, &session.session_id)
            .await
            .map_err(internal)?;
        tracing::info!(user = %session.username, session = %session.session_id, "signed out");
        Ok(SetCookie(sessions::clear_cookie(&self.config)))
    }

    async fn profile(&self, session: &CurrentSession) -> Result<ProfileView, AppError> {
        profile::load(&self.db, session.user_id)
            .await
            .map_err(internal)?
            .ok_or(AppError::Unauthenticated)
    }

    async fn update_profile(
        &self,
        session: &CurrentSession,
        valid: ValidProfile,
        expected_version: i64,
    ) -> Result<ProfileView, AppError> {
        match profile::update(
            &self.db,
            &self.config,
            session.user_id,
            &session.username,
            &valid,
            expected_version,
        )
        .await
        .map_err(internal)?
        {
            profile::UpdateOutcome::Saved(view) => {
                tracing::info!(user = %session.username, "profile updated");
                Ok(*view)
            }
            profile::UpdateOutcome::Conflict => Err(AppError::Conflict),
            profile::UpdateOutcome::AlreadyPending(claim) => {
                Err(AppError::Invalid(vec![FieldError::new(
                    &claim,
                    "A change to this field already awaits approval. Cancel it under Pending Approvals to make another.",
                )]))
            }
        }
    }

    async fn password_feedback(
        &self,
        session: &CurrentSession,
        candidate: &str,
    ) -> Result<PasswordFeedback, AppError> {
        Ok(password::evaluate(
            &self.config.password,
            candidate,
            &[session.username.as_str()],
        ))
    }

    async fn change_password(
        &self,
        session: &CurrentSession,
        change: PasswordChange,
        client: &ClientInfo,
    ) -> Result<SetCookie, AppError> {
        self.reauthenticate(session, &change.current, "current", client)
            .await?;
        let feedback = password::evaluate(
            &self.config.password,
            &change.new_password,
            &[session.username.as_str()],
        );
        if !feedback.acceptable {
            return Err(AppError::Invalid(vec![FieldError::new(
                "new_password",
                feedback.problems.join(" "),
            )]));
        }
        if change.new_password == change.current {
            return Err(AppError::Invalid(vec![FieldError::new(
                "new_password",
                "Choose a password different from your current one.",
            )]));
        }
        let hash = password::hash_password(change.new_password).await;
        let ended = password::store_new_password(
            &self.db,
            session.user_id,
            &hash,
            Some(&session.session_id),
            change.sign_out_other_devices,
        )
        .await
        .map_err(internal)?;
        // Rotate this browser's session too: a token seen before the change
        // is worth nothing after it.
        sessions::delete(&self.db, &session.session_id)
            .await
            .map_err(internal)?;
        let (_, token) = sessions::create(&self.db, &self.config, session.user_id, client)
            .await
            .map_err(internal)?;
        tracing::info!(user = %session.username, other_sessions_ended = ended, "password changed");
        Ok(SetCookie(sessions::session_cookie(&self.config, &token)))
    }

    async fn list_sessions(&self, session: &CurrentSession) -> Result<Vec<SessionView>, AppError> {
        let records = sessions::list_for_user(&self.db, &self.config, session.user_id)
            .await
            .map_err(internal)?;
        Ok(records
            .into_iter()
            .map(|r| {
                let device = sessions::describe(&r.user_agent);
                SessionView {
                    current: r.id == session.session_id,
                    id: r.id,
                    ip: r.ip,
                    browser: device.browser,
                    os: device.os,
                    device: device.kind,
                    user_agent: r.user_agent,
                    started: crate::api::moment(r.created_at),
                    last_active: crate::api::moment(r.last_active_at),
                }
            })
            .collect())
    }

    async fn terminate_session(&self, session: &CurrentSession, id: &str) -> Result<(), AppError> {
        if sessions::delete_for_user(&self.db, session.user_id, id)
            .await
            .map_err(internal)?
        {
            tracing::info!(user = %session.username, session = %id, "session terminated");
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    async fn terminate_other_sessions(&self, session: &CurrentSession) -> Result<u64, AppError> {
        let ended =
            sessions::delete_all_for_user(&self.db, session.user_id, Some(&session.session_id))
                .await
                .map_err(internal)?;
        tracing::info!(user = %session.username, ended, "other sessions terminated");
        Ok(ended)
    }

    async fn recovery_settings(
        &self,
        session: &CurrentSession,
    ) -> Result<RecoverySettings, AppError> {
        recovery::settings(&self.db, &self.config, session.user_id)
            .await
            .map_err(internal)
    }

    async fn save_recovery_answers(
        &self,
        session: &CurrentSession,
        current_password: &str,
        answers: Vec<AnswerInput>,
        remove: bool,
        client: &ClientInfo,
    ) -> Result<RecoverySettings, AppError> {
        if !self.config.recovery.enabled {
            return Err(AppError::Invalid(vec![FieldError::new(
                "current_password",
                "Recovery with security questions is turned off.",
            )]));
        }
        self.reauthenticate(session, current_password, "current_password", client)
            .await?;
        if remove {
            recovery::remove_answers(&self.db, session.user_id, None)
                .await
                .map_err(internal)?;
            tracing::info!(user = %session.username, "recovery answers removed");
        } else {
            let checked = recovery::check_answers(
                &self.db,
                &self.config,
                session.user_id,
                &session.username,
                &answers,
                true,
            )
            .await?;
            recovery::store_answers(&self.db, session.user_id, checked)
                .await
                .map_err(internal)?;
            tracing::info!(user = %session.username, "recovery answers updated");
        }
        self.recovery_settings(session).await
    }

    async fn start_recovery(
        &self,
        username: &str,
        client: &ClientInfo,
    ) -> Result<RecoveryChallenge, AppError> {
        recovery::start(&self.db, &self.config, username, &client.ip).await
    }

    async fn answer_recovery(
        &self,
        token: &str,
        answers: Vec<String>,
        client: &ClientInfo,
    ) -> Result<String, AppError> {
        recovery::answer(&self.db, &self.config, token, &answers, &client.ip).await
    }

    async fn finish_recovery(&self, token: &str, new_password: &str) -> Result<(), AppError> {
        recovery::finish(&self.db, &self.config, token, new_password).await
    }

    async fn approvals_overview(
        &self,
        session: &CurrentSession,
        status: Option<&str>,
    ) -> Result<ApprovalsOverview, AppError> {
        let roles = approvals::roles_of(&self.db, session.user_id)
            .await
            .map_err(internal)?;
        let approver = self
            .config
            .approver_roles()
            .iter()
            .any(|r| roles.contains(r));
        let tasks = approvals::tasks_for(&self.db, session.user_id, status)
            .await
            .map_err(internal)?;
        let requests = approvals::requests_of(&self.db, session.user_id)
            .await
            .map_err(internal)?;
        Ok(ApprovalsOverview {
            approver: approver || !tasks.is_empty(),
            tasks,
            requests,
        })
    }

    async fn act_on_task(
        &self,
        session: &CurrentSession,
        task_id: &str,
        action: Action,
    ) -> Result<TaskDetail, AppError> {
        let id: i64 = task_id.parse().map_err(|_| AppError::NotFound)?;
        approvals::act(&self.db, &self.config, session.user_id, id, action)
            .await
            .map_err(|e| match e {
                approvals::TransitionError::NotFound => AppError::NotFound,
                approvals::TransitionError::Refused(why)
                | approvals::TransitionError::Forbidden(why) => AppError::Refused(why),
                approvals::TransitionError::Db(e) => internal(e),
            })
    }

    async fn cancel_request(
        &self,
        session: &CurrentSession,
        request_id: &str,
    ) -> Result<(), AppError> {
        if approvals::cancel(&self.db, session.user_id, request_id)
            .await
            .map_err(internal)?
        {
            tracing::info!(user = %session.username, request = %request_id, "request cancelled");
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    async fn register(
        &self,
        username: &str,
        password: &str,
        attributes: &std::collections::BTreeMap<String, String>,
        consents: &[(u32, String)],
        client: &ClientInfo,
    ) -> Result<bool, AppError> {
        let registration = register::Registration {
            username,
            password,
            attributes,
            consents,
        };
        register::register(&self.db, &self.config, registration, &client.ip).await
    }

    fn registration_form(&self) -> RegistrationForm {
        register::form(&self.config)
    }

    async fn consents(&self, session: &CurrentSession) -> Result<Vec<ConsentEntry>, AppError> {
        Ok(consent::overview(&self.db, &self.config, session.user_id).await?)
    }

    async fn consent_detail(
        &self,
        session: &CurrentSession,
        service: &str,
    ) -> Result<ConsentDetail, AppError> {
        Ok(consent::detail(&self.db, &self.config, session.user_id, service).await?)
    }

    async fn revoke_consent(
        &self,
        session: &CurrentSession,
        receipt_id: &str,
    ) -> Result<(), AppError> {
        consent::revoke(&self.db, session.user_id, receipt_id).await?;
        Ok(())
    }

    async fn update_consent(
        &self,
        session: &CurrentSession,
        service: &str,
        selection: &[(u32, String)],
    ) -> Result<ConsentDetail, AppError> {
        Ok(consent::update(
            &self.db,
            &self.config,
            session.user_id,
            &session.username,
            service,
            selection,
        )
        .await?)
    }

    async fn set_consent_expiry(
        &self,
        session: &CurrentSession,
        service: &str,
        last_day: Option<&LastDayChoice>,
    ) -> Result<ConsentDetail, AppError> {
        let last_day = last_day
            .map(|c| consent::LastDay::parse(&c.date, c.minutes_behind_utc, crate::db::now_ms()))
            .transpose()?;
        consent::set_expiry(&self.db, session.user_id, service, last_day.as_ref()).await?;
        Ok(consent::detail(&self.db, &self.config, session.user_id, service).await?)
    }

    fn registration_enabled(&self) -> bool {
        self.config.registration.enabled
    }
}

impl ServerBackend {
    /// Re-authentication for security-sensitive changes: the current password,
    /// with failures counted like failed sign-ins.
    pub async fn reauthenticate(
        &self,
        session: &CurrentSession,
        password: &str,
        field: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let account = crate::users::credentials_by_id(&self.db, session.user_id)
            .await
            .map_err(internal)?
            .ok_or(AppError::Unauthenticated)?;
        let key = signin::account_key(&account.username.to_lowercase());
        if signin::is_locked(&self.db, &key).await.map_err(internal)? {
            return Err(AppError::Throttled);
        }
        if password::verify_password(password.to_string(), Some(account.password_hash)).await {
            return Ok(());
        }
        let outcome =
            signin::record_failure(&self.db, &self.config, &key, &format!("ip:{}", client.ip))
                .await
                .map_err(internal)?;
        Err(match outcome {
            signin::SignInError::Throttled => AppError::Throttled,
            _ => AppError::Invalid(vec![FieldError::new(
                field,
                "Your current password is incorrect.",
            )]),
        })
    }
}
