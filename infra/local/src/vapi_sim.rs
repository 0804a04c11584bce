//! The Vapi simulator: the local host's default Vapi. It takes `POST /call`
//! and `GET /call`, `GET /call/{id}` as Vapi does (the private key checked,
//! bodies validated the way Vapi's API validates them, an account limit on
//! concurrent calls), and then plays each call out: after a short ring it
//! sends the local webhook authentic `status-update` messages and, when the
//! call ends, an `end-of-call-report` with a varied, realistic outcome,
//! cost, duration, transcript and structured data.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};

/// How the simulated account behaves.
#[derive(Debug, Clone)]
pub struct SimSettings {
    /// The private key requests must carry.
    pub api_key: String,
    /// Concurrent calls the account allows (Vapi's default is 10).
    pub concurrency_limit: usize,
    /// Ringing, then talking: real time, from..to.
    pub ring_ms: (u64, u64),
    pub talk_ms: (u64, u64),
}

impl Default for SimSettings {
    fn default() -> Self {
        SimSettings { api_key: "local-vapi-key".into(), concurrency_limit: 10, ring_ms: (1_000, 2_500), talk_ms: (3_000, 8_000) }
    }
}

struct Sim {
    settings: SimSettings,
    calls: Mutex<HashMap<String, Value>>,
    active: AtomicUsize,
    most_active: AtomicUsize,
    created: AtomicUsize,
    /// Where to send server messages, and each tenant's secret.
    webhook_url: RwLock<Option<String>>,
    secrets: HashMap<String, String>,
    http: reqwest::Client,
}

/// A running simulator; clones share it.
#[derive(Clone)]
pub struct VapiSimulator {
    sim: Arc<Sim>,
    base: String,
}

/// The properties Vapi's `POST /call` accepts at the top level.
const CREATE_CALL_FIELDS: &[&str] = &[
    "assistantId",
    "assistant",
    "assistantOverrides",
    "squadId",
    "squad",
    "workflowId",
    "workflow",
    "workflowOverrides",
    "phoneNumberId",
    "phoneNumber",
    "customerId",
    "customer",
    "customers",
    "name",
    "schedulePlan",
    "transport",
];

fn bad_request(messages: Vec<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"message": messages, "error": "Bad Request", "statusCode": 400}))).into_response()
}

fn is_e164(number: &str) -> bool {
    let digits = number.strip_prefix('+').unwrap_or("");
    (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

/// What Vapi would refuse in a create-call body.
fn validate(body: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(object) = body.as_object() else { return vec!["body must be a JSON object".into()] };
    for key in object.keys().filter(|k| !CREATE_CALL_FIELDS.contains(&k.as_str())) {
        problems.push(format!("property {key} should not exist"));
    }
    if !object.contains_key("assistantId") && !object.contains_key("assistant") && !object.contains_key("squadId") {
        problems.push("Couldn't Get Assistant. Need Either `assistant` Or `assistantId`.".into());
    }
    match (object.get("phoneNumberId"), object.get("phoneNumber")) {
        (None, None) => problems.push("Need Either `phoneNumberId` Or `phoneNumber`.".into()),
        (Some(_), Some(_)) => problems.push("Provide only one of `phoneNumberId` and `phoneNumber`.".into()),
        (None, Some(number)) => {
            for field in ["twilioPhoneNumber", "twilioAccountSid", "twilioAuthToken"] {
                if number.get(field).and_then(Value::as_str).is_none_or(str::is_empty) {
                    problems.push(format!("phoneNumber.{field} must be a string"));
                }
            }
        }
        _ => {}
    }
    match body.pointer("/customer/number").and_then(Value::as_str) {
        Some(number) if is_e164(number) => {}
        Some(_) => problems.push("customer.number must be a valid phone number in the E.164 format.".into()),
        None => problems.push("Need Either `customer` Or `customerId`.".into()),
    }
    if body.get("name").and_then(Value::as_str).is_some_and(|n| n.chars().count() > 40) {
        problems.push("name must be shorter than or equal to 40 characters".into());
    }
    problems
}

fn authorized(headers: &HeaderMap, key: &str) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).is_some_and(|k| k.trim() == key)
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({"message": "Invalid Key. Hot tip, you may be using the private key instead of the public key, or vice versa.", "error": "Unauthorized", "statusCode": 401}))).into_response()
}

