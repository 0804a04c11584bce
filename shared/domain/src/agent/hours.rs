//! The clock rules an agent keeps: its calling hours (a local window,
//! every day, in the agent's time zone) and how a call that found nobody is
//! tried again. [`crate::placement`] applies them.

use chrono::{DateTime, Duration, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

use crate::{error::DomainError, time};

/// The local window in which outbound calls may be placed, every day.
/// `start` is inclusive, `end` exclusive; `00:00`-`24:00` is the whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ClockHours")]
pub struct CallingHours {
    #[serde(with = "clock")]
    pub start: u16,
    #[serde(with = "clock")]
    pub end: u16,
}

/// Calling hours as they are written, checked by [`CallingHours::new`] on the
/// way in, so that no stored or sent value can hold hours that never open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct ClockHours {
    #[serde(with = "clock")]
    pub start: u16,
    #[serde(with = "clock")]
    pub end: u16,
}

impl TryFrom<ClockHours> for CallingHours {
    type Error = DomainError;

    fn try_from(hours: ClockHours) -> Result<Self, DomainError> {
        CallingHours::new(hours.start, hours.end)
    }
}

impl Default for CallingHours {
    /// 08:00 to 21:00 local time, as US telemarketing rules require.
    fn default() -> Self {
        CallingHours { start: 8 * 60, end: 21 * 60 }
    }
}

impl CallingHours {
    pub const WHOLE_DAY: CallingHours = CallingHours { start: 0, end: 24 * 60 };

    pub fn new(start_minute: u16, end_minute: u16) -> Result<Self, DomainError> {
        if start_minute >= end_minute || end_minute > 24 * 60 {
            return Err(DomainError::invalid("invalid_calling_hours", "calling hours must start before they end, within one day (00:00 to 24:00)"));
        }
        Ok(CallingHours { start: start_minute, end: end_minute })
    }

    fn contains_minute(&self, minute_of_day: u16) -> bool {
        (self.start..self.end).contains(&minute_of_day)
    }

    /// Whether `at` falls inside the hours, read in `zone`.
    pub fn allows(&self, at: DateTime<Utc>, zone: Tz) -> bool {
        let local = at.with_timezone(&zone);
        self.contains_minute((local.hour() * 60 + local.minute()) as u16)
    }

    /// `at` itself when allowed, else the next moment the hours open, in UTC.
    /// Days whose opening time does not exist locally (a spring-forward gap)
    /// open at the first valid minute after it. `None` only at the very end
    /// of chrono's range, which no supported time comes near.
    pub fn next_allowed(&self, at: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
        if self.allows(at, zone) {
            return Some(at);
        }
        let opening = NaiveTime::from_num_seconds_from_midnight_opt(u32::from(self.start) * 60, 0)?;
        let mut day = at.with_timezone(&zone).date_naive();
        // Three days: one may be skipped whole (Samoa, 2011-12-30), one may open before `at`.
        for _ in 0..4 {
            let candidate = time::local_to_utc(zone, day.and_time(opening));
            if candidate > at && self.allows(candidate, zone) {
                return Some(candidate);
            }
            day = day.succ_opt()?;
        }
        None
    }
}

/// A day of the week, written `mon` to `sun`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Day(u8);

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Day {
    pub fn of(weekday: chrono::Weekday) -> Day {
        Day(weekday.num_days_from_monday() as u8)
    }

    pub fn name(self) -> &'static str {
        DAY_NAMES.get(usize::from(self.0)).copied().unwrap_or("mon")
    }
}

impl TryFrom<String> for Day {
    type Error = DomainError;

    fn try_from(text: String) -> Result<Day, DomainError> {
        let wanted = text.trim().to_ascii_lowercase();
        DAY_NAMES
            .iter()
            .position(|d| wanted.len() >= 3 && wanted.starts_with(d) && "monday tuesday wednesday thursday friday saturday sunday".contains(&wanted))
            .map(|i| Day(i as u8))
            .ok_or_else(|| {
                DomainError::invalid("invalid_calling_hours", format!("{:?} is not a day of the week (mon to sun)", text.chars().take(20).collect::<String>()))
            })
    }
}

impl From<Day> for String {
    fn from(day: Day) -> String {
        day.name().to_string()
    }
}

/// `HH:MM` text for minutes since midnight, in and out.
pub mod clock_text {
    pub use super::clock::{deserialize, serialize};
}

mod clock {
    use super::*;

    pub fn serialize<S: Serializer>(minute: &u16, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:02}:{:02}", minute / 60, minute % 60))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
        let text = String::deserialize(d)?;
        parse_clock(&text).ok_or_else(|| D::Error::custom(format!("{text:?} is not a time of day (HH:MM, 00:00 to 24:00)")))
    }
}

