//! Hostile input, class by class, through the local host, whose DynamoDB
//! requests go through a proxy that refuses what DynamoDB's own limits
//! refuse and the embedded engine lets through (key sizes, item size, `IN`
//! operands): times at the ends of every calendar, numbers beyond every
//! bound, ids too long for a key, text too long for an item, keys and
//! cursors that are not what they claim, secrets of someone else, reports
//! that try to rewrite history. Each refusal is a clear 4xx with its code
//! and leaves every item in the table as it was; what Vapi sends out of
//! bounds is ignored and the rest applied; each test ends with the host
//! still serving.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use callops_aws::store::{AgentStore, CallQueryStore, CallStore, CampaignStore, DoNotCallStore, RollupCheckStore};
use callops_aws::{CallQuery, DynamoStore, PageRequest, embedded::EmbeddedDynamo};
use callops_domain::{CallLog, CallOutcome, CallStatus, limits, time};
use callops_tests::{
    DEMO_TOKEN, DEMO_VAPI_SECRET, OTHER_TOKEN, TestHost, assert_error, callable,
    fake_vapi::FakeVapi,
    faults::{Faults, FaultyDynamo, ProxiedHost},
    host_options, read, vapi_fixture,
};
use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

type Item = std::collections::HashMap<String, AttributeValue>;

/// The local host over a strict proxy, with a fake Vapi, and the engine behind them.
struct Hostile {
    host: TestHost,
    proxy: FaultyDynamo,
    engine: EmbeddedDynamo,
    fake: FakeVapi,
}

impl Hostile {
    /// The demo practice, with the patient's consent for the number the tests call most.
    async fn start() -> Hostile {
        let ProxiedHost { host, proxy, fake, engine } = ProxiedHost::start(true, |_| {}).await;
        host.consent("demo", &[&callable(142)]).await;
        host.keep_content_ten_years().await;
        Hostile { host, proxy, engine, fake }
    }

    /// The store past the proxy, for what a test sets up under faults.
    fn direct(&self) -> DynamoStore {
        DynamoStore::new(self.engine.client(), callops::TABLE)
    }

    fn store(&self) -> &DynamoStore {
        self.host.host.store()
    }

    /// Every item in the table, by key, read past the proxy.
    async fn table(&self) -> BTreeMap<(String, String), Item> {
        let mut items = BTreeMap::new();
        let mut start = None;
        loop {
            let page = self.engine.client().scan().table_name(callops::TABLE).set_exclusive_start_key(start).send().await.unwrap();
            for item in page.items.unwrap_or_default() {
                let key = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                items.insert((key("PK"), key("SK")), item);
            }
            match page.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return items,
            }
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        self.host.send(method, path, Some(DEMO_TOKEN), body).await
    }

    async fn webhook(&self, body: &Value) -> (StatusCode, Value) {
        let request = self.host.request(Method::POST, "/webhooks/vapi", None).header("x-vapi-secret", DEMO_VAPI_SECRET).json(body);
        let (status, body, _) = read(request).await;
        (status, body)
    }

    /// The host still answers, and no request broke one of DynamoDB's limits.
    async fn still_serves(&self) {
        assert_eq!(self.host.get("/healthz", None).await.0, StatusCode::OK);
        for path in ["/api/analytics/calls", "/api/analytics/calls/recent?limit=100", "/api/agents", "/api/campaigns", "/api/outbound/scheduled"] {
            let (status, body) = self.host.get(path, Some(DEMO_TOKEN)).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
        }
        assert_eq!(self.proxy.violations(), Vec::<String>::new(), "requests DynamoDB would have refused");
    }
}

fn schedule_body(at: &str) -> Value {
    json!({"phoneNumber": callable(142), "callType": "OUTBOUND_LEAD", "scheduledAt": at, "voiceAgentId": "front-desk"})
}

fn in_hours(hours: i64) -> String {
    (Utc::now() + Duration::hours(hours)).to_rfc3339()
}

