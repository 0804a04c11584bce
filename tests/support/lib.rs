//! What the behaviour tests share: a local host on a free port, in memory,
//! and a small client for its HTTP API.

pub mod browser;
pub mod fake_idp;
pub mod fake_vapi;
pub mod faults;
pub mod lambda_rig;
pub mod load;
pub mod postgres;
pub mod process;

use std::collections::HashMap;

use callops::{Host, HostOptions};
use callops_aws::store::ConsentStore;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The demo tenant's token, as the README's quickstart gives it.
pub const DEMO_TOKEN: &str = "dev-token";
/// A second tenant, for isolation checks.
pub const OTHER_TOKEN: &str = "globex-token";
/// A token of the demo practice's front desk: no role claim, so `staff`.
pub const DEMO_STAFF_TOKEN: &str = "demo-staff-token";
/// A token of someone who may see the demo practice's figures, never its patients' words.
pub const DEMO_VIEWER_TOKEN: &str = "demo-viewer-token";
pub const OTHER_ORG: &str = "globex";

/// The demo tenant's Vapi secret, and another tenant's.
pub const DEMO_VAPI_SECRET: &str = "dev-secret";
pub const OTHER_VAPI_SECRET: &str = "globex-vapi-secret";
/// The demo tenant's Twilio auth token.
pub const DEMO_TWILIO_TOKEN: &str = "dev-twilio-token";

fn vapi_credentials() -> Vec<callops_webhook::auth::Credential> {
    use callops_webhook::auth::Credential;
    vec![Credential { secret: DEMO_VAPI_SECRET.into(), org_id: "demo".into() }, Credential { secret: OTHER_VAPI_SECRET.into(), org_id: OTHER_ORG.into() }]
}

/// A running local host; stops when dropped.
pub struct TestHost {
    pub base: String,
    pub host: std::sync::Arc<Host>,
    client: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<()>,
}

/// The options every test host starts with: tokens for `demo` and `globex`,
/// and their Vapi secrets.
pub fn host_options(demo: bool, data_dir: Option<std::path::PathBuf>) -> HostOptions {
    let tokens = HashMap::from([
        (DEMO_TOKEN.to_string(), callops::DevToken::admin("demo")),
        (OTHER_TOKEN.to_string(), callops::DevToken::admin(OTHER_ORG)),
        (DEMO_STAFF_TOKEN.to_string(), callops::DevToken::with_role("demo", None)),
        (DEMO_VIEWER_TOKEN.to_string(), callops::DevToken::with_role("demo", Some(callops_domain::caller::Role::Viewer))),
    ]);
    let twilio_tokens = HashMap::from([("demo".to_string(), DEMO_TWILIO_TOKEN.to_string())]);
    HostOptions { data_dir, tokens, demo, vapi_credentials: vapi_credentials(), twilio_tokens, ..HostOptions::default() }
}

impl TestHost {
    /// A host in memory with the demo practice seeded (or not).
    pub async fn start(demo: bool) -> TestHost {
        Self::start_with(host_options(demo, None)).await
    }

