//! Pending Approvals: approvers work through tasks (Start, Release, Approve,
//! Reject) in place, run by the hydrated client; everyone sees and can cancel
//! their own requests that await approval.

use crate::error::AppError;
use crate::layout::{Moment, Notice, Page, StatusMessage, When};
use leptos::either::{Either, EitherOf5};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    Claim,
    Release,
    Approve,
    Reject,
}

crate::states::states! {
    /// A task as the approver sees it (WSO2's approval task states).
    pub enum TaskStatus {
        Ready = "READY",
        /// Started by the signed-in approver.
        Reserved = "RESERVED",
        /// Started by another approver (stored as RESERVED).
        Blocked = "BLOCKED",
        Completed = "COMPLETED",
    }
}

crate::states::states! {
    /// A task's decision.
    pub enum ApprovalStatus {
        Pending = "PENDING",
        Approved = "APPROVED",
        Rejected = "REJECTED",
    }
}

crate::states::states! {
    /// Where a request held for approval stands.
    pub enum RequestState {
        Pending = "PENDING",
        Approved = "APPROVED",
        Rejected = "REJECTED",
        /// Approved, but it could not be applied; nothing changed.
        Failed = "FAILED",
        Cancelled = "CANCELLED",
    }
}

crate::states::states! {
    /// An operation the operator can hold for approval.
    pub enum WorkflowOperation {
        SelfRegistration = "self_registration",
        ProfileChange = "profile_change",
        RoleAssignment = "role_assignment",
    }
}

impl WorkflowOperation {
    pub fn label(self) -> &'static str {
        match self {
            WorkflowOperation::SelfRegistration => "Self-registration",
            WorkflowOperation::ProfileChange => "Profile change",
            WorkflowOperation::RoleAssignment => "Role assignment",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSummary {
    pub id: String,
    pub subject: String,
    pub operation: WorkflowOperation,
    pub status: TaskStatus,
    pub priority: i64,
    pub created: Moment,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDetail {
    pub summary: TaskSummary,
    pub description: String,
    pub initiator: String,
    /// Who started (reserved) or completed it.
    pub owner: Option<String>,
    pub approval_status: ApprovalStatus,
    pub step: i64,
    pub total_steps: i64,
    pub role: String,
    pub request_state: RequestState,
    pub outcome: String,
    /// What exactly is to change.
    pub properties: Vec<(String, String)>,
    /// The signed-in user is the subject: they may not decide it.
    pub own_request: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestSummary {
    pub id: String,
    pub operation: WorkflowOperation,
    pub subject: String,
    pub changes: Vec<(String, String)>,
    pub step: i64,
    pub total_steps: i64,
    pub created: Moment,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalsOverview {
    /// The user holds a role that approves some step.
    pub approver: bool,
    pub tasks: Vec<TaskDetail>,
    pub requests: Vec<RequestSummary>,
}

#[server(endpoint = "approvals_overview")]
pub async fn load_approvals(status: String) -> Result<ApprovalsOverview, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    let status = Some(status)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<TaskStatus>())
        .transpose()
        .map_err(|e| fail(AppError::Refused(format!("Choose a listed status: {e}."))))?;
    respond(backend()?.approvals_overview(&session, status).await)
}

#[server(endpoint = "act_on_task")]
pub async fn act_on_task(task_id: String, action: Action) -> Result<TaskDetail, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.act_on_task(&session, &task_id, action).await)
}

#[server(endpoint = "cancel_request")]
pub async fn cancel_request(request_id: String) -> Result<(), AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.cancel_request(&session, &request_id).await)
}

