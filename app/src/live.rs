//! Live updates: the events a page listens to, shared by the server (which
//! sends them on `/api/events`) and the hydrated client (which subscribes
//! with gloo-net's `EventSource`). When the stream drops, the browser
//! reconnects after the server's retry delay; meanwhile the page works as
//! without live updates.

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
        let Ok(mut source) = EventSource::new("/api/events") else {
            set_status.set(LiveStatus::Retrying);
            return status;
        };
        let (Ok(ready), Ok(updates), Ok(over)) = (
            source.subscribe(READY),
            source.subscribe(UPDATE),
            source.subscribe(SESSION_OVER),
        ) else {
            return status;
        };
        let mut stream = futures_util::stream::select_all([ready, updates, over]);
        leptos::task::spawn_local(async move {
            let mut received = 0u32;
            while let Some(next) = stream.next().await {
                match next {
                    Ok((kind, _)) if kind == SESSION_OVER => {
                        let _ = window().location().set_href("/signin");
                        return;
                    }
                    Ok((kind, _)) if kind == READY => set_status.set(LiveStatus::Live(received)),
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
                    // The browser reconnects by itself after the retry delay.
                    Err(_) => set_status.set(LiveStatus::Retrying),
                }
            }
        });
        // Closing the source (dropping it) ends the stream when the page goes.
        let source = StoredValue::new_local(Some(source));
        on_cleanup(move || {
            source.try_update_value(Option::take);
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
