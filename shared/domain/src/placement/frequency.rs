//! How often one number may be called: every outbound attempt to a number
//! of a tenant is kept in its ledger ([`Ledger`]), whatever the call type,
//! campaign, retry or follow-up, and each new attempt is checked against
//! the law's limits ([`crate::placement::call_rules::FREQUENCY`]: 3 in 24 hours in
//! Florida, Oklahoma and Maryland; Regulation F's 7 in 7 days per debt and
//! none in the 7 days after a conversation about it) and the tenant's own
//! cap. The calls waiting for the number count too, as planned attempts
//! ([`Ledger::planned`]), so a plan that would break a limit is refused when
//! it is made: a limit holds in every window, before and after the new
//! attempt. The dialer's claim writes the attempt into the ledger in the same
//! transaction as the claim, on the ledger's revision, so two attempts
//! racing for the last one allowed cannot both pass.

use chrono::{DateTime, Days, Duration, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    call::CallLog,
    call::CallType,
    placement::call_rules::{FREQUENCY, FrequencyRule, Per, REGF_AFTER_CONVERSATION},
    placement::callee::{Callee, Places},
    time,
};

/// How long attempts are kept in a ledger: the longest window, and a day.
pub const KEPT: Duration = Duration::days(8);

/// One attempt to a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    #[serde(with = "time::ms")]
    pub at: DateTime<Utc>,
    pub call_type: CallType,
    /// The debt it was about (`OUTBOUND_DEBT`), when the call names one.
    #[serde(default)]
    pub debt_id: Option<String>,
    pub call_id: String,
    /// Where the call's own record said its callee may be: it binds every later call to the number.
    #[serde(default, skip_serializing_if = "Places::is_empty")]
    pub places: Places,
}

impl Attempt {
    /// `call`'s attempt at `at`.
    pub fn of(call: &CallLog, at: DateTime<Utc>) -> Attempt {
        Attempt {
            at: time::to_millis(at),
            call_type: call.call_type,
            debt_id: call.debt_id.clone(),
            call_id: call.id.to_string(),
            places: Places::of_call(call),
        }
    }
}

/// A telephone conversation about a debt: Regulation F counts seven days from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    /// The debt, or `None` for collection calls that name none (counted under the number).
    #[serde(default)]
    pub debt_id: Option<String>,
    #[serde(with = "time::ms")]
    pub at: DateTime<Utc>,
}

/// A tenant's record of the attempts to one number, and its revision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ledger {
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    #[serde(default)]
    pub conversations: Vec<Conversation>,
    /// The times the callee said are inconvenient (collection calls keep to them).
    #[serde(default)]
    pub inconvenient: Vec<crate::placement::clock::InconvenientTime>,
    /// Every place a call to the number carried ([`Attempt::places`]),
    /// kept for good: where the callee may be binds every later call.
    #[serde(default)]
    pub places: Places,
    /// The latest opt-out or revocation for the number: a consent captured
    /// before it never makes the number callable again.
    #[serde(with = "time::ms::option", default)]
    pub opted_out_at: Option<DateTime<Utc>>,
    /// The calls waiting for the number, each at its time: attempts to come.
    /// Read beside the ledger when a call is planned; the dialer's claim
    /// counts only the attempts made.
    #[serde(default, skip_serializing)]
    pub planned: Vec<Attempt>,
    /// `None` until the ledger is first written.
    #[serde(default, skip_serializing)]
    pub revision: Option<u64>,
}

/// A limit an attempt would break, and when it would not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverLimit {
    /// The refusal's code: `frequency_limit`, `regf_7_in_7`, `regf_after_conversation`.
    pub code: &'static str,
    pub rule: &'static str,
    /// The first time this limit allows the attempt.
    pub next_allowed_at: DateTime<Utc>,
}

/// The limits that apply to one attempt.
#[derive(Debug, Clone, Copy)]
pub struct Limits<'a> {
    pub callee: &'a Callee,
    /// The tenant's own cap on attempts to one number within 24 hours.
    pub tenant_cap_per_day: u32,
    /// The ledger of the attempt's debt, kept across every number
    /// (Regulation F counts calls to a person about a debt, on any number).
    pub debt: Option<&'a Ledger>,
    /// The attempt rests on the healthcare exemption: its limits apply ([`FrequencyRule::exemption`]).
    pub healthcare_exemption: bool,
}

