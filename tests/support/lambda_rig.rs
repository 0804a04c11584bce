//! The functions as Lambda starts them: a Lambda Runtime API emulator, an
//! embedded engine holding the demo practice, and one first request per
//! function (what its cold start answers). The cold-start benchmark times
//! the release binaries on it; the artifact check runs each shipped arm64
//! bootstrap on it once, under `qemu-aarch64`, to prove what AWS will run
//! answers.

use std::{
    path::Path,
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path as UrlPath, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::{get, post},
};
use callops::gateway::{self, Incoming};
use callops_aws::store::CallStore;
use callops_aws::{DynamoStore, embedded::EmbeddedDynamo, table};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// One pending invocation: the event, and where its answer goes.
#[derive(Default)]
struct Emulator {
    event: Option<Value>,
    answer: Option<oneshot::Sender<(bool, Bytes)>>,
}

type Shared = Arc<Mutex<Emulator>>;

/// `GET /2018-06-01/runtime/invocation/next`: the event once, then nothing
/// (the process is stopped before it would wait long).
async fn next(State(state): State<Shared>) -> impl IntoResponse {
    let event = state.lock().unwrap().event.take();
    match event {
        Some(event) => {
            let mut headers = HeaderMap::new();
            let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
            headers.insert("lambda-runtime-aws-request-id", "cold-start-1".parse().unwrap());
            headers.insert("lambda-runtime-deadline-ms", deadline.to_string().parse().unwrap());
            headers.insert("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:000000000000:function:callops".parse().unwrap());
            headers.insert("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000".parse().unwrap());
            (StatusCode::OK, headers, event.to_string()).into_response()
        }
        None => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

async fn respond(State(state): State<Shared>, UrlPath((_id, kind)): UrlPath<(String, String)>, body: Bytes) -> StatusCode {
    if let Some(answer) = state.lock().unwrap().answer.take() {
        let _ = answer.send((kind == "response", body));
    }
    StatusCode::ACCEPTED
}

async fn init_error(State(state): State<Shared>, body: Bytes) -> StatusCode {
    if let Some(answer) = state.lock().unwrap().answer.take() {
        let _ = answer.send((false, body));
    }
    StatusCode::ACCEPTED
}

/// An API Gateway HTTP API event, built by the local host's gateway exactly as it builds them.
fn http_event(method: &str, path: &str, query: &str, headers: &[(&str, &str)], body: &str, claims: Option<Value>) -> Value {
    let routes = gateway::routes();
    let (route, params) = gateway::find_route(&routes, method, path).expect("a route");
    let mut header_map = axum::http::HeaderMap::new();
    for (name, value) in headers {
        header_map.insert(axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
    }
    let incoming = Incoming { method, path, query, headers: &header_map, body: body.as_bytes(), source_ip: "127.0.0.1".into() };
    gateway::event(&incoming, route, &params, claims.as_ref())
}

/// One function: its binary's name, the first request it gets, its configuration.
pub struct Function {
    pub binary: &'static str,
    /// What the first request is, in words.
    pub request: &'static str,
    pub event: Value,
    pub env: Vec<(&'static str, String)>,
}

/// The emulator, the engine the functions read and every function's first request.
pub struct LambdaRig {
    pub functions: Vec<Function>,
    runtime_api: String,
    state: Shared,
    engine: EmbeddedDynamo,
}

impl LambdaRig {
    pub async fn start() -> LambdaRig {
        // The engine the functions read, with the demo practice in it.
        let engine = EmbeddedDynamo::in_memory().await.unwrap();
        table::create_table(&engine.client(), "callops").await.unwrap();
        let store = DynamoStore::new(engine.client(), "callops");
        callops::demo::seed(&store, "demo", chrono::Utc::now()).await.unwrap();
        // A call whose first attempt is waiting; the dialer is sent a late trigger for an earlier one.
        let now = chrono::Utc::now();
        let mut waiting = callops_domain::CallLog::new(
            callops_domain::NewCall {
                org_id: "demo".into(),
                voice_agent_id: "front-desk".into(),
                phone_number: "+12125550100".into(),
                call_type: callops_domain::CallType::OutboundFollowup,
                status: callops_domain::CallStatus::Scheduled,
                attempt: 2,
            },
            "cold-start-call".into(),
            now,
        );
        waiting.scheduled_at = Some(callops_domain::time::to_millis(now + chrono::Duration::hours(1)));
        store.create_call(&waiting).await.unwrap();

        let state: Shared = Arc::default();
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(respond))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let runtime_api = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let claims = json!({ "org_id": "demo", "sub": "cold-start" });
        let schedule_env = || {
            vec![
                ("CALLOPS_SCHEDULE_GROUP", "callops".to_string()),
                ("CALLOPS_DIALER_ARN", "arn:aws:lambda:us-east-1:000000000000:function:callops-dialer".to_string()),
                ("CALLOPS_SCHEDULER_ROLE_ARN", "arn:aws:iam::000000000000:role/callops-scheduler".to_string()),
                ("CALLOPS_DIALER_DLQ_ARN", "arn:aws:sqs:us-east-1:000000000000:callops-dlq".to_string()),
            ]
        };
        let vapi_env = || vec![("VAPI_BASE_URL", "http://127.0.0.1:9".to_string()), ("VAPI_API_KEY", "unused".to_string())];
        let functions = vec![
            Function {
                binary: "analytics",
                request: "GET /api/analytics/calls (reads the rollups)",
                event: http_event("GET", "/api/analytics/calls", "", &[], "", Some(claims.clone())),
                env: vec![],
            },
            Function {
                binary: "outbound",
                request: "GET /api/agents",
                event: http_event("GET", "/api/agents", "", &[], "", Some(claims.clone())),
                env: [vapi_env(), schedule_env()].concat(),
            },
            Function {
                binary: "webhook",
                request: "POST /webhooks/vapi (authenticated, ignored type)",
                event: http_event(
                    "POST",
                    "/webhooks/vapi",
                    "",
                    &[("x-vapi-secret", "cold-secret"), ("content-type", "application/json")],
                    r#"{"message":{"type":"speech-update","status":"started","role":"assistant"}}"#,
                    None,
                ),
                env: [vec![("CALLOPS_VAPI_CREDENTIALS", "cold-secret:demo".to_string())], vapi_env(), schedule_env()].concat(),
            },
            Function {
                binary: "dialer",
                request: "a late trigger for an attempt already handled (reads the call)",
                event: json!({ "orgId": "demo", "callId": "cold-start-call", "attempt": 1 }),
                env: [vapi_env(), schedule_env()].concat(),
            },
            Function {
                binary: "dashboard",
                request: "GET /",
                event: http_event("GET", "/", "", &[], "", None),
                env: vec![("DASHBOARD_OIDC_ISSUER", "https://idp.example.com".to_string()), ("DASHBOARD_OIDC_CLIENT_ID", "dashboard".to_string())],
            },
        ];
        LambdaRig { functions, runtime_api, state, engine }
    }

    /// Starts `program` (through `runner` when given: `qemu-aarch64` for an
    /// arm64 bootstrap) as Lambda starts `function`, hands it its first
    /// request, and waits up to `patience` for its answer: the time from the
    /// process's start to its answer, or what went wrong.
    pub async fn invoke_once(&self, function: &Function, program: &Path, runner: &[String], patience: Duration) -> Result<Duration, String> {
        let (tx, rx) = oneshot::channel();
        *self.state.lock().unwrap() = Emulator { event: Some(function.event.clone()), answer: Some(tx) };
        let mut command = match runner.split_first() {
            Some((first, rest)) => {
                let mut command = Command::new(first);
                command.args(rest).arg(program);
                command
            }
            None => Command::new(program),
        };
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &self.runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", format!("callops-{}", function.binary))
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "cold-start")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/callops")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "cold")
            .env("AWS_SECRET_ACCESS_KEY", "start")
            .env("AWS_ENDPOINT_URL_DYNAMODB", self.engine.endpoint())
            .env("CALLOPS_TABLE", "callops")
            .env("CALLOPS_AWS_ACCOUNT_ID", "000000000000")
            .env("CALLOPS_AWS_PARTITION", "aws")
            .env("CALLOPS_PSEUDONYM_KEY", "5e".repeat(32))
            .env("RUST_LOG", "warn")
            .envs(function.env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let started = Instant::now();
        let mut child = command.spawn().map_err(|e| format!("{} does not start: {e}", program.display()))?;
        let answer = tokio::time::timeout(patience, rx).await;
        let elapsed = started.elapsed();
        let _ = child.kill();
        let _ = child.wait();
        let (ok, body) =
            answer.map_err(|_| format!("{}: no answer within {patience:?}", function.binary))?.map_err(|_| "the emulator went away".to_string())?;
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if !ok {
            return Err(format!("{} answered with an error: {body}", function.binary));
        }
        if let Some(status) = body.get("statusCode")
            && status.as_u64().is_none_or(|s| s >= 300)
        {
            return Err(format!("{}: {body}", function.binary));
        }
        Ok(elapsed)
    }
}
