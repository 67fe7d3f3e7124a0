//! The server's implementation of the interface the UI's server functions
//! call: one line per method into the section that owns the operation, the
//! same operation the REST API calls.

use crate::config::Config;
use crate::db::Db;
use crate::{
    applications, approvals, apps, associations, consent, federation, home, mfa, oidc, password,
    profile, recovery, register, sessions, signin,
};
use app::applications::ApplicationView;
use app::approvals::{Action, ApprovalsOverview, TaskDetail, TaskStatus};
use app::apps::AuthorizedAppView;
use app::associations::{AssociatedAccount, PendingIdentity, ProviderChoice, SocialIdentities};
use app::backend::ssr::{
    Backend, ClientInfo, CurrentSession, MfaBackend, SetCookie, SignInStep, SignedIn, SocialBackend,
};
use app::consent::{ConsentDetail, ConsentEntry, LastDayChoice, RegistrationForm};
use app::error::AppError;
use app::home::AccountOverview;
use app::mfa::passkeys::{PasskeyCeremony, PasskeyName, Passkeys};
use app::mfa::{Method, MfaOverview, SecondFactorPrompt, TotpSetup};
use app::password::{PasswordChange, PasswordFeedback};
use app::profile::{ProfileView, ValidProfile};
use app::recovery::{AnswerInput, RecoveryChallenge, RecoverySettings};
use app::sessions::SessionView;
use app::theme::{Theme, THEME_COOKIE};
use recovery::{AnswersChange, Proof};
use std::sync::Arc;

pub struct ServerBackend {
    pub db: Db,
    pub config: Arc<Config>,
}

impl ServerBackend {
    fn cookie(&self, token: &sessions::SessionToken) -> SetCookie {
        SetCookie(sessions::session_cookie(&self.config, token))
    }

    /// What follows a new session: an identity waiting in this browser is
    /// linked (after a password), and Selfserve's consent may be due.
    async fn signed_in(
        &self,
        user_id: i64,
        token: &sessions::SessionToken,
        pending_identity: Option<&str>,
        return_to: Option<&str>,
        after_challenge: bool,
    ) -> Result<SignedIn, AppError> {
        let linked = match pending_identity {
            Some(pending) => associations::social::link_pending(&self.db, user_id, pending).await?,
            None => None,
        };
        Ok(SignedIn {
            cookie: self.cookie(token),
            consent_required: consent::system_consent_needed(&self.db, &self.config, user_id)
                .await?,
            linked: linked.map(|provider| {
                (
                    provider,
                    SetCookie(federation::rest::forget_pending_cookie(&self.config)),
                )
            }),
            return_to: return_to.map(String::from),
            forget_challenge: after_challenge
                .then(|| SetCookie(mfa::forget_challenge_cookie(&self.config))),
            recovery_codes: None,
        })
    }
}

impl ServerBackend {
    /// What follows a sign-in completed at its second step (with a code or
    /// a passkey).
    async fn second_step_done(
        &self,
        done: mfa::Completed,
        pending_identity: Option<&str>,
    ) -> Result<SignedIn, AppError> {
        // Only a password sign-in links the identity waiting in the browser.
        let pending_identity = pending_identity.filter(|_| done.first_step == "password");
        let mut signed_in = self
            .signed_in(
                done.user_id,
                &done.token,
                pending_identity,
                done.return_to.as_deref(),
                true,
            )
            .await?;
        signed_in.recovery_codes = done.recovery_codes;
        Ok(signed_in)
    }
}

#[async_trait::async_trait]
impl MfaBackend for ServerBackend {
    async fn mfa_overview(&self, session: &CurrentSession) -> Result<MfaOverview, AppError> {
        Ok(mfa::overview(&self.db, &self.config, session).await?)
    }

    async fn begin_totp_setup(&self, session: &CurrentSession) -> Result<TotpSetup, AppError> {
        Ok(mfa::begin_setup(&self.db, &self.config, session).await?)
    }

    async fn finish_totp_setup(
        &self,
        session: &CurrentSession,
        code: &str,
        client: &ClientInfo,
    ) -> Result<Option<Vec<String>>, AppError> {
        Ok(mfa::finish_setup(&self.db, &self.config, session, code, client, true).await?)
    }

