//! Analytics rollups: pre-aggregated counters per tenant or agent, per UTC
//! hour and per UTC day, kept in the same DynamoDB transaction as the call
//! write that changes them. A window's figures then come from a handful of
//! rollup items, whatever the number of calls in it.
//!
//! - Scope: each call counts in its agent's rollups and in the tenant's
//!   (`*`), so "all agents" is one read, not one per agent; and in each of
//!   those again for its call type alone (`front@INBOUND`, `*@INBOUND`), so a
//!   call type or a direction is read from rollups too (outbound is every
//!   call less the inbound ones).
//! - Grains: hours (the counters, and the hour's calls by quarter hour),
//!   days (the counters) and day profiles (the day's calls by quarter hour,
//!   [`callops_domain::analytics::profile`]): twelve items a call.
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
//! - Keys: hours are partitioned by month, days and profiles by year:
//!   `ORG#<org>#ROLLUP#<scope>#H#<yyyy-mm>` / `<yyyy-mm-ddThh>#<shard>`,
//!   `ORG#<org>#ROLLUP#<scope>#D#<yyyy>` / `<yyyy-mm-dd>#<shard>` and
//!   `ORG#<org>#ROLLUP#<scope>#W#<yyyy>` / `<yyyy-mm-dd>#<shard>`.
//! - Exactly once: the call item is written on the condition of its revision
//!   (or its absence), and the rollup change is the difference between the
//!   call's old and new contribution, in the same transaction. A retried or
//!   duplicated write either fails its condition or adds nothing.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{AttributeValue, Update};
use callops_domain::{
    CallLog, CallType,
    analytics::{CallFacts, Tally, TallyOverflow, day_key, hour_key},
    time::Span,
};
use chrono::{Datelike, Duration};

use crate::{
    item::*,
    table::{PK, SK},
};

/// Items per rollup.
pub const SHARDS: u32 = 8;
/// The scope that counts every agent of a tenant.
pub const ALL_AGENTS: &str = "*";
pub(crate) const ROLLUP_KIND: &str = "rollup";

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

/// The scope of an agent's calls (or, `ALL_AGENTS`, the tenant's), of every
/// call type or (`call_type`) of one: `front`, `*`, `front@INBOUND`, `*@OUTBOUND_DEBT`.
pub fn scope(agent: &str, call_type: Option<CallType>) -> String {
    match call_type {
        None => agent.to_string(),
        Some(call_type) => format!("{agent}@{call_type}"),
    }
}

/// The partition of a scope's hour rollups in one month (`yyyy-mm`).
pub(crate) fn hour_pk(org_id: &str, scope: &str, month: &str) -> String {
    format!("ORG#{org_id}#ROLLUP#{scope}#H#{month}")
}

/// The partition of a scope's day rollups in one year (`yyyy`).
pub(crate) fn day_pk(org_id: &str, scope: &str, year: &str) -> String {
    format!("ORG#{org_id}#ROLLUP#{scope}#D#{year}")
}

/// The partition of a scope's day profiles (calls by quarter hour) in one year (`yyyy`).
pub(crate) fn profile_pk(org_id: &str, scope: &str, year: &str) -> String {
    format!("ORG#{org_id}#ROLLUP#{scope}#W#{year}")
}

