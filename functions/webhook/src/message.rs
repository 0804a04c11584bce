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
    classify::{CallAnalysis, read_structured_data},
    limits::{self, MAX_COST_CENTS, MAX_DURATION_SECONDS},
    phone, time,
};
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
    /// Whole seconds, at most [`MAX_DURATION_SECONDS`].
    pub duration_seconds: Option<u32>,
    /// Cents, at most [`MAX_COST_CENTS`].
    pub cost_cents: Option<i64>,
    pub transcript: Option<String>,
    pub summary: Option<String>,
    /// Only an `https:` URL.
    pub recording_url: Option<String>,
    /// What the assistant's structured data says.
    pub analysis: CallAnalysis,
    /// The names of the tools the assistant called during the call.
    pub tool_names: Vec<String>,
    /// Fields present but out of bounds, with why: ignored, to be logged.
    pub ignored: Vec<String>,
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
    callops_domain::classify::lenient_number(value?).filter(|n| *n >= 0.0)
}

/// Deserialisers for the object and list fields of a message that read a
/// value of the wrong type (`"artifact": false`) as absent instead of
/// failing the whole message, without buffering what they skip.
mod lenient {
    use std::{fmt, marker::PhantomData};

    use serde::{
        Deserialize, Deserializer,
        de::{IgnoredAny, MapAccess, SeqAccess, Visitor, value::MapAccessDeserializer},
    };

    struct ObjectOrNone<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectOrNone<T> {
        type Value = Option<T>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object, or anything else to be read as absent")
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<T>, A::Error> {
            T::deserialize(MapAccessDeserializer::new(map)).map(Some)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<T>, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_none<E>(self) -> Result<Option<T>, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> Result<Option<T>, E> {
            Ok(None)
        }

        fn visit_bool<E>(self, _: bool) -> Result<Option<T>, E> {
            Ok(None)
        }

        fn visit_i64<E>(self, _: i64) -> Result<Option<T>, E> {
            Ok(None)
        }

        fn visit_u64<E>(self, _: u64) -> Result<Option<T>, E> {
            Ok(None)
        }

        fn visit_f64<E>(self, _: f64) -> Result<Option<T>, E> {
            Ok(None)
        }

        fn visit_str<E>(self, _: &str) -> Result<Option<T>, E> {
            Ok(None)
        }
    }

    /// An object field, or `None` for any other value.
    pub fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
        d.deserialize_any(ObjectOrNone(PhantomData))
    }

    /// One element of a list read leniently.
    struct Element<T>(Option<T>);

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Element<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            object(d).map(Element)
        }
    }

    struct ListOrNone<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for ListOrNone<T> {
        type Value = Option<Vec<T>>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list, or anything else to be read as absent")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Vec<T>>, A::Error> {
            let mut items = Vec::new();
            while let Some(Element(item)) = seq.next_element::<Element<T>>()? {
                items.extend(item);
            }
            Ok(Some(items))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Vec<T>>, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<Vec<T>>, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_none<E>(self) -> Result<Option<Vec<T>>, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> Result<Option<Vec<T>>, E> {
            Ok(None)
        }

        fn visit_bool<E>(self, _: bool) -> Result<Option<Vec<T>>, E> {
            Ok(None)
        }

        fn visit_i64<E>(self, _: i64) -> Result<Option<Vec<T>>, E> {
            Ok(None)
        }

        fn visit_u64<E>(self, _: u64) -> Result<Option<Vec<T>>, E> {
            Ok(None)
        }

        fn visit_f64<E>(self, _: f64) -> Result<Option<Vec<T>>, E> {
            Ok(None)
        }

        fn visit_str<E>(self, _: &str) -> Result<Option<Vec<T>>, E> {
            Ok(None)
        }
    }

    /// A list field whose non-object elements are left out, or `None` for anything but a list.
    pub fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Vec<T>>, D::Error> {
        d.deserialize_any(ListOrNone(PhantomData))
    }
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
    #[serde(deserialize_with = "lenient::object")]
    call: Option<RawCall>,
    #[serde(deserialize_with = "lenient::object")]
    phone_number: Option<RawId>,
    #[serde(deserialize_with = "lenient::object")]
    assistant: Option<RawAssistant>,
    #[serde(deserialize_with = "lenient::object")]
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
    #[serde(deserialize_with = "lenient::object")]
    artifact: Option<RawArtifact>,
    #[serde(deserialize_with = "lenient::object")]
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
    #[serde(deserialize_with = "lenient::object")]
    customer: Option<RawCustomer>,
    #[serde(deserialize_with = "lenient::object")]
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
    #[serde(deserialize_with = "lenient::list")]
    messages: Option<Vec<RawConversationMessage>>,
}

