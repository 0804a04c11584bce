//! Item keys. Every partition key starts with the tenant (`ORG#<orgId>`), so a
//! query built for one practice can only ever read that practice's items, and
//! no partition, in the table or an index, is shared by all tenants, but
//! one: the directory of tenant ids ([`TENANTS_PK`]) the reconciler walks.

use callops_domain::{CallLog, CallStatus, time};

use crate::table::{self, Index};

pub const CALL_SK: &str = "CALL";
pub const VAPI_CALL_SK: &str = "VAPI_CALL";
pub const AGENT_SK_PREFIX: &str = "AGENT#";
pub const CAMPAIGN_SK_PREFIX: &str = "CAMPAIGN#";
/// The directory of tenants with a voice agent: the one partition not
/// under a tenant, read only by the reconciler to know whose calls to check.
pub const TENANTS_PK: &str = "TENANTS";
/// Beside a call created under an `Idempotency-Key`, in the call's partition.
pub const IDEMPOTENCY_SK: &str = "IDEMPOTENCY";

fn org(org_id: &str) -> String {
    format!("ORG#{org_id}")
}

/// The prefix of every partition of a tenant's.
pub fn org_prefix(org_id: &str) -> String {
    org(org_id)
}

/// The call's own partition: one call per partition spreads writes evenly.
pub fn call_pk(org_id: &str, call_id: &str) -> String {
    format!("{}#CALL#{call_id}", org(org_id))
}

/// The pointer from a Vapi call id to our call, unique per tenant.
pub fn vapi_call_pk(org_id: &str, vapi_call_id: &str) -> String {
    format!("{}#VAPI#{vapi_call_id}", org(org_id))
}

/// The reads planned for structured outputs that calls still await:
/// one item per call, sorted by when it is due ([`output_watch_sk`]).
pub fn output_watch_pk(org_id: &str) -> String {
    format!("{}#OUTPUTS", org(org_id))
}

/// When the read is due, then the call: due ones sort first.
pub fn output_watch_sk(due: &chrono::DateTime<chrono::Utc>, call_id: &str) -> String {
    format!("{}#{call_id}", time::format(due))
}

/// The watch item a call's awaited output keeps, if it awaits one.
pub fn output_watch_of(call: &CallLog) -> Option<(String, String)> {
    call.awaiting_output.as_ref().map(|awaited| (output_watch_pk(&call.org_id), output_watch_sk(&awaited.next_read_at, &call.id)))
}

/// The ledger of attempts to one number of a tenant.
pub fn ledger_pk(org_id: &str, number: &str) -> String {
    format!("{}#NUMBER#{number}", org(org_id))
}

/// A number's do-not-call registry marks and its business relationship, in one partition read by one query.
pub fn registry_pk(org_id: &str, number: &str) -> String {
    format!("{}#DNCREG#{number}", org(org_id))
}

/// The partition of the ledger of one debt of a tenant's (every number's attempts about it).
pub fn debt_ledger_pk(org_id: &str, debt_id: &str) -> String {
    format!("{}#DEBT#{debt_id}", org(org_id))
}

/// The prefix of the planned attempts kept beside a number's ledger.
pub const PLANNED_PREFIX: &str = "PLANNED#";

/// Where a call waiting for its number is kept as a planned attempt, if it
/// is one (an outbound call waiting with a time): beside the number's
/// ledger, sorted by its time.
pub fn planned_attempt_of(call: &CallLog) -> Option<(String, String)> {
    let at = call.scheduled_at.filter(|_| call.status == callops_domain::CallStatus::Scheduled && call.call_type.is_outbound())?;
    Some((ledger_pk(&call.org_id, &call.phone_number), format!("{PLANNED_PREFIX}{}#{}", time::format(&at), call.id)))
}

/// A tenant's missed calls that wait to be returned, by when they started:
/// the worklist ([`callops_domain::analytics::missed`]).
pub fn missed_pk(org_id: &str) -> String {
    format!("{}#MISSED", org(org_id))
}

/// The prefix of the marks of missed calls kept beside a number's ledger.
pub const MISSED_PREFIX: &str = "MISSED#";

/// The marks a missed call keeps while it waits to be returned: one in the
/// tenant's worklist, sorted by its start, and one at its number, which
/// the write of a later connected call with the number reads to return it
/// (only for a number that can be returned: [`callops_domain::analytics::missed::returnable`]).
pub fn missed_marks_of(call: &CallLog) -> Vec<(String, String)> {
    let started = call.call_started_at.filter(|_| callops_domain::analytics::missed::awaits_return(call));
    started
        .map(|at| {
            let sk = index_sk(&at, &call.id);
            let at_number = callops_domain::analytics::missed::returnable(&call.phone_number)
                .then(|| (ledger_pk(&call.org_id, &call.phone_number), format!("{MISSED_PREFIX}{sk}")));
            std::iter::once((missed_pk(&call.org_id), sk)).chain(at_number).collect()
        })
        .unwrap_or_default()
}

/// The pointer from a consent's id to its number (the consent lives in the number's partition).
pub fn consent_pk(org_id: &str, id: &str) -> String {
    format!("{}#CONSENT#{id}", org(org_id))
}

/// A tenant's audit log: one item per entry, sorted by time then id.
/// The partition of the head of a tenant's audit chain (its last entry's place and hash).
pub fn audit_head_pk(org_id: &str) -> String {
    format!("{}#AUDITHEAD", org(org_id))
}

pub fn audit_pk(org_id: &str) -> String {
    format!("{}#AUDIT", org(org_id))
}

