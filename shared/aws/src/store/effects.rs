//! What a call write brings with it, in its own transaction: the writes a
//! use case asks for ([`AlongWithCall`]) and those every call write makes
//! ([`effects`], the one pure list of them).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use callops_domain::{
    CallLog, DomainError,
    analytics::{Tally, TallyOverflow},
    error::Conflict,
    placement::frequency::Ledger,
    time,
};

use super::{DynamoStore, call_item::call_item, ledgers::LedgerNotes};
use crate::{
    item::*,
    keys,
    rollup::{self, RollupKey},
    table::{PK, SK},
};

/// A write that must happen exactly when a call write happens, in its transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum AlongWithCall {
    /// Put a number on the call's tenant's do-not-call list; `source` says how the callee asked (`asked during a call`, `keypress`).
    DoNotCall { number: String, reason: String, source: &'static str },
    /// Remember, beside a new call, the fingerprint of the request that
    /// created it under an `Idempotency-Key`.
    IdempotencyKey { fingerprint: String },
    /// Take one of the call's agent's concurrent-call slots, if fewer than
    /// `max` are taken; otherwise the write fails with `no_free_slot`. (A
    /// slot is given back by the write that ends the call or puts it back in
    /// the queue, whoever makes it.)
    TakeSlot { max: u32 },
    /// Take a place among the practice's outbound calls under way (all its
    /// agents together), if fewer than `max` are taken; otherwise the write
    /// fails with [`Conflict::ConcurrencyReserved`]. Given back by the write
    /// that ends the call, as its agent's slot is, when its compliance
    /// record says it took one (`outboundRoom`).
    TakeRoom { max: u32 },
    /// Store a new call that must exist exactly when this write happens (a
    /// retry, a follow-up call), unless it exists already.
    NewCall(Box<CallLog>),
    /// Write the call's number's ledger with this attempt in it, on the
    /// revision it was read at; otherwise the write fails with
    /// [`Conflict::AttemptsChanged`].
    RecordAttempt(Box<Ledger>),
    /// Write the ledger of the call's debt with this attempt in it, on the
    /// revision it was read at; otherwise the write fails with
    /// [`Conflict::AttemptsChanged`].
    RecordDebtAttempt(Box<Ledger>),
    /// Note in the call's number's ledger (`of_debt`: in its debt's own
    /// ledger) a conversation about a debt and the times the callee said are
    /// inconvenient: one update a ledger, since a transaction touches an item once.
    LedgerNotes { of_debt: bool, notes: LedgerNotes },
    /// Append the audit entry of the change this write makes.
    Audit(Box<callops_domain::records::audit::AuditEntry>),
    /// Hold the write to the call's campaign being active at that moment;
    /// otherwise it fails with [`Conflict::CampaignNotActive`] (a pause,
    /// end or cancel committed first, and the claim places nothing).
    CampaignActive { campaign_id: String },
}

impl AlongWithCall {
    /// Adds `notes` to the ledger notes `also` holds for the same ledger, or holds them anew.
    pub fn add_ledger_notes(also: &mut Vec<AlongWithCall>, of_debt: bool, notes: LedgerNotes) {
        for write in also.iter_mut() {
            if let AlongWithCall::LedgerNotes { of_debt: same, notes: held } = write
                && *same == of_debt
            {
                held.conversation = held.conversation.take().or(notes.conversation);
                held.inconvenient.extend(notes.inconvenient);
                return;
            }
        }
        also.push(AlongWithCall::LedgerNotes { of_debt, notes });
    }
}

/// The debt a write about a debt's ledger names: the call's.
fn debt_of(call: &CallLog) -> Result<&str, DomainError> {
    call.debt_id.as_deref().ok_or_else(|| DomainError::Unavailable(format!("call {} names no debt to keep a ledger of", call.id)))
}

