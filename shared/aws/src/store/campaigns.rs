//! Campaigns, and what the `byCampaign` index says of their calls.

use aws_sdk_dynamodb::types::AttributeValue;
use callops_domain::{
    CallStatus, DomainError,
    campaign::{Campaign, CampaignStatus},
    time,
};
use chrono::{DateTime, Utc};

use super::{
    DynamoStore,
    query::{CallQuery, PageRequest},
};
use crate::{
    item::*,
    keys,
    table::{PK, SK},
};

/// A campaign call as the `byCampaign` index carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignCall {
    pub call_id: String,
    pub voice_agent_id: String,
    pub status: CallStatus,
    pub outcome: Option<String>,
}

/// Campaigns and their calls.
#[allow(async_fn_in_trait)] // Implemented by DynamoStore alone and called on it: its futures are known, and Send.
pub trait CampaignStore {
    /// Stores a new campaign (with the fingerprint of the request that made
    /// it, when it came with an `Idempotency-Key`); `Conflict` when the id is taken.
    async fn create_campaign(
        &self,
        campaign: &Campaign,
        fingerprint: Option<&str>,
        audit: &callops_domain::records::audit::AuditEntry,
    ) -> Result<(), DomainError>;

    /// A campaign, and the fingerprint of the request that created it.
    async fn get_campaign(&self, org_id: &str, campaign_id: &str) -> Result<Option<(Campaign, Option<String>)>, DomainError>;

    /// A tenant's campaigns, oldest id first.
    async fn list_campaigns(&self, org_id: &str) -> Result<Vec<Campaign>, DomainError>;

    /// Marks a campaign cancelled (so nothing more of it is dialed).
    async fn cancel_campaign(
        &self,
        org_id: &str,
        campaign_id: &str,
        at: DateTime<Utc>,
        audit: &callops_domain::records::audit::AuditEntry,
    ) -> Result<(), DomainError>;

    /// Writes `next`'s status, `endAt` and time over `previous`, with its
    /// audit entry, if the stored campaign is still in `previous`'s status;
    /// `Conflict::CampaignNotActive` when another change came first.
    async fn change_campaign(&self, previous: &Campaign, next: &Campaign, audit: &callops_domain::records::audit::AuditEntry) -> Result<(), DomainError>;

    /// Every call of a campaign, from the `byCampaign` index alone.
    async fn campaign_calls(&self, org_id: &str, campaign_id: &str, only_status: Option<CallStatus>) -> Result<Vec<CampaignCall>, DomainError>;
}

impl CampaignStore for DynamoStore {
    async fn create_campaign(
        &self,
        campaign: &Campaign,
        fingerprint: Option<&str>,
        audit: &callops_domain::records::audit::AuditEntry,
    ) -> Result<(), DomainError> {
        campaign.check_storable()?;
        let mut item = to_item(campaign)?;
        item.insert(PK.into(), s(keys::campaigns_pk(&campaign.org_id)));
        item.insert(SK.into(), s(keys::campaign_sk(&campaign.id)));
        item.insert(KIND.into(), s("campaign"));
        if let Some(fingerprint) = fingerprint {
            item.insert("fingerprint".into(), s(fingerprint));
        }
        let put = aws_sdk_dynamodb::types::TransactWriteItem::builder().put(self.put(item, "attribute_not_exists(PK)", None)).build();
        self.transact_audited(vec![put], audit).await.map_err(|e| {
            transaction_conflict(e, DomainError::conflict(callops_domain::error::Conflict::CampaignExists, format!("campaign {} already exists", campaign.id)))
        })?;
        Ok(())
    }

    async fn get_campaign(&self, org_id: &str, campaign_id: &str) -> Result<Option<(Campaign, Option<String>)>, DomainError> {
        match self.get_item(keys::campaigns_pk(org_id), keys::campaign_sk(campaign_id)).await? {
            Some(item) => {
                let fingerprint = string_attr(&item, "fingerprint");
                Ok(Some((from_item(item)?, fingerprint)))
            }
            None => Ok(None),
        }
    }

