//! Reading, verifying and rebuilding the analytics rollups ([`crate::rollup`]).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use callops_domain::{
    DomainError,
    analytics::{self, Tally, hour_key},
    time::Span,
};
use chrono::Duration;

use super::DynamoStore;
use crate::{
    item::*,
    rollup::*,
    table::{PK, SK},
};

/// The parallel scan segments a check of the rollups reads the calls in.
pub const SCAN_SEGMENTS: i32 = 4;

impl DynamoStore {
    /// The sum of the hour rollups of `scope` for the whole hours in `range`.
    pub async fn hour_rollups(&self, org_id: &str, scope: &str, range: Span) -> Result<Tally, DomainError> {
        let (first, last) = (hour_key(&range.start), hour_key(&range.end.checked_sub_signed(Duration::hours(1)).unwrap_or(range.end)));
        let mut total = Tally::default();
        for month in months_of(range) {
            total.add(&self.sum_rollups(hour_pk(org_id, scope, &month), &first, &last).await?)?;
        }
        Ok(total)
    }

    /// The sum of the day rollups of `scope` for the whole days in `range`:
    /// one query per day, so each reads one day's shards (a few hundred bytes
    /// each, far inside one 4 KB read unit however large the counts grow).
    pub async fn day_rollups(&self, org_id: &str, scope: &str, range: Span) -> Result<Tally, DomainError> {
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
    pub(crate) async fn sum_rollups(&self, pk: String, first: &str, last: &str) -> Result<Tally, DomainError> {
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
    pub(crate) async fn rollup_items(&self, pk: String, first: &str, last: &str) -> Result<Vec<Item>, DomainError> {
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
pub(crate) fn rollup_write(key: &RollupKey, tally: &Tally) -> WriteRequest {
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
        self.verify_rollups_with(&|_| {}).await
    }

    /// [`Self::verify_rollups`], calling `progress` with the calls read so
    /// far. The calls are streamed: [`SCAN_SEGMENTS`] parallel scan segments,
    /// each folding its calls into the rollups they make as it reads them, so
    /// memory holds the rollup items, never the calls.
    pub async fn verify_rollups_with(&self, progress: &(dyn Fn(u64) + Sync)) -> Result<RollupReport, DomainError> {
        let read = std::sync::atomic::AtomicU64::new(0);
        let segments = futures::future::try_join_all((0..SCAN_SEGMENTS).map(|segment| self.expected_segment(segment, &read, progress))).await?;
        let (mut calls, mut expected, mut unreadable) = (0, BTreeMap::new(), Vec::new());
        for (count, part, bad) in segments {
            calls += count;
            unreadable.extend(bad);
            for (key, tally) in part {
                expected.entry(key).or_insert_with(Tally::default).add(&tally)?;
            }
        }
        let (actual, impossible) = self.all_rollups().await?;
        let mut drift = Vec::new();
        for key in expected.keys().chain(actual.keys()).collect::<std::collections::BTreeSet<_>>() {
            let want = expected.get(key).cloned().unwrap_or_default();
            let have = actual.get(key).cloned().unwrap_or_default();
            if want != have {
                drift.push(Drift { key: key.clone(), expected: want, actual: have });
            }
        }
        Ok(RollupReport { calls, rollup_items: actual.len(), drift, impossible, unreadable, expected })
    }

    /// One scan segment's calls folded into their rollups: how many, what they add up to, and the items that do not parse.
    async fn expected_segment(
        &self,
        segment: i32,
        read: &std::sync::atomic::AtomicU64,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(usize, BTreeMap<RollupKey, Tally>, Vec<Unreadable>), DomainError> {
        let mut pages = self
            .client()
            .scan()
            .table_name(self.table())
            .filter_expression("#kind = :kind")
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_values(":kind", s("call"))
            .segment(segment)
            .total_segments(SCAN_SEGMENTS)
            .into_paginator()
            .send();
        let (mut calls, mut expected, mut unreadable) = (0, BTreeMap::new(), Vec::new());
        while let Some(page) = pages.next().await {
            let items = page.map_err(unavailable)?.items.unwrap_or_default();
            let count = items.len() as u64;
            for item in items {
                match super::calls::read_call_item(item) {
                    Ok(call) => {
                        calls += 1;
                        crate::rollup::add_expected(&mut expected, &call)?;
                    }
                    Err(found) => unreadable.push(found),
                }
            }
            progress(read.fetch_add(count, std::sync::atomic::Ordering::Relaxed) + count);
        }
        Ok((calls, expected, unreadable))
    }

    /// Sets every drifted rollup item to what its calls add up to; returns
    /// what it found before repairing. Run it while no calls are written.
    pub async fn rebuild_rollups(&self) -> Result<RollupReport, DomainError> {
        self.rebuild_rollups_with(&|_| {}).await
    }

    /// [`Self::rebuild_rollups`], calling `progress` with the calls read so far.
    pub async fn rebuild_rollups_with(&self, progress: &(dyn Fn(u64) + Sync)) -> Result<RollupReport, DomainError> {
        use futures::{StreamExt, TryStreamExt};
        let report = self.verify_rollups_with(progress).await?;
        // 25 items to a request (BatchWriteItem's most), a few requests at a time.
        let writes: Vec<WriteRequest> = report.repairs().into_iter().map(|(key, tally)| rollup_write(key, &tally)).collect();
        futures::stream::iter(writes.chunks(25).map(|chunk| self.write_batch(chunk.to_vec()))).buffer_unordered(8).try_collect::<Vec<()>>().await?;
        Ok(report)
    }
}
