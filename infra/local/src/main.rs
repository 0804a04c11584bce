//! `callops`: the local host and the operator's commands.

use std::{collections::HashMap, process::ExitCode};

use callops::cli::{Cli, Command, DevArgs, ImportDncArgs, MigrateArgs, ReapplyArgs, RollupArgs, StoreArgs, VerifyAuditArgs};
use callops::{Host, HostOptions, demo};
use callops_aws::store::{AuditChainStore, RollupCheckStore};
use callops_aws::{
    DynamoStore,
    embedded::{DirAccess, EmbeddedDynamo},
};
use clap::Parser;

/// mimalloc rather than glibc's malloc: see infra/local/Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        // The embedded engine logs an expected "table exists" at start-up as a warning; keep it quiet.
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,dynoxide::server=error".into()))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Dev(args) => dev(args).await,
        Command::VerifyRollups(args) => rollups(args, false).await,
        Command::RebuildRollups(args) => rollups(args, true).await,
        Command::Migrate(args) => migrate(args).await,
        Command::VerifyAudit(args) => verify_audit(args).await,
        Command::ReapplyErasures(args) => reapply_erasures(args).await,
        Command::ImportDnc(args) => import_dnc(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("callops: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn verify_audit(args: VerifyAuditArgs) -> Result<(), String> {
    let (_engine, store) = open_store(&args.store, false).await?;
    let report = store.verify_audit(&args.org, callops_aws::store::audit::audit_retention_days(), chrono::Utc::now()).await.map_err(|e| e.to_string())?;
    println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
    match report.ok {
        true => Ok(()),
        false => Err(format!("the audit log of {} does not hold: {} problem(s)", args.org, report.problems.len())),
    }
}

async fn reapply_erasures(args: ReapplyArgs) -> Result<(), String> {
    let (engine, target) = open_store(&args.store, false).await?;
    let log_store = StoreArgs { data_dir: args.log_data_dir.clone().unwrap_or_default(), table: args.log_table.clone() };
    let (_log_engine, log) = match (&args.log_data_dir, &args.log_table) {
        (None, None) => (None, target.clone()),
        _ => open_store(&log_store, false).await?,
    };
    let done = callops_service::records::reapply_erasures(&target, &log, &args.org, chrono::Utc::now()).await.map_err(|e| e.to_string())?;
    if let Some(engine) = &engine {
        engine.scrub().await.map_err(|e| e.to_string())?;
    }
    println!("{}", serde_json::to_string_pretty(&done).map_err(|e| e.to_string())?);
    match done.failed.is_empty() {
        true => Ok(()),
        false => Err(format!("{} number(s) could not be erased again; run it again once they can", done.failed.len())),
    }
}

async fn dev(args: DevArgs) -> Result<(), String> {
    // The demo practice's admin, a member of its front desk, and someone who may see its figures only.
    let mut tokens = HashMap::from([
        ("dev-token".to_string(), callops::DevToken::admin(demo::DEMO_ORG)),
        ("dev-staff-token".to_string(), callops::DevToken::with_role(demo::DEMO_ORG, Some(callops_http::Role::Staff))),
        ("dev-viewer-token".to_string(), callops::DevToken::with_role(demo::DEMO_ORG, Some(callops_http::Role::Viewer))),
    ]);
    tokens.extend(args.dev_tokens);
    let data_dir = (!args.memory).then_some(args.data_dir);
    let mut vapi_credentials = vec![callops_webhook::auth::Credential { secret: "dev-secret".into(), org_id: demo::DEMO_ORG.into() }];
    vapi_credentials.extend(args.vapi_secrets);
    let vapi_orgs: Vec<String> = vapi_credentials.iter().map(|c| c.org_id.clone()).collect();
    let vapi = match (args.vapi_base_url, args.vapi_api_key) {
        (Some(base_url), Some(api_key)) => callops::VapiBackend::Remote { base_url, api_key, public_key: args.vapi_public_key },
        _ => callops::VapiBackend::default(),
    };
    let mut twilio_tokens = HashMap::from([(demo::DEMO_ORG.to_string(), demo::DEMO_TWILIO_TOKEN.to_string())]);
    twilio_tokens.extend(args.twilio_tokens);
    let mut twilio_orgs: Vec<String> = twilio_tokens.keys().cloned().collect();
    twilio_orgs.sort();
    let rnd = match (args.rnd_endpoint, args.rnd_api_key, args.rnd_fixture) {
        (Some(endpoint), Some(key), _) => callops::RndBackend::Remote { endpoint, key },
        (_, _, Some(file)) => {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            callops::RndBackend::Fake(callops::fake_rnd::parse_fixture(&text).map_err(|e| format!("{}: {e}", file.display()))?)
        }
        _ => callops::RndBackend::default(),
    };
    let (dial, reconcile) = callops::dev_timings();
    let options = HostOptions {
        data_dir: data_dir.clone(),
        dynamodb_endpoint: args.dynamodb_endpoint.clone(),
        tokens: tokens.clone(),
        demo: !args.no_demo,
        vapi_credentials,
        twilio_tokens,
        rnd,
        dial_at: None,
        vapi,
        dial,
        reconcile,
        page_sign_in: None,
    };
    let host = Host::start(options).await.map_err(|e| e.to_string())?;
    let listener = callops::listen(args.listen).await?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;

    println!("CallOps is serving on http://{addr}");
    match (&args.dynamodb_endpoint, &data_dir) {
        (Some(endpoint), _) => println!("  data:      DynamoDB at {endpoint}"),
        (None, Some(dir)) => println!("  data:      {} (embedded DynamoDB-compatible engine)", dir.display()),
        (None, None) => println!("  data:      in memory (embedded DynamoDB-compatible engine)"),
    }
    println!("  dynamodb:  {} (table {})", host.dynamodb_endpoint(), callops::TABLE);
    let mut orgs: Vec<_> = tokens.iter().collect();
    orgs.sort_by_key(|(token, _)| token.as_str());
    for (token, dev) in orgs {
        let role = dev.role.map_or("staff", |r| r.as_str());
        println!("  token:     Authorization: Bearer {token}  -> tenant {}, {role}", dev.org);
    }
    println!("  webhook:   POST http://{addr}/webhooks/vapi  (X-Vapi-Secret for tenants {})", vapi_orgs.join(", "));
    println!("  texts:     POST http://{addr}/webhooks/twilio/ORG/sms  (X-Twilio-Signature with the Twilio auth token of tenants {})", twilio_orgs.join(", "));
    match host.simulator() {
        Some(simulator) => println!("  vapi:      the built-in simulator at {} (calls play out in seconds)", simulator.base_url()),
        None => println!("  vapi:      the Vapi API given by --vapi-base-url"),
    }
    println!("  health:    GET http://{addr}/healthz");
    println!("  api docs:  http://{addr}/docs (every route and schema, from infra/openapi.yaml)");
    for route in callops::gateway::routes() {
        println!("  route:     {:<40} ({})", route.key, route.function.logical_id());
    }
    if !args.no_demo && args.dynamodb_endpoint.is_none() {
        // Calls to watch: a few to US patients inside their calling hours (scheduled on the first start only).
        match demo::schedule_upcoming(&host.calls(), chrono::Utc::now()).await {
            Ok(calls) => {
                for (call, new) in calls {
                    let at = call.scheduled_at.map(|t| callops_domain::time::format(&t)).unwrap_or_default();
                    let how = if new { "scheduled now, inside its callee's hours" } else { "scheduled on an earlier start" };
                    println!("  demo call: {} at {at}, {} ({how})", call.phone_number, call.status);
                }
            }
            Err(err) => println!("  demo call: none scheduled ({err})"),
        }
    }
    println!("Try: curl -H 'Authorization: Bearer dev-token' http://{addr}/api/analytics/calls/recent?limit=5");

    host.serve(listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| format!("server failed: {e}"))
}

/// Opens the store an operator command works on; the engine, when embedded,
/// lives as long as the returned guard. `create`: a new data directory is
/// fine (its table is made).
async fn open_store(args: &StoreArgs, create: bool) -> Result<(Option<EmbeddedDynamo>, DynamoStore), String> {
    if args.table.is_some() && std::env::var(callops_aws::pseudonym::PSEUDONYM_KEY_VAR).is_err() {
        return Err(format!(
            "set {} to the deployment's key (its Secrets Manager secret): the audit log and erased numbers are kept under pseudonyms made with it",
            callops_aws::pseudonym::PSEUDONYM_KEY_VAR
        ));
    }
    match &args.table {
        // `create` is the migration: a bulk writer, which waits out throttling.
        Some(table) if create => Ok((None, DynamoStore::new(callops_aws::dynamodb_bulk_client_from_env().await, table.clone()).patient())),
        Some(table) => Ok((None, DynamoStore::new(callops_aws::dynamodb_client_from_env().await, table.clone()))),
        None => {
            if !create && !args.data_dir.join("callops.db").exists() {
                return Err(format!("no local data in {} (run `callops dev` first, or pass --data-dir)", args.data_dir.display()));
            }
            // The migration holds the data dir alone: it writes without conditions.
            let access = if create { DirAccess::Alone } else { DirAccess::Shared };
            let engine = EmbeddedDynamo::on_disk_with(&args.data_dir, access).await.map_err(|e| e.to_string())?;
            callops_aws::table::create_embedded_table(&engine.client(), callops::TABLE).await.map_err(|e| e.to_string())?;
            let store =
                DynamoStore::new(engine.client(), callops::TABLE).with_pseudonym_key(callops::pseudonym_key_of(&args.data_dir).map_err(|e| e.to_string())?);
            Ok((Some(engine), store))
        }
    }
}

async fn import_dnc(args: ImportDncArgs) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.file).map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
    let as_of = args.as_of.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let (engine, store) = open_store(&args.store, true).await?;
    let started = std::time::Instant::now();
    let imported = callops::registry_import::import(&store, engine.as_ref(), &args.org, &args.registry, as_of, &text, chrono::Utc::now())
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "{} registry as of {}: {} numbers added, {} deleted, {} lines rejected; the copy holds {} numbers ({:.1} s)",
        imported.copy.name,
        imported.copy.as_of,
        imported.added,
        imported.deleted,
        imported.rejected_count,
        imported.copy.numbers,
        started.elapsed().as_secs_f64()
    );
    for (line, why) in &imported.rejected {
        println!("line {line}: {why}");
    }
    Ok(())
}

