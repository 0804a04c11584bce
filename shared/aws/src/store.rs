//! The DynamoDB store: calls and voice agents in the one table, through
//! aws-sdk-dynamodb with serde_dynamo doing the item conversion.
//!
//! Every write that depends on what is stored is conditional, and a failed
//! condition comes back as [`DomainError::Conflict`]. Calls carry a revision
//! number (`rev`) that each write checks and bumps, so two writers that read
//! the same call cannot both write it.

use std::collections::HashMap;

use aws_sdk_dynamodb::{
    Client,
    error::{DisplayErrorContext, SdkError},
    operation::{put_item::PutItemError, transact_write_items::TransactWriteItemsError},
    types::{AttributeValue, ConsumedCapacity, KeysAndAttributes, Put, PutRequest, ReturnConsumedCapacity, Select, TransactWriteItem, Update, WriteRequest},
};
use callops_domain::{CallLog, CallOutcome, CallStatus, CallType, DomainError, VoiceAgent, analytics::CallFacts, time};
use chrono::{DateTime, Utc};
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use crate::{
    cursor::Cursor,
    keys, rollup,
    table::{self, Index, PK, SK},
};

pub(crate) type Item = HashMap<String, AttributeValue>;

/// The most items one query returns.
pub const MAX_PAGE: usize = 10_100;

/// The attribute holding a call's revision (not part of the domain model).
const REVISION: &str = "rev";
/// The attribute naming what kind of entity an item is.
pub(crate) const KIND: &str = "kind";

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    meter: Arc<ReadMeter>,
}

/// Read capacity consumed by the store's analytics reads, as DynamoDB
/// reports it (`ReturnConsumedCapacity`), for benchmarks and logs.
#[derive(Debug, Default)]
pub struct ReadMeter {
    /// Thousandths of a read unit.
    milli_units: AtomicU64,
}

impl ReadMeter {
    pub(crate) fn record(&self, consumed: Option<&ConsumedCapacity>) {
        if let Some(units) = consumed.and_then(|c| c.capacity_units().or(c.read_capacity_units())) {
            self.milli_units.fetch_add((units * 1000.0).round() as u64, Ordering::Relaxed);
        }
    }

    /// Read units consumed so far.
    pub fn read_units(&self) -> f64 {
        self.milli_units.load(Ordering::Relaxed) as f64 / 1000.0
    }
}

/// How many times a transaction cancelled for meeting another on the same
/// item, or for throttling, is tried.
const TRANSACTION_ATTEMPTS: u32 = 8;

/// A call as read from the store, with the revision a later write must match.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCall {
    pub call: CallLog,
    pub revision: u64,
}

/// One page of a query; `next_cursor` is `None` on the last page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A write that must happen exactly when a call write happens, in its transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum AlongWithCall {
    /// Put a number on the call's tenant's do-not-call list.
    DoNotCall { number: String, reason: String },
    /// Remember, beside a new call, the fingerprint of the request that
    /// created it under an `Idempotency-Key`.
    IdempotencyKey { fingerprint: String },
    /// Take one of the call's agent's concurrent-call slots, if fewer than
    /// `max` are taken; otherwise the write fails with `no_free_slot`. (A
    /// slot is given back by the write that ends the call or puts it back in
    /// the queue, whoever makes it.)
    TakeSlot { max: u32 },
    /// Store a new call that must exist exactly when this write happens (a
    /// retry, a follow-up call), unless it exists already.
    NewCall(Box<CallLog>),
}

/// The code of the conflict when an agent has no free slot.
pub const NO_FREE_SLOT: &str = "no_free_slot";

/// Which index to read a tenant's calls from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallQuery {
    /// All agents, by start time.
    ByOrg,
    /// One agent, by start time.
    ByAgent(String),
    ByType(CallType),
    ByOutcome(CallOutcome),
    /// By the time the call last changed.
    ByStatus(CallStatus),
    ByCampaign(String),
    /// Calls waiting in SCHEDULED, by scheduled time.
    Scheduled,
}

