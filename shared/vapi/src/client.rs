//! The Vapi API over HTTP: every request to the API carries the private key
//! and has a timeout; every answer Vapi gives becomes one [`VapiError`]
//! variant. A call's control URL, taken from an answer, is sent the public
//! key only, never the private one.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{StatusCode, header::RETRY_AFTER};

use crate::api::{CallMetadata, CreateCall, EndCall, VapiApi, VapiCall, VapiError};
use serde_json::{Value, json};

/// A 400 body mentions concurrency: the account is full, not the request wrong.
fn mentions_concurrency(message: &str) -> bool {
    message.to_ascii_lowercase().contains("concurrency")
}

fn error_message(body: &Value) -> String {
    match body.get("message") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(lines)) => lines.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "),
        _ => body.to_string(),
    }
}

/// Reads `Retry-After` in seconds or as an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(text).ok()?.with_timezone(&Utc);
    (at - now).to_std().ok().or(Some(Duration::ZERO))
}

/// The Vapi API at a base URL with one private key.
#[derive(Clone, Debug)]
pub struct VapiClient {
    http: reqwest::Client,
    base: String,
    api_key: String,
    /// The account's public key, for control URLs with authentication on.
    public_key: Option<String>,
}

impl VapiClient {
    /// `timeout` bounds every request, connection included.
    pub fn new(base: &str, api_key: &str, timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(VapiClient { http, base: base.trim_end_matches('/').to_string(), api_key: api_key.to_string(), public_key: None })
    }

    /// The account's public key (`VAPI_PUBLIC_KEY`), which a call's control
    /// URL takes when `monitorPlan.controlAuthenticationEnabled` is on. An
    /// empty key is none.
    pub fn with_public_key(mut self, public_key: Option<String>) -> Self {
        self.public_key = public_key.map(|key| key.trim().to_string()).filter(|key| !key.is_empty());
        self
    }

    fn transport(err: reqwest::Error) -> VapiError {
        if err.is_timeout() { VapiError::Timeout } else { VapiError::Transport(err.to_string()) }
    }

    async fn answer(response: reqwest::Response) -> Result<Value, VapiError> {
        let status = response.status();
        let wait = retry_after(response.headers(), Utc::now());
        let body: Value = match response.bytes().await {
            Ok(bytes) if bytes.is_empty() => Value::Null,
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned())),
            Err(err) => return Err(Self::transport(err)),
        };
        match status {
            s if s.is_success() => Ok(body),
            StatusCode::BAD_REQUEST => {
                let message = error_message(&body);
                if mentions_concurrency(&message) { Err(VapiError::ConcurrencyBlocked) } else { Err(VapiError::Rejected { message }) }
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(VapiError::Unauthorized { status: status.as_u16() }),
            StatusCode::TOO_MANY_REQUESTS => Err(VapiError::RateLimited { retry_after: wait }),
            s if s.is_server_error() => Err(VapiError::Server { status: s.as_u16() }),
            s => Err(VapiError::Rejected { message: format!("HTTP {}: {}", s.as_u16(), error_message(&body)) }),
        }
    }
}

#[async_trait::async_trait]
impl VapiApi for VapiClient {
    /// `POST /call`. A 201 whose body says the account is full is `ConcurrencyBlocked`.
    async fn create_call(&self, call: &CreateCall) -> Result<VapiCall, VapiError> {
        let response = self.http.post(format!("{}/call", self.base)).bearer_auth(&self.api_key).json(call).send().await.map_err(Self::transport)?;
        let body = Self::answer(response).await?;
        let created = VapiCall::from_json(body).ok_or_else(|| VapiError::Transport("the created call has no id".into()))?;
        if created.concurrency_blocked {
            return Err(VapiError::ConcurrencyBlocked);
        }
        Ok(created)
    }

    /// The calls created since `created_after` (on one Vapi number, when
    /// given) that carry this attempt's metadata.
    async fn find_attempt(&self, metadata: &CallMetadata, phone_number_id: Option<&str>, created_after: DateTime<Utc>) -> Result<Option<VapiCall>, VapiError> {
        let mut query = vec![("createdAtGt".to_string(), callops_domain::time::format(&created_after)), ("limit".to_string(), "100".to_string())];
        if let Some(id) = phone_number_id {
            query.push(("phoneNumberId".to_string(), id.to_string()));
        }
        let response = self.http.get(format!("{}/call", self.base)).bearer_auth(&self.api_key).query(&query).send().await.map_err(Self::transport)?;
        let body = Self::answer(response).await?;
        let calls = match body {
            Value::Array(calls) => calls,
            other => other.get("results").and_then(Value::as_array).cloned().unwrap_or_default(),
        };
        Ok(calls.into_iter().filter_map(VapiCall::from_json).find(|call| call.metadata.as_ref() == Some(metadata)))
    }

