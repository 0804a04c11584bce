//! Reading a tenant's calls from an index: which index, a window on its
//! time, pages with cursors bound to their query, filters by agent and
//! status, and counts.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{ReturnConsumedCapacity, Select};
use callops_domain::{
    CallLog, CallOutcome, CallStatus, CallType, DomainError,
    analytics::CallFacts,
    time::{self, Span},
};
use chrono::{DateTime, Utc};

use super::{DynamoStore, MAX_PAGE, Page, StoredCall};
use crate::{
    cursor::Cursor,
    item::*,
    keys,
    table::{self, Index, PK, SK},
};

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
    /// Calls to and from one number (as the call keeps it), by start or creation time.
    ByNumber(String),
    /// Missed calls waiting to be returned, by start time (the worklist,
    /// [`crate::table::MISSED_WORKLIST`]).
    Missed,
}

impl CallQuery {
    pub(crate) fn index_and_partition(&self) -> (Index, String) {
        match self {
            CallQuery::ByOrg => (table::BY_ORG, String::new()),
            CallQuery::ByAgent(agent) => (table::BY_AGENT, agent.clone()),
            CallQuery::ByType(t) => (table::BY_TYPE, t.as_str().to_string()),
            CallQuery::ByOutcome(o) => (table::BY_OUTCOME, o.as_str().to_string()),
            CallQuery::ByStatus(s) => (table::BY_STATUS, s.as_str().to_string()),
            CallQuery::ByCampaign(c) => (table::BY_CAMPAIGN, c.clone()),
            CallQuery::Scheduled => (table::BY_SCHEDULED_AT, String::new()),
            CallQuery::ByNumber(number) => (table::BY_NUMBER, number.clone()),
            CallQuery::Missed => (table::MISSED_WORKLIST, String::new()),
        }
    }
}

/// What a cursor of `request`'s query is bound to: the index, its partition,
/// the order and every filter, and the request's own binding.
fn page_digest(request: &PageRequest) -> String {
    let (index, partition) = request.query.index_and_partition();
    let mut agents: Vec<&str> = request.only_agents.unwrap_or_default().iter().map(String::as_str).collect();
    agents.sort_unstable();
    let status = request.only_status.map_or("", CallStatus::as_str);
    let order = if request.newest_first { "newest" } else { "oldest" };
    let narrowed = if request.only_agents.is_some() { "agents" } else { "all" };
    let types: Vec<&str> = request.only_types.unwrap_or_default().iter().map(|t| t.as_str()).collect();
    let typed = if request.only_types.is_some() { "types" } else { "any type" };
    crate::cursor::query_digest(&[index.name, &partition, order, status, narrowed, &agents.join(","), typed, &types.join(","), request.binding])
}

/// The cursor that continues `request`'s query after `item` (an index item it read).
fn cursor_after(request: &PageRequest, item: &Item) -> Option<String> {
    let (index, partition) = request.query.index_and_partition();
    let window = match request.cursor {
        Some(text) => Cursor::decode(text).map(|cursor| Span::new(cursor.from, cursor.to)).ok()?,
        None => request.window,
    };
    let sort_key = string_attr(item, index.sk)?;
    Some(Cursor { index: index.name.into(), partition, sort_key, query: page_digest(request), from: window.start, to: window.end }.encode())
}

/// Whether `index` is a partition of the table itself rather than an index.
fn in_table(index: Index) -> bool {
    index == table::MISSED_WORKLIST
}

/// The key of the call an item read from `index` stands for.
fn call_key_of(index: Index, org_id: &str, item: &Item) -> Option<String> {
    match in_table(index) {
        true => string_attr(item, "callId").map(|call_id| keys::call_pk(org_id, &call_id)),
        false => string_attr(item, PK),
    }
}

/// One page to read: from which index, in which window and order, how many,
/// from where, and (for callers narrowed to some agents) whose calls.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest<'a> {
    pub query: &'a CallQuery,
    /// On the index's time.
    pub window: Span<Option<DateTime<Utc>>>,
    pub newest_first: bool,
    pub limit: usize,
    pub cursor: Option<&'a str>,
    pub only_agents: Option<&'a [String]>,
    /// Only calls in this status (for indexes that carry the status).
    pub only_status: Option<CallStatus>,
    /// Only calls of these types (for indexes that carry the call type).
    pub only_types: Option<&'a [CallType]>,
    /// The request's own description of what it lists (its query
    /// parameters but the paging ones): a cursor continues only the query
    /// that made it, in the window of its first page.
    pub binding: &'a str,
    /// The most the page's calls may weigh as a Lambda answer carries them
    /// ([`callops_domain::records::export::json_weight`]): the page closes before the
    /// call that would pass it (never before its first), the cursor
    /// continuing from there.
    pub max_bytes: Option<usize>,
}

