//! A tenant's settings: one small item in its own partition.

use callops_domain::{DomainError, settings::TenantSettings};

use super::DynamoStore;
use crate::{item::*, keys};

const SETTINGS_SK: &str = "SETTINGS";

/// A tenant's settings.
#[allow(async_fn_in_trait)] // Implemented by DynamoStore alone and called on it: its futures are known, and Send.
pub trait SettingsStore {
    /// The tenant's settings; the defaults when it never set any.
    async fn settings(&self, org_id: &str) -> Result<TenantSettings, DomainError>;

    /// Stores the settings, with the audit entry of the change in the same transaction.
    async fn put_settings(&self, settings: &TenantSettings, audit: &callops_domain::records::audit::AuditEntry) -> Result<(), DomainError>;
}

impl SettingsStore for DynamoStore {
    async fn settings(&self, org_id: &str) -> Result<TenantSettings, DomainError> {
        match self.get_item(keys::settings_pk(org_id), SETTINGS_SK).await? {
            Some(item) => from_item(item),
            None => Ok(TenantSettings::defaults(org_id)),
        }
    }

    async fn put_settings(&self, settings: &TenantSettings, audit: &callops_domain::records::audit::AuditEntry) -> Result<(), DomainError> {
        settings.check_storable()?;
        self.put_audited(settings, keys::settings_pk(&settings.org_id), SETTINGS_SK, "settings", audit).await
    }
}
