//! What a server message does to a call, as pure functions. Each returns the
//! call as it should be after the message, or `None` when the message changes
//! nothing (a duplicate, a late status update, a status that would move the
//! call backwards), so applying a message twice, or in another order, leaves
//! the same final call.

use callops_domain::{
    CallLog, CallOutcome, CallStatus,
    call::CallText,
    classify::{booked_by_tool_call, end_of_call},
    limits::{MAX_DURATION_SECONDS, is_storable_number},
};
use chrono::{DateTime, Utc};

use crate::message::ServerMessage;

/// Our status for a Vapi call status.
pub fn status_for(vapi_status: &str, ended_reason: Option<&str>) -> Option<CallStatus> {
    match vapi_status.trim() {
        "scheduled" | "queued" => Some(CallStatus::Dialing),
        "ringing" | "in-progress" | "forwarding" => Some(CallStatus::InProgress),
        "ended" => Some(end_of_call(ended_reason).0),
        _ => None,
    }
}

fn changed(call: &CallLog, mut next: CallLog, now: DateTime<Utc>) -> Option<CallLog> {
    next.updated_at = call.updated_at;
    if &next == call {
        return None;
    }
    next.updated_at = callops_domain::time::to_millis(now).max(call.updated_at);
    Some(next)
}

/// `status-update`: moves the status forward, never back.
pub fn apply_status_update(call: &CallLog, message: &ServerMessage, now: DateTime<Utc>) -> Option<CallLog> {
    let status = status_for(message.status.as_deref()?, message.ended_reason.as_deref())?;
    if call.was_never_placed() || status.stage() <= call.status.stage() || !call.status.can_become(status) {
        return None;
    }
    let mut next = call.clone();
    next.status = status;
    next.vapi_call_id = next.vapi_call_id.or_else(|| message.vapi_call_id.clone());
    let at = message.timestamp.unwrap_or(now);
    if status == CallStatus::InProgress && next.call_started_at.is_none() {
        next.call_started_at = Some(callops_domain::time::to_millis(at));
    }
    if status.is_terminal() {
        if next.ended_reason.is_none()
            && let Some(reason) = &message.ended_reason
        {
            next.set_text(CallText::EndedReason, reason);
        }
        next.outcome = next.outcome.or(end_of_call(message.ended_reason.as_deref()).1);
        next.call_ended_at = next.call_ended_at.or(Some(callops_domain::time::to_millis(at)));
    }
    changed(call, next, now)
}

