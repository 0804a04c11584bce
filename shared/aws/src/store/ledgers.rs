//! Each number's ledger of attempts ([`callops_domain::placement::frequency::Ledger`]):
//! one item per tenant and number, read consistently by the dialer before
//! it claims an attempt and written in the claim's own transaction on the
//! revision it read, so two claims racing for the last attempt a limit
//! allows cannot both land. It also keeps every place a call to the number
//! carried, and the number's latest opt-out or revocation.
//!
//! Each debt a collection call names has a ledger of its own
//! (`ORG#<org>#DEBT#<debtId>` / `ATTEMPTS`): the attempts about it and the
//! conversations about it, on every number, since Regulation F counts
//! calls to a person about a debt on any of their numbers. The claim writes
//! it beside the number's, on its own revision.
//!
//! Beside the ledger, in the same partition, each call waiting for the
//! number has a small item ([`keys::planned_attempt_of`]), put and removed
//! in the transaction of the call write that starts or ends the wait
//! ([`super::effects`]). Planning a call reads the partition at once
//! ([`LedgerStore::number_state`]): the attempts made and those to come, and the consents.
//! Two plans made at the same moment for one number can both pass; the
//! claim, which is exact, then moves the one over a limit.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, Update};
use callops_domain::{
    CallLog, DomainError,
    consent::Consent,
    placement::callee::Places,
    placement::clock::{InconvenientTime, MAX_INCONVENIENT_TIMES},
    placement::frequency::{Attempt, Conversation, Ledger},
    time,
};

use super::DynamoStore;
use crate::store::ErasureStore;
use crate::{
    item::*,
    keys,
    table::{PK, SK},
};

pub(crate) const LEDGER_SK: &str = "ATTEMPTS";
const PLANNED_KIND: &str = "plannedAttempt";
const ATTEMPTS: &str = "attempts";
const CONVERSATIONS: &str = "conversations";
const INCONVENIENT: &str = "inconvenient";
const PLACES: &str = "places";
pub(crate) const OPTED_OUT_AT: &str = "optedOutAt";
const REVISION: &str = "rev";

fn list<T: serde::Serialize>(values: &[T]) -> Result<AttributeValue, DomainError> {
    serde_dynamo::to_attribute_value(values).map_err(|e| DomainError::Unavailable(format!("a ledger does not serialise: {e}")))
}

/// What is on record for one number of a tenant ([`LedgerStore::number_state`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NumberState {
    pub ledger: Ledger,
    pub consents: Vec<Consent>,
}

/// A ledger item read back.
fn ledger_of(mut item: crate::item::Item) -> Result<Ledger, DomainError> {
    let unreadable = |e: serde_dynamo::Error| DomainError::Unavailable(format!("the ledger of a number is unreadable: {e}"));
    let attempts: Option<Vec<Attempt>> = item.remove(ATTEMPTS).map(serde_dynamo::from_attribute_value).transpose().map_err(unreadable)?;
    let conversations: Option<Vec<Conversation>> = item.remove(CONVERSATIONS).map(serde_dynamo::from_attribute_value).transpose().map_err(unreadable)?;
    let inconvenient: Option<Vec<InconvenientTime>> = item.remove(INCONVENIENT).map(serde_dynamo::from_attribute_value).transpose().map_err(unreadable)?;
    let places: Option<Places> = item.remove(PLACES).map(serde_dynamo::from_attribute_value).transpose().map_err(unreadable)?;
    let opted_out_at = match item.get(OPTED_OUT_AT) {
        Some(AttributeValue::S(text)) => time::parse(text),
        _ => None,
    };
    let revision = match item.get(REVISION) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    };
    // Each time once, the latest kept.
    let mut kept: Vec<InconvenientTime> = Vec::new();
    for time in inconvenient.unwrap_or_default().into_iter().rev() {
        if !kept.contains(&time) && kept.len() < MAX_INCONVENIENT_TIMES {
            kept.push(time);
        }
    }
    kept.reverse();
    Ok(Ledger {
        attempts: attempts.unwrap_or_default(),
        conversations: conversations.unwrap_or_default(),
        inconvenient: kept,
        places: places.unwrap_or_default(),
        opted_out_at,
        planned: Vec::new(),
        revision,
    })
}

