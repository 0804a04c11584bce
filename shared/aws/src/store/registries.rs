//! A practice's do-not-call registry copies, stored for a check that costs
//! one read: each number a registry lists is one small item in the
//! number's own registry partition (`ORG#<org>#DNCREG#<number>`, sort key
//! the registry's name, with the date of the file that listed it), beside
//! the established business relationship on record for the number. What
//! each copy is (its dates) lives in the tenant's settings, which every
//! placement reads anyway ([`callops_domain::placement::registries::RegistryCopy`]).
//!
//! Registries are per practice: each seller subscribes to the FTC's
//! registry under its own account (16 CFR 310.8), so no practice's copy
//! may decide another's calls.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
use callops_domain::{
    DomainError,
    placement::registries::{RegistryCopy, Relationship},
    records::audit::AuditEntry,
};
use chrono::NaiveDate;

use super::DynamoStore;
use crate::{
    item::*,
    keys,
    table::{PK, SK},
};

/// The sort key of a number's relationship item.
pub(crate) const RELATIONSHIP_SK: &str = "RELATIONSHIP";
/// Writes a registry import keeps in flight at once.
pub const IMPORT_CONCURRENCY: usize = 8;

/// What is on record for a number in the practice's registries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryMarks {
    /// Registry name to the date of the file that listed the number.
    pub listed: HashMap<String, NaiveDate>,
    pub relationship: Option<Relationship>,
}

/// The item that says `registry` listed `number` as of `as_of`.
pub fn mark_item(org_id: &str, registry: &str, number: &str, as_of: NaiveDate) -> Item {
    HashMap::from([
        (PK.to_string(), s(keys::registry_pk(org_id, number))),
        (SK.to_string(), s(registry)),
        (KIND.to_string(), s("registry_mark")),
        ("asOf".to_string(), s(as_of.to_string())),
    ])
}

/// A practice's registries.
#[allow(async_fn_in_trait)] // Implemented by DynamoStore alone and called on it: its futures are known, and Send.
pub trait RegistryStore {
    /// What the practice's registries and relationships hold for `number`: one query.
    async fn registry_marks(&self, org_id: &str, number: &str) -> Result<RegistryMarks, DomainError>;

    /// Writes the marks of a registry file (additions as of `as_of`, deletions removed), `IMPORT_CONCURRENCY` batches at a time.
    async fn write_registry_marks(&self, org_id: &str, registry: &str, as_of: NaiveDate, additions: &[String], deletions: &[String])
    -> Result<(), DomainError>;

    /// Records the copy a finished import leaves in the tenant's settings, with its audit entry.
    async fn record_registry_copy(&self, org_id: &str, copy: RegistryCopy, audit: &AuditEntry) -> Result<(), DomainError>;

    /// Sets the relationship on record for a number.
    async fn set_relationship(&self, org_id: &str, number: &str, relationship: &Relationship, audit: &AuditEntry) -> Result<(), DomainError>;
}

impl RegistryStore for DynamoStore {
    async fn registry_marks(&self, org_id: &str, number: &str) -> Result<RegistryMarks, DomainError> {
        let mut marks = RegistryMarks::default();
        for item in self.partition_items(keys::registry_pk(org_id, number), None, false).await? {
            let Some(sk) = string_attr(&item, SK) else { continue };
            if sk == RELATIONSHIP_SK {
                marks.relationship = readable(item, "relationship");
            } else if let Some(as_of) = string_attr(&item, "asOf").and_then(|d| d.parse().ok()) {
                marks.listed.insert(sk, as_of);
            }
        }
        Ok(marks)
    }

    async fn write_registry_marks(
        &self,
        org_id: &str,
        registry: &str,
        as_of: NaiveDate,
        additions: &[String],
        deletions: &[String],
    ) -> Result<(), DomainError> {
        let puts = additions.iter().map(|number| {
            let put = PutRequest::builder().set_item(Some(mark_item(org_id, registry, number, as_of))).build().expect("the item is set");
            WriteRequest::builder().put_request(put).build()
        });
        // A number a change list both deletes and adds ends listed (one batch may not name an item twice).
        let added: std::collections::HashSet<&String> = additions.iter().collect();
        let deletes = deletions.iter().filter(|n| !added.contains(n)).map(|number| {
            let key = HashMap::from([(PK.to_string(), s(keys::registry_pk(org_id, number))), (SK.to_string(), s(registry))]);
            WriteRequest::builder().delete_request(DeleteRequest::builder().set_key(Some(key)).build().expect("the key is set")).build()
        });
        let requests: Vec<WriteRequest> = deletes.chain(puts).collect();
        let batches: Vec<Vec<WriteRequest>> = requests.chunks(25).map(<[WriteRequest]>::to_vec).collect();
        for group in batches.chunks(IMPORT_CONCURRENCY) {
            let writes: Vec<_> = group.iter().map(|batch| Box::pin(self.write_batch(batch.clone()))).collect();
            futures::future::try_join_all(writes).await?;
        }
        Ok(())
    }

    async fn record_registry_copy(&self, org_id: &str, copy: RegistryCopy, audit: &AuditEntry) -> Result<(), DomainError> {
        use super::SettingsStore;
        let mut settings = self.settings(org_id).await?;
        settings.registries.retain(|c| c.name != copy.name);
        settings.registries.push(copy);
        settings.registries.sort_by(|a, b| a.name.cmp(&b.name));
        self.put_settings(&settings, audit).await
    }

    async fn set_relationship(&self, org_id: &str, number: &str, relationship: &Relationship, audit: &AuditEntry) -> Result<(), DomainError> {
        self.put_audited(relationship, keys::registry_pk(org_id, number), RELATIONSHIP_SK, "relationship", audit).await
    }
}
