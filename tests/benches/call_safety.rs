//! Benchmark: what the call-safety checks cost. Through the local host
//! (its handlers, its dialer, the embedded engine behind a counting proxy),
//! it counts the DynamoDB requests of one scheduled call and of one placed
//! call, and times a campaign of 10,000 contacts spread across every US zone
//! (each contact into its own callee's window). API Gateway gives a request
//! 29 seconds; the target for the campaign is under 10.
//!
//! Run: `cargo bench -p callops-tests --bench call_safety`

use std::time::Instant;

use callops_aws::store::CallStore;
use callops_tests::{DEMO_TOKEN, callable, faults::ProxiedHost};
use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const CONTACTS: usize = 10_000;
const ROUNDS: usize = 3;
const TARGET_SECONDS: f64 = 10.0;
/// Area codes in every US zone, Florida's and Idaho's split code among them.
const AREAS: [&str; 12] =
    ["+1212555", "+1305555", "+1410555", "+1312555", "+1405555", "+1303555", "+1602555", "+1208200", "+1310555", "+1206555", "+1907269", "+1808555"];

#[tokio::main]
async fn main() {
    let ProxiedHost { host, proxy, fake: _fake, engine: _engine } = ProxiedHost::start(false, |_| {}).await;
    let requests = || proxy.counts().forwarded;
    host.consent("demo", &[&callable(142), &callable(143)]).await;

    // One scheduled call: the agent, the campaign-less facts (do-not-call, settings), the write.
    let before = requests();
    let body = json!({"phoneNumber": callable(142), "callType": "OUTBOUND_LEAD", "scheduledAt": (Utc::now() + Duration::hours(1)).to_rfc3339(), "voiceAgentId": "front-desk"});
    let (status, scheduled) = host.send(Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{scheduled}");
    let per_scheduled = requests() - before;

    // One placed call: the dialer's reads (the call, the campaign, the list, the agent, the settings, the ledger), the claim with the ledger in it, the placed write.
    let mut due = callops_tests::due_call("front-desk", &callable(143));
    due.scheduled_at = Some(callops_domain::time::to_millis(Utc::now()));
    host.host.store().create_call(&due).await.unwrap();
    let before = requests();
    let placed = host.host.dialer().dial(callops_domain::placement::schedule::DialRequest::for_call(&due)).await.unwrap();
    assert!(matches!(placed, callops_dialer::Dialed::Placed { .. }), "{placed:?}");
    let per_placed = requests() - before;

    let mut timings = Vec::new();
    for round in 0..ROUNDS {
        let contacts: Vec<Value> = (0..CONTACTS)
            .map(|i| {
                let mut contact = json!({"number": format!("{}{:04}", AREAS[(i + round) % AREAS.len()], (i + round * 3_331) % 10_000)});
                if i % 7 == 0 {
                    contact["state"] = json!("FL");
                }
                contact
            })
            .collect();
        // Every contact's consent, recorded before the clock starts.
        let numbers: Vec<&str> = contacts.iter().filter_map(|c| c["number"].as_str()).collect();
        host.consent("demo", &numbers).await;
        let request = json!({"name": format!("Everyone {round}"), "voiceAgentId": "billing", "callsPerMinute": 120, "contacts": contacts});
        let started = Instant::now();
        let (status, created) = host.send(Method::POST, "/api/campaigns", Some(DEMO_TOKEN), Some(&request)).await;
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(status, StatusCode::CREATED, "{}", created.to_string().chars().take(300).collect::<String>());
        assert!(
            created["accepted"].as_u64().unwrap() >= (CONTACTS as u64) * 9 / 10,
            "{}",
            created["rejected"].to_string().chars().take(300).collect::<String>()
        );
        timings.push(seconds);
    }
    timings.sort_by(f64::total_cmp);
    let median = timings[ROUNDS / 2];
    let slowest = timings[ROUNDS - 1];
    println!("| measure | result | target |");
    println!("|---|---:|---:|");
    println!("| DynamoDB requests of one scheduled call (POST /api/outbound/schedule) | {per_scheduled} | |");
    println!("| DynamoDB requests of one placed call (the dialer, trigger to Vapi's answer recorded) | {per_placed} | |");
    println!("| 10,000 contacts across every US zone accepted, median of {ROUNDS} | {median:.2} s | under {TARGET_SECONDS} s |");
    println!("| the same, slowest | {slowest:.2} s | under {TARGET_SECONDS} s |");
    println!("| contacts per second (median) | {:.0} / s | |", CONTACTS as f64 / median);
    let met = slowest < TARGET_SECONDS;
    println!("targets: {}", if met { "met" } else { "MISSED" });
    if !met {
        std::process::exit(1);
    }
}