    pub async fn start_with(options: HostOptions) -> TestHost {
        let host = std::sync::Arc::new(Host::start(options).await.expect("the host starts"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = host.clone();
        let serving = tokio::spawn(async move {
            serving
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .expect("the host serves");
        });
        TestHost { base, host, client: reqwest::Client::new(), stop, serving }
    }

    /// Stops serving and waits until the host (its scheduler, its engine) is gone.
    pub async fn stop(self) {
        let TestHost { host, stop, serving, .. } = self;
        let _ = stop.send(());
        let _ = serving.await;
        assert_eq!(std::sync::Arc::strong_count(&host), 1, "nothing else holds the host");
        drop(host);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    /// A request to the host, for tests that need headers or a raw body.
    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends a request; `token` None sends no Authorization header.
    pub async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> (StatusCode, Value) {
        let mut request = self.request(method, path, token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let (status, json, _) = read(request).await;
        (status, json)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.send(Method::GET, path, token, None).await
    }

    /// Keeps `demo`'s calls' content ten years, the longest a practice may:
    /// the Vapi fixtures' calls are from 2024, past the default two years,
    /// and content that comes for a call past its retention is not stored.
    pub async fn keep_content_ten_years(&self) {
        let retention = serde_json::json!({"retention": {"contentDays": callops_domain::settings::MAX_CONTENT_DAYS}});
        let (status, body) = self.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&retention)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Records, in `org`, the patient's written consent to every outbound
    /// call type for each of `numbers` (each must normalise): what every
    /// outbound call the tests place rests on.
    pub async fn consent(&self, org: &str, numbers: &[&str]) {
        consent(self.host.store(), org, numbers).await
    }
}

/// A host with the demo tenant whose Vapi is a [`fake_vapi::FakeVapi`]
/// (three posts an attempt, short backoff and timeout), and the fake.
pub async fn host_with_fake_vapi() -> (TestHost, fake_vapi::FakeVapi) {
    host_with_fake_vapi_dialing_at(None).await
}

/// [`host_with_fake_vapi`], its dialer's clock fixed at `at` when given (a
/// test that dials a callee whose hours it must not depend on the time it runs).
pub async fn host_with_fake_vapi_dialing_at(at: Option<chrono::DateTime<chrono::Utc>>) -> (TestHost, fake_vapi::FakeVapi) {
    let fake = fake_vapi::FakeVapi::start().await;
    let mut options = host_options(true, None);
    options.dial_at = at;
    options.vapi = callops::VapiBackend::Remote {
        base_url: fake.base.clone(),
        api_key: fake_vapi::FAKE_VAPI_KEY.into(),
        public_key: Some(fake_vapi::FAKE_VAPI_PUBLIC_KEY.into()),
    };
    (options.dial.max_posts, options.dial.backoff, options.dial.request_timeout) =
        (3, std::time::Duration::from_millis(50), std::time::Duration::from_millis(400));
    (TestHost::start_with(options).await, fake)
}

/// Vapi's end-of-call report (`message`, its other fields) for `demo`'s
/// placed call `call_id` (Vapi's `vapi_call_id`), delivered to the webhook.
pub async fn report_end(host: &TestHost, call_id: &str, vapi_call_id: &str, message: Value) {
    let mut message = message;
    message["type"] = serde_json::json!("end-of-call-report");
    message["call"] = serde_json::json!({"id": vapi_call_id, "type": "outboundPhoneCall", "phoneNumberId": "pn-front-desk-demo",
        "assistantOverrides": {"metadata": {"orgId": "demo", "callId": call_id, "attempt": 1}}});
    let response = host
        .client
        .post(format!("{}/webhooks/vapi", host.base))
        .header("x-vapi-secret", DEMO_VAPI_SECRET)
        .json(&serde_json::json!({"message": message}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// The subject the local host gives a token of the test hosts' (never the token itself).
pub fn subject_of(token: &str) -> String {
    let options = host_options(false, None);
    options.tokens[token].subject(token)
}

/// An audit entry of the tests' own, for the store writes that need one.
pub fn system_audit(org: &str, action: callops_domain::records::audit::Action, entity_id: &str) -> callops_domain::records::audit::AuditEntry {
    callops_domain::records::audit::AuditEntry::system(org, "test", action, entity_id, chrono::Utc::now())
}

/// [`TestHost::consent`], straight into a store.
pub async fn consent(store: &callops_aws::DynamoStore, org: &str, numbers: &[&str]) {
    let by = callops_domain::caller::Actor { sub: "test".into(), name: Some("Test".into()) };
    let now = chrono::Utc::now() - chrono::Duration::minutes(1);
    let consents: Vec<callops_domain::consent::Consent> = numbers
        .iter()
        .map(|number| {
            let input = callops_domain::consent::ConsentInput {
                phone_number: number.to_string(),
                basis: "prior_express_written".into(),
                source: "test intake form".into(),
                ..Default::default()
            };
            input.check(callops_domain::call::new_call_id().into_string(), org, by.clone(), now).expect("a number that normalises")
        })
        .collect();
    let audits: Vec<_> = consents.iter().map(|c| system_audit(org, callops_domain::records::audit::Action::ConsentRecorded, &c.id)).collect();
    for outcome in store.record_consents(&consents, &audits).await.expect("consents are stored") {
        outcome.expect("each consent is recorded");
    }
}

/// Sends a request and reads its status, JSON body and headers.
/// The most any answer in the tests may weigh as the JSON a Lambda answers
/// in (its body escaped): 5 MB, under Lambda's 6 MB with room for the rest.
pub const MAX_TEST_ANSWER_BYTES: usize = callops_domain::records::export::MAX_ANSWER_BYTES;

pub async fn read(request: reqwest::RequestBuilder) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let response = request.send().await.expect("the host answers");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("a body");
    let weight = callops_domain::records::export::json_escaped_len(&text);
    assert!(weight <= MAX_TEST_ANSWER_BYTES, "an answer weighs {weight} bytes as Lambda's JSON, over {MAX_TEST_ANSWER_BYTES}");
    let json = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, json, headers)
}

/// Asserts a JSON error response with the given status and code.
#[track_caller]
pub fn assert_error(response: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(response.0, status, "{}", response.1);
    assert_eq!(response.1["error"]["code"], code, "{}", response.1);
    assert!(response.1["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", response.1);
}

/// A Vapi message from `tests/fixtures/vapi/NAME.json`, for this call.
pub fn vapi_fixture(name: &str, call_id: &str, vapi_id: &str) -> String {
    let path = format!("{}/fixtures/vapi/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap().replace("{{CALL_ID}}", call_id).replace("{{VAPI_ID}}", vapi_id).replace("{{SIGNATURE}}", "0f1e2d3c")
}

/// A number ending in `last4` whose callee is in their morning now (09:00
/// to 13:00 local), so that a call to it is inside every calling-hours rule
/// now and for some hours more, whatever the time of day the tests run at.
/// The prefix is chosen once per test run, so numbers stay comparable.
pub fn callable(last4: u16) -> String {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let prefix = PREFIX.get_or_init(|| {
        let number = callops::demo::number_in_its_morning(0, chrono::Utc::now()).expect("some zone is in its morning");
        number[..number.len() - 4].to_string()
    });
    format!("{prefix}{:04}", last4 % 10_000)
}

/// A call for `demo` due now, its first attempt waiting to be dialed.
pub fn due_call(agent: &str, number: &str) -> callops_domain::CallLog {
    use callops_domain::{CallLog, CallStatus, CallType, NewCall, call::new_call_id, time};
    let now = chrono::Utc::now();
    let mut call = CallLog::new(
        NewCall {
            org_id: "demo".into(),
            voice_agent_id: agent.into(),
            phone_number: number.into(),
            call_type: CallType::OutboundLead,
            status: CallStatus::Scheduled,
            attempt: 1,
        },
        new_call_id(),
        now,
    );
    call.scheduled_at = Some(time::to_millis(now));
    call
}

/// A call CallOps scheduled and dialed for `demo`, waiting for Vapi's messages.
pub fn dialed_call(id: &str) -> callops_domain::CallLog {
    use callops_domain::{CallLog, CallStatus, CallType, NewCall, time};
    let mut call = CallLog::new(
        NewCall {
            org_id: "demo".into(),
            voice_agent_id: "front-desk".into(),
            phone_number: "+12025550142".into(),
            call_type: CallType::OutboundLead,
            status: CallStatus::Dialing,
            attempt: 1,
        },
        id.into(),
        time::parse("2024-07-27T21:00:00Z").unwrap(),
    );
    call.scheduled_at = time::parse("2024-07-27T21:23:00Z");
    call.customer_name = Some("Maria Gonzalez".into());
    call
}
