//! The table: its primary key and every global secondary index, defined once.
//!
//! The local host and the tests create the table from [`create_table`]; the SAM
//! template declares the same table, and a test (`template_declares_this_table`)
//! proves the two agree. See infra/TABLE.md for which access pattern each key
//! and index serves.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use callops_domain::DomainError;

/// The base table's partition and sort key attributes.
pub const PK: &str = "PK";
pub const SK: &str = "SK";

/// One global secondary index: its name, its key attributes (both strings)
/// and what it projects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    pub name: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
    pub projection: Projected,
}

impl Index {
    /// Whether the index carries `field` (besides the keys): what a query on
    /// it may filter by. DynamoDB takes a field an index does not carry as
    /// missing, so a filter on it matches nothing rather than failing.
    pub fn carries(&self, field: &str) -> bool {
        match self.projection {
            Projected::KeysOnly => false,
            Projected::AnalyticsFields => ANALYTICS_FIELDS.contains(&field),
            Projected::Fields(fields) => fields.contains(&field),
        }
    }
}

/// What an index carries besides the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projected {
    /// Only the keys: a page of calls is fetched from the table by key.
    KeysOnly,
    /// The fields the analytics count ([`ANALYTICS_FIELDS`]), so figures are
    /// read without transcripts.
    AnalyticsFields,
    /// The keys and these few fields, which queries on the index filter or count by.
    Fields(&'static [&'static str]),
}

/// The call fields the `byAgent` and `byOrg` indexes project: exactly the
/// fields of `CallFacts` (a test keeps them equal).
pub const ANALYTICS_FIELDS: &[&str] = &[
    "id",
    "voiceAgentId",
    "callType",
    "callStartedAt",
    "outcome",
    "duration",
    "insuranceVerified",
    "paymentPlanDiscussed",
    "paymentPlanAmount",
    "collectionAttempt",
    "collectionSuccess",
    "collectionAmount",
    "costCents",
    "costBreakdown",
    "successEvaluation",
    "latency",
    "status",
    "returnedAt",
    "customerSentiment",
    "callQuality",
    "aiConfidence",
    "disclosureMissed",
];

/// A tenant's calls per voice agent, by start time.
pub const BY_AGENT: Index = Index { name: "byAgent", pk: "byAgentPk", sk: "byAgentSk", projection: Projected::AnalyticsFields };
/// A tenant's calls across its agents, by start time.
pub const BY_ORG: Index = Index { name: "byOrg", pk: "byOrgPk", sk: "byOrgSk", projection: Projected::AnalyticsFields };
/// A tenant's calls of one call type, by start (or creation) time.
pub const BY_TYPE: Index = Index { name: "byType", pk: "byTypePk", sk: "byTypeSk", projection: Projected::KeysOnly };
/// A tenant's calls with one outcome, by start time.
pub const BY_OUTCOME: Index = Index { name: "byOutcome", pk: "byOutcomePk", sk: "byOutcomeSk", projection: Projected::KeysOnly };
/// A tenant's calls in one status, by the time they last changed.
pub const BY_STATUS: Index = Index { name: "byStatus", pk: "byStatusPk", sk: "byStatusSk", projection: Projected::KeysOnly };
/// What `byCampaign` carries: enough to count a campaign's calls by status
/// and outcome, and to filter them by agent, without reading the calls.
pub const CAMPAIGN_FIELDS: &[&str] = &["voiceAgentId", "status", "outcome"];
/// What `byScheduledAt` carries: the agent, to filter the waiting calls by.
pub const SCHEDULED_FIELDS: &[&str] = &["voiceAgentId"];

/// A campaign's calls, by scheduled (or creation) time.
pub const BY_CAMPAIGN: Index = Index { name: "byCampaign", pk: "byCampaignPk", sk: "byCampaignSk", projection: Projected::Fields(CAMPAIGN_FIELDS) };
/// A tenant's calls waiting in status SCHEDULED, soonest first.
pub const BY_SCHEDULED_AT: Index =
    Index { name: "byScheduledAt", pk: "byScheduledAtPk", sk: "byScheduledAtSk", projection: Projected::Fields(SCHEDULED_FIELDS) };

/// What `byNumber` carries: the agent and the call type, to filter a number's calls by.
pub const NUMBER_FIELDS: &[&str] = &["voiceAgentId", "callType"];
/// A tenant's calls to and from one number, by start (or creation) time: a patient's calls.
pub const BY_NUMBER: Index = Index { name: "byNumber", pk: "byNumberPk", sk: "byNumberSk", projection: Projected::Fields(NUMBER_FIELDS) };

