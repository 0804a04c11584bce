//! What a server message does to a call, as pure functions. Each returns the
//! call as it should be after the message, or `None` when the message changes
//! nothing (a duplicate, a late status update, a status that would move the
//! call backwards), so applying a message twice, or in another order, leaves
//! the same final call.

use callops_domain::{
    CallLog, CallOutcome, CallStatus,
    classify::{booked_by_tool_call, end_of_call, read_structured_data},
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

/// Whether a call may get from `from` to `to`, directly or through DIALING
/// (a report can arrive for a call whose dial was never recorded).
fn reachable(from: CallStatus, to: CallStatus) -> bool {
    from.can_become(to) || (from.can_become(CallStatus::Dialing) && CallStatus::Dialing.can_become(to))
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
    if status.stage() <= call.status.stage() || !reachable(call.status, status) {
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
        next.ended_reason = next.ended_reason.or_else(|| message.ended_reason.clone());
        next.outcome = next.outcome.or(end_of_call(message.ended_reason.as_deref()).1);
        next.call_ended_at = next.call_ended_at.or(Some(callops_domain::time::to_millis(at)));
    }
    changed(call, next, now)
}

/// `end-of-call-report`: the final status, outcome, times, duration, cost,
/// transcript, summary, recording and the analytics fields.
pub fn apply_end_of_call_report(call: &CallLog, message: &ServerMessage, now: DateTime<Utc>) -> Option<CallLog> {
    let mut next = call.clone();
    let reason = message.ended_reason.as_deref();
    let (status, reason_outcome) = end_of_call(reason);
    if !call.status.is_terminal() && reachable(call.status, status) {
        next.status = status;
    }
    let analysis = read_structured_data(&message.structured_data);
    let booked = booked_by_tool_call(message.tool_names.iter().map(String::as_str))
        || analysis.appointment_booked == Some(true)
        || analysis.outcome == Some(CallOutcome::Booked);
    next.outcome = if booked { Some(CallOutcome::Booked) } else { reason_outcome.or(analysis.outcome).or(Some(CallOutcome::Other)) };
    next.appointment_set = booked;
    next.ended_reason = message.ended_reason.clone().or(next.ended_reason);
    next.vapi_call_id = next.vapi_call_id.or_else(|| message.vapi_call_id.clone());

    next.call_started_at = message.started_at.or(next.call_started_at);
    next.call_ended_at = message.ended_at.or(next.call_ended_at);
    let seconds = message.duration_seconds.or_else(|| {
        let (start, end) = (message.started_at?, message.ended_at?);
        Some((end - start).num_milliseconds().max(0) as f64 / 1000.0)
    });
    next.duration = seconds.map(|s| s.round() as u32).or(next.duration);
    next.cost_cents = message.cost_usd.map(|usd| (usd * 100.0).round() as i64).or(next.cost_cents);

    if let Some(transcript) = &message.transcript {
        let (kept, cut) = callops_domain::call::cut_transcript(transcript);
        next.transcript = Some(kept);
        next.transcript_truncated = cut;
    }
    next.summary = message.summary.clone().or(next.summary);
    next.recording_url = message.recording_url.clone().or(next.recording_url);
    if next.customer_name.is_none() {
        next.customer_name = message.customer_name.clone();
    }

    next.insurance_verified = analysis.insurance_verified.unwrap_or(next.insurance_verified);
    next.insurance_provider = analysis.insurance_provider.or(next.insurance_provider);
    next.payment_plan_discussed = analysis.payment_plan_discussed.unwrap_or(next.payment_plan_discussed);
    next.payment_plan_amount = analysis.payment_plan_amount_cents.or(next.payment_plan_amount);
    next.collection_attempt = analysis.collection_attempted.unwrap_or(next.collection_attempt);
    next.collection_amount = analysis.collection_amount_cents.or(next.collection_amount);
    next.collection_success = analysis.collection_successful.unwrap_or(next.collection_success);
    next.transferred_to = analysis.transferred_to.or(next.transferred_to);
    next.transferred_to_staff = next.outcome == Some(CallOutcome::Transferred) || next.transferred_to.is_some();
    next.customer_sentiment = analysis.customer_sentiment.or(next.customer_sentiment);
    next.call_quality = analysis.call_quality.or(next.call_quality);
    next.ai_confidence = analysis.ai_confidence.or(next.ai_confidence);
    next.follow_up_required = analysis.follow_up_required.unwrap_or(next.follow_up_required) || analysis.follow_up_date.is_some();
    next.follow_up_date = analysis.follow_up_date.or(next.follow_up_date);
    if next.call_notes.is_none() {
        next.call_notes = analysis.notes;
    }
    changed(call, next, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_and_only_move_forward() {
        assert_eq!(status_for("ringing", None), Some(CallStatus::InProgress));
        assert_eq!(status_for("queued", None), Some(CallStatus::Dialing));
        assert_eq!(status_for("ended", Some("customer-busy")), Some(CallStatus::Missed));
        assert_eq!(status_for("teleporting", None), None);
        assert!(reachable(CallStatus::Scheduled, CallStatus::Completed), "a report for a call whose dial was lost");
        assert!(!reachable(CallStatus::Completed, CallStatus::InProgress));
    }
}