#[tokio::test]
async fn times_at_the_ends_of_the_calendar_are_refused_with_the_routes_codes_and_panic_nothing() {
    let h = Hostile::start().await;
    let (status, waiting) = h.send(Method::POST, "/api/outbound/schedule", Some(&schedule_body(&in_hours(2)))).await;
    assert_eq!(status, StatusCode::CREATED, "{waiting}");
    let waiting_id = waiting["id"].as_str().unwrap().to_string();
    let before = h.table().await;
    let pending = h.host.host.scheduler().pending();

    let windows = [
        "startDate=2300-01-01",
        "endDate=%2B10000-01-01",
        "startDate=-0001-01-01",
        "startDate=262143-12-31&endDate=262143-12-31",
        "startDate=1999-12-31T23:59:59Z",
        "endDate=9999-12-31T23:59:59.999Z&startDate=9999-12-01",
    ];
    for route in ["/api/analytics/calls", "/api/analytics/calls/outcomes", "/api/analytics/calls/daily", "/api/analytics/costs", "/api/analytics/calls/recent"]
    {
        for window in windows {
            let (status, body) = h.send(Method::GET, &format!("{route}?{window}"), None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{route}?{window}: {body}");
            let code = body["error"]["code"].as_str().unwrap_or_default();
            assert!(matches!(code, "invalid_start_date" | "invalid_end_date"), "{route}?{window}: {body}");
        }
        // Samoa skipped 2011-12-30 whole: a window over it is read, not panicked on.
        let (status, body) = h.send(Method::GET, &format!("{route}?startDate=2011-12-29&endDate=2011-12-31&tz=Pacific/Apia"), None).await;
        assert_eq!(status, StatusCode::OK, "{route}: {body}");
    }
    for window in ["startDate=9999-01-01", "endDate=1970-01-01"] {
        let response = h.send(Method::GET, &format!("/api/outbound/scheduled?{window}"), None).await;
        assert_eq!(response.0, StatusCode::BAD_REQUEST, "{}", response.1);
    }

    for (at, code) in [
        ("9999-12-31T23:59:59Z", "invalid_scheduled_at"),
        ("0001-01-01T00:00:00Z", "invalid_scheduled_at"),
        ("2100-01-01T00:00:00Z", "invalid_scheduled_at"),
        (&(Utc::now() + Duration::days(366)).to_rfc3339(), "scheduled_too_far"),
        ("+275760-09-13T00:00:00Z", "invalid_scheduled_at"),
    ] {
        let mut request = schedule_body(at);
        request["moveToCallingHours"] = json!(true);
        assert_error(&h.send(Method::POST, "/api/outbound/schedule", Some(&request)).await, StatusCode::BAD_REQUEST, code);
        let change = json!({"scheduledAt": at, "moveToCallingHours": true});
        assert_error(&h.send(Method::PATCH, &format!("/api/outbound/scheduled/{waiting_id}"), Some(&change)).await, StatusCode::BAD_REQUEST, code);
    }

    let contacts: Vec<Value> = (0..10).map(|i| json!({"number": callable(1000 + i)})).collect();
    for (start, code) in [
        ("9999-12-31T00:00:00Z", "invalid_start_at"),
        ("1900-01-01T00:00:00Z", "invalid_start_at"),
        (&(Utc::now() + Duration::days(400)).to_rfc3339(), "start_too_far"),
    ] {
        let campaign = json!({"name": "Far", "voiceAgentId": "front-desk", "startAt": start, "contacts": contacts});
        assert_error(&h.send(Method::POST, "/api/campaigns", Some(&campaign)).await, StatusCode::BAD_REQUEST, code);
    }
    assert_eq!(h.table().await, before, "nothing stored changed");
    assert_eq!(h.host.host.scheduler().pending(), pending, "nothing was scheduled or moved");

    // The spread after the start is held to a year too: five minutes a day at one call a minute.
    let agent = json!({"id": "narrow", "name": "Narrow", "vapiAssistantId": "asst", "vapiPhoneNumberId": "pn", "timeZone": "UTC",
        "callingHours": {"start": "09:00", "end": "09:05"}});
    assert_eq!(h.send(Method::POST, "/api/agents", Some(&agent)).await.0, StatusCode::CREATED);
    let numbers: Vec<String> = (0..2_000).map(|i| format!("+1212{:07}", 5_550_000 + i)).collect();
    h.host.consent("demo", &numbers.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let before = h.table().await;
    let many: Vec<Value> = numbers.iter().map(|number| json!({"number": number})).collect();
    let start = (Utc::now() + Duration::days(60)).to_rfc3339();
    let campaign = json!({"name": "Too long", "voiceAgentId": "narrow", "startAt": start, "callsPerMinute": 1, "contacts": many});
    assert_error(&h.send(Method::POST, "/api/campaigns", Some(&campaign)).await, StatusCode::BAD_REQUEST, "campaign_too_long");
    assert_eq!(h.table().await, before, "nothing stored changed");
    h.still_serves().await;
}

/// An end-of-call report for call `id` with `change` applied to its message.
fn report(id: &str, vapi_id: &str, change: impl FnOnce(&mut Value)) -> Value {
    let mut body: Value = serde_json::from_str(&vapi_fixture("end-of-call-report-booked", id, vapi_id)).unwrap();
    change(&mut body["message"]);
    body
}

async fn dialed(h: &Hostile, id: &str) -> CallLog {
    let call = callops_tests::dialed_call(id);
    h.store().create_call(&call).await.unwrap();
    call
}

async fn stored(h: &Hostile, id: &str) -> CallLog {
    h.store().get_call("demo", id).await.unwrap().expect("the call exists").call
}

#[tokio::test]
async fn what_vapi_sends_out_of_bounds_is_ignored_and_the_rest_applied() {
    let h = Hostile::start().await;
    dialed(&h, "wild-1").await;
    let huge = "é".repeat(150_000);
    let body = report("wild-1", "vapi-wild-1", |m| {
        m["timestamp"] = json!(1e15);
        m["endedAt"] = json!("9999-12-31T23:59:59Z");
        m["durationMs"] = json!(1e20);
        m["cost"] = json!(1e17);
        m["durationSeconds"] = json!(1e12);
        m["endedReason"] = json!("customer-ended-call".repeat(1_000));
        m["artifact"]["recordingUrl"] = json!("javascript:alert(document.cookie)");
        m["artifact"]["transcript"] = json!(huge.clone());
        m["analysis"]["summary"] = json!(huge.clone());
        let data = &mut m["analysis"]["structuredData"];
        data["insuranceProvider"] = json!("Delta ".repeat(1_000));
        data["paymentPlanDiscussed"] = json!(true);
        data["paymentPlanAmountDollars"] = json!(1e300);
        data["collectionAttempted"] = json!(true);
        data["collectionSuccessful"] = json!(true);
        data["collectionAmountCents"] = json!(-5);
        data["followUpDate"] = json!("9999-12-31");
        data["aiConfidence"] = json!(1e-200);
        data["notes"] = json!("n".repeat(100_000));
    });
    assert!(body.to_string().len() < 1024 * 1024, "under the webhook's body limit");
    let (status, answer) = h.webhook(&body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let call = stored(&h, "wild-1").await;
    assert_eq!(call.status, CallStatus::Completed, "the rest of the report is applied");
    assert_eq!(call.outcome, Some(CallOutcome::Booked));
    assert_eq!((call.cost_cents, call.duration, call.recording_url.as_deref()), (None, None, None), "absurd values are not believed");
    assert_eq!((call.payment_plan_amount, call.collection_amount, call.follow_up_date), (None, None, None));
    assert_eq!(call.ai_confidence, None, "1e-200 is a number DynamoDB cannot hold");
    assert_eq!((call.call_started_at, call.call_ended_at), (time::parse("2024-07-27T21:23:38.017Z"), None), "a time out of range is not believed");
    assert_eq!(call.transcript.as_ref().map(String::len), Some(limits::MAX_TRANSCRIPT_BYTES));
    assert_eq!(call.summary.as_ref().map(String::len), Some(limits::MAX_SUMMARY_BYTES));
    assert!(call.ended_reason.as_ref().is_some_and(|r| r.len() <= limits::MAX_ENDED_REASON_BYTES));
    assert!(call.insurance_provider.as_ref().is_some_and(|p| p.len() <= limits::MAX_SHORT_TEXT_BYTES));
    assert!(call.transcript_truncated);
    for field in ["callNotes", "endedReason", "insuranceProvider", "summary", "transcript"] {
        assert!(call.truncated_fields.iter().any(|f| f == field), "{field} not flagged: {:?}", call.truncated_fields);
    }
    assert!(call.check_storable().is_ok());

    // The rollups counted the call once, with no cost and no absurd money.
    let (_, stats) = h.send(Method::GET, "/api/analytics/calls?startDate=2024-07-27&endDate=2024-07-27", None).await;
    assert_eq!(stats["totalCalls"], 1, "{stats}");
    assert_eq!(stats["cost"]["totalCents"], 0, "{stats}");
    assert_eq!(stats["paymentPlans"]["totalAmountCents"], 0, "{stats}");
    let report = h.store().verify_rollups().await.unwrap();
    assert!(report.is_clean(), "{report:?}");
    h.still_serves().await;
}

#[tokio::test]
async fn an_unreadable_item_takes_down_only_itself() {
    let h = Hostile::start().await;
    // What an earlier version could write: a call from the year 10000, an agent and a campaign that do not parse.
    let poison = |pk: &str, sk: &str, fields: &[(&str, AttributeValue)]| {
        let mut item: Item = [("PK", pk), ("SK", sk)].iter().map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string()))).collect();
        item.extend(fields.iter().map(|(k, v)| (k.to_string(), v.clone())));
        item
    };
    let s = |v: &str| AttributeValue::S(v.into());
    let call = poison(
        "ORG#demo#CALL#poisoned",
        "CALL",
        &[
            ("kind", s("call")),
            ("id", s("poisoned")),
            ("orgId", s("demo")),
            ("callStartedAt", s("+10000-01-01T00:00:00.000Z")),
            ("byOrgPk", s("ORG#demo")),
            ("byOrgSk", s(&format!("{}#poisoned", time::format(&Utc::now())))),
        ],
    );
    let agent = poison("ORG#demo#AGENTS", "AGENT#broken", &[("kind", s("agent")), ("id", s("broken")), ("timeZone", s("Mars/Olympus"))]);
    let campaign = poison("ORG#demo#CAMPAIGNS", "CAMPAIGN#broken", &[("kind", s("campaign")), ("id", s("broken")), ("status", s("EXPLODED"))]);
    for item in [call, agent, campaign] {
        h.engine.client().put_item().table_name(callops::TABLE).set_item(Some(item)).send().await.unwrap();
    }

    let (status, recent) = h.send(Method::GET, "/api/analytics/calls/recent?limit=100", None).await;
    assert_eq!(status, StatusCode::OK, "{recent}");
    assert!(recent["calls"].as_array().unwrap().iter().all(|c| c["id"] != "poisoned"));
    let (_, agents) = h.send(Method::GET, "/api/agents", None).await;
    assert_eq!(agents["agents"].as_array().unwrap().len(), 2, "the two demo agents, the broken one left out: {agents}");
    let (_, campaigns) = h.send(Method::GET, "/api/campaigns", None).await;
    assert!(campaigns["campaigns"].as_array().unwrap().iter().all(|c| c["id"] != "broken"));
    assert_eq!(h.send(Method::GET, "/api/calls/poisoned", None).await.0, StatusCode::INTERNAL_SERVER_ERROR, "only the item itself cannot be shown");
    let report = h.store().verify_rollups().await.unwrap();
    assert_eq!(report.unreadable.len(), 1, "{report:?}");
    assert_eq!(report.unreadable[0].pk, "ORG#demo#CALL#poisoned");
    assert!(!report.is_clean());

    // The reconciler goes on past a tenant it cannot read to the next one.
    h.proxy.set(Faults::TenantOutage("demo".into()));
    let mut stuck = callops_tests::dialed_call("globex-stuck");
    stuck.org_id = "globex".into();
    stuck.voice_agent_id = "globex-agent".into();
    stuck.updated_at = time::to_millis(Utc::now() - Duration::hours(1));
    let agent = callops_domain::VoiceAgent { id: "globex-agent".into(), org_id: "globex".into(), ..callops::demo::demo_agents("globex", Utc::now()).remove(0) };
    h.store()
        .put_agent(&agent, true, &callops_tests::system_audit(&agent.org_id, callops_domain::records::audit::Action::AgentCreated, &agent.id))
        .await
        .unwrap();
    h.store().create_call(&stuck).await.unwrap();
    let settings = callops_dialer::reconcile::ReconcileSettings::default();
    let done = h.host.host.dialer().reconcile(&h.host.host.calls(), &settings, Utc::now()).await.unwrap();
    assert!(done.tenants_failed >= 1, "{done:?}");
    assert_eq!(done.requeued, 1, "globex's stuck claim was handled after demo failed: {done:?}");
    h.proxy.set(Faults::None);
    h.still_serves().await;
}

