//! Benchmark: what the analytics routes and the dashboard's first load cost
//! as the number of calls in the table grows. For 10,000 and 200,000 calls
//! (over the 60 days up to now, two agents, every call type, missed calls
//! returned or waiting as live writes leave them) it reports, for each
//! route, the DynamoDB read units one request consumed and the median and
//! 90th-percentile time of many through the local host; the same for the
//! whole first load of the dashboard (every request the page makes, in the
//! order and concurrency it makes them); and an export of the default
//! window, which reads every call in it and so grows with them. A third
//! table of 400,000 calls is read once per request, for its read units: a
//! request whose cost is bounded by its window reads at most a quarter more
//! there (its shards and quarter hours fill, then stop growing).
//!
//! The data is written the way `callops migrate` writes into a data dir
//! (the transactional path's items, in bulk): calls, their rollups and the
//! missed-call marks. Read units are counted by a proxy in front of the
//! embedded engine that asks DynamoDB's `ReturnConsumedCapacity` of every
//! request and adds up what comes back, so every read a route makes counts,
//! whichever part of the store makes it; times are taken through a second
//! host on the engine directly, without the proxy's hop.
//!
//! Run: `cargo bench -p callops --bench analytics`

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration as StdDuration, Instant},
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, response::IntoResponse};
use callops::{Host, HostOptions, demo};
use callops_aws::store::AgentStore;
use callops_aws::{bulk_load::Loaded, embedded::EmbeddedDynamo, import::ImportCall};
use callops_domain::{CallLog, CallOutcome, CallStatus, CallType, NewCall, analytics::missed, time};
use chrono::{DateTime, Duration, DurationRound, Utc};
use chrono_tz::Tz;
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};

const SIZES: [usize; 2] = [10_000, 200_000];
/// A table twice the larger size, read units only: where the cost has
/// stopped growing (every shard of every hour and every quarter hour of a
/// day holds calls), it must read the same.
const SATURATED: usize = 400_000;
/// How much more a request bounded by its window may read at twice the calls.
const MOST_GROWTH: f64 = 1.25;
const REQUESTS: usize = 50;
/// An export part reads 1,000 calls: fewer runs of it.
const EXPORT_REQUESTS: usize = 5;
const PAGE_LOADS: usize = 30;
const TZ: &str = "America/New_York";
const TARGET_READ_UNITS: f64 = 25.0;
const TARGET_MEDIAN_MS: f64 = 20.0;

/// `count` calls over the 60 days up to now: half inbound (about one in
/// six of those missed), every outcome, sentiment and ratings; each
/// missed call returned by the first connected call with its number after
/// it, as the live write of that call would have returned it.
fn calls(count: usize, now: DateTime<Utc>) -> Vec<CallLog> {
    let mut rng = StdRng::seed_from_u64(count as u64);
    let agents = ["front-desk", "billing"];
    let sentiments = ["positive", "neutral", "negative"];
    let mut calls: Vec<CallLog> = (0..count)
        .map(|i| {
            let started = now - Duration::milliseconds(rng.random_range(1..60 * 24 * 3600 * 1000));
            let call_type = if rng.random_bool(0.5) { CallType::Inbound } else { *CallType::ALL[1..].choose(&mut rng).unwrap() };
            let mut call = CallLog::new(
                NewCall {
                    org_id: demo::DEMO_ORG.into(),
                    voice_agent_id: agents[i % 2].into(),
                    phone_number: format!("+1202555{:04}", rng.random_range(0..10_000)),
                    call_type,
                    status: CallStatus::Completed,
                    attempt: 1,
                },
                format!("bench-{i:07}").into(),
                started,
            );
            call.call_started_at = Some(time::to_millis(started));
            if call_type == CallType::Inbound && rng.random_bool(0.15) {
                call.status = CallStatus::Missed;
                call.duration = Some(rng.random_range(0..10));
            } else {
                call.outcome = CallOutcome::ALL.choose(&mut rng).copied();
                call.duration = Some(rng.random_range(10..900));
                call.customer_sentiment = Some(sentiments.choose(&mut rng).unwrap().to_string());
                call.call_quality = Some(rng.random_range(1..=5));
                call.ai_confidence = Some(f64::from(rng.random_range(0..=100)) / 100.0);
            }
            call.cost_cents = Some(rng.random_range(1..200));
            call.insurance_verified = rng.random_bool(0.3);
            call.transcript = Some("AI: Thank you for calling. How can I help?\nUser: I'd like to book a cleaning.".repeat(3));
            call.summary = Some("Patient booked a cleaning.".into());
            call
        })
        .collect();
    let mut connected: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
    for call in calls.iter().filter(|call| missed::connected(*call)) {
        connected.entry(call.phone_number.to_string()).or_default().push(call.call_started_at.unwrap());
    }
    connected.values_mut().for_each(|starts| starts.sort_unstable());
    for call in calls.iter_mut().filter(|call| missed::is_missed(*call)) {
        let starts = connected.get(call.phone_number.as_str()).map_or(&[][..], Vec::as_slice);
        call.returned_at = missed::first_connection_after(starts, call.call_started_at.unwrap());
    }
    calls.sort_by_key(|call| call.call_started_at);
    calls
}

