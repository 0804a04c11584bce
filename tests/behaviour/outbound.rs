//! Outbound scheduling through the local host: one call scheduled, listed,
//! moved and cancelled; every refusal with its code and nothing stored; the
//! Idempotency-Key; the do-not-call list; campaigns from JSON and CSV; and
//! the local scheduler firing what came due while the host was down.

use callops_aws::CallQuery;
use callops_aws::store::{CallQueryStore, CallStore};
use callops_domain::time::Span;
use callops_domain::{CallLog, placement::schedule::DialRequest, time};
use callops_tests::{DEMO_TOKEN, OTHER_TOKEN, TestHost, assert_error, callable, host_options, read};
use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn in_minutes(minutes: i64) -> String {
    time::format(&(Utc::now() + Duration::minutes(minutes)))
}

/// A number as a person might type it: with spaces.
fn typed(number: &str) -> String {
    format!("{} {} {}", &number[..5], &number[5..number.len() - 4], &number[number.len() - 4..])
}

fn at(value: &Value) -> DateTime<Utc> {
    time::parse(value.as_str().expect("a time")).expect("an RFC 3339 time")
}

fn lead(number: &str, scheduled_at: &str) -> Value {
    json!({
        "phoneNumber": number, "callType": "OUTBOUND_LEAD", "scheduledAt": scheduled_at,
        "purpose": "New patient follow-up", "voiceAgentId": "front-desk", "customerName": "Ada Lovelace",
    })
}

/// The schedule names waiting in the local scheduler.
fn pending(host: &TestHost) -> Vec<(DateTime<Utc>, String)> {
    host.host.scheduler().pending()
}

fn schedule_name(call: &Value) -> String {
    DialRequest { org_id: call["orgId"].as_str().unwrap().into(), call_id: call["id"].as_str().unwrap().into(), attempt: 1 }.schedule_name()
}

async fn waiting_calls(host: &TestHost, org: &str) -> u64 {
    host.host.store().count_calls(org, &CallQuery::Scheduled, Span::ALL).await.unwrap()
}

async fn schedule(host: &TestHost, body: &Value) -> (StatusCode, Value) {
    host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(body)).await
}

#[tokio::test]
async fn the_same_call_scheduled_twice_within_minutes_is_refused_with_the_one_waiting_unless_asked_for() {
    let host = TestHost::start(true).await;
    let number = callable(143);
    host.consent("demo", &[&number]).await;
    // Room for four calls to the number in a day, so only the duplicate rule speaks.
    assert_eq!(host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&json!({"maxAttemptsPerNumberPerDay": 5}))).await.0, StatusCode::OK);
    let (status, first) = schedule(&host, &lead(&number, &in_minutes(60))).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");

    // The form sent again, a few minutes off: the patient would get two calls.
    let again = schedule(&host, &lead(&number, &in_minutes(65))).await;
    assert_error(&again, StatusCode::CONFLICT, "duplicate_call");
    assert_eq!(again.1["error"]["existingCallId"], first["id"], "{}", again.1);
    assert_eq!(again.1["error"]["existingCall"]["id"], first["id"], "the waiting call comes with it: {}", again.1);
    assert_eq!(again.1["error"]["existingCall"]["customerName"], "Ada Lovelace");
    assert_eq!(waiting_calls(&host, "demo").await, 1, "nothing stored");
    assert_eq!(pending(&host).len(), 1, "nothing scheduled");

    // Another type, another time, or on purpose: scheduled.
    let mut follow_up = lead(&number, &in_minutes(62));
    follow_up["callType"] = json!("OUTBOUND_FOLLOWUP");
    assert_eq!(schedule(&host, &follow_up).await.0, StatusCode::CREATED);
    assert_eq!(schedule(&host, &lead(&number, &in_minutes(80))).await.0, StatusCode::CREATED, "twenty minutes apart");
    let mut on_purpose = lead(&number, &in_minutes(61));
    on_purpose["allowDuplicate"] = json!(true);
    assert_eq!(schedule(&host, &on_purpose).await.0, StatusCode::CREATED);
    assert_eq!(waiting_calls(&host, "demo").await, 4);
}

