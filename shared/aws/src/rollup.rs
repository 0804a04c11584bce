//! Analytics rollups: pre-aggregated counters per tenant or agent, per UTC
//! hour and per UTC day, kept in the same DynamoDB transaction as the call
//! write that changes them. A window's figures then come from a handful of
//! rollup items, whatever the number of calls in it.
//!
//! - Scope: each call counts in its agent's rollups and in the tenant's
//!   (`*`), so "all agents" is one read, not one per agent.
//! - Shards: each rollup is split into [`SHARDS`] items by a hash of the call
//!   id, so a busy tenant's calls update eight items in turn rather than one:
//!   at 50 call changes a second that is about six a second per item, and
//!   transactions rarely meet on the same item (when they do, the write is
//!   retried). Imported history is the exception: it is written once, by one
//!   importer, so it counts in shard 0, and an import moves each of an hour's
//!   rollup items once for all of that hour's calls instead of about once per
//!   call. A call always lands in the same shard (its id and `imported` never
//!   change), so a correction reaches the item that holds its old
//!   contribution.
//! - Keys: hours are partitioned by month, days by year:
//!   `ORG#<org>#ROLLUP#<scope>#H#<yyyy-mm>` / `<yyyy-mm-ddThh>#<shard>` and
//!   `ORG#<org>#ROLLUP#<scope>#D#<yyyy>` / `<yyyy-mm-dd>#<shard>`.
//! - Exactly once: the call item is written on the condition of its revision
//!   (or its absence), and the rollup change is the difference between the
//!   call's old and new contribution, in the same transaction. A retried or
//!   duplicated write either fails its condition or adds nothing.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, Update, WriteRequest};
use callops_domain::{
    CallLog, DomainError,
    analytics::{self, Range, Tally, TallyOverflow, day_key, hour_key},
};
use chrono::{Datelike, Duration};

use crate::{
    store::{DynamoStore, Item, KIND, Unreadable, string_attr, unavailable},
    table::{PK, SK},
};

/// Items per rollup.
pub const SHARDS: u32 = 8;
/// The scope that counts every agent of a tenant.
pub const ALL_AGENTS: &str = "*";
const ROLLUP_KIND: &str = "rollup";

/// Where a rollup item lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollupKey {
    pub pk: String,
    pub sk: String,
}

/// The shard a call counts in: 0 for imported history, else a stable hash
/// of its id (FNV-1a: the same on every machine and run).
pub fn shard_of(call: &CallLog) -> u32 {
    if call.imported {
        return 0;
    }
    let mut hash: u32 = 0x811c_9dc5;
    for byte in call.id.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % SHARDS
}

/// The partition of a scope's hour rollups in one month (`yyyy-mm`).
fn hour_pk(org_id: &str, scope: &str, month: &str) -> String {
    format!("ORG#{org_id}#ROLLUP#{scope}#H#{month}")
}

/// The partition of a scope's day rollups in one year (`yyyy`).
fn day_pk(org_id: &str, scope: &str, year: &str) -> String {
    format!("ORG#{org_id}#ROLLUP#{scope}#D#{year}")
}

/// The rollup items a call counts in: its hour and day, for its agent and for
/// the tenant. None for a call that never started.
pub fn rollup_keys(call: &CallLog) -> Vec<RollupKey> {
    let Some(started) = call.call_started_at else { return Vec::new() };
    let shard = shard_of(call);
    [call.voice_agent_id.as_str(), ALL_AGENTS]
        .into_iter()
        .flat_map(|scope| {
            [
                RollupKey { pk: hour_pk(&call.org_id, scope, &started.format("%Y-%m").to_string()), sk: format!("{}#{shard}", hour_key(&started)) },
                RollupKey { pk: day_pk(&call.org_id, scope, &started.format("%Y").to_string()), sk: format!("{}#{shard}", day_key(&started)) },
            ]
        })
        .collect()
}