impl TaskStatus {
    /// How the status reads in the task list and panel.
    pub fn label(self) -> &'static str {
        match self {
            TaskStatus::Ready => "Ready",
            TaskStatus::Reserved => "Started by you",
            TaskStatus::Blocked => "Blocked",
            TaskStatus::Completed => "Completed",
        }
    }

    /// How the status reads in the filter.
    fn filter_label(self) -> &'static str {
        match self {
            TaskStatus::Ready => "Ready",
            TaskStatus::Reserved => "Started by me",
            TaskStatus::Blocked => "Started by others",
            TaskStatus::Completed => "Completed",
        }
    }
}

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let selected = RwSignal::new(None::<String>);
    let act = ServerAction::<ActOnTask>::new();
    let cancel = ServerAction::<CancelRequest>::new();
    // Reloads after every action, as the leptos examples do, and when the
    // server tells of a task or request changed elsewhere.
    let changes = RwSignal::new(0u32);
    let overview = Resource::new(
        move || {
            (
                filter.get(),
                act.version().get(),
                cancel.version().get(),
                changes.get(),
            )
        },
        |(status, _, _, _)| load_approvals(status),
    );
    let live = crate::live::subscribe(move |event| {
        if event == crate::live::LiveEvent::ApprovalsChanged {
            changes.update(|n| *n += 1);
        }
    });
    let notice = RwSignal::new(None::<Result<String, String>>);

    Effect::new(move |_| {
        if let Some(result) = act.value().get() {
            notice.set(Some(match result {
                Ok(task) => Ok(match (task.summary.status, task.approval_status) {
                    (TaskStatus::Reserved, _) => format!(
                        "You started task {}. Approve or reject it, or release it for others.",
                        task.summary.id
                    ),
                    (TaskStatus::Ready, _) => format!("You released task {}.", task.summary.id),
                    (_, ApprovalStatus::Approved) => format!(
                        "You approved task {}. {}",
                        task.summary.id,
                        step_outcome(&task)
                    ),
                    (_, ApprovalStatus::Rejected) => format!(
                        "You rejected task {}. {}",
                        task.summary.id,
                        step_outcome(&task)
                    ),
                    _ => "Done.".into(),
                }),
                Err(e) => Err(e.to_string()),
            }));
        }
    });
    Effect::new(move |_| {
        if let Some(result) = cancel.value().get() {
            notice.set(Some(match result {
                Ok(()) => Ok("Your request has been cancelled.".into()),
                Err(e) => Err(e.to_string()),
            }));
        }
    });

    view! {
        <Page title="Pending Approvals" intro="Changes that need an approver's decision before they take effect: the tasks you decide, if you are an approver, and your own requests while they wait.">
            <Notice notice />
            <crate::live::LiveLine status=live what="new tasks and changes by other approvers" />
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(o) => Either::Left(view! { <Overview overview=o filter selected act cancel /> }),
                        Err(e) => Either::Right(view! { <StatusMessage error=e.to_string() /> }),
                    }
                })}
            </Transition>
        </Page>
    }
}

fn step_outcome(task: &TaskDetail) -> String {
    match task.request_state {
        RequestState::Approved => "The request is complete and has been applied.".into(),
        RequestState::Rejected => "The request has been rejected.".into(),
        RequestState::Failed => format!("The request could not be applied: {}", task.outcome),
        RequestState::Pending | RequestState::Cancelled => format!(
            "It moves on to step {} of {}.",
            task.step + 1,
            task.total_steps
        ),
    }
}

#[component]
fn Overview(
    overview: ApprovalsOverview,
    filter: RwSignal<String>,
    selected: RwSignal<Option<String>>,
    act: ServerAction<ActOnTask>,
    cancel: ServerAction<CancelRequest>,
) -> impl IntoView {
    let tasks = overview.tasks.clone();
    let chosen = {
        let tasks = tasks.clone();
        move || {
            selected
                .get()
                .and_then(|id| tasks.iter().find(|t| t.summary.id == id).cloned())
        }
    };
    let rows = tasks
        .iter()
        .map(|t| {
            let id = t.summary.id.clone();
            let pick = id.clone();
            view! {
                <tr data-testid="task">
                    <td><button class="link" on:click=move |_| selected.set(Some(pick.clone()))
                        aria-label=format!("Task {id}")>{id.clone()}</button></td>
                    <td>{t.summary.subject.clone()}</td>
                    <td><span class=format!("state state-{}", t.summary.status.as_str().to_lowercase())>{t.summary.status.label()}</span></td>
                    <td>{t.summary.priority}</td>
                    <td><When at=t.summary.created.clone() /></td>
                </tr>
            }
        })
        .collect_view();
    let options = std::iter::once(("", "All tasks"))
        .chain(TaskStatus::ALL.iter().map(|s| (s.as_str(), s.filter_label())))
        .map(|(value, label)| view! { <option value=value selected=move || filter.get() == value>{label}</option> })
        .collect_view();
    let approver_section = overview.approver.then(|| {
        view! {
            <section class="card">
                <div class="toolbar">
                    <h2>"Tasks"</h2>
                    <label for="task-filter">"Show"</label>
                    <select id="task-filter" on:change=move |ev| { selected.set(None); filter.set(event_target_value(&ev)) }>{options}</select>
                </div>
                {if tasks.is_empty() {
                    view! { <p class="empty">"No tasks here. Requests that need your approval will appear here."</p> }.into_any()
                } else {
                    view! {
                        <p class="hint">"Choose a Task Id to see exactly what would change, then Start it and Approve or Reject it."</p>
                        <table class="tasks">
                            <thead><tr><th>"Task Id"</th><th>"Subject"</th><th>"Status"</th><th>"Priority"</th><th>"Created"</th></tr></thead>
                            <tbody>{rows}</tbody>
                        </table>
                    }.into_any()
                }}
            </section>
            {move || chosen().map(|task| view! { <TaskPanel task act /> })}
        }
        // Type erasure keeps the view's type within the compiler's depth limit.
        .into_any()
    });
    let requests = overview.requests.clone();
    let request_rows = requests
        .iter()
        .map(|r| {
            let id = r.id.clone();
            let changes = r
                .changes
                .iter()
                .map(|(k, v)| {
            let shown = if v.is_empty() { "—".to_string() } else { v.clone() };
            view! { <div><dt>{k.clone()}</dt><dd>{shown}</dd></div> }
        })
                .collect_view();
            view! {
                <li class="request" data-testid="request">
                    <p><strong>{r.subject.clone()}</strong>" · "{r.operation.label()}</p>
                    <dl class="props">{changes}</dl>
                    <p class="hint">"Requested " <When at=r.created.clone() /> {format!(" · waiting for step {} of {}", r.step, r.total_steps)}</p>
                    <button class="secondary" on:click=move |_| { cancel.dispatch(CancelRequest { request_id: id.clone() }); }>"Cancel request"</button>
                </li>
            }
        })
        .collect_view();
    let show_requests = !overview.approver || !requests.is_empty();
    view! {
        {approver_section}
        {show_requests.then(|| view! {
            <section class="card my-requests">
                <h2>"My requests"</h2>
                {if requests.is_empty() {
                    Either::Left(view! { <p class="empty">"You have no requests awaiting approval. Changes that need approval will be listed here until they are decided."</p> })
                } else {
                    Either::Right(view! { <ul class="requests">{request_rows}</ul> })
                }}
            </section>
        })}
    }
}