#[tokio::test]
async fn the_local_host_starts_over_data_with_an_unreadable_item() {
    let dir = tempfile::tempdir().unwrap();
    let host = TestHost::start_with(host_options(true, Some(dir.path().to_path_buf()))).await;
    let client = callops_aws::embedded::client_for_endpoint(host.host.dynamodb_endpoint());
    let item: Item =
        [("PK", "ORG#demo#CALL#poisoned"), ("SK", "CALL"), ("kind", "call"), ("status", "SCHEDULED"), ("scheduledAt", "not a time"), ("attempt", "one")]
            .iter()
            .map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string())))
            .collect();
    client.put_item().table_name(callops::TABLE).set_item(Some(item)).send().await.unwrap();
    host.stop().await;
    let again = TestHost::start_with(host_options(true, Some(dir.path().to_path_buf()))).await;
    assert_eq!(again.get("/api/analytics/calls/recent", Some(DEMO_TOKEN)).await.0, StatusCode::OK);
    again.stop().await;
}

#[tokio::test]
async fn ids_too_long_for_a_key_are_404_or_400_never_500() {
    let h = Hostile::start().await;
    let long = "x".repeat(3_000);
    let before = h.table().await;
    for (method, path, body) in [
        (Method::GET, format!("/api/calls/{long}"), None),
        (Method::PATCH, format!("/api/outbound/scheduled/{long}"), Some(json!({"purpose": "p"}))),
        (Method::DELETE, format!("/api/outbound/scheduled/{long}"), None),
        (Method::GET, format!("/api/agents/{long}"), None),
        (Method::PATCH, format!("/api/agents/{long}"), Some(json!({"name": "n"}))),
        (Method::GET, format!("/api/campaigns/{long}"), None),
        (Method::DELETE, format!("/api/campaigns/{long}"), None),
        (Method::GET, format!("/api/analytics/calls?agentId={long}"), None),
        (Method::GET, format!("/api/analytics/calls/recent?agentId={long}"), None),
    ] {
        let response = h.send(method.clone(), &path, body.as_ref()).await;
        assert_error(&response, StatusCode::NOT_FOUND, "not_found");
    }
    assert_error(&h.send(Method::GET, &format!("/api/outbound/scheduled?campaignId={long}"), None).await, StatusCode::BAD_REQUEST, "invalid_campaign_id");
    let mut body = schedule_body(&in_hours(2));
    body["campaignId"] = json!(long);
    assert_error(&h.send(Method::POST, "/api/outbound/schedule", Some(&body)).await, StatusCode::BAD_REQUEST, "unknown_campaign");
    body["campaignId"] = Value::Null;
    body["voiceAgentId"] = json!(long);
    assert_error(&h.send(Method::POST, "/api/outbound/schedule", Some(&body)).await, StatusCode::BAD_REQUEST, "unknown_agent");
    assert_error(&h.send(Method::DELETE, &format!("/api/dnc/{long}"), None).await, StatusCode::BAD_REQUEST, "invalid_phone_number");

    // A Vapi call id or our call id too long for a key is ignored, and the message records nothing it cannot key.
    let (status, _) = h.webhook(&report(&long, &long, |_| {})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.table().await, before, "nothing stored changed");
    h.still_serves().await;
}