    async fn remove_totp(&self, session: &CurrentSession) -> Result<(), AppError> {
        Ok(mfa::remove(&self.db, session).await?)
    }

    async fn regenerate_recovery_codes(
        &self,
        session: &CurrentSession,
    ) -> Result<Vec<String>, AppError> {
        Ok(mfa::regenerate_codes(&self.db, &self.config, session).await?)
    }

    async fn step_up(
        &self,
        session: &CurrentSession,
        method: Method,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        Ok(mfa::step_up(&self.db, &self.config, session, method, code, client).await?)
    }

    async fn second_factor_prompt(
        &self,
        challenge: &str,
    ) -> Result<Option<SecondFactorPrompt>, AppError> {
        Ok(mfa::prompt(&self.db, &self.config, challenge).await?)
    }

    async fn answer_second_factor(
        &self,
        challenge: &str,
        method: Method,
        code: &str,
        client: &ClientInfo,
        pending_identity: Option<&str>,
    ) -> Result<SignedIn, AppError> {
        let done = mfa::answer(&self.db, &self.config, challenge, method, code, client).await?;
        self.second_step_done(done, pending_identity).await
    }

    async fn begin_passkey_step_up(
        &self,
        session: &CurrentSession,
    ) -> Result<PasskeyCeremony, AppError> {
        Ok(mfa::passkeys::begin_step_up(&self.db, &self.config, session).await?)
    }

    async fn finish_passkey_step_up(
        &self,
        session: &CurrentSession,
        ceremony: &str,
        credential: &str,
    ) -> Result<(), AppError> {
        Ok(
            mfa::passkeys::finish_step_up(&self.db, &self.config, session, ceremony, credential)
                .await?,
        )
    }

    async fn begin_passkey_second_step(
        &self,
        challenge: &str,
    ) -> Result<PasskeyCeremony, AppError> {
        Ok(mfa::passkeys::begin_second_step(&self.db, &self.config, challenge).await?)
    }

    async fn answer_with_passkey(
        &self,
        challenge: &str,
        ceremony: &str,
        credential: &str,
        client: &ClientInfo,
        pending_identity: Option<&str>,
    ) -> Result<SignedIn, AppError> {
        let done = mfa::answer_with_passkey(
            &self.db,
            &self.config,
            challenge,
            ceremony,
            credential,
            client,
        )
        .await?;
        self.second_step_done(done, pending_identity).await
    }

    async fn passkeys(&self, session: &CurrentSession) -> Result<Option<Passkeys>, AppError> {
        Ok(mfa::passkeys::list(&self.db, &self.config, session).await?)
    }

    async fn begin_passkey_registration(
        &self,
        session: &CurrentSession,
    ) -> Result<PasskeyCeremony, AppError> {
        Ok(mfa::passkeys::begin_registration(&self.db, &self.config, session).await?)
    }

    async fn finish_passkey_registration(
        &self,
        session: &CurrentSession,
        ceremony: &str,
        name: PasskeyName,
        credential: &str,
    ) -> Result<(), AppError> {
        mfa::passkeys::finish_registration(
            &self.db,
            &self.config,
            session,
            ceremony,
            name,
            credential,
        )
        .await?;
        Ok(())
    }

    async fn rename_passkey(
        &self,
        session: &CurrentSession,
        id: &str,
        name: PasskeyName,
    ) -> Result<(), AppError> {
        Ok(mfa::passkeys::rename(&self.db, session, id, name).await?)
    }

    async fn remove_passkey(&self, session: &CurrentSession, id: &str) -> Result<(), AppError> {
        Ok(mfa::passkeys::remove(&self.db, session, id).await?)
    }

    fn passkeys_offered(&self) -> bool {
        mfa::passkeys::offered(&self.config)
    }

    async fn begin_passkey_sign_in(&self) -> Result<PasskeyCeremony, AppError> {
        Ok(mfa::passkeys::begin_sign_in(&self.db, &self.config).await?)
    }

    async fn finish_passkey_sign_in(
        &self,
        ceremony: &str,
        credential: &str,
        client: &ClientInfo,
        pending_identity: Option<&str>,
        return_to: Option<&str>,
    ) -> Result<SignedIn, AppError> {
        let token =
            signin::sign_in_with_passkey(&self.db, &self.config, ceremony, credential, client)
                .await?;
        self.signed_in(token.0, &token.1, pending_identity, return_to, false)
            .await
    }
}

