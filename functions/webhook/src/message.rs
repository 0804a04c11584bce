//! Vapi server messages, read leniently: Vapi's payloads carry older copies
//! of fields at the top level, timestamps as epoch numbers (sometimes written
//! as floats like `1.722115418016999E12`) or ISO strings, and numbers as
//! floats where integers are meant. Anything unreadable is treated as absent
//! rather than failing the message.

use callops_domain::{DomainError, time};
use chrono::{DateTime, Utc};
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
    pub messages: Vec<Value>,
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

/// Parses a server message body (`{"message": {...}}`).
pub fn parse_server_message(body: &[u8]) -> Result<ServerMessage, DomainError> {
    let invalid = |why: &str| DomainError::invalid("invalid_message", format!("not a Vapi server message: {why}"));
    let root: Value = serde_json::from_slice(body).map_err(|_| invalid("the body is not JSON"))?;
    let m = root.get("message").filter(|m| m.is_object()).ok_or_else(|| invalid("no message object"))?;
    let kind = text(m.get("type")).ok_or_else(|| invalid("the message has no type"))?;
    let call = m.get("call").cloned().unwrap_or(Value::Null);
    let metadata = call
        .pointer("/assistantOverrides/metadata")
        .or_else(|| m.pointer("/assistant/metadata"))
        .cloned()
        .unwrap_or(Value::Null);
    let ours = OurIds {
        org_id: text(metadata.get("orgId")),
        call_id: text(metadata.get("callId")),
        attempt: number(metadata.get("attempt")).map(|a| a as u32),
    };
    let artifact = m.get("artifact").cloned().unwrap_or(Value::Null);
    let analysis = m.get("analysis").cloned().unwrap_or(Value::Null);
    let duration_seconds = number(m.get("durationSeconds")).or_else(|| number(m.get("durationMs")).map(|ms| ms / 1000.0));
    Ok(ServerMessage {
        kind,
        timestamp: m.get("timestamp").and_then(lenient_time),
        vapi_call_id: text(call.get("id")),
        call_type: text(call.get("type")),
        ours,
        phone_number_id: text(call.get("phoneNumberId")).or_else(|| text(m.pointer("/phoneNumber/id"))),
        assistant_id: text(call.get("assistantId")).or_else(|| text(m.pointer("/assistant/id"))),
        customer_number: text(m.pointer("/customer/number")).or_else(|| text(call.pointer("/customer/number"))),
        customer_name: text(m.pointer("/customer/name")).or_else(|| text(call.pointer("/customer/name"))),
        status: text(m.get("status")),
        ended_reason: text(m.get("endedReason")),
        started_at: m.get("startedAt").and_then(lenient_time),
        ended_at: m.get("endedAt").and_then(lenient_time),
        duration_seconds,
        cost_usd: number(m.get("cost")),
        transcript: text(artifact.get("transcript")).or_else(|| text(m.get("transcript"))),
        summary: text(analysis.get("summary")).or_else(|| text(m.get("summary"))),
        recording_url: text(artifact.get("recordingUrl"))
            .or_else(|| text(m.get("recordingUrl")))
            .or_else(|| text(artifact.pointer("/recording/mono/combinedUrl"))),
        structured_data: analysis.get("structuredData").cloned().unwrap_or(Value::Null),
        messages: artifact.get("messages").and_then(Value::as_array).cloned().unwrap_or_default(),
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
        for body in [&b"not json"[..], br#"{"type":"status-update"}"#, br#"{"message":{"status":"ended"}}"#] {
            assert!(matches!(parse_server_message(body), Err(DomainError::Invalid { code: "invalid_message", .. })));
        }
    }
}
