//! What must follow when a call ends (the agent's dialer slot is given
//! back by the write itself, the store's effects): try again when nobody was reached, place the follow-up call the patient
//! agreed to, and honour a do-not-call request. Decided here, as a pure
//! function of the call before and after its final write, so it happens
//! exactly once: only the write that made the call terminal follows through.

use chrono::{DateTime, Utc};

use crate::{
    agent::VoiceAgent,
    call::CallLog,
    call::CallOutcome,
    consent::{Consent, ConsentPolicy, Consenting},
    ids::CallId,
    placement::frequency::{Attempt, Attempting, Ledger},
    placement::{Frequency, PlacementFacts},
};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FollowThrough {
    /// The next attempt (its number and time) by the agent's retry policy,
    /// inside calling hours.
    pub retry: Option<(u32, DateTime<Utc>)>,
    /// An OUTBOUND_FOLLOWUP call at the agreed date, inside calling hours,
    /// for agents that opt in.
    pub follow_up_at: Option<DateTime<Utc>>,
    /// An agreed follow-up that would be dialed more than a year ahead
    /// ([`crate::placement::schedule::MAX_LEAD`]): no call is made for it.
    pub follow_up_too_far: Option<DateTime<Utc>>,
    /// A number to add to the tenant's do-not-call list, in the form the
    /// list keeps ([`crate::phone::do_not_call_key`]).
    pub do_not_call: Option<String>,
    /// A collection call that reached the patient: a telephone conversation
    /// about its debt, for Regulation F's seven days after.
    pub conversation: Option<crate::placement::frequency::Conversation>,
    /// Why a retry or follow-up due by its policy was not planned, when the
    /// placement policy refused it outright (the number on the do-not-call
    /// list, no consent covers it).
    pub not_planned: Option<crate::placement::Refusal>,
    /// An agreed follow-up whose day had passed when the call ended: no call is made for it.
    pub follow_up_past: Option<DateTime<Utc>>,
}

impl FollowThrough {
    pub fn is_empty(&self) -> bool {
        self == &FollowThrough::default()
    }

    /// Whether a call follows (a retry, a follow-up call): then what it is
    /// planned against ([`Known`]) is worth reading.
    pub fn plans_a_call(&self) -> bool {
        self.retry.is_some() || self.follow_up_at.is_some()
    }
}

/// What a call that follows is planned against besides its agent: the
/// tenant's holidays and, once read, the number's ledger (its attempts
/// made, the calls waiting for it, its inconvenient times) with the
/// tenant's cap. [`Known::default`] knows none of them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Known<'a> {
    pub holidays: &'a [chrono::NaiveDate],
    pub ledger: Option<&'a Ledger>,
    /// The ledger of the call's debt across every number, once read (a collection call's).
    pub debt: Option<&'a Ledger>,
    pub tenant_cap_per_day: u32,
    /// The number's consents and the tenant's consent policy, once read.
    pub consents: Option<(&'a [Consent], &'a ConsentPolicy)>,
    /// The times the person said are inconvenient, for a collection call (its number's and its debt's), once read.
    pub inconvenient: &'a [crate::placement::clock::InconvenientTime],
    /// Whether the number is on the do-not-call list, once read.
    pub on_do_not_call: bool,
    /// The tenant's settings that the placement policy weighs, once read.
    pub refuse_unknown_location: bool,
    pub practice_identified: bool,
}