/// A DynamoDB endpoint in front of the engine that asks for the consumed
/// capacity of every request and adds it up.
#[derive(Default)]
struct Meter {
    upstream: String,
    client: reqwest::Client,
    /// Read units, in thousandths.
    reads: AtomicU64,
    /// Write units, in thousandths.
    writes: AtomicU64,
    requests: AtomicU64,
}

const READS: [&str; 5] = ["GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"];

fn units(consumed: &serde_json::Value) -> f64 {
    match consumed {
        serde_json::Value::Array(all) => all.iter().map(units).sum(),
        one => one["CapacityUnits"].as_f64().unwrap_or(0.0),
    }
}

async fn meter(State(meter): State<Arc<Meter>>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let operation = target.rsplit('.').next().unwrap_or_default().to_string();
    let mut request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if request.is_object() && request.get("ReturnConsumedCapacity").is_none() && operation != "DescribeTable" && operation != "CreateTable" {
        request["ReturnConsumedCapacity"] = "TOTAL".into();
    }
    let mut forwarded = reqwest::header::HeaderMap::new();
    for (name, value) in headers.iter().filter(|(name, _)| !matches!(name.as_str(), "host" | "content-length")) {
        forwarded.insert(reqwest::header::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(), value.to_str().unwrap().parse().unwrap());
    }
    let answer = meter.client.post(&meter.upstream).headers(forwarded).body(request.to_string()).send().await.expect("the engine answers");
    let status = axum::http::StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let bytes = answer.bytes().await.expect("the engine's answer");
    let parsed: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let consumed = (units(&parsed["ConsumedCapacity"]) * 1000.0).round() as u64;
    meter.requests.fetch_add(1, Ordering::Relaxed);
    if READS.contains(&operation.as_str()) { &meter.reads } else { &meter.writes }.fetch_add(consumed, Ordering::Relaxed);
    (status, [("content-type", "application/x-amz-json-1.0")], bytes)
}

