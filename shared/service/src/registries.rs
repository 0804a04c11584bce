//! The practice's do-not-call registries: what they say of a number before
//! a telemarketing call ([`registry_facts`], one read, none when the call
//! is not telemarketing or the practice keeps no copy), a registry file
//! imported ([`Calls::import_registry`]), and the business relationship a
//! call may rest on instead ([`Calls::set_relationship`]).

use callops_aws::{
    DynamoStore,
    store::{RegistryStore, registries::RegistryMarks},
};
use callops_domain::{
    CallType, DomainError,
    caller::Caller,
    placement::{
        call_rules::TELEMARKETING,
        callee::Callee,
        registries::{RegistryCopy, RegistryFacts, RegistryFile, RegistryResult, Relationship, registries_of},
    },
    records::audit::{self, Action, AuditEntry},
    settings::TenantSettings,
};
use chrono::{DateTime, NaiveDate, Utc};

use crate::Calls;

/// What the practice's copies say of a callee's number, given its marks.
pub fn facts_from(settings: &TenantSettings, marks: &RegistryMarks, callee: &Callee) -> RegistryFacts {
    let results = registries_of(callee)
        .into_iter()
        .map(|name| {
            let copy = settings.registries.iter().find(|c| c.name == name);
            let listed = copy.is_some_and(|copy| marks.listed.get(&name).is_some_and(|marked| copy.lists(*marked)));
            RegistryResult { as_of: copy.map(|c| c.as_of), listed, name }
        })
        .collect();
    RegistryFacts { results, relationship: marks.relationship }
}

/// The registries' facts for a call of `call_type` to `number`: `None` for
/// a call they do not hold; no read when the practice keeps no copy (nothing can be listed).
pub async fn registry_facts(
    store: &DynamoStore,
    settings: &TenantSettings,
    call_type: CallType,
    number: &str,
    callee: &Callee,
) -> Result<Option<RegistryFacts>, DomainError> {
    if !TELEMARKETING.contains(&call_type) {
        return Ok(None);
    }
    let marks = if settings.registries.is_empty() { RegistryMarks::default() } else { store.registry_marks(&settings.org_id, number).await? };
    Ok(Some(facts_from(settings, &marks, callee)))
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryImported {
    pub copy: RegistryCopy,
    pub added: usize,
    pub deleted: usize,
    /// Lines that were not a number: the first hundred, and how many in all.
    pub rejected: Vec<(usize, String)>,
    pub rejected_count: usize,
}

/// Checks a registry file against the practice's copy of `registry` and
/// works out the copy it leaves: nothing is written yet. An older file than
/// the copy, a change list before any full list, or a 53rd registry is refused.
pub async fn import_plan(
    store: &DynamoStore,
    org_id: &str,
    registry: &str,
    as_of: NaiveDate,
    file: &RegistryFile,
    now: DateTime<Utc>,
) -> Result<RegistryCopy, DomainError> {
    let settings = callops_aws::store::SettingsStore::settings(store, org_id).await?;
    let before = settings.registries.iter().find(|c| c.name == registry);
    if before.is_none() && settings.registries.len() >= callops_domain::placement::registries::MAX_COPIES {
        return Err(DomainError::invalid("too_many_registries", "a practice keeps at most 52 registry copies"));
    }
    file.copy_after(registry, before, as_of, now)
}

/// Records the copy an import leaves, once its marks are written, with the import's audit entry.
pub async fn import_done(
    store: &DynamoStore,
    caller: &Caller,
    copy: RegistryCopy,
    file: &RegistryFile,
    now: DateTime<Utc>,
) -> Result<RegistryImported, DomainError> {
    let audit = registry_audit(caller, &copy, file, now);
    store.record_registry_copy(&caller.org_id, copy.clone(), &audit).await?;
    Ok(RegistryImported {
        copy,
        added: file.additions.len(),
        deleted: file.deletions.len(),
        rejected: file.rejected.clone(),
        rejected_count: file.rejected_count,
    })
}

impl Calls {
    /// Imports a registry file over the practice's copy of `registry`
    /// (`national` or a state): its marks, then the copy's dates. A line
    /// that is not a number is reported and stops nothing.
    pub async fn import_registry(
        &self,
        caller: &Caller,
        registry: &str,
        as_of: NaiveDate,
        file: &RegistryFile,
        now: DateTime<Utc>,
    ) -> Result<RegistryImported, DomainError> {
        let copy = import_plan(&self.store, &caller.org_id, registry, as_of, file, now).await?;
        self.store.write_registry_marks(&caller.org_id, registry, as_of, &file.additions, &file.deletions).await?;
        import_done(&self.store, caller, copy, file, now).await
    }

    /// Records the business relationship a telemarketing call to `number` may rest on.
    pub async fn set_relationship(&self, caller: &Caller, number: &str, relationship: &Relationship, now: DateTime<Utc>) -> Result<(), DomainError> {
        let audit = AuditEntry::new(caller, Action::RelationshipSet, number, audit::changes(None::<&Relationship>, relationship), now);
        self.store.set_relationship(&caller.org_id, number, relationship, &audit).await
    }
}

/// The audit entry of an import: which registry, its dates and counts, never its numbers.
pub fn registry_audit(caller: &Caller, copy: &RegistryCopy, file: &RegistryFile, now: DateTime<Utc>) -> AuditEntry {
    let mut changes = serde_json::Map::new();
    changes.insert("registry".into(), copy.name.clone().into());
    changes.insert("asOf".into(), copy.as_of.to_string().into());
    changes.insert("changeList".into(), file.change_list.into());
    changes.insert("added".into(), file.additions.len().into());
    changes.insert("deleted".into(), file.deletions.len().into());
    AuditEntry::new(caller, Action::RegistryImported, &copy.name, changes, now)
}