/// The attempt the limits are checked for: which call, of which type, about which debt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempting<'a> {
    pub call_id: &'a str,
    pub call_type: CallType,
    pub debt_id: Option<&'a str>,
}

impl<'a> From<&'a CallLog> for Attempting<'a> {
    fn from(call: &'a CallLog) -> Self {
        Attempting { call_id: call.id.as_str(), call_type: call.call_type, debt_id: call.debt_id.as_deref() }
    }
}

/// Whether `rule` holds an attempt of `call_type` under `limits`.
pub fn holds(rule: &FrequencyRule, call_type: CallType, limits: &Limits) -> bool {
    rule.scope.applies(limits.callee) && rule.call_types.is_none_or(|types| types.contains(&call_type)) && (!rule.exemption || limits.healthcare_exemption)
}

/// Whether `rule` counts `attempt` in the same tally as `who`.
fn counted(rule: &FrequencyRule, attempt: &Attempt, who: Attempting) -> bool {
    let typed = |t: CallType| rule.call_types.is_none_or(|types| types.contains(&t));
    typed(attempt.call_type)
        && match rule.per {
            Per::Number => true,
            Per::Debt => attempt.debt_id.as_deref() == who.debt_id,
        }
        && typed(who.call_type)
}

/// `None` when one more attempt at `at` leaves every `within`-long window
/// holding it with at most `max` attempts, counting `times` (made and
/// planned, before and after `at`); otherwise the first later time that does.
fn when_fits(times: &mut [DateTime<Utc>], max: u32, within: Duration, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    times.sort();
    let max = max.max(1) as usize;
    let fits = |t: DateTime<Utc>| {
        let near: Vec<DateTime<Utc>> = times.iter().copied().filter(|x| *x > t - within && *x < t + within).collect();
        // `max` others that fit in one window with `t` would make it `max + 1`.
        near.windows(max).all(|group| group[max - 1].max(t) - group[0].min(t) >= within)
    };
    if fits(at) {
        return None;
    }
    // The first time allowed again is when an attempt has left the window: one of them plus `within`.
    let mut leaving: Vec<DateTime<Utc>> = times.iter().map(|x| *x + within).filter(|t| *t > at).collect();
    leaving.sort();
    leaving.into_iter().find(|t| fits(*t))
}

impl Ledger {
    /// Whether nothing is known of the number: no attempt made or planned, no conversation, no inconvenient time, no place, no opt-out.
    pub fn is_empty(&self) -> bool {
        self.attempts.is_empty()
            && self.planned.is_empty()
            && self.conversations.is_empty()
            && self.inconvenient.is_empty()
            && self.places.is_empty()
            && self.opted_out_at.is_none()
    }

    /// The inconvenient times that apply to a call of `call_type`: a
    /// collection call's only, the number's and those the person gave on
    /// any number about the call's debt (`debt`, its ledger): a time the
    /// consumer said is inconvenient is inconvenient on every number
    /// (12 CFR 1006.6(b)(1)(i)).
    pub fn inconvenient_for(&self, call_type: CallType, debt: Option<&Ledger>) -> Vec<crate::placement::clock::InconvenientTime> {
        if call_type != CallType::OutboundDebt {
            return Vec::new();
        }
        let mut times = self.inconvenient.clone();
        for time in debt.map_or(&[][..], |d| d.inconvenient.as_slice()) {
            if !times.contains(time) {
                times.push(time.clone());
            }
        }
        times
    }

    /// The attempts and conversations still within [`KEPT`] of `now`.
    pub fn pruned(&self, now: DateTime<Utc>) -> Ledger {
        Ledger {
            attempts: self.attempts.iter().filter(|a| a.at > now - KEPT).cloned().collect(),
            conversations: self.conversations.iter().filter(|c| c.at > now - KEPT).cloned().collect(),
            ..self.clone()
        }
    }