/// What a change from `previous` to `next` must add to each rollup item:
/// the old contribution out, the new one in, nothing where they cancel.
pub fn rollup_deltas(previous: Option<&CallLog>, next: &CallLog) -> Result<BTreeMap<RollupKey, Tally>, TallyOverflow> {
    let mut deltas: BTreeMap<RollupKey, Tally> = BTreeMap::new();
    if let Some(previous) = previous {
        let old = Tally::default().minus(&Tally::of(previous))?;
        for key in rollup_keys(previous) {
            deltas.entry(key).or_default().add(&old)?;
        }
    }
    let new = Tally::of(next);
    for key in rollup_keys(next) {
        deltas.entry(key).or_default().add(&new)?;
    }
    deltas.retain(|_, delta| !delta.is_zero());
    Ok(deltas)
}

/// Every rollup item the given calls add up to.
pub fn expected_rollups<'a>(calls: impl IntoIterator<Item = &'a CallLog>) -> Result<BTreeMap<RollupKey, Tally>, TallyOverflow> {
    let mut rollups: BTreeMap<RollupKey, Tally> = BTreeMap::new();
    for call in calls {
        let tally = Tally::of(call);
        for key in rollup_keys(call) {
            rollups.entry(key).or_default().add(&tally)?;
        }
    }
    Ok(rollups)
}

/// The transaction element that adds `delta` to a rollup item (creating it).
pub(crate) fn rollup_update(table: &str, key: &RollupKey, delta: &Tally) -> Update {
    let mut update = Update::builder()
        .table_name(table)
        .key(PK, AttributeValue::S(key.pk.clone()))
        .key(SK, AttributeValue::S(key.sk.clone()))
        .expression_attribute_names("#kind", KIND)
        .expression_attribute_values(":kind", AttributeValue::S(ROLLUP_KIND.into()));
    let mut adds = Vec::new();
    for (i, (name, value)) in delta.counters().enumerate() {
        update = update.expression_attribute_names(format!("#c{i}"), name).expression_attribute_values(format!(":c{i}"), AttributeValue::N(value.to_string()));
        adds.push(format!("#c{i} :c{i}"));
    }
    update.update_expression(format!("SET #kind = :kind ADD {}", adds.join(", "))).build().expect("table, key and expression are set")
}

/// Reads a rollup item's counters, and names each number attribute that is
/// not a whole number an `i64` holds (no sum of bounded calls is one).
pub(crate) fn tally_of_item(item: &Item) -> (Tally, Vec<String>) {
    let mut problems = Vec::new();
    let tally = Tally::from_counters(item.iter().filter_map(|(name, value)| match value {
        AttributeValue::N(n) => match n.parse::<i64>() {
            Ok(n) => Some((name.clone(), n)),
            Err(_) => {
                problems.push(format!("{name} is {n}, not a whole number a counter can hold"));
                None
            }
        },
        _ => None,
    }));
    (tally, problems)
}