/// One thing a call write does besides writing the call item.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect<'a> {
    /// Claim the call's Vapi call id (set for the first time) with a pointer item.
    ClaimVapiCallId,
    /// A write the caller asked for.
    Along(&'a AlongWithCall),
    /// Give back the agent's dialer slot the call held.
    ReleaseSlot,
    /// Give back the place among the practice's outbound calls the call held.
    ReleaseRoom,
    /// Move one analytics rollup by the call's change of contribution.
    Rollup(RollupKey, Tally),
    /// Forget the planned read for the output the call awaited (its key).
    UnwatchOutput(String, String),
    /// Plan the read for the output the call awaits ([`keys::output_watch_of`]).
    WatchOutput,
    /// Forget the planned attempt the call was while it waited (its key).
    Unplan(String, String),
    /// Keep the call, waiting, as a planned attempt at its number ([`keys::planned_attempt_of`]).
    Plan,
    /// Keep a call stored with this write (a retry, a follow-up) as a planned attempt.
    PlanNew(&'a CallLog),
    /// Keep a do-not-call request made during the call in the number's history (number, reason).
    LogDoNotCall(&'a str, &'a str, &'static str),
    /// Forget a mark the call kept while it was a missed call waiting to be returned (its key).
    Unmark(String, String),
    /// Keep a mark of the call as a missed call waiting to be returned ([`keys::missed_marks_of`]).
    Mark(String, String),
}

/// Everything that changes when a call goes from `previous` (`None`: it is
/// new) to `next` with `also` asked for, in the order the transaction
/// writes it. The one list of a call write's side effects.
pub fn effects<'a>(previous: Option<&CallLog>, next: &CallLog, also: &'a [AlongWithCall]) -> Result<Vec<Effect<'a>>, TallyOverflow> {
    let mut effects = Vec::new();
    if next.vapi_call_id.is_some() && previous.is_none_or(|p| p.vapi_call_id != next.vapi_call_id) {
        effects.push(Effect::ClaimVapiCallId);
    }
    effects.extend(also.iter().map(Effect::Along));
    for write in also {
        if let AlongWithCall::DoNotCall { number, reason, source } = write {
            effects.push(Effect::LogDoNotCall(number, reason, source));
        }
    }
    if previous.is_some_and(CallLog::holds_dialer_slot) && !next.holds_dialer_slot() {
        effects.push(Effect::ReleaseSlot);
        if previous.and_then(|p| p.compliance.as_ref()).is_some_and(|c| c.outbound_room.is_some()) {
            effects.push(Effect::ReleaseRoom);
        }
    }
    for (key, delta) in rollup::rollup_deltas(previous, next)? {
        effects.push(Effect::Rollup(key, delta));
    }
    let (watched, watch) = (previous.and_then(keys::output_watch_of), keys::output_watch_of(next));
    if watched != watch {
        effects.extend(watched.map(|(pk, sk)| Effect::UnwatchOutput(pk, sk)));
        effects.extend(watch.map(|_| Effect::WatchOutput));
    }
    let (planned, plan) = (previous.and_then(keys::planned_attempt_of), keys::planned_attempt_of(next));
    if planned != plan {
        effects.extend(planned.map(|(pk, sk)| Effect::Unplan(pk, sk)));
        effects.extend(plan.map(|_| Effect::Plan));
    }
    for write in also {
        if let AlongWithCall::NewCall(new) = write
            && keys::planned_attempt_of(new).is_some()
        {
            effects.push(Effect::PlanNew(new));
        }
    }
    let (marked, marks) = (previous.map(keys::missed_marks_of).unwrap_or_default(), keys::missed_marks_of(next));
    effects.extend(marked.iter().filter(|mark| !marks.contains(mark)).map(|(pk, sk)| Effect::Unmark(pk.clone(), sk.clone())));
    effects.extend(marks.iter().filter(|mark| !marked.contains(mark)).map(|(pk, sk)| Effect::Mark(pk.clone(), sk.clone())));
    Ok(effects)
}

impl DynamoStore {
    /// The one transaction that writes a call item (`put_call`, first, so
    /// its condition is the first) and its [`effects`]. The store sends it
    /// with [`Self::transact`].
    pub(crate) fn call_transaction(
        &self,
        previous: Option<&CallLog>,
        next: &CallLog,
        put_call: Put,
        also: &[AlongWithCall],
    ) -> Result<Vec<TransactWriteItem>, DomainError> {
        Ok(self.call_transaction_coded(previous, next, put_call, also, &[])?.into_iter().map(|(item, _)| item).collect())
    }