impl CallQuery {
    fn index_and_partition(&self) -> (Index, String) {
        match self {
            CallQuery::ByOrg => (table::BY_ORG, String::new()),
            CallQuery::ByAgent(agent) => (table::BY_AGENT, agent.clone()),
            CallQuery::ByType(t) => (table::BY_TYPE, t.as_str().to_string()),
            CallQuery::ByOutcome(o) => (table::BY_OUTCOME, o.as_str().to_string()),
            CallQuery::ByStatus(s) => (table::BY_STATUS, s.as_str().to_string()),
            CallQuery::ByCampaign(c) => (table::BY_CAMPAIGN, c.clone()),
            CallQuery::Scheduled => (table::BY_SCHEDULED_AT, String::new()),
        }
    }
}

/// One page to read: from which index, in which window and order, how many,
/// from where, and (for callers narrowed to some agents) whose calls.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest<'a> {
    pub query: &'a CallQuery,
    pub window: Window,
    pub newest_first: bool,
    pub limit: usize,
    pub cursor: Option<&'a str>,
    pub only_agents: Option<&'a [String]>,
    /// Only calls in this status (for indexes that carry the status).
    pub only_status: Option<CallStatus>,
    /// The request's own description of what it lists (its query
    /// parameters but the paging ones): a cursor continues only the query
    /// that made it, in the window of its first page.
    pub binding: &'a str,
}

impl<'a> PageRequest<'a> {
    /// Oldest first, everything, no cursor: the usual start.
    pub fn new(query: &'a CallQuery, limit: usize) -> Self {
        PageRequest { query, window: Window::default(), newest_first: false, limit, cursor: None, only_agents: None, only_status: None, binding: "" }
    }
}

/// The most agents one caller may be narrowed to (the `agent_ids` claim):
/// DynamoDB's `IN` takes 100 values, so the filter is split into that many
/// `IN`s, and 500 keeps the filter inside DynamoDB's 4 KB for expressions.
pub const MAX_FILTER_AGENTS: usize = 500;

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

/// A time window on an index's sort key: `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Maps an SDK failure to the domain: a failed condition is a `Conflict`,
/// anything else is `Unavailable` with the full context for the log.
pub(crate) fn unavailable<E: std::error::Error + 'static>(err: SdkError<E>) -> DomainError {
    DomainError::Unavailable(format!("DynamoDB: {}", DisplayErrorContext(&err)))
}

pub(crate) fn put_conflict(err: SdkError<PutItemError>, conflict: DomainError) -> DomainError {
    match err.as_service_error() {
        Some(PutItemError::ConditionalCheckFailedException(_)) => conflict,
        _ => unavailable(err),
    }
}

