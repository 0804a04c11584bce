//! The audit log's hash chain: every entry carries its place in its
//! tenant's log (`seq`), the hash of the entry before it (`prev`, and when
//! that one was written) and its own hash, SHA-256 of the entry with `prev`
//! in it. A head item per tenant (`ORG#<org>#AUDITHEAD` / `HEAD`) holds the
//! last place and hash, and every transaction that appends entries moves it
//! on the place it read, so entries are chained one after another however
//! many writers there are (a writer that lost the race reads the head again
//! and chains anew). [`AuditChainStore::verify_audit`] walks the log: an entry
//! changed breaks its hash, one removed leaves a gap in the places, the
//! newest removed leaves the head ahead of the log; only entries the
//! table's time to live removed (older than the audit retention) may be
//! missing at the start.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::{
    error::SdkError,
    operation::transact_write_items::TransactWriteItemsError,
    types::{AttributeValue, TransactWriteItem, Update},
};
use callops_domain::{DomainError, records::audit::AuditEntry, time};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::DynamoStore;
use crate::{
    item::*,
    keys,
    table::{PK, SK},
};

const HEAD_SK: &str = "HEAD";
const HEAD_SEQ: &str = "seq";
const HEAD_HASH: &str = "hash";
const HEAD_AT: &str = "at";
/// How often a transaction that lost the race for its tenant's head is chained again.
const HEAD_ROUNDS: u32 = 30;

/// SHA-256 (hex) of `entry` as written, its own hash left out.
pub fn entry_hash(entry: &AuditEntry) -> String {
    let unhashed = AuditEntry { hash: String::new(), ..entry.clone() };
    let text = serde_json::to_string(&unhashed).unwrap_or_default();
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A tenant's chain head: the last entry's place, hash and time.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Head {
    pub seq: u64,
    pub hash: String,
    pub at: Option<DateTime<Utc>>,
    /// Whether the head item exists (the first entry makes it).
    exists: bool,
}

/// What a walk of a tenant's audit log found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditVerification {
    /// Whether nothing was changed or removed.
    pub ok: bool,
    /// Entries walked, and the places of the first and last.
    pub entries: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    /// The head's place: the last entry ever written.
    pub head_seq: u64,
    /// Entries from before the log was chained (no place), not weighed.
    pub unchained: u64,
    /// What does not hold, each in a sentence (the first 100).
    pub problems: Vec<String>,
}

/// The audit log's chain, walked.
#[allow(async_fn_in_trait)] // Implemented by DynamoStore alone and called on it: its futures are known, and Send.
pub trait AuditChainStore {
    /// Walks `org_id`'s audit log, oldest first, and says whether its chain
    /// holds, up to the head as it is read first: an entry and its head's
    /// move are one transaction, so every entry up to that place is there to
    /// read, and entries written while the walk goes on (past that place)
    /// are left for the next walk.
    async fn verify_audit(&self, org_id: &str, retention_days: u32, now: DateTime<Utc>) -> Result<AuditVerification, DomainError>;
}

impl AuditChainStore for DynamoStore {
    async fn verify_audit(&self, org_id: &str, retention_days: u32, now: DateTime<Utc>) -> Result<AuditVerification, DomainError> {
        let head = self.audit_head(org_id).await?;
        let mut entries: Vec<AuditEntry> = Vec::new();
        let mut unchained = 0;
        let mut past_the_head = Vec::new();
        for item in self.partition_items(keys::audit_pk(org_id), None, true).await? {
            match from_item::<AuditEntry>(item) {
                Ok(entry) if entry.seq == 0 => unchained += 1,
                // Written since the head was read (new), or never with a head (an hour old and still past it).
                Ok(entry) if entry.seq > head.seq => {
                    if entry.at < now - chrono::Duration::hours(1) {
                        past_the_head.push(entry.id);
                    }
                }
                Ok(entry) => entries.push(entry),
                Err(err) => return Err(DomainError::Unavailable(format!("an audit entry is unreadable: {err}"))),
            }
        }
        entries.sort_by_key(|e| e.seq);
        let mut report = AuditVerification { entries: entries.len() as u64, head_seq: head.seq, unchained, ..Default::default() };
        let mut problem = |text: String| {
            if report.problems.len() < 100 {
                report.problems.push(text);
            }
        };
        for id in past_the_head {
            problem(format!("entry {id} is past the chain's head: it was not written with the head"));
        }
        let mut before: Option<&AuditEntry> = None;
        for entry in &entries {
            if entry_hash(entry) != entry.hash {
                problem(format!("entry {} (place {}) was changed: its hash does not hold", entry.id, entry.seq));
            }
            match before {
                Some(previous) if entry.seq != previous.seq + 1 => {
                    problem(format!("places {} to {} are missing: entries were removed", previous.seq + 1, entry.seq - 1));
                }
                Some(previous) if entry.prev != previous.hash => {
                    problem(format!("entry {} (place {}) does not follow the entry before it", entry.id, entry.seq));
                }
                None if entry.seq > 1 => {
                    // Only entries the table's time to live removed may be missing at the start: older than the retention.
                    let expired = entry.prev_at.is_some_and(|at| at + chrono::Duration::days(i64::from(retention_days)) <= now);
                    if !expired {
                        problem(format!("places 1 to {} are missing, and were not old enough to expire", entry.seq - 1));
                    }
                }
                _ => {}
            }
            before = Some(entry);
        }
        let last = entries.last().map_or(0, |e| e.seq);
        if head.seq != last {
            problem(format!("the log ends at place {last}, but {} entries were written: the newest were removed", head.seq));
        }
        if let Some(last_entry) = entries.last()
            && last_entry.hash != head.hash
        {
            problem(format!("the last entry ({}) is not the one the head names", last_entry.id));
        }
        report.first_seq = entries.first().map_or(0, |e| e.seq);
        report.last_seq = last;
        report.ok = report.problems.is_empty();
        Ok(report)
    }
}

