//! Benchmark: the do-not-call registries at the size they come in.
//!
//! - `callops import-dnc`, as an operator runs it, of one area code's full
//!   list (the FTC's flat file, one 10-digit number a line) of 100,000,
//!   300,000 and 1,000,000 numbers, each into a fresh data dir: the time
//!   from the process's start to its exit, and numbers a second. Target: a
//!   million numbers in under 30 s. The cost grows with the numbers (one
//!   small item each, written in bulk).
//! - the check a telemarketing call makes, on the data dir of the largest
//!   import: the requests and read units of one check for a listed number
//!   and for an unlisted one (one query on the number's own partition,
//!   whatever the registry's size), and its median and 90th percentile time
//!   over 1,000 checks. Target: one request, at most one read unit.
//!
//! Run: `cargo bench -p callops --bench registries`
//! (`CALLOPS_BENCH_SIZES=1000000` for one size).

use std::{
    io::Write,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use callops_aws::{
    DynamoStore,
    embedded::{DirAccess, EmbeddedDynamo},
    keys,
    store::RegistryStore,
};

const ORG: &str = "bench";
const TARGET: Duration = Duration::from_secs(30);
const CHECKS: usize = 1_000;

fn sizes() -> Vec<usize> {
    match std::env::var("CALLOPS_BENCH_SIZES") {
        Ok(text) => text.split(',').filter_map(|n| n.trim().parse().ok()).collect(),
        Err(_) => vec![100_000, 300_000, 1_000_000],
    }
}

/// The `n`th number of area code 212 listed in the file (its exchanges from 200 up).
fn listed(n: usize) -> String {
    format!("212{:07}", 2_000_000 + n * 7)
}

fn write_file(path: &Path, numbers: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("the file"));
    for n in 0..numbers {
        writeln!(out, "{}", listed(n)).expect("a line");
    }
    out.flush().expect("the file is written");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let root = std::env::temp_dir().join(format!("callops-bench-registries-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("a scratch dir");
    println!("import-dnc of one area code's full list into a fresh data dir (target: 1,000,000 numbers under {} s)", TARGET.as_secs());
    println!("{:>10}  {:>9}  {:>13}", "numbers", "seconds", "numbers/s");
    let mut largest = None;
    for numbers in sizes() {
        let file = root.join(format!("national-{numbers}.txt"));
        write_file(&file, numbers);
        let dir = root.join(format!("data-{numbers}"));
        let started = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_callops"))
            .args(["import-dnc", "--org", ORG, "--registry", "national", "--file"])
            .arg(&file)
            .arg("--data-dir")
            .arg(&dir)
            .output()
            .expect("callops runs");
        let took = started.elapsed();
        assert!(output.status.success(), "import-dnc failed: {}", String::from_utf8_lossy(&output.stderr));
        let said = String::from_utf8_lossy(&output.stdout);
        assert!(said.contains(&format!("{numbers} numbers added")), "{said}");
        println!(
            "{numbers:>10}  {:>9.2}  {:>13.0}{}",
            took.as_secs_f64(),
            numbers as f64 / took.as_secs_f64(),
            if numbers >= 1_000_000 && took > TARGET { "  OVER TARGET" } else { "" }
        );
        largest = Some((numbers, dir));
    }
    let Some((numbers, dir)) = largest else { return };

    let engine = EmbeddedDynamo::on_disk_with(&dir, DirAccess::Shared).await.expect("the engine opens");
    let client = engine.client();
    let store = DynamoStore::new(client.clone(), callops::TABLE);
    println!("\nthe check of one number, on the copy of {numbers} numbers (target: one request, at most one read unit)");
    for (what, number) in [("listed", format!("+1{}", listed(numbers / 2))), ("unlisted", "+12125550100".to_string())] {
        let output = client
            .query()
            .table_name(callops::TABLE)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", "PK")
            .expression_attribute_values(":pk", AttributeValue::S(keys::registry_pk(ORG, &number)))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .expect("the query");
        let units = output.consumed_capacity().and_then(|c| c.capacity_units()).unwrap_or(0.0);
        let marks = store.registry_marks(ORG, &number).await.expect("the marks");
        assert_eq!(marks.listed.contains_key("national"), what == "listed", "{what}");
        let mut times = Vec::with_capacity(CHECKS);
        for _ in 0..CHECKS {
            let started = Instant::now();
            store.registry_marks(ORG, &number).await.expect("the marks");
            times.push(started.elapsed());
        }
        times.sort();
        println!(
            "{what:>9}: 1 query, {units:.1} read units, {} item(s); median {:.2} ms, p90 {:.2} ms",
            output.count(),
            percentile(&times, 0.5).as_secs_f64() * 1000.0,
            percentile(&times, 0.9).as_secs_f64() * 1000.0
        );
    }
    drop(engine);
    let _ = std::fs::remove_dir_all(&root);
}
