//! What a [`CallReport`] does to the call, as pure functions. Each returns
//! the call as it should be after the report, or `None` when the report
//! changes nothing (a duplicate, a late status update, a status that would
//! move the call backwards), so applying a report twice, or in another
//! order, leaves the same final call.

use chrono::{DateTime, Utc};

use crate::{
    call::{CallLog, CallOutcome, CallStatus, CallText, measures::AwaitedOutput},
    ending::report::{CallEnd, CallReport, ReportKind, TransferSeen},
    limits::{MAX_DURATION_SECONDS, is_storable_number},
    time,
};

/// Drops the recording link of a call whose recording decision the report
/// does not meet ([`crate::placement::recording::keep`]: recording switched off, or
/// everyone's consent needed and none granted), and says why on the call.
fn withhold_recording(next: &mut CallLog, report: &CallReport) {
    let decision = next.compliance.as_ref().and_then(|c| c.recording.as_ref());
    if next.recording_url.is_some()
        && let Err(why) = crate::placement::recording::keep(decision, report.recording_consent.as_ref())
    {
        next.recording_url = None;
        next.recording_withheld = Some(why.to_string());
    }
}

/// The call after `report`, or `None` when it changes nothing.
pub fn apply(call: &CallLog, report: &CallReport, now: DateTime<Utc>) -> Option<CallLog> {
    match report.kind {
        ReportKind::Progress => apply_status_update(call, report, now),
        ReportKind::Ended => apply_end_of_call_report(call, report, now),
        ReportKind::Transfer => apply_transfer(call, report, now),
    }
}

/// A transfer to a person has begun: the call was transferred to staff, to
/// where the provider says. Only before the end-of-call report is recorded:
/// the report's own record of transfers is the last word.
pub fn apply_transfer(call: &CallLog, report: &CallReport, now: DateTime<Utc>) -> Option<CallLog> {
    let TransferSeen::To(to) = &report.transfer else { return None };
    if call.was_never_placed() || call.reported_at.is_some() {
        return None;
    }
    let mut next = call.clone();
    next.transferred_to_staff = true;
    if let Some(to) = to {
        next.set_text(CallText::TransferredTo, to);
    }
    changed(call, next, now)
}

/// The structured output a call awaited, from a later read of the call:
/// found, its fields are applied as the report would have applied them
/// (the outcome and every analytics field; the rollups follow the call),
/// and nothing is awaited any more; not found, the next read is planned,
/// or none after the last. A call that awaits nothing is left as it is, so
/// an output is applied once.
pub fn apply_awaited_output(call: &CallLog, report: &CallReport, now: DateTime<Utc>) -> Option<CallLog> {
    let awaited = call.awaiting_output.as_ref()?;
    let mut next = call.clone();
    if report.output_found {
        let (_, reason_outcome) = report.end_status();
        apply_analysis(&mut next, report, reason_outcome);
        if next.transferred_to_staff
            && next.transferred_to.is_none()
            && let Some(to) = &report.analysis.transferred_to
        {
            next.set_text(CallText::TransferredTo, to);
        }
        next.awaiting_output = None;
    } else {
        next.awaiting_output = awaited.after_miss(now);
    }
    changed(call, next, now)
}

fn changed(call: &CallLog, mut next: CallLog, now: DateTime<Utc>) -> Option<CallLog> {
    if call.content_is_removed() {
        // Content removed (retention, erasure) is never brought back by a report: the whole set stays as removed.
        next.keep_content_of(call);
    }
    next.updated_at = call.updated_at;
    if &next == call {
        return None;
    }
    next.updated_at = time::to_millis(now).max(call.updated_at);
    Some(next)
}

/// A status update: moves the status forward, never back.
pub fn apply_status_update(call: &CallLog, report: &CallReport, now: DateTime<Utc>) -> Option<CallLog> {
    let status = report.status?;
    if call.was_never_placed() || status.stage() <= call.status.stage() {
        return None;
    }
    let mut next = call.clone();
    if status.is_terminal() { next.end(status) } else { next.advance(status) }.ok()?;
    next.vapi_call_id = next.vapi_call_id.or_else(|| report.vapi_call_id.clone());
    let at = report.at.unwrap_or(now);
    if status == CallStatus::InProgress && next.call_started_at.is_none() {
        next.call_started_at = Some(time::to_millis(at));
    }
    if status.is_terminal() {
        if next.ended_reason.is_none()
            && let Some(reason) = &report.ended_reason
        {
            next.set_text(CallText::EndedReason, reason);
        }
        next.outcome = next.outcome.or(report.end_status().1);
        next.call_ended_at = next.call_ended_at.or(Some(time::to_millis(at)));
    }
    changed(call, next, now)
}

