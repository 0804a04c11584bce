//! When calls come in: calls, answered and booked by the quarter hour they
//! started in, turned into a week of local hours (ISO weekday by hour, in
//! any time zone) and split into the agent's hours and after hours.
//!
//! Rollups keep the counts by UTC quarter hour: a day's profile item holds
//! the day's 96 quarters (`<00-95><n|a|b>`), an hour item its four
//! (`q<0-3><n|a|b>`). Every time zone's offset is a whole number of quarter
//! hours, so each quarter falls in exactly one local hour of any zone, and
//! the cells are exact however the zone is offset (India's half hours,
//! Nepal's three quarters) and across daylight-saving changes.
//!
//! The split into hours and after hours reads each quarter against its
//! agent's hours at the quarter's start: a call counts in hours when its
//! agent's hours (in the agent's zone, its closed days and the practice's
//! holidays) cover the start of the quarter hour it started in. For hours
//! that open and close on the quarter hour, as practices' do, that is the
//! minute the call started.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::{CallFacts, Tally};

/// What each quarter counts, after its quarter's code.
pub const CALLS: &str = "n";
pub const ANSWERED: &str = "a";
pub const BOOKED: &str = "b";

const QUARTER: i64 = 15;

/// The calls, answered and booked that started in one quarter hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuarterCounts {
    pub start: DateTime<Utc>,
    pub counts: Counts,
}

/// Calls, and of them those that connected and those that booked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub calls: i64,
    pub answered: i64,
    pub booked: i64,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.calls = self.calls.saturating_add(other.calls);
        self.answered = self.answered.saturating_add(other.answered);
        self.booked = self.booked.saturating_add(other.booked);
    }
}

/// Reads `<code><n|a|b>` counters of `t` for the quarters `codes` names,
/// the first starting at `first` and each 15 minutes after the one before.
fn quarters(t: &Tally, first: DateTime<Utc>, codes: impl Iterator<Item = String>) -> Vec<QuarterCounts> {
    codes
        .enumerate()
        .filter_map(|(i, code)| {
            let counts =
                Counts { calls: t.get(&format!("{code}{CALLS}")), answered: t.get(&format!("{code}{ANSWERED}")), booked: t.get(&format!("{code}{BOOKED}")) };
            (counts != Counts::default()).then(|| QuarterCounts { start: first + Duration::minutes(QUARTER * i as i64), counts })
        })
        .collect()
}

/// The quarters of a UTC day's profile item.
pub fn day_quarters(date: NaiveDate, t: &Tally) -> Vec<QuarterCounts> {
    quarters(t, date.and_time(chrono::NaiveTime::MIN).and_utc(), (0..96).map(|q| format!("{q:02}")))
}

/// The quarters of the hour item of the UTC hour that starts at `hour`.
pub fn hour_quarters(hour: DateTime<Utc>, t: &Tally) -> Vec<QuarterCounts> {
    quarters(t, hour, (0..4).map(|q| format!("q{q}")))
}

/// The quarter a call counts in; none for a call that never started.
pub fn call_quarter(call: &CallFacts) -> Option<QuarterCounts> {
    let started = call.call_started_at?;
    let t = Tally::hour_profile_of(call);
    let hour = started.with_minute(0)?.with_second(0)?.with_nanosecond(0)?;
    hour_quarters(hour, &t).into_iter().next()
}

/// One cell of the week: calls that started in this local hour of this weekday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HeatCell {
    /// ISO weekday: Monday 1 to Sunday 7.
    pub weekday: u8,
    /// The local hour, 0 to 23.
    pub hour: u8,
    #[serde(flatten)]
    pub counts: Counts,
}

/// The week of local hours in one time zone, and the split by the agents' hours.
#[derive(Debug, Clone)]
pub struct Heat {
    tz: Tz,
    cells: [[Counts; 24]; 7],
    pub in_hours: Counts,
    pub after_hours: Counts,
}