impl Meter {
    async fn start(upstream: &str) -> (Arc<Meter>, String) {
        let meter = Arc::new(Meter { upstream: upstream.to_string(), ..Meter::default() });
        let app = Router::new().fallback(self::meter).with_state(meter.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (meter, endpoint)
    }

    /// Read units, write units and requests so far.
    fn read(&self) -> (f64, f64, u64) {
        (self.reads.load(Ordering::Relaxed) as f64 / 1000.0, self.writes.load(Ordering::Relaxed) as f64 / 1000.0, self.requests.load(Ordering::Relaxed))
    }
}

/// A host on `endpoint`, serving HTTP on a port of its own.
async fn serve(endpoint: &str) -> (Host, String) {
    let tokens = [("dev-token".to_string(), callops::DevToken::admin(demo::DEMO_ORG))].into();
    let host = Host::start(HostOptions { tokens, dynamodb_endpoint: Some(endpoint.to_string()), ..HostOptions::default() }).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = host.router().into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (host, base)
}

/// Writes `calls` as `callops migrate` writes into a data dir.
async fn load(host: &Host, engine: &EmbeddedDynamo, calls: &[CallLog]) {
    let store = host.store();
    let mut loaded = Loaded::default();
    for chunk in calls.chunks(5_000) {
        let imports = chunk.iter().map(|call| ImportCall { stored: None, call: call.clone() }).collect();
        let prepared = store.prepare_bulk_load(imports).unwrap();
        let load = store.plan_bulk_load(prepared, &loaded).await.unwrap();
        assert!(load.alone.is_empty() && load.refused.is_empty(), "every bench call loads in bulk");
        engine.load_items(store.table(), load.items).await.unwrap();
        loaded = load.leaves;
    }
}

fn percentile(samples: &[f64], at: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() as f64 * at) as usize).min(sorted.len() - 1)]
}

struct Row {
    calls: usize,
    what: String,
    requests: u64,
    read_units: f64,
    median_ms: f64,
    p90_ms: f64,
}

struct Bench {
    client: reqwest::Client,
    metered: String,
    meter: Arc<Meter>,
    direct: String,
}

impl Bench {
    async fn get(&self, base: &str, path: impl Into<String>) -> Bytes {
        let path = path.into();
        let response = self.client.get(format!("{base}{path}")).bearer_auth("dev-token").send().await.unwrap();
        let status = response.status();
        let body = response.bytes().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {}", String::from_utf8_lossy(&body));
        body
    }

    /// `run` once through the metered host for its read units, then `runs`
    /// times through the direct one for its time (none: read units only).
    async fn measure<'a, F, Fut>(&'a self, calls: usize, what: String, runs: usize, run: F) -> Row
    where
        F: Fn(&'a str) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let (before, _, requests) = self.meter.read();
        run(&self.metered).await;
        let (after, _, requests_after) = self.meter.read();
        for _ in 0..runs.min(5) {
            run(&self.direct).await;
        }
        let mut samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            run(&self.direct).await;
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        Row {
            calls,
            what,
            requests: requests_after - requests,
            read_units: after - before,
            median_ms: percentile(&samples, 0.5),
            p90_ms: percentile(&samples, 0.9),
        }
    }

    async fn route(&self, calls: usize, path: &str, runs: usize) -> Row {
        self.measure(calls, format!("`GET {path}`"), runs, |base| async move {
            self.get(base, path).await;
        })
        .await
    }

    /// The dashboard's first load, as `functions/dashboard/assets/main.js`
    /// makes it: its configuration and the agents, then every panel's
    /// requests at once, then each campaign's view.
    async fn page(&self, base: &str, window: &str) {
        self.get(base, "/config.json").await;
        self.get(base, "/api/agents").await;
        let w = window;
        let campaigns = async {
            let list: serde_json::Value = serde_json::from_slice(&self.get(base, "/api/campaigns").await).unwrap();
            let ids: Vec<String> = list["campaigns"].as_array().unwrap().iter().take(8).map(|c| c["id"].as_str().unwrap().to_string()).collect();
            futures::future::join_all(ids.iter().map(|id| self.get(base, format!("/api/campaigns/{id}")))).await;
        };
        let (figures, outcomes, daily, agents, hourly, quality, recent, missed, scheduled, _) = tokio::join!(
            self.get(base, format!("/api/analytics/calls?{w}")),
            self.get(base, format!("/api/analytics/calls/outcomes?{w}")),
            self.get(base, format!("/api/analytics/calls/daily?{w}")),
            self.get(base, format!("/api/analytics/agents?{w}")),
            self.get(base, format!("/api/analytics/calls/hourly?{w}")),
            self.get(base, format!("/api/analytics/quality?{w}")),
            self.get(base, format!("/api/analytics/calls/recent?{w}&limit=10&content=false")),
            self.get(base, format!("/api/analytics/missed?{w}&limit=10")),
            self.get(base, "/api/outbound/scheduled?limit=20"),
            campaigns,
        );
        for body in [figures, outcomes, daily, agents, hourly, quality, recent, missed, scheduled] {
            assert!(!body.is_empty());
        }
    }

    async fn first_load(&self, calls: usize, window: &str, runs: usize) -> Row {
        let what = "the dashboard's first load (12 requests; no campaigns in the table)".to_string();
        self.measure(calls, what, runs, |base| self.page(base, window)).await
    }

    /// Every part of an export of `window`: calls exported, parts, read
    /// units and time, through the metered host (the export reads every
    /// call, so the proxy's hop is a small part of its time) and the direct one.
    async fn export(&self, window: &str) -> (usize, usize, f64, f64) {
        let run = |base: String| async move {
            let (mut cursor, mut lines, mut parts) = (None::<String>, 0, 0);
            loop {
                let path = format!("/api/calls/export?{window}&format=jsonl{}", cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default());
                let response = self.client.get(format!("{base}{path}")).bearer_auth("dev-token").send().await.unwrap();
                assert!(response.status().is_success());
                cursor = response.headers().get("x-next-cursor").map(|v| urlencoding(v.to_str().unwrap()));
                lines += response.bytes().await.unwrap().split(|b| *b == b'\n').filter(|l| !l.is_empty()).count();
                parts += 1;
                if cursor.is_none() {
                    return (lines, parts);
                }
            }
        };
        let (before, _, _) = self.meter.read();
        let (lines, parts) = run(self.metered.clone()).await;
        let read_units = self.meter.read().0 - before;
        let started = Instant::now();
        let again = run(self.direct.clone()).await;
        assert_eq!(again, (lines, parts));
        (lines, parts, read_units, started.elapsed().as_secs_f64())
    }
}