    /// [`Self::call_transaction`], each element with the conflict code its
    /// condition failing means (the slot's, the ledger's), where it has one;
    /// with it, the missed calls the write returns ([`super::missed`]), each
    /// on its revision. A transaction may touch an item once, so the rollup
    /// changes of every call in it are added up, one update an item, last.
    pub(crate) fn call_transaction_coded(
        &self,
        previous: Option<&CallLog>,
        next: &CallLog,
        put_call: Put,
        also: &[AlongWithCall],
        returns: &[super::missed::Return],
    ) -> Result<Vec<(TransactWriteItem, Option<Conflict>)>, DomainError> {
        let mut items = vec![(TransactWriteItem::builder().put(put_call).build(), None)];
        let mut rollups: std::collections::BTreeMap<RollupKey, Tally> = std::collections::BTreeMap::new();
        let mut rollup = |key: RollupKey, delta: Tally| -> Result<(), DomainError> { Ok(rollups.entry(key).or_default().add(&delta)?) };
        for effect in effects(previous, next, also)? {
            let code = match effect {
                Effect::Along(AlongWithCall::TakeSlot { .. }) => Some(Conflict::NoFreeSlot),
                Effect::Along(AlongWithCall::TakeRoom { .. }) => Some(Conflict::ConcurrencyReserved),
                Effect::Along(AlongWithCall::RecordAttempt(_) | AlongWithCall::RecordDebtAttempt(_)) => Some(Conflict::AttemptsChanged),
                Effect::Along(AlongWithCall::CampaignActive { .. }) => Some(Conflict::CampaignNotActive),
                Effect::Rollup(key, delta) => {
                    rollup(key, delta)?;
                    continue;
                }
                _ => None,
            };
            let item = self.effect_item(next, effect)?;
            items.extend(item.map(|item| (item, code)));
        }
        for (stored, returned) in returns {
            let put = self.put(call_item(returned, stored.revision + 1)?, "#rev = :rev", Some(stored.revision));
            items.push((TransactWriteItem::builder().put(put).build(), None));
            for effect in effects(Some(&stored.call), returned, &[])? {
                match effect {
                    Effect::Rollup(key, delta) => rollup(key, delta)?,
                    other => items.extend(self.effect_item(returned, other)?.map(|item| (item, None))),
                }
            }
        }
        for (key, delta) in rollups.iter().filter(|(_, delta)| !delta.is_zero()) {
            items.push((TransactWriteItem::builder().update(rollup::rollup_update(&self.table, key, delta)).build(), None));
        }
        Ok(items)
    }

    /// The transaction element that carries out one of `next`'s [`effects`], where it has one.
    pub(crate) fn effect_item(&self, next: &CallLog, effect: Effect) -> Result<Option<TransactWriteItem>, DomainError> {
        Ok(match effect {
            Effect::ClaimVapiCallId => self.vapi_pointer(next).map(|p| TransactWriteItem::builder().put(p).build()),
            Effect::Along(write) => Some(self.along_with(next, write)?),
            Effect::ReleaseSlot => Some(TransactWriteItem::builder().update(self.slot_release(next)).build()),
            Effect::ReleaseRoom => Some(TransactWriteItem::builder().update(self.counter_release(&next.org_id, keys::ROOM_SK)).build()),
            Effect::Rollup(key, delta) => Some(TransactWriteItem::builder().update(rollup::rollup_update(&self.table, &key, &delta)).build()),
            Effect::UnwatchOutput(pk, sk) => Some(TransactWriteItem::builder().delete(self.output_unwatch(pk, sk)).build()),
            Effect::WatchOutput => self.output_watch(next).map(|put| TransactWriteItem::builder().put(put).build()),
            Effect::Unplan(pk, sk) => Some(TransactWriteItem::builder().delete(self.planned_delete(pk, sk)).build()),
            Effect::Plan => self.planned_put(next)?.map(|put| TransactWriteItem::builder().put(put).build()),
            Effect::PlanNew(new) => self.planned_put(new)?.map(|put| TransactWriteItem::builder().put(put).build()),
            Effect::Mark(pk, sk) => Some(TransactWriteItem::builder().put(self.missed_mark(next, pk, sk)).build()),
            Effect::Unmark(pk, sk) => Some(TransactWriteItem::builder().delete(self.missed_unmark(pk, sk)).build()),
            Effect::LogDoNotCall(number, reason, source) => {
                let change = super::do_not_call::DoNotCallChange {
                    at: next.updated_at,
                    action: "added".into(),
                    channel: Some(callops_domain::consent::Channel::Call),
                    source: Some(source.to_string()),
                    reason: Some(reason.to_string()),
                    by: callops_domain::caller::Actor::system("webhook"),
                };
                Some(self.history_put(&next.org_id, number, &change)?)
            }
        })
    }

