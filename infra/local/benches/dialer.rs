//! Benchmark: 1,000 outbound calls due in the same minute on one agent
//! limited to 10 concurrent calls, dialed through the local host's scheduler
//! and dialer against the Vapi simulator (which plays each call out in well
//! under a second and reports it to the webhook). Measured: the most calls
//! in flight at once (at Vapi, and in the agent's slot counter), that every
//! call ends in a terminal status, that no call was dialed twice, and the
//! time to drain.
//!
//! Run: `cargo bench -p callops --bench dialer`

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::{Duration, Instant},
};

use callops::{Host, HostOptions, VapiBackend, vapi_sim::SimSettings};
use callops_aws::store::{AgentStore, CallQueryStore, RollupCheckStore};
use callops_aws::{CallQuery, PageRequest};
use callops_dialer::{DialSettings, reconcile::ReconcileSettings};
use callops_webhook::auth::Credential;
use chrono::Utc;
use serde_json::{Value, json};

const CALLS: usize = 1_000;
const AGENT_LIMIT: i64 = 10;
const DRAIN_LIMIT: Duration = Duration::from_secs(900);

#[tokio::main]
async fn main() {
    let tokens = [("dev-token".to_string(), callops::DevToken::admin("demo"))].into();
    let vapi_credentials = vec![Credential { secret: "dev-secret".into(), org_id: "demo".into() }];
    let options = HostOptions {
        tokens,
        vapi_credentials,
        // The account allows more than the agent, so the agent's own limit is what holds.
        vapi: VapiBackend::Simulator(SimSettings { concurrency_limit: 50, ring_ms: (50, 150), talk_ms: (150, 450), ..SimSettings::default() }),
        dial: DialSettings { busy_delay: Duration::from_millis(1_500), busy_jitter: Duration::from_millis(2_500), ..DialSettings::default() },
        reconcile: Some((
            Duration::from_secs(10),
            ReconcileSettings { dialing: Duration::from_secs(30), in_progress: Duration::from_secs(120), overdue: Duration::from_secs(60) },
        )),
        ..HostOptions::default()
    };
    let host = Host::start(options).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let host = Arc::new(host);
    let serving = host.clone();
    tokio::spawn(async move { serving.serve(listener, std::future::pending()).await });
    let client = reqwest::Client::new();

    let agent = json!({"id": "bench", "name": "Bench", "vapiAssistantId": "asst-bench", "vapiPhoneNumberId": "pn-bench",
        "timeZone": "UTC", "callingHours": {"start": "00:00", "end": "24:00"}, "maxConcurrentCalls": AGENT_LIMIT,
        // One attempt each, so that the run ends with the 1,000 calls it measures.
        "retryPolicy": {"maxAttempts": 1, "delaysMinutes": [30]}});
    let response = client.post(format!("{base}/api/agents")).bearer_auth("dev-token").json(&agent).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 201);
    // The account's lines leave the agent's ten for outbound calls after the two kept for patients calling in.
    let room = json!({"vapiConcurrencyLimit": AGENT_LIMIT + 2, "reservedInboundSlots": 2});
    let response = client.put(format!("{base}/api/settings")).bearer_auth("dev-token").json(&room).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);

    // Each patient's consent, imported in one file.
    let mut consents = String::from("phoneNumber,basis,source\n");
    for i in 0..CALLS {
        consents.push_str(&format!("+1312555{i:04},prior_express,benchmark intake\n"));
    }
    let response =
        client.post(format!("{base}/api/consents/import")).bearer_auth("dev-token").header("content-type", "text/csv").body(consents).send().await.unwrap();
    let imported: Value = response.json().await.unwrap();
    assert_eq!(imported["accepted"].as_u64(), Some(CALLS as u64), "{imported}");

    // 1,000 calls, all due within one minute starting 20 seconds from now.
    let first_due = Utc::now() + chrono::Duration::seconds(20);
    for i in 0..CALLS {
        let at = first_due + chrono::Duration::milliseconds((i as i64 * 60_000) / CALLS as i64);
        let body = json!({"phoneNumber": format!("+1312555{:04}", i), "callType": "OUTBOUND_FOLLOWUP", "voiceAgentId": "bench",
            "scheduledAt": callops_domain::time::format(&at), "customerName": format!("Patient {i}"), "purpose": "Post-visit check-in"});
        let response = client.post(format!("{base}/api/outbound/schedule")).bearer_auth("dev-token").json(&body).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 201);
    }
    println!("scheduled {CALLS} calls due from {} over one minute", callops_domain::time::format(&first_due));

    // Watch the agent's slot counter while the calls drain.
    let most_slots = Arc::new(AtomicI64::new(0));
    let watching = Arc::new(AtomicBool::new(true));
    {
        let (host, most_slots, watching) = (host.clone(), most_slots.clone(), watching.clone());
        tokio::spawn(async move {
            while watching.load(Ordering::Relaxed) {
                if let Ok(in_use) = host.store().slots_in_use("demo", "bench").await {
                    most_slots.fetch_max(in_use, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    }

    let wait = (first_due - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
    let started = Instant::now();
    let query = CallQuery::ByAgent("bench".into());
    let mut statuses: HashMap<String, usize>;
    loop {
        let mut terminal = 0;
        statuses = HashMap::new();
        for status in callops_domain::CallStatus::ALL {
            let n = host.store().count_calls("demo", &CallQuery::ByStatus(*status), Default::default()).await.unwrap() as usize;
            statuses.insert(status.to_string(), n);
        }
        for status in callops_domain::CallStatus::ALL.iter().filter(|s| s.is_terminal()) {
            terminal += statuses[status.as_str()];
        }
        // No demo data: every call in the store is the benchmark's.
        if terminal >= CALLS {
            break;
        }
        assert!(started.elapsed() < DRAIN_LIMIT, "not drained: {statuses:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let drained = started.elapsed();
    watching.store(false, Ordering::Relaxed);

    // Every call ended; none was dialed twice.
    let calls = host.store().query_calls("demo", &PageRequest::new(&query, 10_000)).await.unwrap().items;
    let started_calls = calls.len();
    let simulator = host.simulator().unwrap();
    let mut per_attempt: HashMap<(String, u64), usize> = HashMap::new();
    for call in simulator.calls() {
        let metadata = call.pointer("/assistantOverrides/metadata").cloned().unwrap_or(Value::Null);
        let key = (metadata["callId"].as_str().unwrap_or_default().to_string(), metadata["attempt"].as_u64().unwrap_or_default());
        *per_attempt.entry(key).or_default() += 1;
    }
    let dialed_twice = per_attempt.values().filter(|n| **n > 1).count();
    let rollups = host.store().verify_rollups().await.unwrap();
    let final_slots = host.store().slots_in_use("demo", "bench").await.unwrap();

    println!("\n{CALLS} calls due in one minute, one agent limited to {AGENT_LIMIT} concurrent calls, the Vapi simulator");
    println!("| measure | result | target |");
    println!("|---|---:|---:|");
    println!("| most calls in flight at Vapi | {} | at most {AGENT_LIMIT} |", simulator.most_at_once());
    println!("| most slots taken (sampled every 20 ms) | {} | at most {AGENT_LIMIT} |", most_slots.load(Ordering::Relaxed));
    println!("| calls in a terminal status | {CALLS} of {CALLS} | all |");
    println!("| calls placed at Vapi / attempts dialed twice | {} / {dialed_twice} | {CALLS} / 0 |", simulator.calls_created());
    println!("| time to drain (from the first due time) | {:.1} s | |", drained.as_secs_f64());
    println!("| slots taken after the drain | {final_slots} | 0 |");
    println!("| rollup drift after the drain | {} items | 0 |", rollups.drift.len());
    println!("(calls that started: {started_calls}; statuses: {statuses:?})");

    let met = simulator.most_at_once() as i64 <= AGENT_LIMIT
        && most_slots.load(Ordering::Relaxed) <= AGENT_LIMIT
        && dialed_twice == 0
        && simulator.calls_created() == CALLS
        && final_slots == 0
        && rollups.drift.is_empty();
    println!("\ntargets: {}", if met { "met" } else { "NOT met" });
    if !met {
        std::process::exit(1);
    }
}