#[async_trait::async_trait]
impl SocialBackend for ServerBackend {
    fn identity_providers(&self) -> Vec<ProviderChoice> {
        associations::social::providers(&self.config)
    }

    async fn social_identities(
        &self,
        session: &CurrentSession,
    ) -> Result<SocialIdentities, AppError> {
        Ok(associations::social::views(&self.db, &self.config, session).await?)
    }

    async fn remove_social_identity(
        &self,
        session: &CurrentSession,
        id: &str,
    ) -> Result<String, AppError> {
        Ok(associations::social::remove(&self.db, &self.config, session, id).await?)
    }

    async fn pending_identity(&self, token: &str) -> Result<Option<PendingIdentity>, AppError> {
        Ok(associations::social::pending(&self.db, &self.config, token).await?)
    }

    async fn password_status(
        &self,
        session: &CurrentSession,
    ) -> Result<app::password::PasswordStatus, AppError> {
        Ok(associations::social::password_status(&self.db, &self.config, session).await?)
    }

    fn forget_pending_identity(&self) -> SetCookie {
        SetCookie(federation::rest::forget_pending_cookie(&self.config))
    }
}

#[async_trait::async_trait]
impl Backend for ServerBackend {
    async fn sign_in(
        &self,
        username: &str,
        password: &str,
        client: &ClientInfo,
        pending_identity: Option<&str>,
        return_to: Option<&str>,
    ) -> Result<SignInStep, AppError> {
        match signin::sign_in(
            &self.db,
            &self.config,
            username,
            password,
            client,
            return_to,
        )
        .await?
        {
            signin::FirstStepDone::SignedIn { user_id, token } => Ok(SignInStep::SignedIn(
                self.signed_in(user_id, &token, pending_identity, return_to, false)
                    .await?,
            )),
            signin::FirstStepDone::SecondFactor(cookie) => {
                Ok(SignInStep::SecondFactor(SetCookie(cookie)))
            }
        }
    }

    async fn account_overview(
        &self,
        session: &CurrentSession,
    ) -> Result<AccountOverview, AppError> {
        home::overview(&self.db, &self.config, session).await
    }

    async fn sign_out(&self, session: &CurrentSession) -> Result<SetCookie, AppError> {
        signin::sign_out(&self.db, session).await?;
        Ok(SetCookie(sessions::clear_cookie(&self.config)))
    }

    async fn delete_account(
        &self,
        session: &CurrentSession,
        password: &str,
        client: &ClientInfo,
    ) -> Result<SetCookie, AppError> {
        profile::delete_account(&self.db, &self.config, session, password, client).await?;
        Ok(SetCookie(sessions::clear_cookie(&self.config)))
    }

    async fn profile(&self, session: &CurrentSession) -> Result<ProfileView, AppError> {
        profile::of(&self.db, session).await
    }

    async fn update_profile(
        &self,
        session: &CurrentSession,
        valid: ValidProfile,
        expected_version: i64,
    ) -> Result<ProfileView, AppError> {
        profile::save(&self.db, &self.config, session, valid, expected_version).await
    }

    async fn password_feedback(
        &self,
        session: &CurrentSession,
        candidate: &str,
    ) -> Result<PasswordFeedback, AppError> {
        Ok(password::feedback(&self.config, session, candidate))
    }

    async fn change_password(
        &self,
        session: &CurrentSession,
        change: PasswordChange,
        client: &ClientInfo,
    ) -> Result<SetCookie, AppError> {
        let token = password::change(&self.db, &self.config, session, change, client).await?;
        Ok(self.cookie(&token))
    }

    async fn list_sessions(&self, session: &CurrentSession) -> Result<Vec<SessionView>, AppError> {
        let apps = apps::list(&self.db, &self.config, session.user_id).await?;
        Ok(sessions::views(&self.db, &self.config, session, &apps).await?)
    }

    async fn terminate_session(&self, session: &CurrentSession, id: &str) -> Result<(), AppError> {
        sessions::terminate(&self.db, session, id).await
    }