/// The end-of-call report: the final status, outcome, times, duration,
/// cost, transcript, summary, recording and the analytics fields, and when
/// the report was recorded. Text is cut to its bound ([`crate::limits`]).
/// Once a report is recorded, a later one only fills in what is still
/// empty ([`fill_in_late_report`]).
pub fn apply_end_of_call_report(call: &CallLog, report: &CallReport, now: DateTime<Utc>) -> Option<CallLog> {
    if call.was_never_placed() {
        return None;
    }
    if call.reported_at.is_some() {
        return fill_in_late_report(call, report, now);
    }
    let mut next = call.clone();
    let (status, reason_outcome) = report.end_status();
    // A report that would move the call backwards keeps its status, and records the rest.
    let _ = next.end(status);
    // A message checked at the dial is left when the call reaches voicemail (Vapi says it, then hangs up).
    next.voicemail_left =
        next.status == CallStatus::Voicemail && next.compliance.as_ref().and_then(|c| c.voicemail.as_ref()).is_some_and(|v| v.refused.is_none());
    apply_analysis(&mut next, report, reason_outcome);
    if let Some(reason) = &report.ended_reason {
        next.set_text(CallText::EndedReason, reason);
    }
    next.vapi_call_id = next.vapi_call_id.or_else(|| report.vapi_call_id.clone());

    next.call_started_at = report.started_at.or(next.call_started_at);
    next.call_ended_at = report.ended_at.or(next.call_ended_at);
    next.duration = report_duration(report).or(next.duration);
    next.cost_cents = report.cost_cents.or(next.cost_cents);
    next.cost_breakdown = report.cost_breakdown.clone().or(next.cost_breakdown);
    next.latency = report.latency.clone().or(next.latency);
    if let Some(evaluation) = &report.success_evaluation {
        next.set_text(CallText::SuccessEvaluation, evaluation);
    }

    if let Some(transcript) = &report.transcript {
        next.set_text(CallText::Transcript, transcript);
        disclose(&mut next, transcript);
    }
    if let Some(summary) = &report.summary {
        next.set_text(CallText::Summary, summary);
    }
    next.recording_url = report.recording_url.clone().or(next.recording_url);
    withhold_recording(&mut next, report);
    if next.customer_name.is_none()
        && let Some(name) = &report.customer_name
    {
        next.set_text(CallText::CustomerName, name);
    }
    apply_transfers(&mut next, report);
    // A conversation whose expected output has not come yet: read again later.
    let conversed = matches!(report.end, None | Some(CallEnd::Normal | CallEnd::Transferred | CallEnd::Unknown));
    next.awaiting_output = match &report.expected_output {
        Some(name) if conversed && !report.output_found && crate::call::measures::valid_output_name(name) => Some(AwaitedOutput::new(name, now)),
        _ => None,
    };
    next.reported_at = Some(time::to_millis(now).max(call.updated_at));
    changed(call, next, now)
}

/// What the call said of who was calling, checked against what it had to
/// say, kept on its compliance record with its rule ([`super::disclosure`]).
fn disclose(next: &mut CallLog, transcript: &str) {
    let call_type = next.call_type;
    let Some(record) = next.compliance.as_mut() else { return };
    let Some(identity) = &record.identity else { return };
    let Some(disclosure) = super::disclosure::check(transcript, call_type, identity) else { return };
    record.rules.retain(|r| r.rule != "disclosure");
    record.rules.push(disclosure.rule());
    record.disclosure = Some(disclosure);
}