/// A cursor as a query value.
fn urlencoding(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::main]
async fn main() {
    let now = Utc::now();
    let zone: Tz = TZ.parse().unwrap();
    let today = now.with_timezone(&zone).date_naive();
    // The dashboard's default: the last seven local days, today included.
    let window = format!("startDate={}&endDate={today}&tz={}", today - Duration::days(6), urlencoding(TZ));
    let last_midnight = now.duration_trunc(Duration::days(1)).unwrap();
    let whole_days =
        format!("startDate={}&endDate={}", (last_midnight - Duration::days(7)).format("%Y-%m-%d"), (last_midnight - Duration::days(1)).format("%Y-%m-%d"));
    let client = reqwest::Client::new();
    let mut rows = Vec::new();
    let mut exports = Vec::new();
    for size in SIZES.into_iter().chain([SATURATED]) {
        let timed = size != SATURATED;
        let engine = EmbeddedDynamo::in_memory().await.unwrap();
        let (meter, metered_endpoint) = Meter::start(engine.endpoint()).await;
        let (metered_host, metered) = serve(&metered_endpoint).await;
        let (direct_host, direct) = serve(engine.endpoint()).await;
        for agent in demo::demo_agents(demo::DEMO_ORG, now) {
            let audit = callops_domain::records::audit::AuditEntry::system(
                &agent.org_id,
                "bench",
                callops_domain::records::audit::Action::AgentCreated,
                &agent.id,
                now,
            );
            direct_host.store().put_agent(&agent, true, &audit).await.unwrap();
        }
        let loading = Instant::now();
        let all = calls(size, now);
        load(&direct_host, &engine, &all).await;
        drop(all);
        eprintln!("loaded {size} calls in {:.1} s", loading.elapsed().as_secs_f64());

        let bench = Bench { client: client.clone(), metered, meter, direct };
        for path in [
            format!("/api/analytics/calls?{whole_days}"),
            "/api/analytics/calls".to_string(),
            format!("/api/analytics/calls?{window}"),
            format!("/api/analytics/calls?{window}&direction=outbound"),
            format!("/api/analytics/calls?{window}&callType=INBOUND&agentId=front-desk"),
            format!("/api/analytics/agents?{window}"),
            format!("/api/analytics/calls/hourly?{window}"),
            format!("/api/analytics/quality?{window}"),
            format!("/api/analytics/missed?{window}&limit=10"),
            format!("/api/calls/export?{window}&format=csv"),
        ] {
            let runs = match (timed, path.starts_with("/api/calls/export")) {
                (false, _) => 0,
                (true, true) => EXPORT_REQUESTS,
                (true, false) => REQUESTS,
            };
            rows.push(bench.route(size, &path, runs).await);
        }
        rows.push(bench.first_load(size, &window, if timed { PAGE_LOADS } else { 0 }).await);
        if timed {
            let (lines, parts, read_units, seconds) = bench.export(&window).await;
            exports.push((size, lines, parts, read_units, seconds));
        }
        drop((metered_host, direct_host));
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }

    println!(
        "\nRead units of one request (through a metering proxy) and time of {REQUESTS} (export parts: {EXPORT_REQUESTS}, page loads: {PAGE_LOADS}) through the local host; window {window}"
    );
    println!("| calls in table | request | DynamoDB requests | read units | median | p90 |");
    println!("|---:|---|---:|---:|---:|---:|");
    for row in rows.iter().filter(|r| r.calls != SATURATED) {
        println!("| {} | {} | {} | {:.1} | {:.2} ms | {:.2} ms |", row.calls, row.what, row.requests, row.read_units, row.median_ms, row.p90_ms);
    }
    println!("\nRead units by calls in the table");
    println!("| request | {} |", SIZES.iter().chain([&SATURATED]).map(|n| format!("{n} calls")).collect::<Vec<_>>().join(" | "));
    println!("|---|---:|---:|---:|");
    for row in rows.iter().filter(|r| r.calls == SIZES[0]) {
        let units: Vec<String> =
            SIZES.iter().chain([&SATURATED]).map(|n| format!("{:.1}", rows.iter().find(|r| r.calls == *n && r.what == row.what).unwrap().read_units)).collect();
        println!("| {} | {} |", row.what, units.join(" | "));
    }
    println!("\nExport of the default window, every part (JSON Lines)");
    println!("| calls in table | calls exported | parts | read units | time |");
    println!("|---:|---:|---:|---:|---:|");
    for (size, lines, parts, units, seconds) in &exports {
        println!("| {size} | {lines} | {parts} | {units:.1} | {seconds:.2} s |");
    }

    // Bounded by the window, not the calls: a request reads the shards of
    // its days and hours (and a day's quarter hours), which fill as the
    // calls grow until every one holds calls, and then stop growing. Twice
    // the calls must add at most a quarter (twice the reads would be
    // cost in proportion to the calls). Not so for the two that read calls
    // themselves: the export (a part is 1,000 calls) and the window up to
    // now (its partial hour at "now" is read from the calls in it).
    let mut flat = true;
    for row in rows.iter().filter(|r| r.calls == SIZES[1]) {
        let grows = row.what.contains("/api/calls/export") || row.what == "`GET /api/analytics/calls`";
        let twice = rows.iter().find(|r| r.calls == SATURATED && r.what == row.what).unwrap();
        if !grows && twice.read_units > row.read_units * MOST_GROWTH {
            println!("NOT flat: {} reads {:.1} at {} calls and {:.1} at {}", row.what, row.read_units, row.calls, twice.read_units, twice.calls);
            flat = false;
        }
    }
    let whole: Vec<&Row> = rows.iter().filter(|r| r.what.contains(&whole_days) && r.calls != SATURATED).collect();
    let met = flat && whole.iter().all(|r| r.read_units <= TARGET_READ_UNITS && r.median_ms < TARGET_MEDIAN_MS);
    println!(
        "\ntargets: every request but the export and the window up to now reads at most {:.0}% more at {SATURATED} calls than at {}; `GET /api/analytics/calls` on 7 whole days at most {TARGET_READ_UNITS} read units, median under {TARGET_MEDIAN_MS} ms: {}",
        (MOST_GROWTH - 1.0) * 100.0,
        SIZES[1],
        if met { "met" } else { "NOT met" }
    );
    if !met {
        std::process::exit(1);
    }
}
