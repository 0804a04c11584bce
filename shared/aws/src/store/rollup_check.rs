//! Verifying and rebuilding the analytics rollups ([`crate::rollup`]): every
//! rollup recomputed from the raw calls (a parallel scan), each item that
//! drifted or holds impossible totals listed, and repaired on request.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{AttributeValue, WriteRequest};
use callops_domain::{DomainError, analytics::Tally};

use super::{
    DynamoStore,
    rollups::{SCAN_PAGE_ITEMS, SCAN_SEGMENTS, rollup_write},
};
use crate::{
    item::*,
    rollup::*,
    table::{PK, SK},
};

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

/// The most drifted, impossible or unreadable items a report lists of each
/// kind; it counts them all.
pub const LISTED: usize = 1_000;

/// The most rollup items a check holds at once by default: what the calls
/// add up to in the key range of one pass (about 100 MB).
pub const HELD_ITEMS: usize = 100_000;

/// How a check of the rollups reads the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckOptions {
    /// The parallel scan segments the calls are read in. DynamoDB serves
    /// segments side by side; the embedded engine finds a segment's rows by
    /// reading every row of the table for each page, so it is read in one.
    pub segments: i32,
    /// The most rollup items of what the calls add up to held at once. When
    /// the calls make more, the check narrows the key range it holds and
    /// checks the rest in a further pass over the calls: memory stays
    /// bounded whatever the number of calls, and the time grows with the
    /// passes.
    pub held_items: usize,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions { segments: SCAN_SEGMENTS, held_items: HELD_ITEMS }
    }
}

/// What a check of the rollups against the calls found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RollupReport {
    /// Readable call items.
    pub calls: usize,
    pub rollup_items: usize,
    /// Passes over the calls, one per key range held.
    pub passes: usize,
    /// Items whose counters differ from what the calls add up to (missing,
    /// extra, or other counters), the first [`LISTED`] of them...
    pub drift: Vec<Drift>,
    /// ...and how many in all.
    pub drifted: usize,
    /// Rollup items with totals no calls can make, the first [`LISTED`]...
    pub impossible: Vec<Impossible>,
    /// ...and how many in all.
    pub impossible_items: usize,
    /// Call items that do not parse (they count in no expected rollup), the first [`LISTED`]...
    pub unreadable: Vec<Unreadable>,
    /// ...and how many in all.
    pub unreadable_items: usize,
    /// Rollup items a rebuild set to what the calls add up to.
    pub repaired: usize,
}

impl RollupReport {
    /// Whether nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.drifted == 0 && self.impossible_items == 0 && self.unreadable_items == 0
    }

    fn found_drift(&mut self, key: RollupKey, expected: Tally, actual: Tally) {
        self.drifted += 1;
        if self.drift.len() < LISTED {
            self.drift.push(Drift { key, expected, actual });
        }
    }

    fn found_unreadable(&mut self, found: Unreadable) {
        self.unreadable_items += 1;
        if self.unreadable.len() < LISTED {
            self.unreadable.push(found);
        }
    }
}

/// What one pass over the calls holds: what they add up to for the keys
/// after the pass's start, up to `upto` (the end of the table when None).
#[derive(Default)]
struct Fold {
    expected: BTreeMap<RollupKey, Tally>,
    upto: Option<RollupKey>,
    calls: usize,
    unreadable: Vec<Unreadable>,
}

impl Fold {
    fn holds(&self, key: &RollupKey) -> bool {
        self.upto.as_ref().is_none_or(|upto| key <= upto)
    }

    /// Adds contributions, then drops the upper keys while more than `held`
    /// are held (an eighth of them, so a range ends near full and few
    /// passes are needed): the range ends at the last key kept, and the
    /// next pass starts after it.
    fn add(&mut self, contributions: Vec<(RollupKey, Tally)>, held: usize) -> Result<(), DomainError> {
        for (key, tally) in contributions {
            if self.holds(&key) {
                self.expected.entry(key).or_default().add(&tally)?;
            }
            if self.expected.len() > held {
                let keep = (held - held / 8).max(1);
                if let Some(cut) = self.expected.keys().nth(keep).cloned() {
                    drop(self.expected.split_off(&cut));
                    self.upto = self.expected.keys().next_back().cloned();
                }
            }
        }
        Ok(())
    }
}

/// The rollups verified and rebuilt from the calls.
#[allow(async_fn_in_trait)] // Implemented by DynamoStore alone and called on it: its futures are known, and Send.
pub trait RollupCheckStore {
    /// Every rollup item in the table, with its counters, and the problems
    /// of each item whose counters cannot be a sum of calls.
    async fn all_rollups(&self) -> Result<(BTreeMap<RollupKey, Tally>, Vec<Impossible>), DomainError>;

