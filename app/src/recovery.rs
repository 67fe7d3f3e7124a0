//! Account Recovery: the challenge questions a user answers, and the
//! "Forgot password?" flow that uses them to set a new password.

use crate::error::{message_for, AppError, FieldError};
use crate::layout::{CardPage, Notice, Page, PasswordField, PasswordKind, StatusMessage};
use leptos::either::{Either, EitherOf3, EitherOf5};
use leptos::prelude::*;
use leptos::server_fn::ServerFn as _;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionOption {
    pub id: String,
    pub text: String,
}

/// One question set: its questions and which one the user answered, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionSetView {
    pub id: String,
    pub questions: Vec<QuestionOption>,
    pub current_question: Option<String>,
    pub current_text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoverySettings {
    /// False when the operator turned question-based recovery off.
    pub enabled: bool,
    pub sets: Vec<QuestionSetView>,
}

/// An answer as the form sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnswerInput {
    pub set_id: String,
    pub question_id: String,
    pub answer: String,
}

/// The questions a recovery attempt asks, and the attempt's secret token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryChallenge {
    pub token: String,
    /// (set id, question text), in the order the answers are expected.
    pub questions: Vec<(String, String)>,
}

#[server(endpoint = "get_recovery_settings")]
pub async fn get_recovery_settings() -> Result<RecoverySettings, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.recovery_settings(&session).await)
}

#[server(endpoint = "save_recovery_answers")]
pub async fn save_recovery_answers(
    current_password: String,
    #[server(default)] answers: Vec<AnswerInput>,
    remove: Option<String>,
) -> Result<RecoverySettings, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    let client = client_info()?;
    respond(
        backend()?
            .save_recovery_answers(
                &session,
                &current_password,
                answers,
                remove.is_some(),
                &client,
            )
            .await,
    )
}

#[server(endpoint = "start_recovery")]
pub async fn start_recovery(username: String) -> Result<RecoveryChallenge, AppError> {
    use crate::backend::ssr::*;
    let client = client_info()?;
    respond(backend()?.start_recovery(&username, &client).await)
}

#[server(endpoint = "answer_recovery")]
pub async fn answer_recovery(token: String, answers: Vec<String>) -> Result<String, AppError> {
    use crate::backend::ssr::*;
    let client = client_info()?;
    respond(backend()?.answer_recovery(&token, answers, &client).await)
}

/// Step 2 with a recovery code instead of the questions; the token for step 3.
#[server(endpoint = "recover_with_code")]
pub async fn recover_with_code(username: String, code: String) -> Result<String, AppError> {
    use crate::backend::ssr::*;
    let client = client_info()?;
    respond(
        backend()?
            .redeem_recovery_code(&username, &code, &client)
            .await,
    )
}

/// Whether "Forgot password?" offers security questions.
#[server(endpoint = "questions_offered")]
pub async fn questions_offered() -> Result<bool, AppError> {
    Ok(crate::backend::ssr::backend()?.questions_offered())
}

#[server(endpoint = "finish_recovery")]
pub async fn finish_recovery(
    token: String,
    new_password: String,
    confirm: String,
) -> Result<(), AppError> {
    use crate::backend::ssr::*;
    if new_password != confirm {
        return Err(fail(AppError::Invalid(vec![FieldError::new(
            "confirm",
            "The two new passwords do not match.",
        )])));
    }
    respond(backend()?.finish_recovery(&token, &new_password).await)
}

#[component]
pub fn RecoveryPage() -> impl IntoView {
    let settings = Resource::new(|| (), |_| get_recovery_settings());
    view! {
        <Page title="Account Recovery" intro="If you forget your password, you can set a new one by answering the security questions you choose here. Pick questions whose answers only you know and will not forget.">
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match settings.await {
                        Ok(s) if !s.enabled => EitherOf3::A(view! {
                            <p class="card notice">"Password recovery with security questions is turned off by your administrator. If you forget your password, contact them."</p>
                        }),
                        Ok(s) => EitherOf3::B(view! { <RecoveryForm settings=s /> }),
                        Err(e) => EitherOf3::C(view! { <StatusMessage error=e.to_string() /> }),
                    }
                })}
            </Suspense>
        </Page>
    }
}

