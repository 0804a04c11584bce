//! A fake Vapi for the dialer's tests: it records every request (headers
//! and body), answers `POST /call` from a script (status, body, delay,
//! `Retry-After`, whether the call really got made), and serves `GET /call`
//! and `GET /call/{id}` from the calls it made, as Vapi would. A call
//! carries `monitor.listenUrl` and `monitor.controlUrl` as its
//! `monitorPlan` asks (Vapi's defaults: both, no key); the control URL is
//! served here as `POST /control/{id}`, and takes [`FAKE_VAPI_PUBLIC_KEY`]
//! when the plan turns its authentication on. An `end-call` ends a live
//! call and is remembered, so tests can tell which calls were ended.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};

pub const FAKE_VAPI_KEY: &str = "fake-vapi-private-key";
/// The account's public key, which an authenticated control URL takes.
pub const FAKE_VAPI_PUBLIC_KEY: &str = "fake-vapi-public-key";

/// One scripted answer to `POST /call`.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// For non-2xx answers: the error body.
    pub error: Value,
    /// Answer only after this long (the dialer's timeout may come first).
    pub delay: Duration,
    pub retry_after: Option<String>,
    /// Whether Vapi made the call (a 201, or a timeout after it was taken).
    pub makes_call: bool,
    /// For a 201: the account is full (`subscriptionLimits.concurrencyBlocked`).
    pub concurrency_blocked: bool,
}

impl Answer {
    pub fn created() -> Answer {
        Answer { status: 201, error: Value::Null, delay: Duration::ZERO, retry_after: None, makes_call: true, concurrency_blocked: false }
    }

    pub fn error(status: u16, message: &str) -> Answer {
        Answer {
            status,
            error: json!({"message": [message], "error": "Error", "statusCode": status}),
            delay: Duration::ZERO,
            retry_after: None,
            makes_call: false,
            concurrency_blocked: false,
        }
    }
}

/// A request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct Fake {
    script: Mutex<VecDeque<Answer>>,
    requests: Mutex<Vec<Recorded>>,
    calls: Mutex<Vec<Value>>,
    /// The calls an `end-call` on their control URL ended, in order.
    ended: Mutex<Vec<String>>,
    base: OnceLock<String>,
}

impl Fake {
    /// The `monitor` of a call, as its `monitorPlan` asks (Vapi's
    /// defaults, listen and control on, for a call without one).
    fn monitor(&self, id: &str, plan: &Value) -> Value {
        callops::vapi_sim::monitor(self.base.get().map_or("", String::as_str), id, plan)
    }
}

#[derive(Clone)]
pub struct FakeVapi {
    fake: Arc<Fake>,
    pub base: String,
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn record(fake: &Fake, method: &str, path: &str, query: &str, headers: &HeaderMap, body: Value) {
    fake.requests.lock().unwrap().push(Recorded {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        authorization: header(headers, "authorization"),
        content_type: header(headers, "content-type"),
        body,
    });
}

async fn create(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: String) -> Response {
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    record(&fake, "POST", "/call", "", &headers, body.clone());
    if header(&headers, "authorization").as_deref() != Some(&format!("Bearer {FAKE_VAPI_KEY}")) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "Invalid Key", "statusCode": 401}))).into_response();
    }
    let answer = fake.script.lock().unwrap().pop_front().unwrap_or_else(Answer::created);
    let id = uuid::Uuid::new_v4().to_string();
    let call = json!({
        "id": id, "orgId": "vapi-org", "type": "outboundPhoneCall", "status": "queued",
        "createdAt": callops_domain::time::format(&chrono::Utc::now()),
        "assistantId": body["assistantId"], "phoneNumberId": body["phoneNumberId"], "customer": body["customer"],
        "assistantOverrides": body["assistantOverrides"],
        "subscriptionLimits": {"concurrencyBlocked": answer.concurrency_blocked},
        "monitor": fake.monitor(&id, &body["assistantOverrides"]["monitorPlan"]),
    });
    if answer.makes_call {
        fake.calls.lock().unwrap().push(call.clone());
    }
    tokio::time::sleep(answer.delay).await;
    let status = StatusCode::from_u16(answer.status).unwrap();
    let mut response = if status.is_success() { (status, Json(call)).into_response() } else { (status, Json(answer.error)).into_response() };
    if let Some(after) = answer.retry_after {
        response.headers_mut().insert("retry-after", after.parse().unwrap());
    }
    response
}