fn transaction_conflict(err: SdkError<TransactWriteItemsError>, conflict: DomainError) -> DomainError {
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
fn cancelled_but_retryable(err: &SdkError<TransactWriteItemsError>) -> bool {
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

pub(crate) fn string_attr(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(text)) => Some(text.clone()),
        _ => None,
    }
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
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

/// The item a call is stored as; refused (`unstorable_call`) when it could
/// not be read back as it is.
pub(crate) fn call_item(call: &CallLog, revision: u64) -> Result<Item, DomainError> {
    call.check_storable()?;
    let mut item = to_item(call)?;
    item.insert(PK.into(), s(keys::call_pk(&call.org_id, &call.id)));
    item.insert(SK.into(), s(keys::CALL_SK));
    item.insert(KIND.into(), s("call"));
    item.insert(REVISION.into(), n(revision));
    for (index, pk, sk) in keys::index_entries(call) {
        item.insert(index.pk.into(), s(pk));
        item.insert(index.sk.into(), s(sk));
    }
    Ok(item)
}

/// The item that points from a Vapi call id to our call.
pub(crate) fn vapi_pointer_item(call: &CallLog) -> Option<Item> {
    let vapi_call_id = call.vapi_call_id.as_deref()?;
    Some(HashMap::from([
        (PK.to_string(), s(keys::vapi_call_pk(&call.org_id, vapi_call_id))),
        (SK.to_string(), s(keys::VAPI_CALL_SK)),
        (KIND.to_string(), s("vapiCall")),
        ("callId".to_string(), s(&call.id)),
    ]))
}

fn stored_call(item: Item) -> Result<StoredCall, DomainError> {
    let revision = match item.get(REVISION) {
        Some(AttributeValue::N(text)) => text.parse().unwrap_or(0),
        _ => 0,
    };
    let pk = string_attr(&item, PK).unwrap_or_default();
    let call = from_item(item).map_err(|err| DomainError::Unavailable(format!("call item {pk} is unreadable: {err}")))?;
    Ok(StoredCall { call, revision })
}

type Names = HashMap<String, String>;

/// The key condition for one index partition within `window`. Sort keys are
/// `<time>#<id>`, and a bare time sorts before every key at that time, so
/// `BETWEEN from AND to` is exactly `from <= time < to`.
fn key_condition(index: Index, partition_key: String, window: Window) -> (String, Names, Item) {
    let mut names = HashMap::from([("#pk".to_string(), index.pk.to_string())]);
    let mut values = HashMap::from([(":pk".to_string(), s(partition_key))]);
    let range = match (window.from, window.to) {
        (Some(from), Some(to)) => {
            values.insert(":from".into(), s(time::format(&from)));
            values.insert(":to".into(), s(time::format(&to)));
            " AND #sk BETWEEN :from AND :to"
        }
        (Some(from), None) => {
            values.insert(":from".into(), s(time::format(&from)));
            " AND #sk >= :from"
        }
        (None, Some(to)) => {
            values.insert(":to".into(), s(time::format(&to)));
            " AND #sk < :to"
        }
        (None, None) => "",
    };
    if !range.is_empty() {
        names.insert("#sk".into(), index.sk.to_string());
    }
    (format!("#pk = :pk{range}"), names, values)
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore { client, table: table.into(), meter: Arc::default() }
    }

    pub fn meter(&self) -> &ReadMeter {
        &self.meter
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// A conditional put for a transaction.
    pub(crate) fn put(&self, item: Item, condition: &str, revision: Option<u64>) -> Put {
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item)).condition_expression(condition);
        if let Some(revision) = revision {
            put = put.expression_attribute_names("#rev", REVISION).expression_attribute_values(":rev", n(revision));
        }
        put.build().expect("table and item are set")
    }

    pub(crate) fn vapi_pointer(&self, call: &CallLog) -> Option<Put> {
        Some(self.put(vapi_pointer_item(call)?, "attribute_not_exists(PK)", None))
    }

    /// Stores a new call, and claims its Vapi call id when it has one, in one
    /// transaction. `Conflict` when the id or the Vapi call id is taken.
    pub async fn create_call(&self, call: &CallLog) -> Result<StoredCall, DomainError> {
        self.create_call_with(call, &[]).await
    }

    /// `create_call`, with more writes in the same transaction.
    pub async fn create_call_with(&self, call: &CallLog, also: &[AlongWithCall]) -> Result<StoredCall, DomainError> {
        let put_call = self.put(call_item(call, 1)?, "attribute_not_exists(PK)", None);
        let items = self.call_transaction(None, call, put_call, self.vapi_pointer(call), also)?;
        self.transact(items).await.map_err(|e| transaction_conflict(e, DomainError::conflict("call_exists", format!("call {} already exists", call.id))))?;
        Ok(StoredCall { call: call.clone(), revision: 1 })
    }

    /// Replaces a stored call with `next`, provided nobody wrote it since
    /// `previous` was read. A Vapi call id set for the first time is claimed
    /// in the same transaction.
    pub async fn update_call(&self, previous: &StoredCall, next: &CallLog) -> Result<StoredCall, DomainError> {
        self.update_call_with(previous, next, &[]).await
    }

    /// `update_call`, with more writes in the same transaction.
    pub async fn update_call_with(&self, previous: &StoredCall, next: &CallLog, also: &[AlongWithCall]) -> Result<StoredCall, DomainError> {
        if previous.call.id != next.id || previous.call.org_id != next.org_id {
            return Err(DomainError::Unavailable("update_call got two different calls".into()));
        }
        let revision = previous.revision + 1;
        let put_call = self.put(call_item(next, revision)?, "#rev = :rev", Some(previous.revision));
        let pointer = if previous.call.vapi_call_id != next.vapi_call_id { self.vapi_pointer(next) } else { None };
        let takes_slot = also.iter().any(|write| matches!(write, AlongWithCall::TakeSlot { .. }));
        let items = self.call_transaction(Some(&previous.call), next, put_call, pointer, also)?;
        self.transact(items).await.map_err(|e| {
            // The call's own condition comes first in the transaction; with a slot to take, any other is the slot's.
            if let (true, Some(TransactWriteItemsError::TransactionCanceledException(cancelled))) = (takes_slot, e.as_service_error()) {
                let failed: Vec<bool> = cancelled.cancellation_reasons().iter().map(|r| r.code() == Some("ConditionalCheckFailed")).collect();
                if failed.len() > 1 && !failed[0] && failed[1..].iter().any(|f| *f) {
                    return DomainError::conflict(NO_FREE_SLOT, format!("agent {} has no free slot", next.voice_agent_id));
                }
            }
            transaction_conflict(e, DomainError::conflict("call_changed", format!("call {} changed since it was read", next.id)))
        })?;
        Ok(StoredCall { call: next.clone(), revision })
    }

    /// The one transaction that writes a call item and what must change
    /// with it: its Vapi pointer, the writes that go along, the slot it gives
    /// back, the rollups it moves. The store sends it with [`Self::transact`].
    fn call_transaction(
        &self,
        previous: Option<&CallLog>,
        next: &CallLog,
        put_call: Put,
        pointer: Option<Put>,
        also: &[AlongWithCall],
    ) -> Result<Vec<TransactWriteItem>, DomainError> {
        let mut items = vec![TransactWriteItem::builder().put(put_call).build()];
        items.extend(pointer.map(|p| TransactWriteItem::builder().put(p).build()));
        for write in also {
            items.push(self.along_with(next, write)?);
        }
        if previous.is_some_and(CallLog::holds_dialer_slot) && !next.holds_dialer_slot() {
            items.push(TransactWriteItem::builder().update(self.slot_release(next)).build());
        }
        for (key, delta) in rollup::rollup_deltas(previous, next)? {
            items.push(TransactWriteItem::builder().update(rollup::rollup_update(&self.table, &key, &delta)).build());
        }
        Ok(items)
    }

    /// One TransactWriteItems, tried again (after a growing, jittered pause)
    /// while it was only cancelled for meeting another transaction on an
    /// item or for throttling; a failed condition is returned as is.
    pub(crate) async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), SdkError<TransactWriteItemsError>> {
        let mut attempt = 1;
        loop {
            let result = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            match result {
                Err(err) if attempt < TRANSACTION_ATTEMPTS && cancelled_but_retryable(&err) => {
                    crate::retry::back_off(attempt).await;
                    attempt += 1;
                }
                other => return other.map(|_| ()),
            }
        }
    }

    pub async fn get_call(&self, org_id: &str, call_id: &str) -> Result<Option<StoredCall>, DomainError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(keys::call_pk(org_id, call_id)))
            .key(SK, s(keys::CALL_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        output.item.map(stored_call).transpose()
    }

    /// The call that Vapi knows as `vapi_call_id`, within the tenant.
    pub async fn find_call_by_vapi_id(&self, org_id: &str, vapi_call_id: &str) -> Result<Option<StoredCall>, DomainError> {
        let pointer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(keys::vapi_call_pk(org_id, vapi_call_id)))
            .key(SK, s(keys::VAPI_CALL_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let call_id = match pointer.item.as_ref().and_then(|item| item.get("callId")) {
            Some(AttributeValue::S(id)) => id.clone(),
            _ => return Ok(None),
        };
        self.get_call(org_id, &call_id).await
    }

    /// A page of a tenant's calls from one index, within `window` on the
    /// index's time, newest first or oldest first.
    pub async fn query_calls(&self, org_id: &str, request: &PageRequest<'_>) -> Result<Page<CallLog>, DomainError> {
        let page = self.query_index(org_id, request).await?;
        let keys: Vec<String> = page.items.iter().filter_map(|item| string_attr(item, PK)).collect();
        let mut calls = self.batch_get_calls(&keys, false).await?;
        // Keep the index's order; a call deleted since the index was read is skipped.
        let items = keys.iter().filter_map(|pk| calls.remove(pk)).map(|stored| stored.call).collect();
        Ok(Page { items, next_cursor: page.next_cursor })
    }

    /// A page of what the analytics count of a tenant's calls, read from the
    /// index alone (`byAgent` or `byOrg`), without transcripts.
    pub async fn query_call_facts(&self, org_id: &str, request: &PageRequest<'_>) -> Result<Page<CallFacts>, DomainError> {
        let (index, _) = request.query.index_and_partition();
        if index.projection != table::Projected::AnalyticsFields {
            return Err(DomainError::Unavailable(format!("{} does not carry the analytics fields", index.name)));
        }
        let page = self.query_index(org_id, request).await?;
        let items = page.items.into_iter().filter_map(|item| readable(item, "call (analytics index)")).collect();
        Ok(Page { items, next_cursor: page.next_cursor })
    }

    /// A page of raw index items, and the cursor after the last one.
    pub(crate) async fn query_index(&self, org_id: &str, request: &PageRequest<'_>) -> Result<Page<Item>, DomainError> {
        let PageRequest { query, window, newest_first, limit, cursor, only_agents, only_status, binding } = *request;
        let (index, partition) = query.index_and_partition();
        let mut agents: Vec<&str> = only_agents.unwrap_or_default().iter().map(String::as_str).collect();
        agents.sort_unstable();
        if agents.len() > MAX_FILTER_AGENTS {
            return Err(DomainError::invalid("too_many_agents", format!("a caller may be narrowed to at most {MAX_FILTER_AGENTS} agents")));
        }
        let status = only_status.map_or("", CallStatus::as_str);
        let order = if newest_first { "newest" } else { "oldest" };
        let narrowed = if only_agents.is_some() { "agents" } else { "all" };
        let digest = crate::cursor::query_digest(&[index.name, &partition, order, status, narrowed, &agents.join(","), binding]);
        // A cursor continues its own query, in the window of its first page.
        let (window, start_key) = match cursor {
            None => (window, None),
            Some(text) => {
                let cursor = Cursor::decode(text)?;
                if cursor.index != index.name || cursor.partition != partition || cursor.query != digest {
                    return Err(crate::cursor::invalid());
                }
                let (_, call_id) = keys::split_index_sk(&cursor.sort_key).ok_or_else(crate::cursor::invalid)?;
                let start = HashMap::from([
                    (PK.to_string(), s(keys::call_pk(org_id, call_id))),
                    (SK.to_string(), s(keys::CALL_SK)),
                    (index.pk.to_string(), s(keys::index_pk(index, org_id, &partition))),
                    (index.sk.to_string(), s(&cursor.sort_key)),
                ]);
                (Window { from: cursor.from, to: cursor.to }, Some(start))
            }
        };

        let (condition, mut names, mut values) = key_condition(index, keys::index_pk(index, org_id, &partition), window);
        let agent_filter = only_agents.map(|_| {
            names.insert("#agent".into(), "voiceAgentId".into());
            if agents.is_empty() {
                values.insert(":a0".into(), s(""));
                return "#agent = :a0".to_string();
            }
            // DynamoDB's IN takes at most 100 values: one IN per hundred.
            let groups: Vec<String> = agents
                .chunks(100)
                .enumerate()
                .map(|(group, chunk)| {
                    let placeholders: Vec<String> = chunk
                        .iter()
                        .enumerate()
                        .map(|(i, agent)| {
                            let name = format!(":a{}", group * 100 + i);
                            values.insert(name.clone(), s(*agent));
                            name
                        })
                        .collect();
                    format!("#agent IN ({})", placeholders.join(", "))
                })
                .collect();
            format!("({})", groups.join(" OR "))
        });
        let status_filter = only_status.map(|status| {
            names.insert("#status".into(), "status".into());
            values.insert(":status".into(), s(status.as_str()));
            "#status = :status".to_string()
        });
        let filter = match (agent_filter, status_filter) {
            (Some(a), Some(b)) => Some(format!("{a} AND {b}")),
            (a, b) => a.or(b),
        };

        let limit = limit.clamp(1, MAX_PAGE);
        let mut items = Vec::with_capacity(limit);
        let mut start_key = start_key;
        let mut more = false;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index.name)
                .key_condition_expression(&condition)
                .set_filter_expression(filter.clone())
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(!newest_first)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .limit(i32::try_from(limit - items.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(unavailable)?;
            self.meter.record(output.consumed_capacity.as_ref());
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) if items.len() < limit => start_key = Some(key),
                Some(_) => {
                    more = true;
                    break;
                }
                None => break,
            }
        }

        let next_cursor = match (more, items.last().and_then(|last| string_attr(last, index.sk))) {
            (true, Some(sort_key)) => Some(Cursor { index: index.name.into(), partition, sort_key, query: digest, from: window.from, to: window.to }.encode()),
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }

    /// Full calls by their partition keys, as a map from key to call, 100
    /// keys a request; `consistent` reads what the last write left. A call
    /// that does not parse is logged and left out.
    async fn batch_get_calls(&self, call_pks: &[String], consistent: bool) -> Result<HashMap<String, StoredCall>, DomainError> {
        let mut calls = HashMap::with_capacity(call_pks.len());
        for chunk in call_pks.chunks(100) {
            let keys: Vec<Item> = chunk.iter().map(|pk| HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(keys::CALL_SK))])).collect();
            let request =
                KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(consistent).build().map_err(|e| DomainError::Unavailable(e.to_string()))?;
            for item in self.batch_get(request).await? {
                let Some(pk) = string_attr(&item, PK) else { continue };
                let key = ItemKey::of(&item);
                match stored_call(item) {
                    Ok(stored) => {
                        calls.insert(pk, stored);
                    }
                    Err(err) => key.unreadable(&err).log("call"),
                }
            }
        }
        Ok(calls)
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

    /// A tenant's calls by id (those that exist and parse), with their
    /// revisions, read consistently from the table, 100 to a request.
    pub async fn calls_by_id(&self, org_id: &str, ids: &[String]) -> Result<HashMap<String, StoredCall>, DomainError> {
        let keys: Vec<String> = ids.iter().map(|id| keys::call_pk(org_id, id)).collect();
        Ok(self.batch_get_calls(&keys, true).await?.into_values().map(|stored| (stored.call.id.clone(), stored)).collect())
    }

    /// A small operator record (a migration's checkpoint, say) in the tenant's partition `name`.
    pub async fn put_marker(&self, org_id: &str, name: &str, fields: &[(&str, String)]) -> Result<(), DomainError> {
        let mut item = HashMap::from([(PK.to_string(), s(keys::marker_pk(org_id, name))), (SK.to_string(), s(name)), (KIND.to_string(), s("marker"))]);
        for (field, value) in fields {
            item.insert((*field).to_string(), s(value.as_str()));
        }
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }

    /// The fields of a marker, if it exists.
    pub async fn marker(&self, org_id: &str, name: &str) -> Result<Option<HashMap<String, String>>, DomainError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(keys::marker_pk(org_id, name)))
            .key(SK, s(name))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output.item.map(|item| {
            item.into_iter()
                .filter_map(|(k, v)| match v {
                    AttributeValue::S(text) => Some((k, text)),
                    _ => None,
                })
                .collect()
        }))
    }

    /// How many of a tenant's calls one index holds in `window` (reads keys only).
    pub async fn count_calls(&self, org_id: &str, query: &CallQuery, window: Window) -> Result<u64, DomainError> {
        let (index, partition) = query.index_and_partition();
        let (condition, names, values) = key_condition(index, keys::index_pk(index, org_id, &partition), window);
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression(&condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .select(Select::Count)
            .into_paginator()
            .send();
        let mut total = 0u64;
        while let Some(page) = pages.next().await {
            total += page.map_err(unavailable)?.count.max(0) as u64;
        }
        Ok(total)
    }

    /// Stores a voice agent: `create` fails with `Conflict` when the id is
    /// taken (and registers the tenant in the directory the reconciler
    /// reads, in the same transaction); otherwise it must exist already.
    pub async fn put_agent(&self, agent: &VoiceAgent, create: bool) -> Result<(), DomainError> {
        agent.check_storable()?;
        let mut item = to_item(agent)?;
        item.insert(PK.into(), s(keys::agents_pk(&agent.org_id)));
        item.insert(SK.into(), s(keys::agent_sk(&agent.id)));
        item.insert(KIND.into(), s("agent"));
        if !create {
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_exists(PK)")
                .send()
                .await
                .map_err(|e| put_conflict(e, DomainError::NotFound { what: "voice agent" }))?;
            return Ok(());
        }
        let tenant = HashMap::from([(PK.to_string(), s(keys::TENANTS_PK)), (SK.to_string(), s(&agent.org_id)), (KIND.to_string(), s("tenant"))]);
        self.client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(self.put(item, "attribute_not_exists(PK)", None)).build())
            .transact_items(
                TransactWriteItem::builder()
                    .put(Put::builder().table_name(&self.table).set_item(Some(tenant)).build().expect("table and item are set"))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| transaction_conflict(e, DomainError::conflict("agent_exists", format!("agent {} already exists", agent.id))))?;
        Ok(())
    }

    /// Every tenant with a voice agent, from the directory (the reconciler's list).
    pub async fn tenants(&self) -> Result<Vec<String>, DomainError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(keys::TENANTS_PK))
            .into_paginator()
            .send();
        let mut tenants = Vec::new();
        while let Some(page) = pages.next().await {
            tenants.extend(page.map_err(unavailable)?.items.unwrap_or_default().iter().filter_map(|item| string_attr(item, SK)));
        }
        Ok(tenants)
    }

    pub async fn get_agent(&self, org_id: &str, agent_id: &str) -> Result<Option<VoiceAgent>, DomainError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(keys::agents_pk(org_id)))
            .key(SK, s(keys::agent_sk(agent_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        output.item.map(from_item).transpose()
    }

    /// A tenant's voice agents, in id order.
    pub async fn list_agents(&self, org_id: &str) -> Result<Vec<VoiceAgent>, DomainError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(keys::agents_pk(org_id)))
            .expression_attribute_values(":prefix", s(keys::AGENT_SK_PREFIX))
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut agents = Vec::new();
        while let Some(page) = pages.next().await {
            agents.extend(page.map_err(unavailable)?.items.unwrap_or_default().into_iter().filter_map(|item| readable(item, "voice agent")));
        }
        Ok(agents)
    }

    /// Calls `each` with every item of a kind, page by page (operator tasks).
    pub(crate) async fn scan_kind(&self, kind: &str, mut each: impl FnMut(Item) -> Result<(), DomainError>) -> Result<(), DomainError> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
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

    /// Every call in the table, all tenants (operator tasks); an item that
    /// does not parse is logged and left out.
    pub async fn all_calls(&self) -> Result<Vec<CallLog>, DomainError> {
        Ok(self.scan_calls().await?.0)
    }

    /// Every call in the table, all tenants, and every call item that does not parse.
    pub async fn scan_calls(&self) -> Result<(Vec<CallLog>, Vec<Unreadable>), DomainError> {
        let (mut calls, mut unreadable) = (Vec::new(), Vec::new());
        self.scan_kind("call", |item| {
            let key = ItemKey::of(&item);
            match from_item(item) {
                Ok(call) => calls.push(call),
                Err(err) => {
                    let found = key.unreadable(&err);
                    found.log("call");
                    unreadable.push(found);
                }
            }
            Ok(())
        })
        .await?;
        Ok((calls, unreadable))
    }

    /// Stores calls that have not started (a campaign's), each only if no
    /// call with its id exists: up to 100 to a transaction, and one by one
    /// for a transaction one of whose calls exists already (a replayed
    /// request racing the first). Returns the ids of the calls stored. A
    /// call that has not started counts in no rollup, so none changes.
    pub async fn create_new_calls(&self, calls: &[CallLog]) -> Result<Vec<String>, DomainError> {
        if let Some(started) = calls.iter().find(|call| call.call_started_at.is_some()) {
            return Err(DomainError::Unavailable(format!("call {} has started; store it with create_call", started.id)));
        }
        let mut created = Vec::with_capacity(calls.len());
        for chunk in calls.chunks(100) {
            let mut items = Vec::with_capacity(chunk.len());
            for call in chunk {
                items.push(TransactWriteItem::builder().put(self.put(call_item(call, 1)?, "attribute_not_exists(PK)", None)).build());
            }
            match self.transact(items).await {
                Ok(()) => created.extend(chunk.iter().map(|call| call.id.clone())),
                Err(err) if failed_condition(&err) => {
                    for call in chunk {
                        match self.create_call(call).await {
                            Ok(_) => created.push(call.id.clone()),
                            Err(DomainError::Conflict { .. }) => {}
                            Err(other) => return Err(other),
                        }
                    }
                }
                Err(err) => return Err(unavailable(err)),
            }
        }
        Ok(created)
    }

    /// Writes calls in batches, unconditionally and without touching the
    /// rollups: for bulk loads, which rebuild the rollups afterwards.
    pub async fn bulk_put_calls(&self, calls: &[CallLog]) -> Result<(), DomainError> {
        let mut requests = Vec::with_capacity(calls.len() * 2);
        for call in calls {
            requests.push(call_item(call, 1)?);
            requests.extend(vapi_pointer_item(call));
        }
        for chunk in requests.chunks(25) {
            let mut pending = Vec::with_capacity(chunk.len());
            for item in chunk {
                let put = PutRequest::builder().set_item(Some(item.clone())).build().map_err(|e| DomainError::Unavailable(e.to_string()))?;
                pending.push(WriteRequest::builder().put_request(put).build());
            }
            self.write_batch(pending).await?;
        }
        Ok(())
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

    /// The transaction element for a write that goes with a call's.
    fn along_with(&self, call: &CallLog, write: &AlongWithCall) -> Result<TransactWriteItem, DomainError> {
        let at = call.updated_at;
        Ok(match write {
            // The first time and reason a number was added stay.
            AlongWithCall::DoNotCall { number, reason } => {
                crate::outbound::check_entry(number, Some(reason))?;
                TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name(&self.table)
                            .key(PK, s(keys::do_not_call_pk(&call.org_id)))
                            .key(SK, s(number))
                            .update_expression("SET #kind = :kind, #added = if_not_exists(#added, :at), #reason = if_not_exists(#reason, :reason)")
                            .expression_attribute_names("#kind", KIND)
                            .expression_attribute_names("#added", "addedAt")
                            .expression_attribute_names("#reason", "reason")
                            .expression_attribute_values(":kind", s("doNotCall"))
                            .expression_attribute_values(":at", s(time::format(&at)))
                            .expression_attribute_values(":reason", s(reason))
                            .build()
                            .expect("table, key and expression are set"),
                    )
                    .build()
            }
            AlongWithCall::TakeSlot { max } => TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&self.table)
                        .key(PK, s(keys::agents_pk(&call.org_id)))
                        .key(SK, s(keys::slots_sk(&call.voice_agent_id)))
                        .update_expression("SET #inUse = if_not_exists(#inUse, :zero) + :one, #kind = :kind")
                        .condition_expression("attribute_not_exists(#inUse) OR #inUse < :max")
                        .expression_attribute_names("#inUse", "inUse")
                        .expression_attribute_names("#kind", KIND)
                        .expression_attribute_values(":zero", n(0))
                        .expression_attribute_values(":one", n(1))
                        .expression_attribute_values(":max", n(*max))
                        .expression_attribute_values(":kind", s("slots"))
                        .build()
                        .expect("table, key and expression are set"),
                )
                .build(),
            AlongWithCall::NewCall(new) => TransactWriteItem::builder().put(self.put(call_item(new, 1)?, "attribute_not_exists(PK)", None)).build(),
            AlongWithCall::IdempotencyKey { fingerprint } => {
                let item = HashMap::from([
                    (PK.to_string(), s(keys::call_pk(&call.org_id, &call.id))),
                    (SK.to_string(), s(keys::IDEMPOTENCY_SK)),
                    (KIND.to_string(), s("idempotencyKey")),
                    ("fingerprint".to_string(), s(fingerprint)),
                ]);
                TransactWriteItem::builder().put(self.put(item, "attribute_not_exists(PK)", None)).build()
            }
        })
    }

    /// Gives back the slot a call held.
    fn slot_release(&self, call: &CallLog) -> Update {
        Update::builder()
            .table_name(&self.table)
            .key(PK, s(keys::agents_pk(&call.org_id)))
            .key(SK, s(keys::slots_sk(&call.voice_agent_id)))
            .update_expression("ADD #inUse :minus_one SET #kind = :kind")
            .expression_attribute_names("#inUse", "inUse")
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_values(":minus_one", n(-1))
            .expression_attribute_values(":kind", s("slots"))
            .build()
            .expect("table, key and expression are set")
    }

    /// How many of an agent's concurrent-call slots are taken.
    pub async fn slots_in_use(&self, org_id: &str, agent_id: &str) -> Result<i64, DomainError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(keys::agents_pk(org_id)))
            .key(SK, s(keys::slots_sk(agent_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(match output.item.as_ref().and_then(|item| item.get("inUse")) {
            Some(AttributeValue::N(text)) => text.parse().unwrap_or(0),
            _ => 0,
        })
    }

    /// The fingerprint of the request that created a call under an
    /// `Idempotency-Key`, if one did.
    pub async fn request_fingerprint(&self, org_id: &str, call_id: &str) -> Result<Option<String>, DomainError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(keys::call_pk(org_id, call_id)))
            .key(SK, s(keys::IDEMPOTENCY_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output.item.as_ref().and_then(|item| string_attr(item, "fingerprint")))
    }

    /// Whether a number is on the tenant's do-not-call list.
    pub async fn is_on_do_not_call(&self, org_id: &str, number: &str) -> Result<bool, DomainError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(keys::do_not_call_pk(org_id)))
            .key(SK, s(number))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output.item.is_some())
    }
}