/// The analytics fields the analysis gives (and the outcome, with what
/// the call's end implies), over what the call holds.
fn apply_analysis(next: &mut CallLog, report: &CallReport, reason_outcome: Option<CallOutcome>) {
    let analysis = &report.analysis;
    let booked = report.booked_by_tool || analysis.appointment_booked == Some(true) || analysis.outcome == Some(CallOutcome::Booked);
    next.outcome = if booked { Some(CallOutcome::Booked) } else { reason_outcome.or(analysis.outcome).or(Some(CallOutcome::Other)) };
    next.appointment_set = booked;
    next.insurance_verified = analysis.insurance_verified.unwrap_or(next.insurance_verified);
    if let Some(provider) = &analysis.insurance_provider {
        next.set_text(CallText::InsuranceProvider, provider);
    }
    next.payment_plan_discussed = analysis.payment_plan_discussed.unwrap_or(next.payment_plan_discussed);
    next.payment_plan_amount = analysis.payment_plan_amount_cents.or(next.payment_plan_amount);
    next.collection_attempt = analysis.collection_attempted.unwrap_or(next.collection_attempt);
    next.collection_amount = analysis.collection_amount_cents.or(next.collection_amount);
    next.collection_success = analysis.collection_successful.unwrap_or(next.collection_success);
    next.customer_sentiment = analysis.customer_sentiment.clone().or(next.customer_sentiment.take());
    next.call_quality = analysis.call_quality.or(next.call_quality);
    next.ai_confidence = analysis.ai_confidence.filter(|c| is_storable_number(*c)).or(next.ai_confidence);
    next.follow_up_required = analysis.follow_up_required.unwrap_or(next.follow_up_required) || analysis.follow_up_date.is_some();
    next.follow_up_date = analysis.follow_up_date.or(next.follow_up_date);
    if next.call_notes.is_none()
        && let Some(notes) = &analysis.notes
    {
        next.set_text(CallText::Notes, notes);
    }
}

/// Whether, and to whom, the call was transferred to staff: from the
/// provider's record of transfers when the report has one (a transfer that
/// reached someone; the assistant's guess only names a transferee the
/// record leaves unnamed), else from how the call ended and what the
/// analysis and earlier transfer messages said.
fn apply_transfers(next: &mut CallLog, report: &CallReport) {
    let analysis_to = report.analysis.transferred_to.as_ref();
    let ended_transferred = report.end == Some(CallEnd::Transferred);
    match &report.transfer {
        TransferSeen::To(to) => {
            next.transferred_to_staff = true;
            if let Some(to) = to.as_ref().or(analysis_to) {
                next.set_text(CallText::TransferredTo, to);
            }
        }
        TransferSeen::NoneConnected => {
            next.transferred_to_staff = ended_transferred;
            match analysis_to.filter(|_| ended_transferred) {
                Some(to) => next.set_text(CallText::TransferredTo, to),
                None => next.transferred_to = None,
            }
        }
        TransferSeen::NotReported => {
            if let Some(to) = analysis_to {
                next.set_text(CallText::TransferredTo, to);
            }
            next.transferred_to_staff =
                next.transferred_to_staff || next.outcome == Some(CallOutcome::Transferred) || ended_transferred || next.transferred_to.is_some();
        }
    }
}