/// The ledgers of attempts to a number and about a debt.
#[allow(async_fn_in_trait)] // Implemented by DynamoStore alone and called on it: its futures are known, and Send.
pub trait LedgerStore {
    /// The ledger of `number` for `org_id` (empty when no attempt was ever
    /// recorded), without the calls waiting for it: what the dialer's claim counts.
    async fn ledger(&self, org_id: &str, number: &str) -> Result<Ledger, DomainError>;

    /// What is on record for `number`, read consistently in one query of
    /// its partition: the ledger with the calls waiting for it as planned
    /// attempts ([`Ledger::planned`]: what a call being planned counts; the
    /// dialer's claim drops them) and its consents. An item that cannot be
    /// read is left out and said: a planned attempt or a consent fewer is
    /// the safe side of every rule but a limit, which the claim checks again.
    /// The last opt-out of a number whose records were erased is read
    /// beside it ([`super::erasure`]): an erasure never revives a consent.
    async fn number_state(&self, org_id: &str, number: &str) -> Result<NumberState, DomainError>;

    /// [`Self::number_state`] of one of many numbers, with the tenant's erased marks read once beforehand.
    async fn number_state_among(&self, org_id: &str, number: &str, erased: &super::ErasedMarks) -> Result<NumberState, DomainError>;

    /// The ledger of `debt_id` for `org_id`, across every number (empty when no attempt about it was recorded).
    async fn debt_ledger(&self, org_id: &str, debt_id: &str) -> Result<Ledger, DomainError>;

    /// The ledger of the debt a call of `call_type` is about: a collection
    /// call's that names one; `None` for any other call.
    async fn debt_ledger_of(&self, org_id: &str, call_type: callops_domain::CallType, debt_id: Option<&str>) -> Result<Option<Ledger>, DomainError>;

    /// Replaces the times the callee at `number` said are inconvenient (and
    /// moves the ledger's revision, so a claim decided without them is decided again).
    async fn set_inconvenient_times(
        &self,
        org_id: &str,
        number: &str,
        times: &[InconvenientTime],
        audit: &callops_domain::records::audit::AuditEntry,
    ) -> Result<(), DomainError>;
}

impl LedgerStore for DynamoStore {
    async fn ledger(&self, org_id: &str, number: &str) -> Result<Ledger, DomainError> {
        let item = self.get_item(keys::ledger_pk(org_id, number), LEDGER_SK).await?;
        item.map_or(Ok(Ledger::default()), ledger_of)
    }

    async fn number_state(&self, org_id: &str, number: &str) -> Result<NumberState, DomainError> {
        let (state, erased) = tokio::join!(self.number_state_as_kept(org_id, number), self.erased_mark(org_id, number));
        let mut state = state?;
        state.ledger.opted_out_at = state.ledger.opted_out_at.max(erased?.opted_out_at);
        Ok(state)
    }

    async fn number_state_among(&self, org_id: &str, number: &str, erased: &super::ErasedMarks) -> Result<NumberState, DomainError> {
        let mut state = self.number_state_as_kept(org_id, number).await?;
        state.ledger.opted_out_at = state.ledger.opted_out_at.max(erased.of(self, number).opted_out_at);
        Ok(state)
    }

    async fn debt_ledger(&self, org_id: &str, debt_id: &str) -> Result<Ledger, DomainError> {
        let item = self.get_item(keys::debt_ledger_pk(org_id, debt_id), LEDGER_SK).await?;
        item.map_or(Ok(Ledger::default()), ledger_of)
    }

