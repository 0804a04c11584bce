//! Calls and agents for the unit tests of the domain's rules.

use crate::{agent::CallingHours, agent::RetryPolicy, agent::VoiceAgent, call::CallLog, call::CallStatus, call::CallType, call::NewCall, time};

/// An outbound lead call, first attempt, in `status`, created 2024-07-27 21:00 UTC.
pub fn call(status: CallStatus) -> CallLog {
    let new =
        NewCall { org_id: "o".into(), voice_agent_id: "a".into(), phone_number: "+12125550142".into(), call_type: CallType::OutboundLead, status, attempt: 1 };
    CallLog::new(new, "c".into(), time::parse("2024-07-27T21:00:00Z").unwrap())
}

/// A New York agent with the default calling hours and retry policy.
pub fn agent() -> VoiceAgent {
    VoiceAgent {
        id: "a".into(),
        org_id: "o".into(),
        name: "A".into(),
        vapi_assistant_id: "asst".into(),
        vapi_phone_number_id: Some("pn".into()),
        twilio_number: None,
        time_zone: "America/New_York".parse().unwrap(),
        calling_hours: CallingHours::default(),
        hours_by_day: Default::default(),
        closed_days: Vec::new(),
        max_concurrent_calls: 1,
        retry_policy: RetryPolicy::default(),
        follow_up_calls: false,
        structured_output_name: None,
        voicemail_message: None,
        imported_from: None,
        created_at: time::parse("2024-01-01T00:00:00Z").unwrap(),
        updated_at: time::parse("2024-01-01T00:00:00Z").unwrap(),
    }
}