/// A tenant's settings (holidays, its own attempt cap).
pub fn settings_pk(org_id: &str) -> String {
    format!("{}#SETTINGS", org(org_id))
}

/// All of a tenant's voice agents live in one small partition.
pub fn agents_pk(org_id: &str) -> String {
    format!("{}#AGENTS", org(org_id))
}

/// A tenant's do-not-call list: one item per number.
/// The history of one number's do-not-call state (adds and removals), oldest first.
pub fn do_not_call_history_pk(org_id: &str, number: &str) -> String {
    format!("{}#DNCLOG#{number}", org(org_id))
}

pub fn do_not_call_pk(org_id: &str) -> String {
    format!("{}#DNC", org(org_id))
}

/// All of a tenant's campaigns live in one partition, listed by one query.
pub fn campaigns_pk(org_id: &str) -> String {
    format!("{}#CAMPAIGNS", org(org_id))
}

pub fn campaign_sk(campaign_id: &str) -> String {
    format!("{CAMPAIGN_SK_PREFIX}{campaign_id}")
}

/// What erased numbers keep, each under its pseudonym: that it stays on
/// the do-not-call list, and its last opt-out.
pub fn erased_pk(org_id: &str) -> String {
    format!("{}#ERASED", org(org_id))
}

/// A small operator record of the tenant's (a migration's checkpoint).
pub fn marker_pk(org_id: &str, name: &str) -> String {
    format!("{}#{name}", org(org_id))
}

/// Beside the agents: how many of an agent's concurrent-call slots are taken.
pub fn slots_sk(agent_id: &str) -> String {
    format!("SLOTS#{agent_id}")
}

/// Beside the agents' slots: the practice's outbound calls under way, across every agent.
pub const ROOM_SK: &str = "ROOM";

pub fn agent_sk(agent_id: &str) -> String {
    format!("{AGENT_SK_PREFIX}{agent_id}")
}

/// The partition key value a call has in `index`, for the query side.
pub fn index_pk(index: Index, org_id: &str, value: &str) -> String {
    match index.name {
        n if n == table::MISSED_WORKLIST.name => missed_pk(org_id),
        n if n == table::BY_ORG.name => org(org_id),
        n if n == table::BY_SCHEDULED_AT.name => format!("{}#SCHEDULED", org(org_id)),
        n if n == table::BY_AGENT.name => format!("{}#AGENT#{value}", org(org_id)),
        n if n == table::BY_TYPE.name => format!("{}#TYPE#{value}", org(org_id)),
        n if n == table::BY_OUTCOME.name => format!("{}#OUTCOME#{value}", org(org_id)),
        n if n == table::BY_STATUS.name => format!("{}#STATUS#{value}", org(org_id)),
        n if n == table::BY_CAMPAIGN.name => format!("{}#CAMPAIGN#{value}", org(org_id)),
        n if n == table::BY_NUMBER.name => format!("{}#NUMBER#{value}", org(org_id)),
        other => unreachable!("unknown index {other}"),
    }
}

/// An index sort key: a canonical timestamp, then the call id to keep it unique.
pub fn index_sk(at: &chrono::DateTime<chrono::Utc>, call_id: &str) -> String {
    format!("{}#{call_id}", time::format(at))
}

/// Splits an index sort key back into its timestamp text and call id.
pub fn split_index_sk(sk: &str) -> Option<(&str, &str)> {
    let (at, id) = sk.split_once('#')?;
    (time::parse(at).is_some() && !id.is_empty()).then_some((at, id))
}

/// Every index entry a call has: `(index, partition value, sort value)`.
/// Sparse indexes get no entry when the call lacks what they sort or group by.
pub fn index_entries(call: &CallLog) -> Vec<(Index, String, String)> {
    let org_id = call.org_id.as_str();
    let mut entries = Vec::with_capacity(table::INDEXES.len());
    let started_or_created = call.call_started_at.unwrap_or(call.created_at);

    if let Some(started) = &call.call_started_at {
        let sk = index_sk(started, &call.id);
        entries.push((table::BY_AGENT, index_pk(table::BY_AGENT, org_id, &call.voice_agent_id), sk.clone()));
        entries.push((table::BY_ORG, index_pk(table::BY_ORG, org_id, ""), sk));
    }
    entries.push((table::BY_TYPE, index_pk(table::BY_TYPE, org_id, call.call_type.as_str()), index_sk(&started_or_created, &call.id)));
    if let Some(outcome) = call.outcome {
        entries.push((table::BY_OUTCOME, index_pk(table::BY_OUTCOME, org_id, outcome.as_str()), index_sk(&started_or_created, &call.id)));
    }
    entries.push((table::BY_STATUS, index_pk(table::BY_STATUS, org_id, call.status.as_str()), index_sk(&call.updated_at, &call.id)));
    if let Some(campaign) = &call.campaign_id {
        let at = call.scheduled_at.unwrap_or(call.created_at);
        entries.push((table::BY_CAMPAIGN, index_pk(table::BY_CAMPAIGN, org_id, campaign), index_sk(&at, &call.id)));
    }
    if let (CallStatus::Scheduled, Some(at)) = (call.status, &call.scheduled_at) {
        entries.push((table::BY_SCHEDULED_AT, index_pk(table::BY_SCHEDULED_AT, org_id, ""), index_sk(at, &call.id)));
    }
    entries.push((table::BY_NUMBER, index_pk(table::BY_NUMBER, org_id, &call.phone_number), index_sk(&started_or_created, &call.id)));
    entries
}