    async fn debt_ledger_of(&self, org_id: &str, call_type: callops_domain::CallType, debt_id: Option<&str>) -> Result<Option<Ledger>, DomainError> {
        match (call_type, debt_id) {
            (callops_domain::CallType::OutboundDebt, Some(debt_id)) => Ok(Some(self.debt_ledger(org_id, debt_id).await?)),
            _ => Ok(None),
        }
    }

    async fn set_inconvenient_times(
        &self,
        org_id: &str,
        number: &str,
        times: &[InconvenientTime],
        audit: &callops_domain::records::audit::AuditEntry,
    ) -> Result<(), DomainError> {
        let update = self.ledger_set(org_id, number, INCONVENIENT, list(times)?);
        self.transact_audited(vec![aws_sdk_dynamodb::types::TransactWriteItem::builder().update(update).build()], audit).await.map_err(unavailable)?;
        Ok(())
    }
}

impl DynamoStore {
    /// The number's partition, read in one query.
    async fn number_state_as_kept(&self, org_id: &str, number: &str) -> Result<NumberState, DomainError> {
        let mut state = NumberState::default();
        for item in self.partition_items(keys::ledger_pk(org_id, number), None, true).await? {
            match item.get(SK) {
                Some(AttributeValue::S(sk)) if sk == LEDGER_SK => {
                    state.ledger = Ledger { planned: std::mem::take(&mut state.ledger.planned), ..ledger_of(item)? }
                }
                Some(AttributeValue::S(sk)) if sk.starts_with(keys::PLANNED_PREFIX) => match serde_dynamo::from_item::<_, Attempt>(item) {
                    Ok(attempt) => state.ledger.planned.push(attempt),
                    Err(err) => tracing::warn!(error = %err, "a planned attempt is unreadable and not counted"),
                },
                Some(AttributeValue::S(sk)) if sk.starts_with(super::consents::CONSENT_PREFIX) => match from_item::<Consent>(item) {
                    Ok(consent) => state.consents.push(consent),
                    Err(err) => tracing::warn!(error = %err, "a consent is unreadable and not relied on"),
                },
                _ => {}
            }
        }
        Ok(state)
    }

    /// The update that marks an opt-out or a revocation for `number` at
    /// `at` (a consent captured before it never counts again) and moves the
    /// ledger's revision, so a claim decided before it is decided again.
    pub(crate) fn ledger_opted_out(&self, org_id: &str, number: &str, at: chrono::DateTime<chrono::Utc>) -> Update {
        self.ledger_set(org_id, number, OPTED_OUT_AT, s(time::format(&at)))
    }

    /// The put that keeps `call`, waiting, as a planned attempt beside its number's ledger.
    pub(crate) fn planned_put(&self, call: &CallLog) -> Result<Option<Put>, DomainError> {
        let (Some((pk, sk)), Some(at)) = (keys::planned_attempt_of(call), call.scheduled_at) else { return Ok(None) };
        let attempt = Attempt::of(call, at);
        let mut item: crate::item::Item =
            serde_dynamo::to_item(&attempt).map_err(|e| DomainError::Unavailable(format!("a planned attempt does not serialise: {e}")))?;
        item.extend([(PK.to_string(), s(pk)), (SK.to_string(), s(sk)), (KIND.to_string(), s(PLANNED_KIND))]);
        Ok(Some(Put::builder().table_name(&self.table).set_item(Some(item)).build().expect("table and item are set")))
    }

    /// The delete that forgets a planned attempt (its key).
    pub(crate) fn planned_delete(&self, pk: String, sk: String) -> Delete {
        Delete::builder().table_name(&self.table).key(PK, s(pk)).key(SK, s(sk)).build().expect("table and key are set")
    }

    /// The update that writes `ledger` for `number`, on the revision it was read at.
    pub(crate) fn ledger_write(&self, org_id: &str, number: &str, ledger: &Ledger) -> Result<Update, DomainError> {
        self.ledger_write_at(keys::ledger_pk(org_id, number), ledger)
    }