async fn migrate(args: MigrateArgs) -> Result<(), String> {
    use std::io::IsTerminal;
    let mut agent_map: std::collections::BTreeMap<String, String> = args.agent_map.into_iter().collect();
    if let Some(file) = &args.agent_map_file {
        let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        agent_map.extend(callops::migrate::agents::parse_map_lines(&text).map_err(|e| format!("{}: {e}", file.display()))?);
    }
    let (engine, store) = open_store(&args.store, true).await?;
    if let Some(engine) = &engine
        && !args.dry_run
    {
        engine.begin_bulk_load().map_err(|e| e.to_string())?;
    }
    let options = callops::migrate::MigrateOptions {
        agent_map,
        url: args.from_postgres,
        org_id: args.org,
        dry_run: args.dry_run,
        batch: args.batch,
        concurrency: args.concurrency,
        progress: std::io::stderr().is_terminal(),
        stop_after_batches: None,
    };
    let report = match &engine {
        Some(engine) if !options.dry_run => callops::migrate::migrate_alone(&store, engine, &options).await,
        _ => callops::migrate::migrate(&store, &options).await,
    };
    if let Some(engine) = &engine {
        engine.end_bulk_load().map_err(|e| e.to_string())?;
    }
    let report = report?;
    print!("{}", report.render());
    Ok(())
}

