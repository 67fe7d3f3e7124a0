//! Time as Selfserve stores and shows it: milliseconds since the Unix epoch
//! in the database, RFC 3339 in documents, UTC text that the browser rewrites
//! in the user's own time zone on pages.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch: how every time is stored.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn at(ms: i64) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).ok()
}

/// Milliseconds since the epoch as "2026-11-27 04:15 UTC".
pub fn format_time(ms: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    at(ms)
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// A moment for a page: the browser shows it in the user's time zone.
pub fn moment(ms: i64) -> app::layout::Moment {
    app::layout::Moment {
        ms,
        utc: format_time(ms),
    }
}

/// Milliseconds since the epoch as RFC 3339, for documents.
pub fn rfc3339(ms: i64) -> String {
    at(ms)
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