    /// Recomputes every rollup from the raw calls and lists each item that
    /// differs (missing, extra, or with other counters), each item whose
    /// totals are impossible, and each call that cannot be read.
    async fn verify_rollups(&self) -> Result<RollupReport, DomainError>;

    /// Sets every drifted or impossible rollup item to what its calls add up
    /// to; reports what it found before repairing. Run it while no calls are written.
    async fn rebuild_rollups(&self) -> Result<RollupReport, DomainError>;

    /// The check behind [`Self::verify_rollups`] and (`repair`)
    /// [`Self::rebuild_rollups`], calling `progress` with the call items read
    /// so far (over every pass).
    ///
    /// The calls are streamed: `options.segments` scan segments side by
    /// side, each folding its calls into the rollup items they make as it
    /// reads them. Memory holds at most `options.held_items` of those (a key
    /// range, in key order: tenant by tenant, scope by scope, month by
    /// month), the rollup partitions' names, one partition of stored rollup
    /// items, and what the report lists. A range is compared with the stored
    /// items as soon as its pass ends, partition by partition, and repaired
    /// then.
    async fn check_rollups(&self, options: &CheckOptions, repair: bool, progress: &(dyn Fn(u64) + Sync)) -> Result<RollupReport, DomainError>;
}

impl RollupCheckStore for DynamoStore {
    async fn all_rollups(&self) -> Result<(BTreeMap<RollupKey, Tally>, Vec<Impossible>), DomainError> {
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

    async fn verify_rollups(&self) -> Result<RollupReport, DomainError> {
        self.check_rollups(&CheckOptions::default(), false, &|_| {}).await
    }

    async fn rebuild_rollups(&self) -> Result<RollupReport, DomainError> {
        self.check_rollups(&CheckOptions::default(), true, &|_| {}).await
    }

    async fn check_rollups(&self, options: &CheckOptions, repair: bool, progress: &(dyn Fn(u64) + Sync)) -> Result<RollupReport, DomainError> {
        let partitions = self.rollup_partitions().await?;
        let mut report = RollupReport::default();
        let read = std::sync::atomic::AtomicU64::new(0);
        let mut after: Option<RollupKey> = None;
        loop {
            let first = report.passes == 0;
            let fold = std::sync::Mutex::new(Fold::default());
            let segments = options.segments.max(1);
            futures::future::try_join_all(
                (0..segments).map(|segment| self.fold_segment(segment, segments, after.as_ref(), first, options.held_items.max(1), &fold, &read, progress)),
            )
            .await?;
            let fold = fold.into_inner().map_err(|_| DomainError::Unavailable("a scan segment failed while folding".into()))?;
            report.passes += 1;
            if first {
                report.calls = fold.calls;
                for found in fold.unreadable {
                    report.found_unreadable(found);
                }
            }
            let upto = fold.upto.clone();
            self.compare_range(&partitions, after.as_ref(), upto.as_ref(), fold.expected, repair, &mut report).await?;
            match upto {
                Some(upto) => after = Some(upto),
                None => return Ok(report),
            }
        }
    }
}

impl DynamoStore {
    /// The names of the rollup partitions (tenant, scope and month or year),
    /// from a scan of the rollup items that reads only their keys.
    async fn rollup_partitions(&self) -> Result<std::collections::BTreeSet<String>, DomainError> {
        let mut pages = self
            .client()
            .scan()
            .table_name(self.table())
            .filter_expression("#kind = :kind")
            .projection_expression("#pk")
            .limit(SCAN_PAGE_ITEMS)
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":kind", s(ROLLUP_KIND))
            .into_paginator()
            .send();
        let mut partitions = std::collections::BTreeSet::new();
        while let Some(page) = pages.next().await {
            for item in page.map_err(unavailable)?.items.unwrap_or_default() {
                if let Some(AttributeValue::S(pk)) = item.get(PK) {
                    partitions.insert(pk.clone());
                }
            }
        }
        Ok(partitions)
    }

