//! Vapi server messages, read leniently: Vapi's payloads carry older copies
//! of fields at the top level, timestamps as epoch numbers (sometimes written
//! as floats like `1.722115418016999E12`) or ISO strings, and numbers as
//! floats where integers are meant. Anything unreadable is treated as absent
//! rather than failing the message, and so is anything readable but out of
//! bounds (a time outside the supported range, a cost or duration over its
//! limit, an id too long for a key, a recording that is not `https:`): such
//! a field is named in [`ServerMessage::ignored`], which the webhook logs,
//! and the rest of the message is applied.

use callops_domain::{
    DomainError,
    ending::report::{CallAnalysis, CallReport, ReportKind, ReportSubject},
    limits::{self, MAX_COST_CENTS, MAX_DURATION_SECONDS},
    phone, time,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::{
    ended_reason::{end_of_call, status_for},
    measures,
    structured_data::{CALLOPS_OUTPUT, booked_by_tool_call, lenient_number, named_outputs, read_structured_data},
    wire::{Envelope, RawCall, RawMessage},
};

/// The ids CallOps put in `assistantOverrides.metadata` when it dialed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OurIds {
    pub org_id: Option<String>,
    pub call_id: Option<String>,
    pub attempt: Option<u32>,
}

/// One server message: what it says of the call (the [`CallReport`]) and
/// how to find the call it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerMessage {
    pub kind: String,
    pub timestamp: Option<DateTime<Utc>>,
    /// `inboundPhoneCall`, `outboundPhoneCall`, `webCall`...
    pub call_type: Option<String>,
    pub ours: OurIds,
    pub phone_number_id: Option<String>,
    pub assistant_id: Option<String>,
    pub customer_number: Option<String>,
    /// `status-update`: the new Vapi status.
    pub status: Option<String>,
    /// What the message says of the call; `None` for a message of another kind.
    pub report: Option<CallReport>,
    /// The names of the tools the assistant called during the call.
    pub tool_names: Vec<String>,
    /// Fields present but out of bounds, with why: ignored, to be logged.
    pub ignored: Vec<String>,
}

impl ServerMessage {
    /// Which call the message is about.
    pub fn subject(&self) -> ReportSubject {
        ReportSubject {
            org_id: self.ours.org_id.clone(),
            call_id: self.ours.call_id.clone(),
            attempt: self.ours.attempt,
            phone_number_id: self.phone_number_id.clone(),
            assistant_id: self.assistant_id.clone(),
            outbound: self.call_type.as_deref() == Some("outboundPhoneCall"),
            customer_number: self.customer_number.clone(),
        }
    }

    /// The Vapi call id the message names.
    pub fn vapi_call_id(&self) -> Option<&String> {
        self.report.as_ref().and_then(|r| r.vapi_call_id.as_ref())
    }
}

/// A time from an epoch number (seconds or milliseconds, float or integer)
/// or an ISO string, of any instant chrono can hold.
fn any_time(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Number(n) => {
            let n = n.as_f64()?;
            let millis = if n.abs() > 1e11 { n } else { n * 1000.0 };
            DateTime::from_timestamp_millis(millis.round() as i64).map(time::to_millis)
        }
        Value::String(s) => time::parse(s.trim()).or_else(|| s.trim().parse::<f64>().ok().and_then(|n| any_time(&Value::from(n)))),
        _ => None,
    }
}

/// A time from an epoch number (seconds or milliseconds, float or integer)
/// or an ISO string, in the supported range; `Err` for a readable time outside it.
pub fn lenient_time(value: &Value) -> Result<Option<DateTime<Utc>>, DateTime<Utc>> {
    match any_time(value) {
        None => Ok(None),
        Some(at) => time::supported(at).map(Some).ok_or(at),
    }
}

/// Collects what a message held out of bounds.
#[derive(Default)]
struct Ignored(Vec<String>);

impl Ignored {
    fn time(&mut self, name: &str, value: Option<&Value>) -> Option<DateTime<Utc>> {
        lenient_time(value?).unwrap_or_else(|at| {
            self.0.push(format!("{name}: {} is outside the supported range", time::format(&at)));
            None
        })
    }

