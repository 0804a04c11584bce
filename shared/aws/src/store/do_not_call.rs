//! The tenant's do-not-call list: one item per number, in the list's form.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::{Delete, KeysAndAttributes, TransactWriteItem, Update};
use callops_domain::{DomainError, records::audit::AuditEntry, time};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{DynamoStore, Page};
use crate::store::{AuditStore, ErasureStore};
use crate::{
    cursor::Cursor,
    item::*,
    keys,
    table::{PK, SK},
};

/// One number on a tenant's do-not-call list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DoNotCallEntry {
    pub phone_number: String,
    pub reason: Option<String>,
    pub added_at: String,
}

pub(crate) const DO_NOT_CALL_CURSOR: &str = "doNotCall";

/// One change of a number's do-not-call state, kept in its history: who, when, how and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DoNotCallChange {
    #[serde(with = "time::ms")]
    pub at: DateTime<Utc>,
    /// `added` or `removed`.
    pub action: String,
    #[serde(default)]
    pub channel: Option<callops_domain::consent::Channel>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    pub by: callops_domain::caller::Actor,
}

/// The most history entries one read returns (the newest).
pub const MAX_HISTORY: usize = 500;

/// The most a do-not-call entry's reason may hold.
pub const MAX_REASON_BYTES: usize = 500;

/// An entry the list can keep and read back: a number in the list's form
/// ([`callops_domain::phone::is_list_key`]) and a reason within its bound.
pub(crate) fn check_entry(number: &str, reason: Option<&str>) -> Result<(), DomainError> {
    if !callops_domain::phone::is_list_key(number) {
        return Err(DomainError::invalid("invalid_phone_number", "a do-not-call entry's number is + and 1 to 15 digits"));
    }
    if reason.is_some_and(|r| r.len() > MAX_REASON_BYTES) {
        return Err(DomainError::invalid("invalid_reason", format!("a do-not-call reason is at most {MAX_REASON_BYTES} bytes")));
    }
    Ok(())
}

pub(crate) fn do_not_call_entry(item: &Item) -> DoNotCallEntry {
    DoNotCallEntry {
        phone_number: string_attr(item, SK).unwrap_or_default(),
        reason: string_attr(item, "reason"),
        added_at: string_attr(item, "addedAt").unwrap_or_default(),
    }
}

/// The practice's do-not-call list and its history.
#[allow(async_fn_in_trait)] // Implemented by DynamoStore alone and called on it: its futures are known, and Send.
pub trait DoNotCallStore {
    /// A page of the tenant's list, in number order.
    async fn list_do_not_call(&self, org_id: &str, limit: usize, cursor: Option<&str>) -> Result<Page<DoNotCallEntry>, DomainError>;

    /// Which of `numbers` are on the tenant's list, as themselves or, once
    /// erased, under their pseudonyms (100 keys a request).
    async fn do_not_call_among(&self, org_id: &str, numbers: &[String]) -> Result<HashSet<String>, DomainError>;

    /// Puts a number on the tenant's list with its history entry, in one
    /// transaction that also moves the number's ledger revision (a claim
    /// decided before it decides again). `true` when it was not listed; a
    /// number listed already keeps its first time and reason, and the new
    /// request is kept in the history all the same.
    async fn add_do_not_call(&self, org_id: &str, number: &str, change: &DoNotCallChange, audit: &AuditEntry) -> Result<(DoNotCallEntry, bool), DomainError>;

    /// Takes a number off the tenant's list and keeps the removal in its
    /// history, in one transaction; `NotFound` when it was not on it. A
    /// number whose records were erased, kept on the list under its
    /// pseudonym, comes off it there.
    async fn remove_do_not_call(&self, org_id: &str, number: &str, change: &DoNotCallChange, audit: &AuditEntry) -> Result<(), DomainError>;

    /// A number's do-not-call history, oldest first (the newest [`MAX_HISTORY`]).
    async fn do_not_call_history(&self, org_id: &str, number: &str) -> Result<Vec<DoNotCallChange>, DomainError>;