    /// One scan segment's calls folded into `fold`: each page's calls are
    /// read and turned into their contributions first, then added under the
    /// lock. The first pass also counts the calls and names the unreadable ones.
    #[allow(clippy::too_many_arguments)]
    async fn fold_segment(
        &self,
        segment: i32,
        segments: i32,
        after: Option<&RollupKey>,
        first: bool,
        held: usize,
        fold: &std::sync::Mutex<Fold>,
        read: &std::sync::atomic::AtomicU64,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(), DomainError> {
        let mut scan = self
            .client()
            .scan()
            .table_name(self.table())
            .filter_expression("#kind = :kind")
            .limit(SCAN_PAGE_ITEMS)
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_values(":kind", s("call"));
        if segments > 1 {
            scan = scan.segment(segment).total_segments(segments);
        }
        let mut pages = scan.into_paginator().send();
        while let Some(page) = pages.next().await {
            let items = page.map_err(unavailable)?.items.unwrap_or_default();
            let count = items.len() as u64;
            let (mut calls, mut unreadable, mut contributions) = (0, Vec::new(), Vec::new());
            for item in items {
                match super::call_item::read_call_item(item) {
                    Ok(call) => {
                        calls += 1;
                        contributions.extend(rollup_contributions(&call).into_iter().filter(|(key, _)| after.is_none_or(|after| key > after)));
                    }
                    Err(found) => unreadable.push(found),
                }
            }
            {
                let mut fold = fold.lock().map_err(|_| DomainError::Unavailable("a scan segment failed while folding".into()))?;
                if first {
                    fold.calls += calls;
                    fold.unreadable.extend(unreadable);
                }
                fold.add(contributions, held)?;
            }
            progress(read.fetch_add(count, std::sync::atomic::Ordering::Relaxed) + count);
        }
        Ok(())
    }

    /// Compares what the calls add up to in the key range `(after, upto]`
    /// with the stored rollup items there, partition by partition in key
    /// order; with `repair`, sets each item that differs or is
    /// impossible to what the calls add up to (removing it when that is nothing).
    async fn compare_range(
        &self,
        partitions: &std::collections::BTreeSet<String>,
        after: Option<&RollupKey>,
        upto: Option<&RollupKey>,
        expected: BTreeMap<RollupKey, Tally>,
        repair: bool,
        report: &mut RollupReport,
    ) -> Result<(), DomainError> {
        let in_range = |key: &RollupKey| after.is_none_or(|after| key > after) && upto.is_none_or(|upto| key <= upto);
        let lowest = after.map(|key| key.pk.as_str()).unwrap_or("");
        let mut names: Vec<String> = partitions
            .iter()
            .filter(|pk| pk.as_str() >= lowest && upto.is_none_or(|upto| pk.as_str() <= upto.pk.as_str()))
            .cloned()
            .chain(expected.keys().map(|key| key.pk.clone()).filter(|pk| !partitions.contains(pk)))
            .collect();
        names.sort();
        names.dedup();
        let mut wanted = expected.into_iter().peekable();
        let mut writes = Vec::new();
        for pk in names {
            // One partition at a time: a scope's hours of one month or days of one year, a few thousand items at most.
            let stored = if partitions.contains(&pk) { self.partition_items(pk.clone(), None, false).await? } else { Vec::new() };
            for item in stored {
                let Some(AttributeValue::S(sk)) = item.get(SK) else { continue };
                let key = RollupKey { pk: pk.clone(), sk: sk.clone() };
                if !in_range(&key) {
                    continue;
                }
                report.rollup_items += 1;
                let (actual, mut problems) = tally_of_item(&item);
                problems.extend(actual.impossibilities());
                while let Some((missing, want)) = wanted.next_if(|(want, _)| *want < key) {
                    writes.extend(repair.then(|| rollup_write(&missing, &want)));
                    report.found_drift(missing, want, Tally::default());
                }
                let want = wanted.next_if(|(next, _)| *next == key).map(|(_, want)| want).unwrap_or_default();
                let wrong = !problems.is_empty();
                if wrong {
                    report.impossible_items += 1;
                    if report.impossible.len() < LISTED {
                        report.impossible.push(Impossible { key: key.clone(), problems });
                    }
                }
                if want != actual || wrong {
                    writes.extend(repair.then(|| rollup_write(&key, &want)));
                }
                if want != actual {
                    report.found_drift(key, want, actual);
                }
            }
            while let Some((missing, want)) = wanted.next_if(|(key, _)| key.pk == pk) {
                writes.extend(repair.then(|| rollup_write(&missing, &want)));
                report.found_drift(missing, want, Tally::default());
            }
            if writes.len() >= 200 {
                report.repaired += writes.len();
                self.write_repairs(std::mem::take(&mut writes)).await?;
            }
        }
        report.repaired += writes.len();
        self.write_repairs(writes).await
    }

    /// Repair writes, 25 to a request (BatchWriteItem's most), a few requests at a time.
    async fn write_repairs(&self, writes: Vec<WriteRequest>) -> Result<(), DomainError> {
        use futures::{StreamExt, TryStreamExt};
        futures::stream::iter(writes.chunks(25).map(|chunk| self.write_batch(chunk.to_vec()))).buffer_unordered(8).try_collect::<Vec<()>>().await?;
        Ok(())
    }
}
