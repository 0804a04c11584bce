//! Faults, end to end: the local host talks to its engine through a proxy
//! that throttles, fails and loses answers the way DynamoDB can, while Vapi
//! times out. The SDK retries what is retryable; a webhook that could not be
//! stored answers 5xx and leaves nothing half-written; the reconciler
//! recovers what the lost messages left behind.

use std::{collections::HashMap, time::Duration};

use aws_sdk_dynamodb::types::AttributeValue;
use callops_aws::store::{AgentStore, CallStore, RollupCheckStore};
use callops_aws::{DynamoStore, embedded::EmbeddedDynamo};
use callops_dialer::{DialRequest, DialSettings, reconcile::ReconcileSettings};
use callops_domain::{CallLog, CallOutcome, CallStatus};
use callops_tests::{
    DEMO_TOKEN, DEMO_VAPI_SECRET, TestHost, dialed_call,
    fake_vapi::{Answer, FakeVapi},
    faults::{Faults, FaultyDynamo, ProxiedHost},
    vapi_fixture,
};
use chrono::Utc;
use futures::{StreamExt, stream};
use reqwest::StatusCode;
use serde_json::{Value, json};

type Item = HashMap<String, AttributeValue>;

/// A host whose every DynamoDB request goes through a fault proxy, talking
/// to a fake Vapi; and a store on the engine itself, for the test's own reads.
async fn start(dial: DialSettings) -> (TestHost, FaultyDynamo, DynamoStore, FakeVapi, EmbeddedDynamo) {
    let ProxiedHost { host, proxy, fake, engine } = ProxiedHost::start(false, |options| options.dial = dial).await;
    let direct = DynamoStore::new(engine.client(), callops::TABLE);
    (host, proxy, direct, fake, engine)
}

fn quick_dial() -> DialSettings {
    DialSettings {
        busy_delay: Duration::from_secs(1),
        busy_jitter: Duration::ZERO,
        max_posts: 3,
        backoff: Duration::from_millis(50),
        max_wait: Duration::from_secs(2),
        request_timeout: Duration::from_millis(300),
    }
}

/// Every item in the table, read past the proxy.
async fn table_items(engine: &EmbeddedDynamo) -> Vec<Item> {
    let pages = engine.client().scan().table_name(callops::TABLE).into_paginator().items().send().collect::<Vec<_>>().await;
    pages.into_iter().map(|item| item.expect("the engine scans")).collect()
}

async fn webhook(host: &TestHost, body: String) -> (StatusCode, Value) {
    let request = host
        .request(reqwest::Method::POST, "/webhooks/vapi", None)
        .header("x-vapi-secret", DEMO_VAPI_SECRET)
        .header("content-type", "application/json")
        .body(body);
    let (status, body, _) = callops_tests::read(request).await;
    (status, body)
}

/// The end-of-call report for call `i`, its cost `i + 1` cents.
fn report(id: &str, i: usize) -> String {
    vapi_fixture("end-of-call-report-booked", id, &format!("vapi-{id}")).replacen("\"cost\": 0.1234", &format!("\"cost\": {}", (i + 1) as f64 / 100.0), 1)
}

/// What Vapi's `GET /call/{id}` says of the same ended call.
fn vapi_call(id: &str, i: usize) -> Value {
    let message: Value = serde_json::from_str(&report(id, i)).unwrap();
    let message = &message["message"];
    let mut call = message["call"].clone();
    call["status"] = json!("ended");
    for field in ["endedReason", "startedAt", "endedAt", "cost", "artifact", "analysis"] {
        call[field] = message[field].clone();
    }
    call
}

/// Asserts that `call` is call `i` as its end-of-call report leaves it.
#[track_caller]
fn assert_finished(call: &CallLog, i: usize) {
    assert_eq!(
        (call.status, call.outcome, call.cost_cents, call.duration, call.transcript.is_some(), call.summary.as_deref()),
        (CallStatus::Completed, Some(CallOutcome::Booked), Some(i as i64 + 1), Some(145), true, Some("Maria booked a cleaning for Tuesday at 10.")),
        "{}",
        call.id
    );
}