fn iso(at: DateTime<Utc>) -> String {
    callops_domain::time::format(&at)
}

async fn create_call(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: String) -> Response {
    if !authorized(&headers, &sim.settings.api_key) {
        return unauthorized();
    }
    let body: Value = match serde_json::from_str(&body) {
        Ok(body) => body,
        Err(_) => return bad_request(vec!["body must be valid JSON".into()]),
    };
    let problems = validate(&body);
    if !problems.is_empty() {
        return bad_request(problems);
    }
    let now = Utc::now();
    let id = uuid::Uuid::new_v4().to_string();
    let mut call = json!({
        "id": id, "orgId": "local-simulator", "type": "outboundPhoneCall", "status": "queued",
        "createdAt": iso(now), "updatedAt": iso(now),
        "assistantId": body.get("assistantId"), "phoneNumberId": body.get("phoneNumberId"),
        "customer": body.get("customer"), "name": body.get("name"),
        "assistantOverrides": body.get("assistantOverrides"),
        "phoneCallProvider": "twilio", "phoneCallProviderId": format!("CA{}", uuid::Uuid::new_v4().simple()),
        "cost": 0,
    });
    // The account's limit on calls at once: a full account still answers 201, with the flag set.
    let taken = sim.active.fetch_add(1, Ordering::SeqCst);
    if taken >= sim.settings.concurrency_limit {
        sim.active.fetch_sub(1, Ordering::SeqCst);
        call["status"] = json!("ended");
        call["endedReason"] = json!("call.start.error-subscription-concurrency-limit-reached");
        call["subscriptionLimits"] = json!({"concurrencyBlocked": true, "concurrencyLimit": sim.settings.concurrency_limit, "remainingConcurrentCalls": 0});
        return (StatusCode::CREATED, Json(call)).into_response();
    }
    sim.most_active.fetch_max(taken + 1, Ordering::SeqCst);
    sim.created.fetch_add(1, Ordering::SeqCst);
    sim.calls.lock().expect("never poisoned").insert(id.clone(), call.clone());
    let playing = sim.clone();
    tokio::spawn(async move { play(playing, id).await });
    (StatusCode::CREATED, Json(call)).into_response()
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    created_at_gt: Option<String>,
    phone_number_id: Option<String>,
    limit: Option<usize>,
}

async fn list_calls(State(sim): State<Arc<Sim>>, headers: HeaderMap, Query(query): Query<ListQuery>) -> Response {
    if !authorized(&headers, &sim.settings.api_key) {
        return unauthorized();
    }
    let after = query.created_at_gt.as_deref().and_then(callops_domain::time::parse);
    let mut calls: Vec<Value> = sim
        .calls
        .lock()
        .expect("never poisoned")
        .values()
        .filter(|call| after.is_none_or(|after| call["createdAt"].as_str().and_then(callops_domain::time::parse).is_some_and(|at| at > after)))
        .filter(|call| query.phone_number_id.as_deref().is_none_or(|id| call["phoneNumberId"].as_str() == Some(id)))
        .cloned()
        .collect();
    calls.sort_by(|a, b| b["createdAt"].as_str().cmp(&a["createdAt"].as_str()));
    calls.truncate(query.limit.unwrap_or(100).min(1000));
    Json(Value::Array(calls)).into_response()
}

async fn get_call(State(sim): State<Arc<Sim>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&headers, &sim.settings.api_key) {
        return unauthorized();
    }
    match sim.calls.lock().expect("never poisoned").get(&id) {
        Some(call) => Json(call.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"message": "Call not found", "error": "Not Found", "statusCode": 404}))).into_response(),
    }
}