    /// The ledger with `call`'s attempt at `at` in it (pruned), and the places its record carried.
    pub fn with_attempt(&self, call: &CallLog, at: DateTime<Utc>) -> Ledger {
        let mut next = self.pruned(at);
        next.attempts.retain(|a| a.call_id != call.id.as_str());
        let attempt = Attempt::of(call, at);
        next.places.add(&attempt.places);
        next.attempts.push(attempt);
        next
    }

    /// Every place a call to the number carried: those kept, and those of
    /// the attempts made and waiting. Every later call is held to them.
    pub fn history(&self) -> Places {
        let mut places = self.places.clone();
        for attempt in self.attempts.iter().chain(&self.planned) {
            places.add(&attempt.places);
        }
        places
    }

    /// The limits an attempt by `who` at `at` would break, with each one's
    /// next allowed time, in the table's order (the tenant's cap last). The
    /// attempts made and planned are counted, except `who`'s own (a retried
    /// claim, a call moved).
    pub fn over_limits<'w>(&self, who: impl Into<Attempting<'w>>, at: DateTime<Utc>, limits: &Limits) -> Vec<OverLimit> {
        let who: Attempting = who.into();
        let debt = who.debt_id;
        let others: Vec<&Attempt> = self.attempts.iter().chain(&self.planned).filter(|a| a.call_id != who.call_id).collect();
        // About the debt: this number's attempts and, once each, those to the person's other numbers.
        let mut about_debt: Vec<&Attempt> = others.clone();
        for attempt in limits.debt.map_or(&[][..], |d| d.attempts.as_slice()) {
            if attempt.call_id != who.call_id && !about_debt.iter().any(|a| a.call_id == attempt.call_id) {
                about_debt.push(attempt);
            }
        }
        let mut over = Vec::new();
        for rule in FREQUENCY.iter().filter(|r| holds(r, who.call_type, limits)) {
            let pool = if rule.per == Per::Debt { &about_debt } else { &others };
            let mut times: Vec<DateTime<Utc>> = pool.iter().filter(|a| counted(rule, a, who)).map(|a| a.at).collect();
            if let Some(next) = when_fits(&mut times, rule.max, rule.within, at) {
                over.push(OverLimit { code: rule.code, rule: rule.rule, next_allowed_at: next });
            }
        }
        if who.call_type == CallType::OutboundDebt {
            let (rule, code, days, _) = REGF_AFTER_CONVERSATION;
            let conversations = self.conversations.iter().chain(limits.debt.map_or(&[][..], |d| d.conversations.as_slice()));
            for conversation in conversations.filter(|c| c.debt_id.as_deref() == debt) {
                // The conversation's date is day 1: calls may come again on day 8, at local midnight, in every zone the callee may be in.
                let allowed = limits.callee.zones.iter().filter_map(|zone| {
                    let day_one = conversation.at.with_timezone(zone).date_naive();
                    let day_eight = day_one.checked_add_days(Days::new(days as u64))?;
                    Some(time::local_to_utc(*zone, day_eight.and_time(NaiveTime::MIN)))
                });
                if let Some(allowed) = allowed.max()
                    && at < allowed
                {
                    over.push(OverLimit { code, rule, next_allowed_at: allowed });
                }
            }
        }
        let mut all: Vec<DateTime<Utc>> = others.iter().map(|a| a.at).collect();
        if let Some(next) = when_fits(&mut all, limits.tenant_cap_per_day, Duration::hours(24), at) {
            over.push(OverLimit { code: "frequency_limit", rule: "tenant_cap", next_allowed_at: next });
        }
        over
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{call::CallStatus, call::NewCall};

    fn at(text: &str) -> DateTime<Utc> {
        time::parse(text).unwrap()
    }

    fn call(id: &str, call_type: CallType, debt: Option<&str>) -> CallLog {
        let new = NewCall {
            org_id: "o".into(),
            voice_agent_id: "a".into(),
            phone_number: "+13055550100".into(),
            call_type,
            status: CallStatus::Scheduled,
            attempt: 1,
        };
        let mut call = CallLog::new(new, id.into(), at("2024-01-01T00:00:00Z"));
        call.debt_id = debt.map(str::to_string);
        call
    }

    fn attempt(at_text: &str, call_type: CallType, debt: Option<&str>, id: &str) -> Attempt {
        Attempt { at: at(at_text), call_type, debt_id: debt.map(str::to_string), call_id: id.into(), places: Default::default() }
    }

    fn florida() -> Callee {
        Callee::of("+13055550100", &crate::placement::callee::Places::default())
    }

    fn new_york() -> Callee {
        Callee::of("+12125550100", &crate::placement::callee::Places::default())
    }

    #[test]
    fn florida_allows_three_calls_in_twenty_four_hours() {
        let callee = florida();
        let limits = Limits { callee: &callee, tenant_cap_per_day: 20, debt: None, healthcare_exemption: false };
        let ledger = Ledger {
            attempts: vec![
                attempt("2024-01-15T14:00:00Z", CallType::OutboundLead, None, "a"),
                attempt("2024-01-15T15:00:00Z", CallType::OutboundFollowup, None, "b"),
                attempt("2024-01-15T16:00:00Z", CallType::OutboundCampaign, None, "c"),
            ],
            ..Ledger::default()
        };
        let fourth = call("d", CallType::OutboundOther, None);
        let over = ledger.over_limits(&fourth, at("2024-01-15T20:00:00Z"), &limits);
        assert_eq!(
            over,
            vec![OverLimit { code: "frequency_limit", rule: "fl_3_in_24h", next_allowed_at: at("2024-01-16T14:00:00Z") }],
            "every call type counts"
        );
        assert!(ledger.over_limits(&fourth, at("2024-01-16T14:00:00Z"), &limits).is_empty(), "24 hours after the first");
        // The same call again (a retried claim) is not counted against itself.
        assert!(ledger.over_limits(&call("c", CallType::OutboundCampaign, None), at("2024-01-15T20:00:00Z"), &limits).is_empty());
        // New York has no such state limit; the tenant's cap still holds.
        let ny = new_york();
        assert!(
            ledger
                .over_limits(&fourth, at("2024-01-15T20:00:00Z"), &Limits { callee: &ny, tenant_cap_per_day: 20, debt: None, healthcare_exemption: false })
                .is_empty()
        );
        let capped =
            ledger.over_limits(&fourth, at("2024-01-15T20:00:00Z"), &Limits { callee: &ny, tenant_cap_per_day: 3, debt: None, healthcare_exemption: false });
        assert_eq!(capped.iter().map(|o| o.rule).collect::<Vec<_>>(), vec!["tenant_cap"]);
    }

    #[test]
    fn calls_waiting_for_the_number_count_before_and_after_the_new_one() {
        let callee = florida();
        let limits = Limits { callee: &callee, tenant_cap_per_day: 20, debt: None, healthcare_exemption: false };
        // One call made this morning, two waiting for this afternoon.
        let ledger = Ledger {
            attempts: vec![attempt("2024-01-15T14:00:00Z", CallType::OutboundLead, None, "made")],
            planned: vec![
                attempt("2024-01-15T18:00:00Z", CallType::OutboundFollowup, None, "p1"),
                attempt("2024-01-15T20:00:00Z", CallType::OutboundCampaign, None, "p2"),
            ],
            ..Ledger::default()
        };
        let new = call("n", CallType::OutboundOther, None);
        let over = ledger.over_limits(&new, at("2024-01-15T16:00:00Z"), &limits);
        assert_eq!(over.iter().map(|o| (o.code, o.next_allowed_at)).collect::<Vec<_>>(), vec![("frequency_limit", at("2024-01-16T14:00:00Z"))]);
        // Tomorrow before 14:00 the morning's call and both waiting ones are still within 24 hours.
        assert_eq!(ledger.over_limits(&new, at("2024-01-16T13:00:00Z"), &limits).len(), 1);
        assert!(ledger.over_limits(&new, at("2024-01-16T14:00:00Z"), &limits).is_empty());
        // Before the waiting calls, with nothing made: the three waiting ones fill the day.
        let waiting = Ledger {
            planned: ["2024-01-16T14:00:00Z", "2024-01-16T15:00:00Z", "2024-01-16T16:00:00Z"]
                .iter()
                .enumerate()
                .map(|(i, t)| attempt(t, CallType::OutboundLead, None, &format!("w{i}")))
                .collect(),
            ..Ledger::default()
        };
        let early = waiting.over_limits(&new, at("2024-01-16T08:00:00Z"), &limits);
        assert_eq!(early.iter().map(|o| o.next_allowed_at).collect::<Vec<_>>(), vec![at("2024-01-17T14:00:00Z")], "after the first has left the window");
        assert!(waiting.over_limits(&new, at("2024-01-15T14:00:00Z"), &limits).is_empty(), "a full day before them");
        // A waiting call that is the one being moved does not count against itself.
        assert!(waiting.over_limits(&call("w0", CallType::OutboundLead, None), at("2024-01-16T08:00:00Z"), &limits).is_empty());
    }

    #[test]
    fn regulation_f_counts_seven_in_seven_days_per_debt() {
        let callee = new_york();
        let limits = Limits { callee: &callee, tenant_cap_per_day: 20, debt: None, healthcare_exemption: false };
        let seven: Vec<Attempt> =
            (1..=7).map(|d| attempt(&format!("2024-01-0{d}T15:00:00Z"), CallType::OutboundDebt, Some("inv-1"), &format!("a{d}"))).collect();
        let ledger = Ledger { attempts: seven, ..Ledger::default() };
        let eighth = call("x", CallType::OutboundDebt, Some("inv-1"));
        let over = ledger.over_limits(&eighth, at("2024-01-07T18:00:00Z"), &limits);
        assert_eq!(over.iter().map(|o| (o.code, o.next_allowed_at)).collect::<Vec<_>>(), vec![("regf_7_in_7", at("2024-01-08T15:00:00Z"))]);
        assert!(ledger.over_limits(&eighth, at("2024-01-08T15:00:00Z"), &limits).is_empty(), "the first has left the seven days");
        assert!(ledger.over_limits(&call("y", CallType::OutboundDebt, Some("inv-2")), at("2024-01-07T18:00:00Z"), &limits).is_empty(), "another debt");
        assert!(ledger.over_limits(&call("z", CallType::OutboundLead, None), at("2024-01-07T18:00:00Z"), &limits).is_empty(), "not a collection call");
    }

    #[test]
    fn after_a_conversation_about_a_debt_none_for_seven_days_counting_its_day() {
        let callee = new_york();
        let limits = Limits { callee: &callee, tenant_cap_per_day: 20, debt: None, healthcare_exemption: false };
        // A conversation on Monday 2024-01-15 at 10:00 New York: day 1; calls may come again from Monday 2024-01-22 00:00 local.
        let ledger = Ledger { conversations: vec![Conversation { debt_id: Some("inv-1".into()), at: at("2024-01-15T15:00:00Z") }], ..Ledger::default() };
        let debt = call("x", CallType::OutboundDebt, Some("inv-1"));
        let over = ledger.over_limits(&debt, at("2024-01-21T23:00:00Z"), &limits);
        assert_eq!(over.iter().map(|o| (o.code, o.next_allowed_at)).collect::<Vec<_>>(), vec![("regf_after_conversation", at("2024-01-22T05:00:00Z"))]);
        assert!(ledger.over_limits(&debt, at("2024-01-22T05:00:00Z"), &limits).is_empty());
        assert!(ledger.over_limits(&call("y", CallType::OutboundDebt, Some("inv-2")), at("2024-01-16T15:00:00Z"), &limits).is_empty(), "about another debt");
    }

    #[test]
    fn the_ledger_keeps_eight_days_and_each_call_once() {
        let ledger = Ledger { attempts: vec![attempt("2024-01-01T00:00:00Z", CallType::OutboundLead, None, "old")], ..Ledger::default() };
        let c = call("c", CallType::OutboundLead, None);
        let next = ledger.with_attempt(&c, at("2024-01-10T00:00:00Z")).with_attempt(&c, at("2024-01-10T00:01:00Z"));
        assert_eq!(next.attempts.iter().map(|a| (a.call_id.as_str(), a.at)).collect::<Vec<_>>(), vec![("c", at("2024-01-10T00:01:00Z"))]);
    }
}
