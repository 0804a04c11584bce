//! The Vapi API as CallOps uses it, behind [`VapiApi`]: create an outbound
//! call, find the calls created for an attempt (POST /call has no
//! idempotency key, so after a timeout or a 5xx the dialer asks before it
//! tries again), read one call (for the reconciler), and end a live call
//! through its control URL. Every answer Vapi gives becomes one
//! [`VapiError`] variant, so each branch of the callers can be tested
//! against a fake of the trait.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The Vapi API. [`crate::client::VapiClient`] (feature `client`) is the
/// HTTP one.
#[async_trait::async_trait]
pub trait VapiApi: Send + Sync {
    /// `POST /call`. A call whose body says the account is full is `ConcurrencyBlocked`.
    async fn create_call(&self, call: &CreateCall) -> Result<VapiCall, VapiError>;
    /// The call created since `created_after` (on one Vapi number, when
    /// given) that carries this attempt's metadata.
    async fn find_attempt(&self, metadata: &CallMetadata, phone_number_id: Option<&str>, created_after: DateTime<Utc>) -> Result<Option<VapiCall>, VapiError>;
    /// `GET /call/{id}`; `None` when Vapi does not know it.
    async fn get_call(&self, id: &str) -> Result<Option<VapiCall>, VapiError>;
    /// Ends a live call: `GET /call/{id}`, then `POST {"type": "end-call"}`
    /// to the call's `monitor.controlUrl`. That URL comes from Vapi's answer,
    /// so it is sent no private key: CallOps places every call with
    /// `monitorPlan.controlAuthenticationEnabled` on, and the URL takes the
    /// account's public key ([`VapiApi::controls_calls`]). A call that
    /// carries no control URL (`monitorPlan.controlEnabled` off) cannot be
    /// ended this way: [`VapiError::Rejected`].
    async fn end_call(&self, id: &str) -> Result<EndCall, VapiError>;
    /// Whether this client holds the account's public key, which a control
    /// URL with authentication on takes: without it, CallOps could not use
    /// a call's control URL, so it places calls with control off.
    fn controls_calls(&self) -> bool;
}

/// Vapi's `monitorPlan`: whether a live call can be listened to
/// (`monitor.listenUrl`) and controlled (`monitor.controlUrl`), and whether
/// each URL takes the account's public key (`Authorization: Bearer`) rather
/// than the URL alone. Field names from Vapi's OpenAPI document
/// (VapiAI/docs, fern/apis/api/openapi.json, commit eabfa53, `MonitorPlan`):
/// Vapi's defaults are listen and control on, authentication off, so the
/// plan is always sent in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorPlan {
    pub listen_enabled: bool,
    pub listen_authentication_enabled: bool,
    pub control_enabled: bool,
    pub control_authentication_enabled: bool,
}

impl MonitorPlan {
    /// Listening only when asked for, control only when CallOps can use it,
    /// and each, when on, locked behind the public key.
    pub fn locked(listen: bool, control: bool) -> MonitorPlan {
        MonitorPlan { listen_enabled: listen, listen_authentication_enabled: true, control_enabled: control, control_authentication_enabled: true }
    }
}

/// What came of [`VapiApi::end_call`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndCall {
    /// The call was live and its control URL took the `end-call`.
    Ended,
    /// The call had already ended (or ended while we asked).
    AlreadyEnded,
    /// Vapi does not know the call.
    NotFound,
}

