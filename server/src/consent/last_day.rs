//! The last day of a consent, in the user's own calendar.

use super::ConsentError;

const DAY_MS: i64 = 86_400_000;

/// The date picker's format.
const DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// The last day of a consent in the user's own calendar: the consent holds
/// until midnight after that day where the user is, not in the server's zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastDay {
    day: time::Date,
    /// Minutes the user's clock is behind UTC (`Date.getTimezoneOffset()`).
    minutes_behind_utc: i32,
}

/// Every zone in use lies between UTC-12 and UTC+14.
const MINUTES_BEHIND_UTC: std::ops::RangeInclusive<i32> = -14 * 60..=12 * 60;

impl LastDay {
    /// Parses a date picker value (YYYY-MM-DD) and the browser's offset; the
    /// day must not have ended yet where the user is.
    pub fn parse(date: &str, minutes_behind_utc: i32, now: i64) -> Result<Self, ConsentError> {
        if !MINUTES_BEHIND_UTC.contains(&minutes_behind_utc) {
            return Err(ConsentError::Invalid(
                "The time zone offset must lie between UTC-12 and UTC+14.".into(),
            ));
        }
        let day = time::Date::parse(date.trim(), DATE)
            .ok()
            .filter(|d| d.next_day().is_some())
            .ok_or_else(|| {
                ConsentError::Invalid(
                    "Enter the expiry date as a calendar date, e.g. 2027-01-31.".into(),
                )
            })?;
        let last_day = LastDay {
            day,
            minutes_behind_utc,
        };
        if last_day.end() <= now {
            return Err(ConsentError::Invalid(
                "The expiry date is in the past. Choose today or a later date.".into(),
            ));
        }
        Ok(last_day)
    }

    /// The instant (ms) the consent ends: the user's midnight after the day.
    pub fn end(&self) -> i64 {
        let next = self.day.next_day().unwrap_or(self.day);
        let utc_midnight = next.midnight().assume_utc().unix_timestamp() * 1000;
        utc_midnight + i64::from(self.minutes_behind_utc) * 60_000
    }

    pub fn date(&self) -> String {
        self.day.format(DATE).unwrap_or_default()
    }
}

pub fn today(now: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(now / 1000)
        .ok()
        .and_then(|t| t.date().format(DATE).ok())
        .unwrap_or_default()
}

/// The UTC day that ends at `expires_at` (expiries stored before 0005).
pub fn last_utc_day(expires_at: i64) -> String {
    today(expires_at - DAY_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_dates_hold_through_the_day_where_the_user_is() {
        let now = 1_794_990_000_000; // 2026-11-18 08:20 UTC
        let utc = LastDay::parse("2026-11-18", 0, now).unwrap();
        assert_eq!(utc.date(), "2026-11-18");
        assert_eq!(last_utc_day(utc.end()), "2026-11-18");
        // New York (UTC-5): the day ends at 05:00 UTC the next morning.
        let new_york = LastDay::parse("2026-11-18", 300, now).unwrap();
        assert_eq!(new_york.end() - utc.end(), 5 * 3_600_000);
        // Hawaii (UTC-10) is still on the 17th at 08:20 UTC ...
        assert!(LastDay::parse("2026-11-17", 600, now).is_ok());
        // ... which has ended in UTC and in Tokyo (UTC+9).
        assert!(LastDay::parse("2026-11-17", 0, now).is_err());
        assert!(LastDay::parse("2026-11-17", -540, now).is_err());
        assert!(LastDay::parse("2026-11-18", 13 * 60, now).is_err());
        assert!(LastDay::parse("18/11/2026", 0, now).is_err());
        assert!(LastDay::parse("9999-12-31", 0, now).is_err());
    }
}
