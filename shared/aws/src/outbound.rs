//! What outbound calling stores besides calls: the tenant's do-not-call
//! list and its campaigns, and what is read about a campaign's calls.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue};
use callops_domain::{
    CallStatus, DomainError,
    campaign::{Campaign, CampaignStatus},
    time,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    CallQuery, DynamoStore, Page, PageRequest,
    cursor::Cursor,
    keys,
    store::{Item, KIND, from_item, put_conflict, readable, s, string_attr, to_item, unavailable},
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

/// A campaign call as the `byCampaign` index carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignCall {
    pub call_id: String,
    pub voice_agent_id: String,
    pub status: CallStatus,
    pub outcome: Option<String>,
}

const DO_NOT_CALL_CURSOR: &str = "doNotCall";

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

fn do_not_call_entry(item: &Item) -> DoNotCallEntry {
    DoNotCallEntry {
        phone_number: string_attr(item, SK).unwrap_or_default(),
        reason: string_attr(item, "reason"),
        added_at: string_attr(item, "addedAt").unwrap_or_default(),
    }
}

impl DynamoStore {
    /// Puts a number on the tenant's list. `true` when it was not there yet;
    /// a number already listed keeps its first time and reason.
    pub async fn add_do_not_call(&self, org_id: &str, number: &str, reason: Option<&str>, at: DateTime<Utc>) -> Result<(DoNotCallEntry, bool), DomainError> {
        check_entry(number, reason)?;
        let mut expression = "SET #kind = :kind, #added = if_not_exists(#added, :at)".to_string();
        let mut update = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(keys::do_not_call_pk(org_id)))
            .key(SK, s(number))
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_names("#added", "addedAt")
            .expression_attribute_values(":kind", s("doNotCall"))
            .expression_attribute_values(":at", s(time::format(&at)))
            .return_values(ReturnValue::AllOld);
        if let Some(reason) = reason {
            expression.push_str(", #reason = if_not_exists(#reason, :reason)");
            update = update.expression_attribute_names("#reason", "reason").expression_attribute_values(":reason", s(reason));
        }
        let update = update.update_expression(expression);
        let output = update.send().await.map_err(unavailable)?;
        // No old item: DynamoDB returns no attributes (some engines just the key).
        let old = output.attributes.filter(|old| old.contains_key(KIND));
        let created = old.is_none();
        let entry = match old {
            Some(old) => do_not_call_entry(&old),
            None => DoNotCallEntry { phone_number: number.into(), reason: reason.map(str::to_string), added_at: time::format(&at) },
        };
        Ok((entry, created))
    }

    /// Takes a number off the tenant's list; `NotFound` when it was not on it.
    pub async fn remove_do_not_call(&self, org_id: &str, number: &str) -> Result<(), DomainError> {
        let output = self
            .client()
            .delete_item()
            .table_name(self.table())
            .key(PK, s(keys::do_not_call_pk(org_id)))
            .key(SK, s(number))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        match output.attributes.filter(|old| old.contains_key(KIND)) {
            Some(_) => Ok(()),
            None => Err(DomainError::NotFound { what: "do-not-call entry" }),
        }
    }

    /// A page of the tenant's list, in number order.
    pub async fn list_do_not_call(&self, org_id: &str, limit: usize, cursor: Option<&str>) -> Result<Page<DoNotCallEntry>, DomainError> {
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

    /// Which of `numbers` are on the tenant's list (100 keys a request).
    pub async fn do_not_call_among(&self, org_id: &str, numbers: &[String]) -> Result<HashSet<String>, DomainError> {
        let unique: Vec<&String> = numbers.iter().collect::<HashSet<_>>().into_iter().collect();
        let mut listed = HashSet::new();
        for chunk in unique.chunks(100) {
            let keys: Vec<Item> =
                chunk.iter().map(|number| HashMap::from([(PK.to_string(), s(keys::do_not_call_pk(org_id))), (SK.to_string(), s(number.as_str()))])).collect();
            let request =
                KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build().map_err(|e| DomainError::Unavailable(e.to_string()))?;
            for item in self.batch_get(request).await? {
                listed.extend(string_attr(&item, SK));
            }
        }
        Ok(listed)
    }

    /// Stores a new campaign (with the fingerprint of the request that made
    /// it, when it came with an `Idempotency-Key`); `Conflict` when the id is taken.
    pub async fn create_campaign(&self, campaign: &Campaign, fingerprint: Option<&str>) -> Result<(), DomainError> {
        campaign.check_storable()?;
        let mut item = to_item(campaign)?;
        item.insert(PK.into(), s(keys::campaigns_pk(&campaign.org_id)));
        item.insert(SK.into(), s(keys::campaign_sk(&campaign.id)));
        item.insert(KIND.into(), s("campaign"));
        if let Some(fingerprint) = fingerprint {
            item.insert("fingerprint".into(), s(fingerprint));
        }
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(|e| put_conflict(e, DomainError::conflict("campaign_exists", format!("campaign {} already exists", campaign.id))))?;
        Ok(())
    }

    /// A campaign, and the fingerprint of the request that created it.
    pub async fn get_campaign(&self, org_id: &str, campaign_id: &str) -> Result<Option<(Campaign, Option<String>)>, DomainError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .key(PK, s(keys::campaigns_pk(org_id)))
            .key(SK, s(keys::campaign_sk(campaign_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        match output.item {
            Some(item) => {
                let fingerprint = string_attr(&item, "fingerprint");
                Ok(Some((from_item(item)?, fingerprint)))
            }
            None => Ok(None),
        }
    }

    /// A tenant's campaigns, oldest id first.
    pub async fn list_campaigns(&self, org_id: &str) -> Result<Vec<Campaign>, DomainError> {
        let mut pages = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(keys::campaigns_pk(org_id)))
            .expression_attribute_values(":prefix", s(keys::CAMPAIGN_SK_PREFIX))
            .into_paginator()
            .send();
        let mut campaigns = Vec::new();
        while let Some(page) = pages.next().await {
            campaigns.extend(page.map_err(unavailable)?.items.unwrap_or_default().into_iter().filter_map(|item| readable(item, "campaign")));
        }
        Ok(campaigns)
    }

    /// Marks a campaign cancelled (so nothing more of it is dialed).
    pub async fn cancel_campaign(&self, org_id: &str, campaign_id: &str, at: DateTime<Utc>) -> Result<(), DomainError> {
        self.client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(keys::campaigns_pk(org_id)))
            .key(SK, s(keys::campaign_sk(campaign_id)))
            .update_expression("SET #status = :cancelled, #updated = :at")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#updated", "updatedAt")
            .expression_attribute_values(":cancelled", AttributeValue::S(status_name(CampaignStatus::Cancelled)))
            .expression_attribute_values(":at", s(time::format(&at)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Every call of a campaign, from the `byCampaign` index alone.
    pub async fn campaign_calls(&self, org_id: &str, campaign_id: &str, only_status: Option<CallStatus>) -> Result<Vec<CampaignCall>, DomainError> {
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

fn status_name(status: CampaignStatus) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}
