//! Benchmark: `callops migrate`, run as an operator runs it (the `callops`
//! binary, its defaults: batches of 5,000 rows, up to 8 transactions of up
//! to 100 writes in flight, never two on the same rollup item, the rollups
//! moving with each), from a throwaway PostgreSQL server holding generated
//! legacy rows (three agents, a call every 2 minutes 37 seconds: 550 a day):
//!
//! - into a data dir (`--data-dir`: the embedded engine's file on disk,
//!   held alone by the command, in the bulk-loading mode it sets, each
//!   batch in one write of the engine's own): the first run, where its
//!   time went, its peak memory, a second run that finds every call in
//!   place, and `callops verify-rollups` on the result;
//! - into a DynamoDB table through the DynamoDB API (`--table`, with
//!   `AWS_ENDPOINT_URL_DYNAMODB` pointing at an endpoint this benchmark
//!   serves from another data dir): the same first run over HTTP, with the
//!   write units the engine reports per row, from which docs/migration.md works
//!   out the rate a DynamoDB table of a given capacity allows.
//!
//! Target: at least 5,000 rows a second into the data dir.
//!
//! Run: `cargo bench -p callops --bench migrate`
//! (`CALLOPS_BENCH_ROWS=100000,1000000` by default; `CALLOPS_BENCH_TARGETS=data-dir,endpoint`
//! to choose; `CALLOPS_BENCH_ARGS="--concurrency 16"` adds options to the
//! command). Each data dir is removed after its size is measured.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use callops_aws::{embedded::EmbeddedDynamo, table};
use callops_tests::postgres::Postgres;

const TARGET_ROWS_PER_SECOND: f64 = 5_000.0;

fn list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name).unwrap_or_else(|_| default.into()).split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

/// One run of the `callops` binary to its end: how long, its peak resident memory in bytes, and its output.
fn run(args: &[&str], envs: &[(&str, &str)]) -> (Duration, u64, String) {
    let started = Instant::now();
    let output_file = tempfile::NamedTempFile::new().expect("a file for the output");
    let mut child = Command::new(env!("CARGO_BIN_EXE_callops"))
        .args(args)
        .envs(envs.iter().copied())
        .env("RUST_LOG", "warn")
        .stdout(output_file.reopen().expect("the output file"))
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the command starts");
    let (exit, peak) = callops_tests::process::wait_with_peak_memory(&mut child);
    let output = std::fs::read_to_string(output_file.path()).unwrap_or_default();
    assert!(exit.success(), "callops {args:?} failed:\n{output}");
    (started.elapsed(), peak, output)
}

/// The count after `label` in the migration report ("written: 100000").
fn count(report: &str, label: &str) -> u64 {
    report.lines().find_map(|line| line.trim().strip_prefix(label)?.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

/// The write units the report gives, a row.
fn units_a_row(report: &str, rows: i64) -> String {
    let units = report.lines().find_map(|line| line.trim().strip_prefix("write units:")?.split_whitespace().next()?.parse::<f64>().ok());
    units.map_or("-".to_string(), |units| format!("{:.2}", units / rows as f64))
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map(|entries| entries.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let targets = list("CALLOPS_BENCH_TARGETS", "data-dir,endpoint");
    let pg = Postgres::start().await;
    let mut met = true;
    println!("| rows | into | first run | rows a second | peak memory | second run (all unchanged) | on disk | write units a row |");
    println!("|---:|---|---:|---:|---:|---:|---:|---:|");
    for (n, rows) in list("CALLOPS_BENCH_ROWS", "100000,1000000").iter().filter_map(|r| r.parse::<i64>().ok()).enumerate() {
        let database = format!("bench{n}");
        let client = pg.legacy_database(&database).await;
        let loaded = Instant::now();
        callops_tests::postgres::generate_rows(&client, rows).await;
        eprintln!("loaded {rows} legacy rows into PostgreSQL in {:.1} s", loaded.elapsed().as_secs_f64());
        let url = pg.url(&database);
        let root = tempfile::tempdir_in(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")).expect("a directory for the data");
        for target in &targets {
            let dir = root.path().join(target);
            let extra = std::env::var("CALLOPS_BENCH_ARGS").unwrap_or_default();
            let migrate: Vec<&str> = ["migrate", "--from-postgres", &url, "--org", "acme"].into_iter().chain(extra.split_whitespace()).collect();
            match target.as_str() {
                "data-dir" => {
                    let data_dir = dir.to_str().expect("a UTF-8 path");
                    let args: Vec<&str> = migrate.iter().copied().chain(["--data-dir", data_dir]).collect();
                    let (took, peak, report) = run(&args, &[]);
                    assert_eq!(count(&report, "written:"), rows as u64, "{report}");
                    eprintln!("{}", report.lines().find(|line| line.starts_with("time:")).unwrap_or_default());
                    let (again, _, second) = run(&args, &[]);
                    assert_eq!(count(&second, "unchanged:"), rows as u64, "{second}");
                    let (_, _, verified) = run(&["verify-rollups", "--data-dir", data_dir], &[]);
                    assert!(verified.contains("rollups are exact"), "{verified}");
                    let per_second = rows as f64 / took.as_secs_f64();
                    met &= per_second >= TARGET_ROWS_PER_SECOND;
                    println!(
                        "| {rows} | data dir | {:.1} s | {per_second:.0} | {:.0} MB | {:.1} s, {:.0} rows / s | {:.1} GB | - (one write of the engine's own a batch) |",
                        took.as_secs_f64(),
                        peak as f64 / 1e6,
                        again.as_secs_f64(),
                        rows as f64 / again.as_secs_f64(),
                        dir_bytes(&dir) as f64 / 1e9,
                    );
                }
                "endpoint" => {
                    std::fs::create_dir_all(&dir).expect("the endpoint's data dir");
                    let engine = EmbeddedDynamo::on_disk(&dir).await.expect("the endpoint's engine");
                    table::create_table(&engine.client(), "callops").await.expect("the table, as the stack makes it");
                    let endpoint = engine.endpoint().to_string();
                    let envs = [
                        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
                        ("AWS_REGION", "us-east-1"),
                        ("AWS_ACCESS_KEY_ID", "bench"),
                        ("AWS_SECRET_ACCESS_KEY", "bench"),
                    ];
                    let args: Vec<&str> = migrate.iter().copied().chain(["--table", "callops"]).collect();
                    let (took, peak, report) = run(&args, &envs);
                    assert_eq!(count(&report, "written:"), rows as u64, "{report}");
                    println!(
                        "| {rows} | DynamoDB API endpoint | {:.1} s | {:.0} | {:.0} MB | | | {} |",
                        took.as_secs_f64(),
                        rows as f64 / took.as_secs_f64(),
                        peak as f64 / 1e6,
                        units_a_row(&report, rows)
                    );
                    drop(engine);
                }
                other => panic!("unknown target {other}: data-dir or endpoint"),
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    println!("\ntarget (at least {TARGET_ROWS_PER_SECOND:.0} rows a second into the data dir): {}", if met { "met" } else { "NOT met" });
}
