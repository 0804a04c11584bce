//! Vapi server messages, read leniently: Vapi's payloads carry older copies
//! of fields at the top level, timestamps as epoch numbers (sometimes written
//! as floats like `1.722115418016999E12`) or ISO strings, and numbers as
//! floats where integers are meant. Anything unreadable is treated as absent
//! rather than failing the message.

use callops_domain::{DomainError, time};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

/// The ids CallOps put in `assistantOverrides.metadata` when it dialed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OurIds {
    pub org_id: Option<String>,
    pub call_id: Option<String>,
    pub attempt: Option<u32>,
}

/// One server message, with what CallOps needs from it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerMessage {
    pub kind: String,
    pub timestamp: Option<DateTime<Utc>>,
    pub vapi_call_id: Option<String>,
    /// `inboundPhoneCall`, `outboundPhoneCall`, `webCall`...
    pub call_type: Option<String>,
    pub ours: OurIds,
    pub phone_number_id: Option<String>,
    pub assistant_id: Option<String>,
    pub customer_number: Option<String>,
    pub customer_name: Option<String>,
    /// `status-update`: the new Vapi status.
    pub status: Option<String>,
    pub ended_reason: Option<String>,
    /// `end-of-call-report` fields.
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<f64>,
    pub cost_usd: Option<f64>,
    pub transcript: Option<String>,
    pub summary: Option<String>,
    pub recording_url: Option<String>,
    pub structured_data: Value,
    /// The names of the tools the assistant called during the call.
    pub tool_names: Vec<String>,
}

/// A time from an epoch number (seconds or milliseconds, float or integer)
/// or an ISO string.
pub fn lenient_time(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Number(n) => {
            let n = n.as_f64()?;
            let millis = if n > 1e11 { n } else { n * 1000.0 };
            DateTime::from_timestamp_millis(millis.round() as i64).map(time::to_millis)
        }
        Value::String(s) => time::parse(s.trim()).or_else(|| s.trim().parse::<f64>().ok().and_then(|n| lenient_time(&Value::from(n)))),
        _ => None,
    }
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn number(value: Option<&Value>) -> Option<f64> {
    callops_domain::classify::lenient_number(value?).filter(|n| *n >= 0.0)
}

// The wire shapes, typed so that parsing skips what CallOps does not read
// (most of a report's bytes are conversation messages) instead of building a
// tree of it. Scalars stay `Value` so that a number sent as a string, or a
// timestamp sent either way, is still read.