#[tokio::test]
async fn an_idempotency_key_that_is_not_visible_ascii_is_refused_never_dropped() {
    let h = Hostile::start().await;
    let before = h.table().await;
    let body = schedule_body(&in_hours(3));
    let keys: [&[u8]; 5] = [b"caf\xc3\xa9-key", b"two words", &[b'k'; 256], b"tab\there", b"\x80\x81"];
    for key in keys {
        let value = reqwest::header::HeaderValue::from_bytes(key).unwrap();
        let request = h.host.request(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN)).header("idempotency-key", value).json(&body);
        let (status, answer, _) = read(request).await;
        assert_error(&(status, answer), StatusCode::BAD_REQUEST, "invalid_idempotency_key");
    }
    let twice =
        h.host.request(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN)).header("idempotency-key", "a").header("idempotency-key", "b").json(&body);
    let (status, answer, _) = read(twice).await;
    assert_error(&(status, answer), StatusCode::BAD_REQUEST, "invalid_idempotency_key");
    let campaign = json!({"name": "C", "voiceAgentId": "front-desk", "contacts": [{"number": "+12125550100"}]});
    let request = h
        .host
        .request(Method::POST, "/api/campaigns", Some(DEMO_TOKEN))
        .header("idempotency-key", reqwest::header::HeaderValue::from_bytes(b"\xff").unwrap())
        .json(&campaign);
    let (status, answer, _) = read(request).await;
    assert_error(&(status, answer), StatusCode::BAD_REQUEST, "invalid_idempotency_key");
    assert_eq!(h.table().await, before, "nothing stored changed");

    // A good key still works, and a retry with it makes no second call.
    for replayed in [false, true] {
        let request = h.host.request(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN)).header("idempotency-key", "retry-1").json(&body);
        let (status, _, headers) = read(request).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(headers.contains_key("idempotent-replayed"), replayed);
    }
    h.still_serves().await;
}