#[component]
fn RecoveryForm(settings: RecoverySettings) -> impl IntoView {
    let save = ServerAction::<SaveRecoveryAnswers>::new();
    let current = RwSignal::new(settings.clone());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let notice = RwSignal::new(None::<Result<String, String>>);
    let form_ref = NodeRef::<leptos::html::Form>::new();
    let removing = RwSignal::new(false);

    Effect::new(move |_| {
        if let Some(result) = save.value().get() {
            match result {
                Ok(updated) => {
                    let any = updated.sets.iter().any(|s| s.current_question.is_some());
                    current.set(updated);
                    errors.set(Vec::new());
                    if let Some(form) = form_ref.get_untracked() {
                        form.reset();
                    }
                    notice.set(Some(Ok(if any {
                        "Your security questions have been updated.".into()
                    } else {
                        "Your security questions have been removed.".into()
                    })));
                }
                Err(e) => {
                    errors.set(e.field_errors().to_vec());
                    notice.set(Some(Err(e.to_string())));
                }
            }
        }
    });

    let sets = settings
        .sets
        .iter()
        .enumerate()
        .map(|(index, set)| {
            let set_id = set.id.clone();
            let field = format!("answer-{}", set.id);
            let select_id = format!("question-{}", set.id);
            let answer_id = format!("answer-{}", set.id);
            let error_id = format!("answer-{}-error", set.id);
            let status = {
                let set_id = set_id.clone();
                move || {
                    current.with(|c| {
                        c.sets
                            .iter()
                            .find(|s| s.id == set_id)
                            .and_then(|s| s.current_text.clone())
                            .map(|t| format!("Set: {t}"))
                            .unwrap_or_else(|| "Not set yet".into())
                    })
                }
            };
            let options = set
                .questions
                .iter()
                .map(|q| {
                    let selected = set.current_question.as_deref() == Some(q.id.as_str());
                    view! { <option value=q.id.clone() selected=selected>{q.text.clone()}</option> }
                })
                .collect_view();
            let error_field = field.clone();
            let error = move || errors.with(|e| message_for(e, &error_field));
            let invalid_field = field.clone();
            let invalid = move || errors.with(|e| message_for(e, &invalid_field).is_some()).to_string();
            view! {
                <fieldset class="question-set">
                    <legend>{format!("Security question {}", index + 1)}</legend>
                    <p class="hint" data-testid=format!("status-{}", set.id)>{status}</p>
                    <input type="hidden" name=format!("answers[{index}][set_id]") value=set_id />
                    <div class="field">
                        <label for=select_id.clone()>"Question"</label>
                        <select id=select_id name=format!("answers[{index}][question_id]")>{options}</select>
                    </div>
                    <div class="field">
                        <label for=answer_id.clone()>"Answer"</label>
                        <input id=answer_id type="password" autocomplete="off" name=format!("answers[{index}][answer]")
                            aria-invalid=invalid aria-describedby=error_id.clone() />
                        <p class="field-error" id=error_id role="alert">{error}</p>
                    </div>
                </fieldset>
            }
        })
        .collect_view();

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match SaveRecoveryAnswers::from_event(&ev) {
            Ok(mut data) => {
                if removing.get_untracked() {
                    data.remove = Some("all".into());
                }
                notice.set(None);
                save.dispatch(data);
            }
            Err(e) => notice.set(Some(Err(e.to_string()))),
        }
    };
    let password_error = move || errors.with(|e| message_for(e, "current_password"));
    let has_answers = move || current.with(|c| c.sets.iter().any(|s| s.current_question.is_some()));

    view! {
        <form class="card form single" method="post" action=SaveRecoveryAnswers::url()
            on:submit=on_submit node_ref=form_ref novalidate>
            <p class="hint">"Answers are not case-sensitive and extra spaces do not matter. Leave an answer empty to keep the one you set before."</p>
            {sets}
            <PasswordField id="current_password" label="Current Password" kind=PasswordKind::Current
                error=Signal::derive(password_error)
                hint="Changing how your account can be recovered needs your password." />
            <div class="actions">
                <button type="submit" class="primary" on:click=move |_| removing.set(false) disabled=move || save.pending().get()>"Update"</button>
                {move || has_answers().then(|| view! {
                    <button type="submit" class="secondary" on:click=move |_| removing.set(true) disabled=move || save.pending().get()>"Remove my answers"</button>
                })}
            </div>
            <Notice notice />
        </form>
    }
}

/// Where "Forgot password?" stands: one step at a time, each holding what
/// the next request needs.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Username,
    /// A recovery code instead of the questions.
    Code,
    Questions(RecoveryChallenge),
    /// The answers were right; the token lets the new password be set.
    NewPassword(String),
    Done,
}

