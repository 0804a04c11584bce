//! Benchmark: the Vapi webhook. (1) Parsing and classifying a 30 KB
//! end-of-call-report on one core, per second. (2) The whole handler through
//! the local host against the embedded engine: p50/p99 latency of delivering
//! end-of-call-reports, each for a new call.
//!
//! Run: `cargo bench -p callops --bench webhook`

use std::time::Instant;

use callops::{Host, HostOptions, demo};
use callops_domain::ending::apply::apply_end_of_call_report;
use callops_domain::{CallLog, CallStatus, CallType, NewCall};
use callops_vapi::parse_server_message;
use callops_webhook::auth::Credential;
use chrono::Utc;
use serde_json::json;

const TARGET_PER_SECOND: f64 = 20_000.0;
const TARGET_P99_MS: f64 = 50.0;
const DELIVERIES: usize = 1_000;

/// An end-of-call-report of about 30 KB: a long conversation, its messages
/// and tool calls, costs and analysis, as Vapi sends them.
fn report(vapi_id: &str) -> String {
    let mut messages = Vec::new();
    let mut transcript = String::new();
    for turn in 0..40 {
        let said = format!("Turn {turn}: I was wondering whether my insurance covers the crown you mentioned last time.");
        transcript.push_str(&format!("User: {said}\nAI: Let me check that for you right away.\n"));
        messages.push(json!({"role": "user", "message": said, "time": 1.722115418016999E12 + f64::from(turn) * 1000.0, "secondsFromStart": turn}));
        messages.push(json!({"role": "bot", "message": "Let me check that for you right away.", "time": 1.722115419016999E12, "duration": 1800.0}));
    }
    messages.push(json!({"role": "tool_calls", "toolCalls": [{"id": "t1", "type": "function", "function": {"name": "bookAppointment", "arguments": "{}"}}]}));
    let body = json!({"message": {
        "type": "end-of-call-report",
        "timestamp": 1.722115562750E12,
        "endedReason": "customer-ended-call",
        "startedAt": "2024-07-27T21:23:38.017Z",
        "endedAt": "2024-07-27T21:26:02.517Z",
        "cost": 0.1234,
        "costs": [{"type": "transport", "cost": 0.01}, {"type": "model", "cost": 0.06}],
        "call": {"id": vapi_id, "type": "inboundPhoneCall", "phoneNumberId": "pn-front-desk-demo", "customer": {"number": "+12025550142"}},
        "customer": {"number": "+12025550142", "name": "Maria Gonzalez"},
        "artifact": {"transcript": transcript, "messages": messages, "recordingUrl": "https://storage.vapi.ai/r.wav"},
        "analysis": {"summary": "Booked.", "structuredData": {"outcome": "BOOKED", "insuranceVerified": "yes", "callQuality": "5"}, "successEvaluation": "true"},
    }});
    body.to_string()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // (1) Parse and classify, one core.
    let body = report("vapi-bench");
    let call = CallLog::new(
        NewCall {
            org_id: "demo".into(),
            voice_agent_id: "front-desk".into(),
            phone_number: "+12025550142".into(),
            call_type: CallType::Inbound,
            status: CallStatus::InProgress,
            attempt: 0,
        },
        "c".into(),
        Utc::now(),
    );
    let now = Utc::now();
    let rounds = 20_000;
    let started = Instant::now();
    let mut booked = 0;
    for _ in 0..rounds {
        let message = parse_server_message(std::hint::black_box(body.as_bytes())).unwrap();
        let next = apply_end_of_call_report(&call, message.report.as_ref().unwrap(), now).unwrap();
        booked += usize::from(next.appointment_set);
    }
    let per_second = rounds as f64 / started.elapsed().as_secs_f64();
    assert_eq!(booked, rounds);

    // (2) The handler through the local host.
    let tokens = [("dev-token".to_string(), callops::DevToken::admin(demo::DEMO_ORG))].into();
    let vapi_credentials = vec![Credential { secret: "dev-secret".into(), org_id: demo::DEMO_ORG.into() }];
    let host = Host::start(HostOptions { tokens, demo: true, vapi_credentials, ..HostOptions::default() }).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = host.router().into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let client = reqwest::Client::new();
    let mut latencies = Vec::with_capacity(DELIVERIES);
    for i in 0..DELIVERIES {
        let body = report(&format!("vapi-bench-{i}"));
        let started = Instant::now();
        let response = client
            .post(format!("{base}/webhooks/vapi"))
            .header("x-vapi-secret", "dev-secret")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let (p50, p99) = (percentile(&latencies, 0.50), percentile(&latencies, 0.99));

    println!("\nVapi webhook, a {} KB end-of-call-report", body.len() / 1024);
    println!("| measure | result | target |");
    println!("|---|---:|---:|");
    println!("| parse + classify, one core | {per_second:.0} / s | at least {TARGET_PER_SECOND:.0} / s |");
    println!("| whole handler through the local host, p50 | {p50:.2} ms | |");
    println!("| whole handler through the local host, p99 | {p99:.2} ms | under {TARGET_P99_MS} ms |");
    let met = per_second >= TARGET_PER_SECOND && p99 < TARGET_P99_MS;
    println!("\ntargets: {}", if met { "met" } else { "NOT met" });
    if !met {
        std::process::exit(1);
    }
}
