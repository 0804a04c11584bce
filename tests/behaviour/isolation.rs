//! Tenant isolation and auth, route by route: every `/api` route refuses a
//! caller without an identity (401), and one tenant cannot read, change or
//! cancel another's calls, agents, campaigns or do-not-call entries (404, as
//! if they did not exist, with nothing changed). Logs of every flow carry no patient content, phone number,
//! secret, token or API key in full.

use std::sync::{Arc, Mutex};

use callops_aws::store::{AgentStore, CallStore, CampaignStore, DoNotCallStore};
use callops_tests::{DEMO_TOKEN, DEMO_VAPI_SECRET, OTHER_TOKEN, TestHost, assert_error, callable};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A route's method and a concrete path for it.
fn concrete(key: &str) -> (Method, String) {
    let (method, path) = key.split_once(' ').unwrap();
    let path = path.replace("{id}", "spring-cleaning").replace("{phoneNumber}", "%2B12125550100").replace("{file}", "main.js");
    (method.parse().unwrap(), path)
}

#[tokio::test]
async fn every_api_route_needs_an_identity_and_only_the_webhook_and_the_page_go_without() {
    let host = TestHost::start(true).await;
    let before = host.host.store().all_calls().await.unwrap();
    let routes = callops::gateway::routes();
    let public: Vec<&str> = routes.iter().filter(|r| !r.authorized).map(|r| r.key).collect();
    // The webhook (its own credential), the page, its settings and files, and the API's reference, which holds no data.
    assert_eq!(public, ["POST /webhooks/vapi", "POST /webhooks/twilio/{orgId}/sms", "GET /", "GET /docs", "GET /config.json", "GET /assets/{file}"]);
    let guarded: Vec<_> = routes.iter().filter(|r| r.authorized).collect();
    assert!(guarded.iter().all(|r| r.key.split_once(' ').unwrap().1.starts_with("/api/")), "every guarded route is under /api");
    assert!(guarded.len() >= 20, "{} routes", guarded.len());
    for route in guarded {
        let (method, path) = concrete(route.key);
        for token in [None, Some("not-a-token"), Some("")] {
            let response = host.send(method.clone(), &path, token, Some(&json!({"phoneNumber": "+12125550100"}))).await;
            assert_error(&response, StatusCode::UNAUTHORIZED, "unauthorized");
        }
    }
    assert_eq!(host.host.store().all_calls().await.unwrap(), before, "nothing changed");
}

