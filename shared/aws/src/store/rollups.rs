//! Reading the analytics rollups ([`crate::rollup`]) and writing their items;
//! verifying and rebuilding them is [`super::rollup_check`].

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use callops_domain::{
    DomainError,
    analytics::{self, Tally, hour_key},
    time::Span,
};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use super::DynamoStore;
use crate::{
    item::*,
    rollup::*,
    table::{PK, SK},
};

/// The parallel scan segments a check of the rollups reads the calls in.
pub const SCAN_SEGMENTS: i32 = 4;

/// The most items a scan page evaluates (`Limit`). DynamoDB ends a page at
/// 1 MB first (about 300 calls); the embedded engine reads every row after
/// the page's start when no limit is given, and keeps them until it cuts
/// the page, so without one each page costs the rest of the table.
pub const SCAN_PAGE_ITEMS: i32 = 1_000;

/// The analytics rollups read and set.
#[allow(async_fn_in_trait)] // Implemented by DynamoStore alone and called on it: its futures are known, and Send.
pub trait RollupStore {
    /// The sum of the hour rollups of `scope` for the whole hours in `range`.
    async fn hour_rollups(&self, org_id: &str, scope: &str, range: Span) -> Result<Tally, DomainError>;

    /// The sum of the day rollups of `scope` for the whole days in `range`:
    /// one query per year partition, for the days' shards (a few hundred
    /// bytes each, however large the counts grow), read together.
    async fn day_rollups(&self, org_id: &str, scope: &str, range: Span) -> Result<Tally, DomainError>;

    /// The hour rollups of `scope` for each whole hour in `range` that has
    /// any, the shards of each summed, in time order: a window's hours one by one.
    async fn hour_tallies(&self, org_id: &str, scope: &str, range: Span) -> Result<Vec<(DateTime<Utc>, Tally)>, DomainError>;

    /// The day profiles of `scope` (its calls by quarter hour) for each
    /// whole UTC day in `range` that has any, in time order: one query a
    /// year, so a window's cost follows its days, not its calls.
    async fn day_profiles(&self, org_id: &str, scope: &str, range: Span) -> Result<Vec<(NaiveDate, Tally)>, DomainError>;

    /// Sets a rollup item to exactly `tally` (removing it when zero).
    async fn set_rollup(&self, key: &RollupKey, tally: &Tally) -> Result<(), DomainError>;
}

impl RollupStore for DynamoStore {
    async fn hour_rollups(&self, org_id: &str, scope: &str, range: Span) -> Result<Tally, DomainError> {
        let (first, last) = (hour_key(&range.start), hour_key(&range.end.checked_sub_signed(Duration::hours(1)).unwrap_or(range.end)));
        let reads = months_of(range).into_iter().map(|month| self.sum_rollups(hour_pk(org_id, scope, &month), &first, &last));
        let mut total = Tally::default();
        for tally in futures::future::try_join_all(reads).await? {
            total.add(&tally)?;
        }
        Ok(total)
    }

    async fn day_rollups(&self, org_id: &str, scope: &str, range: Span) -> Result<Tally, DomainError> {
        let Some(last_day) = analytics::days_of(range).last() else { return Ok(Tally::default()) };
        let (first, last) = (range.start.date_naive(), last_day);
        let reads = (first.year()..=last.year()).map(|year| {
            let from = first.max(NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(first)).format("%Y-%m-%d").to_string();
            let to = last.min(NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(last)).format("%Y-%m-%d").to_string();
            async move { self.sum_rollups(day_pk(org_id, scope, &format!("{year:04}")), &from, &to).await }
        });
        let mut total = Tally::default();
        for tally in futures::future::try_join_all(reads).await? {
            total.add(&tally)?;
        }
        Ok(total)
    }

    async fn hour_tallies(&self, org_id: &str, scope: &str, range: Span) -> Result<Vec<(DateTime<Utc>, Tally)>, DomainError> {
        let (first, last) = (hour_key(&range.start), hour_key(&range.end.checked_sub_signed(Duration::hours(1)).unwrap_or(range.end)));
        let mut hours = Vec::new();
        for month in months_of(range) {
            for (period, tally) in self.periods(hour_pk(org_id, scope, &month), &first, &last).await? {
                if let Ok(hour) = chrono::NaiveDateTime::parse_from_str(&format!("{period}:00"), "%Y-%m-%dT%H:%M") {
                    hours.push((hour.and_utc(), tally));
                }
            }
        }
        Ok(hours)
    }

    async fn day_profiles(&self, org_id: &str, scope: &str, range: Span) -> Result<Vec<(NaiveDate, Tally)>, DomainError> {
        let Some(last_day) = analytics::days_of(range).last() else { return Ok(Vec::new()) };
        let (first, last) = (range.start.format("%Y-%m-%d").to_string(), last_day.format("%Y-%m-%d").to_string());
        let mut days = Vec::new();
        for year in range.start.year()..=last_day.year() {
            for (period, tally) in self.periods(profile_pk(org_id, scope, &format!("{year:04}")), &first, &last).await? {
                if let Ok(day) = NaiveDate::parse_from_str(&period, "%Y-%m-%d") {
                    days.push((day, tally));
                }
            }
        }
        Ok(days)
    }

    async fn set_rollup(&self, key: &RollupKey, tally: &Tally) -> Result<(), DomainError> {
        self.write_batch(vec![rollup_write(key, tally)]).await
    }
}

impl DynamoStore {
    /// A partition's rollup items from `first` to `last`, the shards of
    /// each period (the sort key before its `#`) summed, in period order.
    async fn periods(&self, pk: String, first: &str, last: &str) -> Result<Vec<(String, Tally)>, DomainError> {
        let mut periods: BTreeMap<String, Tally> = BTreeMap::new();
        for item in self.rollup_items(pk, first, last).await? {
            let Some(period) = string_attr(&item, SK).and_then(|sk| sk.split('#').next().map(str::to_string)) else { continue };
            let (tally, problems) = tally_of_item(&item);
            if !problems.is_empty() {
                tracing::error!(pk = %string_attr(&item, PK).unwrap_or_default(), period, ?problems, "a rollup item holds impossible counters; run callops verify-rollups");
            }
            periods.entry(period).or_default().add(&tally)?;
        }
        Ok(periods.into_iter().collect())
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
}

/// The write that sets a rollup item to exactly `tally`: a put, or a delete when zero.
pub(crate) fn rollup_write(key: &RollupKey, tally: &Tally) -> WriteRequest {
    let keys = || HashMap::from([(PK.to_string(), AttributeValue::S(key.pk.clone())), (SK.to_string(), AttributeValue::S(key.sk.clone()))]);
    if tally.is_zero() {
        return WriteRequest::builder().delete_request(DeleteRequest::builder().set_key(Some(keys())).build().expect("the key is set")).build();
    }
    WriteRequest::builder().put_request(PutRequest::builder().set_item(Some(rollup_item(key, tally))).build().expect("the item is set")).build()
}

/// A rollup item holding exactly `tally` (zero counters are not kept).
pub(crate) fn rollup_item(key: &RollupKey, tally: &Tally) -> Item {
    let mut item: Item = tally.counters().map(|(name, value)| (name.to_string(), AttributeValue::N(value.to_string()))).collect();
    item.insert(PK.into(), AttributeValue::S(key.pk.clone()));
    item.insert(SK.into(), AttributeValue::S(key.sk.clone()));
    item.insert(KIND.into(), AttributeValue::S(ROLLUP_KIND.into()));
    item
}