/// A conversation message: only its tool calls matter here.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RawConversationMessage {
    #[serde(rename = "toolCalls", alias = "tool_calls", deserialize_with = "lenient::list")]
    tool_calls: Option<Vec<RawToolCall>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawToolCall {
    #[serde(deserialize_with = "lenient::object")]
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

/// The caller's number as it came: E.164 when it normalises, else as sent
/// (trimmed) when it fits; a number too long or with control characters is `Err`.
fn caller_number(text: String) -> Result<String, ()> {
    if let Ok(number) = phone::normalize(&text) {
        return Ok(number);
    }
    let text = text.trim();
    if text.len() <= limits::MAX_PHONE_TEXT_BYTES && !text.chars().any(char::is_control) { Ok(text.to_string()) } else { Err(()) }
}

/// Parses a server message body (`{"message": {...}}`).
pub fn parse_server_message(body: &[u8]) -> Result<ServerMessage, DomainError> {
    let invalid = |why: &str| DomainError::invalid("invalid_message", format!("not a Vapi server message: {why}"));
    let envelope: Envelope = serde_json::from_slice(body).map_err(|_| invalid("the body is not a JSON message of the expected shape"))?;
    let m = envelope.message.ok_or_else(|| invalid("no message object"))?;
    let kind = owned_text(m.kind).ok_or_else(|| invalid("the message has no type"))?;
    let mut ignored = Ignored::default();
    let call = m.call.unwrap_or_default();
    let metadata = call.assistant_overrides.and_then(|o| o.metadata).or_else(|| m.assistant.as_ref().and_then(|a| a.metadata.clone())).unwrap_or(Value::Null);
    let ours = OurIds {
        org_id: text(metadata.get("orgId")),
        call_id: ignored.id("metadata.callId", text(metadata.get("callId"))),
        attempt: number(metadata.get("attempt")).filter(|a| *a <= f64::from(u32::MAX)).map(|a| a as u32),
    };
    let artifact = m.artifact.unwrap_or_default();
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
    let recording_url = owned_text(artifact.recording_url).or_else(|| owned_text(m.recording_url));
    let recording_url = ignored.bounded("recordingUrl", recording_url, |url| limits::is_https_url(url), "not an https: URL");
    let tool_names = artifact
        .messages
        .unwrap_or_default()
        .into_iter()
        .flat_map(|message| message.tool_calls.unwrap_or_default())
        .filter_map(|tool| owned_text(tool.function?.name))
        .collect();
    let analysis_read = read_structured_data(&analysis.structured_data.unwrap_or(Value::Null));
    ignored.0.extend(analysis_read.ignored.iter().map(|name| format!("analysis.structuredData.{name}: out of bounds")));
    Ok(ServerMessage {
        kind,
        timestamp: ignored.time("timestamp", m.timestamp.as_ref()),
        vapi_call_id: ignored.id("call.id", owned_text(call.id)),
        call_type: owned_text(call.kind),
        ours,
        phone_number_id: owned_text(call.phone_number_id).or_else(|| owned_text(m.phone_number.and_then(|p| p.id))),
        assistant_id: owned_text(call.assistant_id).or_else(|| owned_text(m.assistant.and_then(|a| a.id))),
        customer_number,
        customer_name: owned_text(customer.name).or_else(|| owned_text(call_customer.name)),
        status: owned_text(m.status),
        ended_reason: owned_text(m.ended_reason),
        started_at: ignored.time("startedAt", m.started_at.as_ref()),
        ended_at: ignored.time("endedAt", m.ended_at.as_ref()),
        duration_seconds,
        cost_cents,
        transcript: owned_text(artifact.transcript).or_else(|| owned_text(m.transcript)),
        summary: owned_text(analysis.summary).or_else(|| owned_text(m.summary)),
        recording_url,
        analysis: analysis_read,
        tool_names,
        ignored: ignored.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(message.started_at, time::parse("2024-07-27T21:23:38.017Z"));
        assert_eq!(message.summary.as_deref(), Some("fine"));
        assert_eq!((message.timestamp, message.ended_at, message.cost_cents, message.duration_seconds), (None, None, None, None));
        assert_eq!(
            (message.recording_url, message.customer_number, message.vapi_call_id, message.ours.call_id, message.ours.attempt),
            (None, None, None, None, None)
        );
        assert_eq!(message.analysis.collection_amount_cents, None);
        let named = message.ignored.join("; ");
        for field in ["timestamp", "cost", "durationSeconds", "recordingUrl", "customer.number", "call.id", "metadata.callId", "collectionAmount"] {
            assert!(named.contains(field), "{field} missing from {named}");
        }
    }

    #[test]
    fn a_part_of_the_wrong_type_is_absent_not_the_end_of_the_message() {
        let body = br#"{"message":{"type":"end-of-call-report","artifact":false,"call":"c","customer":[1,{"number":"x"}],
            "analysis":{"summary":"kept","structuredData":{"outcome":"BOOKED"}},"phoneNumber":7}}"#;
        let message = parse_server_message(body).unwrap();
        assert_eq!((message.summary.as_deref(), message.analysis.outcome), (Some("kept"), Some(callops_domain::CallOutcome::Booked)));
        assert_eq!((message.vapi_call_id, message.transcript, message.customer_number), (None, None, None));
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