    async fn list_campaigns(&self, org_id: &str) -> Result<Vec<Campaign>, DomainError> {
        let items = self.partition_items(keys::campaigns_pk(org_id), Some(keys::CAMPAIGN_SK_PREFIX), false).await?;
        Ok(items.into_iter().filter_map(|item| readable(item, "campaign")).collect())
    }

    async fn cancel_campaign(
        &self,
        org_id: &str,
        campaign_id: &str,
        at: DateTime<Utc>,
        audit: &callops_domain::records::audit::AuditEntry,
    ) -> Result<(), DomainError> {
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(self.table())
            .key(PK, s(keys::campaigns_pk(org_id)))
            .key(SK, s(keys::campaign_sk(campaign_id)))
            .update_expression("SET #status = :cancelled, #updated = :at")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#updated", "updatedAt")
            .expression_attribute_values(":cancelled", AttributeValue::S(status_name(CampaignStatus::Cancelled)))
            .expression_attribute_values(":at", s(time::format(&at)))
            .build()
            .expect("table, key and expression are set");
        let items = vec![aws_sdk_dynamodb::types::TransactWriteItem::builder().update(update).build()];
        self.transact_audited(items, audit).await.map_err(|e| transaction_conflict(e, DomainError::NotFound { what: "campaign" }))?;
        Ok(())
    }

    async fn change_campaign(&self, previous: &Campaign, next: &Campaign, audit: &callops_domain::records::audit::AuditEntry) -> Result<(), DomainError> {
        next.check_storable()?;
        let [was, was_stored] = previous.status.stored_names();
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(self.table())
            .key(PK, s(keys::campaigns_pk(&previous.org_id)))
            .key(SK, s(keys::campaign_sk(&previous.id)))
            .condition_expression("attribute_exists(PK) AND #status IN (:was, :was_stored)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#updated", "updatedAt")
            .expression_attribute_names("#end", "endAt")
            .expression_attribute_values(":was", s(was))
            .expression_attribute_values(":was_stored", s(was_stored))
            .expression_attribute_values(":status", AttributeValue::S(status_name(next.status)))
            .expression_attribute_values(":at", s(time::format(&next.updated_at)));
        let update = match next.end_at {
            Some(end) => {
                update.update_expression("SET #status = :status, #updated = :at, #end = :end").expression_attribute_values(":end", s(time::format(&end)))
            }
            None => update.update_expression("SET #status = :status, #updated = :at REMOVE #end"),
        };
        let items = vec![aws_sdk_dynamodb::types::TransactWriteItem::builder().update(update.build().expect("table, key and expression are set")).build()];
        self.transact_audited(items, audit).await.map_err(|e| {
            transaction_conflict(
                e,
                DomainError::conflict(
                    callops_domain::error::Conflict::CampaignNotActive,
                    format!("campaign {} changed since it was read: try again", previous.id),
                ),
            )
        })?;
        Ok(())
    }

    async fn campaign_calls(&self, org_id: &str, campaign_id: &str, only_status: Option<CallStatus>) -> Result<Vec<CampaignCall>, DomainError> {
        let query = CallQuery::ByCampaign(campaign_id.to_string());
        let mut calls = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let request = PageRequest { cursor: cursor.as_deref(), only_status, ..PageRequest::new(&query, crate::store::MAX_PAGE) };
            let page = self.query_index(org_id, &request).await?;
            for item in &page.items {
                let call_id = string_attr(item, PK).and_then(|pk| pk.rsplit_once("#CALL#").map(|(_, id)| id.to_string()));
                let status = string_attr(item, "status").and_then(|st| st.parse().ok());
                if let (Some(call_id), Some(status)) = (call_id, status) {
                    calls.push(CampaignCall {
                        call_id,
                        voice_agent_id: string_attr(item, "voiceAgentId").unwrap_or_default(),
                        status,
                        outcome: string_attr(item, "outcome"),
                    });
                }
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(calls),
            }
        }
    }
}

pub(crate) fn status_name(status: CampaignStatus) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}