#[tokio::test]
async fn a_call_is_scheduled_listed_moved_and_cancelled() {
    let host = TestHost::start(true).await;
    host.consent("demo", &[&callable(142)]).await;
    let (status, call) = schedule(&host, &lead(&typed(&callable(142)), &in_minutes(60))).await;
    assert_eq!(status, StatusCode::CREATED, "{call}");
    assert_eq!(call["status"], "SCHEDULED");
    assert_eq!(call["phoneNumber"], callable(142), "normalised to E.164");
    assert_eq!(call["attempt"], 1);
    assert_eq!(call["callType"], "OUTBOUND_LEAD");
    assert_eq!(call["customerName"], "Ada Lovelace");
    let id = call["id"].as_str().unwrap().to_string();
    assert_eq!(pending(&host), vec![(at(&call["scheduledAt"]), schedule_name(&call))], "one schedule, at the call's time");

    let (_, listed) = host.get("/api/outbound/scheduled", Some(DEMO_TOKEN)).await;
    assert_eq!(listed["calls"].as_array().unwrap().len(), 1);
    assert_eq!(listed["calls"][0]["id"], id);
    let (_, other_agent) = host.get("/api/outbound/scheduled?agentId=billing", Some(DEMO_TOKEN)).await;
    assert!(other_agent["calls"].as_array().unwrap().is_empty());
    let (_, later_window) = host.get(&format!("/api/outbound/scheduled?startDate={}", in_minutes(120).replace('+', "%2B")), Some(DEMO_TOKEN)).await;
    assert!(later_window["calls"].as_array().unwrap().is_empty(), "the window is on scheduledAt");

    let moved_to = in_minutes(180);
    let (status, moved) = host
        .send(Method::PATCH, &format!("/api/outbound/scheduled/{id}"), Some(DEMO_TOKEN), Some(&json!({"scheduledAt": moved_to, "notes": "prefers mornings"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(at(&moved["scheduledAt"]), time::parse(&moved_to).unwrap());
    assert_eq!(moved["callNotes"], "prefers mornings");
    assert_eq!(pending(&host), vec![(time::parse(&moved_to).unwrap(), schedule_name(&call))], "the schedule moved with the call");

    assert_error(&host.send(Method::DELETE, &format!("/api/outbound/scheduled/{id}"), Some(OTHER_TOKEN), None).await, StatusCode::NOT_FOUND, "not_found");
    let (status, cancelled) = host.send(Method::DELETE, &format!("/api/outbound/scheduled/{id}"), Some(DEMO_TOKEN), None).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "CANCELLED");
    assert!(pending(&host).is_empty(), "the schedule is gone");
    assert_error(&host.send(Method::DELETE, &format!("/api/outbound/scheduled/{id}"), Some(DEMO_TOKEN), None).await, StatusCode::CONFLICT, "not_cancellable");
    assert_error(
        &host.send(Method::PATCH, &format!("/api/outbound/scheduled/{id}"), Some(DEMO_TOKEN), Some(&json!({"scheduledAt": in_minutes(240)}))).await,
        StatusCode::CONFLICT,
        "not_scheduled",
    );
    assert!(host.get("/api/outbound/scheduled", Some(DEMO_TOKEN)).await.1["calls"].as_array().unwrap().is_empty());
    assert_eq!(host.get(&format!("/api/calls/{id}"), Some(DEMO_TOKEN)).await.1["status"], "CANCELLED");
}

#[tokio::test]
async fn every_refusal_has_its_code_and_stores_nothing() {
    let host = TestHost::start(true).await;
    host.consent("demo", &[&callable(142), "+12125550142"]).await;
    // An agent keeping the default hours, 08:00 to 21:00 in New York.
    let daytime = json!({"id": "daytime", "name": "Daytime", "vapiAssistantId": "asst-day", "vapiPhoneNumberId": "pn-day", "timeZone": "America/New_York"});
    assert_eq!(host.send(Method::POST, "/api/agents", Some(DEMO_TOKEN), Some(&daytime)).await.0, StatusCode::CREATED);
    let (status, _) =
        host.send(Method::POST, "/api/dnc", Some(DEMO_TOKEN), Some(&json!({"phoneNumber": typed(&callable(199)), "reason": "asked by phone"}))).await;
    assert_eq!(status, StatusCode::CREATED);

    // 03:00 in New York tomorrow is outside the hours; they open at 08:00.
    let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
    let tomorrow = (Utc::now().with_timezone(&ny) + Duration::days(1)).date_naive();
    let night = time::local_to_utc(ny, tomorrow.and_hms_opt(3, 0, 0).unwrap());
    let opening = time::local_to_utc(ny, tomorrow.and_hms_opt(8, 0, 0).unwrap());
    let mut outside = lead("+12125550142", &time::format(&night));
    outside["voiceAgentId"] = json!("daytime");

    let with = |field: &str, value: Value| {
        let mut body = lead(&callable(142), &in_minutes(30));
        body[field] = value;
        body
    };
    let refusals = [
        (with("phoneNumber", json!("555-CALL-NOW")), StatusCode::BAD_REQUEST, "invalid_phone_number"),
        (with("phoneNumber", json!("+1 000 000 0000")), StatusCode::BAD_REQUEST, "invalid_phone_number"),
        (with("scheduledAt", json!(in_minutes(-10))), StatusCode::BAD_REQUEST, "scheduled_in_past"),
        (with("scheduledAt", json!("tomorrow at noon")), StatusCode::BAD_REQUEST, "invalid_scheduled_at"),
        (outside.clone(), StatusCode::BAD_REQUEST, "outside_calling_hours"),
        (with("phoneNumber", json!(typed(&callable(199)))), StatusCode::CONFLICT, "on_do_not_call_list"),
        (with("voiceAgentId", json!("nobody")), StatusCode::BAD_REQUEST, "unknown_agent"),
        (with("callType", json!("INBOUND")), StatusCode::BAD_REQUEST, "invalid_call_type"),
        (with("voiceAgentId", Value::Null), StatusCode::BAD_REQUEST, "voice_agent_required"),
        (with("campaignId", json!("no-such-campaign")), StatusCode::BAD_REQUEST, "unknown_campaign"),
        (with("variables", json!({"has space": "x"})), StatusCode::BAD_REQUEST, "invalid_variables"),
        (with("surprise", json!(1)), StatusCode::BAD_REQUEST, "invalid_body"),
        (with("phoneNumber", json!(callable(143))), StatusCode::BAD_REQUEST, "no_consent"),
    ];
    for (body, status, code) in &refusals {
        assert_error(&schedule(&host, body).await, *status, code);
    }
    let (_, refused) = schedule(&host, &outside).await;
    assert_eq!(at(&refused["error"]["nextAllowedAt"]), opening, "the error says when the agent may call");
    // Another tenant's agent does not exist for this one.
    let theirs = host.send(Method::POST, "/api/outbound/schedule", Some(OTHER_TOKEN), Some(&lead(&callable(142), &in_minutes(30)))).await;
    assert_error(&theirs, StatusCode::BAD_REQUEST, "unknown_agent");

    assert_eq!(waiting_calls(&host, "demo").await, 0, "nothing stored");
    assert_eq!(waiting_calls(&host, "globex").await, 0);
    assert!(pending(&host).is_empty(), "nothing scheduled");

    // Asked to, the time moves to the next opening.
    outside["moveToCallingHours"] = json!(true);
    let (status, moved) = schedule(&host, &outside).await;
    assert_eq!(status, StatusCode::CREATED, "{moved}");
    assert_eq!(at(&moved["scheduledAt"]), opening);
}

#[tokio::test]
async fn the_idempotency_key_gives_the_same_call() {
    let host = TestHost::start(true).await;
    host.consent("demo", &[&callable(142)]).await;
    let body = lead(&callable(142), &in_minutes(30));
    let send = |body: Value| host.request(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN)).header("Idempotency-Key", "crm-lead-8812").json(&body);
    let (status, first, headers) = read(send(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert!(headers.get("idempotent-replayed").is_none());
    let (status, again, headers) = read(send(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(headers.get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    assert_eq!(again, first, "the same call, not a second one");
    assert_eq!(waiting_calls(&host, "demo").await, 1);
    assert_eq!(pending(&host).len(), 1, "one schedule");

    let mut changed = body.clone();
    changed["purpose"] = json!("Something else");
    let (status, reused, _) = read(send(changed)).await;
    assert_eq!((status, reused["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("idempotency_key_reused")));
    // Another key is another call (asked for on purpose: the same number, type and time would be refused as a duplicate).
    let mut second = body.clone();
    second["allowDuplicate"] = json!(true);
    let (status, _, _) =
        read(host.request(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN)).header("Idempotency-Key", "crm-lead-8813").json(&second)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(waiting_calls(&host, "demo").await, 2);
}

#[tokio::test]
async fn do_not_call_entries_are_added_listed_and_removed_per_tenant() {
    let host = TestHost::start(false).await;
    let add = |number: &str| json!({"phoneNumber": number, "reason": "patient request"});
    let (status, added) = host.send(Method::POST, "/api/dnc", Some(DEMO_TOKEN), Some(&add("(212) 555-0142"))).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let entry = &added["entry"];
    assert_eq!(entry["phoneNumber"], "+12125550142");
    assert_eq!(entry["reason"], "patient request");
    let (status, again) = host.send(Method::POST, "/api/dnc", Some(DEMO_TOKEN), Some(&add("+12125550142"))).await;
    assert_eq!(status, StatusCode::OK, "already listed");
    assert_eq!(again["entry"]["addedAt"], entry["addedAt"], "the first time stays");
    for number in ["+12125550143", "+12125550144"] {
        assert_eq!(host.send(Method::POST, "/api/dnc", Some(DEMO_TOKEN), Some(&add(number))).await.0, StatusCode::CREATED);
    }
    assert_error(&host.send(Method::POST, "/api/dnc", Some(DEMO_TOKEN), Some(&add("not a number"))).await, StatusCode::BAD_REQUEST, "invalid_phone_number");

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/dnc?limit=2&cursor={c}"),
            None => "/api/dnc?limit=2".to_string(),
        };
        let (status, page) = host.get(&path, Some(DEMO_TOKEN)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(page["entries"].as_array().unwrap().iter().map(|e| e["phoneNumber"].as_str().unwrap().to_string()));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, vec!["+12125550142", "+12125550143", "+12125550144"]);
    assert!(host.get("/api/dnc", Some(OTHER_TOKEN)).await.1["entries"].as_array().unwrap().is_empty(), "one tenant's list only");
    let remove = "/api/dnc/%2B12125550142?reason=added%20by%20mistake";
    assert_error(&host.send(Method::DELETE, remove, Some(OTHER_TOKEN), None).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(&host.send(Method::DELETE, "/api/dnc/%2B12125550142", Some(DEMO_TOKEN), None).await, StatusCode::BAD_REQUEST, "reason_required");

    let (status, _) = host.send(Method::DELETE, remove, Some(DEMO_TOKEN), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(&host.send(Method::DELETE, remove, Some(DEMO_TOKEN), None).await, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(host.get("/api/dnc", Some(DEMO_TOKEN)).await.1["entries"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_campaign_schedules_every_good_contact_and_reports_the_rest() {
    let host = TestHost::start(true).await;
    host.send(Method::POST, "/api/dnc", Some(DEMO_TOKEN), Some(&json!({"phoneNumber": callable(190)}))).await;
    host.consent("demo", &[&callable(180), &callable(181), &callable(182), &callable(183), &callable(188), &callable(190)]).await;
    let contacts = json!([
        {"number": callable(180), "name": "Grace Hopper", "variables": {"balance": "$120"}},
        {"number": typed(&callable(181))},
        {"number": "call me maybe"},
        {"number": callable(182)},
        {"number": typed(&callable(180))},
        {"number": callable(190)},
        {"number": callable(183)},
    ]);
    let body = json!({
        "name": "Spring recall", "voiceAgentId": "billing", "purpose": "Recall visit", "callsPerMinute": 60,
        "startAt": in_minutes(60), "contacts": contacts,
    });
    let (status, created) = host.send(Method::POST, "/api/campaigns", Some(DEMO_TOKEN), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["accepted"], 4);
    let rejected: Vec<(u64, &str)> =
        created["rejected"].as_array().unwrap().iter().map(|r| (r["row"].as_u64().unwrap(), r["code"].as_str().unwrap())).collect();
    assert_eq!(rejected, vec![(3, "invalid_phone_number"), (5, "duplicate_number"), (6, "on_do_not_call_list")]);
    let id = created["campaign"]["id"].as_str().unwrap().to_string();

    let (_, view) = host.get(&format!("/api/campaigns/{id}"), Some(DEMO_TOKEN)).await;
    assert_eq!(view["counts"]["total"], 4);
    assert_eq!(view["counts"]["scheduled"], 4);
    assert_eq!(view["campaign"]["status"], "active");
    let (_, waiting) = host.get(&format!("/api/outbound/scheduled?campaignId={id}"), Some(DEMO_TOKEN)).await;
    let calls: Vec<CallLog> = serde_json::from_value(waiting["calls"].clone()).unwrap();
    assert_eq!(calls.len(), 4);
    assert!(calls.iter().all(|c| c.call_type == callops_domain::CallType::OutboundCampaign && c.campaign_id.as_deref() == Some(id.as_str())));
    let times: Vec<DateTime<Utc>> = calls.iter().map(|c| c.scheduled_at.unwrap()).collect();
    assert!(times.windows(2).all(|w| w[1] - w[0] == Duration::seconds(1)), "60 a minute: one a second, {times:?}");
    let grace = calls.iter().find(|c| c.phone_number == callable(180)).unwrap();
    assert_eq!((grace.customer_name.as_deref(), grace.variable_values.get("balance").map(String::as_str)), (Some("Grace Hopper"), Some("$120")));
    assert_eq!(pending(&host).len(), 4, "one schedule per call");
    let listed: Vec<String> =
        host.get("/api/campaigns", Some(DEMO_TOKEN)).await.1["campaigns"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(listed.len(), 2, "the demo practice's own campaign and this one: {listed:?}");
    assert!(listed.contains(&id));
    assert_error(&host.get(&format!("/api/campaigns/{id}"), Some(OTHER_TOKEN)).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(&host.send(Method::DELETE, &format!("/api/campaigns/{id}"), Some(OTHER_TOKEN), None).await, StatusCode::NOT_FOUND, "not_found");

    let (status, cancelled) = host.send(Method::DELETE, &format!("/api/campaigns/{id}"), Some(DEMO_TOKEN), None).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["cancelled"], 4);
    assert_eq!(cancelled["counts"]["cancelled"], 4);
    assert_eq!(cancelled["campaign"]["status"], "cancelled");
    assert!(pending(&host).is_empty(), "every schedule removed");
    let joining = json!({"campaignId": id});
    let mut late = lead(&callable(188), &in_minutes(30));
    late["campaignId"] = joining["campaignId"].clone();
    assert_error(&schedule(&host, &late).await, StatusCode::CONFLICT, "campaign_cancelled");
}

#[tokio::test]
async fn a_csv_campaign_takes_its_columns_as_variables() {
    let host = TestHost::start(true).await;
    host.consent("demo", &[&callable(170), &callable(171)]).await;
    let csv = format!("number,name,appointment_date,balance\n{},Ada Lovelace,May 3,$120\n{},,May 4,\nnope,Nobody,,\n", callable(170), typed(&callable(171)));
    let (status, created, _) = read(
        host.request(
            Method::POST,
            &format!("/api/campaigns?name=Reminders&voiceAgentId=front-desk&callsPerMinute=10&startAt={}", in_minutes(60).replace('+', "%2B")),
            Some(DEMO_TOKEN),
        )
        .header("content-type", "text/csv")
        .body(csv),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["accepted"], 2);
    assert_eq!(created["rejected"][0]["row"], 3);
    let id = created["campaign"]["id"].as_str().unwrap();
    let (_, waiting) = host.get(&format!("/api/outbound/scheduled?campaignId={id}"), Some(DEMO_TOKEN)).await;
    let calls: Vec<CallLog> = serde_json::from_value(waiting["calls"].clone()).unwrap();
    let ada = calls.iter().find(|c| c.phone_number == callable(170)).unwrap();
    assert_eq!(ada.customer_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(ada.variable_values.get("appointment_date").map(String::as_str), Some("May 3"));
    assert_eq!(ada.variable_values.get("balance").map(String::as_str), Some("$120"));
    let other = calls.iter().find(|c| c.phone_number == callable(171)).unwrap();
    assert_eq!(other.variable_values.len(), 1, "empty cells are not variables");
    assert_eq!(calls[1].scheduled_at.unwrap() - calls[0].scheduled_at.unwrap(), Duration::seconds(6), "10 a minute");
}

#[tokio::test]
async fn campaigns_that_cannot_run_are_refused_and_store_nothing() {
    let host = TestHost::start(true).await;
    let campaign = |contacts: Value| json!({"name": "X", "voiceAgentId": "billing", "contacts": contacts});
    let many: Vec<Value> = (0..10_001).map(|i| json!({"number": format!("+1212555{:04}", i % 10_000)})).collect();
    for (body, code) in [
        (campaign(json!([])), "no_contacts"),
        (campaign(Value::Array(many)), "too_many_contacts"),
        (campaign(json!([{"number": "nope"}, {"number": "+1 000 000 0000"}])), "no_valid_contacts"),
        (json!({"name": "X", "voiceAgentId": "nobody", "contacts": [{"number": "+12125550142"}]}), "unknown_agent"),
        (json!({"name": " ", "voiceAgentId": "billing", "contacts": [{"number": "+12125550142"}]}), "invalid_name"),
        (json!({"name": "X", "voiceAgentId": "billing", "callsPerMinute": 0, "contacts": [{"number": "+12125550142"}]}), "invalid_calls_per_minute"),
    ] {
        assert_error(&host.send(Method::POST, "/api/campaigns", Some(DEMO_TOKEN), Some(&body)).await, StatusCode::BAD_REQUEST, code);
    }
    // Every row refused: each with its code and reason, the consent's naming the bases a campaign call needs.
    let unconsented = campaign(json!([{"number": callable(181)}, {"number": "nope"}, {"number": callable(182)}]));
    let refused = host.send(Method::POST, "/api/campaigns", Some(DEMO_TOKEN), Some(&unconsented)).await;
    assert_error(&refused, StatusCode::BAD_REQUEST, "no_valid_contacts");
    let rows = refused.1["error"]["rejected"].as_array().cloned().unwrap_or_default();
    let codes: Vec<(u64, &str)> = rows.iter().map(|r| (r["row"].as_u64().unwrap(), r["code"].as_str().unwrap())).collect();
    assert_eq!(codes, vec![(1, "no_consent"), (2, "invalid_phone_number"), (3, "no_consent")], "{}", refused.1);
    assert!(rows[0]["message"].as_str().unwrap().contains("prior_express_written"), "{}", rows[0]);
    let (status, bad_csv, _) =
        read(host.request(Method::POST, "/api/campaigns?name=X", Some(DEMO_TOKEN)).header("content-type", "text/csv").body("phone_no\n1\n")).await;
    assert_eq!((status, bad_csv["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_csv")));
    let listed = host.get("/api/campaigns", Some(DEMO_TOKEN)).await.1;
    assert_eq!(listed["campaigns"].as_array().unwrap().len(), 1, "only the demo practice's own campaign: {listed}");
    assert_eq!(waiting_calls(&host, "demo").await, 0);
    assert!(pending(&host).is_empty());
}

#[tokio::test]
async fn a_call_that_came_due_while_the_host_was_down_fires_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = TestHost::start_with(host_options(true, Some(dir.path().to_path_buf()))).await;
    first.consent("demo", &[&callable(142)]).await;
    let soon = time::format(&(Utc::now() + Duration::seconds(2)));
    let (status, call) = schedule(&first, &lead(&callable(142), &soon)).await;
    assert_eq!(status, StatusCode::CREATED, "{call}");
    let request = DialRequest { org_id: "demo".into(), call_id: call["id"].as_str().unwrap().into(), attempt: 1 };
    first.stop().await;

    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let second = TestHost::start_with(host_options(true, Some(dir.path().to_path_buf()))).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !second.host.scheduler().delivered().contains(&request) {
        assert!(tokio::time::Instant::now() < deadline, "the restored attempt was never delivered");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(second.host.scheduler().delivered().iter().filter(|r| **r == request).count(), 1, "delivered once");
    second.stop().await;
}

/// Area codes in every US zone (and the two that matter most: split and
/// stricter), with their zones and states as written here, from the
/// numbering plan, not from CallOps's table.
const AROUND_THE_US: &[(&str, &[&str], &str)] = &[
    ("+1212555", &["America/New_York"], "NY"),
    ("+1305555", &["America/New_York"], "FL"),
    ("+1410555", &["America/New_York"], "MD"),
    ("+1312555", &["America/Chicago"], "IL"),
    ("+1405555", &["America/Chicago"], "OK"),
    ("+1303555", &["America/Denver"], "CO"),
    ("+1602555", &["America/Phoenix"], "AZ"),
    ("+1208200", &["America/Boise", "America/Los_Angeles"], "ID"),
    ("+1310555", &["America/Los_Angeles"], "CA"),
    ("+1206555", &["America/Los_Angeles"], "WA"),
    ("+1907269", &["America/Juneau"], "AK"),
    ("+1808555", &["Pacific/Honolulu"], "HI"),
];

#[tokio::test]
async fn a_campaign_of_ten_thousand_contacts_across_every_us_zone_calls_each_inside_its_own_callees_hours() {
    let host = TestHost::start(true).await;
    let agent = json!({"id": "everywhere", "name": "Everywhere", "vapiAssistantId": "asst-e", "vapiPhoneNumberId": "pn-e", "timeZone": "America/Chicago"});
    assert_eq!(host.send(Method::POST, "/api/agents", Some(DEMO_TOKEN), Some(&agent)).await.0, StatusCode::CREATED);
    // Every seventh contact's own record says they live in Florida, whatever their number says.
    let contacts: Vec<Value> = (0..10_000)
        .map(|i| {
            let (prefix, _, _) = AROUND_THE_US[i % AROUND_THE_US.len()];
            let mut contact = json!({"number": format!("{prefix}{:04}", i % 10_000)});
            if i % 7 == 0 {
                contact["state"] = json!("FL");
            }
            contact
        })
        .collect();
    // Every contact's consent, imported from the practice's records in one file.
    let mut file = String::from("phoneNumber,basis,source\n");
    for contact in &contacts {
        file.push_str(&format!("{},prior_express_written,web booking form\n", contact["number"].as_str().unwrap()));
    }
    let imported = read(host.request(Method::POST, "/api/consents/import", Some(DEMO_TOKEN)).header("content-type", "text/csv").body(file)).await;
    assert_eq!((imported.0, imported.1["accepted"].clone(), imported.1["rejected"].clone()), (StatusCode::OK, json!(10_000), json!([])));
    // Starting in two hours, so that none is dialed (and moved) while the test reads them.
    let body = json!({"name": "Everyone", "voiceAgentId": "everywhere", "callsPerMinute": 120, "startAt": in_minutes(120), "contacts": contacts});
    let (status, created) = host.send(Method::POST, "/api/campaigns", Some(DEMO_TOKEN), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", created.to_string().chars().take(400).collect::<String>());
    assert_eq!(created["accepted"], 10_000, "{}", created["rejected"].to_string().chars().take(400).collect::<String>());
    let id = created["campaign"]["id"].as_str().unwrap();
    let calls: Vec<CallLog> = host.host.store().all_calls().await.unwrap().into_iter().filter(|c| c.campaign_id.as_deref() == Some(id)).collect();
    assert_eq!(calls.len(), 10_000);
    assert!(calls.iter().all(|c| c.status == callops_domain::CallStatus::Scheduled && c.attempt == 1));
    let mut times: Vec<DateTime<Utc>> = Vec::new();
    for call in &calls {
        let (_, zones, state) = AROUND_THE_US.iter().find(|(prefix, _, _)| call.phone_number.starts_with(prefix)).expect("a known prefix");
        let at = call.scheduled_at.unwrap();
        let strict = ["FL", "OK", "MD", "WA"].contains(state) || call.callee_state.map(|s| s.to_string()).as_deref() == Some("FL");
        let end = if strict { 20 * 60 } else { 21 * 60 };
        for zone in *zones {
            let zone: chrono_tz::Tz = zone.parse().unwrap();
            let local = at.with_timezone(&zone);
            let minute = chrono::Timelike::hour(&local) * 60 + chrono::Timelike::minute(&local);
            assert!((8 * 60..end).contains(&minute), "{} at {} is {} in {}", call.phone_number, time::format(&at), local.format("%H:%M"), zone.name());
        }
        times.push(at);
    }
    times.sort();
    assert!(times.windows(2).all(|w| w[1] - w[0] >= Duration::milliseconds(500)), "120 a minute at most: never two in one half-second slot");
    assert!(*times.last().unwrap() < Utc::now() + Duration::days(3), "ten thousand calls fit in a few days of windows");
}

#[tokio::test]
async fn bad_call_safety_input_is_refused_with_its_code_and_changes_nothing() {
    let host = TestHost::start(true).await;
    host.consent("demo", &[&callable(142)]).await;
    let (_, settings_before) = host.get("/api/settings", Some(DEMO_TOKEN)).await;
    for (body, code) in [
        (json!({"holidays": ["9999-12-25"]}), "invalid_holidays"),
        (json!({"holidays": ["1999-12-31"]}), "invalid_holidays"),
        (json!({"holidays": ["\u{0}"]}), "invalid_holidays"),
        (json!({"maxAttemptsPerNumberPerDay": 0}), "invalid_max_attempts"),
        (json!({"maxAttemptsPerNumberPerDay": 4_294_967_295u64}), "invalid_max_attempts"),
        (json!({"surprise": true}), "invalid_body"),
    ] {
        assert_error(&host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&body)).await, StatusCode::BAD_REQUEST, code);
    }
    assert_eq!(host.get("/api/settings", Some(DEMO_TOKEN)).await.1, settings_before, "the settings are as they were");

    let with = |field: &str, value: Value| {
        let mut body = lead(&callable(142), &in_minutes(30));
        body[field] = value;
        body
    };
    for (body, code) in [
        (with("timeZone", json!("Mars/Olympus_Mons")), "invalid_time_zone"),
        (with("timeZone", json!("x".repeat(100_000))), "invalid_time_zone"),
        (with("state", json!("XX")), "invalid_state"),
        (with("state", json!("Florida")), "invalid_state"),
        (with("debtId", json!("a#b")), "invalid_debt_id"),
        (with("debtId", json!("d".repeat(201))), "invalid_debt_id"),
        (with("debtId", json!("\u{7}")), "invalid_debt_id"),
    ] {
        assert_error(&schedule(&host, &body).await, StatusCode::BAD_REQUEST, code);
    }
    assert_eq!(waiting_calls(&host, "demo").await, 0, "nothing stored");
    assert!(pending(&host).is_empty(), "nothing scheduled");

    let (_, agent_before) = host.get("/api/agents/front-desk", Some(DEMO_TOKEN)).await;
    for body in [
        json!({"closedDays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}),
        json!({"hoursByDay": {"sat": {"start": "13:00", "end": "09:00"}}}),
        json!({"hoursByDay": {"someday": {"start": "09:00", "end": "13:00"}}}),
        json!({"closedDays": ["funday"]}),
    ] {
        let (status, _) = host.send(Method::PATCH, "/api/agents/front-desk", Some(DEMO_TOKEN), Some(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    assert_eq!(host.get("/api/agents/front-desk", Some(DEMO_TOKEN)).await.1, agent_before, "the agent is as it was");

    let path = format!("/api/numbers/{}/inconvenient-times", callable(142).replace('+', "%2B"));
    let many = json!({"times": (0..15).map(|_| json!({"start": "09:00", "end": "10:00"})).collect::<Vec<_>>()});
    assert_error(&host.send(Method::PUT, &path, Some(DEMO_TOKEN), Some(&many)).await, StatusCode::BAD_REQUEST, "invalid_inconvenient_times");
    assert_error(
        &host.send(Method::PUT, "/api/numbers/not-a-number/inconvenient-times", Some(DEMO_TOKEN), Some(&json!({"times": []}))).await,
        StatusCode::BAD_REQUEST,
        "invalid_phone_number",
    );
    assert_eq!(host.get(&path, Some(DEMO_TOKEN)).await.1["times"], json!([]), "nothing kept");
    // Another tenant's times are its own.
    let times = json!({"times": [{"start": "09:00", "end": "10:00"}]});
    assert_eq!(host.send(Method::PUT, &path, Some(OTHER_TOKEN), Some(&times)).await.0, StatusCode::OK);
    assert_eq!(host.get(&path, Some(DEMO_TOKEN)).await.1["times"], json!([]), "another tenant's write is not this one's");
}

#[tokio::test]
async fn calls_already_waiting_for_a_number_count_when_another_is_planned() {
    let host = TestHost::start(true).await;
    let cap = |n: u32| json!({"maxAttemptsPerNumberPerDay": n});
    assert_eq!(host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&cap(2))).await.0, StatusCode::OK);
    let number = callable(600);
    host.consent("demo", &[&number, &callable(601), &callable(610)]).await;
    let (_, first) = schedule(&host, &lead(&number, &in_minutes(60))).await;
    let (status, second) = schedule(&host, &lead(&number, &in_minutes(90))).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let day_after_first = at(&first["scheduledAt"]) + Duration::hours(24);

    // A third within 24 hours of both, after them or before them, is refused when it is planned, and nothing is stored.
    let stored_before = waiting_calls(&host, "demo").await;
    for minutes in [120, 30] {
        let refused = schedule(&host, &lead(&number, &in_minutes(minutes))).await;
        assert_error(&refused, StatusCode::BAD_REQUEST, "frequency_limit");
        assert!(at(&refused.1["error"]["nextAllowedAt"]) >= day_after_first - Duration::minutes(30), "{}", refused.1);
    }
    assert_eq!(waiting_calls(&host, "demo").await, stored_before);
    assert_eq!(pending(&host).len() as u64, stored_before, "no schedule either");
    let refused = schedule(&host, &lead(&number, &in_minutes(120))).await;
    assert_eq!(at(&refused.1["error"]["nextAllowedAt"]), day_after_first, "once the first has left the window");
    // moveToCallingHours takes the first time every rule allows.
    let mut moving = lead(&number, &in_minutes(120));
    moving["moveToCallingHours"] = json!(true);
    let (status, moved) = schedule(&host, &moving).await;
    assert_eq!((status, at(&moved["scheduledAt"])), (StatusCode::CREATED, day_after_first), "{moved}");

    // Cancelling a waiting call frees its place; a waiting call moved is not counted against itself.
    let second_id = second["id"].as_str().unwrap();
    assert_eq!(host.send(Method::DELETE, &format!("/api/outbound/scheduled/{second_id}"), Some(DEMO_TOKEN), None).await.0, StatusCode::OK);
    let (status, again) = schedule(&host, &lead(&number, &in_minutes(120))).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    let again_id = again["id"].as_str().unwrap();
    let change = json!({"scheduledAt": in_minutes(30)});
    let (status, changed) = host.send(Method::PATCH, &format!("/api/outbound/scheduled/{again_id}"), Some(DEMO_TOKEN), Some(&change)).await;
    assert_eq!(status, StatusCode::OK, "{changed}");

    // A campaign's contact with two calls waiting today waits for the limit too, and is reported by row; the other keeps the pace.
    let other = callable(601);
    let body = json!({"name": "Recall", "voiceAgentId": "front-desk", "startAt": in_minutes(45), "contacts": [{"number": number}, {"number": other}]});
    let (status, created) = host.send(Method::POST, "/api/campaigns", Some(DEMO_TOKEN), Some(&body)).await;
    assert_eq!((status, created["accepted"].clone()), (StatusCode::CREATED, json!(2)), "{created}");
    let deferred = created["deferred"].as_array().unwrap();
    assert_eq!(deferred.len(), 1, "{created}");
    assert_eq!((deferred[0]["row"].clone(), deferred[0]["number"].clone(), deferred[0]["code"].clone()), (json!(1), json!(number), json!("frequency_limit")));
    assert!(at(&deferred[0]["scheduledAt"]) >= at(&changed["scheduledAt"]) + Duration::hours(24), "{created}");
    let campaign_id = created["campaign"]["id"].as_str().unwrap();
    let (_, waiting) = host.get(&format!("/api/outbound/scheduled?campaignId={campaign_id}"), Some(DEMO_TOKEN)).await;
    let times: Vec<(String, DateTime<Utc>)> =
        waiting["calls"].as_array().unwrap().iter().map(|c| (c["phoneNumber"].as_str().unwrap().to_string(), at(&c["scheduledAt"]))).collect();
    assert!(times.contains(&(number.clone(), at(&deferred[0]["scheduledAt"]))), "{times:?}");
    assert!(times.iter().any(|(n, t)| *n == other && (*t - at(&body["startAt"])).num_seconds().abs() < 2), "{times:?}");

    // Regulation F: seven collection calls waiting about one debt within seven days fill them; another debt is counted apart.
    assert_eq!(host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&cap(20))).await.0, StatusCode::OK);
    let debtor = callable(610);
    let debt = |minutes: i64, debt_id: &str| json!({"phoneNumber": debtor, "callType": "OUTBOUND_DEBT", "scheduledAt": in_minutes(minutes), "voiceAgentId": "billing", "debtId": debt_id});
    let mut firsts = Vec::new();
    for day in 0..7 {
        let (status, call) = schedule(&host, &debt(60 + day * 24 * 60, "inv-42")).await;
        assert_eq!(status, StatusCode::CREATED, "{call}");
        firsts.push(at(&call["scheduledAt"]));
    }
    let eighth = schedule(&host, &debt(90, "inv-42")).await;
    assert_error(&eighth, StatusCode::BAD_REQUEST, "regf_7_in_7");
    assert_eq!(at(&eighth.1["error"]["nextAllowedAt"]), firsts[0] + Duration::days(7), "when the first has left the seven days");
    assert_eq!(schedule(&host, &debt(90, "inv-43")).await.0, StatusCode::CREATED, "another debt");
}
