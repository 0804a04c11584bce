//! Benchmark: what one `GET /api/analytics/calls` costs, as the number of
//! calls in the table grows. For 10,000 and 200,000 calls it reports the
//! DynamoDB read units the request consumed (as the engine reports them
//! through ReturnConsumedCapacity) and the median latency through the local
//! host, for a 7-day window of whole days and for the default window (the
//! last 7 days up to now, whose two partial hours read raw calls).
//!
//! Run: `cargo bench -p callops --bench analytics`

use std::time::{Duration as StdDuration, Instant};

use callops::{Host, HostOptions, demo};
use callops_aws::rollup;
use callops_domain::{CallLog, CallOutcome, CallStatus, CallType, NewCall, time};
use chrono::{Duration, DurationRound, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};

const SIZES: [usize; 2] = [10_000, 200_000];
const REQUESTS: usize = 200;
const TARGET_READ_UNITS: f64 = 25.0;
const TARGET_MEDIAN_MS: f64 = 20.0;

/// `count` calls over the 60 days up to now, with a short transcript each.
fn calls(count: usize, now: chrono::DateTime<Utc>) -> Vec<CallLog> {
    let mut rng = StdRng::seed_from_u64(count as u64);
    let agents = ["front-desk", "billing"];
    (0..count)
        .map(|i| {
            let started = now - Duration::milliseconds(rng.random_range(1..60 * 24 * 3600 * 1000));
            let mut call = CallLog::new(
                NewCall {
                    org_id: demo::DEMO_ORG.into(),
                    voice_agent_id: agents[i % 2].into(),
                    phone_number: format!("+1202555{:04}", i % 10_000),
                    call_type: *CallType::ALL.choose(&mut rng).unwrap(),
                    status: CallStatus::Completed,
                    attempt: 1,
                },
                format!("bench-{i:07}").into(),
                started,
            );
            call.call_started_at = Some(time::to_millis(started));
            call.outcome = CallOutcome::ALL.choose(&mut rng).copied();
            call.duration = Some(rng.random_range(10..900));
            call.cost_cents = Some(rng.random_range(1..200));
            call.insurance_verified = rng.random_bool(0.3);
            call.transcript = Some("AI: Thank you for calling. How can I help?\nUser: I'd like to book a cleaning.".repeat(3));
            call.summary = Some("Patient booked a cleaning.".into());
            call
        })
        .collect()
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[samples.len() / 2]
}

struct Row {
    calls: usize,
    window: &'static str,
    read_units: f64,
    median_ms: f64,
    p90_ms: f64,
}

async fn measure(host: &Host, base: &str, client: &reqwest::Client, window: &'static str, query: &str, calls: usize) -> Row {
    let url = format!("{base}/api/analytics/calls?{query}");
    let get = || client.get(&url).bearer_auth("dev-token").send();
    // One request alone, for its read units.
    let before = host.store().meter().read_units();
    let response = get().await.unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
    let read_units = host.store().meter().read_units() - before;
    for _ in 0..20 {
        get().await.unwrap().bytes().await.unwrap();
    }
    let mut samples = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let started = Instant::now();
        let body = get().await.unwrap().bytes().await.unwrap();
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(!body.is_empty());
    }
    let mut sorted = samples.clone();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let p90_ms = sorted[sorted.len() * 9 / 10];
    Row { calls, window, read_units, median_ms: median(samples), p90_ms }
}

#[tokio::main]
async fn main() {
    let now = Utc::now();
    let client = reqwest::Client::new();
    let mut rows = Vec::new();
    for size in SIZES {
        let tokens = [("dev-token".to_string(), callops::DevToken::admin(demo::DEMO_ORG))].into();
        let host = Host::start(HostOptions { tokens, ..HostOptions::default() }).await.unwrap();
        for agent in demo::demo_agents(demo::DEMO_ORG, now) {
            host.store()
                .put_agent(
                    &agent,
                    true,
                    &callops_domain::audit::AuditEntry::system(
                        &agent.org_id,
                        "bench",
                        callops_domain::audit::Action::AgentCreated,
                        &agent.id,
                        chrono::Utc::now(),
                    ),
                )
                .await
                .unwrap();
        }
        let loading = Instant::now();
        let all = calls(size, now);
        let mut writes = tokio::task::JoinSet::new();
        for chunk in all.chunks(2_000) {
            let (store, chunk) = (host.store().clone(), chunk.to_vec());
            writes.spawn(async move { store.bulk_put_calls(&chunk).await });
        }
        while let Some(result) = writes.join_next().await {
            result.unwrap().unwrap();
        }
        let calls_loaded = loading.elapsed();
        // The rollups the calls add up to, written directly (what rebuild-rollups would write).
        let rollups: Vec<_> = rollup::expected_rollups(&all).unwrap().into_iter().collect();
        for chunk in rollups.chunks(1_000) {
            let (store, chunk) = (host.store().clone(), chunk.to_vec());
            writes.spawn(async move {
                for (key, tally) in &chunk {
                    store.set_rollup(key, tally).await?;
                }
                Ok(())
            });
        }
        while let Some(result) = writes.join_next().await {
            result.unwrap().unwrap();
        }
        eprintln!(
            "loaded {size} calls in {:.1} s and their {} rollup items in {:.1} s",
            calls_loaded.as_secs_f64(),
            rollups.len(),
            (loading.elapsed() - calls_loaded).as_secs_f64()
        );

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = host.router().into_make_service_with_connect_info::<std::net::SocketAddr>();
        let server = tokio::spawn(async move { axum::serve(listener, router).await });

        let last_midnight = now.duration_trunc(Duration::days(1)).unwrap();
        let whole_days =
            format!("startDate={}&endDate={}", (last_midnight - Duration::days(7)).format("%Y-%m-%d"), (last_midnight - Duration::days(1)).format("%Y-%m-%d"));
        rows.push(measure(&host, &base, &client, "7 whole days", &whole_days, size).await);
        rows.push(measure(&host, &base, &client, "last 7 days to now", "", size).await);
        server.abort();
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }

    println!("\nGET /api/analytics/calls (all agents), {REQUESTS} requests each, through the local host");
    println!("| calls in table | window | read units | median | p90 |");
    println!("|---:|---|---:|---:|---:|");
    for row in &rows {
        println!("| {} | {} | {:.1} | {:.2} ms | {:.2} ms |", row.calls, row.window, row.read_units, row.median_ms, row.p90_ms);
    }
    let whole: Vec<&Row> = rows.iter().filter(|r| r.window == "7 whole days").collect();
    let same = whole.windows(2).all(|pair| (pair[0].read_units - pair[1].read_units).abs() < f64::EPSILON);
    let met = whole.iter().all(|r| r.read_units <= TARGET_READ_UNITS && r.median_ms < TARGET_MEDIAN_MS) && same;
    println!(
        "\ntarget (7 whole days): at most {TARGET_READ_UNITS} read units, the same at every size, median under {TARGET_MEDIAN_MS} ms: {}",
        if met { "met" } else { "NOT met" }
    );
    if !met {
        std::process::exit(1);
    }
}
