//! Live updates: small typed events for the pages a user has open, sent as
//! server-sent events (`GET /api/events`). An event raised on any node
//! reaches streams on every node: through PostgreSQL `NOTIFY` when the
//! database is PostgreSQL (each node `LISTEN`s), through an in-process
//! channel on SQLite (one node). Each node keeps the last events it saw, so
//! a stream that reconnects with `Last-Event-ID` gets what it missed.

pub mod stream;

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

pub use app::live::LiveEvent as Event;

/// An event as delivered: its id (rising; `Last-Event-ID` names it) and
/// the user it is for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivered {
    pub id: u64,
    pub user_id: i64,
    pub event: Event,
}

/// How many events each node keeps for resuming streams.
const RECENT: usize = 512;
/// Streams one user may hold open at once (tabs and devices).
pub const PER_USER_STREAMS: usize = 8;
/// Streams one node holds open at once.
pub const TOTAL_STREAMS: usize = 1000;
/// The PostgreSQL channel events travel on.
const CHANNEL: &str = "selfserve_events";

/// The event bus of one node.
pub struct Bus {
    local: broadcast::Sender<Delivered>,
    recent: Mutex<VecDeque<Delivered>>,
    last_id: AtomicU64,
    streams: Mutex<HashMap<i64, usize>>,
    /// PostgreSQL's URL, for the listening connection; None on SQLite.
    postgres: Option<String>,
    listening: tokio::sync::OnceCell<()>,
    /// Set when the server shuts down: streams end, so that the graceful
    /// shutdown does not wait for them forever.
    closing: tokio::sync::watch::Sender<bool>,
}

impl Bus {
    pub fn new(postgres: Option<String>) -> Arc<Bus> {
        let (local, _) = broadcast::channel(1024);
        Arc::new(Bus {
            local,
            recent: Mutex::new(VecDeque::with_capacity(RECENT)),
            last_id: AtomicU64::new(0),
            streams: Mutex::new(HashMap::new()),
            postgres,
            listening: tokio::sync::OnceCell::new(),
            closing: tokio::sync::watch::channel(false).0,
        })
    }

    /// A new id: the time in microseconds, kept rising within the node.
    fn next_id(&self) -> u64 {
        let now = u64::try_from(crate::time::now_ms()).unwrap_or(0) * 1000;
        let mut last = self.last_id.load(Ordering::Relaxed);
        loop {
            let id = now.max(last + 1);
            match self
                .last_id
                .compare_exchange(last, id, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return id,
                Err(seen) => last = seen,
            }
        }
    }

    /// Hands an event to every stream of this node, and remembers it.
    fn deliver(&self, delivered: Delivered) {
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(delivered.clone());
        }
        // No receiver is no error: nobody has the page open.
        let _ = self.local.send(delivered);
    }

    /// The events for `user_id` after `after`, that this node still has.
    pub fn since(&self, user_id: i64, after: u64) -> Vec<Delivered> {
        self.recent
            .lock()
            .map(|recent| {
                recent
                    .iter()
                    .filter(|d| d.user_id == user_id && d.id > after)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Delivered> {
        self.local.subscribe()
    }

    /// Ends every open stream (the server is shutting down).
    pub fn close_streams(&self) {
        self.closing.send_replace(true);
    }

    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Takes a stream slot for the user; None when the user or the node
    /// holds as many as allowed.
    pub fn open_stream(self: &Arc<Self>, user_id: i64) -> Option<StreamSlot> {
        let mut streams = self.streams.lock().ok()?;
        let total: usize = streams.values().sum();
        let mine = streams.entry(user_id).or_insert(0);
        if *mine >= PER_USER_STREAMS || total >= TOTAL_STREAMS {
            return None;
        }
        *mine += 1;
        Some(StreamSlot {
            bus: Arc::clone(self),
            user_id,
        })
    }

    /// Starts listening to PostgreSQL once, when the first stream opens
    /// (the CLI never listens). Returns once the node is listening, so that
    /// no event raised after a stream opened is missed.
    pub async fn listen(self: &Arc<Self>) {
        let Some(url) = self.postgres.clone() else {
            return;
        };
        let bus = Arc::clone(self);
        self.listening
            .get_or_init(|| async move {
                let listener = connect_listener(&url).await;
                tokio::spawn(relay(bus, url, listener));
            })
            .await;
    }
}

/// A held stream slot, given back when the stream ends.
pub struct StreamSlot {
    bus: Arc<Bus>,
    user_id: i64,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        if let Ok(mut streams) = self.bus.streams.lock() {
            if let Some(count) = streams.get_mut(&self.user_id) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    streams.remove(&self.user_id);
                }
            }
        }
    }
}

async fn connect_listener(url: &str) -> Option<sqlx::postgres::PgListener> {
    let mut listener = match sqlx::postgres::PgListener::connect(url).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(error = %e, "live updates: cannot connect to listen");
            return None;
        }
    };
    match listener.listen(CHANNEL).await {
        Ok(()) => Some(listener),
        Err(e) => {
            tracing::warn!(error = %e, "live updates: cannot listen");
            None
        }
    }
}

/// Relays every notification on the channel into this node's bus; on a
/// lost connection, connects again after a pause.
async fn relay(bus: Arc<Bus>, url: String, mut listener: Option<sqlx::postgres::PgListener>) {
    loop {
        if let Some(mut connected) = listener.take() {
            loop {
                match connected.recv().await {
                    Ok(notification) => {
                        match serde_json::from_str::<Delivered>(notification.payload()) {
                            Ok(delivered) => bus.deliver(delivered),
                            Err(e) => tracing::warn!(error = %e, "live updates: unreadable event"),
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "live updates: listening connection lost");
                        break;
                    }
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        listener = connect_listener(&url).await;
    }
}

/// Raises an event for a user: on PostgreSQL through `NOTIFY` (every node,
/// this one included, delivers it when it arrives), on SQLite at once. A
/// failure is logged, never the caller's error: the change it reports has
/// been made, and open pages catch up at their next load.
pub async fn raise(db: &crate::db::Db, user_id: i64, event: Event) {
    let delivered = Delivered {
        id: db.events.next_id(),
        user_id,
        event,
    };
    match db.kind {
        crate::db::DbKind::Sqlite => db.events.deliver(delivered),
        crate::db::DbKind::Postgres => {
            let payload = match serde_json::to_string(&delivered) {
                Ok(payload) => payload,
                Err(e) => {
                    tracing::warn!(error = %e, "live updates: event not encoded");
                    return;
                }
            };
            // Wrapped: pg_notify returns void, a type the Any driver cannot describe.
            if let Err(e) = sqlx::query("SELECT count(*) FROM (SELECT pg_notify($1, $2)) AS sent")
                .bind(CHANNEL)
                .bind(payload)
                .execute(&db.pool)
                .await
            {
                tracing::warn!(error = %e, "live updates: event not sent");
            }
        }
    }
}