/// The call's duration by the report: its own duration, else
/// `ended_at - started_at` when that is a sane length.
fn report_duration(report: &CallReport) -> Option<u32> {
    report.duration_seconds.or_else(|| {
        let (start, end) = (report.started_at?, report.ended_at?);
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
pub fn fill_in_late_report(call: &CallLog, report: &CallReport, now: DateTime<Utc>) -> Option<CallLog> {
    // The output the call still awaits, when this report brings it, is applied (once) first.
    let mut next = match (&call.awaiting_output, report.output_found) {
        (Some(_), true) => apply_awaited_output(call, report, now).unwrap_or_else(|| call.clone()),
        _ => call.clone(),
    };
    let analysis = &report.analysis;
    let texts = [
        (CallText::Transcript, report.transcript.as_ref()),
        (CallText::Summary, report.summary.as_ref()),
        (CallText::EndedReason, report.ended_reason.as_ref()),
        (CallText::CustomerName, report.customer_name.as_ref()),
        (CallText::InsuranceProvider, analysis.insurance_provider.as_ref()),
        (CallText::TransferredTo, analysis.transferred_to.as_ref()),
        (CallText::Notes, analysis.notes.as_ref()),
        (CallText::CustomerSentiment, analysis.customer_sentiment.as_ref()),
        (CallText::SuccessEvaluation, report.success_evaluation.as_ref()),
    ];
    for (field, text) in texts {
        if let Some(text) = text
            && next.text(field).is_none()
        {
            next.set_text(field, text);
        }
    }
    next.vapi_call_id = next.vapi_call_id.or_else(|| report.vapi_call_id.clone());
    next.recording_url = next.recording_url.or_else(|| report.recording_url.clone());
    withhold_recording(&mut next, report);
    next.call_quality = next.call_quality.or(analysis.call_quality);
    next.ai_confidence = next.ai_confidence.or(analysis.ai_confidence.filter(|c| is_storable_number(*c)));
    next.follow_up_date = next.follow_up_date.or(analysis.follow_up_date);
    next.latency = next.latency.or_else(|| report.latency.clone());
    // A transcript that came only now is checked as the first report's would have been.
    if let (None, Some(transcript)) = (call.transcript.as_ref(), report.transcript.as_ref()) {
        disclose(&mut next, transcript);
    }
    changed(call, next, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ending::report::{CallAnalysis, NamedOutput};
    use crate::{call::lifecycle::EndedReason, fixtures::call};

    fn ended(end: CallEnd, reason: &str, cost_cents: i64, outcome: CallOutcome) -> CallReport {
        let mut report = CallReport::new(ReportKind::Ended);
        report.end = Some(end);
        report.ended_reason = Some(reason.into());
        report.cost_cents = Some(cost_cents);
        report.started_at = time::parse("2024-07-27T21:23:38.017Z");
        report.ended_at = time::parse("2024-07-27T21:26:02.517Z");
        report.summary = Some("s".into());
        report.analysis =
            CallAnalysis { outcome: Some(outcome), payment_plan_discussed: Some(true), payment_plan_amount_cents: Some(5000), ..CallAnalysis::default() };
        report
    }

    #[test]
    fn what_the_provider_says_of_a_call_never_placed_changes_nothing() {
        let now = chrono::Utc::now();
        let report = ended(CallEnd::Normal, "customer-ended-call", 50, CallOutcome::Booked);
        let mut update = CallReport::new(ReportKind::Progress);
        update.status = Some(CallStatus::InProgress);
        let cancelled = call(CallStatus::Scheduled).cancel(EndedReason::CancelledBeforeDialing, now).unwrap();
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
        let first =
            apply_end_of_call_report(&call(CallStatus::InProgress), &ended(CallEnd::Normal, "customer-ended-call", 12, CallOutcome::Information), now).unwrap();
        assert!(first.reported_at.is_some());
        assert_eq!(
            (first.outcome, first.cost_cents, first.payment_plan_amount, first.transcript.as_deref()),
            (Some(CallOutcome::Information), Some(12), Some(5000), None)
        );
        let mut late = ended(CallEnd::Busy, "customer-busy", 900, CallOutcome::Booked);
        late.started_at = time::parse("2024-07-28T10:00:00Z");
        late.transcript = Some("AI: late".into());
        late.analysis.payment_plan_amount_cents = Some(1);
        let after = apply_end_of_call_report(&first, &late, now).unwrap();
        assert_eq!((after.status, after.outcome, after.cost_cents, after.payment_plan_amount), (first.status, first.outcome, Some(12), Some(5000)));
        assert_eq!((after.call_started_at, after.duration), (first.call_started_at, first.duration));
        assert_eq!(after.transcript.as_deref(), Some("AI: late"));
        assert_eq!(apply_end_of_call_report(&after, &late, now), None, "a duplicate changes nothing");
    }

    #[test]
    fn transfers_come_from_what_happened_not_the_models_guess() {
        let now = chrono::Utc::now();
        let mut report = ended(CallEnd::Normal, "customer-ended-call", 12, CallOutcome::Information);
        report.analysis.transferred_to = Some("the model's guess".into());
        report.transfer = TransferSeen::NoneConnected;
        let none = apply_end_of_call_report(&call(CallStatus::InProgress), &report, now).unwrap();
        assert_eq!((none.transferred_to_staff, none.transferred_to.as_deref()), (false, None), "the record says nobody was reached");
        report.transfer = TransferSeen::To(Some("+12025550199".into()));
        let to = apply_end_of_call_report(&call(CallStatus::InProgress), &report, now).unwrap();
        assert_eq!((to.transferred_to_staff, to.transferred_to.as_deref()), (true, Some("+12025550199")));
        report.transfer = TransferSeen::NotReported;
        let guessed = apply_end_of_call_report(&call(CallStatus::InProgress), &report, now).unwrap();
        assert_eq!((guessed.transferred_to_staff, guessed.transferred_to.as_deref()), (true, Some("the model's guess")), "older payloads: as before");

        // A transfer message during the call; after the report, the report's word stands.
        let mut update = CallReport::new(ReportKind::Transfer);
        update.transfer = TransferSeen::To(Some("sip:billing@pbx".into()));
        let moved = apply(&call(CallStatus::InProgress), &update, now).unwrap();
        assert_eq!((moved.transferred_to_staff, moved.transferred_to.as_deref()), (true, Some("sip:billing@pbx")));
        assert_eq!(apply(&none, &update, now), None);
        assert_eq!(apply(&call(CallStatus::Scheduled), &update, now), None);
    }

    #[test]
    fn an_expected_output_missing_from_the_report_is_awaited_and_applied_once() {
        let now = chrono::Utc::now();
        let mut report = ended(CallEnd::Normal, "customer-ended-call", 12, CallOutcome::Information);
        report.analysis = CallAnalysis::default();
        report.structured_data = CallAnalysis { insurance_provider: Some("Aetna".into()), ..CallAnalysis::default() };
        let report = report.reading_output("practice", true);
        let first = apply_end_of_call_report(&call(CallStatus::InProgress), &report, now).unwrap();
        assert_eq!((first.outcome, first.awaiting_output.as_ref().map(|a| a.name.as_str())), (Some(CallOutcome::Other), Some("practice")));
        let mut busy = ended(CallEnd::Busy, "customer-busy", 0, CallOutcome::Information).reading_output("practice", true);
        busy.analysis = CallAnalysis::default();
        assert_eq!(
            apply_end_of_call_report(&call(CallStatus::InProgress), &busy, now).unwrap().awaiting_output,
            None,
            "no conversation, no output to wait for"
        );

        let mut later = report.clone();
        later.outputs = vec![NamedOutput {
            name: "Practice".into(),
            analysis: CallAnalysis {
                outcome: Some(CallOutcome::PaymentPlan),
                payment_plan_discussed: Some(true),
                payment_plan_amount_cents: Some(9_000),
                ..CallAnalysis::default()
            },
        }];
        let later = later.reading_output("practice", true);
        let applied = apply_awaited_output(&first, &later, now).unwrap();
        assert_eq!((applied.outcome, applied.payment_plan_amount, applied.awaiting_output.clone()), (Some(CallOutcome::PaymentPlan), Some(9_000), None));
        assert_eq!(applied.insurance_provider.as_deref(), Some("Aetna"), "the structured data still fills what the output leaves");
        assert_eq!((applied.cost_cents, applied.call_started_at), (first.cost_cents, first.call_started_at), "only the analysis");
        assert_eq!(apply_awaited_output(&applied, &later, now), None, "once");
        assert_eq!(apply_end_of_call_report(&applied, &later, now), None, "a redelivered report changes nothing more");

        // A read that finds nothing plans the next; after the last, nothing is awaited.
        let mut waiting = first.clone();
        for tries in 1..crate::call::measures::AwaitedOutput::TRIES {
            waiting = apply_awaited_output(&waiting, &report, now).unwrap();
            assert_eq!(waiting.awaiting_output.as_ref().map(|a| a.tries), Some(tries));
        }
        let given_up = apply_awaited_output(&waiting, &report, now).unwrap();
        assert_eq!((given_up.awaiting_output, given_up.outcome), (None, Some(CallOutcome::Other)));
    }

    #[test]
    fn statuses_only_move_forward() {
        let now = chrono::Utc::now();
        let mut update = CallReport::new(ReportKind::Progress);
        update.status = Some(CallStatus::Dialing);
        assert_eq!(apply_status_update(&call(CallStatus::InProgress), &update, now), None, "never back");
        update.status = Some(CallStatus::InProgress);
        let moved = apply_status_update(&call(CallStatus::Dialing), &update, now).unwrap();
        assert_eq!((moved.status, moved.call_started_at.is_some()), (CallStatus::InProgress, true));
        assert_eq!(apply_status_update(&moved, &update, now), None, "a duplicate changes nothing");
    }

    #[test]
    fn each_end_has_its_status_and_outcome() {
        assert_eq!(CallEnd::Busy.status_and_outcome(), (CallStatus::Missed, Some(CallOutcome::Busy)));
        assert_eq!(CallEnd::Voicemail.status_and_outcome(), (CallStatus::Voicemail, Some(CallOutcome::Voicemail)));
        assert_eq!(CallEnd::Normal.status_and_outcome(), (CallStatus::Completed, None));
        assert_eq!(CallEnd::Unknown.status_and_outcome(), (CallStatus::Completed, None));
        assert_eq!(CallEnd::Failed.status_and_outcome(), (CallStatus::Failed, Some(CallOutcome::Failed)));
        assert_eq!(CallEnd::Cancelled.status_and_outcome(), (CallStatus::Cancelled, None));
    }
}
