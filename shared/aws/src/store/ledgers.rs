//! Each number's ledger of attempts ([`callops_domain::frequency::Ledger`]):
//! one item per tenant and number, read consistently by the dialer before
//! it claims an attempt and written in the claim's own transaction on the
//! revision it read, so two claims racing for the last attempt a limit
//! allows cannot both land.

use aws_sdk_dynamodb::types::{AttributeValue, Update};
use callops_domain::{
    DomainError,
    frequency::{Attempt, Conversation, Ledger},
};

use super::DynamoStore;
use crate::{
    item::*,
    keys,
    table::{PK, SK},
};

pub(crate) const LEDGER_SK: &str = "ATTEMPTS";
const ATTEMPTS: &str = "attempts";
const CONVERSATIONS: &str = "conversations";
const REVISION: &str = "rev";
/// The code of the conflict when the ledger changed since it was read.
pub const ATTEMPTS_CHANGED: &str = "attempts_changed";

fn list<T: serde::Serialize>(values: &[T]) -> Result<AttributeValue, DomainError> {
    serde_dynamo::to_attribute_value(values).map_err(|e| DomainError::Unavailable(format!("a ledger does not serialise: {e}")))
}

impl DynamoStore {
    /// The ledger of `number` for `org_id` (empty when no attempt was ever recorded).
    pub async fn ledger(&self, org_id: &str, number: &str) -> Result<Ledger, DomainError> {
        let Some(mut item) = self.get_item(keys::ledger_pk(org_id, number), LEDGER_SK).await? else { return Ok(Ledger::default()) };
        let unreadable = |e: serde_dynamo::Error| DomainError::Unavailable(format!("the ledger of a number is unreadable: {e}"));
        let attempts: Option<Vec<Attempt>> = item.remove(ATTEMPTS).map(serde_dynamo::from_attribute_value).transpose().map_err(unreadable)?;
        let conversations: Option<Vec<Conversation>> = item.remove(CONVERSATIONS).map(serde_dynamo::from_attribute_value).transpose().map_err(unreadable)?;
        let revision = match item.get(REVISION) {
            Some(AttributeValue::N(n)) => n.parse().ok(),
            _ => None,
        };
        Ok(Ledger { attempts: attempts.unwrap_or_default(), conversations: conversations.unwrap_or_default(), revision })
    }

    /// The update that writes `ledger` for `number`, on the revision it was read at.
    pub(crate) fn ledger_write(&self, org_id: &str, number: &str, ledger: &Ledger) -> Result<Update, DomainError> {
        let next = ledger.revision.unwrap_or(0) + 1;
        let update = Update::builder()
            .table_name(&self.table)
            .key(PK, s(keys::ledger_pk(org_id, number)))
            .key(SK, s(LEDGER_SK))
            .update_expression("SET #a = :a, #c = :c, #rev = :next, #kind = :kind")
            .expression_attribute_names("#a", ATTEMPTS)
            .expression_attribute_names("#c", CONVERSATIONS)
            .expression_attribute_names("#rev", REVISION)
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_values(":a", list(&ledger.attempts)?)
            .expression_attribute_values(":c", list(&ledger.conversations)?)
            .expression_attribute_values(":next", n(next))
            .expression_attribute_values(":kind", s("ledger"));
        let update = match ledger.revision {
            None => update.condition_expression("attribute_not_exists(#rev)"),
            Some(revision) => update.condition_expression("#rev = :rev").expression_attribute_values(":rev", n(revision)),
        };
        Ok(update.build().expect("table, key and expression are set"))
    }

    /// The update that adds a conversation to `number`'s ledger (and moves
    /// its revision, so a claim decided without it is decided again).
    pub(crate) fn ledger_conversation(&self, org_id: &str, number: &str, conversation: &Conversation) -> Result<Update, DomainError> {
        Ok(Update::builder()
            .table_name(&self.table)
            .key(PK, s(keys::ledger_pk(org_id, number)))
            .key(SK, s(LEDGER_SK))
            .update_expression("SET #c = list_append(if_not_exists(#c, :empty), :one), #kind = :kind ADD #rev :inc")
            .expression_attribute_names("#c", CONVERSATIONS)
            .expression_attribute_names("#rev", REVISION)
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":one", list(std::slice::from_ref(conversation))?)
            .expression_attribute_values(":inc", n(1))
            .expression_attribute_values(":kind", s("ledger"))
            .build()
            .expect("table, key and expression are set"))
    }
}
