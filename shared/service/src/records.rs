//! A patient's own records, by their phone number: every call, consent and
//! do-not-call entry, to read a page at a time, to export whole, and to
//! erase; and the retention of calls' content. Each of these is audited:
//! a read before it is answered, a change in the transaction that makes it.
//!
//! An erasure removes every call's content and replaces the number on
//! each call by a random token, so no call can be tied back to the
//! patient, while every figure analytics count stays as it was. What the
//! law needs kept stays: the consents and their revocations (the proof a
//! call was allowed), the do-not-call entry and its history (what stops
//! the next call), the number's attempt ledger (the frequency limits) and
//! the audit trail.

use callops_aws::store::{AuditStore, CallQueryStore, CallStore, ConsentStore, DoNotCallStore, ErasureStore, MarkerStore, SettingsStore};
use callops_aws::{
    AlongWithCall, CallQuery, DynamoStore, PageRequest, StoredCall,
    store::{DoNotCallChange, DoNotCallEntry},
};
use callops_domain::{
    CallLog, CallStatus, CallType, DomainError,
    call::lifecycle::EndedReason,
    call::{ERASED_NUMBER_PREFIX, RemovalReason},
    caller::Caller,
    consent::Consent,
    records::audit::{self, Action, AuditEntry},
    time::{self, Span},
};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::change::{Change, Decided, change_call};

/// The most calls one export holds (a patient's calls over years are a few dozen).
pub const MAX_EXPORT_CALLS: usize = 5_000;
/// The marker that remembers how far the content retention has swept a tenant.
pub const RETENTION_MARKER: &str = "RETENTION";
const THROUGH: &str = "through";
/// Calls read from an index at a time by the erasure and the sweep.
const PAGE: usize = 100;

/// A patient's records, as `GET /api/patients/{phoneNumber}` answers them.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PatientRecords {
    pub phone_number: String,
    pub calls: Vec<CallLog>,
    pub consents: Vec<Consent>,
    pub do_not_call: Option<DoNotCallEntry>,
    pub do_not_call_history: Vec<DoNotCallChange>,
    pub next_cursor: Option<String>,
}

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Erased {
    /// Calls whose content and number were removed.
    pub erased_calls: usize,
    /// Of them, calls that were still waiting and were cancelled first.
    pub cancelled_calls: usize,
    /// The number's other records: consents kept as proof under its
    /// pseudonym, items removed, and whether it stays on the do-not-call list.
    pub records: callops_aws::store::ErasedNumber,
    /// What the table's point-in-time backups still hold.
    pub backups: Backups,
}

/// What an erasure leaves in the table's point-in-time backups: the erased
/// content, until their recovery window has passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Backups {
    /// The deployment's recovery window (0: the store keeps no backups).
    pub point_in_time_recovery_days: u32,
    /// Until when a backup may still hold what was erased.
    #[serde(with = "time::ms::option")]
    pub kept_until: Option<DateTime<Utc>>,
    pub note: String,
}

impl Backups {
    /// What a deployment with `days` of point-in-time recovery keeps of an erasure made `now`.
    pub fn after(days: u32, now: DateTime<Utc>) -> Backups {
        if days == 0 {
            return Backups { point_in_time_recovery_days: 0, kept_until: None, note: "this store keeps no point-in-time backups".into() };
        }
        Backups {
            point_in_time_recovery_days: days,
            kept_until: Some(time::to_millis(now + chrono::Duration::days(i64::from(days)))),
            note: format!(
                "the table's point-in-time backups keep the erased content for their recovery window ({days} days); \
                 after a restore, `callops reapply-erasures` erases it again from the audit log"
            ),
        }
    }
}

/// The point-in-time recovery window the deployment states
/// (`CALLOPS_BACKUP_RECOVERY_DAYS`, 0 to 35); unset, DynamoDB's longest, 35,
/// so an answer never promises less than a backup may keep.
pub fn backup_recovery_days() -> u32 {
    std::env::var(BACKUP_RECOVERY_VAR)
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .map_or(MAX_BACKUP_RECOVERY_DAYS, |days| days.min(MAX_BACKUP_RECOVERY_DAYS))
}

