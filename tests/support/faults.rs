//! A fault-injecting proxy in front of a DynamoDB endpoint: every request
//! goes through it, and it answers some of them with the errors DynamoDB
//! gives when it is throttling or failing (or applies a write and loses its
//! answer), so the SDK's retries and the code above them meet the real wire
//! format of those failures. It can also do what DynamoDB does and the
//! embedded engine (one transaction at a time, on one machine) never has
//! to: cancel transactions that meet another in progress on an item, or
//! that it throttles; leave a batch's items unprocessed; answer from an
//! index that has not caught up; report a new table as still being created.
//! With [`FaultyDynamo::strict`] it also refuses what DynamoDB's own limits
//! refuse and the engine lets through (see [`violation`]).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use rand::{Rng, SeedableRng, rngs::StdRng};

/// What the proxy does to the requests it sees.
#[derive(Debug, Clone)]
pub enum Faults {
    /// Every request reaches the engine.
    None,
    /// The first attempt of every request fails with a retryable error
    /// (throttling, an internal error, exceeded throughput, in turn).
    FirstAttempts,
    /// Every attempt of these operations (`TransactWriteItems`, ...) fails with an internal error.
    Outage(Vec<&'static str>),
    /// These operations are applied, but the first attempt's answer is lost:
    /// the caller gets an internal error for a write that happened.
    LostAnswers(Vec<&'static str>),
    /// Each attempt fails with probability `rate`, with a retryable error.
    Random { rate: f64, seed: u64 },
    /// Each operation fails with probability `rate`, every attempt of it
    /// (the SDK names an operation's attempts with one invocation id), so
    /// the caller sees the failure after its retries.
    FailedOperations { rate: f64, seed: u64 },
    /// A `TransactWriteItems` that touches an item another one in flight is
    /// writing is cancelled with `TransactionConflict`, as DynamoDB cancels it.
    Conflicts,
    /// Each distinct transaction is cancelled the first time it is sent,
    /// every item's reason `ThrottlingError`, as DynamoDB cancels one it throttles.
    ThrottledTransactions,
    /// The next `n` `BatchWriteItem`/`BatchGetItem` requests are answered
    /// with every item unprocessed (nothing reaches the engine).
    UnprocessedBatches(usize),
    /// Queries on these indexes find nothing: an index that has not caught up.
    StaleIndexes(Vec<&'static str>),
    /// The next `n` `DescribeTable` answers say the table is `CREATING`.
    CreatingTable(usize),
    /// Every request that names this tenant's items fails, every attempt.
    TenantOutage(String),
    /// Once a `TransactWriteItems` has been applied, every later request
    /// waits until the test releases the hold: a moment between a write and
    /// what follows it (a claim and the dialer's last look), for a test to act in.
    HoldAfterTransaction(Arc<Hold>),
}

/// The moment [`Faults::HoldAfterTransaction`] makes.
#[derive(Debug, Default)]
pub struct Hold {
    written: std::sync::atomic::AtomicBool,
    open: std::sync::atomic::AtomicBool,
    /// Notified when the transaction has been applied and the hold begins.
    pub reached: tokio::sync::Notify,
    released: tokio::sync::Notify,
}

impl Hold {
    /// Lets the held requests (and every later one) through.
    pub fn release(&self) {
        self.open.store(true, Ordering::SeqCst);
        self.released.notify_waiters();
    }

    async fn wait(&self) {
        while self.written.load(Ordering::SeqCst) && !self.open.load(Ordering::SeqCst) {
            let released = self.released.notified();
            if self.open.load(Ordering::SeqCst) {
                break;
            }
            let _ = tokio::time::timeout(std::time::Duration::from_millis(50), released).await;
        }
    }
}

/// The errors DynamoDB answers with, as (status, `__type`, message).
const RETRYABLE: [(u16, &str, &str); 3] = [
    (400, "com.amazon.coral.availability#ThrottlingException", "Rate of requests exceeds the allowed throughput."),
    (500, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error"),
    (
        400,
        "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded.",
    ),
];
const INTERNAL: (u16, &str, &str) = RETRYABLE[1];

struct Proxy {
    upstream: String,
    client: reqwest::Client,
    faults: Mutex<(Faults, StdRng)>,
    /// For `FailedOperations`: the fate of each invocation id seen.
    doomed: Mutex<HashMap<String, bool>>,
    forwarded: AtomicUsize,
    injected: AtomicUsize,
    lost: AtomicUsize,
    /// For `Conflicts`: the items of the transactions in flight.
    writing: Mutex<HashMap<(String, String), usize>>,
    conflicts: AtomicUsize,
    /// For `ThrottledTransactions`: the transactions seen (by their items).
    throttled: Mutex<std::collections::HashSet<String>>,
    /// When each batch request came, in order.
    batches: Mutex<Vec<std::time::Instant>>,
    /// Refuse what DynamoDB's limits refuse.
    strict: std::sync::atomic::AtomicBool,
    /// Requests refused for breaking DynamoDB's limits, with why.
    violations: Mutex<Vec<String>>,
}

/// The running proxy. Stops when the test's runtime does.
#[derive(Clone)]
pub struct FaultyDynamo {
    proxy: Arc<Proxy>,
    pub endpoint: String,
}

/// What the proxy has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultCounts {
    /// Requests that reached the engine.
    pub forwarded: usize,
    /// Requests answered with an error without reaching it.
    pub injected: usize,
    /// Writes applied whose answer was replaced by an error.
    pub lost: usize,
    /// Transactions cancelled for meeting another on an item.
    pub conflicts: usize,
}

fn error(status: u16, kind: &str, message: &str) -> Response {
    let body = serde_json::json!({ "__type": kind, "message": message }).to_string();
    let headers = [("content-type", "application/x-amz-json-1.0"), ("x-amzn-requestid", "injected-fault")];
    (StatusCode::from_u16(status).expect("a status"), headers, body).into_response()
}

/// The attempt number the SDK puts in `amz-sdk-request: attempt=N; max=M`.
fn attempt(headers: &HeaderMap) -> u32 {
    let value = headers.get("amz-sdk-request").and_then(|v| v.to_str().ok()).unwrap_or_default();
    value.split(';').find_map(|part| part.trim().strip_prefix("attempt=")?.parse().ok()).unwrap_or(1)
}

async fn forward(proxy: &Proxy, headers: &HeaderMap, body: Bytes) -> Result<Response, reqwest::Error> {
    let mut request = proxy.client.post(&proxy.upstream).body(body);
    for (name, value) in headers {
        if !matches!(name.as_str(), "host" | "content-length" | "connection" | "transfer-encoding") {
            request = request.header(name, value);
        }
    }
    let answer = request.send().await?;
    let status = answer.status();
    let content_type = answer.headers().get("content-type").cloned();
    let bytes = answer.bytes().await?;
    let mut response = (status, bytes).into_response();
    if let Some(content_type) = content_type {
        response.headers_mut().insert("content-type", content_type);
    }
    proxy.forwarded.fetch_add(1, Ordering::Relaxed);
    Ok(response)
}

/// The (PK, SK) of each action of a TransactWriteItems request.
fn transaction_items(body: &[u8]) -> Vec<(String, String)> {
    let request: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let actions = request["TransactItems"].as_array().cloned().unwrap_or_default();
    actions
        .iter()
        .filter_map(|action| {
            let action = action.as_object()?.values().next()?;
            let key = if action["Item"].is_object() { &action["Item"] } else { &action["Key"] };
            Some((key["PK"]["S"].as_str()?.to_string(), key["SK"]["S"].as_str()?.to_string()))
        })
        .collect()
}

/// DynamoDB's answer to a transaction that met others in progress.
fn conflict(items: &[(String, String)], busy: &HashMap<(String, String), usize>) -> Response {
    let reasons: Vec<serde_json::Value> = items
        .iter()
        .map(|item| match busy.contains_key(item) {
            true => serde_json::json!({ "Code": "TransactionConflict", "Message": "Transaction is ongoing for the item" }),
            false => serde_json::json!({ "Code": "None" }),
        })
        .collect();
    let codes: Vec<&str> = reasons.iter().map(|reason| reason["Code"].as_str().unwrap_or_default()).collect();
    let body = serde_json::json!({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "Message": format!("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", codes.join(", ")),
        "CancellationReasons": reasons,
    });
    (StatusCode::BAD_REQUEST, [("content-type", "application/x-amz-json-1.0")], body.to_string()).into_response()
}

/// DynamoDB's answer to a transaction it throttled.
fn throttled(items: usize) -> Response {
    let reasons: Vec<serde_json::Value> =
        (0..items).map(|_| serde_json::json!({ "Code": "ThrottlingError", "Message": "Throughput exceeds the current capacity for one or more global secondary indexes." })).collect();
    let body = serde_json::json!({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "Message": format!("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", vec!["ThrottlingError"; items].join(", ")),
        "CancellationReasons": reasons,
    });
    (StatusCode::BAD_REQUEST, [("content-type", "application/x-amz-json-1.0")], body.to_string()).into_response()
}

/// A batch request answered with all of its items unprocessed.
fn unprocessed(operation: &str, body: &[u8]) -> Response {
    let request: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let answer = match operation {
        "BatchWriteItem" => serde_json::json!({ "UnprocessedItems": request["RequestItems"] }),
        _ => serde_json::json!({ "Responses": {}, "UnprocessedKeys": request["RequestItems"] }),
    };
    (StatusCode::OK, [("content-type", "application/x-amz-json-1.0")], answer.to_string()).into_response()
}

/// The table's description, as still being created.
async fn creating(proxy: &Proxy, headers: &HeaderMap, body: Bytes) -> Response {
    let Ok(answer) = forward(proxy, headers, body).await else { return (StatusCode::BAD_GATEWAY, "upstream").into_response() };
    let bytes = axum::body::to_bytes(answer.into_body(), usize::MAX).await.unwrap_or_default();
    let mut description: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    description["Table"]["TableStatus"] = "CREATING".into();
    (StatusCode::OK, [("content-type", "application/x-amz-json-1.0")], description.to_string()).into_response()
}

/// A string attribute's size, as DynamoDB counts it (UTF-8 bytes).
fn string_size(value: &serde_json::Value) -> usize {
    value["S"].as_str().map_or(0, str::len)
}

/// The size DynamoDB gives an item: each attribute's name and value.
fn item_size(item: &serde_json::Map<String, serde_json::Value>) -> usize {
    fn value_size(value: &serde_json::Value) -> usize {
        match value.as_object().and_then(|typed| typed.iter().next()).map(|(kind, v)| (kind.as_str(), v)) {
            Some(("S" | "N" | "B", v)) => v.as_str().map_or(0, str::len),
            Some(("M", serde_json::Value::Object(map))) => 3 + map.iter().map(|(k, v)| k.len() + value_size(v)).sum::<usize>(),
            Some(("L", serde_json::Value::Array(list))) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
            _ => 1,
        }
    }
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

/// What DynamoDB refuses that the embedded engine takes: index key values
/// over its key limits (2,048 bytes for a partition key, 1,024 for a sort
/// key) on writes and in key conditions, items over 400 KB, and more than
/// 100 operands in an `IN`.
fn violation(operation: &str, body: &[u8]) -> Option<String> {
    let request: serde_json::Value = serde_json::from_slice(body).ok()?;
    let key_attributes = |name: &str| -> Option<usize> {
        match name {
            "PK" => Some(2048),
            "SK" => Some(1024),
            n if n.starts_with("by") && n.ends_with("Pk") => Some(2048),
            n if n.starts_with("by") && n.ends_with("Sk") => Some(1024),
            _ => None,
        }
    };
    let check_item = |item: &serde_json::Map<String, serde_json::Value>| -> Option<String> {
        for (name, value) in item {
            if let Some(limit) = key_attributes(name)
                && string_size(value) > limit
            {
                return Some(format!("One or more parameter values were invalid: key attribute {name} is {} bytes, over {limit}", string_size(value)));
            }
        }
        let size = item_size(item);
        (size > 400 * 1024).then(|| format!("Item size has exceeded the maximum allowed size ({size} bytes)"))
    };
    let mut items = Vec::new();
    match operation {
        "PutItem" => items.extend(request["Item"].as_object()),
        "TransactWriteItems" => {
            for action in request["TransactItems"].as_array().into_iter().flatten() {
                items.extend(action["Put"]["Item"].as_object());
            }
        }
        "BatchWriteItem" => {
            for requests in request["RequestItems"].as_object().into_iter().flat_map(|t| t.values()) {
                for write in requests.as_array().into_iter().flatten() {
                    items.extend(write["PutRequest"]["Item"].as_object());
                }
            }
        }
        _ => {}
    }
    for item in items {
        if let Some(why) = check_item(item) {
            return Some(why);
        }
    }
    if matches!(operation, "Query" | "Scan") {
        for value in request["ExpressionAttributeValues"].as_object().into_iter().flat_map(|v| v.values()) {
            if operation == "Query" && string_size(value) > 2048 && request["KeyConditionExpression"].is_string() {
                // A key condition value over the key limit can match nothing, and DynamoDB says so.
                let condition = request["KeyConditionExpression"].as_str().unwrap_or_default();
                let names: Vec<&str> = condition.split(|c: char| !(c.is_alphanumeric() || c == ':' || c == '_')).filter(|w| w.starts_with(':')).collect();
                if request["ExpressionAttributeValues"].as_object().is_some_and(|all| names.iter().any(|n| all.get(*n) == Some(value))) {
                    return Some("One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes".into());
                }
            }
        }
        let filter = request["FilterExpression"].as_str().unwrap_or_default();
        for part in filter.split(" IN (").skip(1) {
            let operands = part.split(')').next().unwrap_or_default().split(',').count();
            if operands > 100 {
                return Some(format!("Invalid FilterExpression: Too many operands for IN: {operands}; the maximum is 100"));
            }
        }
    }
    if matches!(operation, "GetItem" | "DeleteItem" | "UpdateItem") {
        for (name, value) in request["Key"].as_object().into_iter().flatten() {
            if let Some(limit) = key_attributes(name)
                && string_size(value) > limit
            {
                return Some(format!("One or more parameter values were invalid: key attribute {name} is over {limit} bytes"));
            }
        }
    }
    None
}

/// Forwards a transaction unless it meets one in flight on an item.
async fn transact_alone(proxy: &Proxy, headers: &HeaderMap, body: Bytes) -> Response {
    let items = transaction_items(&body);
    {
        let mut busy = proxy.writing.lock().unwrap();
        if items.iter().any(|item| busy.contains_key(item)) {
            proxy.conflicts.fetch_add(1, Ordering::Relaxed);
            return conflict(&items, &busy);
        }
        for item in &items {
            *busy.entry(item.clone()).or_default() += 1;
        }
    }
    let answer = forward(proxy, headers, body).await;
    let mut busy = proxy.writing.lock().unwrap();
    for item in &items {
        if let Some(count) = busy.get_mut(item) {
            *count -= 1;
            if *count == 0 {
                busy.remove(item);
            }
        }
    }
    answer.unwrap_or_else(upstream_failed)
}

/// The answer when the engine behind the proxy could not be reached.
fn upstream_failed(err: reqwest::Error) -> Response {
    (StatusCode::BAD_GATEWAY, err.to_string()).into_response()
}

async fn handle(State(proxy): State<Arc<Proxy>>, headers: HeaderMap, body: Bytes) -> Response {
    let operation = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).and_then(|t| t.rsplit('.').next()).unwrap_or_default().to_string();
    if proxy.strict.load(Ordering::Relaxed)
        && let Some(why) = violation(&operation, &body)
    {
        proxy.violations.lock().unwrap().push(format!("{operation}: {why}"));
        return error(400, "com.amazon.coral.validate#ValidationException", &why);
    }
    if matches!(operation.as_str(), "BatchWriteItem" | "BatchGetItem") {
        proxy.batches.lock().unwrap().push(std::time::Instant::now());
    }
    let special = {
        let mut guard = proxy.faults.lock().unwrap();
        match &mut guard.0 {
            Faults::ThrottledTransactions if operation == "TransactWriteItems" => {
                // The SDK gives each send a new ClientRequestToken: the items say which transaction it is.
                let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let first = proxy.throttled.lock().unwrap().insert(request["TransactItems"].to_string());
                first.then(|| throttled(request["TransactItems"].as_array().map_or(1, Vec::len)))
            }
            Faults::UnprocessedBatches(left) if *left > 0 && matches!(operation.as_str(), "BatchWriteItem" | "BatchGetItem") => {
                *left -= 1;
                Some(unprocessed(&operation, &body))
            }
            Faults::StaleIndexes(indexes) if operation == "Query" => {
                let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                request["IndexName"]
                    .as_str()
                    .is_some_and(|name| indexes.contains(&name))
                    .then(|| (StatusCode::OK, [("content-type", "application/x-amz-json-1.0")], r#"{"Items":[],"Count":0,"ScannedCount":0}"#).into_response())
            }
            Faults::TenantOutage(org) if String::from_utf8_lossy(&body).contains(&format!("ORG#{org}#")) => {
                proxy.injected.fetch_add(1, Ordering::Relaxed);
                Some(error(INTERNAL.0, INTERNAL.1, INTERNAL.2))
            }
            _ => None,
        }
    };
    if let Some(answer) = special {
        return answer;
    }
    let describing = {
        let mut guard = proxy.faults.lock().unwrap();
        match &mut guard.0 {
            Faults::CreatingTable(left) if *left > 0 && operation == "DescribeTable" => {
                *left -= 1;
                true
            }
            _ => false,
        }
    };
    if describing {
        return creating(&proxy, &headers, body).await;
    }
    let attempt = attempt(&headers);
    let (inject, lose, alone) = {
        let mut guard = proxy.faults.lock().unwrap();
        let (faults, rng) = &mut *guard;
        match faults {
            Faults::None
            | Faults::ThrottledTransactions
            | Faults::UnprocessedBatches(_)
            | Faults::StaleIndexes(_)
            | Faults::CreatingTable(_)
            | Faults::TenantOutage(_)
            | Faults::HoldAfterTransaction(_) => (None, false, false),
            Faults::FirstAttempts => ((attempt == 1).then(|| RETRYABLE[proxy.injected.load(Ordering::Relaxed) % RETRYABLE.len()]), false, false),
            Faults::Outage(operations) => (operations.contains(&operation.as_str()).then_some(INTERNAL), false, false),
            Faults::LostAnswers(operations) => (None, attempt == 1 && operations.contains(&operation.as_str()), false),
            Faults::Random { rate, .. } => {
                let rate = *rate;
                (rng.random_bool(rate).then(|| RETRYABLE[rng.random_range(0..RETRYABLE.len())]), false, false)
            }
            Faults::Conflicts => (None, false, operation == "TransactWriteItems"),
            Faults::FailedOperations { rate, .. } => {
                let invocation = headers.get("amz-sdk-invocation-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                let rate = *rate;
                let doomed = *proxy.doomed.lock().unwrap().entry(invocation).or_insert_with(|| rng.random_bool(rate));
                (doomed.then_some(INTERNAL), false, false)
            }
        }
    };
    if alone {
        return transact_alone(&proxy, &headers, body).await;
    }
    if let Some((status, kind, message)) = inject {
        proxy.injected.fetch_add(1, Ordering::Relaxed);
        return error(status, kind, message);
    }
    let hold = match &proxy.faults.lock().unwrap().0 {
        Faults::HoldAfterTransaction(hold) => Some(hold.clone()),
        _ => None,
    };
    if let Some(hold) = &hold {
        hold.wait().await;
    }
    let answer = forward(&proxy, &headers, body).await;
    if let (Some(hold), "TransactWriteItems", Ok(response)) = (&hold, operation.as_str(), &answer)
        && response.status().is_success()
        && !hold.written.swap(true, Ordering::SeqCst)
    {
        hold.reached.notify_one();
    }
    match answer {
        Ok(_) if lose => {
            proxy.lost.fetch_add(1, Ordering::Relaxed);
            error(INTERNAL.0, INTERNAL.1, INTERNAL.2)
        }
        Ok(response) => response,
        Err(err) => upstream_failed(err),
    }
}

impl FaultyDynamo {
    /// A proxy for the DynamoDB endpoint `upstream`, passing everything through until told otherwise.
    pub async fn start(upstream: &str) -> FaultyDynamo {
        let proxy = Arc::new(Proxy {
            upstream: upstream.to_string(),
            client: reqwest::Client::new(),
            faults: Mutex::new((Faults::None, StdRng::seed_from_u64(0))),
            doomed: Mutex::default(),
            forwarded: AtomicUsize::new(0),
            injected: AtomicUsize::new(0),
            lost: AtomicUsize::new(0),
            writing: Mutex::default(),
            conflicts: AtomicUsize::new(0),
            throttled: Mutex::default(),
            batches: Mutex::default(),
            strict: std::sync::atomic::AtomicBool::new(false),
            violations: Mutex::default(),
        });
        let app = Router::new().fallback(handle).with_state(proxy.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FaultyDynamo { proxy, endpoint }
    }

    /// From now on, `faults`.
    pub fn set(&self, faults: Faults) {
        let seed = match &faults {
            Faults::Random { seed, .. } | Faults::FailedOperations { seed, .. } => *seed,
            _ => 0,
        };
        *self.proxy.faults.lock().unwrap() = (faults, StdRng::seed_from_u64(seed));
    }

    /// From now on, refuse what DynamoDB's own limits refuse ([`violation`]).
    pub fn strict(&self) {
        self.proxy.strict.store(true, Ordering::Relaxed);
    }

    /// The requests refused for breaking DynamoDB's limits, with why.
    pub fn violations(&self) -> Vec<String> {
        self.proxy.violations.lock().unwrap().clone()
    }

    /// When each batch request seen so far came.
    pub fn batch_times(&self) -> Vec<std::time::Instant> {
        self.proxy.batches.lock().unwrap().clone()
    }

    /// How many transactions were cancelled for throttling.
    pub fn throttled(&self) -> usize {
        self.proxy.throttled.lock().unwrap().len()
    }

    pub fn counts(&self) -> FaultCounts {
        FaultCounts {
            forwarded: self.proxy.forwarded.load(Ordering::Relaxed),
            injected: self.proxy.injected.load(Ordering::Relaxed),
            lost: self.proxy.lost.load(Ordering::Relaxed),
            conflicts: self.proxy.conflicts.load(Ordering::Relaxed),
        }
    }
}

/// A local host whose every DynamoDB request goes through a proxy in front
/// of a fresh in-memory engine, dialing a fake Vapi, with the demo
/// practice; `configure` changes its options (the dial timings, say).
pub struct ProxiedHost {
    pub host: crate::TestHost,
    pub proxy: FaultyDynamo,
    pub fake: crate::fake_vapi::FakeVapi,
    pub engine: callops_aws::embedded::EmbeddedDynamo,
}

impl ProxiedHost {
    pub async fn start(strict: bool, configure: impl FnOnce(&mut callops::HostOptions)) -> ProxiedHost {
        let engine = callops_aws::embedded::EmbeddedDynamo::in_memory().await.expect("an in-memory engine");
        let proxy = FaultyDynamo::start(engine.endpoint()).await;
        if strict {
            proxy.strict();
        }
        let fake = crate::fake_vapi::FakeVapi::start().await;
        let mut options = callops::HostOptions {
            dynamodb_endpoint: Some(proxy.endpoint.clone()),
            vapi: callops::VapiBackend::Remote {
                base_url: fake.base.clone(),
                api_key: crate::fake_vapi::FAKE_VAPI_KEY.into(),
                public_key: Some(crate::fake_vapi::FAKE_VAPI_PUBLIC_KEY.into()),
            },
            ..crate::host_options(true, None)
        };
        configure(&mut options);
        let host = crate::TestHost::start_with(options).await;
        ProxiedHost { host, proxy, fake, engine }
    }
}
