//! The audit log's items: one per entry, in the tenant's audit partition
//! (`ORG#<org>#AUDIT`), sorted by time then id, each put once and never
//! changed. Each carries the epoch second it may go ([`AUDIT_TTL`]), which
//! the table's time to live deletes after.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use callops_domain::{
    DomainError,
    records::audit::{self, AuditEntry, AuditFilter},
    time::{self, Span},
};
use chrono::{DateTime, Utc};

use super::{DynamoStore, Page};
use crate::{
    cursor::Cursor,
    item::*,
    keys,
    table::{PK, SK},
};

/// The attribute the table's time to live reads (epoch seconds).
pub const AUDIT_TTL: &str = crate::table::TTL_ATTRIBUTE;
/// How long entries are kept, in days, when the deployment says
/// (`CALLOPS_AUDIT_RETENTION_DAYS`, six to ten years).
pub const AUDIT_RETENTION_VAR: &str = "CALLOPS_AUDIT_RETENTION_DAYS";
const AUDIT_CURSOR: &str = "audit";
/// The most partition pages one request reads looking for entries that match its filters.
const MAX_PAGES_PER_REQUEST: usize = 10;

/// The days entries are kept: the deployment's setting within bounds, else six years.
pub fn audit_retention_days() -> u32 {
    static DAYS: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *DAYS.get_or_init(|| {
        std::env::var(AUDIT_RETENTION_VAR)
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok())
            .map(|days| days.clamp(audit::MIN_RETENTION_DAYS, audit::MAX_RETENTION_DAYS))
            .unwrap_or(audit::MIN_RETENTION_DAYS)
    })
}

fn audit_sk(entry: &AuditEntry) -> String {
    format!("{}#{}", time::format(&entry.at), entry.id)
}

/// The audit log: entries written and read.
#[allow(async_fn_in_trait)] // Implemented by DynamoStore alone and called on it: its futures are known, and Send.
pub trait AuditStore {
    /// Appends entries that record reads (no change goes with them), chained
    /// ([`super::audit_chain`]), 99 a transaction.
    async fn record_audit(&self, entries: &[AuditEntry]) -> Result<(), DomainError>;

    /// A page of the tenant's audit log, newest first, within `window`,
    /// with the entries that match `filter`. `binding` ties a cursor to the
    /// request that made it.
    async fn audit_entries(
        &self,
        org_id: &str,
        window: Span<Option<DateTime<Utc>>>,
        filter: &AuditFilter,
        limit: usize,
        cursor: Option<&str>,
        binding: &str,
    ) -> Result<Page<AuditEntry>, DomainError>;
}

impl AuditStore for DynamoStore {
    async fn record_audit(&self, entries: &[AuditEntry]) -> Result<(), DomainError> {
        for chunk in entries.chunks(99) {
            let items = chunk.iter().map(|entry| self.audit_put(entry)).collect::<Result<Vec<_>, _>>()?;
            self.transact(items).await.map_err(unavailable)?;
        }
        Ok(())
    }

