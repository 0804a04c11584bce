//! The Vapi simulator: the local host's default Vapi. It takes `POST /call`
//! and `GET /call`, `GET /call/{id}` as Vapi does (the private key checked,
//! bodies validated the way Vapi's API validates them, an account limit on
//! concurrent calls), and then plays each call out: after a short ring it
//! sends the local webhook authentic `status-update` messages and, when the
//! call ends, an `end-of-call-report` with a varied, realistic outcome,
//! cost, duration, transcript and structured data. A call carries
//! `monitor.listenUrl` and `monitor.controlUrl` as its `monitorPlan` asks
//! (Vapi's defaults: both on, no key); the control URL is served here
//! (`POST /control/{id}`, taking the public key when the plan turns its
//! authentication on): an `end-call` there ends the call at once.

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
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use tokio::sync::Notify;

use play::{announce_end, end, play};

mod play;

/// How the simulated account behaves.
#[derive(Debug, Clone)]
pub struct SimSettings {
    /// The private key requests must carry.
    pub api_key: String,
    /// The public key a control URL with authentication on takes.
    pub public_key: String,
    /// Concurrent calls the account allows (Vapi's default is 10).
    pub concurrency_limit: usize,
    /// Ringing, then talking: real time, from..to.
    pub ring_ms: (u64, u64),
    pub talk_ms: (u64, u64),
}