#[derive(Deserialize)]
struct Envelope {
    message: Option<RawMessage>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawMessage {
    #[serde(rename = "type")]
    kind: Option<Value>,
    timestamp: Option<Value>,
    call: Option<RawCall>,
    phone_number: Option<RawId>,
    assistant: Option<RawAssistant>,
    customer: Option<RawCustomer>,
    status: Option<Value>,
    ended_reason: Option<Value>,
    started_at: Option<Value>,
    ended_at: Option<Value>,
    duration_seconds: Option<Value>,
    duration_ms: Option<Value>,
    cost: Option<Value>,
    transcript: Option<Value>,
    summary: Option<Value>,
    recording_url: Option<Value>,
    artifact: Option<RawArtifact>,
    analysis: Option<RawAnalysis>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawCall {
    id: Option<Value>,
    #[serde(rename = "type")]
    kind: Option<Value>,
    phone_number_id: Option<Value>,
    assistant_id: Option<Value>,
    customer: Option<RawCustomer>,
    assistant_overrides: Option<RawOverrides>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawOverrides {
    metadata: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawId {
    id: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawAssistant {
    id: Option<Value>,
    metadata: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawCustomer {
    number: Option<Value>,
    name: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawArtifact {
    transcript: Option<Value>,
    recording_url: Option<Value>,
    messages: Option<Vec<RawConversationMessage>>,
}

/// A conversation message: only its tool calls matter here.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RawConversationMessage {
    #[serde(rename = "toolCalls", alias = "tool_calls")]
    tool_calls: Option<Vec<RawToolCall>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawToolCall {
    function: Option<RawFunction>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawFunction {
    name: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawAnalysis {
    summary: Option<Value>,
    structured_data: Option<Value>,
}

fn owned_text(value: Option<Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s),
        _ => None,
    }
}

/// Parses a server message body (`{"message": {...}}`).
pub fn parse_server_message(body: &[u8]) -> Result<ServerMessage, DomainError> {
    let invalid = |why: &str| DomainError::invalid("invalid_message", format!("not a Vapi server message: {why}"));
    let envelope: Envelope = serde_json::from_slice(body).map_err(|_| invalid("the body is not a JSON message of the expected shape"))?;
    let m = envelope.message.ok_or_else(|| invalid("no message object"))?;
    let kind = owned_text(m.kind).ok_or_else(|| invalid("the message has no type"))?;
    let call = m.call.unwrap_or_default();
    let metadata = call.assistant_overrides.and_then(|o| o.metadata).or_else(|| m.assistant.as_ref().and_then(|a| a.metadata.clone())).unwrap_or(Value::Null);
    let ours =
        OurIds { org_id: text(metadata.get("orgId")), call_id: text(metadata.get("callId")), attempt: number(metadata.get("attempt")).map(|a| a as u32) };
    let artifact = m.artifact.unwrap_or_default();
    let analysis = m.analysis.unwrap_or_default();
    let duration_seconds = number(m.duration_seconds.as_ref()).or_else(|| number(m.duration_ms.as_ref()).map(|ms| ms / 1000.0));
    let customer = m.customer.unwrap_or_default();
    let call_customer = call.customer.unwrap_or_default();
    let tool_names = artifact
        .messages
        .unwrap_or_default()
        .into_iter()
        .flat_map(|message| message.tool_calls.unwrap_or_default())
        .filter_map(|tool| owned_text(tool.function?.name))
        .collect();
    Ok(ServerMessage {
        kind,
        timestamp: m.timestamp.as_ref().and_then(lenient_time),
        vapi_call_id: owned_text(call.id),
        call_type: owned_text(call.kind),
        ours,
        phone_number_id: owned_text(call.phone_number_id).or_else(|| owned_text(m.phone_number.and_then(|p| p.id))),
        assistant_id: owned_text(call.assistant_id).or_else(|| owned_text(m.assistant.and_then(|a| a.id))),
        customer_number: owned_text(customer.number).or_else(|| owned_text(call_customer.number)),
        customer_name: owned_text(customer.name).or_else(|| owned_text(call_customer.name)),
        status: owned_text(m.status),
        ended_reason: owned_text(m.ended_reason),
        started_at: m.started_at.as_ref().and_then(lenient_time),
        ended_at: m.ended_at.as_ref().and_then(lenient_time),
        duration_seconds,
        cost_usd: number(m.cost.as_ref()),
        transcript: owned_text(artifact.transcript).or_else(|| owned_text(m.transcript)),
        summary: owned_text(analysis.summary).or_else(|| owned_text(m.summary)),
        recording_url: owned_text(artifact.recording_url).or_else(|| owned_text(m.recording_url)),
        structured_data: analysis.structured_data.unwrap_or(Value::Null),
        tool_names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_come_in_every_form() {
        let expected = time::parse("2024-07-27T21:23:38.017Z");
        assert_eq!(lenient_time(&serde_json::json!(1.722115418016999E12)), expected);
        assert_eq!(lenient_time(&serde_json::json!(1722115418017_i64)), expected);
        assert_eq!(lenient_time(&serde_json::json!("2024-07-27T21:23:38.017Z")), expected);
        assert_eq!(lenient_time(&serde_json::json!("soon")), None);
    }

    #[test]
    fn garbage_is_not_a_message() {
        for body in [&b"not json"[..], br#"{"type":"status-update"}"#, br#"{"message":{"status":"ended"}}"#, br#"{"message":{"type":7}}"#] {
            assert!(matches!(parse_server_message(body), Err(DomainError::Invalid { code: "invalid_message", .. })));
        }
    }
}
