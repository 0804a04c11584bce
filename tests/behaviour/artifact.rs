//! The shipped artifact: each arm64 bootstrap `cargo lambda build --release
//! --arm64` made, started as Lambda starts it (under `qemu-aarch64` on a
//! machine of another architecture) against the Lambda Runtime API
//! emulator, answers its first request. `infra/scripts/package.sh` runs it
//! after the build; it is ignored otherwise (the bootstraps are not there).
//!
//! `CALLOPS_ARTIFACT_DIR` (default `target/lambda`) holds `<function>/bootstrap`;
//! `CALLOPS_ARTIFACT_RUNNER` is the command that runs one (e.g.
//! `qemu-aarch64 -L /usr/aarch64-linux-gnu`; empty: run it directly).

use std::{path::PathBuf, time::Duration};

use callops_tests::lambda_rig::LambdaRig;

#[tokio::test]
#[ignore = "needs the arm64 bootstraps: infra/scripts/package.sh builds them and runs this"]
async fn every_shipped_bootstrap_answers_its_first_request_as_lambda_starts_it() {
    let dir =
        std::env::var("CALLOPS_ARTIFACT_DIR").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/lambda")));
    let runner: Vec<String> = std::env::var("CALLOPS_ARTIFACT_RUNNER").unwrap_or_default().split_whitespace().map(str::to_string).collect();
    let rig = LambdaRig::start().await;
    let mut answered = Vec::new();
    for function in &rig.functions {
        let bootstrap = dir.join(function.binary).join("bootstrap");
        assert!(bootstrap.exists(), "{} is missing: run infra/scripts/package.sh", bootstrap.display());
        // Emulated, an arm64 process starts in a second or two; its figure is the benchmark's business, not this check's.
        let took = rig.invoke_once(function, &bootstrap, &runner, Duration::from_secs(60)).await.unwrap_or_else(|err| panic!("{err}"));
        println!("{}: answered {} in {:.0} ms", function.binary, function.request, took.as_secs_f64() * 1000.0);
        answered.push(function.binary);
    }
    assert_eq!(answered, ["analytics", "outbound", "webhook", "dialer", "dashboard"]);
}