impl Default for SimSettings {
    fn default() -> Self {
        SimSettings {
            api_key: "local-vapi-key".into(),
            public_key: "local-vapi-public-key".into(),
            concurrency_limit: 10,
            ring_ms: (1_000, 2_500),
            talk_ms: (3_000, 8_000),
        }
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
    /// Where the simulator serves, for the calls' monitor URLs.
    base: String,
    /// Wakes a playing call that was ended through its control URL, so it stops.
    hangups: Mutex<HashMap<String, Arc<Notify>>>,
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

/// A call's `monitor`, as its `monitorPlan` asks: each URL only when its
/// part is on (Vapi's default for a field left out: on), both served at `base`.
pub fn monitor(base: &str, id: &str, plan: &Value) -> Value {
    let on = |field: &str| plan.get(field).and_then(Value::as_bool).unwrap_or(true);
    let mut monitor = json!({});
    if on("listenEnabled") {
        monitor["listenUrl"] = json!(format!("{}/listen/{id}", base.replacen("http", "ws", 1)));
    }
    if on("controlEnabled") {
        monitor["controlUrl"] = json!(format!("{base}/control/{id}"));
    }
    monitor
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
        "monitor": monitor(&sim.base, &id, &body["assistantOverrides"]["monitorPlan"]),
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
    sim.hangups.lock().expect("never poisoned").insert(id.clone(), Arc::default());
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

/// The `endedReason` Vapi gives a call ended through its control URL
/// (`{"type": "end-call"}`). Vapi's OpenAPI document (VapiAI/docs,
/// fern/apis/api/openapi.json, commit eabfa53, the `endedReason` enum of
/// `Call`, `ServerMessageStatusUpdate` and `ServerMessageEndOfCallReport`)
/// has no value of its own for it (no `call.ended.by-control` or the like);
/// the one for a call ended from outside it is `manually-canceled`, "The call
/// was manually canceled via the API or dashboard"
/// (fern/calls/call-ended-reason.mdx, same commit).
pub const CONTROL_ENDED_REASON: &str = "manually-canceled";

/// `POST /control/{id}`, the call's `monitor.controlUrl`: the public key
/// when the call's `monitorPlan.controlAuthenticationEnabled` is on, else
/// none (Vapi's default); a call whose plan turned control off has no
/// control URL. The simulator takes `end-call` only.
async fn control(State(sim): State<Arc<Sim>>, headers: HeaderMap, Path(id): Path<String>, body: String) -> Response {
    let (live, plan) = match sim.calls.lock().expect("never poisoned").get(&id) {
        Some(call) => (call["status"] != "ended", call["assistantOverrides"]["monitorPlan"].clone()),
        None => return (StatusCode::NOT_FOUND, Json(json!({"message": "Call not found", "error": "Not Found", "statusCode": 404}))).into_response(),
    };
    if plan.get("controlEnabled") == Some(&json!(false)) {
        return (StatusCode::NOT_FOUND, Json(json!({"message": "Control is not enabled for this call", "error": "Not Found", "statusCode": 404})))
            .into_response();
    }
    if plan.get("controlAuthenticationEnabled") == Some(&json!(true)) && !authorized(&headers, &sim.settings.public_key) {
        return unauthorized();
    }
    let kind = serde_json::from_str::<Value>(&body).ok().and_then(|body| body.get("type").and_then(Value::as_str).map(str::to_string));
    if kind.as_deref() != Some("end-call") {
        let kind = kind.map_or_else(|| "a body without a type".to_string(), |kind| format!("type {kind}"));
        return bad_request(vec![format!("the simulator's control URL takes only {{\"type\": \"end-call\"}}, not {kind}")]);
    }
    if live {
        let now = Utc::now();
        let started = sim.calls.lock().expect("never poisoned").get(&id).and_then(|c| c["startedAt"].as_str().and_then(callops_domain::time::parse));
        let seconds = started.map_or(0, |at| (now - at).num_seconds().max(0));
        let report = json!({
            "type": "end-of-call-report", "endedReason": CONTROL_ENDED_REASON,
            "startedAt": started.map(iso), "endedAt": iso(now), "durationSeconds": seconds,
            "cost": 0.01, "costs": [{"type": "vapi", "cost": 0.01, "minutes": seconds as f64 / 60.0}],
            "artifact": {"transcript": "", "messages": []},
            "analysis": {"summary": "The call was ended through its control URL."},
            "compliance": Value::Null,
        });
        let ending = sim.clone();
        // Ended now (GET /call/{id} says so at once); the messages follow, as from Vapi.
        if let Some(snapshot) = end(&sim, &id, &report) {
            tokio::spawn(async move { announce_end(&ending, &snapshot, report).await });
        }
    }
    StatusCode::OK.into_response()
}

impl VapiSimulator {
    /// Starts serving on a free local port. `secrets`: tenant -> the Vapi
    /// secret its webhook accepts.
    pub async fn start(settings: SimSettings, secrets: HashMap<String, String>) -> std::io::Result<VapiSimulator> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let base = format!("http://{}", listener.local_addr()?);
        let sim = Arc::new(Sim {
            settings,
            calls: Mutex::default(),
            active: AtomicUsize::new(0),
            most_active: AtomicUsize::new(0),
            created: AtomicUsize::new(0),
            webhook_url: RwLock::new(None),
            secrets,
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("an HTTP client"),
            base: base.clone(),
            hangups: Mutex::default(),
        });
        let app = Router::new()
            .route("/call", get(list_calls).post(create_call))
            .route("/call/{id}", get(get_call))
            .route("/control/{id}", post(control))
            .with_state(sim.clone());
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

#[cfg(test)]
mod tests {
    use callops_tests::fake_vapi::{FAKE_VAPI_KEY, FakeVapi};
    use callops_vapi::{
        VapiApi, VapiError,
        api::{AssistantOverrides, CallMetadata, CreateCall, Customer, EndCall, MonitorPlan},
        client::VapiClient,
    };

    use super::*;

    const ORG: &str = "demo";

    /// A webhook that keeps the server messages it is sent.
    async fn webhook() -> (String, Arc<Mutex<Vec<Value>>>) {
        let got: Arc<Mutex<Vec<Value>>> = Arc::default();
        let keep = got.clone();
        let app = Router::new().route(
            "/webhook",
            post(move |Json(body): Json<Value>| async move {
                keep.lock().unwrap().push(body["message"].clone());
                StatusCode::OK
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, got)
    }

    /// A simulator whose calls ring for `ring_ms` and then talk for a minute, its webhook, and a client.
    async fn simulator(ring_ms: u64) -> (VapiSimulator, VapiClient, Arc<Mutex<Vec<Value>>>) {
        let settings = SimSettings { ring_ms: (ring_ms, ring_ms), talk_ms: (60_000, 60_000), ..SimSettings::default() };
        let sim = VapiSimulator::start(settings, HashMap::from([(ORG.to_string(), "sim-secret".to_string())])).await.unwrap();
        let (url, messages) = webhook().await;
        sim.send_webhooks_to(url);
        let client = VapiClient::new(sim.base_url(), sim.api_key(), Duration::from_secs(5)).unwrap();
        (sim, client, messages)
    }

    /// Vapi's default monitor plan: listen and control on, no key.
    const OPEN: MonitorPlan =
        MonitorPlan { listen_enabled: true, listen_authentication_enabled: false, control_enabled: true, control_authentication_enabled: false };

    fn new_call(attempt: u32) -> CreateCall {
        with_plan(attempt, OPEN)
    }

    fn with_plan(attempt: u32, monitor_plan: MonitorPlan) -> CreateCall {
        CreateCall {
            assistant_id: "assistant-1".into(),
            phone_number_id: Some("pn-1".into()),
            phone_number: None,
            customer: Customer { number: "+12025550123".into(), name: Some("Ada".into()) },
            name: "End-call test".into(),
            assistant_overrides: AssistantOverrides {
                metadata: CallMetadata { org_id: ORG.into(), call_id: "call-1".into(), attempt },
                variable_values: serde_json::Map::new(),
                compliance_plan: None,
                artifact_plan: None,
                max_duration_seconds: None,
                first_message: None,
                monitor_plan,
                keypad_input_plan: None,
                voicemail_message: None,
                voicemail_detection: None,
            },
        }
    }

    /// The messages about call `id` the webhook got so far.
    fn about(messages: &Mutex<Vec<Value>>, id: &str) -> Vec<Value> {
        messages.lock().unwrap().iter().filter(|m| m["call"]["id"] == id).cloned().collect()
    }

    /// Waits (up to 5 s) until the webhook got a message about `id` that `wanted` accepts.
    async fn wait_for(messages: &Mutex<Vec<Value>>, id: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..100 {
            if let Some(message) = about(messages, id).into_iter().find(&wanted) {
                return message;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the webhook never got the message; it got {:?}", about(messages, id));
    }

    fn kinds(messages: &[Value]) -> Vec<(String, String)> {
        messages.iter().map(|m| (m["type"].as_str().unwrap_or_default().to_string(), m["status"].as_str().unwrap_or_default().to_string())).collect()
    }

    #[tokio::test]
    async fn end_call_ends_a_live_call_at_once_and_reports_it_to_the_webhook() {
        let (sim, client, messages) = simulator(400).await;
        let created = client.create_call(&new_call(1)).await.unwrap();
        let id = created.id.clone();
        assert_eq!(created.control_url, Some(format!("{}/control/{id}", sim.base_url())));
        assert_eq!(created.raw["monitor"]["listenUrl"].as_str().map(|url| url.starts_with("ws://")), Some(true), "{}", created.raw);

        assert_eq!(client.end_call(&id).await.unwrap(), EndCall::Ended);
        let ended = client.get_call(&id).await.unwrap().unwrap();
        assert_eq!(ended.status.as_deref(), Some("ended"), "ended at once");
        assert_eq!(ended.raw["endedReason"], CONTROL_ENDED_REASON);
        assert_eq!(sim.sim.active.load(Ordering::SeqCst), 0, "its slot came back");

        let report = wait_for(&messages, &id, |m| m["type"] == "end-of-call-report").await;
        assert_eq!(report["endedReason"], CONTROL_ENDED_REASON);
        assert_eq!(report["call"]["status"], "ended");
        // Past the ring: the call's play stopped, nothing more comes.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let sent = about(&messages, &id);
        assert_eq!(kinds(&sent), vec![("status-update".to_string(), "ended".to_string()), ("end-of-call-report".to_string(), String::new())], "{sent:?}");
        assert_eq!(sent[0]["endedReason"], CONTROL_ENDED_REASON);
        assert_eq!(client.get_call(&id).await.unwrap().unwrap().status.as_deref(), Some("ended"));
        assert!(sim.sim.hangups.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn end_call_ends_a_call_in_progress() {
        let (sim, client, messages) = simulator(0).await;
        // Some simulated calls are never answered: place calls until one is.
        let mut talking = None;
        for attempt in 1..=12 {
            let id = client.create_call(&new_call(attempt)).await.unwrap().id;
            let news = wait_for(&messages, &id, |m| m["status"] == "in-progress" || m["type"] == "end-of-call-report").await;
            if news["status"] == "in-progress" {
                talking = Some(id);
                break;
            }
        }
        let id = talking.expect("one of twelve calls was answered");
        assert_eq!(client.end_call(&id).await.unwrap(), EndCall::Ended);
        let report = wait_for(&messages, &id, |m| m["type"] == "end-of-call-report").await;
        assert_eq!(report["endedReason"], CONTROL_ENDED_REASON);
        assert!(report["startedAt"].is_string(), "{report}");
        let call = client.get_call(&id).await.unwrap().unwrap();
        assert_eq!((call.status.as_deref(), &call.raw["endedReason"]), (Some("ended"), &json!(CONTROL_ENDED_REASON)));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let statuses: Vec<String> = kinds(&about(&messages, &id)).into_iter().map(|(kind, status)| format!("{kind}:{status}")).collect();
        assert_eq!(statuses, ["status-update:ringing", "status-update:in-progress", "status-update:ended", "end-of-call-report:"]);
        assert_eq!(sim.sim.active.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn an_ended_call_is_already_ended_an_unknown_one_not_found_and_the_control_url_takes_only_end_call() {
        let (_sim, client, messages) = simulator(60_000).await;
        let created = client.create_call(&new_call(1)).await.unwrap();
        let control = created.control_url.clone().unwrap();
        let http = reqwest::Client::new();

        for refused in [json!({"type": "say", "content": "Hello"}), json!({"type": "control", "control": "mute-assistant"}), json!({})] {
            let answer = http.post(&control).json(&refused).send().await.unwrap();
            assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{refused}");
        }
        let answer = http.post(&control).header("content-type", "application/json").body("not json").send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
        assert_eq!(client.get_call(&created.id).await.unwrap().unwrap().status.as_deref(), Some("queued"), "still live");

        assert_eq!(client.end_call(&created.id).await.unwrap(), EndCall::Ended);
        assert_eq!(client.end_call(&created.id).await.unwrap(), EndCall::AlreadyEnded);
        let again = http.post(&control).json(&json!({"type": "end-call"})).send().await.unwrap();
        assert!(again.status().is_success(), "ending an ended call is a no-op: {}", again.status());
        wait_for(&messages, &created.id, |m| m["type"] == "end-of-call-report").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(about(&messages, &created.id).len(), 2, "one ending, reported once");

        assert_eq!(client.end_call("no-such-call").await.unwrap(), EndCall::NotFound);
        let unknown = http.post(control.replace(&created.id, "no-such-call")).json(&json!({"type": "end-call"})).send().await.unwrap();
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn the_client_sends_the_control_url_no_private_key() {
        let fake = FakeVapi::start().await;
        let client = VapiClient::new(&fake.base, FAKE_VAPI_KEY, Duration::from_secs(5)).unwrap();
        let created = client.create_call(&new_call(1)).await.unwrap();
        assert_eq!(created.control_url, Some(fake.control_url(&created.id)), "on the API's own host, even");

        assert_eq!(client.end_call(&created.id).await.unwrap(), EndCall::Ended);
        assert_eq!(fake.ended(), vec![created.id.clone()]);
        let controls = fake.controls();
        assert_eq!(controls.len(), 1, "{controls:?}");
        assert_eq!(controls[0].authorization, None, "the private key never goes to a URL from an answer");
        assert_eq!(controls[0].body, json!({"type": "end-call"}));
        assert_eq!(controls[0].content_type.as_deref(), Some("application/json"));
        let lookup = fake.lookups().into_iter().find(|r| r.path == format!("/call/{}", created.id)).expect("asked Vapi first");
        assert_eq!(lookup.authorization, Some(format!("Bearer {FAKE_VAPI_KEY}")));
        assert_eq!(fake.posts().len(), 1, "posts() counts the POST /call only");

        assert_eq!(client.end_call(&created.id).await.unwrap(), EndCall::AlreadyEnded);
        assert_eq!(client.end_call("no-such-call").await.unwrap(), EndCall::NotFound);
        assert_eq!(fake.controls().len(), 1, "an ended or unknown call is not sent end-call");

        // A call placed with monitorPlan.controlEnabled off has no control URL.
        fake.make_call(json!({"id": "uncontrolled", "status": "in-progress", "monitor": {"listenUrl": "wss://x/listen"}}));
        assert!(matches!(client.end_call("uncontrolled").await, Err(VapiError::Rejected { .. })));
        assert_eq!(fake.controls().len(), 1);
        assert!(fake.ended().len() == 1);
    }

    #[tokio::test]
    async fn a_locked_control_url_takes_the_public_key_and_a_plan_with_a_part_off_gives_no_url_for_it() {
        let (sim, open_client, _messages) = simulator(60_000).await;
        let client = open_client.clone().with_public_key(Some(sim.sim.settings.public_key.clone()));
        assert!(client.controls_calls() && !open_client.controls_calls());

        let locked = client.create_call(&with_plan(1, MonitorPlan::locked(false, true))).await.unwrap();
        assert_eq!(locked.listen_url, None, "listening off: no listen link");
        let control = locked.control_url.clone().expect("control on");
        let http = reqwest::Client::new();
        let bare = http.post(&control).json(&json!({"type": "end-call"})).send().await.unwrap();
        assert_eq!(bare.status(), StatusCode::UNAUTHORIZED, "the URL alone is not enough");
        let private = http.post(&control).bearer_auth(sim.api_key()).json(&json!({"type": "end-call"})).send().await.unwrap();
        assert_eq!(private.status(), StatusCode::UNAUTHORIZED, "nor the private key");
        assert!(matches!(open_client.end_call(&locked.id).await, Err(VapiError::Unauthorized { .. })), "a client without the public key cannot end it");
        assert_eq!(client.end_call(&locked.id).await.unwrap(), EndCall::Ended);

        let listened = client.create_call(&with_plan(2, MonitorPlan::locked(true, false))).await.unwrap();
        assert!(listened.listen_url.is_some() && listened.control_url.is_none(), "{}", listened.raw["monitor"]);
        assert!(matches!(client.end_call(&listened.id).await, Err(VapiError::Rejected { .. })), "no control URL to end it by");

        let body = serde_json::to_value(with_plan(3, MonitorPlan::locked(false, false))).unwrap();
        assert_eq!(
            body["assistantOverrides"]["monitorPlan"],
            json!({"listenEnabled": false, "listenAuthenticationEnabled": true, "controlEnabled": false, "controlAuthenticationEnabled": true}),
            "Vapi's own field names (MonitorPlan in its OpenAPI document), every one stated"
        );
    }
}