#[component]
fn TaskPanel(task: TaskDetail, act: ServerAction<ActOnTask>) -> impl IntoView {
    let id = task.summary.id.clone();
    let button = move |action: Action, label: &'static str, class: &'static str| {
        let id = id.clone();
        view! {
            <button class=class disabled=move || act.pending().get()
                on:click=move |_| { act.dispatch(ActOnTask { task_id: id.clone(), action }); }>{label}</button>
        }
    };
    let status = task.summary.status;
    let actions = if task.own_request && status != TaskStatus::Completed {
        EitherOf5::A(
            view! { <p class="hint">"This is your own request: another approver must decide it."</p> },
        )
    } else {
        match status {
            TaskStatus::Ready => EitherOf5::B(
                view! { <div class="actions">{button(Action::Claim, "Start", "primary")}{button(Action::Approve, "Approve", "secondary")}{button(Action::Reject, "Reject", "danger")}</div> },
            ),
            TaskStatus::Reserved => EitherOf5::C(
                view! { <div class="actions">{button(Action::Approve, "Approve", "primary")}{button(Action::Reject, "Reject", "danger")}{button(Action::Release, "Release", "secondary")}</div> },
            ),
            TaskStatus::Blocked => EitherOf5::D(
                view! { <p class="hint">{format!("{} has started this task.", task.owner.clone().unwrap_or_default())}</p> },
            ),
            TaskStatus::Completed => EitherOf5::E(
                view! { <p class="hint">{format!("Completed: {} by {}. {}", task.approval_status.as_str().to_lowercase(), task.owner.clone().unwrap_or_default(), task.outcome)}</p> },
            ),
        }
    };
    let properties = task
        .properties
        .iter()
        .map(|(k, v)| {
            let shown = if v.is_empty() {
                "—".to_string()
            } else {
                v.clone()
            };
            view! { <div><dt>{k.clone()}</dt><dd>{shown}</dd></div> }
        })
        .collect_view();
    view! {
        <section class="card task-panel" aria-labelledby="task-title" data-testid="task-detail">
            <h2 id="task-title">{format!("Task {}: {}", task.summary.id, task.summary.subject)}</h2>
            <p>{task.description.clone()}</p>
            <dl class="props">
                <div><dt>"Status"</dt><dd data-testid="task-status">{task.summary.status.label()}</dd></div>
                <div><dt>"Step"</dt><dd>{format!("{} of {} (role {})", task.step, task.total_steps, task.role)}</dd></div>
                <div><dt>"Requested by"</dt><dd>{task.initiator.clone()}</dd></div>
                <div><dt>"Created"</dt><dd><When at=task.summary.created.clone() /></dd></div>
                {properties}
            </dl>
            {actions}
        </section>
    }
}
