//! Voice agents, their concurrent-call slots, and the directory of tenants.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use callops_domain::{DomainError, VoiceAgent};

use super::DynamoStore;
use crate::{
    item::*,
    keys,
    table::{PK, SK},
};

/// The practice's voice agents, and which tenants have any.
#[allow(async_fn_in_trait)] // Implemented by DynamoStore alone and called on it: its futures are known, and Send.
pub trait AgentStore {
    /// Stores a voice agent: `create` fails with `Conflict` when the id is
    /// taken (and registers the tenant in the directory the reconciler
    /// reads, in the same transaction); otherwise it must exist already.
    async fn put_agent(&self, agent: &VoiceAgent, create: bool, audit: &callops_domain::records::audit::AuditEntry) -> Result<(), DomainError>;

    /// Every tenant with a voice agent, from the directory (the reconciler's list).
    async fn tenants(&self) -> Result<Vec<String>, DomainError>;

    async fn get_agent(&self, org_id: &str, agent_id: &str) -> Result<Option<VoiceAgent>, DomainError>;

    /// A tenant's voice agents, in id order.
    async fn list_agents(&self, org_id: &str) -> Result<Vec<VoiceAgent>, DomainError>;

    /// How many of an agent's concurrent-call slots are taken.
    async fn slots_in_use(&self, org_id: &str, agent_id: &str) -> Result<i64, DomainError>;

    /// How many of the practice's outbound calls, across its agents, hold a place in its outbound room.
    async fn outbound_in_use(&self, org_id: &str) -> Result<i64, DomainError>;
}

impl AgentStore for DynamoStore {
    async fn put_agent(&self, agent: &VoiceAgent, create: bool, audit: &callops_domain::records::audit::AuditEntry) -> Result<(), DomainError> {
        agent.check_storable()?;
        let mut item = to_item(agent)?;
        item.insert(PK.into(), s(keys::agents_pk(&agent.org_id)));
        item.insert(SK.into(), s(keys::agent_sk(&agent.id)));
        item.insert(KIND.into(), s("agent"));
        if !create {
            let put = TransactWriteItem::builder().put(self.put(item, "attribute_exists(PK)", None)).build();
            self.transact_audited(vec![put], audit).await.map_err(|e| transaction_conflict(e, DomainError::NotFound { what: "voice agent" }))?;
            return Ok(());
        }
        let tenant = HashMap::from([(PK.to_string(), s(keys::TENANTS_PK)), (SK.to_string(), s(&agent.org_id)), (KIND.to_string(), s("tenant"))]);
        let items = vec![
            TransactWriteItem::builder().put(self.put(item, "attribute_not_exists(PK)", None)).build(),
            TransactWriteItem::builder().put(Put::builder().table_name(&self.table).set_item(Some(tenant)).build().expect("table and item are set")).build(),
        ];
        self.transact_audited(items, audit).await.map_err(|e| {
            transaction_conflict(e, DomainError::conflict(callops_domain::error::Conflict::AgentExists, format!("agent {} already exists", agent.id)))
        })?;
        Ok(())
    }

    async fn tenants(&self) -> Result<Vec<String>, DomainError> {
        Ok(self.partition_items(keys::TENANTS_PK.to_string(), None, false).await?.iter().filter_map(|item| string_attr(item, SK)).collect())
    }

    async fn get_agent(&self, org_id: &str, agent_id: &str) -> Result<Option<VoiceAgent>, DomainError> {
        self.get_item(keys::agents_pk(org_id), keys::agent_sk(agent_id)).await?.map(from_item).transpose()
    }

    async fn list_agents(&self, org_id: &str) -> Result<Vec<VoiceAgent>, DomainError> {
        let items = self.partition_items(keys::agents_pk(org_id), Some(keys::AGENT_SK_PREFIX), true).await?;
        Ok(items.into_iter().filter_map(|item| readable(item, "voice agent")).collect())
    }

    async fn slots_in_use(&self, org_id: &str, agent_id: &str) -> Result<i64, DomainError> {
        self.in_use(org_id, &keys::slots_sk(agent_id)).await
    }

    async fn outbound_in_use(&self, org_id: &str) -> Result<i64, DomainError> {
        self.in_use(org_id, keys::ROOM_SK).await
    }
}

impl DynamoStore {
    /// A counter of calls under way beside the tenant's agents.
    async fn in_use(&self, org_id: &str, sk: &str) -> Result<i64, DomainError> {
        let item = self.get_item(keys::agents_pk(org_id), sk.to_string()).await?;
        Ok(match item.as_ref().and_then(|item| item.get("inUse")) {
            Some(AttributeValue::N(text)) => text.parse().unwrap_or(0),
            _ => 0,
        })
    }
}