    /// The update that writes the ledger of `debt_id`, on the revision it was read at.
    pub(crate) fn debt_ledger_write(&self, org_id: &str, debt_id: &str, ledger: &Ledger) -> Result<Update, DomainError> {
        self.ledger_write_at(keys::debt_ledger_pk(org_id, debt_id), ledger)
    }

    /// The update that writes a ledger's attempts, conversations and places at `pk`, on the revision it was read at.
    fn ledger_write_at(&self, pk: String, ledger: &Ledger) -> Result<Update, DomainError> {
        let next = ledger.revision.unwrap_or(0) + 1;
        let places =
            serde_dynamo::to_attribute_value(&ledger.places).map_err(|e| DomainError::Unavailable(format!("a ledger's places do not serialise: {e}")))?;
        let update = Update::builder()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(LEDGER_SK))
            .update_expression("SET #a = :a, #c = :c, #p = :p, #rev = :next, #kind = :kind")
            .expression_attribute_names("#a", ATTEMPTS)
            .expression_attribute_names("#c", CONVERSATIONS)
            .expression_attribute_names("#p", PLACES)
            .expression_attribute_names("#rev", REVISION)
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_values(":a", list(&ledger.attempts)?)
            .expression_attribute_values(":c", list(&ledger.conversations)?)
            .expression_attribute_values(":p", places)
            .expression_attribute_values(":next", n(next))
            .expression_attribute_values(":kind", s("ledger"));
        let update = match ledger.revision {
            None => update.condition_expression("attribute_not_exists(#rev)"),
            Some(revision) => update.condition_expression("#rev = :rev").expression_attribute_values(":rev", n(revision)),
        };
        Ok(update.build().expect("table, key and expression are set"))
    }

    /// The update that appends `notes` (a conversation, inconvenient times:
    /// the latest [`MAX_INCONVENIENT_TIMES`] are read back) to the ledger at
    /// `pk` and moves its revision, so a claim decided without them is decided again.
    pub(crate) fn ledger_notes(&self, pk: String, notes: &LedgerNotes) -> Result<Update, DomainError> {
        let conversations: Vec<&Conversation> = notes.conversation.iter().collect();
        let update = Update::builder()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(LEDGER_SK))
            .update_expression(
                "SET #c = list_append(if_not_exists(#c, :empty), :c), #i = list_append(if_not_exists(#i, :empty), :i), #kind = :kind ADD #rev :inc",
            )
            .expression_attribute_names("#c", CONVERSATIONS)
            .expression_attribute_names("#i", INCONVENIENT)
            .expression_attribute_names("#rev", REVISION)
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_values(":c", list(&conversations)?)
            .expression_attribute_values(":i", list(&notes.inconvenient)?)
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":inc", n(1))
            .expression_attribute_values(":kind", s("ledger"));
        Ok(update.build().expect("table, key and expression are set"))
    }

    /// An unconditional change of one attribute of `number`'s ledger to
    /// `value`, which also moves the ledger's revision, so a claim decided
    /// without the change is decided again.
    fn ledger_set(&self, org_id: &str, number: &str, attribute: &str, value: AttributeValue) -> Update {
        Update::builder()
            .table_name(&self.table)
            .key(PK, s(keys::ledger_pk(org_id, number)))
            .key(SK, s(LEDGER_SK))
            .update_expression("SET #v = :v, #kind = :kind ADD #rev :inc")
            .expression_attribute_names("#v", attribute)
            .expression_attribute_names("#rev", REVISION)
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_values(":v", value)
            .expression_attribute_values(":inc", n(1))
            .expression_attribute_values(":kind", s("ledger"))
            .build()
            .expect("table, key and expression are set")
    }
}
/// What a call's end adds to a ledger: a conversation about a debt, and times the callee said are inconvenient.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LedgerNotes {
    pub conversation: Option<Conversation>,
    pub inconvenient: Vec<callops_domain::placement::clock::InconvenientTime>,
}
