//! The request that places a call (`POST /call`), in Vapi's words, built
//! from the call CallOps decided and its agent: the assistant and number,
//! the variables the assistant's prompt reads, the ids that come back in
//! every webhook, and the overrides that carry out what the placement
//! decided (recording disclosed or off, the healthcare exemption's limits,
//! the live monitor). The service only resolves the secret a transient
//! Twilio number needs.

use callops_domain::{
    agent::VoiceAgent,
    call::{CallLog, compliance::Monitor},
    placement::recording::{DISCLOSURE, RecordingAsk},
};
use serde_json::{Value, json};

use crate::api::{AssistantOverrides, CallMetadata, CreateCall, Customer, MonitorPlan, TransientNumber};

/// What `POST /call` gets for `call`, placed by `agent` from its Vapi number,
/// or from `transient` (a Twilio number the agent brings) when it has none.
pub fn create_call(call: &CallLog, agent: &VoiceAgent, transient: Option<TransientNumber>) -> CreateCall {
    let mut overrides = AssistantOverrides {
        metadata: metadata(call),
        variable_values: variables(call, agent),
        compliance_plan: None,
        artifact_plan: None,
        max_duration_seconds: None,
        first_message: None,
        monitor_plan: monitor_plan(call),
        keypad_input_plan: None,
        voicemail_message: None,
        voicemail_detection: None,
    };
    recording(&mut overrides, call);
    exemption(&mut overrides, call);
    keypad(&mut overrides, call);
    CreateCall {
        assistant_id: agent.vapi_assistant_id.clone(),
        phone_number_id: agent.vapi_phone_number_id.clone(),
        phone_number: if agent.vapi_phone_number_id.is_some() { None } else { transient },
        customer: Customer { number: call.phone_number.clone(), name: call.customer_name.clone() },
        name: format!("CallOps {} #{}", call.call_type.as_str().trim_start_matches("OUTBOUND_").to_lowercase(), call.attempt),
        assistant_overrides: overrides,
    }
}

/// Leaves `message` on voicemail: the message, with Vapi's own detection
/// (audio), which its end-of-call report answers with `endedReason: voicemail`.
pub fn leave_on_voicemail(body: &mut CreateCall, message: String) {
    body.assistant_overrides.voicemail_message = Some(message);
    body.assistant_overrides.voicemail_detection = Some(json!({"provider": "vapi", "type": "audio"}));
}

/// The ids that travel with the call through Vapi and come back in every webhook.
pub fn metadata(call: &CallLog) -> CallMetadata {
    CallMetadata { org_id: call.org_id.clone().into(), call_id: call.id.clone().into(), attempt: call.attempt }
}

/// The assistant's variables: the call's own, then what CallOps knows of
/// the call under names the prompt may use (never over a variable the call set).
fn variables(call: &CallLog, agent: &VoiceAgent) -> serde_json::Map<String, Value> {
    let mut variables: serde_json::Map<String, Value> = call.variable_values.iter().map(|(name, value)| (name.clone(), value.clone().into())).collect();
    let call_type = call.call_type.to_string();
    let known = [
        ("purpose", call.call_purpose.as_ref()),
        ("customerName", call.customer_name.as_ref()),
        ("notes", call.call_notes.as_ref()),
        ("callType", Some(&call_type)),
        ("practiceAgent", Some(&agent.name)),
    ];
    for (name, value) in known {
        if let Some(value) = value {
            variables.entry(name.to_string()).or_insert_with(|| value.clone().into());
        }
    }
    variables
}