/// The variable that states the deployment's point-in-time recovery window.
pub const BACKUP_RECOVERY_VAR: &str = "CALLOPS_BACKUP_RECOVERY_DAYS";
/// DynamoDB's longest point-in-time recovery window.
pub const MAX_BACKUP_RECOVERY_DAYS: u32 = 35;

/// A page of `number`'s calls (newest first) with its consents and
/// do-not-call state, the audit entries of the read written first.
pub async fn patient_records(
    store: &DynamoStore,
    caller: &Caller,
    number: &str,
    limit: usize,
    cursor: Option<&str>,
    binding: &str,
) -> Result<PatientRecords, DomainError> {
    let query = CallQuery::ByNumber(number.to_string());
    // The calls leave room for the number's consents and do-not-call history (each bounded) in one answer.
    let max_bytes = Some(callops_domain::records::export::MAX_PAGE_BYTES - RECORDS_ROOM);
    let request = PageRequest { newest_first: true, cursor, only_agents: caller.agent_ids.as_deref(), binding, max_bytes, ..PageRequest::new(&query, limit) };
    let page = store.query_calls(&caller.org_id, &request).await?;
    let now = Utc::now();
    let (calls, mut entries) = audit::answer_calls(caller, page.items, now);
    let read = audit::fields_read(&["calls", "consents", "doNotCall"]);
    entries.insert(0, AuditEntry::new(caller, Action::PatientRead, number, read, now));
    records_with(store, caller, number, calls, page.next_cursor, &entries).await
}

/// One part of `number`'s export: its calls from `cursor` (newest first)
/// as many as one answer holds, its consents and do-not-call state; the
/// cursor of the next part when there is one.
pub async fn patient_export(
    store: &DynamoStore,
    caller: &Caller,
    number: &str,
    format: &str,
    cursor: Option<&str>,
    binding: &str,
) -> Result<PatientRecords, DomainError> {
    let query = CallQuery::ByNumber(number.to_string());
    let mut calls: Vec<CallLog> = Vec::new();
    let mut next: Option<String> = cursor.map(str::to_string);
    let mut room = callops_domain::records::export::MAX_PAGE_BYTES - RECORDS_ROOM;
    loop {
        let request = PageRequest {
            newest_first: true,
            cursor: next.as_deref(),
            only_agents: caller.agent_ids.as_deref(),
            binding,
            max_bytes: Some(room),
            ..PageRequest::new(&query, PAGE)
        };
        let page = store.query_calls(&caller.org_id, &request).await?;
        let cut = page.next_cursor.is_some() && page.items.len() < PAGE;
        room = room.saturating_sub(page.items.iter().map(|c| callops_domain::records::export::json_weight(c) + 1).sum());
        calls.extend(page.items);
        next = page.next_cursor;
        if next.is_none() || cut || room == 0 || calls.len() >= MAX_EXPORT_CALLS {
            break;
        }
    }
    let now = Utc::now();
    let mut changes = audit::fields_read(&["calls", "consents", "doNotCall"]);
    changes.insert("format".into(), serde_json::Value::String(format.to_string()));
    changes.insert("calls".into(), serde_json::json!(calls.len()));
    let (calls, mut entries) = audit::answer_calls(caller, calls, now);
    entries.insert(0, AuditEntry::new(caller, Action::PatientExported, number, changes, now));
    records_with(store, caller, number, calls, next, &entries).await
}

/// The room a patient's answer keeps for what is not calls: 50 consents and
/// 500 do-not-call changes, each within its bounds.
const RECORDS_ROOM: usize = 1_500_000;

/// `calls` with the number's consents and do-not-call state, once the read's `entries` are written.
async fn records_with(
    store: &DynamoStore,
    caller: &Caller,
    number: &str,
    calls: Vec<CallLog>,
    next_cursor: Option<String>,
    entries: &[AuditEntry],
) -> Result<PatientRecords, DomainError> {
    let records = PatientRecords {
        phone_number: number.to_string(),
        calls,
        consents: store.consents(&caller.org_id, number).await?,
        do_not_call: store.do_not_call_entry(&caller.org_id, number).await?,
        do_not_call_history: store.do_not_call_history(&caller.org_id, number).await?,
        next_cursor,
    };
    store.record_audit(entries).await?;
    Ok(records)
}