    fn id(&mut self, name: &str, value: Option<String>) -> Option<String> {
        let id = value?;
        if limits::is_key_safe(&id) {
            return Some(id);
        }
        self.0.push(format!("{name}: not an id ({} bytes)", id.len()));
        None
    }

    fn bounded<T>(&mut self, name: &str, value: Option<T>, ok: impl Fn(&T) -> bool, why: &str) -> Option<T> {
        let value = value?;
        if ok(&value) {
            return Some(value);
        }
        self.0.push(format!("{name}: {why}"));
        None
    }
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn number(value: Option<&Value>) -> Option<f64> {
    lenient_number(value?).filter(|n| *n >= 0.0)
}

fn owned_text(value: Option<Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s),
        _ => None,
    }
}

/// The caller's number as it came: E.164 when it normalises, else as sent
/// (trimmed) when it fits; a number too long or with control characters is `Err`.
fn caller_number(text: String) -> Result<String, ()> {
    if let Ok(number) = phone::normalize(&text) {
        return Ok(number.into_string());
    }
    let text = text.trim();
    if text.len() <= limits::MAX_PHONE_TEXT_BYTES && !text.chars().any(char::is_control) { Ok(text.to_string()) } else { Err(()) }
}

/// Vapi's recording-consent result (`compliance.recordingConsent {type,
/// grantedAt}`; no `grantedAt`: declined).
fn recording_consent(compliance: Option<&Value>, ignored: &mut Ignored) -> Option<callops_domain::placement::recording::RecordingConsent> {
    let consent = compliance?.get("recordingConsent")?.as_object()?;
    let kind = consent.get("type").and_then(Value::as_str).unwrap_or("unknown").chars().take(40).collect();
    Some(callops_domain::placement::recording::RecordingConsent {
        kind,
        granted_at: ignored.time("compliance.recordingConsent.grantedAt", consent.get("grantedAt")),
    })
}

/// Parses a server message body (`{"message": {...}}`).
pub fn parse_server_message(body: &[u8]) -> Result<ServerMessage, DomainError> {
    let invalid = |why: &str| DomainError::invalid("invalid_message", format!("not a Vapi server message: {why}"));
    let envelope: Envelope = serde_json::from_slice(body).map_err(|_| invalid("the body is not a JSON message of the expected shape"))?;
    let mut m = envelope.message.ok_or_else(|| invalid("no message object"))?;
    let kind = owned_text(m.kind.take()).ok_or_else(|| invalid("the message has no type"))?;
    let call = m.call.take().unwrap_or_default();
    Ok(read(kind, m, call))
}

/// What Vapi's Call object (from `GET /call`) says, read as the message
/// Vapi would have sent about it: an ended call as its end-of-call-report,
/// any other as a status-update, said `now`.
pub fn read_vapi_call(call: &Value, now: DateTime<Utc>) -> Result<ServerMessage, DomainError> {
    let invalid = || DomainError::invalid("invalid_message", "not a Vapi call object");
    let mut m = RawMessage::deserialize(call).map_err(|_| invalid())?;
    let parts = RawCall::deserialize(call).map_err(|_| invalid())?;
    m.timestamp = Some(Value::from(now.timestamp_millis()));
    // Only what Vapi's end-of-call report carries too is read from the call.
    (m.transcript, m.summary, m.recording_url, m.duration_seconds, m.duration_ms, m.assistant) = (None, None, None, None, None, None);
    let ended = m.status.as_ref().and_then(Value::as_str) == Some("ended");
    Ok(read(if ended { "end-of-call-report" } else { "status-update" }.to_string(), m, parts))
}

