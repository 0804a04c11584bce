//! Benchmark: an operator's commands, as the operator runs them, on a data
//! dir holding 100,000 and 1,000,000 calls of which 1,000 wait to be dialed:
//!
//! - how long `callops dev --data-dir DIR` takes to start (from the
//!   process's start to "CallOps is serving"). The start restores the
//!   waiting attempts from the `byScheduledAt` index, so it costs what
//!   waits, not what is stored. Target: under 2 s with 1,000,000 calls.
//! - `callops rebuild-rollups` and then `callops verify-rollups` on it: the
//!   time and the peak resident memory of each (the process's high-water
//!   mark, read from /proc while it runs), and the passes each made. Both
//!   stream the calls and hold at most `--held-items` rollup items
//!   (`CALLOPS_BENCH_HELD`, else the command's default): memory is bounded
//!   whatever the number of calls, and each further key range costs a
//!   further pass over the calls.
//!
//! The data dirs are built once, in `target/bench-data/startup-<calls>`
//! (calls written straight into the engine, without rollups: the first
//! `rebuild-rollups` makes them), and kept for later runs.
//!
//! Run: `cargo bench -p callops --bench operator`
//! (`CALLOPS_BENCH_SIZES=100000` for one size).

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use callops_aws::store::{AgentStore, CallStore};
use callops_aws::{DynamoStore, embedded::EmbeddedDynamo, table};
use callops_domain::{CallLog, CallOutcome, CallStatus, CallType, NewCall, VoiceAgent, records::audit::AuditEntry, time};
use chrono::Utc;

const WAITING: usize = 1_000;
const RUNS: usize = 5;
const TARGET: Duration = Duration::from_secs(2);
const ORG: &str = "bench";

fn sizes() -> Vec<usize> {
    match std::env::var("CALLOPS_BENCH_SIZES") {
        Ok(text) => text.split(',').filter_map(|n| n.trim().parse().ok()).collect(),
        Err(_) => vec![100_000, 1_000_000],
    }
}

fn agent(now: chrono::DateTime<Utc>) -> VoiceAgent {
    let input: callops_domain::agent::AgentInput = serde_json::from_value(serde_json::json!({
        "id": "front-desk", "name": "Front desk", "vapiAssistantId": "asst-bench", "vapiPhoneNumberId": "pn-bench", "timeZone": "America/New_York"
    }))
    .expect("an agent input");
    input.create(ORG, now, &callops_domain::agent::secret::SecretNamespace::local()).expect("a valid agent")
}

/// `calls` stored calls, the last `WAITING` of them scheduled days ahead (attempt 1), the rest ended over the last 600 days.
async fn build(dir: &Path, calls: usize) {
    let engine = EmbeddedDynamo::on_disk(dir).await.expect("the engine starts");
    table::create_table(&engine.client(), callops::TABLE).await.expect("the table");
    let store = DynamoStore::new(engine.client(), callops::TABLE);
    let now = Utc::now();
    let agent = agent(now);
    store
        .put_agent(&agent, true, &AuditEntry::system(ORG, "bench", callops_domain::records::audit::Action::AgentCreated, &agent.id, now))
        .await
        .expect("the agent");
    let started = Instant::now();
    let mut batch = Vec::with_capacity(5_000);
    for i in 0..calls {
        let waiting = i >= calls - WAITING;
        let new = NewCall {
            org_id: ORG.into(),
            voice_agent_id: "front-desk".into(),
            phone_number: format!("+1212555{:04}", i % 10_000),
            call_type: if waiting { CallType::OutboundFollowup } else { CallType::Inbound },
            status: if waiting { CallStatus::Scheduled } else { CallStatus::Completed },
            attempt: u32::from(waiting),
        };
        let at = now - chrono::Duration::seconds((i as i64 * 52) % (600 * 86_400));
        let mut call = CallLog::new(new, format!("bench-{i:07}").into(), time::to_millis(at));
        if waiting {
            call.scheduled_at = Some(time::to_millis(now + chrono::Duration::days(3) + chrono::Duration::minutes(i as i64 % 1_440)));
        } else {
            call.call_started_at = Some(time::to_millis(at));
            call.duration = Some((i % 600) as u32);
            call.outcome = Some(if i % 4 == 0 { CallOutcome::Booked } else { CallOutcome::Information });
            call.cost_cents = Some((i % 300) as i64);
        }
        batch.push(call);
        if batch.len() == 5_000 {
            store.bulk_put_calls(&batch).await.expect("calls written");
            batch.clear();
        }
    }
    store.bulk_put_calls(&batch).await.expect("calls written");
    println!("  built {calls} calls in {:.0} s", started.elapsed().as_secs_f64());
}

/// Starts `callops dev` on `dir` and returns the time to its first line, "CallOps is serving".
fn start_once(dir: &Path) -> Duration {
    let binary = env!("CARGO_BIN_EXE_callops");
    let started = Instant::now();
    let mut child = Command::new(binary)
        .args(["dev", "--no-demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("callops dev starts");
    let stdout = child.stdout.take().expect("its output");
    let mut lines = BufReader::new(stdout).lines();
    let serving = loop {
        match lines.next() {
            Some(Ok(line)) if line.starts_with("CallOps is serving") => break started.elapsed(),
            Some(Ok(_)) => {}
            _ => panic!("callops dev stopped before it served"),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    serving
}

/// Runs `callops <args>` to its end: how long it took, its peak resident memory in bytes, whether it succeeded, and its first line of output.
fn run_command(args: &[&str], dir: &Path) -> (Duration, u64, bool, String) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_callops"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the command starts");
    let stdout = child.stdout.take().expect("its output");
    // Read to the end: a reader that stopped early would close the pipe under the command's later lines.
    let first_line =
        std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).fold(None, |first, line| first.or(Some(line))).unwrap_or_default());
    let (exit, peak) = callops_tests::process::wait_with_peak_memory(&mut child);
    (started.elapsed(), peak, exit.success(), first_line.join().unwrap_or_default())
}

#[tokio::main]
async fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data");
    for calls in sizes() {
        let dir = root.join(format!("startup-{calls}"));
        let ready = dir.join("ready");
        if !ready.exists() {
            let _ = std::fs::remove_dir_all(&dir);
            build(&dir, calls).await;
            std::fs::write(&ready, b"built\n").expect("the mark");
        }
        let size = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum::<u64>();
        let mut times: Vec<Duration> = (0..RUNS).map(|_| start_once(&dir)).collect();
        times.sort();
        let (median, slowest) = (times[RUNS / 2], times[RUNS - 1]);
        println!(
            "callops dev --data-dir with {calls} calls ({WAITING} waiting, {:.0} MB on disk): start {:.2} s median, {:.2} s slowest of {RUNS} (target under {} s)",
            size as f64 / 1e6,
            median.as_secs_f64(),
            slowest.as_secs_f64(),
            TARGET.as_secs()
        );
        assert!(slowest < TARGET, "the start took {slowest:?} with {calls} calls");
        let held = std::env::var("CALLOPS_BENCH_HELD").unwrap_or_else(|_| callops_aws::store::HELD_ITEMS.to_string());
        for command in ["rebuild-rollups", "verify-rollups"] {
            let (took, peak, ok, checked) = run_command(&[command, "--held-items", &held], &dir);
            assert!(ok, "{command} failed on {calls} calls");
            println!(
                "callops {command} --held-items {held} --data-dir with {calls} calls: {:.1} s, peak memory {:.0} MB ({checked})",
                took.as_secs_f64(),
                peak as f64 / 1e6
            );
        }
    }
}
