//! The foundation: health, identity, recent calls with every field, paging,
//! bad parameters, tenant isolation, routes not built yet.

use std::collections::HashSet;

use callops_aws::CallQuery;
use callops_aws::store::CallQueryStore;
use callops_tests::{DEMO_TOKEN, OTHER_TOKEN, TestHost, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::Value;

fn calllog_fields() -> Vec<String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/calllog-fields.json")).unwrap();
    let groups: Value = serde_json::from_str(&text).unwrap();
    groups
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| *name != "comment")
        .flat_map(|(_, fields)| fields.as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()))
        .collect()
}

fn call_ids(body: &Value) -> Vec<String> {
    body["calls"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn health_answers_without_identity() {
    let host = TestHost::start(false).await;
    let (status, body) = host.get("/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn every_api_route_needs_an_identity() {
    let host = TestHost::start(false).await;
    for route in callops::gateway::routes().iter().filter(|r| r.authorized) {
        let (method, path) = route.key.split_once(' ').unwrap();
        let path = path.replace("{id}", "x").replace("{phoneNumber}", "%2B15550100");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        assert_error(&host.send(method.clone(), &path, None, None).await, StatusCode::UNAUTHORIZED, "unauthorized");
        assert_error(&host.send(method, &path, Some("not-a-token"), None).await, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    // Locally, it says where a token comes from.
    let (_, refused) = host.get("/api/analytics/calls", None).await;
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("Authorization: Bearer") && message.contains("callops dev") && message.contains("dev-token"), "{message}");
}

#[tokio::test]
async fn a_taken_port_says_how_to_pick_another() {
    let first = callops::listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let taken = first.local_addr().unwrap();
    let err = callops::listen(taken).await.expect_err("the port is taken");
    assert!(err.contains("the port is taken") && err.contains(&format!("--listen 127.0.0.1:{}", taken.port() + 1)), "{err}");
}

#[tokio::test]
async fn recent_calls_are_newest_first_with_every_field() {
    let host = TestHost::start(true).await;
    let (status, body) = host.get("/api/analytics/calls/recent", Some(DEMO_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let calls = body["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 20, "the default page is 20 calls");
    let fields = calllog_fields();
    for call in calls {
        for field in &fields {
            assert!(call.get(field).is_some(), "a recent call lacks {field}: {call}");
        }
        assert_eq!(call["orgId"], "demo");
    }
    let started: Vec<&str> = calls.iter().map(|c| c["callStartedAt"].as_str().unwrap()).collect();
    let mut sorted = started.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(started, sorted, "newest callStartedAt first");
    assert!(body["nextCursor"].is_string());

    // The single-call route returns the same call.
    let first = &calls[0];
    let (status, one) = host.get(&format!("/api/calls/{}", first["id"].as_str().unwrap()), Some(DEMO_TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&one, first);
}

#[tokio::test]
async fn cursor_and_offset_page_through_every_started_call_once() {
    let host = TestHost::start(true).await;
    let started = host.host.store().count_calls("demo", &CallQuery::ByOrg, Default::default()).await.unwrap() as usize;
    assert!(started > 250, "the demo has a few hundred calls, got {started}");

    let mut seen = Vec::new();
    let mut path = "/api/analytics/calls/recent?limit=100".to_string();
    loop {
        let (status, body) = host.get(&path, Some(DEMO_TOKEN)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        seen.extend(call_ids(&body));
        match body["nextCursor"].as_str() {
            Some(cursor) => path = format!("/api/analytics/calls/recent?limit=100&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), started);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), started, "no call twice");

    let (_, by_offset) = host.get("/api/analytics/calls/recent?limit=7&offset=30", Some(DEMO_TOKEN)).await;
    assert_eq!(call_ids(&by_offset), seen[30..37].to_vec());
}

#[tokio::test]
async fn bad_paging_parameters_are_refused_with_a_code() {
    let host = TestHost::start(true).await;
    let recent = "/api/analytics/calls/recent";
    for (query, code) in [
        ("limit=0", "invalid_limit"),
        ("limit=1000", "invalid_limit"),
        ("limit=ten", "invalid_limit"),
        ("offset=-1", "invalid_offset"),
        ("cursor=forged", "invalid_cursor"),
        ("cursor=eyJpIjoiYnlPcmciLCJwIjoiIiwiayI6IngifQ", "invalid_cursor"),
        ("offset=5&cursor=abc", "invalid_paging"),
    ] {
        assert_error(&host.get(&format!("{recent}?{query}"), Some(DEMO_TOKEN)).await, StatusCode::BAD_REQUEST, code);
    }
}

#[tokio::test]
async fn one_tenant_never_sees_another() {
    let host = TestHost::start(true).await;
    let (_, demo) = host.get("/api/analytics/calls/recent?limit=1", Some(DEMO_TOKEN)).await;
    let demo_call = call_ids(&demo).remove(0);

    let (status, other) = host.get("/api/analytics/calls/recent", Some(OTHER_TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(other["calls"].as_array().unwrap().is_empty());
    assert_error(&host.get(&format!("/api/calls/{demo_call}"), Some(OTHER_TOKEN)).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(&host.get("/api/analytics/calls/recent?agentId=billing", Some(OTHER_TOKEN)).await, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn the_agent_filter_keeps_one_agents_calls() {
    let host = TestHost::start(true).await;
    let (status, body) = host.get("/api/analytics/calls/recent?agentId=billing&limit=50", Some(DEMO_TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    let calls = body["calls"].as_array().unwrap();
    assert!(!calls.is_empty());
    assert!(calls.iter().all(|c| c["voiceAgentId"] == "billing"));
    assert_error(&host.get("/api/analytics/calls/recent?agentId=nobody", Some(DEMO_TOKEN)).await, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn unknown_routes_are_404() {
    let host = TestHost::start(false).await;
    assert_error(&host.get("/api/nothing-here", Some(DEMO_TOKEN)).await, StatusCode::NOT_FOUND, "no_route");
    assert_error(&host.send(Method::PUT, "/api/agents", Some(DEMO_TOKEN), None).await, StatusCode::NOT_FOUND, "no_route");
}

#[tokio::test]
async fn data_on_disk_survives_a_restart_and_is_seeded_once() {
    let dir = std::env::temp_dir().join(format!("callops-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let options = || callops::HostOptions { data_dir: Some(dir.clone()), demo: true, ..Default::default() };

    let first = callops::Host::start(options()).await.unwrap();
    let before = first.store().count_calls("demo", &CallQuery::ByType(callops_domain::CallType::Inbound), Default::default()).await.unwrap();
    assert!(before > 0);
    drop(first);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let second = callops::Host::start(options()).await.unwrap();
    let after = second.store().count_calls("demo", &CallQuery::ByType(callops_domain::CallType::Inbound), Default::default()).await.unwrap();
    assert_eq!(after, before, "the restart kept the data and did not seed it again");
    drop(second);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_api_reference_is_a_page_people_read_at_docs() {
    let host = TestHost::start(false).await;
    let answer = host.request(Method::GET, "/docs", None).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let policy = answer.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"), "the dashboard's policy: {policy}");
    assert!(answer.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = answer.text().await.unwrap();
    for route in callops::gateway::routes() {
        let (method, path) = route.key.split_once(' ').unwrap();
        assert!(page.contains(&format!("<span class=\"method\">{method}</span> {path}</a>")), "{} is on the page", route.key);
    }
    assert!(page.contains("id=\"schema-CallLog\""), "the schemas follow the routes");
}