#[tokio::test]
async fn a_tenant_names_only_its_own_secrets() {
    let h = Hostile::start().await;
    let before = h.table().await;
    let agent = |secret: &str| {
        json!({"id": "twilio", "name": "Twilio", "vapiAssistantId": "asst", "timeZone": "UTC", "callingHours": {"start": "00:00", "end": "24:00"},
            "twilioNumber": {"number": "+12125550100", "accountSid": "AC1", "authTokenSecret": secret}})
    };
    for foreign in [
        "env:VAPI_API_KEY",
        "env:AWS_SECRET_ACCESS_KEY",
        "env:CALLOPS_SECRET_globex_TWILIO",
        "arn:aws:secretsmanager:us-east-1:000000000000:secret:callops/globex/twilio",
        "arn:aws:secretsmanager:us-east-1:000000000000:secret:vapi-api-key",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:callops/demo/twilio",
        "the-token-itself",
    ] {
        assert_error(&h.send(Method::POST, "/api/agents", Some(&agent(foreign))).await, StatusCode::BAD_REQUEST, "invalid_twilio_number");
        let change = json!({"twilioNumber": {"number": "+12125550100", "accountSid": "AC1", "authTokenSecret": foreign}});
        assert_error(&h.send(Method::PATCH, "/api/agents/front-desk", Some(&change)).await, StatusCode::BAD_REQUEST, "invalid_twilio_number");
    }
    assert_eq!(h.table().await, before, "nothing stored changed");

    // An agent stored naming the operator's own secret (as an older version let it) dials nothing with it.
    // SAFETY: no other test reads or writes this variable.
    unsafe { std::env::set_var("CALLOPS_HOSTILE_OPERATOR_SECRET", "operator-only") };
    let mut planted = callops::demo::demo_agents("demo", Utc::now()).remove(0);
    planted.id = "planted".into();
    planted.vapi_phone_number_id = None;
    planted.twilio_number = Some(callops_domain::agent::TwilioNumber {
        number: "+12125550100".into(),
        account_sid: "AC-attacker".into(),
        auth_token_secret: "env:CALLOPS_HOSTILE_OPERATOR_SECRET".into(),
    });
    h.store()
        .put_agent(&planted, true, &callops_tests::system_audit(&planted.org_id, callops_domain::records::audit::Action::AgentCreated, &planted.id))
        .await
        .unwrap();
    let mut due = callops_tests::due_call("planted", &callable(142));
    due.voice_agent_id = "planted".into();
    h.store().create_call(&due).await.unwrap();
    let dialed = h.host.host.dialer().dial(callops_domain::placement::schedule::DialRequest::for_call(&due)).await.unwrap();
    assert!(matches!(dialed, callops_dialer::Dialed::Failed(_)), "{dialed:?}");
    assert!(h.fake.posts().iter().all(|post| !post.body.to_string().contains("operator-only")), "the secret never reached Vapi");
    assert_eq!(stored(&h, &due.id).await.status, CallStatus::Failed);
    h.still_serves().await;
}

