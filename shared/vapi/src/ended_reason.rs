//! Vapi's words for how a call went: its `endedReason` (hundreds of values,
//! and growing; unknown ones fall into a catch-all) classified into the
//! domain's [`CallEnd`], and its call statuses into CallOps's.

use callops_domain::{CallStatus, ending::report::CallEnd};

/// The reason Vapi gives when the account's concurrency limit was full.
pub const CONCURRENCY_LIMIT_REASON: &str = "call.start.error-subscription-concurrency-limit-reached";

/// How a call with this `endedReason` ended.
pub fn classify_ended_reason(reason: &str) -> CallEnd {
    let reason = reason.trim();
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| reason.starts_with(p));
    match reason {
        "customer-did-not-answer" => CallEnd::NoAnswer,
        "customer-busy" => CallEnd::Busy,
        "voicemail" => CallEnd::Voicemail,
        "assistant-forwarded-call" => CallEnd::Transferred,
        r if r.ends_with("hook-executed-transfer") => CallEnd::Transferred,
        CONCURRENCY_LIMIT_REASON => CallEnd::ProviderBusy,
        "manually-canceled" | "scheduled-call-deleted" | "call-deleted" => CallEnd::Cancelled,
        "assistant-said-end-call-phrase" | "silence-timed-out" | "exceeded-max-duration" | "call.in-progress.twilio-completed-call" => CallEnd::Normal,
        _ if starts(&["customer-ended-call", "assistant-ended-call"]) => CallEnd::Normal,
        "twilio-failed-to-connect-call" | "twilio-reported-customer-misdialed" | "assistant-not-found" => CallEnd::Failed,
        _ if starts(&["call.start.error-", "pipeline-error-", "call.in-progress.error-", "call.ringing.error-", "assistant-request-"]) => CallEnd::Failed,
        r if r.contains("error") || r.contains("failed") => CallEnd::Failed,
        _ => CallEnd::Unknown,
    }
}

/// How a call ended by its reason; no reason is an unknown end.
pub fn end_of_call(reason: Option<&str>) -> CallEnd {
    reason.map_or(CallEnd::Unknown, classify_ended_reason)
}

/// CallOps's status for a Vapi call status (an ended call's by its reason).
pub fn status_for(vapi_status: &str, ended_reason: Option<&str>) -> Option<CallStatus> {
    match vapi_status.trim() {
        "scheduled" | "queued" => Some(CallStatus::Dialing),
        "ringing" | "in-progress" | "forwarding" => Some(CallStatus::InProgress),
        "ended" => Some(end_of_call(ended_reason).status_and_outcome().0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callops_domain::CallOutcome;

    #[test]
    fn ended_reasons_fall_into_their_classes() {
        use CallEnd::*;
        for (reason, class) in [
            ("customer-did-not-answer", NoAnswer),
            ("customer-busy", Busy),
            ("voicemail", Voicemail),
            ("assistant-forwarded-call", Transferred),
            ("assistant-request-returned-hook-executed-transfer", Transferred),
            ("customer-ended-call", Normal),
            ("customer-ended-call-after-warm-transfer-attempt", Normal),
            ("assistant-ended-call-with-hangup-task", Normal),
            ("assistant-said-end-call-phrase", Normal),
            ("silence-timed-out", Normal),
            ("exceeded-max-duration", Normal),
            ("call.in-progress.twilio-completed-call", Normal),
            ("twilio-failed-to-connect-call", Failed),
            ("twilio-reported-customer-misdialed", Failed),
            ("call.start.error-get-assistant", Failed),
            ("pipeline-error-openai-llm-failed", Failed),
            ("call.in-progress.error-vapifault-transport-never-connected", Failed),
            ("assistant-not-found", Failed),
            (CONCURRENCY_LIMIT_REASON, ProviderBusy),
            ("manually-canceled", Cancelled),
            ("scheduled-call-deleted", Cancelled),
            ("call-deleted", Cancelled),
            ("something-vapi-adds-next-year", Unknown),
        ] {
            assert_eq!(classify_ended_reason(reason), class, "{reason}");
        }
        let end = |reason| end_of_call(reason).status_and_outcome();
        assert_eq!(end(Some("customer-busy")), (CallStatus::Missed, Some(CallOutcome::Busy)));
        assert_eq!(end(Some("voicemail")), (CallStatus::Voicemail, Some(CallOutcome::Voicemail)));
        assert_eq!(end(Some("customer-ended-call")), (CallStatus::Completed, None));
        assert_eq!(end(Some("brand-new-reason")), (CallStatus::Completed, None));
        assert_eq!(end(None), (CallStatus::Completed, None));
        assert_eq!(end(Some("pipeline-error-deepgram")), (CallStatus::Failed, Some(CallOutcome::Failed)));
    }

    #[test]
    fn statuses_map() {
        assert_eq!(status_for("ringing", None), Some(CallStatus::InProgress));
        assert_eq!(status_for("queued", None), Some(CallStatus::Dialing));
        assert_eq!(status_for("ended", Some("customer-busy")), Some(CallStatus::Missed));
        assert_eq!(status_for("teleporting", None), None);
    }
}