impl DynamoStore {
    fn head_key(org_id: &str) -> (String, String) {
        (keys::audit_head_pk(org_id), HEAD_SK.to_string())
    }

    /// `org_id`'s chain head, read consistently.
    pub(crate) async fn audit_head(&self, org_id: &str) -> Result<Head, DomainError> {
        let (pk, sk) = Self::head_key(org_id);
        let Some(item) = self.get_item(pk, sk).await? else { return Ok(Head::default()) };
        let seq = match item.get(HEAD_SEQ) {
            Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
            _ => 0,
        };
        Ok(Head { seq, hash: string_attr(&item, HEAD_HASH).unwrap_or_default(), at: string_attr(&item, HEAD_AT).and_then(|t| time::parse(&t)), exists: true })
    }

    /// `items` with their audit entries chained onto the heads of their
    /// tenants, and each head's update after them (conditional on the place it
    /// was read at). `None` when no entry is among them.
    async fn chained(&self, items: &[TransactWriteItem]) -> Result<Option<(Vec<TransactWriteItem>, Vec<usize>)>, DomainError> {
        let mut by_org: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            if let Some(put) = item.put()
                && put.item().get(KIND).is_some_and(|k| k.as_s().is_ok_and(|k| k == "audit"))
                && let Some(org) = put.item().get("orgId").and_then(|o| o.as_s().ok())
            {
                by_org.entry(org.clone()).or_default().push(i);
            }
        }
        if by_org.is_empty() {
            return Ok(None);
        }
        let mut chained = items.to_vec();
        let mut heads = Vec::new();
        for (org, positions) in by_org {
            let head = self.audit_head(&org).await?;
            let (mut seq, mut prev, mut prev_at) = (head.seq, head.hash.clone(), head.at);
            for position in positions {
                let put = chained[position].put().cloned().ok_or_else(|| DomainError::Unavailable("an audit element is not a put".into()))?;
                let mut item = put.item().clone();
                let mut entry: AuditEntry = from_item(item.clone())?;
                seq += 1;
                (entry.seq, entry.prev, entry.prev_at) = (seq, prev.clone(), prev_at);
                entry.hash = entry_hash(&entry);
                for (name, value) in [("seq", n(seq)), ("prev", s(&entry.prev)), ("hash", s(&entry.hash))] {
                    item.insert(name.to_string(), value);
                }
                match prev_at {
                    Some(at) => item.insert("prevAt".to_string(), s(time::format(&at))),
                    None => item.insert("prevAt".to_string(), AttributeValue::Null(true)),
                };
                let rebuilt = self.put(item, "attribute_not_exists(PK)", None);
                chained[position] = TransactWriteItem::builder().put(rebuilt).build();
                (prev, prev_at) = (entry.hash, Some(entry.at));
            }
            heads.push(chained.len());
            chained.push(TransactWriteItem::builder().update(self.head_update(&org, &head, seq, &prev, prev_at)).build());
        }
        Ok(Some((chained, heads)))
    }

    fn head_update(&self, org_id: &str, read: &Head, seq: u64, hash: &str, at: Option<DateTime<Utc>>) -> Update {
        let (pk, sk) = Self::head_key(org_id);
        let update = Update::builder()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression("SET #seq = :seq, #hash = :hash, #at = :at, #kind = :kind")
            .expression_attribute_names("#seq", HEAD_SEQ)
            .expression_attribute_names("#hash", HEAD_HASH)
            .expression_attribute_names("#at", HEAD_AT)
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_values(":seq", n(seq))
            .expression_attribute_values(":hash", s(hash))
            .expression_attribute_values(":at", at.map_or(AttributeValue::Null(true), |at| s(time::format(&at))))
            .expression_attribute_values(":kind", s("auditHead"));
        let update = match read.exists {
            false => update.condition_expression("attribute_not_exists(PK)"),
            true => update.condition_expression("#seq = :read").expression_attribute_values(":read", n(read.seq)),
        };
        update.build().expect("table, key and expression are set")
    }

    /// Sends `items`, their audit entries chained onto their tenants' heads;
    /// a transaction that lost a head to another is chained again on the new one.
    pub(crate) async fn transact_chained(&self, items: Vec<TransactWriteItem>) -> Result<(), SdkError<TransactWriteItemsError>> {
        let construction = |err: DomainError| SdkError::construction_failure(err.to_string());
        let mut round = 0;
        loop {
            let Some((chained, heads)) = self.chained(&items).await.map_err(construction)? else { return self.transact_unchained(items).await };
            match self.transact_unchained(chained).await {
                Err(err) if round < HEAD_ROUNDS && lost_a_head(&err, &heads) => {
                    round += 1;
                    crate::retry::back_off(round.min(4)).await;
                }
                other => return other,
            }
        }
    }
}

/// Whether a transaction was cancelled because a chain head it moved had moved meanwhile.
fn lost_a_head(err: &SdkError<TransactWriteItemsError>, heads: &[usize]) -> bool {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            let reasons = cancelled.cancellation_reasons();
            heads.iter().any(|i| reasons.get(*i).and_then(|r| r.code()) == Some("ConditionalCheckFailed"))
                && reasons.iter().enumerate().all(|(i, r)| heads.contains(&i) || r.code().is_none_or(|code| code == "None"))
        }
        _ => false,
    }
}