#[tokio::test]
async fn under_dynamodb_faults_webhooks_store_all_or_nothing_and_the_reconciler_recovers_the_rest() {
    let (host, proxy, direct, fake, engine) = start(quick_dial()).await;
    // The calls are dated 2024: keep their content as long as a practice may, so the reconciler's retention round leaves it.
    let (status, _) =
        host.send(reqwest::Method::PUT, "/api/settings", Some(callops_tests::DEMO_TOKEN), Some(&json!({"retention": {"contentDays": 3653}}))).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<String> = (0..60).map(|i| format!("fault-{i:02}")).collect();
    let mut seeded = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        let mut call = dialed_call(id);
        call.vapi_call_id = Some(format!("vapi-{id}"));
        seeded.insert(id.clone(), direct.create_call(&call).await.unwrap());
        fake.make_call(vapi_call(id, i));
    }
    let deliver = |range: std::ops::Range<usize>| {
        let bodies: Vec<String> = range.map(|i| report(&ids[i], i)).collect();
        let host = &host;
        async move { stream::iter(bodies.into_iter().map(|body| webhook(host, body))).buffered(8).collect::<Vec<_>>().await }
    };

    // 1. Every request's first attempt is throttled or fails: the SDK tries again, and every delivery lands.
    proxy.set(Faults::FirstAttempts);
    let before = proxy.counts();
    let answers = deliver(0..15).await;
    let after = proxy.counts();
    assert!(answers.iter().all(|(status, _)| *status == StatusCode::OK), "{answers:?}");
    assert!(after.injected - before.injected >= 15 * 3, "each delivery's reads and its write failed once: {after:?}");
    let stored = direct.calls_by_id("demo", &ids[..15]).await.unwrap();
    for (i, id) in ids[..15].iter().enumerate() {
        let call = &stored[id].call;
        assert_finished(call, i);
    }

    // 2. Writes land but their answers are lost: the retry finds the call
    //    already written, and nothing is counted twice.
    proxy.set(Faults::LostAnswers(vec!["TransactWriteItems"]));
    let before = proxy.counts();
    let answers = deliver(15..30).await;
    assert!(answers.iter().all(|(status, _)| *status == StatusCode::OK), "{answers:?}");
    assert!(proxy.counts().lost - before.lost >= 15, "{:?}", proxy.counts());
    let report = direct.verify_rollups().await.unwrap();
    assert!(report.drift.is_empty(), "{:?}", report.drift);

    // 3. Writes are down: each delivery answers 5xx and nothing in the table changes.
    proxy.set(Faults::Outage(vec!["TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"]));
    let table_before = table_items(&engine).await;
    let answers = deliver(30..45).await;
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        assert_eq!(body["error"]["code"], "internal_error", "{body}");
    }
    let table_after = table_items(&engine).await;
    assert_eq!(table_after.len(), table_before.len(), "no item written");
    assert!(table_before.iter().all(|item| table_after.contains(item)), "no item changed");
    let untouched = direct.calls_by_id("demo", &ids[30..45]).await.unwrap();
    for id in &ids[30..45] {
        assert_eq!(untouched[id], seeded[id], "{id} is as it was, version and all");
    }

    // 4. Any request may fail, many attempts do: each call is finished whole, or left as it was.
    // A delivery makes about 14 requests (the audit chain's head read before each audited write among them),
    // each with the SDK's three attempts: at 40% an attempt, about 4 in 10 deliveries land and the rest
    // fail somewhere along the way (at 60%, 3 in 100 would land: none, often, in 15).
    proxy.set(Faults::Random { rate: 0.4, seed: 20261127 });
    let answers = deliver(45..60).await;
    assert!(answers.iter().all(|(status, _)| matches!(*status, StatusCode::OK | StatusCode::INTERNAL_SERVER_ERROR)), "{answers:?}");
    let failed = answers.iter().filter(|(status, _)| status.is_server_error()).count();
    assert!(failed > 0 && failed < answers.len(), "some deliveries land and some do not: {failed} of {} failed", answers.len());
    let stored = direct.calls_by_id("demo", &ids[45..60]).await.unwrap();
    for ((status, _), (i, id)) in answers.iter().zip(ids.iter().enumerate().skip(45)) {
        let call = &stored[id];
        if *status == StatusCode::OK {
            assert_finished(&call.call, i);
        } else {
            assert_eq!(*call, seeded[id], "{id} answered {status} and is as it was");
        }
    }
    let report = direct.verify_rollups().await.unwrap();
    assert!(report.drift.is_empty(), "{:?}", report.drift);
    let unfinished = stored.values().filter(|s| s.call.status != CallStatus::Completed).count();

    // 5. Faults over. The reconciler asks Vapi about the calls whose reports were lost and finishes them.
    proxy.set(Faults::None);
    let settings = ReconcileSettings { dialing: Duration::ZERO, in_progress: Duration::ZERO, overdue: Duration::from_secs(600) };
    let done = host.host.dialer().reconcile(&host.host.calls(), &settings, Utc::now()).await.unwrap();
    assert_eq!(done.finished, 15 + unfinished, "{done:?}");
    let stored = direct.calls_by_id("demo", &ids).await.unwrap();
    for (i, id) in ids.iter().enumerate() {
        let call = &stored[id].call;
        assert_finished(call, i);
    }
    let report = direct.verify_rollups().await.unwrap();
    assert!(report.drift.is_empty(), "{:?}", report.drift);
    let (status, totals) = host.get("/api/analytics/calls?startDate=2024-07-27&endDate=2024-07-28&agentId=front-desk", Some(DEMO_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{totals}");
    assert_eq!(totals["totalCalls"], 60, "{totals}");
    assert_eq!(totals["cost"]["totalCents"], (1..=60).sum::<i64>(), "{totals}");
    host.stop().await;
}

/// A call due now, stored past the proxy.
async fn due_call(store: &DynamoStore, number: &str) -> DialRequest {
    let call = callops_tests::due_call("front-desk", number);
    callops_tests::consent(store, "demo", &[number]).await;
    store.create_call(&call).await.unwrap();
    DialRequest { org_id: "demo".into(), call_id: call.id, attempt: 1 }
}

#[tokio::test]
async fn under_dynamodb_faults_and_vapi_timeouts_every_call_is_placed_exactly_once() {
    let (host, proxy, direct, fake, _engine) = start(DialSettings { max_posts: 6, ..quick_dial() }).await;
    // An account with lines for all ten at once beside the two kept for patients calling in.
    let room = serde_json::json!({"vapiConcurrencyLimit": 12, "reservedInboundSlots": 2});
    assert_eq!(host.send(reqwest::Method::PUT, "/api/settings", Some(DEMO_TOKEN), Some(&room)).await.0, StatusCode::OK);
    let mut requests = Vec::new();
    for i in 0..10 {
        requests.push(due_call(&direct, &callops_tests::callable(100 + i)).await);
    }
    // Vapi answers some calls only after the dialer stopped waiting, having made some of them.
    let late = |makes_call| Answer { delay: Duration::from_millis(800), makes_call, ..Answer::created() };
    fake.script([late(true), late(false), Answer::created(), late(true), late(false), Answer::created(), late(true)]);

    // While the triggers fire, a quarter of DynamoDB operations fail, retries and all.
    proxy.set(Faults::FailedOperations { rate: 0.25, seed: 20261127 });
    let dialer = host.host.dialer().clone();
    let results: Vec<_> = stream::iter(requests.iter().cloned().map(|request| {
        let dialer = dialer.clone();
        async move { dialer.dial(request).await }
    }))
    .buffer_unordered(4)
    .collect()
    .await;
    let triggered_ok = results.iter().filter(|r| r.is_ok()).count();
    assert!(triggered_ok < requests.len(), "some triggers met a failed operation: {:?}", proxy.counts());

    // Faults over: the reconciler records what Vapi made and requeues what it never saw, until every call is placed.
    proxy.set(Faults::None);
    let settings = ReconcileSettings { dialing: Duration::ZERO, in_progress: Duration::from_secs(3600), overdue: Duration::ZERO };
    let ids: Vec<String> = requests.iter().map(|r| r.call_id.to_string()).collect();
    let mut placed = false;
    for _ in 0..10 {
        host.host.dialer().reconcile(&host.host.calls(), &settings, Utc::now() + chrono::Duration::seconds(1)).await.unwrap();
        let stored = direct.calls_by_id("demo", &ids).await.unwrap();
        if stored.values().all(|s| s.call.vapi_call_id.is_some()) {
            placed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let stored = direct.calls_by_id("demo", &ids).await.unwrap();
    assert!(
        placed,
        "{triggered_ok} triggers succeeded; calls: {:?}",
        stored.values().map(|s| (s.call.status, s.call.vapi_call_id.clone())).collect::<Vec<_>>()
    );

    // One phone call per call, and it is the one recorded.
    let made = fake.calls();
    for id in &ids {
        let for_call: Vec<&Value> = made.iter().filter(|c| c["assistantOverrides"]["metadata"]["callId"] == id.as_str()).collect();
        assert_eq!(for_call.len(), 1, "{id} was placed {} times", for_call.len());
        assert_eq!(stored[id].call.vapi_call_id.as_deref(), for_call[0]["id"].as_str(), "{id}");
    }

    // The calls end; the reconciler finishes them, every slot comes back, and the rollups add up.
    for call in &made {
        fake.update_call(call["id"].as_str().unwrap(), |call| {
            call["status"] = json!("ended");
            call["endedReason"] = json!("customer-ended-call");
            call["cost"] = json!(0.05);
        });
    }
    let settings = ReconcileSettings { dialing: Duration::ZERO, in_progress: Duration::ZERO, overdue: Duration::ZERO };
    host.host.dialer().reconcile(&host.host.calls(), &settings, Utc::now() + chrono::Duration::seconds(1)).await.unwrap();
    let stored = direct.calls_by_id("demo", &ids).await.unwrap();
    assert!(
        stored.values().all(|s| s.call.status == CallStatus::Completed && s.call.cost_cents == Some(5)),
        "{:?}",
        stored.values().map(|s| s.call.status).collect::<Vec<_>>()
    );
    assert_eq!(direct.slots_in_use("demo", "front-desk").await.unwrap(), 0);
    let report = direct.verify_rollups().await.unwrap();
    assert!(report.drift.is_empty(), "{:?}", report.drift);
    host.stop().await;
}