    async fn audit_entries(
        &self,
        org_id: &str,
        window: Span<Option<DateTime<Utc>>>,
        filter: &AuditFilter,
        limit: usize,
        cursor: Option<&str>,
        binding: &str,
    ) -> Result<Page<AuditEntry>, DomainError> {
        // Entries keep a number's pseudonym: a filter by the number looks for that.
        let pseudonymous;
        let filter = match filter.entity_id.as_deref().map(str::trim) {
            Some(id) if crate::pseudonym::is_number(id) => {
                pseudonymous = AuditFilter { entity_id: Some(self.pseudonym(org_id, id)), ..filter.clone() };
                &pseudonymous
            }
            _ => filter,
        };
        let digest = crate::cursor::query_digest(&[AUDIT_CURSOR, binding]);
        let (from, to) = match cursor {
            Some(text) => {
                let cursor = Cursor::decode(text)?;
                if cursor.index != AUDIT_CURSOR || cursor.query != digest {
                    return Err(crate::cursor::invalid());
                }
                (cursor.from, Some(cursor.sort_key))
            }
            None => (window.start, window.end.map(|end| time::format(&end))),
        };
        let low = from.map(|f| time::format(&f)).unwrap_or_default();
        let high = to.unwrap_or_else(|| "~".to_string());
        let mut entries = Vec::new();
        let mut start: Option<std::collections::HashMap<String, AttributeValue>> = None;
        let mut last_key: Option<String> = None;
        let mut more = false;
        let (mut weight, mut full) = (0, false);
        for _ in 0..MAX_PAGES_PER_REQUEST {
            let output = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :low AND :high")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", s(keys::audit_pk(org_id)))
                .expression_attribute_values(":low", s(&low))
                .expression_attribute_values(":high", s(&high))
                .scan_index_forward(false)
                .set_exclusive_start_key(start.take())
                .limit((limit - entries.len()).max(1) as i32 * 2)
                .send()
                .await
                .map_err(unavailable)?;
            let evaluated = output.last_evaluated_key.clone();
            for item in output.items.unwrap_or_default() {
                let key = string_attr(&item, SK).unwrap_or_default();
                // The key is exclusive at the top (a cursor names the last entry answered).
                if key == high {
                    continue;
                }
                if let Some(entry) = readable::<AuditEntry>(item, "audit entry")
                    && filter.matches(&entry)
                {
                    // A page closes by size too: the entry that would take it past an answer's bound starts the next.
                    weight += callops_domain::records::export::json_weight(&entry) + 1;
                    if weight > callops_domain::records::export::MAX_PAGE_BYTES && !entries.is_empty() {
                        full = true;
                        break;
                    }
                    entries.push(entry);
                    if entries.len() == limit {
                        last_key = Some(key);
                        break;
                    }
                }
                last_key = Some(key);
            }
            more = evaluated.is_some() || full;
            if entries.len() == limit || !more || full {
                break;
            }
            start = evaluated;
        }
        let next_cursor = match (more || full || entries.len() == limit, last_key) {
            (true, Some(key)) => Some(Cursor { index: AUDIT_CURSOR.into(), partition: String::new(), sort_key: key, query: digest, from, to: None }.encode()),
            _ => None,
        };
        Ok(Page { items: entries, next_cursor })
    }
}

impl DynamoStore {
    fn audit_item(&self, entry: &AuditEntry) -> Result<Item, DomainError> {
        audit::check_storable(entry)?;
        let entry = &self.without_numbers(entry);
        let mut item = to_item(entry)?;
        item.insert(PK.into(), s(keys::audit_pk(&entry.org_id)));
        item.insert(SK.into(), s(audit_sk(entry)));
        item.insert(KIND.into(), s("audit"));
        item.insert(AUDIT_TTL.into(), n(entry.expires_at(audit_retention_days())));
        Ok(item)
    }

    /// `entry` as the log keeps it: a number it is about (a patient's
    /// records, a number's list entry or ledger) becomes its pseudonym.
    fn without_numbers(&self, entry: &AuditEntry) -> AuditEntry {
        use callops_domain::records::audit::EntityType;
        let about_number = matches!(entry.entity_type, EntityType::Number | EntityType::Patient) || crate::pseudonym::is_number(&entry.entity_id);
        if !about_number || entry.entity_id.starts_with(crate::pseudonym::PREFIX) {
            return entry.clone();
        }
        AuditEntry { entity_id: self.pseudonym(&entry.org_id, entry.entity_id.trim()), ..entry.clone() }
    }

    /// The transaction element that appends `entry` (never over another).
    pub(crate) fn audit_put(&self, entry: &AuditEntry) -> Result<TransactWriteItem, DomainError> {
        Ok(TransactWriteItem::builder().put(self.put(self.audit_item(entry)?, "attribute_not_exists(PK)", None)).build())
    }

    /// Sends `items` and the audit entry of the change they make in one transaction.
    pub(crate) async fn transact_audited(
        &self,
        mut items: Vec<TransactWriteItem>,
        entry: &AuditEntry,
    ) -> Result<(), aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError>> {
        match self.audit_put(entry) {
            Ok(put) => items.push(put),
            // An entry always fits its bounds; one that does not would stop the change, never go unrecorded.
            Err(err) => return Err(aws_sdk_dynamodb::error::SdkError::construction_failure(err.to_string())),
        }
        self.transact(items).await
    }
}

/// An audit entry of CallOps' own, for the store's tests of the writes that need one.
#[cfg(test)]
pub(crate) fn test_entry(org_id: &str) -> AuditEntry {
    AuditEntry::system(org_id, "test", callops_domain::records::audit::Action::SettingsUpdated, org_id, Utc::now())
}