    /// `GET /call/{id}`; `None` when Vapi does not know it.
    async fn get_call(&self, id: &str) -> Result<Option<VapiCall>, VapiError> {
        let response = self.http.get(format!("{}/call/{id}", self.base)).bearer_auth(&self.api_key).send().await.map_err(Self::transport)?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(VapiCall::from_json(Self::answer(response).await?))
    }

    /// `GET /call/{id}`, then `{"type": "end-call"}` POSTed to the call's
    /// `monitor.controlUrl`, with the same timeout and the public key (never
    /// the private one: that URL comes from an answer, and the private key
    /// goes only to `base`).
    async fn end_call(&self, id: &str) -> Result<EndCall, VapiError> {
        let Some(call) = self.get_call(id).await? else { return Ok(EndCall::NotFound) };
        if call.status.as_deref() == Some("ended") {
            return Ok(EndCall::AlreadyEnded);
        }
        let Some(control_url) = call.control_url.as_deref() else {
            return Err(VapiError::Rejected { message: format!("call {id} has no monitor.controlUrl (monitorPlan.controlEnabled is off)") });
        };
        let mut post = self.http.post(control_url).json(&json!({"type": "end-call"}));
        if let Some(public_key) = &self.public_key {
            post = post.bearer_auth(public_key);
        }
        let sent = match post.send().await {
            Ok(response) => Self::answer(response).await.map(drop),
            Err(err) => Err(Self::transport(err)),
        };
        match sent {
            Ok(()) => Ok(EndCall::Ended),
            // The call may have ended between the GET and the POST (its
            // control URL then goes away): ask again before failing.
            Err(err) => match self.get_call(id).await {
                Ok(Some(now)) if now.status.as_deref() == Some("ended") => Ok(EndCall::AlreadyEnded),
                _ => Err(err),
            },
        }
    }

    fn controls_calls(&self) -> bool {
        self.public_key.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_in_seconds_or_as_a_date() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        let now = Utc::now();
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        let later = (now + chrono::Duration::seconds(30)).to_rfc2822();
        headers.insert(RETRY_AFTER, later.parse().unwrap());
        let wait = retry_after(&headers, now).unwrap();
        assert!(wait <= Duration::from_secs(30) && wait >= Duration::from_secs(29), "{wait:?}");
    }

    #[test]
    fn a_call_object_gives_its_id_status_metadata_and_concurrency_flag() {
        let raw = serde_json::json!({
            "id": "vapi-1", "status": "queued", "createdAt": "2024-05-01T14:30:00.000Z",
            "subscriptionLimits": {"concurrencyBlocked": true},
            "assistantOverrides": {"metadata": {"orgId": "demo", "callId": "c1", "attempt": 2}},
        });
        let call = VapiCall::from_json(raw).unwrap();
        assert_eq!(call.id, "vapi-1");
        assert!(call.concurrency_blocked);
        assert_eq!(call.metadata, Some(CallMetadata { org_id: "demo".into(), call_id: "c1".into(), attempt: 2 }));
        assert!(VapiCall::from_json(serde_json::json!({"status": "queued"})).is_none());
        assert!(mentions_concurrency("Over Concurrency Limit."));
    }

    #[test]
    fn a_call_object_gives_its_control_url() {
        let raw = serde_json::json!({
            "id": "vapi-1", "status": "in-progress",
            "monitor": {"listenUrl": "wss://example.vapi.ai/vapi-1/listen", "controlUrl": "https://example.vapi.ai/vapi-1/control"},
        });
        assert_eq!(VapiCall::from_json(raw).unwrap().control_url.as_deref(), Some("https://example.vapi.ai/vapi-1/control"));
        for monitor in [serde_json::json!(null), serde_json::json!({"listenUrl": "wss://x"}), serde_json::json!({"controlUrl": ""})] {
            let call = VapiCall::from_json(serde_json::json!({"id": "vapi-2", "monitor": monitor})).unwrap();
            assert_eq!(call.control_url, None, "{monitor}");
        }
    }
}