    /// The transaction element for a write that goes with a call's.
    pub(crate) fn along_with(&self, call: &CallLog, write: &AlongWithCall) -> Result<TransactWriteItem, DomainError> {
        let at = call.updated_at;
        Ok(match write {
            // The first time and reason a number was added stay.
            AlongWithCall::DoNotCall { number, reason, .. } => {
                super::do_not_call::check_entry(number, Some(reason))?;
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
            AlongWithCall::TakeSlot { max } => {
                TransactWriteItem::builder().update(self.counter_take(&call.org_id, &keys::slots_sk(&call.voice_agent_id), *max)).build()
            }
            AlongWithCall::TakeRoom { max } => TransactWriteItem::builder().update(self.counter_take(&call.org_id, keys::ROOM_SK, *max)).build(),
            AlongWithCall::NewCall(new) => TransactWriteItem::builder().put(self.put(call_item(new, 1)?, "attribute_not_exists(PK)", None)).build(),
            AlongWithCall::RecordAttempt(ledger) => TransactWriteItem::builder().update(self.ledger_write(&call.org_id, &call.phone_number, ledger)?).build(),
            AlongWithCall::RecordDebtAttempt(ledger) => {
                TransactWriteItem::builder().update(self.debt_ledger_write(&call.org_id, debt_of(call)?, ledger)?).build()
            }
            AlongWithCall::LedgerNotes { of_debt, notes } => {
                let pk = match of_debt {
                    true => keys::debt_ledger_pk(&call.org_id, debt_of(call)?),
                    false => keys::ledger_pk(&call.org_id, &call.phone_number),
                };
                TransactWriteItem::builder().update(self.ledger_notes(pk, notes)?).build()
            }
            AlongWithCall::Audit(entry) => self.audit_put(entry)?,
            AlongWithCall::CampaignActive { campaign_id } => {
                let [active, stored_before] = callops_domain::campaign::CampaignStatus::Active.stored_names();
                TransactWriteItem::builder()
                    .condition_check(
                        aws_sdk_dynamodb::types::ConditionCheck::builder()
                            .table_name(&self.table)
                            .key(PK, s(keys::campaigns_pk(&call.org_id)))
                            .key(SK, s(keys::campaign_sk(campaign_id)))
                            .condition_expression("#status IN (:active, :stored_before)")
                            .expression_attribute_names("#status", "status")
                            .expression_attribute_values(":active", s(active))
                            .expression_attribute_values(":stored_before", s(stored_before))
                            .build()
                            .expect("table, key and condition are set"),
                    )
                    .build()
            }
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

    /// Takes one of a counter of calls under way beside the tenant's agents (an agent's slots, the tenant's outbound room), if fewer than `max` are taken.
    fn counter_take(&self, org_id: &str, sk: &str, max: u32) -> Update {
        Update::builder()
            .table_name(&self.table)
            .key(PK, s(keys::agents_pk(org_id)))
            .key(SK, s(sk))
            .update_expression("SET #inUse = if_not_exists(#inUse, :zero) + :one, #kind = :kind")
            .condition_expression("attribute_not_exists(#inUse) OR #inUse < :max")
            .expression_attribute_names("#inUse", "inUse")
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(max))
            .expression_attribute_values(":kind", s("slots"))
            .build()
            .expect("table, key and expression are set")
    }

    /// Gives back the slot a call held.
    pub(crate) fn slot_release(&self, call: &CallLog) -> Update {
        self.counter_release(&call.org_id, &keys::slots_sk(&call.voice_agent_id))
    }

    /// Gives back one of a counter of calls under way.
    pub(crate) fn counter_release(&self, org_id: &str, sk: &str) -> Update {
        Update::builder()
            .table_name(&self.table)
            .key(PK, s(keys::agents_pk(org_id)))
            .key(SK, s(sk))
            .update_expression("ADD #inUse :minus_one SET #kind = :kind")
            .expression_attribute_names("#inUse", "inUse")
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_values(":minus_one", n(-1))
            .expression_attribute_values(":kind", s("slots"))
            .build()
            .expect("table, key and expression are set")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callops_domain::{CallStatus, CallType, NewCall, time};

    #[test]
    fn a_write_lists_every_effect_it_has() {
        let now = time::parse("2024-07-27T21:00:00Z").unwrap();
        let new = NewCall {
            org_id: "o".into(),
            voice_agent_id: "a".into(),
            phone_number: "+12125550142".into(),
            call_type: CallType::OutboundLead,
            status: CallStatus::Scheduled,
            attempt: 1,
        };
        let mut waiting = CallLog::new(new, "c".into(), now);
        waiting.scheduled_at = Some(now);
        assert_eq!(effects(None, &waiting, &[]).unwrap(), vec![Effect::Plan], "a waiting call counts in no rollup and holds nothing: it is a planned attempt");
        let (pk, sk) = keys::planned_attempt_of(&waiting).unwrap();
        assert_eq!((pk.as_str(), sk.as_str()), ("ORG#o#NUMBER#+12125550142", "PLANNED#2024-07-27T21:00:00.000Z#c"));
        let moved = waiting.requeue(now + chrono::Duration::hours(1), now).unwrap();
        let (_, moved_sk) = keys::planned_attempt_of(&moved).unwrap();
        assert_eq!(effects(Some(&waiting), &moved, &[]).unwrap(), vec![Effect::Unplan(pk.clone(), sk.clone()), Effect::Plan], "a move replaces it");
        assert_ne!(moved_sk, sk);
        let claimed = waiting.claim(now).unwrap();
        let take = [AlongWithCall::TakeSlot { max: 2 }];
        assert_eq!(effects(Some(&waiting), &claimed, &take).unwrap(), vec![Effect::Along(&take[0]), Effect::Unplan(pk, sk)], "claimed, it is planned no more");
        let placed = claimed.placed("v1", now, None, now).unwrap();
        let on_placing = effects(Some(&claimed), &placed, &[]).unwrap();
        assert_eq!(on_placing[0], Effect::ClaimVapiCallId, "the Vapi id is claimed the first time it is set");
        assert!(!on_placing.contains(&Effect::ReleaseSlot));
        let failed = placed.fail(callops_domain::call::lifecycle::EndedReason::ProviderCallNotFound, now).unwrap();
        let on_ending = effects(Some(&placed), &failed, &[]).unwrap();
        assert!(on_ending.contains(&Effect::ReleaseSlot), "the write that ends the call gives its slot back");
        assert!(on_ending.iter().any(|e| matches!(e, Effect::Rollup(..))), "and moves the rollups");
        assert!(!on_ending.contains(&Effect::ClaimVapiCallId));
        let retry = callops_domain::ending::follow_through::retry_call(&failed, 2, now + chrono::Duration::hours(1), now);
        let with_retry = [AlongWithCall::NewCall(Box::new(retry.clone()))];
        let on_retrying = effects(Some(&placed), &failed, &with_retry).unwrap();
        assert_eq!(on_retrying.last(), Some(&Effect::PlanNew(&retry)), "a retry stored with the ending is planned with it");
    }
}
