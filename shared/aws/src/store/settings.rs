//! A tenant's settings: one small item in its own partition.

use callops_domain::{DomainError, settings::TenantSettings};

use super::DynamoStore;
use crate::{
    item::*,
    keys,
    table::{PK, SK},
};

const SETTINGS_SK: &str = "SETTINGS";

impl DynamoStore {
    /// The tenant's settings; the defaults when it never set any.
    pub async fn settings(&self, org_id: &str) -> Result<TenantSettings, DomainError> {
        match self.get_item(keys::settings_pk(org_id), SETTINGS_SK).await? {
            Some(item) => from_item(item),
            None => Ok(TenantSettings::defaults(org_id)),
        }
    }

    pub async fn put_settings(&self, settings: &TenantSettings) -> Result<(), DomainError> {
        settings.check_storable()?;
        let mut item = to_item(settings)?;
        item.insert(PK.into(), s(keys::settings_pk(&settings.org_id)));
        item.insert(SK.into(), s(SETTINGS_SK));
        item.insert(KIND.into(), s("settings"));
        self.client().put_item().table_name(self.table()).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }
}