/// The months (`yyyy-mm`) that `[from, to)` touches.
fn months_of(range: Range) -> Vec<String> {
    let last = range.1.checked_sub_signed(Duration::milliseconds(1)).unwrap_or(range.1);
    let (mut year, mut month) = (range.0.year(), range.0.month());
    let mut out = Vec::new();
    while (year, month) <= (last.year(), last.month()) {
        out.push(format!("{year:04}-{month:02}"));
        (year, month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    }
    out
}

impl DynamoStore {
    /// The sum of the hour rollups of `scope` for the whole hours in `range`.
    pub async fn hour_rollups(&self, org_id: &str, scope: &str, range: Range) -> Result<Tally, DomainError> {
        let (first, last) = (hour_key(&range.0), hour_key(&range.1.checked_sub_signed(Duration::hours(1)).unwrap_or(range.1)));
        let mut total = Tally::default();
        for month in months_of(range) {
            total.add(&self.sum_rollups(hour_pk(org_id, scope, &month), &first, &last).await?)?;
        }
        Ok(total)
    }

    /// The sum of the day rollups of `scope` for the whole days in `range`:
    /// one query per day, so each reads one day's shards (a few hundred bytes
    /// each, far inside one 4 KB read unit however large the counts grow).
    pub async fn day_rollups(&self, org_id: &str, scope: &str, range: Range) -> Result<Tally, DomainError> {
        let mut total = Tally::default();
        for day in analytics::days_of(range) {
            let key = day.format("%Y-%m-%d").to_string();
            let year = day.format("%Y").to_string();
            total.add(&self.sum_rollups(day_pk(org_id, scope, &year), &key, &key).await?)?;
        }
        Ok(total)
    }

    /// The sum of a partition's rollup items in a period. A counter an item
    /// cannot hold (not a whole `i64`) is logged and left out.
    async fn sum_rollups(&self, pk: String, first: &str, last: &str) -> Result<Tally, DomainError> {
        let mut total = Tally::default();
        for item in self.rollup_items(pk, first, last).await? {
            let (tally, problems) = tally_of_item(&item);
            if !problems.is_empty() {
                tracing::error!(pk = %string_attr(&item, PK).unwrap_or_default(), sk = %string_attr(&item, SK).unwrap_or_default(), ?problems, "a rollup item holds impossible counters; run callops verify-rollups");
            }
            total.add(&tally)?;
        }
        Ok(total)
    }

    /// Rollup items of one partition whose period lies from `first` to `last` (inclusive).
    async fn rollup_items(&self, pk: String, first: &str, last: &str) -> Result<Vec<Item>, DomainError> {
        let mut pages = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :first AND :last")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .expression_attribute_values(":first", AttributeValue::S(first.to_string()))
            // `~` sorts after the shard digits, so the last period's shards are all in.
            .expression_attribute_values(":last", AttributeValue::S(format!("{last}#~")))
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .into_paginator()
            .send();
        let mut items = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(unavailable)?;
            self.meter().record(page.consumed_capacity.as_ref());
            items.extend(page.items.unwrap_or_default());
        }
        Ok(items)
    }

    /// Every rollup item in the table, with its counters, and the problems
    /// of each item whose counters cannot be a sum of calls.
    pub async fn all_rollups(&self) -> Result<(BTreeMap<RollupKey, Tally>, Vec<Impossible>), DomainError> {
        let mut rollups = BTreeMap::new();
        let mut impossible = Vec::new();
        self.scan_kind(ROLLUP_KIND, |item| {
            if let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) = (item.get(PK), item.get(SK)) {
                let key = RollupKey { pk: pk.clone(), sk: sk.clone() };
                let (tally, mut problems) = tally_of_item(&item);
                problems.extend(tally.impossibilities());
                if !problems.is_empty() {
                    impossible.push(Impossible { key: key.clone(), problems });
                }
                rollups.insert(key, tally);
            }
            Ok(())
        })
        .await?;
        Ok((rollups, impossible))
    }

    /// Sets a rollup item to exactly `tally` (removing it when zero).
    pub async fn set_rollup(&self, key: &RollupKey, tally: &Tally) -> Result<(), DomainError> {
        self.write_batch(vec![rollup_write(key, tally)]).await
    }
}

/// The write that sets a rollup item to exactly `tally`: a put, or a delete when zero.
fn rollup_write(key: &RollupKey, tally: &Tally) -> WriteRequest {
    let keys = || HashMap::from([(PK.to_string(), AttributeValue::S(key.pk.clone())), (SK.to_string(), AttributeValue::S(key.sk.clone()))]);
    if tally.is_zero() {
        return WriteRequest::builder().delete_request(DeleteRequest::builder().set_key(Some(keys())).build().expect("the key is set")).build();
    }
    let mut item: HashMap<String, AttributeValue> = tally.counters().map(|(name, value)| (name.to_string(), AttributeValue::N(value.to_string()))).collect();
    item.extend(keys());
    item.insert(KIND.into(), AttributeValue::S(ROLLUP_KIND.into()));
    WriteRequest::builder().put_request(PutRequest::builder().set_item(Some(item)).build().expect("the item is set")).build()
}

/// One rollup item whose counters differ from what its calls add up to.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    pub key: RollupKey,
    pub expected: Tally,
    pub actual: Tally,
}

/// A rollup item whose counters no calls can add up to (a negative count,
/// more bookings than calls, a total beyond the bounds, a number that is
/// not a whole `i64`), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impossible {
    pub key: RollupKey,
    pub problems: Vec<String>,
}

