//! The browser's round trip to a provider: `POST /federation/{provider}/
//! {signin,link,confirm}` (the buttons) and `GET /federation/{provider}/
//! callback`. Every ending sends the browser to
//! a page that says what happened (`?federation=<outcome>&provider=<id>`).

use super::{Callback, FederationError, Intent, VerifiedIdentity};
use crate::associations::social::{self, SocialError};
use crate::users::{self, Username};
use crate::{consent, sessions, signin, AppState};
use app::associations::FederationOutcome;
use app::backend::ssr::{ClientInfo, CurrentSession};
use app::states::AccountStatus;
use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Extension, Form,
};

/// Binds a flow to the browser that started it.
const BINDING_COOKIE: &str = "selfserve_federation";
/// Names the identity waiting for this browser to sign in and link it.
pub use app::associations::PENDING_IDENTITY_COOKIE as PENDING_COOKIE;

/// Forgets the identity that was waiting (it was linked).
pub fn forget_pending_cookie(config: &crate::config::Config) -> String {
    sessions::lax_cookie(config, PENDING_COOKIE, "", "/", 0)
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct StartForm {
    #[serde(default)]
    pub return_to: Option<String>,
}

fn see_other(location: &str, cookies: &[String]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    match HeaderValue::from_str(location) {
        Ok(value) => headers.insert(header::LOCATION, value),
        Err(_) => headers.insert(header::LOCATION, HeaderValue::from_static("/")),
    };
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

/// The page an outcome is told on: sign-in for a sign-in, Associated
/// Accounts for a link.
fn outcome_page(intent: Intent, provider: &str, outcome: FederationOutcome) -> String {
    let page = match intent {
        Intent::SignIn => "/signin",
        Intent::Link => "/associations",
        Intent::Confirm => "/password",
    };
    let provider: String = url::form_urlencoded::byte_serialize(provider.as_bytes()).collect();
    format!("{page}?federation={}&provider={provider}", outcome.code())
}

fn outcome_of(error: &FederationError) -> FederationOutcome {
    match error {
        FederationError::UnknownProvider | FederationError::Failed(_) => FederationOutcome::Failed,
        FederationError::Unavailable(_) => FederationOutcome::Unavailable,
        FederationError::Cancelled(_) => FederationOutcome::Cancelled,
        FederationError::Expired => FederationOutcome::Expired,
        FederationError::TooMany => FederationOutcome::TooMany,
        FederationError::Db(_) => FederationOutcome::Unavailable,
    }
}

fn log_failure(provider: &str, error: &FederationError) {
    match error {
        FederationError::Db(e) => tracing::error!(provider, error = %e, "federation: storage"),
        // Expected under a flood; one line each would flood the log too.
        FederationError::TooMany => tracing::debug!(
            provider,
            "federation: too many round trips from one address"
        ),
        other => tracing::warn!(provider, error = %other, "federation did not complete"),
    }
}

async fn start(
    state: &AppState,
    provider: &str,
    intent: Intent,
    me: Option<&CurrentSession>,
    return_to: Option<String>,
    client: &ClientInfo,
) -> Response {
    let return_to = return_to.filter(|path| app::authorize::is_return_address(path));
    let started = match super::admit_round_trip(&state.db, &client.ip).await {
        Ok(()) => {
            state
                .federation
                .start(&state.db, &state.config, provider, intent, me, return_to)
                .await
        }
        Err(error) => Err(error),
    };
    match started {
        Ok(started) => see_other(
            &started.authorization_url,
            &[sessions::lax_cookie(
                &state.config,
                BINDING_COOKIE,
                &started.binding,
                "/federation",
                super::FLOW_MINUTES * 60,
            )],
        ),
        Err(error) => {
            log_failure(provider, &error);
            see_other(&outcome_page(intent, provider, outcome_of(&error)), &[])
        }
    }
}

/// `POST /federation/{provider}/{intent}`: "Sign in with …" (`signin`), and
/// for the signed-in user "Link …" (`link`, Associated Accounts) and
/// "Confirm with …" (`confirm`, Change Password of an account without a
/// password: a fresh sign-in at a provider linked to it).
pub async fn begin(
    State(state): State<AppState>,
    session: Option<Extension<CurrentSession>>,
    Extension(client): Extension<ClientInfo>,
    Path((provider, intent)): Path<(String, String)>,
    Form(form): Form<StartForm>,
) -> Response {
    let intent = match intent.as_str() {
        "signin" => Intent::SignIn,
        "link" => Intent::Link,
        "confirm" => Intent::Confirm,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    match (intent, session) {
        (Intent::SignIn, _) => {
            start(&state, &provider, intent, None, form.return_to, &client).await
        }
        (_, Some(Extension(me))) => {
            start(&state, &provider, intent, Some(&me), None, &client).await
        }
        (_, None) => see_other("/signin", &[]),
    }
}

/// The provider's answer.
pub async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    session: Option<Extension<CurrentSession>>,
    Extension(client): Extension<ClientInfo>,
    headers: HeaderMap,
    Query(answer): Query<Callback>,
) -> Response {
    let clear_binding = sessions::lax_cookie(&state.config, BINDING_COOKIE, "", "/federation", 0);
    let binding = sessions::read_cookie(&headers, BINDING_COOKIE);
    let finished = state
        .federation
        .finish(&state.db, &state.config, &provider, &answer, binding)
        .await;
    let (flow, intent, verified) = match finished {
        Ok(finished) => finished,
        Err(error) => {
            log_failure(&provider, &error);
            // Without its flow the intent is unknown: a signed-in browser
            // was linking, a signed-out one signing in.
            let intent = if session.is_some() {
                Intent::Link
            } else {
                Intent::SignIn
            };
            return see_other(
                &outcome_page(intent, &provider, outcome_of(&error)),
                &[clear_binding],
            );
        }
    };
    let identity = match verified {
        Ok(identity) => identity,
        Err(error) => {
            log_failure(&provider, &error);
            return see_other(
                &outcome_page(intent, &provider, outcome_of(&error)),
                &[clear_binding],
            );
        }
    };
    let session = session.map(|Extension(me)| me);
    let result = match intent {
        Intent::Link => link_identity(&state, &provider, &flow, session, &identity).await,
        Intent::Confirm => confirm_identity(&state, &provider, &flow, session, &identity).await,
        Intent::SignIn => {
            sign_in_identity(&state, &provider, &flow, session, &identity, &client).await
        }
    };
    match result {
        Ok((location, mut cookies)) => {
            cookies.push(clear_binding);
            see_other(&location, &cookies)
        }
        Err(error) => {
            tracing::error!(provider, error = ?error, "federation did not complete");
            see_other(
                &outcome_page(intent, &provider, FederationOutcome::Unavailable),
                &[clear_binding],
            )
        }
    }
}

type Ending = Result<(String, Vec<String>), app::error::AppError>;

async fn link_identity(
    state: &AppState,
    provider: &str,
    flow: &super::FlowRow,
    session: Option<CurrentSession>,
    identity: &VerifiedIdentity,
) -> Ending {
    // The session that started the link must still be this browser's.
    let Some(me) = starter(flow, session) else {
        return Ok((
            outcome_page(Intent::Link, provider, FederationOutcome::Expired),
            vec![],
        ));
    };
    let user_id = me.user_id;
    let outcome = match social::link(
        &state.db,
        user_id,
        provider,
        &identity.subject,
        &identity.display,
    )
    .await
    {
        Ok(()) => FederationOutcome::Linked,
        Err(SocialError::AlreadyLinked) => FederationOutcome::AlreadyLinked,
        Err(SocialError::LinkedElsewhere) => FederationOutcome::LinkedElsewhere,
        Err(SocialError::Db(e)) => return Err(e.into()),
        Err(SocialError::NotFound | SocialError::LastWayIn) => FederationOutcome::Failed,
    };
    Ok((outcome_page(Intent::Link, provider, outcome), vec![]))
}

/// The session that started the flow, if it is still this browser's.
fn starter(flow: &super::FlowRow, session: Option<CurrentSession>) -> Option<CurrentSession> {
    session.filter(|me| {
        flow.session_id.as_deref() == Some(me.session_id.as_str())
            && flow.user_id == Some(me.user_id)
    })
}

async fn confirm_identity(
    state: &AppState,
    provider: &str,
    flow: &super::FlowRow,
    session: Option<CurrentSession>,
    identity: &VerifiedIdentity,
) -> Ending {
    let page = |outcome| Ok((outcome_page(Intent::Confirm, provider, outcome), vec![]));
    let Some(me) = starter(flow, session) else {
        return page(FederationOutcome::Expired);
    };
    let linked = social::linked(&state.db, provider, &identity.subject).await?;
    if linked.is_none_or(|linked| linked.user_id != me.user_id) {
        tracing::warn!(user = %me.username, provider, "confirmation at a provider with an identity not linked to the account");
        return page(FederationOutcome::WrongAccount);
    }
    sessions::confirm(&state.db, &me.session_id).await?;
    page(FederationOutcome::Confirmed)
}

async fn sign_in_identity(
    state: &AppState,
    provider: &str,
    flow: &super::FlowRow,
    session: Option<CurrentSession>,
    identity: &VerifiedIdentity,
    client: &ClientInfo,
) -> Ending {
    let (db, config) = (&state.db, &state.config);
    let stop = |outcome| Ok((outcome_page(Intent::SignIn, provider, outcome), vec![]));
    let linked = social::linked(db, provider, &identity.subject).await?;
    let Some(linked) = linked else {
        // Linked to nothing: never matched by email. The browser may link
        // it by signing in with a password.
        let token = social::hold_pending(
            db,
            provider,
            &identity.subject,
            &identity.display,
            &identity.profile,
        )
        .await?;
        let mut page = outcome_page(Intent::SignIn, provider, FederationOutcome::NotLinked);
        if let Some(back) = &flow.return_to {
            let back: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
            page.push_str(&format!("&return_to={back}"));
        }
        tracing::info!(provider, "sign-in with an identity linked to no account");
        return Ok((
            page,
            vec![sessions::lax_cookie(
                &state.config,
                PENDING_COOKIE,
                &token,
                "/",
                social::PENDING_MINUTES * 60,
            )],
        ));
    };
    let Some(account) = users::credentials_by_id(db, linked.user_id).await? else {
        return stop(FederationOutcome::Failed);
    };
    if let Ok(name) = Username::parse(&account.username) {
        if signin::is_locked(db, &name).await? {
            return stop(FederationOutcome::Locked);
        }
    }
    if account.status()? == AccountStatus::Pending {
        return stop(FederationOutcome::AwaitingApproval);
    }
    let provider_name = social::provider_name(config, provider);
    social::record_use(db, &linked, &identity.display).await?;
    if crate::mfa::second_step_needed(db, config, account.id).await? {
        let challenge = crate::mfa::challenge(
            db,
            config,
            account.id,
            crate::mfa::FirstStep::Federated(&provider_name),
            flow.return_to.as_deref(),
        )
        .await?;
        tracing::info!(user = %account.username, provider, ip = %client.ip, "identity provider accepted; second factor asked");
        return Ok(("/signin/verify".to_string(), vec![challenge]));
    }
    let (session_id, token) = sessions::create(
        db,
        config,
        account.id,
        client,
        sessions::Origin::Federated(&provider_name),
        None,
        None,
    )
    .await?;
    // A new session at sign-in: one this browser had ends.
    if let Some(previous) = session {
        sessions::end(db, previous.user_id, &previous.session_id).await?;
    }
    tracing::info!(user = %account.username, session = %session_id, provider, ip = %client.ip, "signed in with an identity provider");
    let location = if consent::system_consent_needed(db, config, account.id).await? {
        "/consent-required".to_string()
    } else {
        flow.return_to.clone().unwrap_or_else(|| "/".into())
    };
    Ok((location, vec![sessions::session_cookie(config, &token)]))
}

/// The pages with provider buttons (sign-in, Associated Accounts) post to
/// Selfserve, which sends the browser on to the provider: their
/// `form-action` allows the providers' origins. Every page gets it, as the
/// client-side router reaches those pages from any other without loading a
/// new document (and its policy).
pub async fn provider_pages_policy(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    // Only pages carry a policy to widen (not JSON, assets or redirects).
    let has_policy = response
        .headers()
        .contains_key(axum::http::header::CONTENT_SECURITY_POLICY);
    if has_policy && !state.config.identity_providers.is_empty() {
        crate::security::allow_form_targets(
            &mut response,
            &state.federation.form_origins(&state.config),
        );
    }
    response
}