#[tokio::test]
async fn one_tenant_cannot_reach_anothers_calls_agents_campaigns_or_do_not_call_entries() {
    let host = TestHost::start(true).await;
    host.consent("demo", &[&callable(177)]).await;
    let (status, created) = host
        .send(
            Method::POST,
            "/api/outbound/schedule",
            Some(DEMO_TOKEN),
            Some(&json!({"phoneNumber": callable(177), "callType": "OUTBOUND_FOLLOWUP", "scheduledAt": (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339(), "voiceAgentId": "front-desk"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let call_id = created["id"].as_str().unwrap().to_string();
    assert_eq!(host.send(Method::POST, "/api/dnc", Some(DEMO_TOKEN), Some(&json!({"phoneNumber": "+12125550166"}))).await.0, StatusCode::CREATED);
    let snapshot = || async {
        let store = host.host.store();
        (
            store.all_calls().await.unwrap(),
            store.list_agents("demo").await.unwrap(),
            store.list_campaigns("demo").await.unwrap(),
            store.is_on_do_not_call("demo", "+12125550166").await.unwrap(),
        )
    };
    let before = snapshot().await;

    let other = Some(OTHER_TOKEN);
    let not_found: [(Method, String, Option<Value>); 12] = [
        (Method::GET, format!("/api/calls/{call_id}"), None),
        (Method::PATCH, format!("/api/outbound/scheduled/{call_id}"), Some(json!({"purpose": "taken over"}))),
        (Method::DELETE, format!("/api/outbound/scheduled/{call_id}"), None),
        (Method::GET, "/api/agents/front-desk".into(), None),
        (Method::PATCH, "/api/agents/front-desk".into(), Some(json!({"maxConcurrentCalls": 1}))),
        (Method::GET, "/api/campaigns/spring-cleaning".into(), None),
        (Method::DELETE, "/api/campaigns/spring-cleaning".into(), None),
        (Method::DELETE, "/api/dnc/%2B12125550166?reason=taken%20over".into(), None),
        (Method::GET, "/api/analytics/calls?agentId=front-desk".into(), None),
        (Method::GET, "/api/analytics/calls/outcomes?agentId=front-desk".into(), None),
        (Method::GET, "/api/analytics/calls/daily?agentId=front-desk".into(), None),
        (Method::GET, "/api/analytics/calls/recent?agentId=front-desk".into(), None),
    ];
    for (method, path, body) in not_found {
        let response = host.send(method.clone(), &path, other, body.as_ref()).await;
        assert_eq!(response.0, StatusCode::NOT_FOUND, "{method} {path}: {}", response.1);
    }
    // Lists and figures show the other tenant nothing of demo's.
    let number_calls = format!("/api/analytics/calls/recent?phoneNumber={}", callable(177).replace('+', "%2B"));
    let (_, ours) = host.get(&number_calls, Some(DEMO_TOKEN)).await;
    assert_eq!(ours["calls"].as_array().map(Vec::len), Some(1), "the tenant's own call to that number: {ours}");
    let empty_lists: [(&str, &str); 7] = [
        ("/api/agents", "agents"),
        ("/api/campaigns", "campaigns"),
        ("/api/dnc", "entries"),
        ("/api/dnc/%2B12125550166/history", "history"),
        (&number_calls, "calls"),
        ("/api/outbound/scheduled", "calls"),
        ("/api/analytics/calls/recent", "calls"),
    ];
    for (path, field) in empty_lists {
        let (status, body) = host.get(path, other).await;
        assert_eq!((status, body[field].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "{path}: {body}");
    }
    let (_, figures) = host.get("/api/analytics/calls", other).await;
    assert_eq!(figures["totalCalls"], 0);
    // Nor can it use demo's agent to call.
    let (_, refused) = host
        .send(
            Method::POST,
            "/api/outbound/schedule",
            other,
            Some(&json!({"phoneNumber": callable(178), "callType": "OUTBOUND_FOLLOWUP", "scheduledAt": (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339(), "voiceAgentId": "front-desk"})),
        )
        .await;
    assert_eq!(refused["error"]["code"], "unknown_agent");
    assert_eq!(snapshot().await, before, "nothing of demo's changed");
}

/// A `Write` into a shared buffer, for capturing logs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_of_every_flow_carry_no_patient_content_number_secret_or_token_in_full() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "info,callops=trace,callops_aws=trace,callops_http=trace,callops_outbound=trace,callops_dialer=trace,callops_webhook=trace,callops_analytics=trace",
        ))
        .with_writer(move || writer.clone())
        .finish();
    // The test's runtime is on this one thread: the host's tasks log here too.
    // Other tests run on other threads without a subscriber. With one
    // dispatcher registered, tracing works out a callsite's interest from the
    // default of whichever thread hits it first, so a log line another test
    // reached first would stay off here; with a second one registered it asks
    // every dispatcher, this one included.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let _guard = tracing::subscriber::set_default(subscriber);

    let host = TestHost::start(true).await;
    // A call scheduled two seconds ahead, dialed through the simulator and reported back, to a callee
    // in their morning (inside calling hours whatever the hour the test runs at). The simulator draws
    // each call's outcome from its id, and about one in six finds no one and keeps no transcript: a
    // call goes to the next number until one keeps the patient's words.
    let mut tried: Vec<String> = Vec::new();
    let mut words: Vec<String> = Vec::new();
    for attempt in 0..8u16 {
        let number = callable(187 + 100 * attempt);
        host.consent("demo", &[number.as_str()]).await;
        tried.push(number.clone());
        let (status, created) = host
            .send(
                Method::POST,
                "/api/outbound/schedule",
                Some(DEMO_TOKEN),
                Some(&json!({"phoneNumber": number, "callType": "OUTBOUND_LEAD", "scheduledAt": (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339(), "voiceAgentId": "front-desk", "customerName": "Ada Byron"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap().to_string();
        let mut finished = false;
        for _ in 0..300 {
            let (_, call) = host.get(&format!("/api/calls/{id}"), Some(DEMO_TOKEN)).await;
            if matches!(call["status"].as_str(), Some("COMPLETED" | "MISSED" | "VOICEMAIL" | "FAILED")) {
                finished = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(finished, "the simulator played the call out");
        // The patient's words, as the call kept them: none of them may reach a log.
        let (_, call) = host.get(&format!("/api/calls/{id}"), Some(DEMO_TOKEN)).await;
        for field in ["transcript", "summary"] {
            if let Some(text) = call[field].as_str() {
                words.extend(text.lines().map(str::trim).filter(|l| l.len() > 12).map(|l| l.chars().take(40).collect::<String>()));
            }
        }
        if !words.is_empty() {
            break;
        }
    }
    let number = tried.last().expect("a number was called").as_str();
    // Every other flow that touches patient data: consents, an opt-out, the patient's records, the audit log, retention.
    let (_, consent) = host
        .send(Method::POST, "/api/consents", Some(DEMO_TOKEN), Some(&json!({"phoneNumber": number, "basis": "prior_express", "source": "Ada's intake form"})))
        .await;
    let consent_path = format!("/api/consents/{}/revoke", consent["id"].as_str().unwrap());
    host.send(Method::POST, &consent_path, Some(DEMO_TOKEN), Some(&json!({"channel": "staff", "reason": "Ada asked"}))).await;
    host.send(Method::POST, "/api/dnc", Some(DEMO_TOKEN), Some(&json!({"phoneNumber": number, "channel": "letter", "reason": "Ada wrote in"}))).await;
    let patient = format!("/api/patients/{}", number.replace('+', "%2B"));
    for path in [patient.clone(), format!("{patient}/export?format=csv"), format!("{patient}/export?format=json"), "/api/audit?limit=50".to_string()] {
        assert_eq!(host.get(&path, Some(DEMO_TOKEN)).await.0, StatusCode::OK, "{path}");
    }
    host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&json!({"retention": {"contentDays": 1}}))).await;
    host.host.dialer().reconcile(&host.host.calls(), &Default::default(), chrono::Utc::now() + chrono::Duration::days(2)).await.unwrap();
    assert_eq!(host.send(Method::DELETE, &patient, Some(DEMO_TOKEN), None).await.0, StatusCode::OK);
    // A forged webhook and a refused schedule (a number on the do-not-call list).
    let forged = reqwest::Client::new()
        .post(format!("{}/webhooks/vapi", host.base))
        .header("x-vapi-secret", format!("{DEMO_VAPI_SECRET}-forged"))
        .body(r#"{"message":{"type":"status-update","status":"ended","call":{"id":"x","customer":{"number":"+12125550199"}}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    drop(_guard);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let masked = callops_domain::phone::mask(number);
    assert!(masked.ends_with("***87"), "{masked}");
    assert!(logs.contains("call scheduled") && logs.contains(&masked), "the logs were captured, numbers masked:\n{logs}");
    let api_key = host.host.simulator().expect("the simulator runs").api_key().to_string();
    assert!(!words.is_empty(), "the call kept a transcript to look for");
    for tried in &tried {
        assert!(!logs.contains(tried.as_str()) && !logs.contains(tried.trim_start_matches('+')), "{tried} is in the logs:\n{logs}");
    }
    for secret in ["+12125550199", DEMO_VAPI_SECRET, DEMO_TOKEN, "Ada Byron", "Ada's intake", "Ada asked", "Ada wrote", api_key.as_str()] {
        assert!(!logs.contains(secret), "{secret:?} is in the logs:\n{logs}");
    }
    for said in &words {
        assert!(!logs.contains(said.as_str()), "the patient's words {said:?} are in the logs:\n{logs}");
    }
    assert!(logs.contains("a patient's records were erased"), "the flows ran and logged:\n{logs}");
}

/// The local host mints every claim the deployed authorizer passes, so a
/// token narrowed to one agent is tried through the same route code: it
/// sees that agent's calls and agents only, cannot schedule for another,
/// and its name is on the record of what it did.
#[tokio::test]
async fn a_token_narrowed_to_an_agent_sees_and_acts_for_that_agent_only() {
    let mut options = callops_tests::host_options(true, None);
    for spec in ["billing-desk:demo:staff:agents=billing:name=Dana at Billing", "named-admin:demo:admin:name=Dr Ada Park:groups=owners,front"] {
        let (token, dev) = callops::DevToken::parse(spec).unwrap();
        options.tokens.insert(token, dev);
    }
    assert_eq!(options.tokens["billing-desk"].claims("billing-desk")["agent_ids"], "[billing]", "a list claim as API Gateway flattens it");
    assert_eq!(options.tokens["named-admin"].claims("named-admin")["cognito:groups"], "[owners front]");
    let named_admin = options.tokens["named-admin"].subject("named-admin");
    let host = TestHost::start_with(options).await;

    // A call waiting for a number on another agent's line: the narrowed token is refused the double, and told
    // when the call waits, but not which call it is.
    let number = callable(191);
    host.consent("demo", &[&number]).await;
    let at = callops_domain::time::format(&(chrono::Utc::now() + chrono::Duration::minutes(60)));
    let follow_up = |agent: &str| json!({"phoneNumber": number, "callType": "OUTBOUND_FOLLOWUP", "scheduledAt": at, "voiceAgentId": agent});
    let (status, waiting) = host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&follow_up("front-desk"))).await;
    assert_eq!(status, StatusCode::CREATED, "{waiting}");
    let double = host.send(Method::POST, "/api/outbound/schedule", Some("billing-desk"), Some(&follow_up("billing"))).await;
    assert_error(&double, StatusCode::CONFLICT, "duplicate_call");
    assert!(double.1["error"].get("existingCallId").is_none() && double.1["error"].get("existingCall").is_none(), "{}", double.1);
    assert_eq!(double.1["error"]["existingScheduledAt"], waiting["scheduledAt"]);
    assert!(!double.1.to_string().contains(waiting["id"].as_str().unwrap()), "{}", double.1);

    let (_, agents) = host.get("/api/agents", Some("billing-desk")).await;
    let ids: Vec<&str> = agents["agents"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["billing"]);
    assert_error(&host.get("/api/agents/front-desk", Some("billing-desk")).await, StatusCode::NOT_FOUND, "not_found");

    let (status, everyone) = host.get("/api/analytics/calls/recent?limit=100", Some(DEMO_TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    let agents_of =
        |page: &Value| page["calls"].as_array().unwrap().iter().map(|c| c["voiceAgentId"].as_str().unwrap_or_default().to_string()).collect::<Vec<_>>();
    assert!(agents_of(&everyone).iter().any(|a| a != "billing"), "the demo has calls of other agents");
    let (_, narrowed) = host.get("/api/analytics/calls/recent?limit=100", Some("billing-desk")).await;
    let narrowed = agents_of(&narrowed);
    assert!(!narrowed.is_empty() && narrowed.iter().all(|a| a == "billing"), "{narrowed:?}");

    let at = (chrono::Utc::now() + chrono::Duration::days(2)).format("%Y-%m-%dT15:00:00Z").to_string();
    let other =
        json!({"phoneNumber": "+12125550188", "callType": "OUTBOUND_FOLLOWUP", "scheduledAt": at, "voiceAgentId": "front-desk", "moveToCallingHours": true});
    // Another agent is, to this token, no agent at all.
    let calls_before = host.host.store().all_calls().await.unwrap().len();
    assert_error(&host.send(Method::POST, "/api/outbound/schedule", Some("billing-desk"), Some(&other)).await, StatusCode::BAD_REQUEST, "unknown_agent");
    assert_eq!(host.host.store().all_calls().await.unwrap().len(), calls_before, "nothing scheduled");

    let (status, _) = host.get("/api/patients/%2B12125550188", Some("named-admin")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, log) = host.get("/api/audit?limit=5", Some(DEMO_TOKEN)).await;
    let read = log["entries"].as_array().unwrap().iter().find(|e| e["actor"]["name"] == "Dr Ada Park").expect("the named admin's read is on the record");
    assert_eq!(read["actor"]["sub"], named_admin.as_str());
}
