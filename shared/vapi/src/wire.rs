//! The wire shapes of Vapi's payloads, typed so that parsing skips what
//! CallOps does not read (most of a report's bytes are conversation
//! messages) instead of building a tree of it. Scalars stay `Value` so
//! that a number sent as a string, or a timestamp sent either way, is still
//! read; objects and lists of the wrong type read as absent ([`crate::lenient`]).

use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
pub(crate) struct Envelope {
    pub(crate) message: Option<RawMessage>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RawMessage {
    #[serde(rename = "type")]
    pub(crate) kind: Option<Value>,
    pub(crate) timestamp: Option<Value>,
    #[serde(deserialize_with = "crate::lenient::object")]
    pub(crate) call: Option<RawCall>,
    #[serde(deserialize_with = "crate::lenient::object")]
    pub(crate) phone_number: Option<RawId>,
    #[serde(deserialize_with = "crate::lenient::object")]
    pub(crate) assistant: Option<RawAssistant>,
    #[serde(deserialize_with = "crate::lenient::object")]
    pub(crate) customer: Option<RawCustomer>,
    pub(crate) status: Option<Value>,
    pub(crate) ended_reason: Option<Value>,
    pub(crate) started_at: Option<Value>,
    pub(crate) ended_at: Option<Value>,
    pub(crate) duration_seconds: Option<Value>,
    pub(crate) duration_ms: Option<Value>,
    pub(crate) cost: Option<Value>,
    pub(crate) transcript: Option<Value>,
    pub(crate) summary: Option<Value>,
    pub(crate) recording_url: Option<Value>,
    #[serde(deserialize_with = "crate::lenient::object")]
    pub(crate) artifact: Option<RawArtifact>,
    #[serde(deserialize_with = "crate::lenient::object")]
    pub(crate) analysis: Option<RawAnalysis>,
    /// The cost by part (top level in reports, and on the Call object).
    #[serde(deserialize_with = "crate::lenient::object")]
    pub(crate) cost_breakdown: Option<RawCostBreakdown>,
    /// The cost as items by type, when there is no breakdown.
    #[serde(deserialize_with = "crate::lenient::list")]
    pub(crate) costs: Option<Vec<RawCostItem>>,
    /// `transfer-update`: where the call is being transferred.
    #[serde(deserialize_with = "crate::lenient::object")]
    pub(crate) destination: Option<RawDestination>,
    /// `recordingConsent {type, grantedAt}` (also on the Call object).
    pub(crate) compliance: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RawCostBreakdown {
    pub(crate) transport: Option<Value>,
    pub(crate) stt: Option<Value>,
    pub(crate) llm: Option<Value>,
    pub(crate) tts: Option<Value>,
    pub(crate) vapi: Option<Value>,
    pub(crate) llm_prompt_tokens: Option<Value>,
    pub(crate) llm_completion_tokens: Option<Value>,
    pub(crate) tts_characters: Option<Value>,
    #[serde(deserialize_with = "crate::lenient::object")]
    pub(crate) analysis_cost_breakdown: Option<RawAnalysisCost>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RawAnalysisCost {
    pub(crate) summary: Option<Value>,
    pub(crate) structured_data: Option<Value>,
    pub(crate) success_evaluation: Option<Value>,
    pub(crate) structured_output: Option<Value>,
}

/// One of `costs[]`: `{type, cost, ...}`, with tokens on model items and characters on voice items.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RawCostItem {
    #[serde(rename = "type")]
    pub(crate) kind: Option<Value>,
    pub(crate) cost: Option<Value>,
    pub(crate) prompt_tokens: Option<Value>,
    pub(crate) completion_tokens: Option<Value>,
    pub(crate) characters: Option<Value>,
}

/// A transfer's destination: a number, a SIP address, or another assistant.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RawDestination {
    #[serde(rename = "type")]
    pub(crate) kind: Option<Value>,
    pub(crate) number: Option<Value>,
    pub(crate) sip_uri: Option<Value>,
    pub(crate) name: Option<Value>,
}

/// One of `artifact.transfers[]`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RawTransfer {
    #[serde(deserialize_with = "crate::lenient::object")]
    pub(crate) destination: Option<RawDestination>,
    pub(crate) status: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RawPerformanceMetrics {
    #[serde(deserialize_with = "crate::lenient::list")]
    pub(crate) turn_latencies: Option<Vec<serde::de::IgnoredAny>>,
    pub(crate) turn_latency_average: Option<Value>,
    pub(crate) model_latency_average: Option<Value>,
    pub(crate) voice_latency_average: Option<Value>,
    pub(crate) transcriber_latency_average: Option<Value>,
    pub(crate) endpointing_latency_average: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RawCall {
    pub(crate) id: Option<Value>,
    #[serde(rename = "type")]
    pub(crate) kind: Option<Value>,
    pub(crate) phone_number_id: Option<Value>,
    pub(crate) assistant_id: Option<Value>,
    #[serde(deserialize_with = "crate::lenient::object")]
    pub(crate) customer: Option<RawCustomer>,
    #[serde(deserialize_with = "crate::lenient::object")]
    pub(crate) assistant_overrides: Option<RawOverrides>,
    /// The call's own artifact (structured outputs produced after the report are there too).
    #[serde(deserialize_with = "crate::lenient::object")]
    pub(crate) artifact: Option<RawArtifact>,
    pub(crate) compliance: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawOverrides {
    pub(crate) metadata: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawId {
    pub(crate) id: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawAssistant {
    pub(crate) id: Option<Value>,
    pub(crate) metadata: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawCustomer {
    pub(crate) number: Option<Value>,
    pub(crate) name: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RawArtifact {
    pub(crate) transcript: Option<Value>,
    /// The current recording fields: `{stereoUrl, mono {combinedUrl, ...}}`.
    #[serde(deserialize_with = "crate::lenient::object")]
    pub(crate) recording: Option<RawRecording>,
    /// Deprecated flat copies, read when the current ones are missing.
    pub(crate) recording_url: Option<Value>,
    pub(crate) stereo_recording_url: Option<Value>,
    /// Structured outputs: `{<output id>: {name, result}}`.
    pub(crate) structured_outputs: Option<Value>,
    #[serde(deserialize_with = "crate::lenient::list")]
    pub(crate) messages: Option<Vec<RawConversationMessage>>,
    /// Every transfer attempt, with where to and how it ended.
    #[serde(deserialize_with = "crate::lenient::list")]
    pub(crate) transfers: Option<Vec<RawTransfer>>,
    #[serde(deserialize_with = "crate::lenient::object")]
    pub(crate) performance_metrics: Option<RawPerformanceMetrics>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RawRecording {
    pub(crate) stereo_url: Option<Value>,
    #[serde(deserialize_with = "crate::lenient::object")]
    pub(crate) mono: Option<RawMonoRecording>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RawMonoRecording {
    pub(crate) combined_url: Option<Value>,
}

/// A conversation message: only its tool calls matter here.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawConversationMessage {
    #[serde(rename = "toolCalls", alias = "tool_calls", deserialize_with = "crate::lenient::list")]
    pub(crate) tool_calls: Option<Vec<RawToolCall>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawToolCall {
    #[serde(deserialize_with = "crate::lenient::object")]
    pub(crate) function: Option<RawFunction>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawFunction {
    pub(crate) name: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RawAnalysis {
    pub(crate) summary: Option<Value>,
    pub(crate) structured_data: Option<Value>,
    /// A string in Vapi's types; read from a boolean or number too.
    pub(crate) success_evaluation: Option<Value>,
}
