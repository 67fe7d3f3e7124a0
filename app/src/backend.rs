//! The interface through which server functions reach the server's storage.
//! `server` implements [`ssr::Backend`] and provides it in the Leptos context,
//! so this crate holds no SQL.

use crate::error::AppError;

/// What the server read for the page before rendering it (`ssr::Preloaded`),
/// an error setting the page's status; never known in the browser. A page
/// takes it with a `SharedValue` ([`known_or_read`]), so the browser
/// hydrates from the same value.
pub fn read_before_render<T: Clone + Send + Sync + 'static>() -> Option<Result<T, AppError>> {
    #[cfg(feature = "ssr")]
    {
        ssr::preloaded::<Result<T, AppError>>().map(|read| ssr::respond((*read).clone()))
    }
    #[cfg(not(feature = "ssr"))]
    None
}

/// A page's value as the server knew it before rendering (`known_by_the_server`
/// runs only there), hydrated from the same value through a `SharedValue`:
/// no resource or suspense. After a navigation in the browser the server did
/// not render the page, so `read` asks for the value; it is None until then.
#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
pub fn known_or_read<T, Read>(
    known_by_the_server: impl FnOnce() -> Option<T>,
    read: impl FnOnce() -> Read + 'static,
) -> leptos::prelude::RwSignal<Option<T>>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
    Read: std::future::Future<Output = Option<T>> + 'static,
{
    use leptos::prelude::*;
    let value = RwSignal::new(SharedValue::new(known_by_the_server).into_inner());
    #[cfg(feature = "hydrate")]
    if value.with_untracked(Option::is_none) {
        leptos::task::spawn_local(async move {
            if let Some(read) = read().await {
                let _ = value.try_set(Some(read));
            }
        });
    }
    value
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use crate::approvals::{Action, ApprovalsOverview, TaskDetail};
    use crate::consent::{ConsentDetail, ConsentEntry, LastDayChoice, RegistrationForm};
    use crate::error::AppError;
    use crate::password::{PasswordChange, PasswordFeedback};
    use crate::profile::{ProfileView, ValidProfile};
    use crate::recovery::{AnswerInput, RecoveryChallenge, RecoverySettings};
    use crate::sessions::SessionView;
    use http::{header::SET_COOKIE, HeaderValue, StatusCode};
    use leptos::prelude::*;
    use std::sync::Arc;

    /// The signed-in user of a request, put into the request by the server's
    /// session middleware.
    #[derive(Debug, Clone)]
    pub struct CurrentSession {
        pub user_id: i64,
        pub username: String,
        pub session_id: String,
        /// The account had associated accounts when the request began: the
        /// account menu reads their names only then, which spares every
        /// page of an account without any a query.
        pub has_associated_accounts: bool,
    }

    /// Where a request comes from, recorded with sessions and used for throttling.
    #[derive(Debug, Clone)]
    pub struct ClientInfo {
        pub ip: String,
        pub user_agent: String,
    }

    /// A new session's cookie, and whether Selfserve's own consent must be
    /// given again before the dashboard opens.
    #[derive(Debug, Clone)]
    pub struct SignedIn {
        pub cookie: SetCookie,
        pub consent_required: bool,
        /// The provider whose identity, waiting for this browser, was
        /// linked at this sign-in; and the cookie that forgets it.
        pub linked: Option<(String, SetCookie)>,
        /// The application's authorization request to go back to.
        pub return_to: Option<String>,
        /// The cookie that forgets the second-factor challenge (it was met).
        pub forget_challenge: Option<SetCookie>,
        /// The recovery codes of an authenticator app set up at this sign-in
        /// (the operator requires a second factor), shown once.
        pub recovery_codes: Option<Vec<String>>,
    }

    /// Where a sign-in's first step leads.
    #[derive(Debug, Clone)]
    pub enum SignInStep {
        SignedIn(SignedIn),
        /// The account asks for a second factor: the cookie names the
        /// sign-in waiting for it.
        SecondFactor(SetCookie),
    }

    /// A `Set-Cookie` header value the server function must send.
    #[derive(Debug, Clone)]
    pub struct SetCookie(pub String);

    #[async_trait::async_trait]
    pub trait Backend: SocialBackend + MfaBackend + Send + Sync + 'static {
        /// `pending_identity`: the cookie naming an identity that came back
        /// from a provider linked to no account; it is linked to this one.
        /// `return_to`: the application's request to go back to.
        async fn sign_in(
            &self,
            username: &str,
            password: &str,
            client: &ClientInfo,
            pending_identity: Option<&str>,
            return_to: Option<&str>,
        ) -> Result<SignInStep, AppError>;
        async fn sign_out(&self, session: &CurrentSession) -> Result<SetCookie, AppError>;
        /// What the home page's cards say about the account.
        async fn account_overview(
            &self,
            session: &CurrentSession,
        ) -> Result<crate::home::AccountOverview, AppError>;
        async fn profile(&self, session: &CurrentSession) -> Result<ProfileView, AppError>;
        async fn update_profile(
            &self,
            session: &CurrentSession,
            profile: ValidProfile,
            expected_version: i64,
        ) -> Result<ProfileView, AppError>;
        /// Deletes the user's own account; the cookie that ends this
        /// browser's session.
        async fn delete_account(
            &self,
            session: &CurrentSession,
            password: &str,
            client: &ClientInfo,
        ) -> Result<SetCookie, AppError>;
        async fn password_feedback(
            &self,
            session: &CurrentSession,
            candidate: &str,
        ) -> Result<PasswordFeedback, AppError>;
        async fn change_password(
            &self,
            session: &CurrentSession,
            change: PasswordChange,
            client: &ClientInfo,
        ) -> Result<SetCookie, AppError>;
        async fn list_sessions(
            &self,
            session: &CurrentSession,
        ) -> Result<Vec<SessionView>, AppError>;
        /// NotFound when the user has no such session, whoever's it is.
        async fn terminate_session(
            &self,
            session: &CurrentSession,
            id: &str,
        ) -> Result<(), AppError>;
        async fn terminate_other_sessions(&self, session: &CurrentSession)
            -> Result<u64, AppError>;
        async fn recovery_settings(
            &self,
            session: &CurrentSession,
        ) -> Result<RecoverySettings, AppError>;
        /// Needs the current password; `remove` removes every answer instead.
        async fn save_recovery_answers(
            &self,
            session: &CurrentSession,
            current_password: &str,
            answers: Vec<AnswerInput>,
            remove: bool,
            client: &ClientInfo,
        ) -> Result<RecoverySettings, AppError>;
        async fn start_recovery(
            &self,
            username: &str,
            client: &ClientInfo,
        ) -> Result<RecoveryChallenge, AppError>;
        async fn answer_recovery(
            &self,
            token: &str,
            answers: Vec<String>,
            client: &ClientInfo,
        ) -> Result<String, AppError>;
        async fn finish_recovery(&self, token: &str, new_password: &str) -> Result<(), AppError>;
        /// "Forgot password?" with a recovery code; the token for the new password.
        async fn redeem_recovery_code(
            &self,
            username: &str,
            code: &str,
            client: &ClientInfo,
        ) -> Result<String, AppError>;
        /// Whether "Forgot password?" offers security questions.
        fn questions_offered(&self) -> bool;
        async fn approvals_overview(
            &self,
            session: &CurrentSession,
            status: Option<crate::approvals::TaskStatus>,
        ) -> Result<ApprovalsOverview, AppError>;
        async fn act_on_task(
            &self,
            session: &CurrentSession,
            task_id: &str,
            action: Action,
        ) -> Result<TaskDetail, AppError>;
        async fn cancel_request(
            &self,
            session: &CurrentSession,
            request_id: &str,
        ) -> Result<(), AppError>;
        /// Creates the account with its system consent; true when it awaits
        /// approval. With `identity` (the pending identity's cookie) the
        /// account has no password and signs in with that identity.
        async fn register(
            &self,
            username: &str,
            password: &str,
            attributes: &std::collections::BTreeMap<String, String>,
            consents: &[(u32, String)],
            identity: Option<&str>,
            client: &ClientInfo,
        ) -> Result<bool, AppError>;
        /// What "Create an account" asks for.
        fn registration_form(&self) -> RegistrationForm;
        /// System consent first, then each application's.
        async fn consents(&self, session: &CurrentSession) -> Result<Vec<ConsentEntry>, AppError>;
        /// NotFound for an application the user gave no consent to.
        async fn consent_detail(
            &self,
            session: &CurrentSession,
            service: &str,
        ) -> Result<ConsentDetail, AppError>;
        async fn revoke_consent(
            &self,
            session: &CurrentSession,
            receipt_id: &str,
        ) -> Result<(), AppError>;
        /// Replaces the service's consent by one covering `selection`.
        async fn update_consent(
            &self,
            session: &CurrentSession,
            service: &str,
            selection: &[(u32, String)],
        ) -> Result<ConsentDetail, AppError>;
        /// Sets the last day of the consent, or clears it.
        async fn set_consent_expiry(
            &self,
            session: &CurrentSession,
            service: &str,
            last_day: Option<&LastDayChoice>,
        ) -> Result<ConsentDetail, AppError>;
        /// Whether "Create an account" is offered.
        fn registration_enabled(&self) -> bool;
        /// Whether users may delete their own account.
        fn account_deletion_offered(&self) -> bool;
        /// The consent prompt for an application's authorization request.
        async fn consent_prompt(
            &self,
            session: &CurrentSession,
            query: &str,
        ) -> Result<crate::authorize::ConsentPrompt, AppError>;
        /// Records Allow (with the optional claims selected) or Deny; the
        /// address to send the browser back to the application.
        async fn answer_consent(
            &self,
            session: &CurrentSession,
            query: &str,
            allow: bool,
            selection: &[(u32, String)],
        ) -> Result<String, AppError>;
        /// The application an RP-initiated logout request names, if any.
        async fn logout_prompt(&self, query: &str) -> Result<Option<String>, AppError>;
        /// Ends the session as the logout request asked; the cookie to clear
        /// it and where the browser goes next.
        async fn confirm_logout(
            &self,
            session: &CurrentSession,
            query: &str,
        ) -> Result<(SetCookie, String), AppError>;
        /// Selfserve's own purposes, as the prompt at sign-in asks for them.
        fn system_consent_prompt(&self) -> crate::authorize::ConsentPrompt;
        /// Records the renewed consent to Selfserve's own purposes.
        async fn renew_system_consent(
            &self,
            session: &CurrentSession,
            selection: &[(u32, String)],
        ) -> Result<(), AppError>;
        /// The name of the application an authorization request (the sign-in
        /// page's return address) comes from.
        async fn signing_in_to(&self, return_to: &str) -> Option<String>;
        /// The applications the user can open whose names contain `search`
        /// (all when blank), used last first.
        async fn applications(
            &self,
            session: &CurrentSession,
            search: &str,
        ) -> Result<Vec<crate::applications::ApplicationView>, AppError>;
        /// The applications that hold a live grant for the user, last used first.
        async fn authorized_apps(
            &self,
            session: &CurrentSession,
        ) -> Result<Vec<crate::apps::AuthorizedAppView>, AppError>;
        /// Ends the application's access and revokes its consent; its name.
        /// NotFound when the user has no such authorized application.
        async fn remove_authorized_app(
            &self,
            session: &CurrentSession,
            id: &str,
        ) -> Result<String, AppError>;
        /// The cookie that remembers the colour theme.
        fn theme_cookie(&self, theme: crate::theme::Theme) -> SetCookie;
        /// The user's associated local accounts, newest association first.
        async fn associated_accounts(
            &self,
            session: &CurrentSession,
        ) -> Result<Vec<crate::associations::AssociatedAccount>, AppError>;
        /// Their usernames only, for the account menu.
        async fn associated_usernames(
            &self,
            session: &CurrentSession,
        ) -> Result<Vec<String>, AppError>;
        /// Associates the account whose password is given; its username.
        async fn associate_account(
            &self,
            session: &CurrentSession,
            username: &str,
            password: &str,
            client: &ClientInfo,
        ) -> Result<String, AppError>;
        /// NotFound when the user has no association with that account.
        async fn remove_association(
            &self,
            session: &CurrentSession,
            username: &str,
        ) -> Result<(), AppError>;
        /// A new session as the associated account; the current one ends.
        /// With the page to load next: My Account, or the second step when
        /// the account asks for its second factor.
        async fn switch_account(
            &self,
            session: &CurrentSession,
            username: &str,
            client: &ClientInfo,
        ) -> Result<(SetCookie, &'static str), AppError>;
    }

    /// The social identities half of Associated Accounts.
    #[async_trait::async_trait]
    pub trait SocialBackend: Send + Sync + 'static {
        /// The configured identity providers, for the sign-in page.
        fn identity_providers(&self) -> Vec<crate::associations::ProviderChoice>;
        async fn social_identities(
            &self,
            session: &CurrentSession,
        ) -> Result<crate::associations::SocialIdentities, AppError>;
        /// Unlinks one; the provider's name. NotFound when the user has no
        /// such identity; refused when it is the last way in.
        async fn remove_social_identity(
            &self,
            session: &CurrentSession,
            id: &str,
        ) -> Result<String, AppError>;
        /// The identity waiting for this browser (named by its cookie).
        async fn pending_identity(
            &self,
            token: &str,
        ) -> Result<Option<crate::associations::PendingIdentity>, AppError>;
        /// The cookie that forgets the pending identity (it was used).
        fn forget_pending_identity(&self) -> SetCookie;
        /// Whether the account has a password, and for one that has none,
        /// the providers that may confirm it is the user before it sets one.
        async fn password_status(
            &self,
            session: &CurrentSession,
        ) -> Result<crate::password::PasswordStatus, AppError>;
    }

    /// Multi-factor authentication: the factors, and sign-in's second step.
    #[async_trait::async_trait]
    pub trait MfaBackend: Send + Sync + 'static {
        async fn mfa_overview(
            &self,
            session: &CurrentSession,
        ) -> Result<crate::mfa::MfaOverview, AppError>;
        async fn begin_totp_setup(
            &self,
            session: &CurrentSession,
        ) -> Result<crate::mfa::TotpSetup, AppError>;
        /// The new recovery codes when this is the account's first factor.
        async fn finish_totp_setup(
            &self,
            session: &CurrentSession,
            code: &str,
            client: &ClientInfo,
        ) -> Result<Option<Vec<String>>, AppError>;
        /// Needs a second factor given in the last 10 minutes.
        async fn remove_totp(&self, session: &CurrentSession) -> Result<(), AppError>;
        /// Needs a second factor given in the last 10 minutes.
        async fn regenerate_recovery_codes(
            &self,
            session: &CurrentSession,
        ) -> Result<Vec<String>, AppError>;
        /// Records the second factor given again in this session.
        async fn step_up(
            &self,
            session: &CurrentSession,
            method: crate::mfa::Method,
            code: &str,
            client: &ClientInfo,
        ) -> Result<(), AppError>;
        /// The sign-in waiting for its second factor (named by its cookie).
        async fn second_factor_prompt(
            &self,
            challenge: &str,
        ) -> Result<Option<crate::mfa::SecondFactorPrompt>, AppError>;
        /// The user's passkeys; None when passkeys are not offered.
        async fn passkeys(
            &self,
            session: &CurrentSession,
        ) -> Result<Option<crate::mfa::passkeys::Passkeys>, AppError>;
        /// Needs a second factor given in the last 10 minutes.
        async fn begin_passkey_registration(
            &self,
            session: &CurrentSession,
        ) -> Result<crate::mfa::passkeys::PasskeyCeremony, AppError>;
        async fn finish_passkey_registration(
            &self,
            session: &CurrentSession,
            ceremony: &str,
            name: crate::mfa::passkeys::PasskeyName,
            credential: &str,
        ) -> Result<(), AppError>;
        async fn rename_passkey(
            &self,
            session: &CurrentSession,
            id: &str,
            name: crate::mfa::passkeys::PasskeyName,
        ) -> Result<(), AppError>;
        /// Needs a second factor given in the last 10 minutes; refused for
        /// the account's last way in.
        async fn remove_passkey(&self, session: &CurrentSession, id: &str) -> Result<(), AppError>;
        fn passkeys_offered(&self) -> bool;
        async fn begin_passkey_sign_in(
            &self,
        ) -> Result<crate::mfa::passkeys::PasskeyCeremony, AppError>;
        /// Signs in with a passkey alone (it verified its user).
        async fn finish_passkey_sign_in(
            &self,
            ceremony: &str,
            credential: &str,
            client: &ClientInfo,
            pending_identity: Option<&str>,
            return_to: Option<&str>,
        ) -> Result<SignedIn, AppError>;
        /// Starts giving one of the user's passkeys again (step-up).
        async fn begin_passkey_step_up(
            &self,
            session: &CurrentSession,
        ) -> Result<crate::mfa::passkeys::PasskeyCeremony, AppError>;
        /// Records the passkey given again in this session.
        async fn finish_passkey_step_up(
            &self,
            session: &CurrentSession,
            ceremony: &str,
            credential: &str,
        ) -> Result<(), AppError>;
        /// Starts giving a passkey at the sign-in's second step.
        async fn begin_passkey_second_step(
            &self,
            challenge: &str,
        ) -> Result<crate::mfa::passkeys::PasskeyCeremony, AppError>;
        /// Completes the sign-in with one of its account's passkeys.
        async fn answer_with_passkey(
            &self,
            challenge: &str,
            ceremony: &str,
            credential: &str,
            client: &ClientInfo,
            pending_identity: Option<&str>,
        ) -> Result<SignedIn, AppError>;
        /// Completes the sign-in with its second factor.
        async fn answer_second_factor(
            &self,
            challenge: &str,
            method: crate::mfa::Method,
            code: &str,
            client: &ClientInfo,
            pending_identity: Option<&str>,
        ) -> Result<SignedIn, AppError>;
    }

    pub type SharedBackend = Arc<dyn Backend>;

    pub fn backend() -> Result<SharedBackend, AppError> {
        use_context::<SharedBackend>().ok_or(AppError::Internal)
    }

    /// A cookie of the request, by name.
    pub fn request_cookie(name: &str) -> Option<String> {
        with_request(|parts| cookie(&parts.headers, name).map(String::from)).flatten()
    }

    /// A cookie's value in a request's `Cookie` headers.
    pub fn cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
        headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }

    /// Reads the request in place: a page asks it several times, and
    /// `use_context` would copy its headers and extensions each time.
    pub fn with_request<R>(read: impl FnOnce(&http::request::Parts) -> R) -> Option<R> {
        with_context::<http::request::Parts, _>(read)
    }

    fn from_request<T: Clone + Send + Sync + 'static>() -> Option<T> {
        with_request(|parts| parts.extensions.get::<T>().cloned()).flatten()
    }

    pub fn current_session() -> Result<CurrentSession, AppError> {
        from_request::<CurrentSession>().ok_or_else(|| fail(AppError::Unauthenticated))
    }

    /// The signed-in user, if any, for pages that render either way.
    pub fn maybe_session() -> Option<CurrentSession> {
        from_request()
    }

    pub fn client_info() -> Result<ClientInfo, AppError> {
        from_request().ok_or(AppError::Internal)
    }

    /// What the server read for the page before rendering it (`Preloaded`).
    pub fn preloaded<T: Send + Sync + 'static>() -> Option<Arc<T>> {
        from_request::<Preloaded<T>>().map(|preloaded| preloaded.0)
    }

    /// A page's data, read by the server before the page renders and handed
    /// to it in the request: the page then renders at once, without a
    /// resource and suspense, and gives the browser the same value to
    /// hydrate from (README, "Measured").
    pub struct Preloaded<T>(pub Arc<T>);

    impl<T> Clone for Preloaded<T> {
        fn clone(&self) -> Self {
            Self(self.0.clone())
        }
    }

    pub fn set_cookie(cookie: SetCookie) {
        if let (Some(response), Ok(value)) = (
            use_context::<leptos_axum::ResponseOptions>(),
            HeaderValue::from_str(&cookie.0),
        ) {
            response.append_header(SET_COOKIE, value);
        }
    }

    /// Sets the HTTP status that matches an error, so API clients see a 4xx/5xx.
    pub fn fail(error: AppError) -> AppError {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = StatusCode::from_u16(error.status_code()) {
                response.set_status(status);
            }
            if error == AppError::Busy {
                response.insert_header(http::header::RETRY_AFTER, HeaderValue::from_static("2"));
            }
        }
        error
    }

    pub fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
        result.map_err(fail)
    }
}
