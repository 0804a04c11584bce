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

use std::collections::{BTreeMap, HashMap};

use callops_aws::{
    DynamoStore, StoredCall,
    import::{ImportCall, NotImported},
};
use callops_domain::{
    CallLog, CallStatus,
    legacy::{LegacyRow, Note, NoteKind, Refusal, map_row},
};
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
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub dry_run: bool,
    /// The id the run continued after, when it resumed an interrupted one.
    pub resumed_after: Option<String>,
    pub read: u64,
    /// Written (or, in a dry run, that would be).
    pub written: u64,
    pub unchanged: u64,
    pub refused: Vec<Refusal>,
    /// Defaulted and unmapped values, by kind, column and value.
    pub notes: BTreeMap<Note, u64>,
    /// Imported in status SCHEDULED: kept as history, never dialed by CallOps.
    pub scheduled: u64,
    /// Whether the run went through to the end (not stopped early).
    pub complete: bool,
    /// Where the time went: reading PostgreSQL, comparing with the store, writing.
    pub timings: Timings,
}

#[derive(Debug, Clone, Default)]
pub struct Timings {
    pub read: std::time::Duration,
    pub compare: std::time::Duration,
    pub write: std::time::Duration,
}

impl Report {
    /// The report an operator reads: counts, then every note and refusal.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let verb = if self.dry_run { "would write" } else { "written" };
        if let Some(after) = &self.resumed_after {
            out.push_str(&format!("resumed after id {after}\n"));
        }
        out.push_str(&format!("rows read:        {}\n", self.read));
        out.push_str(&format!("{:<18}{}\n", format!("{verb}:"), self.written));
        out.push_str(&format!("unchanged:        {}\n", self.unchanged));
        out.push_str(&format!("refused:          {}\n", self.refused.len()));
        if self.scheduled > 0 {
            out.push_str(&format!("scheduled rows:   {} (kept as history; CallOps never dials an imported call)\n", self.scheduled));
        }
        for kind in [NoteKind::Defaulted, NoteKind::Unmapped] {
            let label = match kind {
                NoteKind::Defaulted => "defaulted",
                NoteKind::Unmapped => "unmapped",
            };
            for (note, count) in self.notes.iter().filter(|(note, _)| note.kind == kind) {
                out.push_str(&format!("{label}: {} {:?} x {count}\n", note.column, note.value));
            }
        }
        for refusal in &self.refused {
            out.push_str(&format!("refused: id {} ({})\n", refusal.id, refusal.reason));
        }
        match (self.complete, self.dry_run) {
            (_, true) => out.push_str("dry run: nothing was written\n"),
            (true, false) => out.push_str("done: the analytics rollups moved with every write\n"),
            (false, false) => out.push_str("stopped before the end: run the same command again to continue\n"),
        }
        out
    }
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

/// Runs one migration into `store`.
pub async fn migrate(store: &DynamoStore, options: &MigrateOptions) -> Result<Report, String> {
    let (client, connection) = tokio_postgres::connect(&options.url, NoTls).await.map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
    let connection = tokio::spawn(connection);
    let pg = |e: tokio_postgres::Error| format!("PostgreSQL: {e}");
    let total: i64 = client.query_one("SELECT count(*) FROM call_logs", &[]).await.map_err(pg)?.get(0);

    let mut report = Report { dry_run: options.dry_run, ..Report::default() };
    let checkpoint = store.marker(&options.org_id, CHECKPOINT).await.map_err(|e| e.to_string())?;
    let mut after: Option<String> = checkpoint.filter(|c| c.get("state").map(String::as_str) == Some("running")).and_then(|c| c.get("lastId").cloned());
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

    let query_first = format!("{SELECT} ORDER BY id LIMIT $1");
    let query_next = format!("{SELECT} WHERE id > $1 ORDER BY id LIMIT $2");
    let limit = options.batch.max(1) as i64;
    let mut batches = 0;
    loop {
        if options.stop_after_batches.is_some_and(|stop| batches >= stop) {
            bar.abandon();
            drop(client);
            let _ = connection.await;
            return Ok(report);
        }
        let clock = std::time::Instant::now();
        let rows = match &after {
            None => client.query(&query_first, &[&limit]).await,
            Some(id) => client.query(&query_next, &[id, &limit]).await,
        }
        .map_err(pg)?;
        report.timings.read += clock.elapsed();
        let Some(last) = rows.last() else { break };
        let last_id: String = last.get("id");
        let mut mapped: Vec<CallLog> = Vec::with_capacity(rows.len());
        for row in &rows {
            let legacy = legacy_row(row).map_err(pg)?;
            report.read += 1;
            match map_row(&legacy, &options.org_id) {
                Ok(ok) => {
                    for note in ok.notes {
                        *report.notes.entry(note).or_default() += 1;
                    }
                    if ok.call.status == CallStatus::Scheduled {
                        report.scheduled += 1;
                    }
                    mapped.push(ok.call);
                }
                Err(refusal) => report.refused.push(refusal),
            }
        }
        let clock = std::time::Instant::now();
        let ids: Vec<String> = mapped.iter().map(|c| c.id.clone()).collect();
        let mut existing: HashMap<String, StoredCall> = store.calls_by_id(&options.org_id, &ids).await.map_err(|e| e.to_string())?;
        let changed: Vec<ImportCall> = mapped
            .into_iter()
            .map(|call| ImportCall { stored: existing.remove(&call.id), call })
            .filter(|import| import.stored.as_ref().map(|stored| &stored.call) != Some(&import.call))
            .collect();
        report.unchanged += (ids.len() - changed.len()) as u64;
        report.timings.compare += clock.elapsed();
        let clock = std::time::Instant::now();
        if options.dry_run {
            report.written += changed.len() as u64;
        } else {
            let not_taken = store.import_calls(&changed, options.concurrency).await.map_err(|e| e.to_string())?;
            report.written += (changed.len() - not_taken.len()) as u64;
            report.refused.extend(not_taken.into_iter().map(|NotImported { id, reason }| Refusal { id, reason }));
            store.put_marker(&options.org_id, CHECKPOINT, &[("state", "running".into()), ("lastId", last_id.clone())]).await.map_err(|e| e.to_string())?;
        }
        report.timings.write += clock.elapsed();
        bar.inc(rows.len() as u64);
        after = Some(last_id);
        batches += 1;
    }
    bar.finish_and_clear();
    drop(client);
    let _ = connection.await;
    report.complete = true;
    if !options.dry_run {
        store.put_marker(&options.org_id, CHECKPOINT, &[("state", "done".into())]).await.map_err(|e| e.to_string())?;
    }
    Ok(report)
}
