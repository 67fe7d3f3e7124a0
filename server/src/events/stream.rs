//! `GET /api/events`: the signed-in user's events as server-sent events,
//! authenticated by the session cookie. Comments keep the connection alive;
//! `Last-Event-ID` resumes; the stream ends once its session has (the event
//! that ends it is sent first), and never extends the session's idle time.

use super::{Delivered, Event};
use crate::api::{ApiError, SignedIn};
use crate::AppState;
use app::backend::ssr::CurrentSession;
use app::live::{READY, SESSION_OVER, UPDATE};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{self, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// How often a stream checks that its session is still live (it may expire
/// without an event: idle or absolute timeout).
const SESSION_CHECK: Duration = Duration::from_secs(15);
/// How long a browser waits before reconnecting a dropped stream.
const RETRY: Duration = Duration::from_secs(3);

/// Whether this event ends the stream's own session.
fn ends(session: &str, event: &Event) -> bool {
    match event {
        Event::SessionEnded { session: ended } => ended == session,
        Event::SessionsEnded { kept } => kept.as_deref() != Some(session),
        Event::SessionStarted { .. } | Event::ApprovalsChanged | Event::ConsentChanged => false,
    }
}

fn frame(delivered: &Delivered, over: bool) -> sse::Event {
    sse::Event::default()
        .id(delivered.id.to_string())
        .event(if over { SESSION_OVER } else { UPDATE })
        .json_data(&delivered.event)
        .unwrap_or_else(|_| sse::Event::default().comment("unencodable event"))
}

struct Open {
    state: AppState,
    me: CurrentSession,
    backlog: VecDeque<Delivered>,
    events: tokio::sync::broadcast::Receiver<Delivered>,
    check: tokio::time::Interval,
    closing: tokio::sync::watch::Receiver<bool>,
    ended: bool,
    _slot: super::StreamSlot,
}

impl Open {
    /// The next frame for the browser; None ends the stream.
    async fn next(&mut self) -> Option<sse::Event> {
        if self.ended {
            return None;
        }
        loop {
            let delivered = match self.backlog.pop_front() {
                Some(delivered) => delivered,
                None => tokio::select! {
                    received = self.events.recv() => match received {
                        Ok(delivered) => delivered,
                        // Missed some: the page reloads its data at the next one.
                        Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => return None,
                    },
                    // Only ever set to true: the server is shutting down.
                    _ = self.closing.changed() => return None,
                    _ = self.check.tick() => {
                        let live = crate::sessions::is_live(&self.state.db, &self.state.config, &self.me.session_id)
                            .await
                            .unwrap_or(true);
                        if !live {
                            return None;
                        }
                        continue;
                    }
                },
            };
            if delivered.user_id != self.me.user_id {
                continue;
            }
            self.ended = ends(&self.me.session_id, &delivered.event);
            return Some(frame(&delivered, self.ended));
        }
    }
}

#[utoipa::path(
    get,
    operation_id = "events",
    path = "/api/events",
    tag = "me",
    params(("Last-Event-ID" = Option<String>, Header, description = "The id of the last event received, to resume after it")),
    responses(
        (status = 200, description = "A text/event-stream of the signed-in user's events: `update` events whose data is JSON with a `type` (session-started, session-ended, sessions-ended)"),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
        (status = 429, description = "Too many open streams for this user or this server", body = crate::api::ErrorBody),
    )
)]
pub async fn events(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let bus = state.db.events.clone();
    let slot = bus.open_stream(me.user_id).ok_or_else(|| {
        ApiError::TooMany(
            "Too many live pages are open for this account. Close some tabs; the pages still work without live updates."
                .into(),
        )
    })?;
    bus.listen().await;
    // Subscribed before the backlog is read, so nothing falls between them.
    let events = bus.subscribe();
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let backlog: VecDeque<Delivered> = after
        .map(|after| bus.since(me.user_id, after).into())
        .unwrap_or_default();
    let mut check = tokio::time::interval(SESSION_CHECK);
    check.reset();
    let open = Open {
        state,
        me,
        backlog,
        events,
        check,
        closing: bus.closing(),
        ended: false,
        _slot: slot,
    };
    let retry = sse::Event::default().retry(RETRY).event(READY).data("{}");
    let stream = futures_util::stream::once(
        async move { Ok::<_, std::convert::Infallible>(retry) },
    )
    .chain(futures_util::stream::unfold(open, |mut open| async move {
        open.next().await.map(|frame| (Ok(frame), open))
    }));
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
        .into_response())
}

use futures_util::StreamExt;