/// What came of a simulated call: Vapi's endedReason and the analysis the assistant extracted.
fn outcome(rng: &mut StdRng, call_type: &str) -> (&'static str, Option<Value>, bool) {
    let roll: u32 = rng.random_range(0..100);
    let quality = rng.random_range(3..=5);
    let insurer = ["Delta Dental", "Cigna", "Aetna", "MetLife", "Guardian"][rng.random_range(0..5)];
    if roll < 12 {
        return ("customer-did-not-answer", None, false);
    }
    if roll < 16 {
        return ("customer-busy", None, false);
    }
    if roll < 25 {
        return ("voicemail", Some(json!({"outcome": "VOICEMAIL"})), false);
    }
    if call_type == "OUTBOUND_DEBT" || roll >= 90 {
        let success = rng.random_bool(0.45);
        let cents = rng.random_range(40..600) * 100;
        return (
            "customer-ended-call",
            Some(json!({
                "outcome": if success { "PAYMENT_PLAN" } else { "INFORMATION" }, "collectionAttempted": true,
                "collectionSuccessful": success, "collectionAmountCents": if success { cents } else { 0 },
                "paymentPlanDiscussed": success, "paymentPlanAmountCents": if success { cents } else { 0 },
                "customerSentiment": if success { "positive" } else { "neutral" }, "callQuality": quality, "aiConfidence": 0.86,
            })),
            false,
        );
    }
    if roll < 60 {
        return (
            "customer-ended-call",
            Some(json!({
                "outcome": "BOOKED", "appointmentBooked": true, "insuranceVerified": rng.random_bool(0.7), "insuranceProvider": insurer,
                "customerSentiment": "positive", "callQuality": quality, "aiConfidence": 0.93,
            })),
            true,
        );
    }
    if roll < 72 {
        return (
            "assistant-ended-call",
            Some(json!({
                "outcome": "INSURANCE_INQUIRY", "insuranceVerified": true, "insuranceProvider": insurer,
                "customerSentiment": "neutral", "callQuality": quality, "aiConfidence": 0.88,
                "followUpRequired": rng.random_bool(0.3),
            })),
            false,
        );
    }
    if roll < 80 {
        return (
            "assistant-forwarded-call",
            Some(json!({
                "outcome": "TRANSFERRED", "transferredTo": "Front desk", "customerSentiment": "neutral", "callQuality": quality, "aiConfidence": 0.8,
            })),
            false,
        );
    }
    (
        "customer-ended-call",
        Some(json!({
            "outcome": "INFORMATION", "customerSentiment": "positive", "callQuality": quality, "aiConfidence": 0.9,
        })),
        false,
    )
}

fn pause(rng: &mut StdRng, (from, to): (u64, u64)) -> Duration {
    Duration::from_millis(if to > from { rng.random_range(from..to) } else { from })
}

