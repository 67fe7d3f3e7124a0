//! Live updates: the events a page listens to, shared by the server (which
//! sends them on `/api/events`) and the hydrated client (which subscribes
//! with gloo-net's `EventSource`). When the stream drops, the page opens it
//! again after a pause that doubles each time (1 s to 30 s); meanwhile it
//! works as without live updates.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What changed for the signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum LiveEvent {
    /// A new login session (a sign-in, a switch, a password change).
    SessionStarted { session: String },
    /// One session ended (signed out, terminated).
    SessionEnded { session: String },
    /// Every session ended but `kept`, if given (terminate all others, a
    /// password change, the REST API's delete all).
    SessionsEnded { kept: Option<String> },
    /// An approval task the user may act on, or a request of theirs,
    /// appeared or changed (started, released, decided, cancelled).
    ApprovalsChanged,
    /// A consent of the user was given, narrowed, revoked or ended.
    ConsentChanged,
}

/// The SSE event names: the stream is open, an update, and the one that
/// ends the stream's own session (the page then goes to sign-in).
pub const READY: &str = "ready";
pub const UPDATE: &str = "update";
pub const SESSION_OVER: &str = "session-over";

/// The first pause before reconnecting a dropped stream, and the longest.
#[cfg(feature = "hydrate")]
const FIRST_RETRY_MS: u32 = 1_000;
#[cfg(feature = "hydrate")]
const LAST_RETRY_MS: u32 = 30_000;

/// How the page's live connection is doing, for the "updated" line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveStatus {
    Connecting,
    /// Connected; the number of updates received.
    Live(u32),
    /// Dropped; the browser is trying again.
    Retrying,
}

/// Subscribes the page to the user's events while it is open; `on_event`
/// runs for each. When the page's own session ends, the browser goes to
/// sign-in.
pub fn subscribe(on_event: impl Fn(LiveEvent) + 'static) -> ReadSignal<LiveStatus> {
    let (status, set_status) = signal(LiveStatus::Connecting);
    #[cfg(feature = "hydrate")]
    {
        use futures_util::StreamExt;
        use gloo_net::eventsource::futures::EventSource;
        // The open source, closed (dropped) when the page goes; once the
        // page has gone, the loop below stops.
        let current = StoredValue::new_local(None::<EventSource>);
        on_cleanup(move || {
            current.try_update_value(Option::take);
        });
        leptos::task::spawn_local(async move {
            let mut received = 0u32;
            let mut delay_ms = FIRST_RETRY_MS;
            loop {
                let opened = EventSource::new("/api/events").and_then(|mut source| {
                    // The source's own "error" event too: gloo-net reports a
                    // dropped connection no other way.
                    let streams = [
                        source.subscribe(READY)?,
                        source.subscribe(UPDATE)?,
                        source.subscribe(SESSION_OVER)?,
                        source.subscribe("error")?,
                    ];
                    Ok((source, streams))
                });
                if let Ok((source, streams)) = opened {
                    if current.try_set_value(Some(source)).is_some() {
                        return; // the page has gone meanwhile
                    }
                    let mut stream = futures_util::stream::select_all(streams);
                    while let Some(next) = stream.next().await {
                        match next {
                            Ok((kind, _)) if kind == SESSION_OVER => {
                                let _ = window().location().set_href("/signin");
                                return;
                            }
                            Ok((kind, _)) if kind == READY => {
                                delay_ms = FIRST_RETRY_MS;
                                set_status.set(LiveStatus::Live(received));
                            }
                            Ok((kind, _)) if kind == "error" => break,
                            Ok((_, message)) => {
                                let parsed = message
                                    .data()
                                    .as_string()
                                    .and_then(|data| serde_json::from_str::<LiveEvent>(&data).ok());
                                if let Some(event) = parsed {
                                    received += 1;
                                    set_status.set(LiveStatus::Live(received));
                                    on_event(event);
                                }
                            }
                            // Dropped: close it, and try again after a pause
                            // that doubles each time, so that a server in
                            // trouble is not hammered by every open page.
                            Err(_) => break,
                        }
                    }
                }
                if current.try_update_value(Option::take).is_none() {
                    return; // the page has gone
                }
                set_status.set(LiveStatus::Retrying);
                gloo_timers::future::TimeoutFuture::new(delay_ms).await;
                delay_ms = (delay_ms * 2).min(LAST_RETRY_MS);
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (on_event, set_status);
    }
    status
}

/// Tells that a list is live, and when it last changed by itself.
#[component]
pub fn LiveLine(status: ReadSignal<LiveStatus>, what: &'static str) -> impl IntoView {
    let text = move || match status.get() {
        LiveStatus::Connecting => String::new(),
        LiveStatus::Live(0) => format!("Live: {what} appear here by themselves."),
        LiveStatus::Live(_) => "Live · updated just now.".to_string(),
        LiveStatus::Retrying => {
            "Live updates paused; trying again. The page still works.".to_string()
        }
    };
    view! { <p class="hint live" aria-live="polite">{text}</p> }
}
