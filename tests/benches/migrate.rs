//! Benchmark: `callops migrate` of 200,000 legacy rows from a real
//! PostgreSQL server into the embedded engine's data dir, as operators run
//! it (a file on disk, in the bulk-loading mode the command sets;
//! `CALLOPS_BENCH_STORE=memory` for the in-memory engine), (batches of 5,000 rows, as
//! the command's default, up to 8 transactions of up to 100 writes in
//! flight, never two on the same rollup item, the rollups moving with
//! each), a second run that finds every call in place, and a check of the
//! rollups against the calls.
//! Target: at least 5,000 rows a second.
//!
//! Run: `cargo bench -p callops-tests --bench migrate`

use std::time::Instant;

/// The `callops` command's allocator (infra/local/src/main.rs), so this measures what the command does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use callops::migrate::{MigrateOptions, migrate};
use callops_aws::{DynamoStore, embedded::EmbeddedDynamo, table};
use callops_tests::postgres::Postgres;

/// 200,000 rows; `CALLOPS_BENCH_ROWS` sets another number for a quick look.
fn rows() -> i64 {
    std::env::var("CALLOPS_BENCH_ROWS").ok().and_then(|n| n.parse().ok()).unwrap_or(200_000)
}
/// 8 transactions in flight; `CALLOPS_BENCH_CONCURRENCY` sets another number.
fn concurrency() -> usize {
    std::env::var("CALLOPS_BENCH_CONCURRENCY").ok().and_then(|n| n.parse().ok()).unwrap_or(8)
}
const TARGET_ROWS_PER_SECOND: f64 = 5_000.0;

#[tokio::main]
async fn main() {
    let rows_wanted = rows();
    let pg = Postgres::start().await;
    let client = pg.legacy_database("bench").await;
    let loaded = Instant::now();
    callops_tests::postgres::generate_rows(&client, rows_wanted).await;
    println!("loaded {rows_wanted} legacy rows into PostgreSQL in {:.1} s", loaded.elapsed().as_secs_f64());

    let on_disk = std::env::var("CALLOPS_BENCH_STORE").map_or(true, |store| store != "memory");
    let dir = tempfile::tempdir().unwrap();
    let engine = if on_disk { EmbeddedDynamo::on_disk(dir.path()).await.unwrap() } else { EmbeddedDynamo::in_memory().await.unwrap() };
    table::create_embedded_table(&engine.client(), "callops").await.unwrap();
    if on_disk {
        // What `callops migrate --data-dir` does for its run.
        engine.begin_bulk_load().unwrap();
    }
    let store = DynamoStore::new(engine.client(), "callops");
    let options = MigrateOptions {
        url: pg.url("bench"),
        org_id: "acme".into(),
        dry_run: false,
        batch: 5_000,
        concurrency: concurrency(),
        progress: false,
        stop_after_batches: None,
        agent_map: Default::default(),
    };
    let started = Instant::now();
    let report = migrate(&store, &options).await.expect("the migration runs");
    let seconds = started.elapsed().as_secs_f64();
    assert!(report.complete);
    assert_eq!(report.written, rows_wanted as u64);
    println!("first run: {:?}", report.timings);
    let again = Instant::now();
    let second = migrate(&store, &options).await.expect("the second run");
    let second_seconds = again.elapsed().as_secs_f64();
    assert_eq!((second.written, second.unchanged), (0, rows_wanted as u64));
    let verify = store.verify_rollups().await.unwrap();
    assert!(verify.drift.is_empty());

    let per_second = rows_wanted as f64 / seconds;
    println!("\nMigration of {rows_wanted} legacy rows into the embedded engine ({})", if on_disk { "a data dir on disk, bulk-loading" } else { "in memory" });
    println!("| measure | result | target |");
    println!("|---|---:|---:|");
    println!(
        "| first run: read, map, compare, write calls and rollups | {seconds:.1} s, {per_second:.0} rows / s | at least {TARGET_ROWS_PER_SECOND:.0} rows / s |"
    );
    println!("| second run (every call unchanged) | {second_seconds:.1} s, {:.0} rows / s | |", rows_wanted as f64 / second_seconds);
    println!("| rollup drift after both runs | {} items | 0 |", verify.drift.len());
    let met = per_second >= TARGET_ROWS_PER_SECOND;
    println!("\ntargets: {}", if met { "met" } else { "NOT met" });
    if !met {
        std::process::exit(1);
    }
}