async fn list(State(fake): State<Arc<Fake>>, headers: HeaderMap, Query(query): Query<Vec<(String, String)>>) -> Response {
    let text = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    record(&fake, "GET", "/call", &text, &headers, Value::Null);
    let after = query.iter().find(|(k, _)| k == "createdAtGt").and_then(|(_, v)| callops_domain::time::parse(v));
    let number = query.iter().find(|(k, _)| k == "phoneNumberId").map(|(_, v)| v.clone());
    let calls: Vec<Value> = fake
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| after.is_none_or(|after| c["createdAt"].as_str().and_then(callops_domain::time::parse).is_some_and(|at| at > after)))
        .filter(|c| number.as_deref().is_none_or(|n| c["phoneNumberId"].as_str() == Some(n)))
        .cloned()
        .collect();
    Json(Value::Array(calls)).into_response()
}

async fn one(State(fake): State<Arc<Fake>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    record(&fake, "GET", &format!("/call/{id}"), "", &headers, Value::Null);
    match fake.calls.lock().unwrap().iter().find(|c| c["id"] == id.as_str()) {
        Some(call) => Json(call.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found", "statusCode": 404}))).into_response(),
    }
}

/// `POST /control/{id}`, a call's `monitor.controlUrl`: `end-call` ends a
/// live call (an ended one: a no-op); other messages are refused. A call
/// whose plan turned control authentication on takes only the public key.
async fn control(State(fake): State<Arc<Fake>>, headers: HeaderMap, Path(id): Path<String>, body: String) -> Response {
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    record(&fake, "POST", &format!("/control/{id}"), "", &headers, body.clone());
    let mut calls = fake.calls.lock().unwrap();
    let Some(call) = calls.iter_mut().find(|c| c["id"] == id.as_str()) else {
        return (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found", "statusCode": 404}))).into_response();
    };
    let locked = call["assistantOverrides"]["monitorPlan"]["controlAuthenticationEnabled"] == true;
    if locked && header(&headers, "authorization").as_deref() != Some(&format!("Bearer {FAKE_VAPI_PUBLIC_KEY}")) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "Unauthorized", "statusCode": 401}))).into_response();
    }
    if body["type"] != "end-call" {
        return (StatusCode::BAD_REQUEST, Json(json!({"message": ["the fake takes only end-call"], "error": "Bad Request", "statusCode": 400})))
            .into_response();
    }
    if call["status"] != "ended" {
        call["status"] = json!("ended");
        call["endedReason"] = json!(callops::vapi_sim::CONTROL_ENDED_REASON);
        call["endedAt"] = json!(callops_domain::time::format(&chrono::Utc::now()));
        fake.ended.lock().unwrap().push(id);
    }
    StatusCode::OK.into_response()
}

impl FakeVapi {
    pub async fn start() -> FakeVapi {
        let fake = Arc::new(Fake::default());
        let app =
            Router::new().route("/call", get(list).post(create)).route("/call/{id}", get(one)).route("/control/{id}", post(control)).with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        fake.base.set(base.clone()).expect("set once");
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeVapi { fake, base }
    }

    /// The next answers to `POST /call`, in order (then 201s).
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.fake.script.lock().unwrap().extend(answers);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.fake.requests.lock().unwrap().clone()
    }

    /// The `POST /call` requests (not those to the calls' control URLs).
    pub fn posts(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.method == "POST" && r.path == "/call").collect()
    }

    /// The requests to the calls' control URLs.
    pub fn controls(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.path.starts_with("/control/")).collect()
    }

    /// The calls an `end-call` on their control URL ended, in order.
    pub fn ended(&self) -> Vec<String> {
        self.fake.ended.lock().unwrap().clone()
    }

    /// A call's control URL, as the calls the fake makes carry it.
    pub fn control_url(&self, id: &str) -> String {
        format!("{}/control/{id}", self.base)
    }

    pub fn lookups(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.method == "GET").collect()
    }

    /// The calls Vapi made, as Call objects.
    pub fn calls(&self) -> Vec<Value> {
        self.fake.calls.lock().unwrap().clone()
    }

    /// Makes a call as if `POST /call` had been answered (for a crash right
    /// after it); it gets the fake's `monitor` unless it has one.
    pub fn make_call(&self, mut call: Value) {
        if call.get("monitor").is_none()
            && let Some(id) = call["id"].as_str()
        {
            call["monitor"] = self.fake.monitor(id, &Value::Null);
        }
        self.fake.calls.lock().unwrap().push(call);
    }

    /// Changes a call Vapi made (it ends, say).
    pub fn update_call(&self, id: &str, change: impl FnOnce(&mut Value)) {
        let mut calls = self.fake.calls.lock().unwrap();
        change(calls.iter_mut().find(|c| c["id"] == id).expect("the fake made this call"));
    }
}