impl Heat {
    pub fn new(tz: Tz) -> Heat {
        Heat { tz, cells: [[Counts::default(); 24]; 7], in_hours: Counts::default(), after_hours: Counts::default() }
    }

    /// Counts a quarter: in its local hour, and in hours or after hours as
    /// `open` says its agent's hours cover the quarter's start (neither for
    /// calls under no agent).
    pub fn add(&mut self, quarter: &QuarterCounts, open: Option<bool>) {
        let local = quarter.start.with_timezone(&self.tz);
        let (day, hour) = (local.weekday().num_days_from_monday() as usize, local.hour() as usize);
        if let Some(cell) = self.cells.get_mut(day).and_then(|row| row.get_mut(hour)) {
            cell.add(&quarter.counts);
        }
        match open {
            Some(true) => self.in_hours.add(&quarter.counts),
            Some(false) => self.after_hours.add(&quarter.counts),
            None => {}
        }
    }

    /// Every cell of the week, Monday 00:00 first.
    pub fn cells(&self) -> Vec<HeatCell> {
        let mut out = Vec::with_capacity(7 * 24);
        for (day, row) in self.cells.iter().enumerate() {
            for (hour, counts) in row.iter().enumerate() {
                out.push(HeatCell { weekday: day as u8 + 1, hour: hour as u8, counts: *counts });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{call::CallLog, call::CallOutcome, call::CallStatus, call::CallType, call::NewCall, time::parse};

    fn facts(started: &str, booked: bool) -> CallFacts {
        let new = NewCall {
            org_id: "o".into(),
            voice_agent_id: "a".into(),
            phone_number: "+1".into(),
            call_type: CallType::Inbound,
            status: CallStatus::Completed,
            attempt: 0,
        };
        let mut call = CallLog::new(new, "c".into(), parse(started).unwrap());
        call.call_started_at = parse(started);
        call.outcome = booked.then_some(CallOutcome::Booked);
        CallFacts::from(&call)
    }

    #[test]
    fn a_call_counts_in_its_quarter_of_the_hour_and_of_the_day() {
        let call = facts("2024-02-07T09:47:12Z", true);
        let hour = Tally::hour_profile_of(&call);
        assert_eq!((hour.get("q3n"), hour.get("q3a"), hour.get("q3b")), (1, 1, 1));
        let day = Tally::day_profile_of(&call);
        assert_eq!(day.get("39n"), 1, "09:45 is the day's 39th quarter (from 0)");
        let quarters = day_quarters(NaiveDate::from_ymd_opt(2024, 2, 7).unwrap(), &day);
        assert_eq!(quarters, vec![QuarterCounts { start: parse("2024-02-07T09:45:00Z").unwrap(), counts: Counts { calls: 1, answered: 1, booked: 1 } }]);
        assert_eq!(call_quarter(&call).unwrap().start, parse("2024-02-07T09:45:00Z").unwrap());
    }

    #[test]
    fn quarters_fall_in_the_local_hour_of_any_zone() {
        let mut heat = Heat::new("Asia/Kolkata".parse().unwrap());
        // 03:45 UTC is 09:15 in India (UTC+5:30), a Wednesday.
        heat.add(&call_quarter(&facts("2024-02-07T03:47:00Z", false)).unwrap(), Some(true));
        // 03:15 UTC is 08:45 there.
        heat.add(&call_quarter(&facts("2024-02-07T03:20:00Z", false)).unwrap(), Some(false));
        let cells = heat.cells();
        assert_eq!(cells.len(), 168);
        let cell = |weekday: u8, hour: u8| cells.iter().find(|c| c.weekday == weekday && c.hour == hour).unwrap().counts.calls;
        assert_eq!((cell(3, 9), cell(3, 8), cell(3, 3)), (1, 1, 0));
        assert_eq!((heat.in_hours.calls, heat.after_hours.calls), (1, 1));
    }
}