/// "Forgot password?": username, then the account's questions, then a new password.
#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let start = ServerAction::<StartRecovery>::new();
    let answer = ServerAction::<AnswerRecovery>::new();
    let finish = ServerAction::<FinishRecovery>::new();
    let redeem = ServerAction::<RecoverWithCode>::new();
    let offered = Resource::new(|| (), |_| questions_offered());
    let step = RwSignal::new(Step::Username);
    let notice = RwSignal::new(None::<Result<String, String>>);
    let errors = RwSignal::new(Vec::<FieldError>::new());

    let fail = move |e: AppError| {
        errors.set(e.field_errors().to_vec());
        let text = match e.field_errors().first() {
            Some(first) if e.field_errors().len() == 1 => first.message.clone(),
            _ => e.to_string(),
        };
        notice.set(Some(Err(text)));
    };
    Effect::new(move |_| {
        if let Some(result) = start.value().get() {
            match result {
                Ok(c) => {
                    notice.set(None);
                    errors.set(Vec::new());
                    step.set(Step::Questions(c));
                }
                Err(e) => fail(e),
            }
        }
    });
    Effect::new(move |_| {
        if let Some(result) = answer.value().get() {
            match result {
                Ok(token) => {
                    notice.set(None);
                    step.set(Step::NewPassword(token));
                }
                Err(e) => {
                    // A failed attempt is used up: back to the username.
                    step.set(Step::Username);
                    fail(e);
                }
            }
        }
    });
    Effect::new(move |_| {
        if let Some(result) = redeem.value().get() {
            match result {
                Ok(token) => {
                    notice.set(None);
                    step.set(Step::NewPassword(token));
                }
                Err(e) => fail(e),
            }
        }
    });
    Effect::new(move |_| {
        if let Some(result) = finish.value().get() {
            match result {
                Ok(()) => {
                    step.set(Step::Done);
                    notice.set(Some(Ok(
                        "Your password has been reset and every session of your account has been signed out. You can now sign in with your new password.".into(),
                    )));
                }
                Err(e) => fail(e),
            }
        }
    });

    let current_step = move || match step.get() {
        Step::Done => EitherOf5::A(view! { <p><a class="button" href="/signin">"Sign in"</a></p> }),
        Step::NewPassword(token) => EitherOf5::B(view! {
            <ActionForm action=finish attr:class="form single">
                <input type="hidden" name="token" value=token />
                <PasswordField id="new_password" label="New Password" kind=PasswordKind::New
                    error=Signal::derive(move || errors.with(|e| message_for(e, "new_password"))) />
                <PasswordField id="confirm" label="Confirm New Password" kind=PasswordKind::New />
                <div class="actions"><button type="submit" class="primary">"Set new password"</button></div>
            </ActionForm>
        }),
        Step::Questions(c) => {
            let fields = c
                .questions
                .iter()
                .enumerate()
                .map(|(i, (_, text))| {
                    let id = format!("recovery-answer-{i}");
                    view! {
                        <div class="field">
                            <label for=id.clone()>{text.clone()}</label>
                            <input id=id type="password" autocomplete="off" name=format!("answers[{i}]") />
                        </div>
                    }
                })
                .collect_view();
            EitherOf5::C(view! {
                <ActionForm action=answer attr:class="form single">
                    <p class="hint">"Answer your security questions. Answers are not case-sensitive."</p>
                    <input type="hidden" name="token" value=c.token.clone() />
                    {fields}
                    <div class="actions"><button type="submit" class="primary">"Continue"</button></div>
                </ActionForm>
            })
        }
        Step::Code => EitherOf5::D(view! { <CodeForm redeem errors offered=true step /> }),
        Step::Username => EitherOf5::E(view! {
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    if offered.await.unwrap_or(true) {
                        Either::Left(view! {
                            <ActionForm action=start attr:class="form single">
                                <div class="field">
                                    <label for="recover-username">"Username"</label>
                                    <input id="recover-username" name="username" type="text" autocomplete="username" autofocus />
                                </div>
                                <div class="actions">
                                    <button type="submit" class="primary">"Continue"</button>
                                    <button type="button" class="link" on:click=move |_| step.set(Step::Code)>"Use a recovery code instead"</button>
                                </div>
                            </ActionForm>
                        })
                    } else {
                        Either::Right(view! { <CodeForm redeem errors offered=false step /> })
                    }
                })}
            </Suspense>
        }),
    };

    view! {
        <CardPage title="Reset your password">
            <p class="intro">"Prove it is you with the security questions you set up or one of your recovery codes, then choose a new password."</p>
            {current_step}
            <Notice notice />
            <p class="hint"><a href="/signin">"Back to sign in"</a></p>
        </CardPage>
    }
}

/// Username and a recovery code, instead of the questions.
#[component]
fn CodeForm(
    redeem: ServerAction<RecoverWithCode>,
    errors: RwSignal<Vec<FieldError>>,
    /// Whether the questions are offered too (a way back to them).
    offered: bool,
    step: RwSignal<Step>,
) -> impl IntoView {
    view! {
        <ActionForm action=redeem attr:class="form single">
            <div class="field">
                <label for="recover-username">"Username"</label>
                <input id="recover-username" name="username" type="text" autocomplete="username" autofocus required />
            </div>
            <div class="field">
                <label for="recover-code">"Recovery code"</label>
                <input id="recover-code" name="code" type="text" autocomplete="off" spellcheck="false" required
                    aria-describedby="recover-code-error recover-code-hint"
                    aria-invalid=move || errors.with(|e| message_for(e, "code").is_some()).to_string() />
                <p class="field-error" id="recover-code-error" role="alert">{move || errors.with(|e| message_for(e, "code"))}</p>
                <p class="hint" id="recover-code-hint">"One of the codes you saved when you set up your authenticator app. It works once; signing in will still ask for your second factor."</p>
            </div>
            <div class="actions">
                <button type="submit" class="primary">"Continue"</button>
                {offered.then(|| view! {
                    <button type="button" class="link" on:click=move |_| step.set(Step::Username)>"Use your security questions instead"</button>
                })}
            </div>
        </ActionForm>
    }
}