/// A message of `kind` from its parts (the call's own ones in `call`).
fn read(kind: String, m: RawMessage, call: RawCall) -> ServerMessage {
    let mut ignored = Ignored::default();
    let metadata = call.assistant_overrides.and_then(|o| o.metadata).or_else(|| m.assistant.as_ref().and_then(|a| a.metadata.clone())).unwrap_or(Value::Null);
    let ours = OurIds {
        org_id: text(metadata.get("orgId")),
        call_id: ignored.id("metadata.callId", text(metadata.get("callId"))),
        attempt: number(metadata.get("attempt")).filter(|a| *a <= f64::from(u32::MAX)).map(|a| a as u32),
    };
    let mut artifact = m.artifact.unwrap_or_default();
    let outputs = artifact.structured_outputs.take().or_else(|| call.artifact.and_then(|a| a.structured_outputs));
    let analysis = m.analysis.unwrap_or_default();
    let duration = number(m.duration_seconds.as_ref()).or_else(|| number(m.duration_ms.as_ref()).map(|ms| ms / 1000.0));
    let duration_seconds = ignored
        .bounded("durationSeconds", duration.map(f64::round), |s| *s <= f64::from(MAX_DURATION_SECONDS), &format!("over {MAX_DURATION_SECONDS} seconds"))
        .map(|s| s as u32);
    let cost_cents = ignored
        .bounded("cost", number(m.cost.as_ref()).map(|usd| (usd * 100.0).round()), |c| *c <= MAX_COST_CENTS as f64, &format!("over {MAX_COST_CENTS} cents"))
        .map(|c| c as i64);
    let customer = m.customer.unwrap_or_default();
    let call_customer = call.customer.unwrap_or_default();
    let customer_number = owned_text(customer.number).or_else(|| owned_text(call_customer.number)).and_then(|text| {
        let length = text.len();
        caller_number(text).map_err(|()| ignored.0.push(format!("customer.number: not a phone number ({length} bytes)"))).ok()
    });
    let recording = artifact.recording.unwrap_or_default();
    // The current fields first (both channels in one file, then stereo), then the deprecated copies.
    let recordings = [
        ("artifact.recording.mono.combinedUrl", recording.mono.and_then(|mono| owned_text(mono.combined_url))),
        ("artifact.recording.stereoUrl", owned_text(recording.stereo_url)),
        ("artifact.recordingUrl", owned_text(artifact.recording_url)),
        ("recordingUrl", owned_text(m.recording_url)),
        ("artifact.stereoRecordingUrl", owned_text(artifact.stereo_recording_url)),
    ];
    // The first one given is the recording; one that is not https: is not kept, and no other stands in for it.
    let recording_url = recordings.into_iter().find_map(|(name, url)| url.map(|url| (name, url))).and_then(|(name, url)| {
        let kept = limits::is_https_url(&url).then_some(url);
        if kept.is_none() {
            ignored.0.push(format!("{name}: not an https: URL"));
        }
        kept
    });
    let tool_names: Vec<String> = artifact
        .messages
        .unwrap_or_default()
        .into_iter()
        .flat_map(|message| message.tool_calls.unwrap_or_default())
        .filter_map(|tool| owned_text(tool.function?.name))
        .collect();
    let structured_data = read_structured_data(&analysis.structured_data.unwrap_or(Value::Null));
    let outputs = outputs.as_ref().map(named_outputs).unwrap_or_default();
    for (place, read) in
        std::iter::once(("analysis.structuredData", &structured_data)).chain(outputs.iter().map(|o| ("artifact.structuredOutputs", &o.analysis)))
    {
        ignored.0.extend(read.ignored.iter().map(|name| format!("{place}.{name}: out of bounds")));
    }
    let cost_breakdown = measures::cost_breakdown(m.cost_breakdown, m.costs, &mut ignored.0);
    let latency = measures::latency(artifact.performance_metrics.take(), &mut ignored.0);
    let transfer = match kind.as_str() {
        "transfer-update" => measures::transfer_update(m.destination.as_ref()),
        _ => measures::transfers(artifact.transfers.take()),
    };
    let success_evaluation = match analysis.success_evaluation {
        Some(Value::String(text)) => Some(text.trim().to_string()).filter(|t| !t.is_empty()),
        Some(value @ (Value::Bool(_) | Value::Number(_))) => Some(value.to_string()),
        _ => None,
    };
    let status = owned_text(m.status);
    let ended_reason = owned_text(m.ended_reason);
    let timestamp = ignored.time("timestamp", m.timestamp.as_ref());
    let report_kind = match kind.as_str() {
        "status-update" => Some(ReportKind::Progress),
        "end-of-call-report" => Some(ReportKind::Ended),
        "transfer-update" => Some(ReportKind::Transfer),
        _ => None,
    };
    let report = report_kind.map(|kind| {
        CallReport {
            kind,
            at: timestamp,
            vapi_call_id: ignored.id("call.id", owned_text(call.id)),
            status: status.as_deref().and_then(|s| status_for(s, ended_reason.as_deref())),
            end: Some(end_of_call(ended_reason.as_deref())),
            ended_reason,
            started_at: ignored.time("startedAt", m.started_at.as_ref()),
            ended_at: ignored.time("endedAt", m.ended_at.as_ref()),
            duration_seconds,
            cost_cents,
            transcript: owned_text(artifact.transcript).or_else(|| owned_text(m.transcript)),
            summary: owned_text(analysis.summary).or_else(|| owned_text(m.summary)),
            recording_url,
            recording_consent: recording_consent(m.compliance.as_ref().or(call.compliance.as_ref()), &mut ignored),
            customer_name: owned_text(customer.name).or_else(|| owned_text(call_customer.name)),
            analysis: CallAnalysis::default(),
            structured_data,
            outputs,
            output_found: false,
            expected_output: None,
            success_evaluation,
            cost_breakdown,
            latency,
            transfer,
            booked_by_tool: booked_by_tool_call(tool_names.iter().map(String::as_str)),
        }
        .reading_output(CALLOPS_OUTPUT, false)
    });
    ServerMessage {
        kind,
        timestamp,
        call_type: owned_text(call.kind),
        ours,
        phone_number_id: owned_text(call.phone_number_id).or_else(|| owned_text(m.phone_number.and_then(|p| p.id))),
        assistant_id: owned_text(call.assistant_id).or_else(|| owned_text(m.assistant.and_then(|a| a.id))),
        customer_number,
        status,
        report,
        tool_names,
        ignored: ignored.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callops_domain::ending::report::TransferSeen;

    #[test]
    fn timestamps_come_in_every_form() {
        let expected = Ok(time::parse("2024-07-27T21:23:38.017Z"));
        assert_eq!(lenient_time(&serde_json::json!(1.722115418016999E12)), expected);
        assert_eq!(lenient_time(&serde_json::json!(1722115418017_i64)), expected);
        assert_eq!(lenient_time(&serde_json::json!(1722115418.017)), expected, "seconds as a float");
        assert_eq!(lenient_time(&serde_json::json!("1722115418017")), expected, "milliseconds as a string");
        assert_eq!(lenient_time(&serde_json::json!("2024-07-27T21:23:38.017Z")), expected);
        assert_eq!(lenient_time(&serde_json::json!("soon")), Ok(None));
    }

    #[test]
    fn times_outside_the_supported_range_are_refused_not_believed() {
        for outside in [
            serde_json::json!(1e16),
            serde_json::json!(-1),
            serde_json::json!("9999-12-31T23:59:59Z"),
            serde_json::json!(4102444800000_i64),
            serde_json::json!(1e300),
        ] {
            assert!(lenient_time(&outside).is_err() || lenient_time(&outside) == Ok(None), "{outside}");
            assert!(!matches!(lenient_time(&outside), Ok(Some(_))), "{outside}");
        }
    }

    #[test]
    fn out_of_bounds_fields_are_ignored_and_named_and_the_rest_is_read() {
        let body = serde_json::json!({"message": {
            "type": "end-of-call-report",
            "timestamp": 1e15,
            "startedAt": "2024-07-27T21:23:38.017Z",
            "endedAt": "+275760-09-13T00:00:00Z",
            "cost": 1e17,
            "durationSeconds": 1e12,
            "recordingUrl": "javascript:alert(1)",
            "customer": {"number": "9".repeat(100)},
            "call": {"id": "v".repeat(500), "assistantOverrides": {"metadata": {"callId": "c".repeat(300), "attempt": 1e20}}},
            "analysis": {"summary": "fine", "structuredData": {"collectionAmountCents": 1e12}},
        }});
        let message = parse_server_message(body.to_string().as_bytes()).unwrap();
        let report = message.report.clone().unwrap();
        assert_eq!(report.started_at, time::parse("2024-07-27T21:23:38.017Z"));
        assert_eq!(report.summary.as_deref(), Some("fine"));
        assert_eq!((message.timestamp, report.ended_at, report.cost_cents, report.duration_seconds), (None, None, None, None));
        assert_eq!(
            (report.recording_url, message.customer_number, report.vapi_call_id, message.ours.call_id, message.ours.attempt),
            (None, None, None, None, None)
        );
        assert_eq!(report.analysis.collection_amount_cents, None);
        let named = message.ignored.join("; ");
        for field in ["timestamp", "cost", "durationSeconds", "recordingUrl", "customer.number", "call.id", "metadata.callId", "collectionAmount"] {
            assert!(named.contains(field), "{field} missing from {named}");
        }
    }

    #[test]
    fn callops_structured_output_is_read_and_wins_over_structured_data_field_by_field() {
        let body = serde_json::json!({"message": {
            "type": "end-of-call-report",
            "artifact": {"structuredOutputs": {
                "5f1e-other": {"name": "lead-score", "result": {"outcome": "FAILED", "score": 3}},
                "9c2a-ours": {"name": "CallOps", "result": {"outcome": "payment plan", "paymentPlanAmountDollars": "1,200", "insuranceVerified": true}},
            }},
            "analysis": {"structuredData": {"outcome": "INFORMATION", "insuranceProvider": "Delta Dental", "insuranceVerified": false}},
        }});
        let analysis = parse_server_message(body.to_string().as_bytes()).unwrap().report.unwrap().analysis;
        assert_eq!(analysis.outcome, Some(callops_domain::CallOutcome::PaymentPlan), "the output named callops, not another, and over structuredData");
        assert_eq!((analysis.payment_plan_amount_cents, analysis.insurance_verified), (Some(120_000), Some(true)));
        assert_eq!(analysis.insurance_provider.as_deref(), Some("Delta Dental"), "structuredData fills what the output leaves empty");

        // On the call's own artifact, with the result written as a JSON string.
        let later = serde_json::json!({"message": {"type": "end-of-call-report", "call": {"id": "v1", "artifact": {"structuredOutputs": {
            "9c2a": {"name": "callops", "result": "{\"outcome\": \"BOOKED\", \"customerSentiment\": \"positive\"}"},
        }}}}});
        let analysis = parse_server_message(later.to_string().as_bytes()).unwrap().report.unwrap().analysis;
        assert_eq!((analysis.outcome, analysis.customer_sentiment.as_deref()), (Some(callops_domain::CallOutcome::Booked), Some("positive")));

        // Outputs of no use read as nothing.
        for outputs in
            [serde_json::json!([1, 2]), serde_json::json!({"a": {"name": "callops"}}), serde_json::json!({"a": {"name": 7, "result": {"outcome": "BOOKED"}}})]
        {
            let body = serde_json::json!({"message": {"type": "end-of-call-report", "artifact": {"structuredOutputs": outputs}}});
            assert_eq!(
                parse_server_message(body.to_string().as_bytes()).unwrap().report.unwrap().analysis,
                callops_domain::ending::report::CallAnalysis::default()
            );
        }
    }

    #[test]
    fn the_current_recording_fields_are_preferred_over_the_deprecated_ones() {
        let body = |artifact: serde_json::Value| serde_json::json!({"message": {"type": "end-of-call-report", "recordingUrl": "https://old.example/r.wav", "artifact": artifact}});
        let url = |artifact| parse_server_message(body(artifact).to_string().as_bytes()).unwrap().report.unwrap().recording_url;
        let current = serde_json::json!({
            "recording": {"stereoUrl": "https://r.example/stereo.wav", "mono": {"combinedUrl": "https://r.example/mono.wav", "assistantUrl": "https://r.example/a.wav"}},
            "recordingUrl": "https://r.example/flat.wav",
        });
        assert_eq!(url(current).as_deref(), Some("https://r.example/mono.wav"), "mono combined first");
        assert_eq!(url(serde_json::json!({"recording": {"stereoUrl": "https://r.example/stereo.wav"}})).as_deref(), Some("https://r.example/stereo.wav"));
        assert_eq!(url(serde_json::json!({"recordingUrl": "https://r.example/flat.wav"})).as_deref(), Some("https://r.example/flat.wav"));
        assert_eq!(url(serde_json::json!({})).as_deref(), Some("https://old.example/r.wav"), "the deprecated top-level copy last");
        let unsafe_first = serde_json::json!({"recording": {"mono": {"combinedUrl": "javascript:alert(1)"}, "stereoUrl": "https://r.example/stereo.wav"}});
        assert_eq!(url(unsafe_first), None, "the recording given first is not https: nothing is kept");
        assert_eq!(url(serde_json::json!({"recording": "not an object"})).as_deref(), Some("https://old.example/r.wav"));
    }

    #[test]
    fn cost_parts_latency_transfers_and_success_are_read_from_every_shape() {
        let report = |message: serde_json::Value| parse_server_message(serde_json::json!({"message": message}).to_string().as_bytes()).unwrap().report.unwrap();
        // The breakdown, summed before rounding; its analysis parts are one part here.
        let legacy = report(serde_json::json!({"type": "end-of-call-report", "costBreakdown": {
            "transport": 0.0123, "stt": 0.02, "llm": 0.0611, "tts": "0.07", "vapi": 0.05, "total": 0.2134,
            "llmPromptTokens": 1200.0, "llmCompletionTokens": 80, "ttsCharacters": 900,
            "analysisCostBreakdown": {"summary": 0.004, "structuredData": 0.004, "successEvaluation": 0.0021},
        }, "analysis": {"successEvaluation": true}}));
        let breakdown = legacy.cost_breakdown.unwrap();
        assert_eq!((breakdown.transport_cents, breakdown.stt_cents, breakdown.llm_cents, breakdown.tts_cents), (Some(1), Some(2), Some(6), Some(7)));
        assert_eq!((breakdown.vapi_cents, breakdown.analysis_cents), (Some(5), Some(1)));
        assert_eq!((breakdown.llm_prompt_tokens, breakdown.llm_completion_tokens, breakdown.tts_characters), (Some(1200), Some(80), Some(900)));
        assert_eq!(legacy.success_evaluation.as_deref(), Some("true"));
        assert_eq!(legacy.transfer, TransferSeen::NotReported);

        // Without a breakdown, from `costs[]` by type.
        let current = report(serde_json::json!({"type": "end-of-call-report", "costs": [
            {"type": "model", "cost": 0.031, "promptTokens": 100, "completionTokens": 10}, {"type": "model", "cost": 0.031, "promptTokens": 50, "completionTokens": 5},
            {"type": "voice", "cost": 0.07, "characters": 300}, {"type": "knowledge-base", "cost": 9}, "junk",
        ], "artifact": {
            "performanceMetrics": {"turnLatencies": [{}, {}, {}], "turnLatencyAverage": 1012.6, "modelLatencyAverage": "400", "voiceLatencyAverage": 9e9},
            "transfers": [{"destination": {"type": "number", "number": "+12025550199"}, "status": "connected"}, {"destination": {"type": "sip", "sipUri": "sip:desk@pbx"}, "status": "failed"}],
        }, "analysis": {"successEvaluation": " Good "}}));
        let breakdown = current.cost_breakdown.unwrap();
        assert_eq!((breakdown.llm_cents, breakdown.tts_cents, breakdown.transport_cents), (Some(6), Some(7), None));
        assert_eq!((breakdown.llm_prompt_tokens, breakdown.llm_completion_tokens, breakdown.tts_characters), (Some(150), Some(15), Some(300)));
        let latency = current.latency.unwrap();
        assert_eq!(
            (latency.turn_ms, latency.model_ms, latency.voice_ms, latency.turns),
            (Some(1013), Some(400), None, Some(3)),
            "an average past its bound is left out"
        );
        assert_eq!(current.transfer, TransferSeen::To(Some("+12025550199".into())), "the transfer that connected, not the last one tried");
        assert_eq!(current.success_evaluation.as_deref(), Some("Good"));

        let unanswered = report(
            serde_json::json!({"type": "end-of-call-report", "artifact": {"transfers": [{"destination": {"type": "number", "number": "+1"}, "status": "no-answer"}]}}),
        );
        assert_eq!(unanswered.transfer, TransferSeen::NoneConnected);
        let to_assistant = report(
            serde_json::json!({"type": "end-of-call-report", "artifact": {"transfers": [{"destination": {"type": "assistant"}, "status": "completed"}]}}),
        );
        assert_eq!(to_assistant.transfer, TransferSeen::NoneConnected, "a hand-off to another assistant is no transfer to staff");

        let update =
            report(serde_json::json!({"type": "transfer-update", "destination": {"type": "sip", "sipUri": "sip:billing@pbx.example", "name": "Billing"}}));
        assert_eq!((update.kind, update.transfer), (ReportKind::Transfer, TransferSeen::To(Some("sip:billing@pbx.example".into()))));
        let nothing = report(serde_json::json!({"type": "end-of-call-report", "costs": "none", "costBreakdown": [1], "artifact": {"performanceMetrics": 7}}));
        assert_eq!((nothing.cost_breakdown, nothing.latency), (None, None));
    }

    #[test]
    fn every_structured_output_is_kept_by_name_and_the_agents_own_is_read() {
        let body = serde_json::json!({"message": {"type": "end-of-call-report",
            "artifact": {"structuredOutputs": {"a": {"name": "callops", "result": {"outcome": "INFORMATION"}}, "b": {"name": "Practice Fields", "result": {"outcome": "BOOKED"}}}},
            "analysis": {"structuredData": {"outcome": "FAILED", "insuranceProvider": "Aetna"}}}});
        let report = parse_server_message(body.to_string().as_bytes()).unwrap().report.unwrap();
        assert_eq!((report.analysis.outcome, report.output_found), (Some(callops_domain::CallOutcome::Information), true), "callops by default");
        let theirs = report.clone().reading_output("practice fields", true);
        assert_eq!((theirs.analysis.outcome, theirs.analysis.insurance_provider.as_deref()), (Some(callops_domain::CallOutcome::Booked), Some("Aetna")));
        assert_eq!(theirs.expected_output.as_deref(), Some("practice fields"));
        let missing = report.reading_output("not-there", true);
        assert_eq!((missing.output_found, missing.analysis.outcome), (false, Some(callops_domain::CallOutcome::Failed)), "the structured data alone");
    }

    #[test]
    fn a_part_of_the_wrong_type_is_absent_not_the_end_of_the_message() {
        let body = br#"{"message":{"type":"end-of-call-report","artifact":false,"call":"c","customer":[1,{"number":"x"}],
            "analysis":{"summary":"kept","structuredData":{"outcome":"BOOKED"}},"phoneNumber":7}}"#;
        let message = parse_server_message(body).unwrap();
        let report = message.report.clone().unwrap();
        assert_eq!((report.summary.as_deref(), report.analysis.outcome), (Some("kept"), Some(callops_domain::CallOutcome::Booked)));
        assert_eq!((report.vapi_call_id, report.transcript, message.customer_number), (None, None, None));
        let list = br#"{"message":{"type":"end-of-call-report","artifact":{"messages":[1,"two",{"toolCalls":{"not":"a list"}},{"toolCalls":[{"function":{"name":"bookAppointment"}}]}]}}}"#;
        assert_eq!(parse_server_message(list).unwrap().tool_names, vec!["bookAppointment"]);
    }

    #[test]
    fn garbage_is_not_a_message() {
        for body in [&b"not json"[..], br#"{"type":"status-update"}"#, br#"{"message":{"status":"ended"}}"#, br#"{"message":{"type":7}}"#] {
            assert!(matches!(parse_server_message(body), Err(DomainError::Invalid { code: "invalid_message", .. })));
        }
    }
}
