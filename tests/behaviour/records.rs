//! Patient data, through the local host: who may do what (the role matrix,
//! route by route), the audit log (an entry for every change and every read
//! of content, written with the change or before the answer, none for a
//! change that failed), retention (content goes, every figure stays), and a
//! patient's own records (listed, exported as JSON and CSV, erased).

use aws_sdk_dynamodb::types::AttributeValue;
use callops_aws::DynamoStore;
use callops_aws::store::{AgentStore, AuditChainStore, AuditStore, CallStore, DoNotCallStore, ErasureStore, RollupCheckStore, SettingsStore};
use callops_dialer::reconcile::ReconcileSettings;
use callops_domain::{CallLog, CallOutcome, CallStatus, CallType, NewCall, time};
use callops_tests::{
    DEMO_STAFF_TOKEN, DEMO_TOKEN, DEMO_VIEWER_TOKEN, TestHost, assert_error, callable,
    faults::{Faults, ProxiedHost},
};
use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The least role each guarded route needs, written out here on its own:
/// the functions' tables must agree with it.
const MATRIX: &[(&str, &str)] = &[
    ("GET /api/analytics/calls", "viewer"),
    ("GET /api/analytics/calls/outcomes", "viewer"),
    ("GET /api/analytics/calls/daily", "viewer"),
    ("GET /api/analytics/calls/recent", "viewer"),
    ("GET /api/analytics/costs", "viewer"),
    ("GET /api/analytics/quality", "viewer"),
    ("GET /api/analytics/agents", "viewer"),
    ("GET /api/analytics/calls/hourly", "viewer"),
    ("GET /api/analytics/missed", "viewer"),
    ("GET /api/calls/export", "viewer"),
    ("GET /api/calls/{id}", "viewer"),
    ("GET /api/agents", "viewer"),
    ("GET /api/agents/{id}", "viewer"),
    ("GET /api/campaigns", "viewer"),
    ("GET /api/campaigns/{id}", "viewer"),
    ("GET /api/outbound/scheduled", "viewer"),
    ("GET /api/settings", "viewer"),
    ("POST /api/outbound/schedule", "staff"),
    ("DELETE /api/outbound/scheduled/{id}", "staff"),
    ("PATCH /api/outbound/scheduled/{id}", "staff"),
    ("POST /api/campaigns", "staff"),
    ("DELETE /api/campaigns/{id}", "staff"),
    ("PATCH /api/campaigns/{id}", "staff"),
    ("POST /api/campaigns/{id}/pause", "staff"),
    ("POST /api/campaigns/{id}/resume", "staff"),
    ("GET /api/dnc", "staff"),
    ("POST /api/dnc", "staff"),
    ("GET /api/dnc/{phoneNumber}/history", "staff"),
    ("GET /api/compliance/check", "staff"),
    ("GET /api/numbers/{phoneNumber}/inconvenient-times", "staff"),
    ("PUT /api/numbers/{phoneNumber}/inconvenient-times", "staff"),
    ("POST /api/consents", "staff"),
    ("GET /api/consents", "staff"),
    ("POST /api/consents/{id}/revoke", "staff"),
    ("POST /api/consents/import", "staff"),
    ("POST /api/registries/{registry}/import", "admin"),
    ("PUT /api/numbers/{phoneNumber}/relationship", "staff"),
    ("POST /api/agents", "admin"),
    ("PATCH /api/agents/{id}", "admin"),
    ("PUT /api/settings", "admin"),
    ("DELETE /api/dnc/{phoneNumber}", "admin"),
    ("GET /api/audit", "admin"),
    ("GET /api/audit/verify", "admin"),
    ("GET /api/patients/{phoneNumber}", "admin"),
    ("GET /api/patients/{phoneNumber}/export", "admin"),
    ("DELETE /api/patients/{phoneNumber}", "admin"),
];

const ROLES: [(&str, &str); 3] = [("viewer", DEMO_VIEWER_TOKEN), ("staff", DEMO_STAFF_TOKEN), ("admin", DEMO_TOKEN)];

fn rank(role: &str) -> usize {
    ROLES.iter().position(|(name, _)| *name == role).unwrap()
}

fn concrete(key: &str) -> (Method, String) {
    let (method, path) = key.split_once(' ').unwrap();
    (method.parse().unwrap(), path.replace("{id}", "spring-cleaning").replace("{phoneNumber}", "%2B12125550100"))
}

/// A finished inbound call of `demo`'s front desk to `number`, with content.
pub(crate) fn ended_call(id: &str, number: &str, started: chrono::DateTime<Utc>, transcript: &str) -> CallLog {
    let new = NewCall {
        org_id: "demo".into(),
        voice_agent_id: "front-desk".into(),
        phone_number: number.into(),
        call_type: CallType::Inbound,
        status: CallStatus::Completed,
        attempt: 0,
    };
    let mut call = CallLog::new(new, id.into(), started);
    call.call_started_at = Some(time::to_millis(started));
    call.call_ended_at = Some(time::to_millis(started + Duration::seconds(95)));
    call.duration = Some(95);
    call.outcome = Some(CallOutcome::Booked);
    call.appointment_set = true;
    call.insurance_verified = true;
    call.cost_cents = Some(42);
    call.transcript = Some(transcript.into());
    call.summary = Some("The patient booked a cleaning.".into());
    call.recording_url = Some(format!("https://recordings.example/{id}.wav"));
    call.call_notes = Some("prefers mornings".into());
    call.customer_name = Some("Ada Byron".into());
    call
}