/// Carries out the call's recording decision: Vapi's recording-consent plan
/// to disclose and ask (the callee stays on the line to agree; the
/// assistant waits for them to speak first, as Vapi advises for outbound
/// calls), or recording switched off.
fn recording(overrides: &mut AssistantOverrides, call: &CallLog) {
    match call.compliance.as_ref().and_then(|c| c.recording.as_ref()).map(|r| r.asked) {
        Some(RecordingAsk::Disclose) => {
            overrides.compliance_plan = Some(json!({"recordingConsentPlan": {
                "type": "stay-on-line", "message": DISCLOSURE, "firstMessageMode": "assistant-waits-for-user", "waitSeconds": 3}}));
        }
        Some(RecordingAsk::Off) => overrides.artifact_plan = Some(json!({"recordingEnabled": false})),
        Some(RecordingAsk::Record | RecordingAsk::DisclosedInbound | RecordingAsk::NotDisclosed) | None => {}
    }
}

/// Keeps a call resting on the healthcare exemption to its conditions
/// (47 CFR 64.1200(a)(9)(iv)): one minute at most, and the practice's name
/// and callback number said first.
fn exemption(overrides: &mut AssistantOverrides, call: &CallLog) {
    if let Some(exemption) = call.compliance.as_ref().and_then(|c| c.exemption.as_ref()) {
        overrides.max_duration_seconds = Some(exemption.max_duration_seconds);
        overrides.first_message = exemption.first_message.clone();
    }
}

/// The key-press opt-out the call announces: key presses taken (read at a
/// 2-second pause or `#`: Vapi's API definition has `keypadInputPlan
/// {enabled, timeoutSeconds, delimiters: "#" | "*" | ""}` on
/// `AssistantOverrides`; `../shared/vapi.md`), the instruction as a variable
/// the prompt may say, and, unless the call says something else first, a
/// first message that names the practice and says it.
fn keypad(overrides: &mut AssistantOverrides, call: &CallLog) {
    if let Some(keypad) = call.compliance.as_ref().and_then(|c| c.keypad.as_ref()) {
        overrides.keypad_input_plan = Some(json!({"enabled": true, "timeoutSeconds": 2, "delimiters": "#"}));
        overrides.variable_values.entry("optOutInstruction").or_insert_with(|| keypad.instruction.clone().into());
        if overrides.first_message.is_none() {
            overrides.first_message = keypad.first_message.clone();
        }
    }
}

/// The live call's monitor plan as the claim decided it: listening and
/// control each only when decided on, and then locked behind the public
/// key. A call claimed without a decision gets neither.
fn monitor_plan(call: &CallLog) -> MonitorPlan {
    let monitor = call.compliance.as_ref().and_then(|c| c.monitor).unwrap_or(Monitor { listen: false, control: false });
    MonitorPlan::locked(monitor.listen, monitor.control)
}

#[cfg(test)]
mod tests {
    use callops_domain::{
        agent::{CallingHours, RetryPolicy},
        call::{
            CallStatus, CallType, NewCall,
            compliance::{ComplianceRecord, RecordingDecision},
        },
        placement::record::healthcare_exemption,
        time,
    };

    use super::*;
    use callops_domain::call::compliance::Exemption;

    fn agent(vapi_number: bool) -> VoiceAgent {
        let at = time::parse("2026-01-01T00:00:00Z").unwrap();
        VoiceAgent {
            id: "front-desk".into(),
            org_id: "o".into(),
            name: "Front desk".into(),
            vapi_assistant_id: "asst".into(),
            vapi_phone_number_id: vapi_number.then(|| "pn".into()),
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
            created_at: at,
            updated_at: at,
        }
    }

    fn call(record: Option<ComplianceRecord>) -> CallLog {
        let new = NewCall {
            org_id: "o".into(),
            voice_agent_id: "front-desk".into(),
            phone_number: "+12125550142".into(),
            call_type: CallType::OutboundFollowup,
            status: CallStatus::Dialing,
            attempt: 2,
        };
        let mut call = CallLog::new(new, "c-1".into(), time::parse("2026-01-01T15:00:00Z").unwrap());
        call.customer_name = Some("Ana".into());
        call.variable_values.insert("customerName".into(), "Ana P.".into());
        call.compliance = record;
        call
    }