impl<'a> PageRequest<'a> {
    /// Oldest first, everything, no cursor: the usual start.
    pub fn new(query: &'a CallQuery, limit: usize) -> Self {
        PageRequest {
            query,
            window: Span::ALL,
            newest_first: false,
            limit,
            cursor: None,
            only_agents: None,
            only_status: None,
            only_types: None,
            binding: "",
            max_bytes: None,
        }
    }
}

/// The most agents one caller may be narrowed to (the `agent_ids` claim):
/// DynamoDB's `IN` takes 100 values, so the filter is split into that many
/// `IN`s, and 500 keeps the filter inside DynamoDB's 4 KB for expressions.
pub const MAX_FILTER_AGENTS: usize = 500;

pub(crate) type Names = HashMap<String, String>;

/// The key condition for one index partition within `window`. Sort keys are
/// `<time>#<id>`, and a bare time sorts before every key at that time, so
/// `BETWEEN from AND to` is exactly `from <= time < to`.
pub(crate) fn key_condition(index: Index, partition_key: String, window: Span<Option<DateTime<Utc>>>) -> (String, Names, Item) {
    let mut names = HashMap::from([("#pk".to_string(), index.pk.to_string())]);
    let mut values = HashMap::from([(":pk".to_string(), s(partition_key))]);
    let range = match (window.start, window.end) {
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

/// How many calls a page bounded by size reads at once (a call with its
/// content may weigh 1.5 MB as an answer carries it; four pages of the
/// heaviest fill an answer).
const SIZED_READ_CHUNK: usize = 10;

/// Calls by index: pages of calls, facts and counts over a window.
#[allow(async_fn_in_trait)] // Implemented by DynamoStore alone and called on it: its futures are known, and Send.
pub trait CallQueryStore {
    /// A page of a tenant's calls from one index, within `window` on the
    /// index's time, newest first or oldest first.
    async fn query_calls(&self, org_id: &str, request: &PageRequest<'_>) -> Result<Page<CallLog>, DomainError>;

    /// [`Self::query_calls`], each call with the revision a later write must match.
    async fn query_stored_calls(&self, org_id: &str, request: &PageRequest<'_>) -> Result<Page<StoredCall>, DomainError>;

    /// A page of what the analytics count of a tenant's calls, read from the
    /// index alone (`byAgent` or `byOrg`), without transcripts.
    async fn query_call_facts(&self, org_id: &str, request: &PageRequest<'_>) -> Result<Page<CallFacts>, DomainError>;

    /// How many of a tenant's calls one index holds in `window` (reads keys only).
    async fn count_calls(&self, org_id: &str, query: &CallQuery, window: Span<Option<DateTime<Utc>>>) -> Result<u64, DomainError>;
}

impl CallQueryStore for DynamoStore {
    async fn query_calls(&self, org_id: &str, request: &PageRequest<'_>) -> Result<Page<CallLog>, DomainError> {
        let page = self.query_stored_calls(org_id, request).await?;
        Ok(Page { items: page.items.into_iter().map(|stored| stored.call).collect(), next_cursor: page.next_cursor })
    }

    async fn query_stored_calls(&self, org_id: &str, request: &PageRequest<'_>) -> Result<Page<StoredCall>, DomainError> {
        let page = self.query_index(org_id, request).await?;
        let (index, _) = request.query.index_and_partition();
        let keys: Vec<(String, &Item)> = page.items.iter().filter_map(|item| call_key_of(index, org_id, item).map(|key| (key, item))).collect();
        // A page bounded by size reads its calls a few at a time, and stops
        // reading once it is full: heavy calls cost what is answered, not the whole limit.
        let chunk = if request.max_bytes.is_some() { SIZED_READ_CHUNK } else { keys.len().max(1) };
        // Keep the index's order; a call deleted since the index was read is skipped.
        let mut items = Vec::with_capacity(keys.len());
        let (mut weight, mut last) = (0, None);
        for part in keys.chunks(chunk) {
            let call_keys: Vec<String> = part.iter().map(|(key, _)| key.clone()).collect();
            let mut calls = self.batch_get_calls(&call_keys, false).await?;
            for (key, index_item) in part {
                let Some(call) = calls.remove(key) else { continue };
                if let Some(max) = request.max_bytes {
                    weight += callops_domain::records::export::json_weight(&call.call) + 1;
                    if weight > max && !items.is_empty() {
                        // The page closes here: the next one starts after the last call answered.
                        return Ok(Page { items, next_cursor: last.and_then(|item| cursor_after(request, item)) });
                    }
                }
                items.push(call);
                last = Some(*index_item);
            }
        }
        Ok(Page { items, next_cursor: page.next_cursor })
    }

    async fn query_call_facts(&self, org_id: &str, request: &PageRequest<'_>) -> Result<Page<CallFacts>, DomainError> {
        let (index, _) = request.query.index_and_partition();
        if index.projection != table::Projected::AnalyticsFields {
            return Err(DomainError::Unavailable(format!("{} does not carry the analytics fields", index.name)));
        }
        let page = self.query_index(org_id, request).await?;
        let items = page.items.into_iter().filter_map(|item| readable(item, "call (analytics index)")).collect();
        Ok(Page { items, next_cursor: page.next_cursor })
    }

    async fn count_calls(&self, org_id: &str, query: &CallQuery, window: Span<Option<DateTime<Utc>>>) -> Result<u64, DomainError> {
        let (index, partition) = query.index_and_partition();
        let (condition, names, values) = key_condition(index, keys::index_pk(index, org_id, &partition), window);
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name((!in_table(index)).then(|| index.name.to_string()))
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
}

impl DynamoStore {
    /// A page of raw index items, and the cursor after the last one.
    pub(crate) async fn query_index(&self, org_id: &str, request: &PageRequest<'_>) -> Result<Page<Item>, DomainError> {
        let PageRequest { query, window, newest_first, limit, cursor, only_agents, only_status, only_types, .. } = *request;
        let (index, partition) = query.index_and_partition();
        let filtered = [(only_agents.is_some(), "voiceAgentId"), (only_status.is_some(), "status"), (only_types.is_some(), "callType")];
        if let Some((_, field)) = filtered.iter().find(|(asked, field)| *asked && !index.carries(field)) {
            return Err(DomainError::Unavailable(format!("{} does not carry {field}, so it cannot be filtered by it", index.name)));
        }
        let mut agents: Vec<&str> = only_agents.unwrap_or_default().iter().map(String::as_str).collect();
        agents.sort_unstable();
        if agents.len() > MAX_FILTER_AGENTS {
            return Err(DomainError::invalid("too_many_agents", format!("a caller may be narrowed to at most {MAX_FILTER_AGENTS} agents")));
        }
        let types: Vec<&str> = only_types.unwrap_or_default().iter().map(|t| t.as_str()).collect();
        let digest = page_digest(request);
        // A cursor continues its own query, in the window of its first page.
        let (window, start_key) = match cursor {
            None => (window, None),
            Some(text) => {
                let cursor = Cursor::decode(text)?;
                if cursor.index != index.name || cursor.partition != partition || cursor.query != digest {
                    return Err(crate::cursor::invalid());
                }
                let (_, call_id) = keys::split_index_sk(&cursor.sort_key).ok_or_else(crate::cursor::invalid)?;
                let start = match in_table(index) {
                    true => HashMap::from([(PK.to_string(), s(keys::index_pk(index, org_id, &partition))), (SK.to_string(), s(&cursor.sort_key))]),
                    false => HashMap::from([
                        (PK.to_string(), s(keys::call_pk(org_id, call_id))),
                        (SK.to_string(), s(keys::CALL_SK)),
                        (index.pk.to_string(), s(keys::index_pk(index, org_id, &partition))),
                        (index.sk.to_string(), s(&cursor.sort_key)),
                    ]),
                };
                (Span::new(cursor.from, cursor.to), Some(start))
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
        let type_filter = only_types.map(|_| {
            names.insert("#ctype".into(), "callType".into());
            let placeholders: Vec<String> = types
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    values.insert(format!(":t{i}"), s(*t));
                    format!(":t{i}")
                })
                .collect();
            match placeholders.is_empty() {
                true => {
                    values.insert(":t0".into(), s(""));
                    "#ctype = :t0".to_string()
                }
                false => format!("#ctype IN ({})", placeholders.join(", ")),
            }
        });
        let filter = [agent_filter, status_filter, type_filter].into_iter().flatten().reduce(|a, b| format!("{a} AND {b}"));

        let limit = limit.clamp(1, MAX_PAGE);
        let mut items = Vec::with_capacity(limit);
        let mut start_key = start_key;
        let mut more = false;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name((!in_table(index)).then(|| index.name.to_string()))
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
            (true, Some(sort_key)) => {
                Some(Cursor { index: index.name.into(), partition, sort_key, query: digest, from: window.start, to: window.end }.encode())
            }
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }
}