/// Every call of `number` the caller may see, newest first; more than `max`: `export_too_large`.
async fn calls_of_number(store: &DynamoStore, caller: &Caller, number: &str, max: usize) -> Result<Vec<StoredCall>, DomainError> {
    let query = CallQuery::ByNumber(number.to_string());
    let mut calls = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let request = PageRequest { newest_first: true, cursor: cursor.as_deref(), only_agents: caller.agent_ids.as_deref(), ..PageRequest::new(&query, PAGE) };
        let page = store.query_stored_calls(&caller.org_id, &request).await?;
        calls.extend(page.items);
        if calls.len() > max {
            return Err(DomainError::conflict(
                callops_domain::error::Conflict::ExportTooLarge,
                format!("this number has more than {max} calls; export them by window"),
            ));
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(calls),
        }
    }
}

/// Erases `number`'s calls: each call's content goes and its number
/// becomes a token, in one write with the call's audit entry; a call still
/// waiting is cancelled in the same write. A call being dialed or under
/// way stops the erasure (`call_in_progress`) before anything changes.
pub async fn erase_patient(store: &DynamoStore, caller: &Caller, number: &str, backup_days: u32, now: DateTime<Utc>) -> Result<Erased, DomainError> {
    let calls = calls_of_number(store, caller, number, usize::MAX).await?;
    if calls.iter().any(|c| matches!(c.call.status, CallStatus::Dialing | CallStatus::InProgress)) {
        return Err(DomainError::conflict(
            callops_domain::error::Conflict::CallInProgress,
            "a call to this number is under way; erase the records once it has ended",
        ));
    }
    let token = format!("{ERASED_NUMBER_PREFIX}{}", uuid_token());
    let mut summary = audit::fields_read(&["calls"]);
    summary.insert("calls".into(), serde_json::json!(calls.len()));
    // The request is on record before any call changes, so one cut short is known.
    store.record_audit(&[AuditEntry::new(caller, Action::PatientErased, number, summary, now)]).await?;
    let mut erased =
        Erased { erased_calls: 0, cancelled_calls: 0, records: callops_aws::store::ErasedNumber::default(), backups: Backups::after(backup_days, now) };
    for call in calls {
        let mut cancelled = false;
        let erase = |call: &CallLog| -> Result<Option<Change>, DomainError> {
            if call.phone_number != number {
                return Ok(None);
            }
            let mut next = call.clone();
            if call.status == CallStatus::Scheduled {
                next = next.cancel(EndedReason::RecordsErased, now)?;
                cancelled = true;
            } else if matches!(call.status, CallStatus::Dialing | CallStatus::InProgress) {
                return Err(DomainError::conflict(
                    callops_domain::error::Conflict::CallInProgress,
                    "a call to this number started meanwhile; erase again once it has ended",
                ));
            }
            let next = next.remove_content(RemovalReason::Erasure, now, Some(&token));
            let entry = AuditEntry::new(caller, Action::CallErased, &call.id, audit::changes(Some(call), &next), now);
            Ok(Some(Change { call: next, also: vec![AlongWithCall::Audit(Box::new(entry))] }))
        };
        if change_call(store, call, &mut Decided(erase)).await?.is_some() {
            erased.erased_calls += 1;
            erased.cancelled_calls += usize::from(cancelled);
        }
    }
    // Every call is rewritten first: a call's write keeps its planned attempt and missed mark at the number, which go with it.
    erased.records = store.erase_number_records(&caller.org_id, number, now).await?;
    tracing::info!(org_id = %caller.org_id, erased_calls = erased.erased_calls, cancelled_calls = erased.cancelled_calls, "a patient's records were erased");
    Ok(erased)
}

/// 128 random bits, as hex: drawn, not derived, so nothing leads back from it to the number.
fn uuid_token() -> String {
    let bits: u128 = rand::random();
    format!("{bits:032x}")
}