/// Plays a call out: ringing, in progress, ended, with its report.
async fn play(sim: Arc<Sim>, id: String) {
    let seed = id.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let mut rng = StdRng::seed_from_u64(seed);
    let call_type = sim
        .calls
        .lock()
        .expect("never poisoned")
        .get(&id)
        .and_then(|c| c.pointer("/assistantOverrides/variableValues/callType").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default();
    let (ended_reason, analysis, booked) = outcome(&mut rng, &call_type);
    // A call that asked for recording consent: the callee who answers stays on the line, which is consent.
    let consent_asked = sim
        .calls
        .lock()
        .expect("never poisoned")
        .get(&id)
        .and_then(|c| c.pointer("/assistantOverrides/compliancePlan/recordingConsentPlan/type").and_then(Value::as_str).map(str::to_string));
    let answered = !matches!(ended_reason, "customer-did-not-answer" | "customer-busy");

    tokio::time::sleep(pause(&mut rng, sim.settings.ring_ms)).await;
    let snapshot = set_status(&sim, &id, "ringing");
    deliver(&sim, &snapshot, json!({"type": "status-update", "status": "ringing"})).await;
    let started = Utc::now();
    if answered {
        let snapshot = set_status(&sim, &id, "in-progress");
        deliver(&sim, &snapshot, json!({"type": "status-update", "status": "in-progress"})).await;
        tokio::time::sleep(pause(&mut rng, sim.settings.talk_ms)).await;
    }
    // Reported durations are those of real calls; the simulator plays them faster.
    let seconds: i64 = if answered { rng.random_range(35..420) } else { 0 };
    let ended = started + chrono::Duration::seconds(seconds);
    let cost = if answered { 0.02 + seconds as f64 * 0.0011 } else { 0.01 };
    let name = sim
        .calls
        .lock()
        .expect("never poisoned")
        .get(&id)
        .and_then(|c| c.pointer("/customer/name").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| "there".into());
    let transcript = if answered {
        format!("AI: Hi {name}, this is the practice calling.\nUser: Oh hi, yes.\nAI: I'm calling about your visit.\nUser: Sure, go ahead.\n")
    } else {
        String::new()
    };
    let mut messages =
        vec![json!({"role": "bot", "message": format!("Hi {name}, this is the practice calling."), "time": started.timestamp_millis(), "secondsFromStart": 0})];
    if booked {
        messages.push(
            json!({"role": "tool_calls", "toolCalls": [{"id": "tool-1", "type": "function", "function": {"name": "bookAppointment", "arguments": "{}"}}]}),
        );
    }
    let summary = if answered { "The patient spoke with the assistant." } else { "Nobody answered." };
    // Half the calls come in today's shapes (a structured output, artifact.recording), half in the older ones.
    let current = id.bytes().map(u32::from).sum::<u32>() % 2 == 0;
    let recording = answered.then(|| format!("https://storage.vapi.ai/{id}-mono.wav"));
    // Turn latencies, and the transfer a forwarded call made, as Vapi records them.
    let turns = rng.random_range(3..12_usize);
    let turn_ms: Vec<f64> = (0..turns).map(|_| rng.random_range(700.0..1600.0)).collect();
    let turn_average = turn_ms.iter().sum::<f64>() / turns as f64;
    let performance = answered.then(|| {
        json!({
            "turnLatencies": turn_ms.iter().map(|ms| json!({"turnLatency": ms, "modelLatency": ms * 0.4, "voiceLatency": ms * 0.2})).collect::<Vec<_>>(),
            "turnLatencyAverage": turn_average, "modelLatencyAverage": turn_average * 0.4, "voiceLatencyAverage": turn_average * 0.2,
            "transcriberLatencyAverage": 120.0, "endpointingLatencyAverage": turn_average * 0.25,
        })
    });
    let transfers = json!(if ended_reason == "assistant-forwarded-call" {
        vec![json!({"destination": {"type": "number", "number": "+12025550100", "name": "Front desk"}, "mode": "blind-transfer", "status": "connected"})]
    } else {
        Vec::new()
    });
    let (artifact, analysis) = if current {
        let outputs = analysis.map(|result| json!({ format!("{id}-output"): {"name": "callops", "result": result} }));
        let recording = recording.map(|mono| json!({"mono": {"combinedUrl": mono}, "stereoUrl": format!("https://storage.vapi.ai/{id}-stereo.wav")}));
        (
            json!({"transcript": transcript, "messages": messages, "recording": recording, "structuredOutputs": outputs,
                   "performanceMetrics": performance, "transfers": transfers}),
            json!({"summary": summary, "successEvaluation": if booked { "8" } else { "5" }}),
        )
    } else {
        (
            json!({"transcript": transcript, "messages": messages, "recordingUrl": recording}),
            json!({"summary": summary, "structuredData": analysis.unwrap_or(Value::Null), "successEvaluation": if booked { "true" } else { "false" }}),
        )
    };
    let report = json!({
        "type": "end-of-call-report", "endedReason": ended_reason,
        "startedAt": iso(started), "endedAt": iso(ended), "durationSeconds": seconds,
        "cost": (cost * 10_000.0).round() / 10_000.0,
        "costs": [
            {"type": "transport", "cost": 0.008, "minutes": seconds as f64 / 60.0},
            {"type": "transcriber", "cost": cost * 0.1, "minutes": seconds as f64 / 60.0},
            {"type": "model", "cost": cost * 0.5, "promptTokens": 900 + seconds * 40, "completionTokens": 40 + seconds * 2},
            {"type": "voice", "cost": cost * 0.25, "characters": 100 + seconds * 12},
            {"type": "vapi", "cost": (cost * 0.15 - 0.008).max(0.0), "minutes": seconds as f64 / 60.0},
        ],
        "artifact": artifact,
        "analysis": analysis,
        "compliance": consent_asked.map(|kind| json!({"recordingConsent": if answered { json!({"type": kind, "grantedAt": iso(started)}) } else { json!({"type": kind}) }})),
    });
    let snapshot = {
        let mut calls = sim.calls.lock().expect("never poisoned");
        let call = calls.get_mut(&id).expect("a playing call exists");
        for field in ["endedReason", "startedAt", "endedAt", "cost", "costs", "artifact", "analysis", "compliance"] {
            call[field] = report[field].clone();
        }
        call["status"] = json!("ended");
        call["updatedAt"] = json!(iso(Utc::now()));
        call.clone()
    };
    sim.active.fetch_sub(1, Ordering::SeqCst);
    deliver(&sim, &snapshot, json!({"type": "status-update", "status": "ended", "endedReason": ended_reason})).await;
    deliver(&sim, &snapshot, report).await;
}

fn set_status(sim: &Sim, id: &str, status: &str) -> Value {
    let mut calls = sim.calls.lock().expect("never poisoned");
    let call = calls.get_mut(id).expect("a playing call exists");
    call["status"] = json!(status);
    call["updatedAt"] = json!(iso(Utc::now()));
    call.clone()
}

/// POSTs a server message about `call` to the webhook with the tenant's secret.
async fn deliver(sim: &Sim, call: &Value, mut message: Value) {
    let Some(url) = sim.webhook_url.read().expect("never poisoned").clone() else { return };
    let org = call.pointer("/assistantOverrides/metadata/orgId").and_then(Value::as_str).unwrap_or_default();
    let Some(secret) = sim.secrets.get(org) else {
        tracing::warn!(org, "the simulator has no webhook secret for this tenant");
        return;
    };
    message["timestamp"] = json!(Utc::now().timestamp_millis());
    message["call"] = call.clone();
    message["customer"] = call["customer"].clone();
    let body = json!({ "message": message });
    match sim.http.post(&url).header("x-vapi-secret", secret).json(&body).send().await {
        Ok(response) if response.status().is_success() => {}
        Ok(response) => tracing::warn!(status = %response.status(), "the webhook refused a simulated message"),
        Err(err) => tracing::warn!(error = %err, "a simulated message could not be delivered"),
    }
}

impl VapiSimulator {
    /// Starts serving on a free local port. `secrets`: tenant -> the Vapi
    /// secret its webhook accepts.
    pub async fn start(settings: SimSettings, secrets: HashMap<String, String>) -> std::io::Result<VapiSimulator> {
        let sim = Arc::new(Sim {
            settings,
            calls: Mutex::default(),
            active: AtomicUsize::new(0),
            most_active: AtomicUsize::new(0),
            created: AtomicUsize::new(0),
            webhook_url: RwLock::new(None),
            secrets,
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("an HTTP client"),
        });
        let app = Router::new().route("/call", get(list_calls).post(create_call)).route("/call/{id}", get(get_call)).with_state(sim.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let base = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(VapiSimulator { sim, base })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn api_key(&self) -> &str {
        &self.sim.settings.api_key
    }

    /// Where the simulated calls' server messages go.
    pub fn send_webhooks_to(&self, url: String) {
        *self.sim.webhook_url.write().expect("never poisoned") = Some(url);
    }

    /// Calls the account took (not counting those refused for concurrency).
    pub fn calls_created(&self) -> usize {
        self.sim.created.load(Ordering::SeqCst)
    }

    /// The most calls that were ever in progress at once.
    pub fn most_at_once(&self) -> usize {
        self.sim.most_active.load(Ordering::SeqCst)
    }

    /// Every call the account knows, as Vapi's Call objects.
    pub fn calls(&self) -> Vec<Value> {
        self.sim.calls.lock().expect("never poisoned").values().cloned().collect()
    }
}
