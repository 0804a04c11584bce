//! Attribute plumbing: items to and from domain values (serde_dynamo), the
//! attribute helpers, an unreadable item named by its key, and SDK errors
//! mapped to the domain (a failed condition is a `Conflict`).

use std::collections::HashMap;

use aws_sdk_dynamodb::{
    error::{DisplayErrorContext, SdkError},
    operation::transact_write_items::TransactWriteItemsError,
    types::AttributeValue,
};
use callops_domain::DomainError;

use crate::table::{PK, SK};

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn string_attr(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(text)) => Some(text.clone()),
        _ => None,
    }
}

/// Serialises a domain value into an item, leaving out absent fields rather
/// than storing NULLs.
pub(crate) fn to_item<T: serde::Serialize>(value: &T) -> Result<Item, DomainError> {
    let mut item: Item = serde_dynamo::to_item(value).map_err(|e| DomainError::Unavailable(format!("cannot serialise item: {e}")))?;
    item.retain(|_, v| !matches!(v, AttributeValue::Null(_)));
    Ok(item)
}

pub(crate) fn from_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, DomainError> {
    serde_dynamo::from_item(item).map_err(|e| DomainError::Unavailable(format!("stored item does not parse: {e}")))
}

/// An item that is in the table but does not parse as what it should be.
/// It is logged (with its key) and skipped, so it never takes down more
/// than itself; `verify-rollups` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub pk: String,
    pub sk: String,
    pub error: String,
}

/// An item's key, kept aside before the item is parsed (by value), to name it if it does not parse.
pub(crate) struct ItemKey(Option<AttributeValue>, Option<AttributeValue>);

impl ItemKey {
    pub(crate) fn of(item: &Item) -> ItemKey {
        ItemKey(item.get(PK).cloned(), item.get(SK).cloned())
    }

    /// The item as unreadable, for `error` (numbers in its key masked).
    pub(crate) fn unreadable(self, error: &DomainError) -> Unreadable {
        let text = |value: Option<AttributeValue>| match value {
            Some(AttributeValue::S(text)) => callops_domain::phone::mask_numbers_in(&text),
            _ => String::new(),
        };
        Unreadable { pk: text(self.0), sk: text(self.1), error: error.to_string() }
    }
}

impl Unreadable {
    /// Logs it as skipped.
    pub(crate) fn log(&self, what: &str) {
        tracing::error!(pk = %self.pk, sk = %self.sk, error = %self.error, "an unreadable {what} item was skipped");
    }
}

/// Parses an item that should be a `T`, or logs it (with its key) and skips it.
pub(crate) fn readable<T: serde::de::DeserializeOwned>(item: Item, what: &str) -> Option<T> {
    let key = ItemKey::of(&item);
    match from_item(item) {
        Ok(value) => Some(value),
        Err(err) => {
            key.unreadable(&err).log(what);
            None
        }
    }
}

/// Maps an SDK failure to the domain: a failed condition is a `Conflict`,
/// anything else is `Unavailable` with the full context for the log.
pub(crate) fn unavailable<E: std::error::Error + 'static>(err: SdkError<E>) -> DomainError {
    DomainError::Unavailable(format!("DynamoDB: {}", DisplayErrorContext(&err)))
}

pub(crate) fn transaction_conflict(err: SdkError<TransactWriteItemsError>, conflict: DomainError) -> DomainError {
    if failed_condition(&err) { conflict } else { unavailable(err) }
}

/// Whether a transaction was cancelled because one of its conditions failed.
pub(crate) fn failed_condition(err: &SdkError<TransactWriteItemsError>) -> bool {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            cancelled.cancellation_reasons().iter().any(|reason| reason.code() == Some("ConditionalCheckFailed"))
        }
        _ => false,
    }
}

/// Whether a transaction was cancelled for reasons that clear by
/// themselves: another transaction held an item, or DynamoDB throttled one
/// of its items. The SDK's retries do not cover these (the cancellation is
/// an answer, not an error), so the store tries again itself.
pub(crate) fn cancelled_but_retryable(err: &SdkError<TransactWriteItemsError>) -> bool {
    const PASSING: &[&str] = &["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"];
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            let reasons = cancelled.cancellation_reasons();
            reasons.iter().any(|r| r.code().is_some_and(|code| PASSING.contains(&code)))
                && reasons.iter().all(|r| r.code().is_none_or(|code| code == "None" || PASSING.contains(&code)))
        }
        Some(TransactWriteItemsError::TransactionInProgressException(_)) => true,
        _ => false,
    }
}

/// The attribute naming what kind of entity an item is.
pub(crate) const KIND: &str = "kind";
