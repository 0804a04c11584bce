//! Small operator records (a migration's checkpoint) in a tenant's partition.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use callops_domain::DomainError;
use chrono::{DateTime, Utc};

use super::DynamoStore;
use crate::{
    item::*,
    keys,
    table::{PK, SK},
};

/// Markers: what a periodic job last finished.
#[allow(async_fn_in_trait)] // Implemented by DynamoStore alone and called on it: its futures are known, and Send.
pub trait MarkerStore {
    /// A small record (a migration's checkpoint, a message seen) in the
    /// tenant's partition `name`; with `expires_at`, the table's time to
    /// live removes it after then.
    async fn put_marker(&self, org_id: &str, name: &str, fields: &[(&str, String)], expires_at: Option<DateTime<Utc>>) -> Result<(), DomainError>;

    /// The fields of a marker, if it exists.
    async fn marker(&self, org_id: &str, name: &str) -> Result<Option<HashMap<String, String>>, DomainError>;
}

impl MarkerStore for DynamoStore {
    async fn put_marker(&self, org_id: &str, name: &str, fields: &[(&str, String)], expires_at: Option<DateTime<Utc>>) -> Result<(), DomainError> {
        let mut item = HashMap::from([(PK.to_string(), s(keys::marker_pk(org_id, name))), (SK.to_string(), s(name)), (KIND.to_string(), s("marker"))]);
        for (field, value) in fields {
            item.insert((*field).to_string(), s(value.as_str()));
        }
        if let Some(at) = expires_at {
            item.insert(crate::table::TTL_ATTRIBUTE.to_string(), n(at.timestamp()));
        }
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn marker(&self, org_id: &str, name: &str) -> Result<Option<HashMap<String, String>>, DomainError> {
        let item = self.get_item(keys::marker_pk(org_id, name), name).await?;
        Ok(item.map(|item| {
            item.into_iter()
                .filter_map(|(k, v)| match v {
                    AttributeValue::S(text) => Some((k, text)),
                    _ => None,
                })
                .collect()
        }))
    }
}
