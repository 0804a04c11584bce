//! The rules of the clock for one call, in the callee's own local time:
//! the agent's window for that day of the week (or none: a closed day),
//! the tenant's holidays (closed dates), and the law's windows
//! ([`crate::placement::call_rules::WINDOWS`]: 08:00-21:00 everywhere, 08:00-20:00 in
//! the states that say so, the days and hours of the states' and Canada's
//! telemarketing rules), all at once, in every zone the callee may be in
//! ([`crate::placement::callee::Callee`]). A call fits when every zone's local time
//! is inside that zone's day's window.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::{agent::VoiceAgent, call::CallType, placement::call_rules::WINDOWS, placement::callee::Callee, time};

/// What the clock rules of one call are made of.
#[derive(Debug, Clone, Copy)]
pub struct Clock<'a> {
    pub agent: &'a VoiceAgent,
    pub callee: &'a Callee,
    /// What the call is: some rules hold only some types (telemarketing).
    pub call_type: CallType,
    /// The tenant's closed dates, read as local dates where the callee is.
    pub holidays: &'a [NaiveDate],
    /// Times the callee said are inconvenient (kept for collection calls,
    /// 12 CFR 1006.6(b)(1)(i)); empty for other calls.
    pub inconvenient: &'a [InconvenientTime],
}

/// A time a patient said not to call: local minutes from `start` to `end`
/// (end exclusive) on `days` (every day when empty), on the callee's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InconvenientTime {
    #[serde(default)]
    pub days: Vec<crate::agent::Day>,
    #[serde(with = "crate::agent::hours::clock_text")]
    pub start: u16,
    #[serde(with = "crate::agent::hours::clock_text")]
    pub end: u16,
}

/// The most inconvenient times kept for one number.
pub const MAX_INCONVENIENT_TIMES: usize = 14;

impl InconvenientTime {
    /// Checked: a window that starts before it ends, within a day.
    pub fn new(days: Vec<crate::agent::Day>, start: u16, end: u16) -> Result<InconvenientTime, crate::error::DomainError> {
        if start >= end || end > 24 * 60 {
            return Err(crate::error::DomainError::invalid(
                "invalid_inconvenient_times",
                "an inconvenient time must start before it ends, within one day (00:00 to 24:00)",
            ));
        }
        let mut days = days;
        days.sort();
        days.dedup();
        Ok(InconvenientTime { days, start, end })
    }

    fn applies_on(&self, day: NaiveDate) -> bool {
        self.days.is_empty() || self.days.contains(&crate::agent::Day::of(day.weekday()))
    }
}

/// Why a time does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockRefusal {
    /// A closed day of the week or a holiday, in one of the callee's zones.
    ClosedDay,
    /// Outside the window of the day.
    OutsideHours,
    /// At a time the callee said is inconvenient.
    Inconvenient,
}

impl ClockRefusal {
    pub fn code(self) -> &'static str {
        match self {
            ClockRefusal::ClosedDay => "closed_day",
            ClockRefusal::OutsideHours => "outside_calling_hours",
            ClockRefusal::Inconvenient => "inconvenient_time",
        }
    }
}

/// One rule of the clock, checked at one time, for `GET /api/compliance/check` and a placed call's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleCheck {
    pub rule: String,
    pub ok: bool,
    pub detail: String,
}

/// How many days ahead an opening is looked for in one zone.
const DAYS_AHEAD: u32 = 400;
/// How many times the zones' openings are reconciled before giving up.
const ROUNDS: u32 = 64;

fn minute_of(local: &DateTime<Tz>) -> u16 {
    (local.hour() * 60 + local.minute()) as u16
}

