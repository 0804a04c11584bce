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

use callops_aws::{
    AlongWithCall, CallQuery, DynamoStore, PageRequest, StoredCall,
    store::{DoNotCallChange, DoNotCallEntry},
};
use callops_domain::{
    CallLog, CallStatus, CallType, DomainError,
    audit::{self, Action, AuditEntry},
    call::{ERASED_NUMBER_PREFIX, RemovalReason},
    caller::Caller,
    consent::Consent,
    lifecycle::EndedReason,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Erased {
    /// Calls whose content and number were removed.
    pub erased_calls: usize,
    /// Of them, calls that were still waiting and were cancelled first.
    pub cancelled_calls: usize,
}

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
    let request = PageRequest { newest_first: true, cursor, only_agents: caller.agent_ids.as_deref(), binding, ..PageRequest::new(&query, limit) };
    let page = store.query_calls(&caller.org_id, &request).await?;
    let now = Utc::now();
    let (calls, mut entries) = audit::answer_calls(caller, page.items, now);
    let read = audit::fields_read(&["calls", "consents", "doNotCall"]);
    entries.insert(0, AuditEntry::new(caller, Action::PatientRead, number, read, now));
    records_with(store, caller, number, calls, page.next_cursor, &entries).await
}

/// Every call of `number` (newest first, at most [`MAX_EXPORT_CALLS`]), its consents and do-not-call state.
pub async fn patient_export(store: &DynamoStore, caller: &Caller, number: &str, format: &str) -> Result<PatientRecords, DomainError> {
    let calls: Vec<CallLog> = calls_of_number(store, caller, number, MAX_EXPORT_CALLS).await?.into_iter().map(|stored| stored.call).collect();
    let now = Utc::now();
    let mut changes = audit::fields_read(&["calls", "consents", "doNotCall"]);
    changes.insert("format".into(), serde_json::Value::String(format.to_string()));
    changes.insert("calls".into(), serde_json::json!(calls.len()));
    let (calls, mut entries) = audit::answer_calls(caller, calls, now);
    entries.insert(0, AuditEntry::new(caller, Action::PatientExported, number, changes, now));
    records_with(store, caller, number, calls, None, &entries).await
}

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
            return Err(DomainError::conflict("export_too_large", format!("this number has more than {max} calls; export them by window")));
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
pub async fn erase_patient(store: &DynamoStore, caller: &Caller, number: &str, now: DateTime<Utc>) -> Result<Erased, DomainError> {
    let calls = calls_of_number(store, caller, number, usize::MAX).await?;
    if calls.iter().any(|c| matches!(c.call.status, CallStatus::Dialing | CallStatus::InProgress)) {
        return Err(DomainError::conflict("call_in_progress", "a call to this number is under way; erase the records once it has ended"));
    }
    let token = format!("{ERASED_NUMBER_PREFIX}{}", uuid_token());
    let mut summary = audit::fields_read(&["calls"]);
    summary.insert("calls".into(), serde_json::json!(calls.len()));
    // The request is on record before any call changes, so one cut short is known.
    store.record_audit(&[AuditEntry::new(caller, Action::PatientErased, number, summary, now)]).await?;
    let mut erased = Erased { erased_calls: 0, cancelled_calls: 0 };
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
                return Err(DomainError::conflict("call_in_progress", "a call to this number started meanwhile; erase again once it has ended"));
            }
            let next = next.remove_content(RemovalReason::Erasure, now, Some(&token));
            let entry = AuditEntry::new(caller, Action::CallErased, &call.id, audit::changes_without_identity(Some(call), &next), now);
            Ok(Some(Change { call: next, also: vec![AlongWithCall::Audit(Box::new(entry))] }))
        };
        if change_call(store, call, &mut Decided(erase)).await?.is_some() {
            erased.erased_calls += 1;
            erased.cancelled_calls += usize::from(cancelled);
        }
    }
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
    store.put_marker(org_id, RETENTION_MARKER, &[(THROUGH, time::format(&cutoff))]).await?;
    if expired > 0 {
        tracing::info!(org_id, expired, "calls' content past its retention was removed");
    }
    Ok(expired)
}