async fn audit(host: &TestHost, query: &str) -> Vec<Value> {
    let (status, body) = host.get(&format!("/api/audit?limit=200&{query}"), Some(DEMO_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["entries"].as_array().unwrap().clone()
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries.iter().map(|e| e["action"].as_str().unwrap()).collect()
}

/// Every figure the analytics routes give for a wide window.
async fn figures(host: &TestHost) -> Vec<Value> {
    let window = format!("startDate={}&endDate={}", (Utc::now() - Duration::days(120)).format("%Y-%m-%d"), (Utc::now() + Duration::days(1)).format("%Y-%m-%d"));
    let mut all = Vec::new();
    for route in ["/api/analytics/calls", "/api/analytics/calls/outcomes", "/api/analytics/costs", "/api/analytics/quality", "/api/analytics/calls/daily"] {
        let (status, body) = host.get(&format!("{route}?{window}"), Some(DEMO_TOKEN)).await;
        assert_eq!(status, StatusCode::OK, "{route}: {body}");
        all.push(body);
    }
    all
}

async fn rollups_clean(store: &DynamoStore) {
    let report = store.verify_rollups().await.unwrap();
    assert!(report.is_clean(), "{report:?}");
}

#[tokio::test]
async fn each_role_may_use_exactly_the_routes_the_matrix_gives_it_and_nothing_changes_on_a_refusal() {
    let host = TestHost::start(true).await;
    let routes: Vec<&str> = callops::gateway::routes().iter().filter(|r| r.authorized).map(|r| r.key).collect();
    let mut listed: Vec<&str> = MATRIX.iter().map(|(key, _)| *key).collect();
    listed.sort();
    let mut served = routes.clone();
    served.sort();
    assert_eq!(listed, served, "the matrix names every guarded route, once");
    let store = host.host.store();
    let before = (store.all_calls().await.unwrap(), store.list_agents("demo").await.unwrap(), store.settings("demo").await.unwrap());
    let entries_before = audit(&host, "").await.len();
    let body = json!({"phoneNumber": "+12125550100"});
    for (key, needed) in MATRIX {
        let (method, path) = concrete(key);
        for (role, token) in ROLES.iter().filter(|(role, _)| rank(role) < rank(needed)) {
            let response = host.send(method.clone(), &path, Some(token), Some(&body)).await;
            assert_error(&response, StatusCode::FORBIDDEN, "forbidden");
            assert!(response.1["error"]["message"].as_str().unwrap().contains(needed), "{key} as {role}: {}", response.1);
        }
    }
    let after = (store.all_calls().await.unwrap(), store.list_agents("demo").await.unwrap(), store.settings("demo").await.unwrap());
    assert_eq!(after, before, "a refused request changes nothing");
    // Only the audit reads of this test were added (one per GET /api/audit).
    let entries = audit(&host, "").await;
    assert_eq!(entries.len(), entries_before + 1, "{:?}", actions(&entries));
    // Each role the matrix allows gets past the check (whatever the route then says of the body).
    for (key, needed) in MATRIX {
        let (method, path) = concrete(key);
        for (role, token) in ROLES.iter().filter(|(role, _)| rank(role) >= rank(needed)) {
            let (status, body) = host.send(method.clone(), &path, Some(token), Some(&body)).await;
            assert_ne!(status, StatusCode::FORBIDDEN, "{key} as {role}: {body}");
        }
    }
}

#[tokio::test]
async fn a_viewer_gets_the_facts_of_a_call_and_staff_the_content_each_read_audited_with_who_and_where() {
    let host = TestHost::start(true).await;
    let number = "+12125550142";
    let call = ended_call("call-with-content", number, Utc::now() - Duration::hours(2), "AI: Hello.\nUser: My tooth hurts since Tuesday.");
    host.host.store().create_call(&call).await.unwrap();

    let (status, seen) = host.get("/api/calls/call-with-content", Some(DEMO_VIEWER_TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    for field in ["transcript", "summary", "recordingUrl", "callNotes", "customerName"] {
        assert!(seen[field].is_null(), "a viewer sees no {field}: {seen}");
    }
    assert_eq!((seen["outcome"].as_str(), seen["costCents"].as_i64(), seen["duration"].as_i64()), (Some("BOOKED"), Some(42), Some(95)));
    let (_, recent) = host.get(&format!("/api/analytics/calls/recent?phoneNumber={}", "%2B12125550142"), Some(DEMO_VIEWER_TOKEN)).await;
    assert!(recent["calls"][0]["transcript"].is_null() && recent["calls"][0]["id"] == "call-with-content");
    // Facts are patient data too: each read of them is on the record, naming what was read.
    let viewed = audit(&host, "entityId=call-with-content").await;
    assert_eq!(actions(&viewed), ["call.read", "call.read"], "the call, then the list");
    assert_eq!(viewed[0]["changes"], json!({"facts": true}));

    let request = host.request(Method::GET, "/api/calls/call-with-content", Some(DEMO_STAFF_TOKEN)).header("user-agent", "FrontDesk/2.1");
    let (status, read, _) = callops_tests::read(request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(read["transcript"].as_str().unwrap().contains("tooth"));
    let entries = audit(&host, "entityId=call-with-content").await;
    assert_eq!(actions(&entries), ["call.content_read", "call.read", "call.read"]);
    let entry = &entries[0];
    assert_eq!(entry["entityType"], "call");
    assert!(entry["actor"]["sub"].as_str().unwrap().starts_with("local:demo:"), "{entry}");
    assert_ne!(entry["actor"]["sub"], DEMO_STAFF_TOKEN, "the subject is never the token");
    assert_eq!(entry["sourceIp"], "127.0.0.1");
    assert_eq!(entry["userAgent"], "FrontDesk/2.1");
    for field in ["transcript", "summary", "recordingUrl", "facts"] {
        assert_eq!(entry["changes"][field], true, "{entry}");
    }
    assert!(!entry.to_string().contains("tooth"), "the log names content, never copies it");
    // A list is a read of each call in it: of its content, or (`content=false`) of its facts.
    host.get("/api/analytics/calls/recent?phoneNumber=%2B12125550142&content=false", Some(DEMO_STAFF_TOKEN)).await;
    assert_eq!(actions(&audit(&host, "entityId=call-with-content").await)[0], "call.read");
    let (_, recent) = host.get("/api/analytics/calls/recent?limit=100", Some(DEMO_STAFF_TOKEN)).await;
    assert!(recent["calls"].as_array().unwrap().iter().any(|c| c["transcript"].as_str().is_some_and(|t| t.contains("tooth"))));
    let entries = audit(&host, "entityId=call-with-content").await;
    assert_eq!((entries.len(), entries[0]["action"].as_str()), (5, Some("call.content_read")));
    assert_error(&host.get("/api/calls/call-with-content?content=maybe", Some(DEMO_STAFF_TOKEN)).await, StatusCode::BAD_REQUEST, "invalid_content");
}

#[tokio::test]
async fn every_change_is_audited_in_its_own_write_and_the_log_pages_and_filters() {
    let host = TestHost::start(true).await;
    let number = callable(301);
    host.consent("demo", &[&number]).await;
    let at = |hours: i64| (Utc::now() + Duration::hours(hours)).to_rfc3339();
    let staff = Some(DEMO_STAFF_TOKEN);
    let admin = Some(DEMO_TOKEN);

    let (status, call) = host
        .send(
            Method::POST,
            "/api/outbound/schedule",
            staff,
            Some(&json!({"phoneNumber": number, "callType": "OUTBOUND_FOLLOWUP", "scheduledAt": at(2), "voiceAgentId": "front-desk"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{call}");
    let id = call["id"].as_str().unwrap().to_string();
    let moved_to = at(3);
    let (status, moved) = host.send(Method::PATCH, &format!("/api/outbound/scheduled/{id}"), staff, Some(&json!({"scheduledAt": moved_to}))).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(host.send(Method::DELETE, &format!("/api/outbound/scheduled/{id}"), staff, None).await.0, StatusCode::OK);
    let history = audit(&host, &format!("entityType=call&entityId={id}")).await;
    assert_eq!(actions(&history), ["call.cancelled", "call.moved", "call.scheduled"], "newest first");
    assert_eq!(history[1]["changes"]["scheduledAt"]["from"], call["scheduledAt"]);
    assert_eq!(history[1]["changes"]["scheduledAt"]["to"], moved["scheduledAt"]);
    assert_eq!(history[0]["changes"]["status"], json!({"from": "SCHEDULED", "to": "CANCELLED"}));
    // The number is named, never kept: the log holds no number, name, variable or purpose.
    assert_eq!(history[2]["changes"]["phoneNumber"], json!({"from": false, "to": true}));
    assert!(!history.iter().any(|e| e.to_string().contains(&number[2..])), "{history:?}");

    // Agents, settings, consents, the do-not-call list, campaigns, a number's inconvenient times.
    let (status, agent) = host
        .send(
            Method::POST,
            "/api/agents",
            admin,
            Some(
                &json!({"id": "recall-desk", "name": "Recall desk", "vapiAssistantId": "asst-r", "vapiPhoneNumberId": "pn-r", "timeZone": "America/New_York"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{agent}");
    assert_eq!(host.send(Method::PATCH, "/api/agents/recall-desk", admin, Some(&json!({"name": "Recall line"}))).await.0, StatusCode::OK);
    assert_eq!(host.send(Method::PUT, "/api/settings", admin, Some(&json!({"maxAttemptsPerNumberPerDay": 2}))).await.0, StatusCode::OK);
    let (_, consent) =
        host.send(Method::POST, "/api/consents", staff, Some(&json!({"phoneNumber": "+12125550177", "basis": "prior_express", "source": "front desk"}))).await;
    let consent_id = consent["id"].as_str().unwrap().to_string();
    assert_eq!(host.send(Method::POST, "/api/dnc", staff, Some(&json!({"phoneNumber": "+12125550177", "channel": "letter"}))).await.0, StatusCode::CREATED);
    assert_eq!(host.send(Method::DELETE, "/api/dnc/%2B12125550177?reason=asked%20back", admin, None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        host.send(Method::PUT, "/api/numbers/%2B12125550177/inconvenient-times", staff, Some(&json!({"times": [{"start": "12:00", "end": "13:00"}]}))).await.0,
        StatusCode::OK
    );
    let (status, campaign) = host
        .send(
            Method::POST,
            "/api/campaigns",
            staff,
            Some(&json!({"name": "Recall", "voiceAgentId": "front-desk", "startAt": at(2), "contacts": [{"number": number}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{campaign}");
    let campaign_id = campaign["campaign"]["id"].as_str().unwrap().to_string();
    assert_eq!(host.send(Method::DELETE, &format!("/api/campaigns/{campaign_id}"), staff, None).await.0, StatusCode::OK);

    let all = audit(&host, "").await;
    let listed = actions(&all);
    for action in [
        "agent.created",
        "agent.updated",
        "settings.updated",
        "consent.recorded",
        "consent.revoked",
        "dnc.added",
        "dnc.removed",
        "number.inconvenient_times_set",
        "campaign.created",
        "campaign.cancelled",
    ] {
        assert!(listed.contains(&action), "{action} in {listed:?}");
    }
    let revoked = audit(&host, &format!("entityType=consent&entityId={consent_id}")).await;
    assert_eq!(actions(&revoked), ["consent.revoked", "consent.recorded"], "the opt-out revoked the consent, and said so");
    let dnc = audit(&host, "entityType=number&entityId=%2B12125550177").await;
    assert_eq!(actions(&dnc), ["number.inconvenient_times_set", "dnc.removed", "dnc.added"]);
    assert_eq!(dnc[2]["changes"]["channel"]["to"], "letter");
    let settings = audit(&host, "entityType=tenant&entityId=demo").await;
    let updated = settings.iter().find(|e| e["action"] == "settings.updated").unwrap();
    assert_eq!(updated["changes"]["maxAttemptsPerNumberPerDay"], json!({"from": 3, "to": 2}));
    assert!(updated["actor"]["sub"].as_str().unwrap().starts_with("local:demo:"));
    // By actor: the front desk's token did the scheduling, the admin's the settings.
    let staff_sub = history[0]["actor"]["sub"].as_str().unwrap().to_string();
    let by_staff = audit(&host, &format!("actor={}", staff_sub)).await;
    assert!(by_staff.iter().all(|e| e["actor"]["sub"] == staff_sub.as_str()) && by_staff.iter().any(|e| e["action"] == "call.scheduled"));
    assert!(!by_staff.iter().any(|e| e["action"] == "settings.updated"));
    // Paged: two at a time, newest first, every entry once.
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = host.get(&format!("/api/audit?entityType=call&limit=2{cursor}"), admin).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        paged.extend(page["entries"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let calls: Vec<String> = audit(&host, "entityType=call").await.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(paged, calls);
    assert!(calls.len() >= 4);
    assert_error(&host.get("/api/audit?entityType=spaceship", admin).await, StatusCode::BAD_REQUEST, "invalid_entity_type");
    assert_error(&host.get(&format!("/api/audit?entityId={}", "x".repeat(201)), admin).await, StatusCode::BAD_REQUEST, "invalid_filter");
    assert_error(&host.get("/api/audit?limit=201", admin).await, StatusCode::BAD_REQUEST, "invalid_limit");
    assert_error(&host.get("/api/audit?startDate=2200-01-01", admin).await, StatusCode::BAD_REQUEST, "invalid_start_date");
    // Another practice's log holds none of this one's entries.
    let (_, theirs) = host.get("/api/audit?limit=200", Some(callops_tests::OTHER_TOKEN)).await;
    assert!(theirs["entries"].as_array().unwrap().iter().all(|e| e["orgId"] != "demo"), "{theirs}");
    assert_error(&host.get("/api/audit?cursor=bogus", admin).await, StatusCode::BAD_REQUEST, "invalid_cursor");
    let window = format!("startDate={}&endDate={}", (Utc::now() - Duration::days(1)).format("%Y-%m-%d"), (Utc::now() + Duration::days(1)).format("%Y-%m-%d"));
    assert!(!audit(&host, &window).await.is_empty());
    assert!(audit(&host, "startDate=2001-01-01&endDate=2001-02-01").await.is_empty());
}

#[tokio::test]
async fn a_change_that_fails_leaves_no_entry_and_one_that_landed_always_has_its_entry() {
    let host = TestHost::start(true).await;
    let admin = Some(DEMO_TOKEN);
    // Refused by the store's own conditions: nothing changes, nothing is recorded.
    let before = audit(&host, "entityType=agent").await.len();
    let (status, _) = host
        .send(
            Method::POST,
            "/api/agents",
            admin,
            Some(&json!({"id": "front-desk", "name": "Again", "vapiAssistantId": "a", "vapiPhoneNumberId": "p", "timeZone": "America/New_York"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, consent) =
        host.send(Method::POST, "/api/consents", admin, Some(&json!({"phoneNumber": "+12125550188", "basis": "prior_express", "source": "desk"}))).await;
    let id = consent["id"].as_str().unwrap();
    let revoke = json!({"channel": "staff", "reason": "asked"});
    assert_eq!(host.send(Method::POST, &format!("/api/consents/{id}/revoke"), admin, Some(&revoke)).await.0, StatusCode::OK);
    assert_eq!(host.send(Method::POST, &format!("/api/consents/{id}/revoke"), admin, Some(&revoke)).await.0, StatusCode::CONFLICT);
    assert_eq!(audit(&host, "entityType=agent").await.len(), before);
    assert_eq!(actions(&audit(&host, &format!("entityId={id}")).await), ["consent.revoked", "consent.recorded"], "one revocation, one entry");

    // Through a proxy that fails or loses transactions.
    let ProxiedHost { host, proxy, engine, .. } = ProxiedHost::start(true, |_| {}).await;
    let direct = DynamoStore::new(engine.client(), callops::TABLE);
    let number = callable(302);
    callops_tests::consent(&direct, "demo", &[&number]).await;
    let ask = json!({"phoneNumber": number, "callType": "OUTBOUND_FOLLOWUP", "scheduledAt": (Utc::now() + Duration::hours(2)).to_rfc3339(), "voiceAgentId": "front-desk"});
    let entries = |store: DynamoStore| async move { store.audit_entries("demo", time::Span::ALL, &Default::default(), 500, None, "").await.unwrap().items };
    let calls_before = direct.all_calls().await.unwrap().len();
    let entries_before = entries(direct.clone()).await.len();
    proxy.set(Faults::Outage(vec!["TransactWriteItems"]));
    let (status, _) = host.send(Method::POST, "/api/outbound/schedule", admin, Some(&ask)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        (direct.all_calls().await.unwrap().len(), entries(direct.clone()).await.len()),
        (calls_before, entries_before),
        "neither the call nor its entry"
    );
    proxy.set(Faults::LostAnswers(vec!["TransactWriteItems"]));
    // The SDK sends the transaction again with its request token: DynamoDB answers it as the first, applied once.
    let (status, _) = host.send(Method::POST, "/api/outbound/schedule", admin, Some(&ask)).await;
    assert_eq!(status, StatusCode::CREATED, "the lost answer was asked for again");
    proxy.set(Faults::None);
    let calls = direct.all_calls().await.unwrap();
    let landed: Vec<&CallLog> = calls.iter().filter(|c| c.phone_number == number).collect();
    assert_eq!(landed.len(), 1, "the write happened");
    let logged = entries(direct.clone()).await;
    let scheduled = logged.iter().filter(|e| e.action == callops_domain::records::audit::Action::CallScheduled && e.entity_id == landed[0].id.as_str()).count();
    assert_eq!(scheduled, 1, "and its entry with it, once");
    // A read of content is answered only once its entry is written.
    let mut call = ended_call("read-me", "+12125550143", Utc::now() - Duration::hours(1), "User: my jaw clicks");
    call.voice_agent_id = "front-desk".into();
    direct.create_call(&call).await.unwrap();
    proxy.set(Faults::Outage(vec!["BatchWriteItem", "TransactWriteItems"]));
    let (status, body) = host.get("/api/calls/read-me", admin).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "no content without its entry: {body}");
    assert!(!body.to_string().contains("jaw"));
    assert_eq!(host.get("/api/calls/read-me?content=false", admin).await.0, StatusCode::INTERNAL_SERVER_ERROR, "nor the facts: every read has its entry first");
    proxy.set(Faults::None);
    assert_eq!(host.get("/api/calls/read-me", admin).await.0, StatusCode::OK);
}

#[tokio::test]
async fn content_past_the_practices_retention_goes_while_every_figure_stays_exact() {
    let host = TestHost::start(true).await;
    let store = host.host.store();
    let old = ended_call("old-call", "+12125550150", Utc::now() - Duration::days(45), "User: old words");
    let recent = ended_call("recent-call", "+12125550150", Utc::now() - Duration::days(5), "User: recent words");
    store.create_call(&old).await.unwrap();
    store.create_call(&recent).await.unwrap();
    let before = figures(&host).await;
    let (status, settings) = host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&json!({"retention": {"contentDays": 30}}))).await;
    assert_eq!((status, settings["retention"]["contentDays"].as_i64()), (StatusCode::OK, Some(30)));
    assert_error(
        &host.send(Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&json!({"retention": {"contentDays": 0}}))).await,
        StatusCode::BAD_REQUEST,
        "invalid_retention",
    );

    // The reconciler's round removes what aged out (the demo's own calls too).
    let done = host.host.dialer().reconcile(&host.host.calls(), &ReconcileSettings::default(), Utc::now()).await.unwrap();
    assert!(done.content_expired >= 1, "{done:?}");
    let (_, gone) = host.get("/api/calls/old-call", Some(DEMO_TOKEN)).await;
    for field in ["transcript", "summary", "recordingUrl", "callNotes"] {
        assert!(gone[field].is_null(), "{field}: {gone}");
    }
    assert_eq!(gone["contentRemoved"]["reason"], "retention");
    assert_eq!((gone["outcome"].as_str(), gone["costCents"].as_i64(), gone["phoneNumber"].as_str()), (Some("BOOKED"), Some(42), Some("+12125550150")));
    let (_, kept) = host.get("/api/calls/recent-call", Some(DEMO_TOKEN)).await;
    assert_eq!(kept["transcript"], "User: recent words");
    let all = store.all_calls().await.unwrap();
    let cutoff = Utc::now() - Duration::days(30);
    assert!(all.iter().filter(|c| c.call_started_at.unwrap_or(c.created_at) < cutoff).all(|c| !c.has_content()), "nothing older keeps content");
    assert_eq!(figures(&host).await, before, "every figure is as it was");
    rollups_clean(store).await;
    let expired = audit(&host, "entityId=old-call").await;
    let removal = expired.iter().find(|e| e["action"] == "call.content_expired").expect("the removal's entry");
    assert_eq!(removal["actor"]["sub"], "system:retention");
    // The next round reads only what crossed the line since: nothing.
    let again = host.host.dialer().reconcile(&host.host.calls(), &ReconcileSettings::default(), Utc::now()).await.unwrap();
    assert_eq!(again.content_expired, 0);
    // A late report cannot bring it back.
    let reported = store.get_call("demo", "old-call").await.unwrap().unwrap();
    let mut report = callops_domain::ending::report::CallReport::new(callops_domain::ending::report::ReportKind::Ended);
    report.transcript = Some("User: old words again".into());
    let next = callops_domain::ending::apply::apply(&reported.call, &report, Utc::now());
    assert!(next.is_none_or(|n| n.transcript.is_none()), "content removed stays removed");
}

#[tokio::test]
async fn a_patients_records_are_listed_exported_and_erased_with_analytics_unchanged() {
    let host = TestHost::start(true).await;
    let store = host.host.store();
    let number = "+12125550160";
    let first = ended_call("visit-1", number, Utc::now() - Duration::days(3), "=HYPERLINK(\"http://evil.example\",\"click\")");
    let second = ended_call("visit-2", number, Utc::now() - Duration::days(2), "User: @SUM(1+1) my crown fell out");
    let third = ended_call("visit-3", number, Utc::now() - Duration::days(1), "+1 more: a filling");
    for call in [&first, &second, &third] {
        store.create_call(call).await.unwrap();
    }
    host.consent("demo", &[callable(161).as_str()]).await;
    let (_, consent) =
        host.send(Method::POST, "/api/consents", Some(DEMO_TOKEN), Some(&json!({"phoneNumber": number, "basis": "prior_express", "source": "-intake"}))).await;
    assert_eq!(
        host.send(Method::POST, "/api/dnc", Some(DEMO_TOKEN), Some(&json!({"phoneNumber": number, "reason": "asked by letter"}))).await.0,
        StatusCode::CREATED
    );
    let path = "/api/patients/%2B12125550160";

    let (status, page) = host.get(&format!("{path}?limit=2"), Some(DEMO_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["phoneNumber"], number);
    let ids: Vec<&str> = page["calls"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["visit-3", "visit-2"], "newest first");
    assert_eq!(page["consents"][0]["id"], consent["id"]);
    assert_eq!(page["doNotCall"]["reason"], "asked by letter");
    assert_eq!(page["doNotCallHistory"][0]["action"], "added");
    let (_, rest) = host.get(&format!("{path}?limit=2&cursor={}", page["nextCursor"].as_str().unwrap()), Some(DEMO_TOKEN)).await;
    assert_eq!(rest["calls"][0]["id"], "visit-1");
    assert!(rest["nextCursor"].is_null());
    assert_error(&host.get("/api/patients/not-a-number", Some(DEMO_TOKEN)).await, StatusCode::BAD_REQUEST, "invalid_phone_number");
    assert_error(&host.get(&format!("{path}?limit=101"), Some(DEMO_TOKEN)).await, StatusCode::BAD_REQUEST, "invalid_limit");
    // Another practice sees none of this patient's records, and erasing there changes nothing here.
    let (_, elsewhere) = host.get(path, Some(callops_tests::OTHER_TOKEN)).await;
    assert_eq!((elsewhere["calls"].clone(), elsewhere["consents"].clone(), elsewhere["doNotCall"].clone()), (json!([]), json!([]), Value::Null));
    let (_, nothing) = host.send(Method::DELETE, path, Some(callops_tests::OTHER_TOKEN), None).await;
    assert_eq!((nothing["erasedCalls"].clone(), nothing["cancelledCalls"].clone(), nothing["records"]["items"].clone()), (json!(0), json!(0), json!(0)));
    assert!(store.get_call("demo", "visit-1").await.unwrap().unwrap().call.has_content());

    // The export: every call, consent and entry, as JSON and as CSV safe to open.
    let (status, export) = host.get(&format!("{path}/export?format=json"), Some(DEMO_TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(export["calls"].as_array().unwrap().len(), 3);
    assert_eq!(export["calls"][2]["transcript"], first.transcript.clone().unwrap());
    let response = host.request(Method::GET, &format!("{path}/export?format=csv"), Some(DEMO_TOKEN)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(response.headers()["content-disposition"].to_str().unwrap().contains("patient-12125550160.csv"));
    assert_eq!(response.headers()["cache-control"], "no-store");
    let text = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    let rows: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("{name} in {header:?}"));
    assert_eq!(rows.iter().filter(|r| r[0] == "call").count(), 3);
    assert_eq!(rows.iter().filter(|r| r[0] == "consent").count(), 1);
    assert_eq!(rows.iter().filter(|r| r[0] == "doNotCall").count(), 1);
    for field in ["id", "transcript", "summary", "recordingUrl", "costCents", "outcome", "callStartedAt", "customerName", "basis", "source"] {
        column(field);
    }
    let cells: Vec<&String> = rows.iter().flatten().collect();
    assert!(cells.iter().all(|c| !c.starts_with(['=', '+', '-', '@', '\t', '\r'])), "no cell a spreadsheet would run");
    let transcripts: Vec<&str> = rows.iter().filter(|r| r[0] == "call").map(|r| r[column("transcript")].as_str()).collect();
    assert!(transcripts.contains(&"'=HYPERLINK(\"http://evil.example\",\"click\")"), "{transcripts:?}");
    assert!(transcripts.contains(&"'+1 more: a filling"));
    assert!(rows.iter().any(|r| r[column("phoneNumber")] == "'+12125550160"));
    assert_error(&host.get(&format!("{path}/export?format=xml"), Some(DEMO_TOKEN)).await, StatusCode::BAD_REQUEST, "invalid_format");

    // A call still waiting for the number goes too (cancelled), and one under way stops the erasure.
    // Another patient's number (ending 0161, so never the one above, whichever zone is in its morning).
    let patient = callable(161);
    let (status, waiting) = host
        .send(
            Method::POST,
            "/api/outbound/schedule",
            Some(DEMO_TOKEN),
            Some(&json!({"phoneNumber": patient, "callType": "OUTBOUND_FOLLOWUP", "scheduledAt": (Utc::now() + Duration::hours(2)).to_rfc3339(), "voiceAgentId": "front-desk"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{waiting}");
    let mut live = ended_call("live-call", &patient, Utc::now(), "User: hello?");
    live.status = CallStatus::InProgress;
    store.create_call(&live).await.unwrap();
    let patient_path = format!("/api/patients/{}", patient.replace('+', "%2B"));
    assert_error(&host.send(Method::DELETE, &patient_path, Some(DEMO_TOKEN), None).await, StatusCode::CONFLICT, "call_in_progress");
    assert!(store.get_call("demo", waiting["id"].as_str().unwrap()).await.unwrap().unwrap().call.status == CallStatus::Scheduled, "nothing changed");

    let before = figures(&host).await;
    let (status, erased) = host.send(Method::DELETE, path, Some(DEMO_TOKEN), None).await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    assert_eq!((erased["erasedCalls"].clone(), erased["cancelledCalls"].clone()), (json!(3), json!(0)));
    assert_eq!((erased["records"]["consents"].clone(), erased["records"]["stillOnDoNotCall"].clone()), (json!(1), json!(true)), "{erased}");
    assert_eq!(erased["backups"]["pointInTimeRecoveryDays"], 0, "the embedded engine keeps no point-in-time backups: {erased}");
    assert_eq!(figures(&host).await, before, "analytics are exactly as they were");
    rollups_clean(store).await;
    let (_, after) = host.get(path, Some(DEMO_TOKEN)).await;
    assert_eq!(after["calls"], json!([]), "no call is the number's any more");
    assert_eq!((after["consents"].clone(), after["doNotCall"].clone()), (json!([]), Value::Null), "nothing names the number");
    // What must hold still holds, under the number's pseudonym: it is never called.
    assert!(store.is_on_do_not_call("demo", number).await.unwrap(), "still on the list");
    let proof = store.erased_mark("demo", number).await.unwrap();
    assert!(proof.do_not_call_since.is_some() && proof.opted_out_at.is_some(), "{proof:?}");
    let _ = consent;
    let mut tokens = Vec::new();
    for id in ["visit-1", "visit-2", "visit-3"] {
        let call = store.get_call("demo", id).await.unwrap().unwrap().call;
        assert!(call.phone_number.starts_with("erased-") && !call.phone_number.contains("2125550160"), "{}", call.phone_number);
        assert!(!call.has_content() && call.customer_name.is_none());
        assert_eq!(call.content_removed.map(|r| r.reason), Some(callops_domain::call::RemovalReason::Erasure));
        assert_eq!((call.outcome, call.cost_cents, call.duration), (Some(CallOutcome::Booked), Some(42), Some(95)));
        tokens.push(call.phone_number);
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 1, "one token for the patient's calls");
    // The trail is kept, and says what went without saying what replaced it.
    let trail = audit(&host, "entityId=visit-2").await;
    assert_eq!(actions(&trail)[0], "call.erased");
    let all = audit(&host, "").await;
    // Entries about the patient name the number's pseudonym, never the number.
    let pseudonym = store.pseudonym("demo", number);
    assert!(all.iter().any(|e| e["action"] == "patient.erased" && e["entityId"] == pseudonym.as_str() && e["entityType"] == "patient"));
    assert!(all.iter().any(|e| e["action"] == "patient.exported" && e["changes"]["format"] == "csv"));
    assert!(all.iter().any(|e| e["action"] == "patient.read" && e["entityId"] == pseudonym.as_str()));
    assert!(!all.iter().any(|e| e.to_string().contains("2125550160")), "no entry holds the number");
    let by_number = audit(&host, &format!("entityId={}", number.replace('+', "%2B"))).await;
    assert!(by_number.iter().any(|e| e["action"] == "patient.erased"), "an admin still finds a number's entries by the number");
    assert!(!all.iter().any(|e| e.to_string().contains(&tokens[0])), "no entry ties the token to the number");
    // Erasing again finds nothing; the waiting call of the other number, once the call under way ends, goes cancelled.
    let (_, again) = host.send(Method::DELETE, path, Some(DEMO_TOKEN), None).await;
    assert_eq!((again["erasedCalls"].clone(), again["records"]["stillOnDoNotCall"].clone()), (json!(0), json!(true)), "{again}");
    let stored = store.get_call("demo", "live-call").await.unwrap().unwrap();
    let mut ended = stored.call.clone();
    ended.status = CallStatus::Completed;
    store.update_call(&stored, &ended).await.unwrap();
    let (status, erased) = host.send(Method::DELETE, &patient_path, Some(DEMO_TOKEN), None).await;
    assert_eq!((status, erased["erasedCalls"].clone(), erased["cancelledCalls"].clone()), (StatusCode::OK, json!(2), json!(1)), "{erased}");
    let cancelled = store.get_call("demo", waiting["id"].as_str().unwrap()).await.unwrap().unwrap().call;
    assert_eq!((cancelled.status, cancelled.ended_reason.as_deref()), (CallStatus::Cancelled, Some("records-erased")));
    assert!(cancelled.phone_number.starts_with("erased-"));
    rollups_clean(store).await;
}

#[tokio::test]
async fn audit_entries_outlive_six_years_and_no_longer() {
    let (engine, store) = callops_aws::embedded::fresh_store().await;
    let caller = callops_domain::caller::Caller::system("demo", "test");
    let at = |years: i64| Utc::now() - Duration::days(365 * years + years / 4);
    let old = callops_domain::records::audit::AuditEntry::new(
        &caller,
        callops_domain::records::audit::Action::PatientRead,
        "+12125550100",
        Default::default(),
        at(7),
    );
    let kept = callops_domain::records::audit::AuditEntry::new(
        &caller,
        callops_domain::records::audit::Action::PatientRead,
        "+12125550100",
        Default::default(),
        at(5),
    );
    store.record_audit(&[old.clone(), kept.clone()]).await.unwrap();
    let read = |store: DynamoStore| async move { store.audit_entries("demo", time::Span::ALL, &Default::default(), 10, None, "").await.unwrap().items };
    assert_eq!(read(store.clone()).await.len(), 2);
    assert_eq!(engine.sweep_expired().await.unwrap(), 1, "the engine's time to live removes the entry past six years");
    let left = read(store.clone()).await;
    assert_eq!(left.len(), 1);
    let as_kept = callops_domain::records::audit::AuditEntry {
        entity_id: store.pseudonym("demo", "+12125550100"),
        seq: 2,
        prev: left[0].prev.clone(),
        prev_at: Some(old.at),
        hash: left[0].hash.clone(),
        ..kept
    };
    assert_eq!(left, vec![as_kept], "kept with the number's pseudonym, second in the chain");
    // The oldest went by the time to live, past the retention: the chain still holds.
    assert!(store.verify_audit("demo", callops_domain::records::audit::MIN_RETENTION_DAYS, Utc::now()).await.unwrap().ok);
}

#[tokio::test]
async fn the_audit_log_is_a_chain_that_proves_nothing_was_changed_or_removed() {
    // Through the host: every change and read is chained, and the admin's walk says the chain holds.
    let host = TestHost::start(true).await;
    let number = callable(330);
    host.consent("demo", &[&number]).await;
    let ask = json!({"phoneNumber": number, "callType": "OUTBOUND_FOLLOWUP", "scheduledAt": (Utc::now() + Duration::hours(2)).to_rfc3339(), "voiceAgentId": "front-desk"});
    let (status, call) = host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&ask)).await;
    assert_eq!(status, StatusCode::CREATED, "{call}");
    host.get(&format!("/api/calls/{}", call["id"].as_str().unwrap()), Some(DEMO_STAFF_TOKEN)).await;
    assert_error(&host.get("/api/audit/verify", Some(DEMO_STAFF_TOKEN)).await, StatusCode::FORBIDDEN, "forbidden");
    let (status, walked) = host.get("/api/audit/verify", Some(DEMO_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{walked}");
    assert_eq!((walked["ok"].clone(), walked["problems"].clone()), (json!(true), json!([])), "{walked}");
    assert!(walked["entries"].as_u64().unwrap() >= 3 && walked["lastSeq"] == walked["headSeq"] && walked["firstSeq"] == 1, "{walked}");
    let entries = audit(&host, "").await;
    assert!(entries.iter().all(|e| e["seq"].as_u64().unwrap() > 0 && e["hash"].as_str().unwrap().len() == 64), "every entry is chained");

    // In the table: an entry changed, one removed, the newest removed: each is found.
    let (_engine, store) = callops_aws::embedded::fresh_store().await;
    let caller = callops_domain::caller::Caller::system("demo", "test");
    let entry = |action| callops_domain::records::audit::AuditEntry::new(&caller, action, "settings", Default::default(), Utc::now());
    let written: Vec<_> = (0..5).map(|_| entry(callops_domain::records::audit::Action::SettingsUpdated)).collect();
    store.record_audit(&written[..2]).await.unwrap();
    store.record_audit(&written[2..]).await.unwrap();
    let walk = |store: DynamoStore| async move { store.verify_audit("demo", 2192, Utc::now()).await.unwrap() };
    let whole = walk(store.clone()).await;
    assert!(whole.ok && whole.entries == 5 && whole.last_seq == 5 && whole.head_seq == 5, "{whole:?}");
    // Walked while writers append, the chain holds up to the head the walk read first.
    let (writing, walking) = (store.clone(), store.clone());
    let later: Vec<_> = (0..20).map(|_| entry(callops_domain::records::audit::Action::SettingsUpdated)).collect();
    let writer = tokio::spawn(async move {
        for one in later {
            writing.record_audit(&[one]).await.unwrap();
        }
    });
    while !writer.is_finished() {
        let during = walk(walking.clone()).await;
        assert!(during.ok, "a walk during writes: {during:?}");
    }
    writer.await.unwrap();
    // Back to the five entries the rest of this test tampers with.
    let (_engine, store) = callops_aws::embedded::fresh_store().await;
    store.record_audit(&written[..2]).await.unwrap();
    store.record_audit(&written[2..]).await.unwrap();
    let items = |store: DynamoStore| async move {
        store
            .client()
            .query()
            .table_name("callops")
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S("ORG#demo#AUDIT".into()))
            .send()
            .await
            .unwrap()
            .items
            .unwrap()
    };
    let all = items(store.clone()).await;
    let key = |item: &std::collections::HashMap<String, AttributeValue>| (item["PK"].clone(), item["SK"].clone());
    let (pk, sk) = key(&all[1]);
    store
        .client()
        .update_item()
        .table_name("callops")
        .key("PK", pk)
        .key("SK", sk)
        .update_expression("SET entityId = :x")
        .expression_attribute_values(":x", AttributeValue::S("someone-else".into()))
        .send()
        .await
        .unwrap();
    let changed = walk(store.clone()).await;
    assert!(!changed.ok && changed.problems.iter().any(|p| p.contains("was changed")), "{changed:?}");
    let (pk, sk) = key(&all[2]);
    store.client().delete_item().table_name("callops").key("PK", pk).key("SK", sk).send().await.unwrap();
    let removed = walk(store.clone()).await;
    assert!(removed.problems.iter().any(|p| p.contains("missing")), "{removed:?}");
    let (pk, sk) = key(&all[4]);
    store.client().delete_item().table_name("callops").key("PK", pk).key("SK", sk).send().await.unwrap();
    let newest = walk(store).await;
    assert!(newest.problems.iter().any(|p| p.contains("newest were removed")), "{newest:?}");
}

/// Every item of the table, as text (each attribute's value), to search.
async fn every_item(store: &DynamoStore) -> Vec<String> {
    let mut items = Vec::new();
    let mut pages = store.client().scan().table_name("callops").into_paginator().send();
    while let Some(page) = pages.next().await {
        for item in page.unwrap().items.unwrap_or_default() {
            items.push(format!("{item:?}"));
        }
    }
    items
}

/// Every file of a data dir, as bytes (the database, its write-ahead log, its shared memory).
fn every_file(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A patient with everything a practice keeps about them: calls with their
/// words, a scheduled call with their name, notes and prompt values, a
/// consent, an opt-out with their words, inconvenient times, and reads.
/// The needles are what must not be found once they are erased.
async fn patient_everywhere(host: &TestHost, number: &str) -> Vec<String> {
    let store = host.host.store();
    let mut visit = ended_call("erase-visit-1", number, Utc::now() - Duration::days(2), "User: my name is Zelda Quixote, the crown on tooth 14 aches");
    visit.customer_name = Some("Zelda Quixote".into());
    visit.insurance_provider = Some("Quixote Mutual Dental".into());
    visit.call_notes = Some("bring the mouthguard-77".into());
    store.create_call(&visit).await.unwrap();
    let (status, consent) = host
        .send(
            Method::POST,
            "/api/consents",
            Some(DEMO_TOKEN),
            Some(&json!({"phoneNumber": number, "basis": "prior_express_written", "source": "signed by Zelda Quixote at intake"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{consent}");
    let ask = json!({"phoneNumber": number, "callType": "OUTBOUND_FOLLOWUP", "scheduledAt": (Utc::now() + Duration::days(3)).to_rfc3339(), "voiceAgentId": "front-desk",
        "customerName": "Zelda Quixote", "notes": "bring the mouthguard-77", "variables": {"balance": "Q-77341"}, "moveToCallingHours": true});
    let (status, scheduled) = host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&ask)).await;
    assert_eq!(status, StatusCode::CREATED, "{scheduled}");
    let path = format!("/api/numbers/{}/inconvenient-times", number.replace('+', "%2B"));
    let (status, times) = host.send(Method::PUT, &path, Some(DEMO_TOKEN), Some(&json!({"times": [{"days": ["MON"], "start": "08:00", "end": "10:00"}]}))).await;
    assert!(status.is_success(), "{times}");
    let (status, listed) = host
        .send(Method::POST, "/api/dnc", Some(DEMO_TOKEN), Some(&json!({"phoneNumber": number, "channel": "sms", "reason": "Zelda Quixote texted STOP"})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{listed}");
    let encoded = number.replace('+', "%2B");
    for read in [format!("/api/patients/{encoded}"), format!("/api/patients/{encoded}/export?format=json"), format!("/api/dnc/{encoded}/history"), path] {
        let (status, body) = host.get(&read, Some(DEMO_TOKEN)).await;
        assert_eq!(status, StatusCode::OK, "{read}: {body}");
    }
    let digits = number.trim_start_matches('+').to_string();
    vec![number.to_string(), digits[1..].to_string(), "Zelda".into(), "Quixote".into(), "Q-77341".into(), "mouthguard-77".into(), "tooth 14".into()]
}

#[tokio::test]
async fn an_erased_patient_is_found_in_no_answer_no_stored_item_and_no_file_and_stays_uncalled() {
    let dir = tempfile::tempdir().unwrap();
    let host = TestHost::start_with(callops_tests::host_options(true, Some(dir.path().to_path_buf()))).await;
    let store = host.host.store();
    let number = callable(7341);
    let needles = patient_everywhere(&host, &number).await;
    let items = every_item(store).await.join("\n");
    assert!(needles.iter().all(|n| items.contains(n.as_str())), "before: every needle is stored somewhere");

    let encoded = number.replace('+', "%2B");
    let (status, erased) = host.send(Method::DELETE, &format!("/api/patients/{encoded}"), Some(DEMO_TOKEN), None).await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    assert_eq!(
        (erased["erasedCalls"].clone(), erased["cancelledCalls"].clone(), erased["records"]["stillOnDoNotCall"].clone()),
        (json!(2), json!(0), json!(true)),
        "the opt-out cancelled the waiting call already"
    );

    // Every API answer, the audit log as an admin reads it included, page by page.
    let window = format!("startDate={}&endDate={}", (Utc::now() - Duration::days(30)).format("%Y-%m-%d"), (Utc::now() + Duration::days(30)).format("%Y-%m-%d"));
    let mut answers = Vec::new();
    for route in callops::gateway::routes().iter().filter(|r| r.authorized && r.key.starts_with("GET ")) {
        let path = route.key[4..].replace("{phoneNumber}", &encoded).replace("{id}", "erase-visit-1");
        let query = if path.contains('?') { String::new() } else { format!("?{window}&limit=100") };
        let (status, mut body) = host.get(&format!("{path}{query}"), Some(DEMO_TOKEN)).await;
        assert!(status.is_success() || status.is_client_error(), "{path}: {status} {body}");
        // A route given the number answers about it by it: that echo is the request's, not a record.
        if body.get("phoneNumber").and_then(Value::as_str) == Some(number.as_str()) {
            body["phoneNumber"] = Value::Null;
        }
        answers.push((route.key, body.to_string()));
    }
    let mut cursor: Option<String> = None;
    loop {
        let query = cursor.as_ref().map_or(String::new(), |c| format!("&cursor={c}"));
        let (_, page) = host.get(&format!("/api/audit?limit=200{query}"), Some(DEMO_TOKEN)).await;
        answers.push(("GET /api/audit (every page)", page.to_string()));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    for (route, body) in &answers {
        for needle in &needles {
            assert!(!body.contains(needle.as_str()), "{route} holds {needle:?}: {body}");
        }
    }
    // Every stored item.
    for item in every_item(store).await {
        for needle in &needles {
            assert!(!item.contains(needle.as_str()), "a stored item holds {needle:?}: {item}");
        }
    }
    // The engine's files: nothing left in free pages or the write-ahead log.
    for (file, bytes) in every_file(dir.path()) {
        for needle in needles.iter().skip(2) {
            assert!(!holds(&bytes, needle), "{file} holds {needle:?}");
        }
        assert!(!holds(&bytes, &number), "{file} holds the number");
    }

    // And the number is never called: it stays on the list under its pseudonym.
    let ask = json!({"phoneNumber": number, "callType": "OUTBOUND_FOLLOWUP", "scheduledAt": (Utc::now() + Duration::days(3)).to_rfc3339(), "voiceAgentId": "front-desk", "moveToCallingHours": true});
    assert_error(&host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&ask)).await, StatusCode::CONFLICT, "on_do_not_call_list");
    let other = callable(7343);
    host.consent("demo", &[&other]).await;
    let campaign =
        json!({"name": "After the erasure", "voiceAgentId": "front-desk", "callsPerMinute": 10, "contacts": [{"number": other}, {"number": number}]});
    let (status, created) = host.send(Method::POST, "/api/campaigns", Some(DEMO_TOKEN), Some(&campaign)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let codes: Vec<&str> = created["rejected"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
    assert_eq!((created["accepted"].clone(), codes), (json!(1), vec!["on_do_not_call_list"]), "a campaign's check of many numbers finds it too");
    let (status, check) =
        host.get(&format!("/api/compliance/check?phoneNumber={encoded}&callType=OUTBOUND_FOLLOWUP&voiceAgentId=front-desk"), Some(DEMO_TOKEN)).await;
    assert_eq!((status, check["allowed"].clone()), (StatusCode::OK, json!(false)), "{check}");
    // Off the list by an admin, it is still not callable on the consent it gave before it opted out.
    let (status, _) = host.send(Method::DELETE, &format!("/api/dnc/{encoded}?reason=asked%20again"), Some(DEMO_TOKEN), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!store.is_on_do_not_call("demo", &number).await.unwrap());
    let old =
        json!({"phoneNumber": number, "basis": "prior_express_written", "source": "re-import", "capturedAt": (Utc::now() - Duration::days(1)).to_rfc3339()});
    assert_eq!(host.send(Method::POST, "/api/consents", Some(DEMO_TOKEN), Some(&old)).await.0, StatusCode::CREATED);
    assert_error(&host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&ask)).await, StatusCode::BAD_REQUEST, "no_consent");
    assert!(store.verify_audit("demo", 2192, Utc::now()).await.unwrap().ok, "the log still holds, every entry in place");
}

#[tokio::test]
async fn a_restore_from_a_backup_gets_its_erasures_again_from_the_audit_log() {
    let live = tempfile::tempdir().unwrap();
    let backup = tempfile::tempdir().unwrap();
    let number = callable(7342);
    let needles = {
        let host = TestHost::start_with(callops_tests::host_options(true, Some(live.path().to_path_buf()))).await;
        patient_everywhere(&host, &number).await
    };
    // The backup is taken, then the patient is erased.
    for (name, bytes) in every_file(live.path()) {
        let name = std::path::Path::new(&name).file_name().unwrap().to_owned();
        if name != "lock" {
            std::fs::write(backup.path().join(name), bytes).unwrap();
        }
    }
    {
        let host = TestHost::start_with(callops_tests::host_options(false, Some(live.path().to_path_buf()))).await;
        let (status, erased) = host.send(Method::DELETE, &format!("/api/patients/{}", number.replace('+', "%2B")), Some(DEMO_TOKEN), None).await;
        assert_eq!(status, StatusCode::OK, "{erased}");
        assert!(erased["backups"]["note"].as_str().is_some());
    }
    // Restored, the backup holds the patient again; the live log says they were erased.
    let open = |dir: std::path::PathBuf| async move {
        let engine = callops_aws::embedded::EmbeddedDynamo::on_disk(&dir).await.unwrap();
        let store = DynamoStore::new(engine.client(), "callops").with_pseudonym_key(callops::pseudonym_key_of(&dir).unwrap());
        (engine, store)
    };
    let (restored_engine, restored) = open(backup.path().to_path_buf()).await;
    let (_live_engine, log) = open(live.path().to_path_buf()).await;
    assert!(every_item(&restored).await.join("\n").contains("Q-77341"), "the backup holds what was erased");
    let done = callops_service::records::reapply_erasures(&restored, &log, "demo", Utc::now()).await.unwrap();
    assert_eq!((done.erasures, done.numbers, done.calls, done.failed.len()), (1, 1, 2, 0), "{done:?}");
    restored_engine.scrub().await.unwrap();
    for item in every_item(&restored).await {
        for needle in &needles {
            assert!(!item.contains(needle.as_str()), "the restored table holds {needle:?}: {item}");
        }
    }
    for (file, bytes) in every_file(backup.path()) {
        assert!(!holds(&bytes, "Q-77341") && !holds(&bytes, "Quixote"), "{file} still holds the patient's words");
    }
    assert!(restored.is_on_do_not_call("demo", &number).await.unwrap(), "and the restored number stays on the list");
    let again = callops_service::records::reapply_erasures(&restored, &log, "demo", Utc::now()).await.unwrap();
    assert_eq!((again.numbers, again.calls), (0, 0), "nothing left to erase: {again:?}");
}
