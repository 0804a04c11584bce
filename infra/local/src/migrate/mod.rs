//! `callops migrate`: a practice's history from the legacy PostgreSQL
//! `call_logs` table into CallOps, mapped as shared/legacy/MAPPING.md says.
//!
//! Safe to repeat and to interrupt. Rows are read in id order, a batch at a
//! time; each mapped call is compared with what the store holds and written
//! only when it differs (a call keeps its legacy id, so a second run finds
//! every call unchanged). After each batch a checkpoint records the last id
//! done, so a run that stopped half way continues there. Calls are written
//! in transactions with the rollup changes they make, each on the condition
//! that the call is still as it was read, so the rollups are exact after
//! every transaction and nothing is counted twice however often the run
//! stops or repeats. `--dry-run` reads, maps and compares, and writes nothing.

pub mod agents;
pub mod mapping;
mod report;

pub use report::{Report, Timings};

use std::collections::{BTreeMap, HashMap};

use self::mapping::{LegacyRow, Note, Refusal, map_row};
use callops_aws::store::{AuditStore, CallStore, MarkerStore, SettingsStore};
use callops_aws::{
    DynamoStore, StoredCall,
    bulk_load::{BulkLoad, Loaded, PreparedLoad},
    embedded::EmbeddedDynamo,
    import::{ImportCall, NotImported},
};
use callops_domain::{CallLog, CallStatus, analytics::missed};
use chrono::{DateTime, Utc};
use tokio_postgres::{NoTls, Row};

/// The checkpoint's name in the tenant's partition.
const CHECKPOINT: &str = "MIGRATION";

/// Every column, the enum ones as text.
const SELECT: &str = "SELECT id, voice_agent_id, phone_number, direction, status, duration, call_started_at, call_ended_at, \
    transcript, summary, recording_url, appointment_set, created_at, outcome::text AS outcome, insurance_verified, \
    insurance_provider, payment_plan_discussed, payment_plan_amount, collection_attempt, collection_amount, \
    collection_success, transferred_to_staff, transferred_to, vapi_call_id, call_type::text AS call_type, campaign_id, \
    scheduled_at, call_purpose, call_notes, follow_up_required, follow_up_date, call_quality, customer_sentiment, \
    ai_confidence, cost_cents, updated_at FROM call_logs";

/// [`SELECT`] without the long texts no rule of [`connections`] reads.
fn select_facts() -> String {
    ["transcript", "summary", "recording_url", "call_purpose", "call_notes"]
        .iter()
        .fold(SELECT.to_string(), |select, column| select.replacen(&format!(" {column},"), &format!(" NULL::text AS {column},"), 1))
}

/// The start of every connected call of the legacy table, by its number as
/// the mapping keeps it, sorted: a missed call is returned by the first of
/// its number's that started after it ([`missed::first_connection_after`]),
/// wherever in the table that row is. One pass over the table, streamed,
/// before the first batch.
async fn connections(client: &tokio_postgres::Client, org_id: &str) -> Result<HashMap<String, Vec<DateTime<Utc>>>, String> {
    use futures::TryStreamExt;
    let pg = |e: tokio_postgres::Error| format!("PostgreSQL: {e}");
    let rows = client.query_raw(&select_facts(), std::iter::empty::<&str>()).await.map_err(pg)?;
    futures::pin_mut!(rows);
    let mut starts: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
    while let Some(row) = rows.try_next().await.map_err(pg)? {
        if let Ok(mapped) = map_row(&legacy_row(&row).map_err(pg)?, org_id)
            && let Some(started) = mapped.call.call_started_at.filter(|_| missed::connected(&mapped.call) && missed::returnable(&mapped.call.phone_number))
        {
            starts.entry(mapped.call.phone_number).or_default().push(started);
        }
    }
    for list in starts.values_mut() {
        list.sort_unstable();
    }
    Ok(starts)
}