    /// A number's entry on the tenant's list, if it is on it.
    async fn do_not_call_entry(&self, org_id: &str, number: &str) -> Result<Option<DoNotCallEntry>, DomainError>;

    /// Whether a number is on the tenant's do-not-call list, as itself or,
    /// once erased, under its pseudonym (one batch read of both).
    async fn is_on_do_not_call(&self, org_id: &str, number: &str) -> Result<bool, DomainError>;
}

impl DoNotCallStore for DynamoStore {
    async fn list_do_not_call(&self, org_id: &str, limit: usize, cursor: Option<&str>) -> Result<Page<DoNotCallEntry>, DomainError> {
        let start = match cursor {
            None => None,
            Some(text) => {
                let cursor = Cursor::decode_raw(text)?;
                let valid = cursor.index == DO_NOT_CALL_CURSOR && callops_domain::phone::is_list_key(&cursor.sort_key);
                if !valid {
                    return Err(DomainError::invalid("invalid_cursor", "the cursor belongs to a different query"));
                }
                Some(HashMap::from([(PK.to_string(), s(keys::do_not_call_pk(org_id))), (SK.to_string(), s(cursor.sort_key))]))
            }
        };
        let output = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(keys::do_not_call_pk(org_id)))
            .set_exclusive_start_key(start)
            .limit(limit as i32)
            .send()
            .await
            .map_err(unavailable)?;
        let items: Vec<DoNotCallEntry> = output.items().iter().map(do_not_call_entry).collect();
        let next_cursor = match (&output.last_evaluated_key, items.last()) {
            (Some(_), Some(last)) => Some(
                Cursor {
                    index: DO_NOT_CALL_CURSOR.into(),
                    partition: String::new(),
                    sort_key: last.phone_number.clone(),
                    query: String::new(),
                    from: None,
                    to: None,
                }
                .encode(),
            ),
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }

    async fn do_not_call_among(&self, org_id: &str, numbers: &[String]) -> Result<HashSet<String>, DomainError> {
        let unique: Vec<&String> = numbers.iter().collect::<HashSet<_>>().into_iter().collect();
        if unique.len() > 1 {
            // Many numbers: the tenant's erased marks in one query, the list by number.
            let erased = self.erased_marks(org_id).await?;
            let mut listed: HashSet<String> =
                unique.iter().filter(|number| erased.of(self, number).do_not_call_since.is_some()).map(|number| number.to_string()).collect();
            for chunk in unique.chunks(100) {
                let keys: Vec<Item> = chunk
                    .iter()
                    .map(|number| HashMap::from([(PK.to_string(), s(keys::do_not_call_pk(org_id))), (SK.to_string(), s(number.as_str()))]))
                    .collect();
                let request =
                    KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build().map_err(|e| DomainError::Unavailable(e.to_string()))?;
                for item in self.batch_get(request).await? {
                    listed.extend(string_attr(&item, SK));
                }
            }
            return Ok(listed);
        }
        let mut listed = HashSet::new();
        for chunk in unique.chunks(50) {
            let erased = self.erased_keys(org_id, chunk);
            let by_pseudonym: HashMap<&str, &str> = erased.iter().map(|(_, sk, number)| (sk.as_str(), number.as_str())).collect();
            let keys: Vec<Item> = chunk
                .iter()
                .map(|number| (keys::do_not_call_pk(org_id), number.to_string()))
                .chain(erased.iter().map(|(pk, sk, _)| (pk.clone(), sk.clone())))
                .map(|(pk, sk)| HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))]))
                .collect();
            let request =
                KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build().map_err(|e| DomainError::Unavailable(e.to_string()))?;
            for item in self.batch_get(request).await? {
                let Some(sk) = string_attr(&item, SK) else { continue };
                match by_pseudonym.get(sk.as_str()) {
                    Some(number) if super::erasure::keeps_listed(&item) => {
                        listed.insert(number.to_string());
                    }
                    Some(_) => {}
                    None => {
                        listed.insert(sk);
                    }
                }
            }
        }
        Ok(listed)
    }

    async fn add_do_not_call(&self, org_id: &str, number: &str, change: &DoNotCallChange, audit: &AuditEntry) -> Result<(DoNotCallEntry, bool), DomainError> {
        check_entry(number, change.reason.as_deref())?;
        let existing = self.get_item(keys::do_not_call_pk(org_id), number).await?;
        let mut expression = "SET #kind = :kind, #added = if_not_exists(#added, :at)".to_string();
        let mut update = Update::builder()
            .table_name(self.table())
            .key(PK, s(keys::do_not_call_pk(org_id)))
            .key(SK, s(number))
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_names("#added", "addedAt")
            .expression_attribute_values(":kind", s("doNotCall"))
            .expression_attribute_values(":at", s(time::format(&change.at)));
        if let Some(reason) = &change.reason {
            expression.push_str(", #reason = if_not_exists(#reason, :reason)");
            update = update.expression_attribute_names("#reason", "reason").expression_attribute_values(":reason", s(reason));
        }
        let update = update.update_expression(expression).build().expect("table, key and expression are set");
        let items = vec![
            TransactWriteItem::builder().update(update).build(),
            self.history_put(org_id, number, change)?,
            TransactWriteItem::builder().update(self.ledger_opted_out(org_id, number, change.at)).build(),
        ];
        self.transact_audited(items, audit).await.map_err(unavailable)?;
        let entry = match &existing {
            Some(old) => do_not_call_entry(old),
            None => DoNotCallEntry { phone_number: number.into(), reason: change.reason.clone(), added_at: time::format(&change.at) },
        };
        Ok((entry, existing.is_none()))
    }

    async fn remove_do_not_call(&self, org_id: &str, number: &str, change: &DoNotCallChange, audit: &AuditEntry) -> Result<(), DomainError> {
        if self.get_item(keys::do_not_call_pk(org_id), number).await?.is_none() && self.unlist_erased(org_id, number).await? {
            return self.record_audit(std::slice::from_ref(audit)).await;
        }
        let delete = Delete::builder()
            .table_name(self.table())
            .key(PK, s(keys::do_not_call_pk(org_id)))
            .key(SK, s(number))
            .condition_expression("attribute_exists(PK)")
            .build()
            .expect("table and key are set");
        let items = vec![TransactWriteItem::builder().delete(delete).build(), self.history_put(org_id, number, change)?];
        self.transact_audited(items, audit).await.map_err(|e| transaction_conflict(e, DomainError::NotFound { what: "do-not-call entry" }))
    }

    async fn do_not_call_history(&self, org_id: &str, number: &str) -> Result<Vec<DoNotCallChange>, DomainError> {
        let items = self.partition_items(keys::do_not_call_history_pk(org_id, number), None, true).await?;
        let skip = items.len().saturating_sub(MAX_HISTORY);
        items.into_iter().skip(skip).map(from_item).collect()
    }

    async fn do_not_call_entry(&self, org_id: &str, number: &str) -> Result<Option<DoNotCallEntry>, DomainError> {
        Ok(self.get_item(keys::do_not_call_pk(org_id), number).await?.as_ref().map(do_not_call_entry))
    }

    async fn is_on_do_not_call(&self, org_id: &str, number: &str) -> Result<bool, DomainError> {
        Ok(!self.do_not_call_among(org_id, &[number.to_string()]).await?.is_empty())
    }
}

impl DynamoStore {
    /// The put that keeps `change` in `number`'s history.
    pub(crate) fn history_put(&self, org_id: &str, number: &str, change: &DoNotCallChange) -> Result<TransactWriteItem, DomainError> {
        let mut item = to_item(change)?;
        item.insert(PK.into(), s(keys::do_not_call_history_pk(org_id, number)));
        item.insert(SK.into(), s(format!("{}#{}", time::format(&change.at), callops_domain::call::new_call_id())));
        item.insert(KIND.into(), s("doNotCallChange"));
        Ok(TransactWriteItem::builder().put(self.put(item, "attribute_not_exists(PK)", None)).build())
    }
}