#[tokio::test]
async fn vapi_cannot_rewrite_history() {
    let h = Hostile::start().await;
    // A call still waiting, and one cancelled before it was dialed: what Vapi says of them changes nothing.
    let (_, waiting) = h.send(Method::POST, "/api/outbound/schedule", Some(&schedule_body(&in_hours(4)))).await;
    let waiting = waiting["id"].as_str().unwrap().to_string();
    let (_, cancelled) = h.send(Method::POST, "/api/outbound/schedule", Some(&schedule_body(&in_hours(5)))).await;
    let cancelled = cancelled["id"].as_str().unwrap().to_string();
    assert_eq!(h.send(Method::DELETE, &format!("/api/outbound/scheduled/{cancelled}"), None).await.0, StatusCode::OK);
    let before = h.table().await;
    for id in [&waiting, &cancelled] {
        for name in ["status-update-in-progress", "status-update-ended", "end-of-call-report-booked"] {
            let body: Value = serde_json::from_str(&vapi_fixture(name, id, &format!("vapi-{id}"))).unwrap();
            assert_eq!(h.webhook(&body).await.0, StatusCode::OK);
        }
    }
    assert_eq!(h.table().await, before, "reports for calls never placed changed nothing");

    // The first report is recorded; a later, different one fills in only what is empty.
    dialed(&h, "history-1").await;
    let first = report("history-1", "vapi-history-1", |m| {
        m["artifact"]["transcript"] = Value::Null;
        m["transcript"] = Value::Null;
    });
    h.webhook(&first).await;
    let recorded = stored(&h, "history-1").await;
    assert_eq!((recorded.outcome, recorded.cost_cents), (Some(CallOutcome::Booked), Some(12)));
    assert!(recorded.reported_at.is_some() && recorded.transcript.is_none());
    let rewrite = report("history-1", "vapi-history-1", |m| {
        m["endedReason"] = json!("customer-busy");
        m["cost"] = json!(99.0);
        m["startedAt"] = json!("2024-07-28T10:00:00Z");
        m["endedAt"] = json!("2024-07-28T11:00:00Z");
        m["artifact"]["messages"] = json!([]);
        m["analysis"]["structuredData"] =
            json!({"outcome": "PAYMENT_PLAN", "paymentPlanDiscussed": true, "paymentPlanAmountCents": 500000, "insuranceVerified": false});
        m["artifact"]["transcript"] = json!("AI: the transcript that came late");
    });
    h.webhook(&rewrite).await;
    let after = stored(&h, "history-1").await;
    assert_eq!((after.status, after.outcome, after.cost_cents), (recorded.status, recorded.outcome, recorded.cost_cents), "outcome and cost stay");
    assert_eq!(
        (after.call_started_at, after.call_ended_at, after.duration),
        (recorded.call_started_at, recorded.call_ended_at, recorded.duration),
        "times stay"
    );
    assert_eq!(
        (after.payment_plan_discussed, after.payment_plan_amount, after.insurance_verified),
        (false, None, true),
        "money and flags stay, even empty money"
    );
    assert_eq!(after.transcript.as_deref(), Some("AI: the transcript that came late"), "what was empty is filled in");
    let revision = h.store().get_call("demo", "history-1").await.unwrap().unwrap().revision;
    h.webhook(&rewrite).await;
    assert_eq!(h.store().get_call("demo", "history-1").await.unwrap().unwrap().revision, revision, "a duplicate is a no-op");
    assert!(h.store().verify_rollups().await.unwrap().is_clean());
    h.still_serves().await;
}