#[derive(Debug, Clone)]
pub struct MigrateOptions {
    pub url: String,
    pub org_id: String,
    pub dry_run: bool,
    /// Rows read per batch.
    pub batch: usize,
    /// Write transactions (up to 100 writes each) in flight at once.
    pub concurrency: usize,
    /// Draw a progress bar (on a terminal).
    pub progress: bool,
    /// Stop after this many batches, as if interrupted (for tests).
    pub stop_after_batches: Option<usize>,
    /// Legacy `voice_agent_id` -> the tenant's agent its calls go to; the
    /// ones left out become imported agents ([`agents`]).
    pub agent_map: BTreeMap<String, String>,
}

fn legacy_row(row: &Row) -> Result<LegacyRow, tokio_postgres::Error> {
    Ok(LegacyRow {
        id: row.try_get("id")?,
        voice_agent_id: row.try_get("voice_agent_id")?,
        phone_number: row.try_get("phone_number")?,
        direction: row.try_get("direction")?,
        status: row.try_get("status")?,
        duration: row.try_get("duration")?,
        call_started_at: row.try_get("call_started_at")?,
        call_ended_at: row.try_get("call_ended_at")?,
        transcript: row.try_get("transcript")?,
        summary: row.try_get("summary")?,
        recording_url: row.try_get("recording_url")?,
        appointment_set: row.try_get("appointment_set")?,
        created_at: row.try_get("created_at")?,
        outcome: row.try_get("outcome")?,
        insurance_verified: row.try_get("insurance_verified")?,
        insurance_provider: row.try_get("insurance_provider")?,
        payment_plan_discussed: row.try_get("payment_plan_discussed")?,
        payment_plan_amount: row.try_get("payment_plan_amount")?,
        collection_attempt: row.try_get("collection_attempt")?,
        collection_amount: row.try_get("collection_amount")?,
        collection_success: row.try_get("collection_success")?,
        transferred_to_staff: row.try_get("transferred_to_staff")?,
        transferred_to: row.try_get("transferred_to")?,
        vapi_call_id: row.try_get("vapi_call_id")?,
        call_type: row.try_get("call_type")?,
        campaign_id: row.try_get("campaign_id")?,
        scheduled_at: row.try_get("scheduled_at")?,
        call_purpose: row.try_get("call_purpose")?,
        call_notes: row.try_get("call_notes")?,
        follow_up_required: row.try_get("follow_up_required")?,
        follow_up_date: row.try_get("follow_up_date")?,
        call_quality: row.try_get("call_quality")?,
        customer_sentiment: row.try_get("customer_sentiment")?,
        ai_confidence: row.try_get("ai_confidence")?,
        cost_cents: row.try_get("cost_cents")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// One batch read, mapped and compared with the store, ready to write.
struct Batch {
    last_id: String,
    rows: u64,
    /// The calls that differ from what the store holds.
    changed: Changed,
    unchanged: u64,
    refused: Vec<Refusal>,
    notes: Vec<Note>,
    scheduled: u64,
    unsuccessful_with_amount: u64,
    read_time: std::time::Duration,
    compare_time: std::time::Duration,
}

/// The calls of a batch that differ from what the store holds: as read, or
/// (for a bulk load) already worked out as far as they can be without
/// reading the table again, while the previous batch was written.
enum Changed {
    Calls(Vec<ImportCall>),
    Prepared(PreparedLoad),
    /// Planned on what the load before it leaves, while that one was written.
    Planned(BulkLoad),
}

impl Changed {
    fn len(&self) -> usize {
        match self {
            Changed::Calls(calls) => calls.len(),
            Changed::Prepared(prepared) => prepared.len(),
            Changed::Planned(load) => load.calls,
        }
    }
}

impl Batch {
    /// Counts the batch as read in `report`, and hands back what to write.
    fn count_in(self, report: &mut Report) -> (String, u64, Changed) {
        report.read += self.rows;
        report.unchanged += self.unchanged;
        report.refused.extend(self.refused);
        report.scheduled += self.scheduled;
        report.unsuccessful_with_amount += self.unsuccessful_with_amount;
        for note in self.notes {
            *report.notes.entry(note).or_default() += 1;
        }
        report.timings.read += self.read_time;
        report.timings.compare += self.compare_time;
        (self.last_id, self.rows, self.changed)
    }
}

/// Reads the batch after `after` (the first when None), maps its rows and
/// keeps the calls the store does not hold as they are. None past the end.
/// `bulk`: the batch is prepared for a bulk load ([`DynamoStore::prepare_bulk_load`]).
async fn read_batch(
    client: &tokio_postgres::Client,
    store: &DynamoStore,
    options: &MigrateOptions,
    agents: &agents::AgentMap,
    connections: &HashMap<String, Vec<DateTime<Utc>>>,
    after: Option<&str>,
    bulk: bool,
) -> Result<Option<Batch>, String> {
    let pg = |e: tokio_postgres::Error| format!("PostgreSQL: {e}");
    let limit = options.batch.max(1) as i64;
    let clock = std::time::Instant::now();
    let rows = match after {
        None => client.query(&format!("{SELECT} ORDER BY id LIMIT $1"), &[&limit]).await,
        Some(id) => client.query(&format!("{SELECT} WHERE id > $1 ORDER BY id LIMIT $2"), &[&id, &limit]).await,
    }
    .map_err(pg)?;
    let read_time = clock.elapsed();
    let Some(last) = rows.last() else { return Ok(None) };
    let mut batch = Batch {
        last_id: last.get("id"),
        rows: rows.len() as u64,
        changed: Changed::Calls(Vec::new()),
        unchanged: 0,
        refused: Vec::new(),
        notes: Vec::new(),
        scheduled: 0,
        unsuccessful_with_amount: 0,
        read_time,
        compare_time: std::time::Duration::ZERO,
    };
    let mut mapped: Vec<CallLog> = Vec::with_capacity(rows.len());
    // Content past the tenant's retention is not stored: such a row comes in with its content removed when it ran out.
    let retention = store.settings(&options.org_id).await.map_err(|e| e.to_string())?.retention;
    let now = chrono::Utc::now();
    for row in &rows {
        let legacy = legacy_row(row).map_err(pg)?;
        match map_row(&legacy, &options.org_id) {
            Ok(mut ok) => {
                ok.call.voice_agent_id = agents.agent_for(&legacy.voice_agent_id).into();
                if let (Some(started), true) = (ok.call.call_started_at, missed::is_missed(&ok.call)) {
                    ok.call.returned_at = connections.get(&ok.call.phone_number).and_then(|starts| missed::first_connection_after(starts, started));
                }
                if ok.call.has_content() && retention.content_expired(&ok.call, now) {
                    let ran_out = ok.call.call_started_at.unwrap_or(ok.call.created_at) + chrono::Duration::days(i64::from(retention.content_days));
                    ok.call = ok.call.remove_content(callops_domain::call::RemovalReason::Retention, ran_out, None);
                }
                batch.notes.extend(ok.notes);
                batch.scheduled += u64::from(ok.call.status == CallStatus::Scheduled);
                let call = &ok.call;
                batch.unsuccessful_with_amount += u64::from(call.collection_attempt && !call.collection_success && call.collection_amount.is_some());
                mapped.push(ok.call);
            }
            Err(refusal) => batch.refused.push(refusal),
        }
    }
    let clock = std::time::Instant::now();
    let ids: Vec<String> = mapped.iter().map(|c| c.id.to_string()).collect();
    let mut existing: HashMap<String, StoredCall> = store.calls_by_id(&options.org_id, &ids).await.map_err(|e| e.to_string())?;
    let changed: Vec<ImportCall> = mapped
        .into_iter()
        .map(|mut call| {
            let stored = existing.remove(call.id.as_str());
            // A call whose content was removed (its retention ran out, its patient was erased) takes none again from the legacy row.
            if let Some(stored) = &stored {
                call.stay_removed_as(&stored.call);
            }
            ImportCall { stored, call }
        })
        .filter(|import| import.stored.as_ref().map(|stored| &stored.call) != Some(&import.call))
        .collect();
    batch.unchanged = (ids.len() - changed.len()) as u64;
    batch.changed = match bulk {
        // On a thread of its own: the write of the batch before, in this task, goes on meanwhile.
        true => {
            let store = store.clone();
            let prepared = tokio::task::spawn_blocking(move || store.prepare_bulk_load(changed)).await.map_err(|e| e.to_string())?;
            Changed::Prepared(prepared.map_err(|e| e.to_string())?)
        }
        false => Changed::Calls(changed),
    };
    batch.compare_time = clock.elapsed();
    Ok(Some(batch))
}

/// Runs one migration into `store`, a table others may write to at the same
/// time: each batch in conditional transactions ([`DynamoStore::import_calls`]).
pub async fn migrate(store: &DynamoStore, options: &MigrateOptions) -> Result<Report, String> {
    run(store, None, options).await
}

/// Runs one migration into the data dir of `engine`, which this process
/// holds alone ([`callops_aws::embedded::DirAccess::Alone`]): each batch is read against the table
/// ([`DynamoStore::plan_bulk_load`]) and written in one write of the engine's
/// own, all or none ([`EmbeddedDynamo::load_items`]); the few calls that must
/// remove an item, or claim a Vapi call id another call holds, go through the
/// conditional path after it. `store` must talk to `engine`.
pub async fn migrate_alone(store: &DynamoStore, engine: &EmbeddedDynamo, options: &MigrateOptions) -> Result<Report, String> {
    run(store, Some(engine), options).await
}

/// Writes one batch's changed calls; returns those the table would not take.
async fn write_batch(store: &DynamoStore, engine: Option<&EmbeddedDynamo>, changed: Changed, concurrency: usize) -> Result<Vec<NotImported>, String> {
    let load = match changed {
        Changed::Calls(calls) => return store.import_calls(&calls, concurrency).await.map_err(|e| e.to_string()),
        Changed::Prepared(prepared) => store.plan_bulk_load(prepared, &Loaded::default()).await.map_err(|e| e.to_string())?,
        Changed::Planned(load) => load,
    };
    let engine = engine.ok_or("a bulk load needs the embedded engine")?;
    engine.load_items(store.table(), load.items).await.map_err(|e| e.to_string())?;
    let mut refused = load.refused;
    refused.extend(store.import_calls(&load.alone, 1).await.map_err(|e| e.to_string())?);
    Ok(refused)
}

/// The next batch, read, and (for a bulk load, when the one being written
/// leaves `leaves`) planned on what that one leaves.
async fn read_and_plan(
    read: impl std::future::Future<Output = Result<Option<Batch>, String>>,
    reads: &DynamoStore,
    leaves: Option<&Loaded>,
) -> Result<Option<Batch>, String> {
    let Some(mut batch) = read.await? else { return Ok(None) };
    if let (Some(leaves), Changed::Prepared(_)) = (leaves, &batch.changed) {
        let Changed::Prepared(prepared) = std::mem::replace(&mut batch.changed, Changed::Calls(Vec::new())) else { unreachable!() };
        batch.changed = Changed::Planned(reads.plan_bulk_load(prepared, leaves).await.map_err(|e| e.to_string())?);
    }
    Ok(Some(batch))
}

/// One migration. While a batch is written, the next one is read and
/// compared (their ids differ, so neither sees the other's writes); the
/// checkpoint moves only once a batch is written.
async fn run(store: &DynamoStore, engine: Option<&EmbeddedDynamo>, options: &MigrateOptions) -> Result<Report, String> {
    let (client, connection) = tokio_postgres::connect(&options.url, NoTls).await.map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
    let connection = tokio::spawn(connection);
    let pg = |e: tokio_postgres::Error| format!("PostgreSQL: {e}");
    let total: i64 = client.query_one("SELECT count(*) FROM call_logs", &[]).await.map_err(pg)?.get(0);

    let mut report = Report { dry_run: options.dry_run, ..Report::default() };
    let units_before = store.write_units();
    let checkpoint = store.marker(&options.org_id, CHECKPOINT).await.map_err(|e| e.to_string())?;
    let after: Option<String> = checkpoint.filter(|c| c.get("state").map(String::as_str) == Some("running")).and_then(|c| c.get("lastId").cloned());
    report.resumed_after = after.clone();
    let done_before: i64 = match &after {
        Some(id) => client.query_one("SELECT count(*) FROM call_logs WHERE id <= $1", &[id]).await.map_err(pg)?.get(0),
        None => 0,
    };

    let bar = if options.progress { indicatif::ProgressBar::new(total.max(0) as u64) } else { indicatif::ProgressBar::hidden() };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows  {per_sec}  eta {eta}").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_position(done_before.max(0) as u64);

    let legacy_agents: Vec<String> =
        client.query("SELECT DISTINCT voice_agent_id FROM call_logs ORDER BY 1", &[]).await.map_err(pg)?.iter().map(|row| row.get(0)).collect();
    let agents = agents::resolve(store, &options.org_id, &legacy_agents, &options.agent_map, options.dry_run, chrono::Utc::now()).await?;
    report.agents = agents.lines.clone();
    let connections = connections(&client, &options.org_id).await?;
    let bulk = engine.is_some() && !options.dry_run;
    // A bulk load reads the next batch's calls on a connection of their own, beside the write.
    let reader = match engine.filter(|_| bulk) {
        Some(engine) => engine.reader().await.map_err(|e| e.to_string())?,
        None => None,
    };
    let read_store = reader.as_ref().map(|reader| DynamoStore::new(reader.client(), store.table()));
    let reads = read_store.as_ref().unwrap_or(store);
    let mut next = read_batch(&client, reads, options, &agents, &connections, after.as_deref(), bulk).await?;
    let mut batches = 0;
    while let Some(batch) = next.take() {
        if options.stop_after_batches.is_some_and(|stop| batches >= stop) {
            bar.abandon();
            drop(client);
            let _ = connection.await;
            return Ok(report);
        }
        let (last_id, rows, changed) = batch.count_in(&mut report);
        if options.dry_run {
            report.written += changed.len() as u64;
            next = read_batch(&client, reads, options, &agents, &connections, Some(&last_id), bulk).await?;
        } else {
            let count = changed.len();
            let clock = std::time::Instant::now();
            // A bulk load is planned before its write; what it leaves lets the next one be planned beside it.
            let changed = match changed {
                Changed::Prepared(prepared) => Changed::Planned(store.plan_bulk_load(prepared, &Loaded::default()).await.map_err(|e| e.to_string())?),
                other => other,
            };
            let leaves = match &changed {
                Changed::Planned(load) if load.alone.is_empty() => Some(load.leaves.clone()),
                _ => None,
            };
            let write = async {
                let not_taken = write_batch(store, engine, changed, options.concurrency).await;
                (not_taken, clock.elapsed())
            };
            let following = read_and_plan(read_batch(&client, reads, options, &agents, &connections, Some(&last_id), bulk), reads, leaves.as_ref());
            let ((not_taken, write_time), following) = tokio::join!(write, following);
            let not_taken = not_taken?;
            report.written += (count - not_taken.len()) as u64;
            report.refused.extend(not_taken.into_iter().map(|NotImported { id, reason }| Refusal { id, reason }));
            store
                .put_marker(&options.org_id, CHECKPOINT, &[("state", "running".into()), ("lastId", last_id.clone())], None)
                .await
                .map_err(|e| e.to_string())?;
            if count > 0 {
                // The calls the migration wrote, on the record as CallOps' own change.
                let mut changes = callops_domain::records::audit::fields_read(&[]);
                changes.insert("calls".into(), serde_json::json!({"from": null, "to": count}));
                let entry = callops_domain::records::audit::AuditEntry::by(
                    &options.org_id,
                    &callops_domain::caller::Actor::system("migrate"),
                    &Default::default(),
                    callops_domain::records::audit::Action::CallsImported,
                    &options.org_id,
                    changes,
                    chrono::Utc::now(),
                );
                store.record_audit(&[entry]).await.map_err(|e| e.to_string())?;
            }
            report.timings.write += write_time;
            next = following?;
        }
        bar.inc(rows);
        batches += 1;
    }
    bar.finish_and_clear();
    drop(client);
    let _ = connection.await;
    report.complete = true;
    report.write_units = store.write_units() - units_before;
    if !options.dry_run {
        store.put_marker(&options.org_id, CHECKPOINT, &[("state", "done".into())], None).await.map_err(|e| e.to_string())?;
        // History older than the retention sweep's mark: the next round reads the tenant from the start.
        store.put_marker(&options.org_id, callops_service::records::RETENTION_MARKER, &[], None).await.map_err(|e| e.to_string())?;
    }
    Ok(report)
}