/// The rollup items a call counts in, and what it adds to each: its hour
/// (the dashboard's counters and the hour's quarters), its day (the
/// counters) and its day's profile (the day's quarters), for its agent and
/// the tenant, of every call type and of its own. None for a call that
/// never started.
pub fn rollup_contributions(call: &CallLog) -> Vec<(RollupKey, Tally)> {
    let Some(started) = call.call_started_at else { return Vec::new() };
    let facts = CallFacts::from(call);
    let counters = Tally::of_facts(&facts);
    let mut hour = counters.clone();
    // A call's own counters and its quarter's have different names: nothing to overflow.
    let _ = hour.add(&Tally::hour_profile_of(&facts));
    let profile = Tally::day_profile_of(&facts);
    let shard = shard_of(call);
    let (month, year) = (started.format("%Y-%m").to_string(), started.format("%Y").to_string());
    let (hour_sk, day_sk) = (format!("{}#{shard}", hour_key(&started)), format!("{}#{shard}", day_key(&started)));
    let mut out = Vec::with_capacity(12);
    for agent in [call.voice_agent_id.as_str(), ALL_AGENTS] {
        for call_type in [None, Some(call.call_type)] {
            let scope = scope(agent, call_type);
            out.push((RollupKey { pk: hour_pk(&call.org_id, &scope, &month), sk: hour_sk.clone() }, hour.clone()));
            out.push((RollupKey { pk: day_pk(&call.org_id, &scope, &year), sk: day_sk.clone() }, counters.clone()));
            out.push((RollupKey { pk: profile_pk(&call.org_id, &scope, &year), sk: day_sk.clone() }, profile.clone()));
        }
    }
    out
}

/// What a change from `previous` to `next` must add to each rollup item:
/// the old contribution out, the new one in, nothing where they cancel.
pub fn rollup_deltas(previous: Option<&CallLog>, next: &CallLog) -> Result<BTreeMap<RollupKey, Tally>, TallyOverflow> {
    // A new call's contributions are its deltas (each key once).
    let Some(previous) = previous else { return Ok(rollup_contributions(next).into_iter().filter(|(_, tally)| !tally.is_zero()).collect()) };
    let mut deltas: BTreeMap<RollupKey, Tally> = BTreeMap::new();
    for (key, old) in rollup_contributions(previous) {
        deltas.entry(key).or_default().add(&Tally::default().minus(&old)?)?;
    }
    add_expected(&mut deltas, next)?;
    deltas.retain(|_, delta| !delta.is_zero());
    Ok(deltas)
}

/// Every rollup item the given calls add up to.
pub fn expected_rollups<'a>(calls: impl IntoIterator<Item = &'a CallLog>) -> Result<BTreeMap<RollupKey, Tally>, TallyOverflow> {
    let mut rollups: BTreeMap<RollupKey, Tally> = BTreeMap::new();
    for call in calls {
        add_expected(&mut rollups, call)?;
    }
    Ok(rollups)
}

/// Adds what `call` contributes to each of its rollup items to `rollups`.
pub fn add_expected(rollups: &mut BTreeMap<RollupKey, Tally>, call: &CallLog) -> Result<(), TallyOverflow> {
    for (key, tally) in rollup_contributions(call) {
        rollups.entry(key).or_default().add(&tally)?;
    }
    Ok(())
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
pub(crate) fn months_of(span: Span) -> Vec<String> {
    let last = span.end.checked_sub_signed(Duration::milliseconds(1)).unwrap_or(span.end);
    let (mut year, mut month) = (span.start.year(), span.start.month());
    let mut out = Vec::new();
    while (year, month) <= (last.year(), last.month()) {
        out.push(format!("{year:04}-{month:02}"));
        (year, month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn call(id: &str, imported: bool) -> CallLog {
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
    pub(crate) fn live_calls_spread_over_the_shards_and_imported_history_keeps_to_one() {
        assert_eq!(shard_of(&call("call-1", false)), shard_of(&call("call-1", false)));
        let used: std::collections::BTreeSet<u32> = (0..200).map(|i| shard_of(&call(&format!("call-{i}"), false))).collect();
        assert_eq!(used.len(), SHARDS as usize);
        let imported: std::collections::BTreeSet<u32> = (0..200).map(|i| shard_of(&call(&format!("call-{i}"), true))).collect();
        assert_eq!(imported, [0].into());
    }

    #[test]
    pub(crate) fn windows_touch_the_right_partitions() {
        let at = |t: &str| callops_domain::time::parse(t).unwrap();
        let months = months_of((at("2023-12-20T00:00:00Z"), at("2024-03-01T00:00:00Z")).into());
        assert_eq!(months, vec!["2023-12", "2024-01", "2024-02"], "March starts at the exclusive end");
    }
}