/// Parses `HH:MM` (00:00 to 24:00) into minutes since midnight.
pub fn parse_clock(text: &str) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m) = (h.parse::<u16>().ok()?, m.parse::<u16>().ok()?);
    let minute = h * 60 + m;
    (m < 60 && minute <= 24 * 60).then_some(minute)
}

/// How a call that found nobody (no answer, busy, voicemail) is tried again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Minutes to wait before attempt 2, 3, ...; the last delay repeats.
    pub delays_minutes: Vec<u32>,
}

impl Default for RetryPolicy {
    /// Three attempts, 30 then 120 minutes apart.
    fn default() -> Self {
        RetryPolicy { max_attempts: 3, delays_minutes: vec![30, 120] }
    }
}

impl RetryPolicy {
    /// When attempt `attempt + 1` is due after attempt `attempt` ended at
    /// `ended`, or `None` when the attempts are used up.
    pub fn next_attempt_after(&self, attempt: u32, ended: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if attempt >= self.max_attempts {
            return None;
        }
        let index = (attempt.max(1) - 1) as usize;
        let delay = self.delays_minutes.get(index).or(self.delays_minutes.last()).copied().unwrap_or(0);
        Some(ended + Duration::minutes(i64::from(delay)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        time::parse(text).unwrap()
    }

    #[test]
    fn default_hours_are_eight_to_nine_local() {
        let hours = CallingHours::default();
        let ny: Tz = "America/New_York".parse().unwrap();
        // 12:59 UTC is 07:59 in New York in winter (UTC-5).
        assert!(!hours.allows(utc("2024-01-15T12:59:00Z"), ny));
        assert!(hours.allows(utc("2024-01-15T13:00:00Z"), ny));
        assert!(hours.allows(utc("2024-01-16T01:59:00Z"), ny));
        assert!(!hours.allows(utc("2024-01-16T02:00:00Z"), ny), "21:00 local is closed");
        assert_eq!(hours.next_allowed(utc("2024-01-16T02:00:00Z"), ny), Some(utc("2024-01-16T13:00:00Z")));
        // In summer New York is UTC-4, so the same hours open an hour earlier in UTC.
        assert_eq!(hours.next_allowed(utc("2024-07-01T03:00:00Z"), ny), Some(utc("2024-07-01T12:00:00Z")));
        let inside = utc("2024-07-01T15:00:00Z");
        assert_eq!(hours.next_allowed(inside, ny), Some(inside));
    }

    #[test]
    fn an_opening_inside_a_daylight_saving_gap_moves_to_the_first_real_minute() {
        // On 2024-03-10 New York clocks jump from 02:00 to 03:00.
        let hours = CallingHours::new(2 * 60 + 30, 22 * 60).unwrap();
        let ny: Tz = "America/New_York".parse().unwrap();
        let next = hours.next_allowed(utc("2024-03-10T05:00:00Z"), ny); // 00:00 EST
        assert_eq!(next, Some(utc("2024-03-10T07:00:00Z"))); // 03:00 EDT
    }

    #[test]
    fn a_day_a_zone_skips_is_skipped_and_the_end_of_time_is_no_panic() {
        let apia: Tz = "Pacific/Apia".parse().unwrap();
        // 2011-12-29 21:00 local (UTC-10) is closed; 2011-12-30 never happened there.
        let next = CallingHours::default().next_allowed(utc("2011-12-30T07:00:00Z"), apia);
        assert_eq!(next, Some(utc("2011-12-30T18:00:00Z")), "08:00 on 2011-12-31, UTC+14");
        assert_eq!(CallingHours::new(60, 120).unwrap().next_allowed(DateTime::<Utc>::MAX_UTC, Tz::UTC), None);
    }

    #[test]
    fn hours_parse_and_print_as_clock_times() {
        let hours: CallingHours = serde_json::from_str(r#"{"start":"00:00","end":"24:00"}"#).unwrap();
        assert_eq!(hours, CallingHours::WHOLE_DAY);
        assert_eq!(serde_json::to_string(&CallingHours::default()).unwrap(), r#"{"start":"08:00","end":"21:00"}"#);
        assert!(serde_json::from_str::<CallingHours>(r#"{"start":"8am","end":"24:00"}"#).is_err());
        assert!(serde_json::from_str::<CallingHours>(r#"{"start":"24:00","end":"24:00"}"#).is_err(), "hours that never open are refused on the way in");
        assert!(parse_clock("24:01").is_none());
        assert!(parse_clock("12:60").is_none());
        assert!(CallingHours::new(600, 600).is_err());
    }

    #[test]
    fn retries_follow_the_policy_then_stop() {
        let policy = RetryPolicy::default();
        let ended = utc("2024-01-15T15:00:00Z");
        assert_eq!(policy.next_attempt_after(1, ended), Some(utc("2024-01-15T15:30:00Z")));
        assert_eq!(policy.next_attempt_after(2, ended), Some(utc("2024-01-15T17:00:00Z")));
        assert_eq!(policy.next_attempt_after(3, ended), None);
    }
}
