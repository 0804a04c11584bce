//! Benchmark: one campaign of 10,000 contacts accepted in one request through
//! the local host (the outbound handler, the embedded engine, the local
//! scheduler): every contact checked and normalised, the do-not-call list
//! consulted, one schedule and one stored call per accepted contact; then the
//! campaign paused (every waiting call held, its schedule removed) and
//! resumed (every held call laid out again, every rule asked), one request
//! each. API Gateway gives a request 29 seconds; the target is under 10 for each.
//!
//! Run: `cargo bench -p callops --bench campaign`

use std::time::Instant;

use callops::{Host, HostOptions, demo};
use chrono::{Duration, Utc};
use serde_json::{Value, json};

const CONTACTS: usize = 10_000;
const LISTED: usize = 200;
const ROUNDS: usize = 3;
const TARGET_SECONDS: f64 = 10.0;

/// A distinct valid US number per round and contact.
fn number(round: usize, i: usize) -> String {
    let area = ["202", "312", "415"][round % 3];
    format!("+1{area}{:03}{:04}", 201 + i / 10_000, i % 10_000)
}

#[tokio::main]
async fn main() {
    let tokens = [("dev-token".to_string(), callops::DevToken::admin(demo::DEMO_ORG))].into();
    let host = Host::start(HostOptions { tokens, demo: true, ..HostOptions::default() }).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = host.router().into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let client = reqwest::Client::new();
    let start_at = callops_domain::time::format(&(Utc::now() + Duration::hours(1)));

    let mut timings = Vec::new();
    let (mut pauses, mut resumes) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for i in 0..LISTED {
            let listed = json!({"phoneNumber": number(round, i * 37), "reason": "benchmark"});
            let response = client.post(format!("{base}/api/dnc")).bearer_auth("dev-token").json(&listed).send().await.unwrap();
            assert!(response.status().is_success());
        }
        // Every contact's consent, imported before the clock starts.
        let mut consents = String::from("phoneNumber,basis,source\n");
        for i in 0..CONTACTS {
            consents.push_str(&format!("{},prior_express_written,benchmark intake\n", number(round, i)));
        }
        let response =
            client.post(format!("{base}/api/consents/import")).bearer_auth("dev-token").header("content-type", "text/csv").body(consents).send().await.unwrap();
        let imported: Value = response.json().await.unwrap();
        assert_eq!(imported["accepted"].as_u64(), Some(CONTACTS as u64), "{imported}");
        let (body, content_type) = if round % 2 == 0 {
            let contacts: Vec<Value> = (0..CONTACTS)
                .map(|i| json!({"number": number(round, i), "name": format!("Patient {i}"), "variables": {"balance": format!("${}", i % 900 + 100)}}))
                .collect();
            (json!({"name": format!("Recall {round}"), "voiceAgentId": "billing", "startAt": start_at, "contacts": contacts}).to_string(), "application/json")
        } else {
            let mut csv = String::from("number,name,balance\n");
            for i in 0..CONTACTS {
                csv.push_str(&format!("{},Patient {i},${}\n", number(round, i), i % 900 + 100));
            }
            (csv, "text/csv")
        };
        let url = if content_type == "text/csv" {
            format!("{base}/api/campaigns?name=Recall%20{round}&voiceAgentId=billing&startAt={}", start_at.replace('+', "%2B"))
        } else {
            format!("{base}/api/campaigns")
        };
        let bytes = body.len();
        let started = Instant::now();
        let response = client.post(url).bearer_auth("dev-token").header("content-type", content_type).body(body).send().await.unwrap();
        let seconds = started.elapsed().as_secs_f64();
        let status = response.status();
        let created: Value = response.json().await.unwrap();
        assert_eq!(status.as_u16(), 201, "{created}");
        assert_eq!(created["accepted"].as_u64(), Some((CONTACTS - LISTED) as u64));
        assert_eq!(created["rejected"].as_array().unwrap().len(), LISTED);
        let id = created["campaign"]["id"].as_str().unwrap();
        let view: Value = client.get(format!("{base}/api/campaigns/{id}")).bearer_auth("dev-token").send().await.unwrap().json().await.unwrap();
        assert_eq!(view["counts"]["scheduled"].as_u64(), Some((CONTACTS - LISTED) as u64));
        println!("round {round} ({content_type}, {} KB): {seconds:.2} s", bytes / 1024);
        timings.push(seconds);

        // Paused and resumed: each a request over the campaign's waiting calls.
        for (action, list) in [("pause", &mut pauses), ("resume", &mut resumes)] {
            let started = Instant::now();
            let response = client.post(format!("{base}/api/campaigns/{id}/{action}")).bearer_auth("dev-token").send().await.unwrap();
            let seconds = started.elapsed().as_secs_f64();
            let done: Value = response.json().await.unwrap();
            assert_eq!(done["calls"].as_u64(), Some((CONTACTS - LISTED) as u64), "{action}: {}", done["campaign"]);
            println!("round {round} {action}: {seconds:.2} s");
            list.push(seconds);
        }
    }
    assert_eq!(host.scheduler().pending().len(), ROUNDS * (CONTACTS - LISTED), "one schedule per call");

    timings.sort_by(|a, b| a.partial_cmp(b).unwrap());
    pauses.sort_by(|a, b| a.partial_cmp(b).unwrap());
    resumes.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let (median, worst) = (timings[timings.len() / 2], timings[timings.len() - 1]);
    println!("\nCampaign of {CONTACTS} contacts ({LISTED} on the do-not-call list), one request through the local host");
    println!("| measure | result | target |");
    println!("|---|---:|---:|");
    println!("| accepted, median of {ROUNDS} | {median:.2} s | under {TARGET_SECONDS} s |");
    println!("| accepted, slowest | {worst:.2} s | under {TARGET_SECONDS} s |");
    println!("| contacts per second (median) | {:.0} / s | |", CONTACTS as f64 / median);
    println!(
        "| {} waiting calls paused, median / slowest | {:.2} s / {:.2} s | under {TARGET_SECONDS} s |",
        CONTACTS - LISTED,
        pauses[ROUNDS / 2],
        pauses[ROUNDS - 1]
    );
    println!(
        "| {} held calls resumed, median / slowest | {:.2} s / {:.2} s | under {TARGET_SECONDS} s |",
        CONTACTS - LISTED,
        resumes[ROUNDS / 2],
        resumes[ROUNDS - 1]
    );
    let met = worst < TARGET_SECONDS && pauses[ROUNDS - 1] < TARGET_SECONDS && resumes[ROUNDS - 1] < TARGET_SECONDS;
    println!("\ntargets: {}", if met { "met" } else { "NOT met" });
    if !met {
        std::process::exit(1);
    }
}
