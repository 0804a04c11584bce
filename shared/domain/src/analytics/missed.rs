//! Calls that reached someone, calls that found no one, and winning back
//! the patients whose calls found no one.
//!
//! One definition serves the hourly figures (`answered`), the missed-call
//! figures and the worklist, the rollups that count them and the writes
//! that keep the worklist:
//!
//! - A call **connected** when it ended `COMPLETED`, its outcome is not one
//!   that says nobody was there (no answer, busy, voicemail, failed) and it
//!   lasted at least [`SHORT_CALL_SECONDS`] (or has no duration on record).
//! - A call **found no one** when it ended (`COMPLETED`, `MISSED`,
//!   `VOICEMAIL` or `FAILED`) without connecting: missed, busy, voicemail,
//!   failed, or hung up within a few seconds. A call still under way, or
//!   cancelled before it was placed, is neither.
//! - A **missed call** is an inbound call that started and found no one. It
//!   is **returned** once a later call with the same number (either way,
//!   answered by the practice or placed by it) connects: the write that
//!   records that connection marks it (`returnedAt`), in its own
//!   transaction. Until then it is on the worklist.
//! - Only a call from a number that can be dialed back (one that normalises
//!   to E.164: [`returnable`]) can be returned. A missed call whose caller
//!   withheld the number (`anonymous`, `unknown`) or whose number was
//!   erased stays on the worklist, not returned, and is never returned by
//!   another call that carries the same label.

use chrono::{DateTime, Utc};

use crate::{call::CallLog, call::CallOutcome, call::CallStatus, call::CallType, time};

/// A call shorter than this (seconds) reached no one who stayed to talk.
pub const SHORT_CALL_SECONDS: u32 = 10;

/// What the definitions read of a call: a stored call, or the facts the
/// analytics indexes carry of one ([`crate::analytics::CallFacts`]).
pub trait Ending {
    fn call_type(&self) -> CallType;
    fn status(&self) -> CallStatus;
    fn outcome(&self) -> Option<CallOutcome>;
    fn duration(&self) -> Option<u32>;
    fn started_at(&self) -> Option<DateTime<Utc>>;
    fn returned_at(&self) -> Option<DateTime<Utc>>;
}

/// Both carry the fields under the same names.
macro_rules! ending_from_fields {
    ($($kind:ty),+) => {$(
        impl Ending for $kind {
            fn call_type(&self) -> CallType {
                self.call_type
            }
            fn status(&self) -> CallStatus {
                self.status
            }
            fn outcome(&self) -> Option<CallOutcome> {
                self.outcome
            }
            fn duration(&self) -> Option<u32> {
                self.duration
            }
            fn started_at(&self) -> Option<DateTime<Utc>> {
                self.call_started_at
            }
            fn returned_at(&self) -> Option<DateTime<Utc>> {
                self.returned_at
            }
        }
    )+};
}

ending_from_fields!(CallLog, crate::analytics::CallFacts);

/// Whether the call has ended one way or another (not waiting, dialing,
/// under way, or cancelled before it was placed).
pub fn has_ended(call: &impl Ending) -> bool {
    matches!(call.status(), CallStatus::Completed | CallStatus::Missed | CallStatus::Voicemail | CallStatus::Failed)
}

/// Whether the call reached someone who stayed to talk.
pub fn connected(call: &impl Ending) -> bool {
    call.status() == CallStatus::Completed
        && !matches!(call.outcome(), Some(CallOutcome::NoAnswer | CallOutcome::Busy | CallOutcome::Voicemail | CallOutcome::Failed))
        && call.duration().is_none_or(|seconds| seconds >= SHORT_CALL_SECONDS)
}

/// Whether the call ended without reaching anyone.
pub fn found_no_one(call: &impl Ending) -> bool {
    has_ended(call) && !connected(call)
}

/// Whether this is a missed call: inbound, started, and it found no one.
pub fn is_missed(call: &impl Ending) -> bool {
    call.call_type() == CallType::Inbound && call.started_at().is_some() && found_no_one(call)
}

/// Whether this missed call still waits to be returned (it is on the worklist).
pub fn awaits_return(call: &impl Ending) -> bool {
    is_missed(call) && call.returned_at().is_none()
}

/// Whether writing `next` over `previous` makes a connection: the write
/// that returns the number's earlier missed calls.
pub fn connects(previous: Option<&CallLog>, next: &CallLog) -> bool {
    connected(next) && next.call_started_at.is_some() && !previous.is_some_and(connected)
}

/// Whether a call with `number` can return, or be returned by, another:
/// the number is one CallOps can dial (E.164, as calls keep a number that
/// normalises), not a withheld caller's label or an erased number's token.
pub fn returnable(number: &str) -> bool {
    crate::phone::normalize(number).is_ok_and(|normal| normal.as_str() == number)
}

/// `missed` as returned by the connected call `by`, when `by` returns it:
/// it is another call of the tenant's that awaits return, with the same
/// number, and started before `by` did (a call that was missed and is
/// corrected to connected returns nothing: it is simply no longer missed).
pub fn returned_by(missed: &CallLog, by: &CallLog) -> Option<CallLog> {
    let (Some(missed_at), Some(by_at)) = (missed.call_started_at, by.call_started_at) else { return None };
    let another = missed.id != by.id && missed.org_id == by.org_id;
    if !another || !awaits_return(missed) || !connected(by) || missed.phone_number != by.phone_number || by_at <= missed_at || !returnable(&by.phone_number) {
        return None;
    }
    let mut returned = missed.clone();
    returned.returned_at = Some(by_at);
    returned.updated_at = time::to_millis(missed.updated_at.max(by.updated_at));
    Some(returned)
}

