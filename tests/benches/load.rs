//! Load: 2,000 Vapi webhook deliveries (three messages for each of 606
//! dialed calls, a tenth delivered twice, all shuffled so each call's
//! messages come in any order), 200 at a time, with the dashboard's reads
//! running beside them, against the local host. Then every call's final
//! state against the same messages delivered one by one, and the rollups
//! against the calls.
//!
//! Run: `cargo bench -p callops-tests --bench load`
//! (`CALLOPS_LOAD_DELIVERIES` and `CALLOPS_LOAD_CONCURRENCY` change the size).

use callops_tests::{TestHost, load::webhook_load};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let (deliveries, concurrency) = (setting("CALLOPS_LOAD_DELIVERIES", 2_000), setting("CALLOPS_LOAD_CONCURRENCY", 200));
    let host = TestHost::start(false).await;
    let report = webhook_load(&host, deliveries, concurrency, 20_261_124).await;
    println!("\nWebhook load against the local host (embedded engine)");
    println!("| measure | result | target |");
    println!("|---|---:|---:|");
    println!("| deliveries ({} calls, {} duplicates), at once | {}, {} | 2,000, 200 |", report.calls, report.duplicates, report.deliveries, report.concurrency);
    println!("| throughput | {:.0} deliveries / s ({:.1} s) | |", report.deliveries_per_second(), report.seconds);
    println!("| webhook latency p50 / p99 | {:.1} ms / {:.1} ms | |", report.p50_ms, report.p99_ms);
    println!("| webhook 5xx / other refusals | {} / {} | 0 / 0 |", report.webhook_5xx, report.webhook_other);
    println!("| dashboard reads beside it: count, p99, 5xx | {}, {:.1} ms, {} | 5xx: 0 |", report.reads, report.read_p99_ms, report.read_5xx);
    println!("| calls whose final state is wrong | {} | 0 |", report.wrong_calls.len());
    println!("| rollup drift (verify-rollups) | {} items | 0 |", report.rollup_drift);
    let met = report.webhook_5xx == 0 && report.webhook_other == 0 && report.read_5xx == 0 && report.wrong_calls.is_empty() && report.rollup_drift == 0;
    for wrong in report.wrong_calls.iter().take(5) {
        println!("wrong: {wrong}");
    }
    println!("\ntargets: {}", if met { "met" } else { "NOT met" });
    host.stop().await;
    if !met {
        std::process::exit(1);
    }
}