async fn rollups(args: RollupArgs, repair: bool) -> Result<(), String> {
    use std::io::IsTerminal;
    let (engine, store) = open_store(&args.store, false).await?;
    let options = callops_aws::store::CheckOptions {
        segments: args.segments.unwrap_or(if engine.is_some() { 1 } else { 4 }),
        held_items: usize::try_from(args.held_items).unwrap_or(usize::MAX),
    };
    // The calls read so far, on a terminal: the count of a table's calls would cost a scan of its own.
    let bar = if std::io::stderr().is_terminal() { indicatif::ProgressBar::new_spinner() } else { indicatif::ProgressBar::hidden() };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} calls read  {per_sec}  {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let progress = |read: u64| bar.set_position(read);
    let report = store.check_rollups(&options, repair, &progress).await.map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    let passes = if report.passes == 1 { "1 pass".to_string() } else { format!("{} passes", report.passes) };
    println!("checked {} calls against {} rollup items in {passes} over the calls", report.calls, report.rollup_items);
    for drift in &report.drift {
        let names: std::collections::BTreeSet<&str> = drift.expected.counters().chain(drift.actual.counters()).map(|(name, _)| name).collect();
        let counters: Vec<String> = names
            .into_iter()
            .filter(|name| drift.expected.get(name) != drift.actual.get(name))
            .map(|name| format!("{name}: expected {} found {}", drift.expected.get(name), drift.actual.get(name)))
            .collect();
        println!("drift {} / {}: {}", drift.key.pk, drift.key.sk, counters.join(", "));
    }
    for impossible in &report.impossible {
        println!("impossible {} / {}: {}", impossible.key.pk, impossible.key.sk, impossible.problems.join("; "));
    }
    for unreadable in &report.unreadable {
        println!("unreadable call {} / {}: {}", unreadable.pk, unreadable.sk, unreadable.error);
    }
    for (listed, all, what) in [
        (report.drift.len(), report.drifted, "drifted items"),
        (report.impossible.len(), report.impossible_items, "impossible items"),
        (report.unreadable.len(), report.unreadable_items, "unreadable calls"),
    ] {
        if all > listed {
            println!("... and {} more {what} not listed", all - listed);
        }
    }
    if report.unreadable_items > 0 {
        println!("{} call items cannot be read; they count in no rollup (fix or remove them by their keys)", report.unreadable_items);
    }
    if report.is_clean() {
        println!("rollups are exact");
        return Ok(());
    }
    if repair {
        println!("repaired {} rollup items", report.repaired);
    }
    match (repair, report.unreadable_items) {
        (true, 0) => Ok(()),
        (true, n) => Err(format!("{n} call items cannot be read")),
        (false, unreadable) => Err(format!(
            "{} rollup items drifted, {} hold impossible totals, {unreadable} call items cannot be read; `callops rebuild-rollups` repairs the rollups",
            report.drifted, report.impossible_items,
        )),
    }
}