/// What the dialer sends to `POST /call`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateCall {
    pub assistant_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<String>,
    /// A transient Twilio number, when the agent has no number imported into Vapi.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<TransientNumber>,
    pub customer: Customer,
    pub name: String,
    pub assistant_overrides: AssistantOverrides,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransientNumber {
    pub twilio_phone_number: String,
    pub twilio_account_sid: String,
    pub twilio_auth_token: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Customer {
    pub number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssistantOverrides {
    /// Comes back in every webhook under `call.assistantOverrides.metadata`.
    pub metadata: CallMetadata,
    pub variable_values: serde_json::Map<String, Value>,
    /// `recordingConsentPlan`, when the recording is disclosed and asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compliance_plan: Option<Value>,
    /// `recordingEnabled: false`, when the call is not to be recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_plan: Option<Value>,
    /// The longest the call may last, in seconds (Vapi ends it then: `exceeded-max-duration`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_duration_seconds: Option<u32>,
    /// What the assistant says first, instead of its own greeting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_message: Option<String>,
    /// Live listening and control, always stated ([`MonitorPlan`]).
    pub monitor_plan: MonitorPlan,
    /// `{enabled, timeoutSeconds, delimiters}`: key presses taken, for a call that announces a key-press opt-out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keypad_input_plan: Option<Value>,
    /// Said when the call reaches voicemail (at most 1,000 characters); none: Vapi hangs up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voicemail_message: Option<String>,
    /// How Vapi tells a machine from a person (`{provider: vapi, type: audio}`), sent with a voicemail message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voicemail_detection: Option<Value>,
}

/// Our ids, as they travel through Vapi and back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallMetadata {
    pub org_id: String,
    pub call_id: String,
    pub attempt: u32,
}

/// The parts of Vapi's Call object the dialer reads; the rest is kept raw
/// so the reconciler can hand the whole call to the webhook's code.
#[derive(Debug, Clone, PartialEq)]
pub struct VapiCall {
    pub id: String,
    pub status: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub concurrency_blocked: bool,
    pub metadata: Option<CallMetadata>,
    /// `monitor.controlUrl`: where the live call takes control messages.
    pub control_url: Option<String>,
    /// `monitor.listenUrl`: where the live call's audio can be listened to.
    pub listen_url: Option<String>,
    pub raw: Value,
}

impl VapiCall {
    pub fn from_json(raw: Value) -> Option<VapiCall> {
        let id = raw.get("id")?.as_str()?.to_string();
        let text = |path: &[&str]| {
            let mut value = &raw;
            for key in path {
                value = value.get(key)?;
            }
            Some(value)
        };
        Some(VapiCall {
            id,
            status: text(&["status"]).and_then(Value::as_str).map(str::to_string),
            created_at: text(&["createdAt"]).and_then(Value::as_str).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc)),
            concurrency_blocked: text(&["subscriptionLimits", "concurrencyBlocked"]).and_then(Value::as_bool).unwrap_or(false),
            metadata: text(&["assistantOverrides", "metadata"]).and_then(|m| serde_json::from_value(m.clone()).ok()),
            control_url: text(&["monitor", "controlUrl"]).and_then(Value::as_str).filter(|url| !url.is_empty()).map(str::to_string),
            listen_url: text(&["monitor", "listenUrl"]).and_then(Value::as_str).filter(|url| !url.is_empty()).map(str::to_string),
            raw: raw.clone(),
        })
    }
}

/// Every way a Vapi request can fail, as the dialer must tell them apart.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VapiError {
    /// 400: the request or the account's limits; `message` as Vapi gave it.
    #[error("Vapi refused the call: {message}")]
    Rejected { message: String },
    /// The account has no free concurrent-call slot.
    #[error("Vapi's concurrency limit is reached")]
    ConcurrencyBlocked,
    /// 401/403: the API key is wrong or lacks the right.
    #[error("Vapi refused the API key (HTTP {status})")]
    Unauthorized { status: u16 },
    /// 429: try again after `retry_after`.
    #[error("Vapi is rate limiting")]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx.
    #[error("Vapi failed (HTTP {status})")]
    Server { status: u16 },
    /// No answer in time: the request may or may not have been taken.
    #[error("Vapi did not answer in time")]
    Timeout,
    /// The connection failed or the answer was not what Vapi sends.
    #[error("Vapi could not be reached: {0}")]
    Transport(String),
}

impl VapiError {
    /// Whether Vapi may have created the call although we have no answer
    /// saying so: then it must be looked for before any new POST.
    pub fn maybe_created(&self) -> bool {
        matches!(self, VapiError::Timeout | VapiError::Server { .. } | VapiError::Transport(_) | VapiError::RateLimited { .. })
    }
}
