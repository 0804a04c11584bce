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
/// what is empty (a transcript, a summary, the recording, a cost or a time
/// the first report did not carry). It never changes a value already set,
/// nor the status, the outcome or any yes/no field, so a later, different
/// report cannot rewrite what a call's analytics counted; a duplicate
/// changes nothing.
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
    next.call_started_at = next.call_started_at.or(message.started_at);
    next.call_ended_at = next.call_ended_at.or(message.ended_at);
    next.duration = next.duration.or_else(|| report_duration(message));
    next.cost_cents = next.cost_cents.or(message.cost_cents);
    next.payment_plan_amount = next.payment_plan_amount.or(analysis.payment_plan_amount_cents);
    next.collection_amount = next.collection_amount.or(analysis.collection_amount_cents);
    next.call_quality = next.call_quality.or(analysis.call_quality);
    next.ai_confidence = next.ai_confidence.or(analysis.ai_confidence.filter(|c| is_storable_number(*c)));
    next.follow_up_date = next.follow_up_date.or(analysis.follow_up_date);
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
    }
}