/// `end-of-call-report`: the final status, outcome, times, duration, cost,
/// transcript, summary, recording and the analytics fields, and when the
/// report was recorded. Text is cut to its bound ([`callops_domain::limits`]).
/// Once a report is recorded, a later one only fills in what is still
/// empty ([`fill_in_late_report`]).
pub fn apply_end_of_call_report(call: &CallLog, message: &ServerMessage, now: DateTime<Utc>) -> Option<CallLog> {
    if call.was_never_placed() {
        return None;
    }
    if call.reported_at.is_some() {
        return fill_in_late_report(call, message, now);
    }
    let mut next = call.clone();
    let reason = message.ended_reason.as_deref();
    let (status, reason_outcome) = end_of_call(reason);
    if call.status.can_become(status) {
        next.status = status;
    }
    let analysis = &message.analysis;
    let booked = booked_by_tool_call(message.tool_names.iter().map(String::as_str))
        || analysis.appointment_booked == Some(true)
        || analysis.outcome == Some(CallOutcome::Booked);
    next.outcome = if booked { Some(CallOutcome::Booked) } else { reason_outcome.or(analysis.outcome).or(Some(CallOutcome::Other)) };
    next.appointment_set = booked;
    if let Some(reason) = reason {
        next.set_text(CallText::EndedReason, reason);
    }
    next.vapi_call_id = next.vapi_call_id.or_else(|| message.vapi_call_id.clone());

    next.call_started_at = message.started_at.or(next.call_started_at);
    next.call_ended_at = message.ended_at.or(next.call_ended_at);
    next.duration = report_duration(message).or(next.duration);
    next.cost_cents = message.cost_cents.or(next.cost_cents);

    if let Some(transcript) = &message.transcript {
        next.set_text(CallText::Transcript, transcript);
    }
    if let Some(summary) = &message.summary {
        next.set_text(CallText::Summary, summary);
    }
    next.recording_url = message.recording_url.clone().or(next.recording_url);
    if next.customer_name.is_none()
        && let Some(name) = &message.customer_name
    {
        next.set_text(CallText::CustomerName, name);
    }

    next.insurance_verified = analysis.insurance_verified.unwrap_or(next.insurance_verified);
    if let Some(provider) = &analysis.insurance_provider {
        next.set_text(CallText::InsuranceProvider, provider);
    }
    next.payment_plan_discussed = analysis.payment_plan_discussed.unwrap_or(next.payment_plan_discussed);
    next.payment_plan_amount = analysis.payment_plan_amount_cents.or(next.payment_plan_amount);
    next.collection_attempt = analysis.collection_attempted.unwrap_or(next.collection_attempt);
    next.collection_amount = analysis.collection_amount_cents.or(next.collection_amount);
    next.collection_success = analysis.collection_successful.unwrap_or(next.collection_success);
    if let Some(to) = &analysis.transferred_to {
        next.set_text(CallText::TransferredTo, to);
    }
    next.transferred_to_staff = next.outcome == Some(CallOutcome::Transferred) || next.transferred_to.is_some();
    next.customer_sentiment = analysis.customer_sentiment.clone().or(next.customer_sentiment);
    next.call_quality = analysis.call_quality.or(next.call_quality);
    next.ai_confidence = analysis.ai_confidence.filter(|c| is_storable_number(*c)).or(next.ai_confidence);
    next.follow_up_required = analysis.follow_up_required.unwrap_or(next.follow_up_required) || analysis.follow_up_date.is_some();
    next.follow_up_date = analysis.follow_up_date.or(next.follow_up_date);
    if next.call_notes.is_none()
        && let Some(notes) = &analysis.notes
    {
        next.set_text(CallText::Notes, notes);
    }
    next.reported_at = Some(callops_domain::time::to_millis(now).max(call.updated_at));
    changed(call, next, now)
}

/// The call's duration by the report: `durationSeconds` (or `durationMs`),
/// else `endedAt - startedAt` when that is a sane length.
fn report_duration(message: &ServerMessage) -> Option<u32> {
    message.duration_seconds.or_else(|| {
        let (start, end) = (message.started_at?, message.ended_at?);
        let seconds = ((end - start).num_milliseconds() as f64 / 1000.0).round();
        (0.0..=f64::from(MAX_DURATION_SECONDS)).contains(&seconds).then_some(seconds as u32)
    })
}

