//! A second call to a number that already has one waiting of the same type
//! at nearly the same time is almost always a slip (a form sent twice, a
//! call-back button pressed again), and the patient would get two calls:
//! scheduling refuses it unless it is asked for on purpose.

use chrono::{DateTime, Duration, Utc};

use crate::{call::CallType, placement::frequency::Attempt};

/// How close two waiting calls of one type to one number are to count as the same.
pub const DUPLICATE_WINDOW: Duration = Duration::minutes(10);

/// The waiting call (of `planned`, the number's waiting calls) that a new
/// call of `call_type` at `at` would repeat, other than `call_id` itself.
pub fn waiting_duplicate<'a>(planned: &'a [Attempt], call_type: CallType, at: DateTime<Utc>, call_id: &str) -> Option<&'a Attempt> {
    planned
        .iter()
        .filter(|waiting| waiting.call_type == call_type && waiting.call_id != call_id && (waiting.at - at).abs() <= DUPLICATE_WINDOW)
        .min_by_key(|waiting| (waiting.at - at).abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time;

    fn waiting(id: &str, call_type: CallType, at: &str) -> Attempt {
        Attempt { at: time::parse(at).unwrap(), call_type, debt_id: None, call_id: id.into(), places: Default::default() }
    }

    #[test]
    fn a_call_of_the_same_type_within_ten_minutes_of_a_waiting_one_repeats_it() {
        let planned = [
            waiting("lead-9", CallType::OutboundLead, "2026-03-04T15:00:00.000Z"),
            waiting("lead-10", CallType::OutboundLead, "2026-03-04T15:08:00.000Z"),
            waiting("debt-1", CallType::OutboundDebt, "2026-03-04T15:05:00.000Z"),
        ];
        let at = |text: &str| time::parse(text).unwrap();
        let found = |call_type, when: &str, id: &str| waiting_duplicate(&planned, call_type, at(when), id).map(|w| w.call_id.clone());
        assert_eq!(found(CallType::OutboundLead, "2026-03-04T15:06:00.000Z", "new"), Some("lead-10".into()), "the nearest");
        assert_eq!(found(CallType::OutboundLead, "2026-03-04T14:50:00.000Z", "new"), Some("lead-9".into()), "ten minutes before counts");
        assert_eq!(found(CallType::OutboundLead, "2026-03-04T14:49:59.000Z", "new"), None, "more than ten minutes apart");
        assert_eq!(found(CallType::OutboundFollowup, "2026-03-04T15:05:00.000Z", "new"), None, "another type is another call");
        assert_eq!(found(CallType::OutboundDebt, "2026-03-04T15:05:00.000Z", "debt-1"), None, "a call does not repeat itself");
    }
}