/// The first time in `connected_starts` (sorted) after `missed_at`: when a
/// missed call at `missed_at` was returned, given the starts of its
/// number's connected calls (an import works out its history this way).
pub fn first_connection_after(connected_starts: &[DateTime<Utc>], missed_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let after = connected_starts.partition_point(|at| *at <= missed_at);
    connected_starts.get(after).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{call::NewCall, time::parse};

    fn call(id: &str, call_type: CallType, status: CallStatus, started: &str) -> CallLog {
        let new = NewCall { org_id: "o".into(), voice_agent_id: "a".into(), phone_number: "+12125550100".into(), call_type, status, attempt: 0 };
        let mut call = CallLog::new(new, id.into(), parse(started).unwrap());
        call.call_started_at = parse(started);
        call
    }

    #[test]
    fn a_call_connects_when_someone_stayed_to_talk() {
        let mut answered = call("c", CallType::Inbound, CallStatus::Completed, "2024-02-01T10:00:00Z");
        answered.duration = Some(SHORT_CALL_SECONDS);
        assert!(connected(&answered) && !found_no_one(&answered) && !is_missed(&answered));
        let mut hung_up = answered.clone();
        hung_up.duration = Some(SHORT_CALL_SECONDS - 1);
        assert!(!connected(&hung_up) && found_no_one(&hung_up) && is_missed(&hung_up), "ended within a few seconds");
        let mut voicemail = answered.clone();
        voicemail.outcome = Some(CallOutcome::Voicemail);
        assert!(is_missed(&voicemail));
        for status in [CallStatus::Missed, CallStatus::Voicemail, CallStatus::Failed] {
            assert!(is_missed(&call("c", CallType::Inbound, status, "2024-02-01T10:00:00Z")), "{status}");
        }
        for status in [CallStatus::InProgress, CallStatus::Dialing, CallStatus::Cancelled, CallStatus::Scheduled] {
            let c = call("c", CallType::Inbound, status, "2024-02-01T10:00:00Z");
            assert!(!connected(&c) && !found_no_one(&c), "{status}: neither yet");
        }
        let outbound = call("c", CallType::OutboundLead, CallStatus::Missed, "2024-02-01T10:00:00Z");
        assert!(found_no_one(&outbound) && !is_missed(&outbound), "only inbound calls are missed calls");
        let no_duration = call("c", CallType::Inbound, CallStatus::Completed, "2024-02-01T10:00:00Z");
        assert!(connected(&no_duration), "a completed call with no duration on record");
    }

    #[test]
    fn a_later_connected_call_with_the_number_returns_a_missed_one() {
        let missed = call("m", CallType::Inbound, CallStatus::Missed, "2024-02-01T10:00:00Z");
        let callback = call("b", CallType::OutboundFollowup, CallStatus::Completed, "2024-02-01T11:00:00Z");
        let returned = returned_by(&missed, &callback).expect("returned");
        assert_eq!(returned.returned_at, callback.call_started_at);
        assert!(!awaits_return(&returned) && is_missed(&returned));
        assert!(returned_by(&returned, &callback).is_none(), "once");
        let mut corrected = missed.clone();
        (corrected.status, corrected.call_started_at) = (CallStatus::Completed, callback.call_started_at);
        assert!(returned_by(&missed, &corrected).is_none(), "a missed call corrected to connected is no longer missed; it returns nothing");
        let earlier = call("e", CallType::Inbound, CallStatus::Completed, "2024-02-01T09:00:00Z");
        assert!(returned_by(&missed, &earlier).is_none(), "a call before it does not return it");
        let mut other_number = callback.clone();
        other_number.phone_number = "+12125550199".into();
        assert!(returned_by(&missed, &other_number).is_none());
        let unanswered = call("u", CallType::OutboundFollowup, CallStatus::Missed, "2024-02-01T11:00:00Z");
        assert!(returned_by(&missed, &unanswered).is_none(), "a callback nobody answered returns nothing");
        assert!(connects(None, &callback) && !connects(Some(&callback), &callback) && !connects(None, &unanswered));
        // A withheld caller's label, or an erased number's token, is nobody's number: one never returns another.
        for label in ["anonymous", "unknown", "Restricted", "erased-0f3a", "+1 000 000 0000"] {
            let (mut withheld, mut answered) = (missed.clone(), callback.clone());
            (withheld.phone_number, answered.phone_number) = (label.into(), label.into());
            assert!(returned_by(&withheld, &answered).is_none(), "{label}");
            assert!(!returnable(label), "{label}");
        }
        assert!(returnable(&missed.phone_number) && !returnable(" +12125550100"), "only the form calls keep a number in");
    }

    #[test]
    fn the_first_connection_after_a_missed_call_returns_it() {
        let at = |t: &str| parse(t).unwrap();
        let starts = [at("2024-02-01T09:00:00Z"), at("2024-02-01T10:00:00Z"), at("2024-02-02T08:00:00Z")];
        assert_eq!(first_connection_after(&starts, at("2024-02-01T10:00:00Z")), Some(at("2024-02-02T08:00:00Z")), "strictly after");
        assert_eq!(first_connection_after(&starts, at("2024-01-31T00:00:00Z")), Some(starts[0]));
        assert_eq!(first_connection_after(&starts, at("2024-02-03T00:00:00Z")), None);
    }
}