/// Removes the content of the tenant's calls whose retention has passed
/// at `now`, each in one write with its audit entry. It reads only the
/// calls that crossed the line since its last sweep (a marker keeps how
/// far it went), so a sweep costs what has aged out, not what is stored.
/// Returns how many calls lost their content.
pub async fn expire_content(store: &DynamoStore, org_id: &str, now: DateTime<Utc>) -> Result<usize, DomainError> {
    let retention = store.settings(org_id).await?.retention;
    let cutoff = time::to_millis(retention.content_cutoff(now));
    let marker = store.marker(org_id, RETENTION_MARKER).await?;
    let through = marker.as_ref().and_then(|m| m.get(THROUGH)).and_then(|t| time::parse(t));
    if through.is_some_and(|t| t >= cutoff) {
        return Ok(0);
    }
    let system = Caller::system(org_id, "retention");
    let mut expired = 0;
    for call_type in CallType::ALL {
        let query = CallQuery::ByType(*call_type);
        let mut cursor: Option<String> = None;
        loop {
            let request = PageRequest { window: Span::new(through, Some(cutoff)), cursor: cursor.as_deref(), ..PageRequest::new(&query, PAGE) };
            let page = store.query_stored_calls(org_id, &request).await?;
            for call in page.items.into_iter().filter(|stored| stored.call.has_content()) {
                let expire = |call: &CallLog| -> Result<Option<Change>, DomainError> {
                    if !call.has_content() || !retention.content_expired(call, now) {
                        return Ok(None);
                    }
                    let next = call.remove_content(RemovalReason::Retention, now, None);
                    let entry = AuditEntry::of_change(&system, Action::ContentExpired, &call.id, Some(call), &next, now);
                    Ok(Some(Change { call: next, also: vec![AlongWithCall::Audit(Box::new(entry))] }))
                };
                if change_call(store, call, &mut Decided(expire)).await?.is_some() {
                    expired += 1;
                }
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    store.put_marker(org_id, RETENTION_MARKER, &[(THROUGH, time::format(&cutoff))], None).await?;
    if expired > 0 {
        tracing::info!(org_id, expired, "calls' content past its retention was removed");
    }
    Ok(expired)
}

/// What re-applying erasures to a restored table did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reapplied {
    /// Erasures the log holds (`patient.erased` entries).
    pub erasures: usize,
    /// Numbers found in the restored table and erased again.
    pub numbers: usize,
    /// Calls erased again.
    pub calls: usize,
    /// What could not be erased again (a pseudonym and why); run it again once it can.
    pub failed: Vec<String>,
}

/// Re-applies `org_id`'s erasures, as `log` records them, to `target` (a
/// table restored from a point-in-time backup, which holds what was erased
/// after that point): every number whose pseudonym a `patient.erased` entry
/// names, and every call a `call.erased` entry names, that the restored
/// table holds again is erased again, with its audit entries
/// (`system:reapply-erasures`). `log` is where the full log lives (the
/// table the backup was taken of); it may be `target` itself. One number
/// that cannot be erased (a call restored as under way) never stops the
/// others. Safe to run again.
pub async fn reapply_erasures(target: &DynamoStore, log: &DynamoStore, org_id: &str, now: DateTime<Utc>) -> Result<Reapplied, DomainError> {
    let mut pseudonyms = std::collections::BTreeSet::new();
    let mut calls = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = log.audit_entries(org_id, Span::new(None, None), &audit::AuditFilter::default(), 500, cursor.as_deref(), "reapply-erasures").await?;
        for entry in page.items {
            match entry.action {
                Action::PatientErased => {
                    pseudonyms.insert(entry.entity_id);
                }
                Action::CallErased => calls.push(entry.entity_id),
                _ => {}
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut numbers: std::collections::BTreeSet<String> =
        target.numbers_on_record(org_id).await?.into_iter().filter(|number| pseudonyms.contains(&target.pseudonym(org_id, number))).collect();
    for id in &calls {
        if let Some(stored) = target.get_call(org_id, id).await?
            && !stored.call.phone_number.starts_with(ERASED_NUMBER_PREFIX)
        {
            numbers.insert(stored.call.phone_number.clone());
        }
    }
    let system = Caller::system(org_id, "reapply-erasures");
    let mut reapplied = Reapplied { erasures: pseudonyms.len(), ..Reapplied::default() };
    for number in numbers {
        match erase_patient(target, &system, &number, 0, now).await {
            Ok(erased) => {
                reapplied.numbers += 1;
                reapplied.calls += erased.erased_calls;
            }
            Err(err) => reapplied.failed.push(format!("{}: {err}", target.pseudonym(org_id, &number))),
        }
    }
    tracing::info!(org_id, numbers = reapplied.numbers, calls = reapplied.calls, failed = reapplied.failed.len(), "erasures were applied again");
    Ok(reapplied)
}