/// Not an index: the tenant's worklist of missed calls waiting to be
/// returned, a partition of the table whose sort keys have an index's shape
/// (`<startedAt>#<callId>`), read through the same paging as the indexes
/// ([`crate::store::CallQuery::Missed`]).
pub const MISSED_WORKLIST: Index = Index { name: "missedWorklist", pk: PK, sk: SK, projection: Projected::Fields(SCHEDULED_FIELDS) };

pub const INDEXES: [Index; 8] = [BY_AGENT, BY_ORG, BY_TYPE, BY_OUTCOME, BY_STATUS, BY_CAMPAIGN, BY_SCHEDULED_AT, BY_NUMBER];

fn string_attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build().expect("name and type are set")
}

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(key_type).build().expect("name and type are set")
}

/// Every attribute that is part of a key, with its type.
pub fn attribute_definitions() -> Vec<AttributeDefinition> {
    let mut names = vec![PK, SK];
    for index in INDEXES {
        names.push(index.pk);
        names.push(index.sk);
    }
    names.into_iter().map(string_attribute).collect()
}

fn included(fields: &[&str]) -> Projection {
    Projection::builder().projection_type(ProjectionType::Include).set_non_key_attributes(Some(fields.iter().map(|f| f.to_string()).collect())).build()
}

fn projection(projected: Projected) -> Projection {
    match projected {
        Projected::KeysOnly => Projection::builder().projection_type(ProjectionType::KeysOnly).build(),
        Projected::AnalyticsFields => included(ANALYTICS_FIELDS),
        Projected::Fields(fields) => included(fields),
    }
}

pub fn global_secondary_indexes() -> Vec<GlobalSecondaryIndex> {
    INDEXES
        .iter()
        .map(|index| {
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key(index.pk, KeyType::Hash))
                .key_schema(key(index.sk, KeyType::Range))
                .projection(projection(index.projection))
                .build()
                .expect("name, keys and projection are set")
        })
        .collect()
}

/// How long [`create_table`] waits for a new table to become usable.
const TABLE_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// Creates the table (on demand, like the template), or finds it created,
/// and waits until it and every index are `ACTIVE`: DynamoDB answers a
/// create at once and builds the table after (the embedded engine builds it
/// before answering). The SDK's own waiter polls every 20 seconds at the
/// least and does not look at the indexes, so this polls from 100 ms,
/// doubling to 5 s.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, table_name: &str) -> Result<(), DomainError> {
    let created = send_create_table(client, table_name).await?;
    wait_until_active(client, table_name, TABLE_WAIT).await?;
    enable_time_to_live(client, table_name, created).await
}

/// [`create_table`] on the embedded engine, which builds a table before it
/// answers the create: nothing to wait for. (Its `DescribeTable` counts
/// every item, which with a million calls stored takes seconds: a start
/// that asked it would cost what is stored.)
pub async fn create_embedded_table(client: &aws_sdk_dynamodb::Client, table_name: &str) -> Result<(), DomainError> {
    let created = send_create_table(client, table_name).await?;
    enable_time_to_live(client, table_name, created).await
}

/// Sends `CreateTable`; `true` when it created the table, `false` when it existed.
async fn send_create_table(client: &aws_sdk_dynamodb::Client, table_name: &str) -> Result<bool, DomainError> {
    let result = client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attribute_definitions()))
        .key_schema(key(PK, KeyType::Hash))
        .key_schema(key(SK, KeyType::Range))
        .set_global_secondary_indexes(Some(global_secondary_indexes()))
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(err) => match aws_sdk_dynamodb::Error::from(err) {
            aws_sdk_dynamodb::Error::ResourceInUseException(_) => Ok(false),
            other => Err(DomainError::Unavailable(format!("DynamoDB: {other}"))),
        },
    }
}

/// Turns on the table's time to live over [`TTL_ATTRIBUTE`] (audit entries
/// past their retention), as the template declares it; a table that has it already is left.
async fn enable_time_to_live(client: &aws_sdk_dynamodb::Client, table_name: &str, created: bool) -> Result<(), DomainError> {
    use aws_sdk_dynamodb::types::{TimeToLiveSpecification, TimeToLiveStatus};
    if !created {
        let described = client.describe_time_to_live().table_name(table_name).send().await.map_err(crate::item::unavailable)?;
        let status = described.time_to_live_description().and_then(|d| d.time_to_live_status().cloned());
        if matches!(status, Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)) {
            return Ok(());
        }
    }
    let spec = TimeToLiveSpecification::builder().enabled(true).attribute_name(TTL_ATTRIBUTE).build().expect("enabled and attribute are set");
    client.update_time_to_live().table_name(table_name).time_to_live_specification(spec).send().await.map_err(crate::item::unavailable)?;
    Ok(())
}