    async fn terminate_other_sessions(&self, session: &CurrentSession) -> Result<u64, AppError> {
        Ok(sessions::terminate_others(&self.db, session).await?)
    }

    async fn recovery_settings(
        &self,
        session: &CurrentSession,
    ) -> Result<RecoverySettings, AppError> {
        Ok(recovery::settings(&self.db, &self.config, session.user_id).await?)
    }

    async fn save_recovery_answers(
        &self,
        session: &CurrentSession,
        current_password: &str,
        answers: Vec<AnswerInput>,
        remove: bool,
        client: &ClientInfo,
    ) -> Result<RecoverySettings, AppError> {
        let proof = Proof::CurrentPassword {
            password: current_password,
            client,
        };
        let change = if remove {
            AnswersChange::Remove(None)
        } else {
            AnswersChange::Set {
                inputs: answers,
                require_all: true,
            }
        };
        Ok(recovery::change_answers(&self.db, &self.config, session, proof, change).await?)
    }

    async fn start_recovery(
        &self,
        username: &str,
        client: &ClientInfo,
    ) -> Result<RecoveryChallenge, AppError> {
        Ok(recovery::start(&self.db, &self.config, username, &client.ip).await?)
    }

    async fn answer_recovery(
        &self,
        token: &str,
        answers: Vec<String>,
        client: &ClientInfo,
    ) -> Result<String, AppError> {
        Ok(recovery::answer(&self.db, &self.config, token, &answers, &client.ip).await?)
    }

    async fn finish_recovery(&self, token: &str, new_password: &str) -> Result<(), AppError> {
        Ok(recovery::finish(&self.db, &self.config, token, new_password).await?)
    }