/// What a report that comes after the recorded one may still do: fill in
/// what the call's content lacks (a transcript, a summary, the recording, a
/// name, notes, the insurer, sentiment, quality, confidence, a follow-up
/// date). It never changes a value already set, and never touches the
/// status, the outcome, the times, the duration, the cost, the money or any
/// yes/no field, even where the first report left them empty: a later,
/// different report cannot rewrite what a call's analytics counted. A
/// duplicate changes nothing.
pub fn fill_in_late_report(call: &CallLog, message: &ServerMessage, now: DateTime<Utc>) -> Option<CallLog> {
    let mut next = call.clone();
    let analysis = &message.analysis;
    let texts = [
        (CallText::Transcript, message.transcript.as_ref()),
        (CallText::Summary, message.summary.as_ref()),
        (CallText::EndedReason, message.ended_reason.as_ref()),
        (CallText::CustomerName, message.customer_name.as_ref()),
        (CallText::InsuranceProvider, analysis.insurance_provider.as_ref()),
        (CallText::TransferredTo, analysis.transferred_to.as_ref()),
        (CallText::Notes, analysis.notes.as_ref()),
        (CallText::CustomerSentiment, analysis.customer_sentiment.as_ref()),
    ];
    for (field, text) in texts {
        if let Some(text) = text
            && next.text(field).is_none()
        {
            next.set_text(field, text);
        }
    }
    next.vapi_call_id = next.vapi_call_id.or_else(|| message.vapi_call_id.clone());
    next.recording_url = next.recording_url.or_else(|| message.recording_url.clone());
    next.call_quality = next.call_quality.or(analysis.call_quality);
    next.ai_confidence = next.ai_confidence.or(analysis.ai_confidence.filter(|c| is_storable_number(*c)));
    next.follow_up_date = next.follow_up_date.or(analysis.follow_up_date);
    changed(call, next, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::message::parse_server_message;
    use callops_domain::{CallType, NewCall};

    fn message(json: serde_json::Value) -> ServerMessage {
        parse_server_message(serde_json::json!({ "message": json }).to_string().as_bytes()).unwrap()
    }

    fn call(status: CallStatus) -> CallLog {
        let new = NewCall {
            org_id: "o".into(),
            voice_agent_id: "a".into(),
            phone_number: "+12125550142".into(),
            call_type: CallType::OutboundLead,
            status,
            attempt: 1,
        };
        CallLog::new(new, "c".into(), callops_domain::time::parse("2024-07-27T21:00:00Z").unwrap())
    }

    fn ended(reason: &str, cost: f64, outcome: &str) -> ServerMessage {
        message(serde_json::json!({
            "type": "end-of-call-report", "endedReason": reason, "cost": cost,
            "startedAt": "2024-07-27T21:23:38.017Z", "endedAt": "2024-07-27T21:26:02.517Z",
            "analysis": {"summary": "s", "structuredData": {"outcome": outcome, "paymentPlanDiscussed": true, "paymentPlanAmountCents": 5000}},
        }))
    }

    #[test]
    fn what_vapi_says_of_a_call_never_placed_changes_nothing() {
        let now = chrono::Utc::now();
        let report = ended("customer-ended-call", 0.5, "BOOKED");
        let update = message(serde_json::json!({"type": "status-update", "status": "in-progress"}));
        let mut cancelled = call(CallStatus::Cancelled);
        cancelled.ended_reason = Some("cancelled-before-dialing".into());
        for never in [call(CallStatus::Scheduled), cancelled] {
            assert!(never.was_never_placed());
            assert_eq!(apply_end_of_call_report(&never, &report, now), None, "{}", never.status);
            assert_eq!(apply_status_update(&never, &update, now), None, "{}", never.status);
        }
        assert!(!call(CallStatus::Dialing).was_never_placed());
    }

    #[test]
    fn a_later_report_fills_in_what_is_empty_and_rewrites_nothing() {
        let now = chrono::Utc::now();
        let first = apply_end_of_call_report(&call(CallStatus::InProgress), &ended("customer-ended-call", 0.12, "INFORMATION"), now).unwrap();
        assert!(first.reported_at.is_some());
        assert_eq!(
            (first.outcome, first.cost_cents, first.payment_plan_amount, first.transcript.as_deref()),
            (Some(CallOutcome::Information), Some(12), Some(5000), None)
        );
        let mut late = ended("customer-busy", 9.0, "BOOKED");
        late.started_at = callops_domain::time::parse("2024-07-28T10:00:00Z");
        late.transcript = Some("AI: late".into());
        late.analysis.payment_plan_amount_cents = Some(1);
        let after = apply_end_of_call_report(&first, &late, now).unwrap();
        assert_eq!((after.status, after.outcome, after.cost_cents, after.payment_plan_amount), (first.status, first.outcome, Some(12), Some(5000)));
        assert_eq!((after.call_started_at, after.duration), (first.call_started_at, first.duration));
        assert_eq!(after.transcript.as_deref(), Some("AI: late"));
        assert_eq!(apply_end_of_call_report(&after, &late, now), None, "a duplicate changes nothing");
    }

    #[test]
    fn statuses_map_and_only_move_forward() {
        assert_eq!(status_for("ringing", None), Some(CallStatus::InProgress));
        assert_eq!(status_for("queued", None), Some(CallStatus::Dialing));
        assert_eq!(status_for("ended", Some("customer-busy")), Some(CallStatus::Missed));
        assert_eq!(status_for("teleporting", None), None);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::message::{lenient_time, parse_server_message};
    use callops_domain::{CallType, NewCall, time};
    use proptest::prelude::*;
    use serde_json::{Value, json};

    /// The values Vapi's fields take, and the worst ones.
    fn field() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            prop_oneof![Just(1e300), Just(1.722115418016999e12), Just(1722115418.017), Just(-1.0), Just(9.3e18), Just(1e16)].prop_map(Value::from),
            "[+-]?[0-9]{1,20}(\\.[0-9]{1,6})?([eE][+-]?[0-9]{1,3})?".prop_map(Value::from),
            "[+-]?[0-9]{4,6}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})".prop_map(Value::from),
            "\\PC{0,40}".prop_map(Value::from),
            (1usize..12_000).prop_map(|n| Value::from("é".repeat(n))),
            Just(json!({"nested": [1, 2, {"deeper": null}]})),
        ]
    }

    /// A server message with any of its fields set to any of those values.
    fn message_json() -> impl Strategy<Value = Value> {
        let names = prop_oneof![
            Just("timestamp"),
            Just("startedAt"),
            Just("endedAt"),
            Just("cost"),
            Just("durationSeconds"),
            Just("durationMs"),
            Just("endedReason"),
            Just("status"),
            Just("summary"),
            Just("transcript"),
            Just("recordingUrl"),
            Just("customer"),
            Just("call"),
            Just("artifact"),
            Just("analysis"),
            Just("phoneNumber"),
            Just("assistant"),
        ];
        (
            prop_oneof![Just("end-of-call-report"), Just("status-update"), Just("speech-update")],
            prop::collection::vec((names, field()), 0..14),
            prop::collection::vec((prop_oneof![Just("outcome"), Just("paymentPlanAmountDollars"), Just("collectionAmountCents"), Just("followUpDate"), Just("aiConfidence"), Just("callQuality"), Just("insuranceProvider"), Just("notes")], field()), 0..8),
            field(),
            field(),
        )
            .prop_map(|(kind, fields, data, call_id, metadata_id)| {
                let mut message = json!({"type": kind});
                for (name, value) in fields {
                    message[name] = value;
                }
                message["call"] = json!({"id": call_id, "assistantOverrides": {"metadata": {"orgId": "o", "callId": metadata_id, "attempt": 1}}});
                message["analysis"] = json!({"summary": message["summary"].clone(), "structuredData": data.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<serde_json::Map<_, _>>()});
                json!({"message": message})
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn any_vapi_time_is_a_supported_time_or_none(value in field()) {
            match lenient_time(&value) {
                Ok(Some(at)) => prop_assert!(time::is_supported(&at) && time::to_millis(at) == at),
                Ok(None) => {}
                Err(at) => prop_assert!(!time::is_supported(&at)),
            }
        }

        #[test]
        fn any_message_parses_within_bounds_and_leaves_a_call_the_store_can_keep(body in message_json(), raw in prop::collection::vec(any::<u8>(), 0..64)) {
            prop_assert!(parse_server_message(&raw).is_ok() || parse_server_message(&raw).is_err(), "bytes never panic");
            let message = parse_server_message(body.to_string().as_bytes()).unwrap();
            prop_assert!(message.cost_cents.is_none_or(|c| (0..=callops_domain::limits::MAX_COST_CENTS).contains(&c)));
            prop_assert!(message.duration_seconds.is_none_or(|d| d <= callops_domain::limits::MAX_DURATION_SECONDS));
            prop_assert!(message.vapi_call_id.as_deref().is_none_or(callops_domain::limits::is_key_safe));
            let new = NewCall { org_id: "o".into(), voice_agent_id: "a".into(), phone_number: "+12125550142".into(), call_type: CallType::OutboundLead, status: CallStatus::Dialing, attempt: 1 };
            let call = CallLog::new(new, "c".into(), time::parse("2024-07-27T21:00:00Z").unwrap());
            let now = time::parse("2024-07-28T00:00:00Z").unwrap();
            let mut current = call.clone();
            // A report, then the same message again as a late one, then a status update.
            for _ in 0..2 {
                if let Some(next) = apply_end_of_call_report(&current, &message, now) {
                    prop_assert!(next.check_storable().is_ok(), "{:?}", next.check_storable());
                    current = next;
                }
            }
            if let Some(next) = apply_status_update(&call, &message, now) {
                prop_assert!(next.check_storable().is_ok(), "{:?}", next.check_storable());
            }
        }
    }
}