/// The attribute the table's time to live reads: epoch seconds after which DynamoDB deletes the item.
pub const TTL_ATTRIBUTE: &str = "expiresAtEpoch";

/// Polls `DescribeTable` until the table and its indexes are `ACTIVE`.
pub async fn wait_until_active(client: &aws_sdk_dynamodb::Client, table_name: &str, at_most: std::time::Duration) -> Result<(), DomainError> {
    use aws_sdk_dynamodb::types::{IndexStatus, TableStatus};
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(100);
    loop {
        let described = client.describe_table().table_name(table_name).send().await.map_err(crate::item::unavailable)?;
        let table = described.table();
        let active = table.is_some_and(|t| {
            t.table_status() == Some(&TableStatus::Active)
                && t.global_secondary_indexes().iter().all(|index| index.index_status().is_none_or(|s| *s == IndexStatus::Active))
        });
        if active {
            return Ok(());
        }
        if started.elapsed() >= at_most {
            let status = table.and_then(|t| t.table_status()).map_or("unknown", |s| s.as_str()).to_string();
            return Err(DomainError::Unavailable(format!("table {table_name} is still {status} after {} s", at_most.as_secs())));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_yaml_ng::Value;
    use std::collections::BTreeSet;

    fn template() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml");
        let text = std::fs::read_to_string(path).expect("infra/template.yaml exists");
        serde_yaml_ng::from_str(&text).expect("the template is YAML")
    }

    fn strings(value: &Value, field: &str) -> BTreeSet<(String, String)> {
        value
            .as_sequence()
            .expect("a list")
            .iter()
            .map(|entry| {
                let name = entry["AttributeName"].as_str().unwrap().to_string();
                let other = entry[field].as_str().unwrap().to_string();
                (name, other)
            })
            .collect()
    }

    #[test]
    fn the_analytics_indexes_project_exactly_the_call_facts() {
        let call = callops_domain::CallLog::new(
            callops_domain::NewCall {
                org_id: "o".into(),
                voice_agent_id: "a".into(),
                phone_number: "+15550100".into(),
                call_type: callops_domain::CallType::Inbound,
                status: callops_domain::CallStatus::Completed,
                attempt: 0,
            },
            "c".into(),
            chrono::Utc::now(),
        );
        let facts = serde_json::to_value(callops_domain::analytics::CallFacts::from(&call)).unwrap();
        let fields: BTreeSet<&str> = facts.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(fields, ANALYTICS_FIELDS.iter().copied().collect());
    }

    #[test]
    fn template_declares_this_table() {
        let template = template();
        let table = &template["Resources"]["CallOpsTable"]["Properties"];
        assert_eq!(table["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
        assert_eq!(table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(), Some(true));

        let declared = strings(&table["AttributeDefinitions"], "AttributeType");
        let ours: BTreeSet<_> = attribute_definitions().iter().map(|a| (a.attribute_name().to_string(), a.attribute_type().as_str().to_string())).collect();
        assert_eq!(declared, ours);

        let base = strings(&table["KeySchema"], "KeyType");
        assert_eq!(base, BTreeSet::from([(PK.into(), "HASH".into()), (SK.into(), "RANGE".into())]));

        let declared_indexes: BTreeSet<_> = table["GlobalSecondaryIndexes"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|gsi| {
                let keys = strings(&gsi["KeySchema"], "KeyType");
                let projection = gsi["Projection"]["ProjectionType"].as_str().unwrap().to_string();
                let fields: Vec<String> = gsi["Projection"]["NonKeyAttributes"]
                    .as_sequence()
                    .map(|f| f.iter().map(|v| v.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default();
                (gsi["IndexName"].as_str().unwrap().to_string(), keys, projection, fields)
            })
            .collect();
        let our_indexes: BTreeSet<_> = global_secondary_indexes()
            .iter()
            .map(|gsi| {
                let keys = gsi.key_schema().iter().map(|k| (k.attribute_name().to_string(), k.key_type().as_str().to_string())).collect::<BTreeSet<_>>();
                let projection = gsi.projection().unwrap();
                (gsi.index_name().to_string(), keys, projection.projection_type().unwrap().as_str().to_string(), projection.non_key_attributes().to_vec())
            })
            .collect();
        assert_eq!(declared_indexes, our_indexes);
    }
}
