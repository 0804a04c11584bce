//! Voice agents over `/api/agents`: create, list, read, update; every
//! refusal with a code and nothing stored; one tenant never sees another's.

use callops_tests::{DEMO_TOKEN, OTHER_TOKEN, TestHost, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn agent_ids(body: &Value) -> Vec<String> {
    let mut ids: Vec<String> = body["agents"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_string()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn agents_are_created_listed_and_updated() {
    let host = TestHost::start(true).await;
    let new = json!({
        "id": "recall", "name": "Recall reminders", "vapiAssistantId": "asst-recall",
        "vapiPhoneNumberId": "pn-recall", "timeZone": "America/Los_Angeles",
    });
    let (status, created) = host.send(Method::POST, "/api/agents", Some(DEMO_TOKEN), Some(&new)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["callingHours"], json!({"start": "08:00", "end": "21:00"}));
    assert_eq!(created["maxConcurrentCalls"], 10);
    assert_eq!(created["retryPolicy"], json!({"maxAttempts": 3, "delaysMinutes": [30, 120]}));

    let (_, list) = host.get("/api/agents", Some(DEMO_TOKEN)).await;
    assert_eq!(agent_ids(&list), vec!["billing", "front-desk", "recall"]);
    assert_eq!(host.get("/api/agents/recall", Some(DEMO_TOKEN)).await.1, created);

    let change = json!({"callingHours": {"start": "09:00", "end": "17:30"}, "maxConcurrentCalls": 4});
    let (status, updated) = host.send(Method::PATCH, "/api/agents/recall", Some(DEMO_TOKEN), Some(&change)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["callingHours"]["end"], "17:30");
    assert_eq!(updated["maxConcurrentCalls"], 4);
    assert_eq!(updated["name"], "Recall reminders");
    assert_eq!(host.get("/api/agents/recall", Some(DEMO_TOKEN)).await.1, updated);

    assert_error(&host.send(Method::POST, "/api/agents", Some(DEMO_TOKEN), Some(&new)).await, StatusCode::CONFLICT, "agent_exists");
}

#[tokio::test]
async fn bad_agents_are_refused_and_nothing_is_stored() {
    let host = TestHost::start(true).await;
    let (_, before) = host.get("/api/agents", Some(DEMO_TOKEN)).await;
    let base = json!({"name": "A", "vapiAssistantId": "asst", "vapiPhoneNumberId": "pn", "timeZone": "UTC"});
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    for (body, code) in [
        (with("timeZone", json!("Nowhere/Else")), "invalid_time_zone"),
        (with("callingHours", json!({"start": "22:00", "end": "06:00"})), "invalid_calling_hours"),
        (with("callingHours", json!({"start": "8am", "end": "9pm"})), "invalid_hours"),
        (with("callingHours", json!({"start": "09:00", "end": "25:00"})), "invalid_hours"),
        (with("maxConcurrentCalls", json!(500)), "invalid_max_concurrent_calls"),
        (with("retryPolicy", json!({"maxAttempts": 20, "delaysMinutes": [5]})), "invalid_retry_policy"),
        (with("id", json!("has spaces")), "invalid_agent_id"),
        (with("surprise", json!(true)), "invalid_body"),
        (json!({"name": "A", "vapiAssistantId": "asst", "timeZone": "UTC"}), "invalid_phone_number"),
    ] {
        assert_error(&host.send(Method::POST, "/api/agents", Some(DEMO_TOKEN), Some(&body)).await, StatusCode::BAD_REQUEST, code);
    }
    let bad_patch = json!({"maxConcurrentCalls": 0});
    assert_error(
        &host.send(Method::PATCH, "/api/agents/billing", Some(DEMO_TOKEN), Some(&bad_patch)).await,
        StatusCode::BAD_REQUEST,
        "invalid_max_concurrent_calls",
    );
    let (_, after) = host.get("/api/agents", Some(DEMO_TOKEN)).await;
    assert_eq!(after, before, "nothing stored or changed");
}

#[tokio::test]
async fn another_tenants_agents_do_not_exist() {
    let host = TestHost::start(true).await;
    let (_, theirs) = host.get("/api/agents", Some(OTHER_TOKEN)).await;
    assert!(agent_ids(&theirs).is_empty());
    assert_error(&host.get("/api/agents/billing", Some(OTHER_TOKEN)).await, StatusCode::NOT_FOUND, "not_found");
    let change = json!({"name": "Hijacked"});
    assert_error(&host.send(Method::PATCH, "/api/agents/billing", Some(OTHER_TOKEN), Some(&change)).await, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(host.get("/api/agents/billing", Some(DEMO_TOKEN)).await.1["name"], "Billing & Collections");
}