#[tokio::test]
async fn a_do_not_call_request_from_a_call_is_kept_as_the_api_keeps_numbers_and_can_be_removed() {
    let h = Hostile::start().await;
    for (number, listed, path) in [("(212) 555-0199", "+12125550199", "%2B12125550199"), ("+1 000 000 0000", "+10000000000", "%2B1%20000%20000%200000")] {
        let vapi_id = format!("vapi-dnc-{listed}");
        let body = report("", &vapi_id, |m| {
            m["call"]["assistantOverrides"]["metadata"] = json!({});
            m["call"]["type"] = json!("inboundPhoneCall");
            m["customer"]["number"] = json!(number);
            m["call"]["customer"]["number"] = json!(number);
            m["analysis"]["structuredData"]["doNotCallRequested"] = json!(true);
        });
        assert_eq!(h.webhook(&body).await.0, StatusCode::OK);
        let (_, list) = h.send(Method::GET, "/api/dnc?limit=500", None).await;
        assert!(list["entries"].as_array().unwrap().iter().any(|e| e["phoneNumber"] == listed), "{number} listed as {listed}: {list}");
        assert!(h.store().is_on_do_not_call("demo", listed).await.unwrap());
        if listed == "+12125550199" {
            let mut body = schedule_body(&in_hours(2));
            body["phoneNumber"] = json!("212-555-0199");
            assert_error(&h.send(Method::POST, "/api/outbound/schedule", Some(&body)).await, StatusCode::CONFLICT, "on_do_not_call_list");
        }
        assert_eq!(h.send(Method::DELETE, &format!("/api/dnc/{path}?reason=cleanup"), None).await.0, StatusCode::NO_CONTENT, "{number} is removable");
        assert!(!h.store().is_on_do_not_call("demo", listed).await.unwrap());
    }
    h.still_serves().await;
}

#[tokio::test]
async fn every_api_answer_says_no_cache_may_keep_it() {
    let h = Hostile::start().await;
    for (token, path) in [
        (Some(DEMO_TOKEN), "/api/analytics/calls"),
        (Some(DEMO_TOKEN), "/api/analytics/calls/recent?limit=1"),
        (Some(DEMO_TOKEN), "/api/calls/nope"),
        (Some(DEMO_TOKEN), "/api/analytics/calls?startDate=yesterday"),
        (Some(OTHER_TOKEN), "/api/agents"),
        (None, "/api/agents"),
        (Some(DEMO_TOKEN), "/api/nowhere"),
    ] {
        let (status, _, headers) = read(h.host.request(Method::GET, path, token)).await;
        assert_eq!(headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"), "{path} ({status})");
    }
    let (_, _, headers) = read(h.host.request(Method::POST, "/api/dnc", Some(DEMO_TOKEN)).json(&json!({"phoneNumber": "+12125550123"}))).await;
    assert_eq!(headers["cache-control"], "no-store");
    h.still_serves().await;
}

#[tokio::test]
async fn a_cursor_continues_only_its_own_query_and_window() {
    let h = Hostile::start().await;
    let now = Utc::now();
    let start = (now - Duration::days(20)).format("%Y-%m-%d").to_string();
    let path = format!("/api/analytics/calls/recent?limit=3&startDate={start}&tz=America/New_York");
    let (_, first) = h.send(Method::GET, &path, None).await;
    let cursor = first["nextCursor"].as_str().expect("more than one page").to_string();
    // The same query later on (its window ends at "now", which has moved): the next page, from the first page's window.
    let (status, second) = h.send(Method::GET, &format!("{path}&cursor={cursor}"), None).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["calls"].as_array().unwrap().len(), 3);
    assert!(second["calls"][0]["callStartedAt"].as_str() <= first["calls"][2]["callStartedAt"].as_str(), "it goes on from the first page");
    let other_start = (now - Duration::days(10)).format("%Y-%m-%d").to_string();
    for other in [
        format!("/api/analytics/calls/recent?limit=3&startDate={other_start}&tz=America/New_York&cursor={cursor}"),
        format!("/api/analytics/calls/recent?limit=3&startDate={start}&cursor={cursor}"),
        format!("/api/analytics/calls/recent?limit=3&cursor={cursor}"),
        format!("/api/analytics/calls/recent?limit=3&startDate={start}&tz=America/New_York&agentId=billing&cursor={cursor}"),
        format!("/api/outbound/scheduled?cursor={cursor}"),
        format!("/api/dnc?cursor={cursor}"),
        format!("{path}&cursor=bm90LWEtY3Vyc29y"),
        format!("{path}&cursor={}", "A".repeat(5_000)),
    ] {
        assert_error(&h.send(Method::GET, &other, None).await, StatusCode::BAD_REQUEST, "invalid_cursor");
    }
    h.still_serves().await;
}