impl Clock<'_> {
    /// The window (minutes from local midnight) on a local date, or `None`: closed.
    pub fn window_on(&self, day: NaiveDate) -> Option<(u16, u16)> {
        if self.holidays.contains(&day) {
            return None;
        }
        let hours = self.agent.hours_on(day.weekday())?;
        let (mut start, mut end) = (hours.start, hours.end);
        for rule in WINDOWS.iter().filter(|r| r.holds(self.callee, self.call_type)) {
            let (rule_start, rule_end) = rule.window_on(day)?;
            start = start.max(rule_start);
            end = end.min(rule_end);
        }
        (start < end).then_some((start, end))
    }

    /// The parts of a day's window outside every inconvenient time.
    fn segments_on(&self, day: NaiveDate) -> Vec<(u16, u16)> {
        let Some(window) = self.window_on(day) else { return Vec::new() };
        let mut segments = vec![window];
        for cut in self.inconvenient.iter().filter(|t| t.applies_on(day)) {
            segments = segments
                .into_iter()
                .flat_map(|(s, e)| [(s, e.min(cut.start)), (s.max(cut.end), e)].into_iter().filter(|(a, b)| a < b).collect::<Vec<_>>())
                .collect();
        }
        segments
    }

    fn refusal_in(&self, at: DateTime<Utc>, zone: Tz) -> Option<ClockRefusal> {
        let local = at.with_timezone(&zone);
        let day = local.date_naive();
        if self.window_on(day).is_none() {
            return Some(ClockRefusal::ClosedDay);
        }
        let minute = minute_of(&local);
        if self.segments_on(day).iter().any(|(start, end)| (*start..*end).contains(&minute)) {
            return None;
        }
        let inconvenient = self.inconvenient.iter().any(|t| t.applies_on(day) && (t.start..t.end).contains(&minute));
        Some(if inconvenient { ClockRefusal::Inconvenient } else { ClockRefusal::OutsideHours })
    }

    /// Why `at` does not fit, if it does not: a closed day in any zone first, else outside the hours.
    pub fn refusal(&self, at: DateTime<Utc>) -> Option<ClockRefusal> {
        let refusals: Vec<ClockRefusal> = self.callee.zones.iter().filter_map(|z| self.refusal_in(at, *z)).collect();
        refusals.iter().copied().find(|r| *r == ClockRefusal::ClosedDay).or(refusals.first().copied())
    }

    /// The first time at or after `at` that fits in `zone`.
    fn next_in(&self, at: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
        if self.refusal_in(at, zone).is_none() {
            return Some(at);
        }
        let mut day = at.with_timezone(&zone).date_naive();
        for _ in 0..DAYS_AHEAD {
            for (start, _) in self.segments_on(day) {
                let opening = NaiveTime::from_num_seconds_from_midnight_opt(u32::from(start) * 60, 0)?;
                // A start inside a daylight-saving gap is the first real minute after it.
                let candidate = time::local_to_utc(zone, day.and_time(opening));
                if candidate > at && self.refusal_in(candidate, zone).is_none() {
                    return Some(candidate);
                }
            }
            day = day.succ_opt()?;
        }
        None
    }

    /// The first time at or after `at` that fits every zone; `None` when
    /// none comes (windows that never meet, or never open).
    pub fn next_opening(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut t = at;
        for _ in 0..ROUNDS {
            let mut latest = t;
            for zone in &self.callee.zones {
                latest = latest.max(self.next_in(t, *zone)?);
            }
            if latest == t {
                return Some(t);
            }
            t = latest;
        }
        None
    }

    /// Each clock rule at `at`, as it applies to this callee.
    pub fn checks(&self, at: DateTime<Utc>) -> Vec<RuleCheck> {
        let mut checks = Vec::new();
        let locals: Vec<DateTime<Tz>> = self.callee.zones.iter().map(|z| at.with_timezone(z)).collect();
        let described = |l: &DateTime<Tz>| format!("{} {}", l.format("%a %Y-%m-%d %H:%M"), l.timezone().name());
        let closed: Vec<String> = locals.iter().filter(|l| self.window_on(l.date_naive()).is_none()).map(described).collect();
        checks.push(RuleCheck {
            rule: "open_day".into(),
            ok: closed.is_empty(),
            detail: if closed.is_empty() { "no holiday or closed day where the callee is".into() } else { format!("closed: {}", closed.join(", ")) },
        });
        let agent_ok = locals.iter().all(|l| self.agent.hours_on(l.weekday()).is_some_and(|h| (h.start..h.end).contains(&minute_of(l))));
        checks.push(RuleCheck {
            rule: "agent_hours".into(),
            ok: agent_ok,
            detail: format!("the agent's hours, at {}", locals.iter().map(described).collect::<Vec<_>>().join(", ")),
        });
        if !self.inconvenient.is_empty() {
            let hit = locals.iter().any(|l| self.inconvenient.iter().any(|t| t.applies_on(l.date_naive()) && (t.start..t.end).contains(&minute_of(l))));
            checks.push(RuleCheck {
                rule: "regf_inconvenient_time".into(),
                ok: !hit,
                detail: format!("{} time(s) the callee said are inconvenient (12 CFR 1006.6(b)(1)(i))", self.inconvenient.len()),
            });
        }
        let clock = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        for rule in WINDOWS.iter().filter(|r| r.holds(self.callee, self.call_type)) {
            let windows: Vec<Option<(u16, u16)>> = locals.iter().map(|l| rule.window_on(l.date_naive())).collect();
            let ok = locals.iter().zip(&windows).all(|(l, w)| w.is_some_and(|(start, end)| (start..end).contains(&minute_of(l))));
            let said: Vec<String> =
                windows.iter().map(|w| w.map_or_else(|| "no calls that day".to_string(), |(a, b)| format!("{}-{}", clock(a), clock(b)))).collect();
            let mut said_once = said.clone();
            said_once.dedup();
            checks.push(RuleCheck { rule: rule.rule.into(), ok, detail: format!("{} the callee's local time ({})", said_once.join(" / "), rule.source) });
        }
        checks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{agent::CallingHours, fixtures::agent};

    fn at(text: &str) -> DateTime<Utc> {
        time::parse(text).unwrap()
    }

    fn callee(zones: &[&str], states: &[&str]) -> Callee {
        Callee::in_zones(zones, states)
    }

    #[test]
    fn the_callees_clock_decides_not_the_agents() {
        let mut agent = agent();
        agent.calling_hours = CallingHours::WHOLE_DAY;
        let la = callee(&["America/Los_Angeles"], &["CA"]);
        let clock = Clock { agent: &agent, call_type: CallType::OutboundFollowup, callee: &la, holidays: &[], inconvenient: &[] };
        // 08:00 in New York is 05:00 in Los Angeles.
        assert_eq!(clock.refusal(at("2024-01-16T13:00:00Z")), Some(ClockRefusal::OutsideHours));
        assert_eq!(clock.next_opening(at("2024-01-16T13:00:00Z")), Some(at("2024-01-16T16:00:00Z")), "08:00 Pacific");
        assert_eq!(clock.next_opening(at("2024-01-17T04:59:00Z")), Some(at("2024-01-17T04:59:00Z")), "20:59 Pacific");
        assert_eq!(clock.next_opening(at("2024-01-17T05:00:00Z")), Some(at("2024-01-17T16:00:00Z")), "21:00 Pacific is closed");
    }

    #[test]
    fn stricter_states_end_at_eight_and_no_setting_loosens_the_law() {
        let mut agent = agent();
        agent.calling_hours = CallingHours::WHOLE_DAY;
        for state in ["FL", "OK", "MD", "WA"] {
            let c = callee(&["America/New_York"], &[state]);
            let clock = Clock { agent: &agent, call_type: CallType::OutboundFollowup, callee: &c, holidays: &[], inconvenient: &[] };
            assert_eq!(clock.refusal(at("2024-01-16T00:59:00Z")), None, "{state}: 19:59");
            assert_eq!(clock.refusal(at("2024-01-16T01:00:00Z")), Some(ClockRefusal::OutsideHours), "{state}: 20:00");
        }
        let ny = callee(&["America/New_York"], &["NY"]);
        let clock = Clock { agent: &agent, call_type: CallType::OutboundFollowup, callee: &ny, holidays: &[], inconvenient: &[] };
        assert_eq!(clock.refusal(at("2024-01-16T01:00:00Z")), None, "New York: 20:00 is fine");
        assert_eq!(clock.refusal(at("2024-01-16T02:00:00Z")), Some(ClockRefusal::OutsideHours), "21:00 federally");
        assert_eq!(clock.refusal(at("2024-01-16T12:59:00Z")), Some(ClockRefusal::OutsideHours), "07:59");
    }

    #[test]
    fn a_number_in_two_zones_fits_both() {
        let mut agent = agent();
        agent.calling_hours = CallingHours::WHOLE_DAY;
        let split = callee(&["America/Boise", "America/Los_Angeles"], &["ID"]);
        let clock = Clock { agent: &agent, call_type: CallType::OutboundFollowup, callee: &split, holidays: &[], inconvenient: &[] };
        // 08:00 Mountain is 07:00 Pacific: wait for 08:00 Pacific; the evening ends at 21:00 Mountain.
        assert_eq!(clock.next_opening(at("2024-01-16T15:00:00Z")), Some(at("2024-01-16T16:00:00Z")));
        assert_eq!(clock.refusal(at("2024-01-17T03:59:00Z")), None, "20:59 Mountain, 19:59 Pacific");
        assert_eq!(clock.refusal(at("2024-01-17T04:00:00Z")), Some(ClockRefusal::OutsideHours), "21:00 Mountain");
        // Windows that never meet (mornings in New York and in Tokyo): no time fits, and no loop forever.
        agent.calling_hours = CallingHours::new(9 * 60, 12 * 60).unwrap();
        let apart = callee(&["America/New_York", "Asia/Tokyo"], &[]);
        assert_eq!(
            Clock { agent: &agent, call_type: CallType::OutboundFollowup, callee: &apart, holidays: &[], inconvenient: &[] }
                .next_opening(at("2024-01-16T15:00:00Z")),
            None
        );
    }

    #[test]
    fn closed_days_and_holidays_are_local_dates_of_the_callee() {
        let mut agent = agent();
        agent.closed_days = vec![crate::agent::Day::of(chrono::Weekday::Sun)];
        agent.hours_by_day.insert(crate::agent::Day::of(chrono::Weekday::Sat), CallingHours::new(9 * 60, 13 * 60).unwrap());
        let ny = callee(&["America/New_York"], &[]);
        let holiday = NaiveDate::from_ymd_opt(2024, 1, 15).unwrap(); // a Monday
        let clock = Clock { agent: &agent, call_type: CallType::OutboundFollowup, callee: &ny, holidays: &[holiday], inconvenient: &[] };
        // Saturday 2024-01-13 14:00 local: after Saturday's hours; Sunday closed; Monday a holiday: Tuesday 08:00.
        assert_eq!(clock.next_opening(at("2024-01-13T19:00:00Z")), Some(at("2024-01-16T13:00:00Z")));
        assert_eq!(clock.refusal(at("2024-01-14T15:00:00Z")), Some(ClockRefusal::ClosedDay));
        assert_eq!(clock.refusal(at("2024-01-15T15:00:00Z")), Some(ClockRefusal::ClosedDay));
        assert_eq!(clock.next_opening(at("2024-01-13T13:00:00Z")), Some(at("2024-01-13T14:00:00Z")), "Saturday opens at 09:00");
        let checks = clock.checks(at("2024-01-15T15:00:00Z"));
        assert!(!checks[0].ok && checks[0].detail.contains("2024-01-15"), "{checks:?}");
    }

    #[test]
    fn a_collection_call_waits_out_the_times_the_patient_said_are_inconvenient() {
        let mut agent = agent();
        agent.calling_hours = CallingHours::WHOLE_DAY;
        let ny = callee(&["America/New_York"], &[]);
        let lunch = InconvenientTime::new(vec![], 12 * 60, 14 * 60).unwrap();
        let weekday_mornings = InconvenientTime::new(vec![crate::agent::Day::of(chrono::Weekday::Tue)], 8 * 60, 10 * 60).unwrap();
        let times = [lunch, weekday_mornings];
        let clock = Clock { agent: &agent, call_type: CallType::OutboundFollowup, callee: &ny, holidays: &[], inconvenient: &times };
        // Tuesday 2024-01-16 12:30 New York: lunch; next 14:00.
        assert_eq!(clock.refusal(at("2024-01-16T17:30:00Z")), Some(ClockRefusal::Inconvenient));
        assert_eq!(clock.next_opening(at("2024-01-16T17:30:00Z")), Some(at("2024-01-16T19:00:00Z")));
        // Tuesday 07:00: the law opens at 08:00, the patient at 10:00.
        assert_eq!(clock.next_opening(at("2024-01-16T12:00:00Z")), Some(at("2024-01-16T15:00:00Z")));
        // Wednesday 08:00 is fine.
        assert_eq!(clock.next_opening(at("2024-01-17T13:00:00Z")), Some(at("2024-01-17T13:00:00Z")));
        assert!(InconvenientTime::new(vec![], 600, 600).is_err());
    }

    #[test]
    fn daylight_saving_moves_with_the_callees_zone() {
        let mut agent = agent();
        agent.calling_hours = CallingHours::WHOLE_DAY;
        let la = callee(&["America/Los_Angeles"], &[]);
        let clock = Clock { agent: &agent, call_type: CallType::OutboundFollowup, callee: &la, holidays: &[], inconvenient: &[] };
        // 2024-03-10: Pacific time moves from UTC-8 to UTC-7 at 02:00.
        assert_eq!(clock.next_opening(at("2024-03-10T10:00:00Z")), Some(at("2024-03-10T15:00:00Z")), "08:00 PDT");
        assert_eq!(clock.next_opening(at("2024-03-09T10:00:00Z")), Some(at("2024-03-09T16:00:00Z")), "08:00 PST the day before");
        // 2024-11-03: back to UTC-8.
        assert_eq!(clock.next_opening(at("2024-11-03T10:00:00Z")), Some(at("2024-11-03T16:00:00Z")));
    }
}