    async fn redeem_recovery_code(
        &self,
        username: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<String, AppError> {
        Ok(recovery::redeem_code(&self.db, &self.config, username, code, &client.ip).await?)
    }

    fn questions_offered(&self) -> bool {
        self.config.recovery.enabled
    }

    async fn approvals_overview(
        &self,
        session: &CurrentSession,
        status: Option<TaskStatus>,
    ) -> Result<ApprovalsOverview, AppError> {
        Ok(approvals::overview(&self.db, &self.config, session, status).await?)
    }

    async fn act_on_task(
        &self,
        session: &CurrentSession,
        task_id: &str,
        action: Action,
    ) -> Result<TaskDetail, AppError> {
        Ok(approvals::act(&self.db, &self.config, session, task_id, action).await?)
    }

    async fn cancel_request(
        &self,
        session: &CurrentSession,
        request_id: &str,
    ) -> Result<(), AppError> {
        Ok(approvals::cancel(&self.db, session, request_id).await?)
    }

    async fn register(
        &self,
        username: &str,
        password: &str,
        attributes: &std::collections::BTreeMap<String, String>,
        consents: &[(u32, String)],
        identity: Option<&str>,
        client: &ClientInfo,
    ) -> Result<bool, AppError> {
        let registration = register::Registration {
            username,
            password,
            attributes,
            consents,
            identity,
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
        Ok(consent::update(&self.db, &self.config, session, service, selection).await?)
    }

    async fn set_consent_expiry(
        &self,
        session: &CurrentSession,
        service: &str,
        last_day: Option<&LastDayChoice>,
    ) -> Result<ConsentDetail, AppError> {
        Ok(
            consent::set_last_day(&self.db, &self.config, session.user_id, service, last_day)
                .await?,
        )
    }

    fn registration_enabled(&self) -> bool {
        self.config.registration.enabled
    }

    fn account_deletion_offered(&self) -> bool {
        self.config.accounts.self_deletion
    }

    async fn consent_prompt(
        &self,
        _session: &CurrentSession,
        query: &str,
    ) -> Result<app::authorize::ConsentPrompt, AppError> {
        oidc::authorize::prompt(&self.db, &self.config, query).await
    }

    async fn answer_consent(
        &self,
        session: &CurrentSession,
        query: &str,
        allow: bool,
        selection: &[(u32, String)],
    ) -> Result<String, AppError> {
        oidc::authorize::answer(&self.db, &self.config, session, query, allow, selection).await
    }

    async fn logout_prompt(&self, query: &str) -> Result<Option<String>, AppError> {
        let pairs = oidc::parameters(query);
        let request = oidc::logout::check(&self.db, &self.config, &pairs)
            .await
            .map_err(AppError::Refused)?;
        Ok(request.client.map(|client| client.name))
    }

    async fn confirm_logout(
        &self,
        session: &CurrentSession,
        query: &str,
    ) -> Result<(SetCookie, String), AppError> {
        let pairs = oidc::parameters(query);
        let request = oidc::logout::check(&self.db, &self.config, &pairs)
            .await
            .map_err(AppError::Refused)?;
        let cookie = self.sign_out(session).await?;
        Ok((cookie, request.back.unwrap_or_else(|| "/signin".into())))
    }

    fn system_consent_prompt(&self) -> app::authorize::ConsentPrompt {
        app::authorize::ConsentPrompt {
            client_name: "Selfserve".into(),
            client_description: format!(
                "To run your account, {} needs your consent to use the details below. \
                 Your earlier consent was withdrawn or has ended.",
                self.config.consent.controller.name
            ),
            purposes: consent::prompt_purposes(&self.config, crate::config::SYSTEM_SERVICE),
            policy_url: self.config.policy_url(),
        }
    }

    async fn renew_system_consent(
        &self,
        session: &CurrentSession,
        selection: &[(u32, String)],
    ) -> Result<(), AppError> {
        consent::renew_system_consent(&self.db, &self.config, session, selection).await?;
        Ok(())
    }

    async fn signing_in_to(&self, return_to: &str) -> Option<String> {
        oidc::authorize::application_of(&self.db, &self.config, return_to).await
    }

    async fn applications(
        &self,
        session: &CurrentSession,
        search: &str,
    ) -> Result<Vec<ApplicationView>, AppError> {
        let filter = applications::NameFilter::search(search)?;
        let listed =
            applications::list(&self.db, &self.config, session.user_id, filter.as_ref()).await?;
        Ok(listed.into_iter().map(Into::into).collect())
    }

    async fn authorized_apps(
        &self,
        session: &CurrentSession,
    ) -> Result<Vec<AuthorizedAppView>, AppError> {
        Ok(apps::views(&self.db, &self.config, session).await?)
    }

    async fn remove_authorized_app(
        &self,
        session: &CurrentSession,
        id: &str,
    ) -> Result<String, AppError> {
        Ok(apps::remove(&self.db, &self.config, session, id).await?)
    }

    fn theme_cookie(&self, theme: Theme) -> SetCookie {
        // Not a secret: HttpOnly only keeps scripts from reading it.
        let secure = self.config.secure_attribute();
        SetCookie(format!(
            "{THEME_COOKIE}={}; HttpOnly; SameSite=Lax; Path=/; Max-Age=31536000{secure}",
            theme.as_str()
        ))
    }

    async fn associated_accounts(
        &self,
        session: &CurrentSession,
    ) -> Result<Vec<AssociatedAccount>, AppError> {
        Ok(associations::views(&self.db, session).await?)
    }

    async fn associated_usernames(
        &self,
        session: &CurrentSession,
    ) -> Result<Vec<String>, AppError> {
        if !session.has_associated_accounts {
            return Ok(Vec::new());
        }
        Ok(associations::list(&self.db, session.user_id)
            .await?
            .into_iter()
            .map(|row| row.username)
            .collect())
    }

    async fn associate_account(
        &self,
        session: &CurrentSession,
        username: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<String, AppError> {
        Ok(
            associations::associate(&self.db, &self.config, session, username, password, client)
                .await?,
        )
    }

    async fn remove_association(
        &self,
        session: &CurrentSession,
        username: &str,
    ) -> Result<(), AppError> {
        Ok(associations::remove(&self.db, session, username).await?)
    }

    async fn switch_account(
        &self,
        session: &CurrentSession,
        username: &str,
        client: &ClientInfo,
    ) -> Result<(SetCookie, &'static str), AppError> {
        Ok(
            match associations::switch(&self.db, &self.config, session, username, client).await? {
                associations::Switched::Session(token) => (self.cookie(&token), "/"),
                associations::Switched::SecondFactor(cookie) => {
                    (SetCookie(cookie), "/signin/verify")
                }
            },
        )
    }
}