/// What a check of the rollups against the calls found.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupReport {
    pub calls: usize,
    pub rollup_items: usize,
    pub drift: Vec<Drift>,
    /// Rollup items with totals no calls can make.
    pub impossible: Vec<Impossible>,
    /// Call items that do not parse: they count in no expected rollup.
    pub unreadable: Vec<Unreadable>,
    /// What the readable calls add up to, item by item.
    pub expected: BTreeMap<RollupKey, Tally>,
}

impl RollupReport {
    /// Whether nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.drift.is_empty() && self.impossible.is_empty() && self.unreadable.is_empty()
    }

    /// What a rebuild writes: every drifted item, and every impossible one
    /// (a counter no `i64` holds may hide from the comparison), set to what
    /// the readable calls add up to.
    pub fn repairs(&self) -> BTreeMap<&RollupKey, Tally> {
        let mut writes: BTreeMap<&RollupKey, Tally> = self.drift.iter().map(|d| (&d.key, d.expected.clone())).collect();
        for impossible in &self.impossible {
            writes.entry(&impossible.key).or_insert_with(|| self.expected.get(&impossible.key).cloned().unwrap_or_default());
        }
        writes
    }
}

impl DynamoStore {
    /// Recomputes every rollup from the raw calls and lists each item that
    /// differs (missing, extra, or with other counters), each item whose
    /// totals are impossible, and each call that cannot be read.
    pub async fn verify_rollups(&self) -> Result<RollupReport, DomainError> {
        let (calls, unreadable) = self.scan_calls().await?;
        let expected = expected_rollups(&calls)?;
        let (actual, impossible) = self.all_rollups().await?;
        let mut drift = Vec::new();
        for key in expected.keys().chain(actual.keys()).collect::<std::collections::BTreeSet<_>>() {
            let want = expected.get(key).cloned().unwrap_or_default();
            let have = actual.get(key).cloned().unwrap_or_default();
            if want != have {
                drift.push(Drift { key: key.clone(), expected: want, actual: have });
            }
        }
        Ok(RollupReport { calls: calls.len(), rollup_items: actual.len(), drift, impossible, unreadable, expected })
    }

    /// Sets every drifted rollup item to what its calls add up to; returns
    /// what it found before repairing. Run it while no calls are written.
    pub async fn rebuild_rollups(&self) -> Result<RollupReport, DomainError> {
        use futures::{StreamExt, TryStreamExt};
        let report = self.verify_rollups().await?;
        // 25 items to a request (BatchWriteItem's most), a few requests at a time.
        let writes: Vec<WriteRequest> = report.repairs().into_iter().map(|(key, tally)| rollup_write(key, &tally)).collect();
        futures::stream::iter(writes.chunks(25).map(|chunk| self.write_batch(chunk.to_vec()))).buffer_unordered(8).try_collect::<Vec<()>>().await?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: &str, imported: bool) -> CallLog {
        let new = callops_domain::NewCall {
            org_id: "acme".into(),
            voice_agent_id: "front".into(),
            phone_number: "+12125550142".into(),
            call_type: callops_domain::CallType::Inbound,
            status: callops_domain::CallStatus::Completed,
            attempt: 0,
        };
        let mut call = CallLog::new(new, id.into(), chrono::Utc::now());
        call.imported = imported;
        call
    }

    #[test]
    fn live_calls_spread_over_the_shards_and_imported_history_keeps_to_one() {
        assert_eq!(shard_of(&call("call-1", false)), shard_of(&call("call-1", false)));
        let used: std::collections::BTreeSet<u32> = (0..200).map(|i| shard_of(&call(&format!("call-{i}"), false))).collect();
        assert_eq!(used.len(), SHARDS as usize);
        let imported: std::collections::BTreeSet<u32> = (0..200).map(|i| shard_of(&call(&format!("call-{i}"), true))).collect();
        assert_eq!(imported, [0].into());
    }

    #[test]
    fn windows_touch_the_right_partitions() {
        let at = |t: &str| callops_domain::time::parse(t).unwrap();
        let months = months_of((at("2023-12-20T00:00:00Z"), at("2024-03-01T00:00:00Z")));
        assert_eq!(months, vec!["2023-12", "2024-01", "2024-02"], "March starts at the exclusive end");
    }
}