impl<'a> Known<'a> {
    /// The facts a call `who` to `callee` by `agent` is planned on.
    fn facts(&self, agent: &'a VoiceAgent, callee: &'a crate::placement::callee::Callee, who: Attempting<'a>) -> PlacementFacts<'a> {
        let opted_out_at = self.ledger.and_then(|l| l.opted_out_at);
        PlacementFacts {
            debt_id: who.debt_id,
            inconvenient: if who.call_type == crate::call::CallType::OutboundDebt { self.inconvenient } else { &[] },
            frequency: self.ledger.map(|ledger| Frequency { call: who, ledger, debt: self.debt, tenant_cap_per_day: self.tenant_cap_per_day }),
            consent: self.consents.map(|(consents, policy)| Consenting {
                call_type: who.call_type,
                consents,
                accepted: policy.accepts(who.call_type),
                opted_out_at,
            }),
            on_do_not_call: self.on_do_not_call,
            refuse_unknown_location: self.refuse_unknown_location,
            practice_identified: self.practice_identified,
            ..crate::placement::planning(who.call_type, agent, callee, self.holidays)
        }
    }
}

/// How long an answered call lasts before it is a conversation even
/// without the callee's words in a transcript.
pub const CONVERSATION_SECONDS: u32 = 5;

/// Whether the callee spoke on `call`: Regulation F's telephone
/// conversation (the collector and the person actually speak, 12 CFR
/// 1006.14(b)(2)(i)(B)), whatever the call's end status. Nobody reached (no
/// answer, busy, voicemail: a limited-content message is not one) is not;
/// the callee's words in the transcript are; an answered call past a few
/// seconds is.
pub fn reached_the_callee(call: &CallLog) -> bool {
    if matches!(call.outcome, Some(CallOutcome::NoAnswer | CallOutcome::Busy | CallOutcome::Voicemail)) {
        return false;
    }
    call.transcript.as_deref().is_some_and(crate::consent::stop_request::callee_spoke)
        || (call.call_started_at.is_some() && call.duration.is_some_and(|d| d >= CONVERSATION_SECONDS))
}

/// Whether something may follow `before` becoming `after`: the change ends
/// the call, or (`late_output`) it applies the structured output an ended
/// call awaited.
pub fn follows(before: &CallLog, after: &CallLog, late_output: bool) -> bool {
    match late_output {
        false => !before.status.is_terminal() && after.status.is_terminal(),
        true => before.awaiting_output.is_some() && after.awaiting_output.is_none() && after.status.is_terminal(),
    }
}

/// What follows from `before` becoming `after`. Nothing unless this change
/// made the call terminal. `agent` is the call's agent, when it has one.
pub fn follow_through(
    before: &CallLog,
    after: &CallLog,
    agent: Option<&VoiceAgent>,
    known: &Known,
    do_not_call_requested: bool,
    now: DateTime<Utc>,
) -> FollowThrough {
    if !follows(before, after, false) {
        return FollowThrough::default();
    }
    decide(before, after, agent, known, do_not_call_requested, now, true)
}

/// What follows the structured output a call awaited, when a later read
/// brings it: the do-not-call entry it asks for, and the follow-up call it
/// agrees when the call had none; never a retry (the call's end decided
/// that). Nothing unless this change ends the wait with the output's fields.
pub fn follow_through_late_output(
    before: &CallLog,
    after: &CallLog,
    agent: Option<&VoiceAgent>,
    known: &Known,
    do_not_call_requested: bool,
    now: DateTime<Utc>,
) -> FollowThrough {
    if !follows(before, after, true) || (before.follow_up_date.is_some() && !do_not_call_requested) {
        return FollowThrough::default();
    }
    decide(before, after, agent, known, do_not_call_requested, now, false)
}

#[allow(clippy::too_many_arguments)]
fn decide(
    before: &CallLog,
    after: &CallLog,
    agent: Option<&VoiceAgent>,
    known: &Known,
    do_not_call_requested: bool,
    now: DateTime<Utc>,
    retry: bool,
) -> FollowThrough {
    let mut follow = FollowThrough::default();
    let outbound = after.call_type.is_outbound();
    if retry && after.call_type == crate::call::CallType::OutboundDebt && reached_the_callee(after) {
        let at = after.call_started_at.unwrap_or(now);
        follow.conversation = Some(crate::placement::frequency::Conversation { debt_id: after.debt_id.clone(), at: crate::time::to_millis(at) });
    }
    if do_not_call_requested {
        follow.do_not_call = crate::phone::do_not_call_key(&after.phone_number);
        return follow;
    }
    let Some(agent) = agent else { return follow };
    let history = known.ledger.map(Ledger::history).unwrap_or_default();
    let callee = crate::placement::callee::Callee::of_call(after, &history);
    let latest = crate::placement::schedule::latest_dial(now);
    let nobody_reached = matches!(after.outcome, Some(CallOutcome::NoAnswer | CallOutcome::Busy | CallOutcome::Voicemail));
    if retry && outbound && nobody_reached {
        // After the call ended, but never later than now allows: a report's end time is Vapi's word.
        let ended = after.call_ended_at.unwrap_or(now).clamp(now, now + crate::time::CLOCK_SKEW);
        let attempt = after.attempt.max(1);
        let id = crate::idempotency::retry_call_id(&after.org_id, &after.id, attempt.saturating_add(1));
        let who = Attempting { call_id: id.as_str(), call_type: after.call_type, debt_id: after.debt_id.as_deref() };
        follow.retry =
            match agent.retry_policy.next_attempt_after(attempt, ended).map(|at| crate::placement::earliest_placement(&known.facts(agent, &callee, who), at)) {
                Some(Ok(at)) if at <= latest => Some((attempt.saturating_add(1), at)),
                Some(Err(refusal)) if refusal != crate::placement::Refusal::NoCallingHoursAhead => {
                    follow.not_planned = Some(refusal);
                    None
                }
                _ => None,
            };
    }
    // The retry is planned by the time the follow-up call is.
    let with_retry = known.ledger.zip(follow.retry).map(|(ledger, (attempt, at))| {
        let id = crate::idempotency::retry_call_id(&after.org_id, &after.id, attempt).into_string();
        let mut ledger = ledger.clone();
        ledger.planned.push(Attempt { call_id: id, ..Attempt::of(after, at) });
        ledger
    });
    let known = Known { ledger: with_retry.as_ref().or(known.ledger), ..*known };
    if agent.follow_up_calls
        && (retry || before.follow_up_date.is_none())
        && let Some(date) = after.follow_up_date
    {
        // A follow-up date is a day in the practice's own zone: its calling hours that day; a day already past is no call.
        let day = date.date_naive();
        let day_start = crate::time::local_to_utc(agent.time_zone, day.and_time(chrono::NaiveTime::MIN));
        let id = crate::idempotency::follow_up_call_id(&after.org_id, &after.phone_number, day);
        let who = Attempting { call_id: id.as_str(), call_type: crate::call::CallType::OutboundFollowup, debt_id: None };
        if day < now.with_timezone(&agent.time_zone).date_naive() {
            follow.follow_up_past = Some(date);
        } else {
            match crate::placement::earliest_placement(&known.facts(agent, &callee, who), day_start.max(now)) {
                Ok(at) if at <= latest => follow.follow_up_at = Some(at),
                Err(refusal) if refusal != crate::placement::Refusal::NoCallingHoursAhead => follow.not_planned = Some(refusal),
                _ => follow.follow_up_too_far = Some(date),
            }
        }
    }
    follow
}

/// The next attempt at a call that reached nobody: a new call (ended calls
/// never reopen) with the next attempt number, the same person, agent,
/// purpose and variables, waiting for `at`. Its id derives from the call it
/// retries, so deciding it twice makes it once.
pub fn retry_call(ended: &CallLog, attempt: u32, at: DateTime<Utc>, now: DateTime<Utc>) -> CallLog {
    let id = crate::idempotency::retry_call_id(&ended.org_id, &ended.id, attempt);
    let mut retry = waiting_call(ended, ended.call_type, attempt, id, at, now);
    retry.campaign_id = ended.campaign_id.clone();
    retry.call_notes = ended.call_notes.clone();
    retry.variable_values = ended.variable_values.clone();
    retry.call_purpose = ended.call_purpose.clone();
    retry
}

/// The OUTBOUND_FOLLOWUP call a patient agreed to, waiting for `at`: one a
/// number and agreed day (its id derives from both).
pub fn follow_up_call(ended: &CallLog, at: DateTime<Utc>, now: DateTime<Utc>) -> CallLog {
    let day = ended.follow_up_date.unwrap_or(at).date_naive();
    let id = crate::idempotency::follow_up_call_id(&ended.org_id, &ended.phone_number, day);
    let mut call = waiting_call(ended, crate::call::CallType::OutboundFollowup, 1, id, at, now);
    // A fixed text naming the call it follows: nothing of that call's content is copied.
    call.call_purpose = Some(format!("Follow-up agreed on call {}", ended.id));
    call
}

fn waiting_call(ended: &CallLog, call_type: crate::call::CallType, attempt: u32, id: CallId, at: DateTime<Utc>, now: DateTime<Utc>) -> CallLog {
    let mut call = CallLog::new(
        crate::call::NewCall {
            org_id: ended.org_id.clone(),
            voice_agent_id: ended.voice_agent_id.clone(),
            phone_number: ended.phone_number.clone(),
            call_type,
            status: crate::call::CallStatus::Scheduled,
            attempt,
        },
        id,
        now,
    );
    call.scheduled_at = Some(crate::time::to_millis(at));
    call.customer_name = ended.customer_name.clone();
    (call.callee_time_zone, call.callee_state) = (ended.callee_time_zone, ended.callee_state);
    if call_type == ended.call_type {
        call.debt_id = ended.debt_id.clone();
    }
    call
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{call::CallStatus, call::CallType, call::NewCall, time};

    fn at(text: &str) -> DateTime<Utc> {
        time::parse(text).unwrap()
    }

    fn agent(follow_ups: bool) -> VoiceAgent {
        VoiceAgent { max_concurrent_calls: 10, follow_up_calls: follow_ups, ..crate::fixtures::agent() }
    }

    fn calls(outcome: CallOutcome, status: CallStatus, attempt: u32) -> (CallLog, CallLog) {
        let before = CallLog::new(
            NewCall {
                org_id: "o".into(),
                voice_agent_id: "a".into(),
                phone_number: "+12025550142".into(),
                call_type: CallType::OutboundLead,
                status: CallStatus::InProgress,
                attempt,
            },
            "c".into(),
            at("2024-01-15T15:00:00Z"),
        );
        let mut after = before.clone();
        after.status = status;
        after.outcome = Some(outcome);
        after.call_ended_at = Some(at("2024-01-15T15:01:00Z"));
        (before, after)
    }

    #[test]
    fn nobody_reached_means_a_retry_inside_calling_hours() {
        let (before, after) = calls(CallOutcome::NoAnswer, CallStatus::Missed, 1);
        let follow = follow_through(&before, &after, Some(&agent(false)), &Known::default(), false, at("2024-01-15T15:01:00Z"));
        // The slot is given back by the write that ends the call (the store's effects), by this rule.
        assert!(before.holds_dialer_slot() && !after.holds_dialer_slot());
        assert_eq!(follow.retry, Some((2, at("2024-01-15T15:31:00Z"))));

        // Late in the evening the retry waits for the morning (08:00 New York = 13:00 UTC).
        let (before, mut after) = calls(CallOutcome::Busy, CallStatus::Missed, 2);
        after.call_ended_at = Some(at("2024-01-16T00:30:00Z"));
        let follow = follow_through(&before, &after, Some(&agent(false)), &Known::default(), false, at("2024-01-16T00:30:00Z"));
        assert_eq!(follow.retry, Some((3, at("2024-01-16T13:00:00Z"))));

        let (before, after) = calls(CallOutcome::Voicemail, CallStatus::Voicemail, 3);
        assert_eq!(follow_through(&before, &after, Some(&agent(false)), &Known::default(), false, at("2024-01-15T15:01:00Z")).retry, None, "attempts used up");

        // A report that says the call ended far in the future moves nothing past now.
        let (before, mut after) = calls(CallOutcome::NoAnswer, CallStatus::Missed, 1);
        after.call_ended_at = Some(at("2099-12-31T00:00:00Z"));
        let follow = follow_through(&before, &after, Some(&agent(false)), &Known::default(), false, at("2024-01-15T15:01:00Z"));
        assert_eq!(follow.retry, Some((2, at("2024-01-15T15:31:30Z"))), "30 minutes after now and its skew, not after 2099");
    }

    #[test]
    fn a_retry_keeps_to_the_numbers_limits_and_a_debtors_inconvenient_times() {
        let now = at("2024-01-15T15:01:00Z");
        // Miami, three attempts in 24 hours at most: this one and two before it this morning.
        let (mut before, mut after) = calls(CallOutcome::NoAnswer, CallStatus::Missed, 1);
        (before.phone_number, after.phone_number) = ("+13055550100".into(), "+13055550100".into());
        let made = |at_text: &str, id: &str| Attempt {
            at: at(at_text),
            call_type: CallType::OutboundLead,
            debt_id: None,
            call_id: id.into(),
            places: Default::default(),
        };
        let ledger = Ledger {
            attempts: vec![made("2024-01-15T13:30:00Z", "x"), made("2024-01-15T14:00:00Z", "y"), made("2024-01-15T15:00:00Z", "c")],
            ..Ledger::default()
        };
        let known = Known { holidays: &[], ledger: Some(&ledger), tenant_cap_per_day: 20, consents: None, ..Known::default() };
        assert_eq!(follow_through(&before, &after, Some(&agent(false)), &Known::default(), false, now).retry, Some((2, at("2024-01-15T15:31:00Z"))));
        assert_eq!(
            follow_through(&before, &after, Some(&agent(false)), &known, false, now).retry,
            Some((2, at("2024-01-16T13:30:00Z"))),
            "24 hours after the first of the three, 08:30 in Miami"
        );
        // A collection call's retry keeps out of the hours the debtor said are inconvenient (10:00-12:00 in Washington).
        let (mut before, mut after) = calls(CallOutcome::NoAnswer, CallStatus::Missed, 1);
        (before.call_type, after.call_type) = (CallType::OutboundDebt, CallType::OutboundDebt);
        (before.debt_id, after.debt_id) = (Some("inv-1".into()), Some("inv-1".into()));
        let inconvenient = vec![crate::placement::clock::InconvenientTime::new(vec![], 600, 720).unwrap()];
        let ledger = Ledger { inconvenient, ..Ledger::default() };
        // Said on another number about the same debt: they bind this number's call as much.
        let debt = Ledger { inconvenient: vec![crate::placement::clock::InconvenientTime::new(vec![], 16 * 60, 18 * 60).unwrap()], ..Ledger::default() };
        let times = ledger.inconvenient_for(CallType::OutboundDebt, Some(&debt));
        let known = Known { holidays: &[], ledger: Some(&ledger), tenant_cap_per_day: 20, consents: None, inconvenient: &times, ..Known::default() };
        assert_eq!(follow_through(&before, &after, Some(&agent(false)), &known, false, now).retry, Some((2, at("2024-01-15T17:00:00Z"))));
        let at_five = Known { ledger: Some(&Ledger::default()), ..known };
        let later = calls(CallOutcome::NoAnswer, CallStatus::Missed, 1).1;
        let mut later = CallLog { call_type: CallType::OutboundDebt, debt_id: Some("inv-1".into()), ..later };
        later.call_ended_at = Some(at("2024-01-15T21:00:00Z"));
        let retried = follow_through(&before, &later, Some(&agent(false)), &at_five, false, at("2024-01-15T21:00:00Z")).retry;
        assert_eq!(retried, Some((2, at("2024-01-15T23:00:00Z"))), "16:30 in Washington is inside 16:00-18:00 said on the other number: 18:00");
        // The same times do not bind a call that is not about a debt.
        let (before, after) = calls(CallOutcome::NoAnswer, CallStatus::Missed, 1);
        assert_eq!(follow_through(&before, &after, Some(&agent(false)), &known, false, now).retry, Some((2, at("2024-01-15T15:31:00Z"))));
        // Without a consent that covers it, no retry is planned, and the answer says why.
        let policy = ConsentPolicy::default();
        let unconsented = Known { consents: Some((&[], &policy)), ..known };
        let follow = follow_through(&before, &after, Some(&agent(false)), &unconsented, false, now);
        assert_eq!((follow.retry, follow.not_planned), (None, Some(crate::placement::Refusal::NoConsent)));
    }

    #[test]
    fn only_the_change_that_ends_the_call_follows_through() {
        let (_, after) = calls(CallOutcome::NoAnswer, CallStatus::Missed, 1);
        assert!(follow_through(&after, &after, Some(&agent(false)), &Known::default(), true, at("2024-01-15T15:01:00Z")).is_empty());
    }

    #[test]
    fn follow_ups_and_do_not_call() {
        let (before, mut after) = calls(CallOutcome::Booked, CallStatus::Completed, 1);
        after.follow_up_date = Some(at("2024-02-01T00:00:00Z"));
        let now = at("2024-01-15T15:01:00Z");
        assert_eq!(follow_through(&before, &after, Some(&agent(false)), &Known::default(), false, now).follow_up_at, None, "the agent did not opt in");
        assert_eq!(follow_through(&before, &after, Some(&agent(true)), &Known::default(), false, now).follow_up_at, Some(at("2024-02-01T13:00:00Z")));
        after.follow_up_date = Some(at("2025-03-01T00:00:00Z"));
        let far = follow_through(&before, &after, Some(&agent(true)), &Known::default(), false, now);
        assert_eq!((far.follow_up_at, far.follow_up_too_far), (None, Some(at("2025-03-01T00:00:00Z"))), "more than a year ahead: no call");
        let stop = follow_through(&before, &after, Some(&agent(true)), &Known::default(), true, now);
        assert_eq!(stop.do_not_call.as_deref(), Some("+12025550142"));
        assert_eq!(stop.follow_up_at, None, "no follow-up for someone who asked not to be called");
        assert!(before.holds_dialer_slot() && !after.holds_dialer_slot());
    }
}
