//! The reads planned for structured outputs that calls still await
//! ([`callops_domain::call::measures::AwaitedOutput`]): one small item per
//! waiting call in the tenant's `OUTPUTS` partition, sorted by when the
//! read is due, written and removed in the transaction of the call write
//! that starts or ends the wait ([`super::effects`]). The reconciler reads
//! the due ones, so its cost follows the calls waiting, not all calls.

use aws_sdk_dynamodb::types::{Delete, Put};
use callops_domain::{CallId, CallLog, DomainError, time};
use chrono::{DateTime, Utc};

use super::DynamoStore;
use crate::{
    item::*,
    keys,
    table::{PK, SK},
};

const WATCH_KIND: &str = "outputWatch";
const CALL_ID: &str = "callId";

/// Ended calls awaiting a structured output.
#[allow(async_fn_in_trait)] // Implemented by DynamoStore alone and called on it: its futures are known, and Send.
pub trait AwaitedOutputStore {
    /// The calls of `org_id` whose planned read is due at `now`, soonest first, at most `limit`.
    async fn calls_awaiting_output(&self, org_id: &str, now: DateTime<Utc>, limit: usize) -> Result<Vec<CallId>, DomainError>;
}

impl AwaitedOutputStore for DynamoStore {
    async fn calls_awaiting_output(&self, org_id: &str, now: DateTime<Utc>, limit: usize) -> Result<Vec<CallId>, DomainError> {
        // Sort keys are `<due>#<call id>`: everything before `<now>$` ('$' follows '#') is due.
        let bound = format!("{}$", time::format(&now));
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk < :bound")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(keys::output_watch_pk(org_id)))
            .expression_attribute_values(":bound", s(bound))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(unavailable)?;
        self.meter.record(output.consumed_capacity.as_ref());
        Ok(output
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|mut item| match item.remove(CALL_ID) {
                Some(aws_sdk_dynamodb::types::AttributeValue::S(id)) => Some(id.into()),
                _ => None,
            })
            .collect())
    }
}

impl DynamoStore {
    /// The put that plans the read for the output `call` awaits.
    pub(crate) fn output_watch(&self, call: &CallLog) -> Option<Put> {
        let (pk, sk) = keys::output_watch_of(call)?;
        let item = std::collections::HashMap::from([
            (PK.to_string(), s(pk)),
            (SK.to_string(), s(sk)),
            (KIND.to_string(), s(WATCH_KIND)),
            (CALL_ID.to_string(), s(call.id.as_str())),
        ]);
        Some(Put::builder().table_name(&self.table).set_item(Some(item)).build().expect("table and item are set"))
    }

    /// The delete that forgets a planned read.
    pub(crate) fn output_unwatch(&self, pk: String, sk: String) -> Delete {
        Delete::builder().table_name(&self.table).key(PK, s(pk)).key(SK, s(sk)).build().expect("table and key are set")
    }
}