    fn record() -> ComplianceRecord {
        ComplianceRecord {
            decided_at: time::parse("2026-01-01T15:00:00Z").unwrap(),
            zones: vec!["America/New_York".into()],
            states: vec!["NY".into()],
            rules: Vec::new(),
            consent: None,
            recording: None,
            exemption: None,
            place_unknown: false,
            monitor: None,
            registries: Vec::new(),
            rnd: None,
            keypad: None,
            identity: None,
            disclosure: None,
            voicemail: None,
            outbound_room: None,
        }
    }

    #[test]
    fn the_request_carries_the_ids_the_number_and_the_calls_own_variables_first() {
        let body = serde_json::to_value(create_call(&call(None), &agent(true), None)).unwrap();
        assert_eq!(body["assistantId"], "asst");
        assert_eq!(body["phoneNumberId"], "pn");
        assert!(body.get("phoneNumber").is_none());
        assert_eq!(body["customer"], json!({"number": "+12125550142", "name": "Ana"}));
        assert_eq!(body["name"], "CallOps followup #2");
        let overrides = &body["assistantOverrides"];
        assert_eq!(overrides["metadata"], json!({"orgId": "o", "callId": "c-1", "attempt": 2}));
        assert_eq!(overrides["variableValues"]["customerName"], "Ana P.", "a variable the call set is never overwritten");
        assert_eq!(overrides["variableValues"]["callType"], "OUTBOUND_FOLLOWUP");
        assert_eq!(overrides["variableValues"]["practiceAgent"], "Front desk");
        assert!(overrides.get("compliancePlan").is_none() && overrides.get("artifactPlan").is_none() && overrides.get("maxDurationSeconds").is_none());
        assert_eq!(
            overrides["monitorPlan"],
            json!({"listenEnabled": false, "listenAuthenticationEnabled": true, "controlEnabled": false, "controlAuthenticationEnabled": true}),
            "a call claimed without a decision can be neither listened to nor controlled"
        );
    }

    #[test]
    fn a_transient_number_is_sent_only_when_the_agent_has_no_vapi_number() {
        let twilio = TransientNumber { twilio_phone_number: "+12125550100".into(), twilio_account_sid: "AC1".into(), twilio_auth_token: "t".into() };
        assert_eq!(create_call(&call(None), &agent(false), Some(twilio.clone())).phone_number, Some(twilio.clone()));
        assert_eq!(create_call(&call(None), &agent(true), Some(twilio)).phone_number, None);
    }

    #[test]
    fn the_overrides_carry_out_what_placement_decided() {
        let mut decided = record();
        decided.recording = Some(RecordingDecision { all_party: true, asked: RecordingAsk::Disclose });
        decided.exemption = Some(Exemption { first_message: Some("Hello, this is Smile Dental.".into()), ..healthcare_exemption() });
        decided.monitor = Some(Monitor { listen: true, control: true });
        let overrides = serde_json::to_value(create_call(&call(Some(decided.clone())), &agent(true), None).assistant_overrides).unwrap();
        assert_eq!(overrides["compliancePlan"]["recordingConsentPlan"]["type"], "stay-on-line");
        assert_eq!(overrides["compliancePlan"]["recordingConsentPlan"]["message"], DISCLOSURE);
        assert_eq!(overrides["maxDurationSeconds"], 60);
        assert_eq!(overrides["firstMessage"], "Hello, this is Smile Dental.");
        assert_eq!(overrides["monitorPlan"]["listenEnabled"], true);
        assert_eq!(overrides["monitorPlan"]["controlAuthenticationEnabled"], true);

        decided.recording = Some(RecordingDecision { all_party: true, asked: RecordingAsk::Off });
        let overrides = serde_json::to_value(create_call(&call(Some(decided)), &agent(true), None).assistant_overrides).unwrap();
        assert_eq!(overrides["artifactPlan"], json!({"recordingEnabled": false}));
        assert!(overrides.get("compliancePlan").is_none());
    }
}
