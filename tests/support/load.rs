//! A webhook load against a running local host: Vapi's three messages for
//! each of many dialed calls (status-update in-progress, status-update
//! ended, end-of-call-report), with duplicates making a tenth of all deliveries, all shuffled
//! so each call's messages come in any order, sent `concurrency` at a time
//! while the dashboard's reads run beside them. Then every call's final state
//! is checked against the same messages delivered one by one, in order, and
//! the rollups against the calls.

use std::time::{Duration, Instant};

use callops_aws::store::{CallStore, RollupCheckStore};
use callops_domain::CallLog;
use futures::{StreamExt, stream};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use reqwest::StatusCode;

use crate::{DEMO_TOKEN, DEMO_VAPI_SECRET, TestHost, dialed_call as dialed, vapi_fixture};

/// What a load run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub calls: usize,
    pub deliveries: usize,
    pub duplicates: usize,
    pub concurrency: usize,
    pub seconds: f64,
    pub webhook_5xx: usize,
    /// Answers that were neither 2xx nor 5xx.
    pub webhook_other: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub reads: usize,
    pub read_5xx: usize,
    pub read_p99_ms: f64,
    /// Calls whose final state differs from the one-by-one delivery's.
    pub wrong_calls: Vec<String>,
    pub rollup_drift: usize,
}

impl LoadReport {
    pub fn deliveries_per_second(&self) -> f64 {
        self.deliveries as f64 / self.seconds
    }
}

/// The three messages Vapi sends for one call, its cost in dollars varied.
fn messages(call_id: &str, vapi_id: &str, cost: f64) -> [String; 3] {
    [
        vapi_fixture("status-update-in-progress", call_id, vapi_id),
        vapi_fixture("status-update-ended", call_id, vapi_id),
        vapi_fixture("end-of-call-report-booked", call_id, vapi_id).replacen("\"cost\": 0.1234", &format!("\"cost\": {cost}"), 1),
    ]
}

async fn deliver(client: &reqwest::Client, base: &str, body: String) -> (StatusCode, Duration) {
    let started = Instant::now();
    let status = client
        .post(format!("{base}/webhooks/vapi"))
        .header("x-vapi-secret", DEMO_VAPI_SECRET)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map(|r| r.status())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    (status, started.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

/// The calls a final state is compared on: what the messages decide.
fn decided(call: &CallLog) -> impl PartialEq + std::fmt::Debug {
    (
        call.status,
        call.outcome,
        call.duration,
        call.call_started_at,
        call.call_ended_at,
        call.transcript.clone(),
        call.summary.clone(),
        call.ended_reason.clone(),
        call.appointment_set,
        call.insurance_verified,
    )
}

/// Runs about `deliveries` webhook deliveries, `concurrency` at a time, with
/// dashboard reads beside them, against `host` (a host for tenant `demo`
/// with the demo Vapi secret; its agent `front-desk` need not exist).
pub async fn webhook_load(host: &TestHost, deliveries: usize, concurrency: usize, seed: u64) -> LoadReport {
    let mut rng = StdRng::seed_from_u64(seed);
    // Three messages a call, and duplicates making a tenth of all deliveries.
    let calls = (deliveries * 9 / 30).max(1);
    let store = host.host.store();
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().unwrap();

    // The reference: one call whose messages arrive one by one, in order.
    store.create_call(&dialed("load-reference")).await.unwrap();
    for body in messages("load-reference", "vapi-load-reference", 0.5) {
        assert_eq!(deliver(&client, &host.base, body).await.0, StatusCode::OK);
    }
    let reference = store.get_call("demo", "load-reference").await.unwrap().unwrap().call;

    let ids: Vec<String> = (0..calls).map(|i| format!("load-{i:05}")).collect();
    stream::iter(ids.iter().map(|id| async move { store.create_call(&dialed(id)).await }))
        .buffer_unordered(16)
        .for_each(|created| async move {
            created.unwrap();
        })
        .await;
    let mut bodies: Vec<String> = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        bodies.extend(messages(id, &format!("vapi-{id}"), 0.01 * (1 + i % 90) as f64));
    }
    let duplicates = deliveries.saturating_sub(bodies.len());
    for _ in 0..duplicates {
        let again = bodies[rng.random_range(0..bodies.len())].clone();
        bodies.push(again);
    }
    bodies.shuffle(&mut rng);
    let total = bodies.len();

    // The dashboard's reads, until the deliveries are done.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reads = {
        let (client, base, done) = (client.clone(), host.base.clone(), done.clone());
        tokio::spawn(async move {
            let paths = [
                "/api/analytics/calls?startDate=2024-07-01&endDate=2024-08-01",
                "/api/analytics/calls/outcomes?startDate=2024-07-01&endDate=2024-08-01",
                "/api/analytics/calls/recent?limit=20",
            ];
            let mut timings = Vec::new();
            let mut server_errors = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                for path in paths {
                    let started = Instant::now();
                    // No answer at all counts as a server error too; what went wrong is said.
                    let status = match client.get(format!("{base}{path}")).bearer_auth(DEMO_TOKEN).send().await {
                        Ok(answer) => answer.status(),
                        Err(err) => {
                            eprintln!("a dashboard read got no answer: {path}: {err}");
                            StatusCode::BAD_GATEWAY
                        }
                    };
                    timings.push(started.elapsed());
                    if status.is_server_error() {
                        eprintln!("a dashboard read answered {status}: {path}");
                    }
                    server_errors += usize::from(status.is_server_error());
                }
            }
            (timings, server_errors)
        })
    };

    let started = Instant::now();
    let mut results: Vec<(StatusCode, Duration)> =
        stream::iter(bodies.into_iter().map(|body| deliver(&client, &host.base, body))).buffer_unordered(concurrency).collect().await;
    let seconds = started.elapsed().as_secs_f64();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut read_timings, read_5xx) = reads.await.unwrap();

    let webhook_5xx = results.iter().filter(|(s, _)| s.is_server_error()).count();
    let webhook_other = results.iter().filter(|(s, _)| !s.is_success() && !s.is_server_error()).count();
    results.sort_by_key(|(_, d)| *d);
    let latencies: Vec<Duration> = results.iter().map(|(_, d)| *d).collect();
    read_timings.sort();

    let mut wrong_calls = Vec::new();
    let stored = store.calls_by_id("demo", &ids).await.unwrap();
    for (i, id) in ids.iter().enumerate() {
        let want_cost = Some(1 + (i % 90) as i64);
        match stored.get(id) {
            Some(s)
                if decided(&s.call) == decided(&reference)
                    && s.call.cost_cents == want_cost
                    && s.call.vapi_call_id.as_deref() == Some(&format!("vapi-{id}")) => {}
            other => wrong_calls.push(format!("{id}: {:?}", other.map(|s| (s.call.status, s.call.outcome, s.call.cost_cents)))),
        }
    }
    let rollup_drift = store.verify_rollups().await.unwrap().drift.len();
    LoadReport {
        calls,
        deliveries: total,
        duplicates,
        concurrency,
        seconds,
        webhook_5xx,
        webhook_other,
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        reads: read_timings.len(),
        read_5xx,
        read_p99_ms: percentile(&read_timings, 99.0),
        wrong_calls,
        rollup_drift,
    }
}
