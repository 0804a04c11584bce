//! The store's DynamoDB plumbing, written once: a consistent get of one
//! item, every item of a partition page by page, a conditional put, a
//! transaction tried again while it only met another, batch reads and
//! writes sent again for what DynamoDB left unprocessed, and a scan by kind.

use aws_sdk_dynamodb::{
    error::SdkError,
    operation::transact_write_items::TransactWriteItemsError,
    types::{KeysAndAttributes, Put, ReturnConsumedCapacity, TransactWriteItem, WriteRequest},
};
use callops_domain::DomainError;

use super::{DynamoStore, REVISION};
use crate::{
    item::*,
    table::{PK, SK},
};

/// How many times a transaction cancelled for meeting another on the same
/// item, or for throttling, is tried.
pub(crate) const TRANSACTION_ATTEMPTS: u32 = 8;
/// The same for a bulk writer ([`DynamoStore::patient`]).
pub const BULK_TRANSACTION_ATTEMPTS: u32 = 24;

impl DynamoStore {
    /// A conditional put for a transaction.
    pub(crate) fn put(&self, item: Item, condition: &str, revision: Option<u64>) -> Put {
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item)).condition_expression(condition);
        if let Some(revision) = revision {
            put = put.expression_attribute_names("#rev", REVISION).expression_attribute_values(":rev", n(revision));
        }
        put.build().expect("table and item are set")
    }

    /// One TransactWriteItems, tried again (after a growing, jittered pause)
    /// while it was only cancelled for meeting another transaction on an
    /// item or for throttling; a failed condition is returned as is.
    pub(crate) async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), SdkError<TransactWriteItemsError>> {
        self.transact_chained(items).await
    }

    /// [`Self::transact`] of items with no audit entry among them (or chained already).
    pub(crate) async fn transact_unchained(&self, items: Vec<TransactWriteItem>) -> Result<(), SdkError<TransactWriteItemsError>> {
        let mut attempt = 1;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
                .send()
                .await;
            if let Ok(output) = &result {
                for consumed in output.consumed_capacity() {
                    self.write_meter.record(Some(consumed));
                }
            }
            match result {
                Err(err) if attempt < self.transaction_attempts && cancelled_but_retryable(&err) => {
                    crate::retry::back_off(attempt).await;
                    attempt += 1;
                }
                other => return other.map(|_| ()),
            }
        }
    }

    /// One BatchGetItem request (up to 100 keys), sent again, after a
    /// growing pause, for the keys DynamoDB left unprocessed.
    pub(crate) async fn batch_get(&self, request: KeysAndAttributes) -> Result<Vec<Item>, DomainError> {
        let mut items = Vec::new();
        let mut pending = Some(request);
        let mut sends = 0;
        while let Some(request) = pending.take() {
            sends += 1;
            crate::retry::before_batch_send(sends).await?;
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(unavailable)?;
            for consumed in output.consumed_capacity() {
                self.meter.record(Some(consumed));
            }
            items.extend(output.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default());
            pending = output.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys().is_empty());
        }
        Ok(items)
    }

    /// One BatchWriteItem, sent again, after a growing pause, for what
    /// DynamoDB left unprocessed.
    pub(crate) async fn write_batch(&self, mut pending: Vec<WriteRequest>) -> Result<(), DomainError> {
        let mut sends = 0;
        while !pending.is_empty() {
            sends += 1;
            crate::retry::before_batch_send(sends).await?;
            let output = self.client.batch_write_item().request_items(&self.table, pending).send().await.map_err(unavailable)?;
            pending = output.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
        }
        Ok(())
    }

    /// Calls `each` with every item of a kind, page by page (operator tasks).
    pub(crate) async fn scan_kind(&self, kind: &str, mut each: impl FnMut(Item) -> Result<(), DomainError>) -> Result<(), DomainError> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .limit(super::rollups::SCAN_PAGE_ITEMS)
            .filter_expression("#kind = :kind")
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_values(":kind", s(kind))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for item in page.map_err(unavailable)?.items.unwrap_or_default() {
                each(item)?;
            }
        }
        Ok(())
    }
}

impl DynamoStore {
    /// Puts `value` as the item at `pk`/`sk` of `kind`, unconditionally, with its audit entry in the same transaction.
    pub(crate) async fn put_audited<T: serde::Serialize>(
        &self,
        value: &T,
        pk: String,
        sk: &str,
        kind: &str,
        audit: &callops_domain::records::audit::AuditEntry,
    ) -> Result<(), DomainError> {
        let mut item = to_item(value)?;
        item.insert(PK.into(), s(pk));
        item.insert(SK.into(), s(sk));
        item.insert(KIND.into(), s(kind));
        let put = Put::builder().table_name(self.table()).set_item(Some(item)).build().expect("table and item are set");
        self.transact_audited(vec![TransactWriteItem::builder().put(put).build()], audit).await.map_err(unavailable)?;
        Ok(())
    }

    /// One item by its key, read consistently.
    pub(crate) async fn get_item(&self, pk: String, sk: impl Into<String>) -> Result<Option<Item>, DomainError> {
        let output = self.client.get_item().table_name(&self.table).key(PK, s(pk)).key(SK, s(sk)).consistent_read(true).send().await.map_err(unavailable)?;
        Ok(output.item)
    }

    /// Every item of one partition (those whose sort key starts with
    /// `prefix`, when given), in sort-key order, page by page.
    pub(crate) async fn partition_items(&self, pk: String, prefix: Option<&str>, consistent: bool) -> Result<Vec<Item>, DomainError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(pk))
            .consistent_read(consistent);
        query = match prefix {
            Some(prefix) => query
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":prefix", s(prefix)),
            None => query.key_condition_expression("#pk = :pk"),
        };
        let mut pages = query.into_paginator().send();
        let mut items = Vec::new();
        while let Some(page) = pages.next().await {
            items.extend(page.map_err(unavailable)?.items.unwrap_or_default());
        }
        Ok(items)
    }
}