#[tokio::test]
async fn what_dynamodb_does_that_the_embedded_engine_does_not() {
    let h = Hostile::start().await;

    // Transactions DynamoDB cancels for throttling are tried again, like any throttling.
    h.proxy.set(Faults::ThrottledTransactions);
    for i in 0..3 {
        let id = format!("throttled-{i}");
        dialed(&h, &id).await;
        let body: Value = serde_json::from_str(&vapi_fixture("end-of-call-report-booked", &id, &format!("vapi-{id}"))).unwrap();
        assert_eq!(h.webhook(&body).await.0, StatusCode::OK);
        assert_eq!(stored(&h, &id).await.status, CallStatus::Completed);
    }
    assert!(h.proxy.throttled() >= 6, "every transaction was cancelled once: {}", h.proxy.throttled());

    // Batches whose items DynamoDB leaves unprocessed are sent again, after growing pauses.
    h.proxy.set(Faults::UnprocessedBatches(4));
    let before = h.proxy.batch_times().len();
    let numbers: Vec<String> = (0..150).map(|i| callable(2000 + i)).collect();
    callops_tests::consent(&h.direct(), "demo", &numbers.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let contacts: Vec<Value> = numbers.iter().map(|number| json!({"number": number})).collect();
    let request = json!({"name": "Replay", "voiceAgentId": "front-desk", "callsPerMinute": 10, "startAt": in_hours(2), "contacts": contacts});
    let create = || h.host.request(Method::POST, "/api/campaigns", Some(DEMO_TOKEN)).header("idempotency-key", "replay-1").json(&request);
    let (status, created, _) = read(create()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["accepted"], 150);
    let times = h.proxy.batch_times();
    let gaps: Vec<_> = times[before..].windows(2).map(|pair| pair[1] - pair[0]).take(4).collect();
    assert!(gaps.len() == 4 && gaps[3] > gaps[0] && gaps[0] >= std::time::Duration::from_millis(10), "pauses grow: {gaps:?}");

    // A repeated campaign request decides from the table, not an index that has not caught up: a call moved
    // since stays where it was moved, its schedule too, and none is written twice.
    h.proxy.set(Faults::StaleIndexes(vec!["byCampaign"]));
    let campaign_id = created["campaign"]["id"].as_str().unwrap().to_string();
    let calls = h.store().campaign_calls("demo", &campaign_id, None).await.unwrap();
    assert!(calls.is_empty(), "the proxy hides the index");
    h.proxy.set(Faults::None);
    let calls = h.store().campaign_calls("demo", &campaign_id, None).await.unwrap();
    let moved = &calls[0].call_id;
    let later = (Utc::now() + Duration::days(3)).to_rfc3339();
    assert_eq!(h.send(Method::PATCH, &format!("/api/outbound/scheduled/{moved}"), Some(&json!({"scheduledAt": later}))).await.0, StatusCode::OK);
    let moved_call = stored(&h, moved).await;
    let pending_before = h.host.host.scheduler().pending();
    h.proxy.set(Faults::StaleIndexes(vec!["byCampaign"]));
    let (status, again, headers) = read(create()).await;
    assert_eq!((status, headers.contains_key("idempotent-replayed")), (StatusCode::CREATED, true), "{again}");
    h.proxy.set(Faults::None);
    assert_eq!(stored(&h, moved).await, moved_call, "the moved call was not written again");
    assert_eq!(h.host.host.scheduler().pending(), pending_before, "no schedule was made or moved");
    assert_eq!(h.store().campaign_calls("demo", &campaign_id, None).await.unwrap().len(), 150);

    // A filter on more than 100 agents is split into INs DynamoDB takes.
    let mut agents: Vec<String> = (0..250).map(|i| format!("agent-{i}")).collect();
    agents.push("front-desk".into());
    let query = CallQuery::ByOrg;
    let page = h.store().query_calls("demo", &PageRequest { only_agents: Some(&agents), ..PageRequest::new(&query, 50) }).await.unwrap();
    assert!(!page.items.is_empty() && page.items.iter().all(|c| c.voice_agent_id == "front-desk"));

    // A table DynamoDB is still creating is waited for.
    let fresh = EmbeddedDynamo::in_memory().await.unwrap();
    let proxy = FaultyDynamo::start(fresh.endpoint()).await;
    proxy.set(Faults::CreatingTable(2));
    let clock = std::time::Instant::now();
    callops_aws::table::create_table(&callops_aws::embedded::client_for_endpoint(&proxy.endpoint), "waited").await.unwrap();
    assert!(clock.elapsed() >= std::time::Duration::from_millis(300), "it polled until ACTIVE: {:?}", clock.elapsed());
    h.still_serves().await;
}
