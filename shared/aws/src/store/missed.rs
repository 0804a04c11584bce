//! Missed calls that wait to be returned ([`callops_domain::analytics::missed`]): two
//! small marks each ([`keys::missed_marks_of`]), written and removed in the
//! transaction of the call write that makes or ends the wait
//! ([`super::effects`]). The tenant's marks, sorted by start, are the
//! worklist ([`CallQuery::Missed`]); the marks at a number are what the write
//! of a later connected call with the number reads to return them, in its
//! own transaction.

use aws_sdk_dynamodb::types::{Delete, Put};
use callops_domain::{CallLog, DomainError, analytics::missed};

use super::{DynamoStore, StoredCall};
use crate::{
    item::*,
    keys,
    table::{PK, SK},
};

pub(crate) const MARK_KIND: &str = "missedMark";
const CALL_ID: &str = "callId";

/// The most missed calls a connected call returns in its own transaction:
/// each takes its call, its two marks and some rollup items of its own
/// (about 11 writes), beside the connected call's own (about 25), and a
/// transaction takes 100. Any more are returned right after, one
/// transaction each.
pub const RETURNED_WITH_THE_CALL: usize = 5;

/// A missed call, as read, and as the connected call returns it.
pub(crate) type Return = (StoredCall, CallLog);

impl DynamoStore {
    /// The put of one mark of a missed call waiting to be returned.
    pub(crate) fn missed_mark(&self, call: &CallLog, pk: String, sk: String) -> Put {
        let item = std::collections::HashMap::from([
            (PK.to_string(), s(pk)),
            (SK.to_string(), s(sk)),
            (KIND.to_string(), s(MARK_KIND)),
            (CALL_ID.to_string(), s(call.id.as_str())),
            ("voiceAgentId".to_string(), s(call.voice_agent_id.as_str())),
        ]);
        Put::builder().table_name(&self.table).set_item(Some(item)).build().expect("table and item are set")
    }

    /// The delete of one mark.
    pub(crate) fn missed_unmark(&self, pk: String, sk: String) -> Delete {
        Delete::builder().table_name(&self.table).key(PK, s(pk)).key(SK, s(sk)).build().expect("table and key are set")
    }

    /// The missed calls writing `next` over `previous` returns: when the
    /// write makes a connection, those of the number's marks that started
    /// before it, read consistently, newest first.
    pub(crate) async fn returns(&self, previous: Option<&CallLog>, next: &CallLog) -> Result<Vec<Return>, DomainError> {
        let Some(started) = next.call_started_at.filter(|_| missed::connects(previous, next) && missed::returnable(&next.phone_number)) else {
            return Ok(Vec::new());
        };
        let prefix = keys::MISSED_PREFIX;
        let mut marks = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(keys::ledger_pk(&next.org_id, &next.phone_number)))
            .expression_attribute_values(":from", s(prefix))
            .expression_attribute_values(":to", s(format!("{prefix}{}", callops_domain::time::format(&started))))
            .consistent_read(true)
            .scan_index_forward(false)
            .into_paginator()
            .send();
        // Every page: marks are small, but a number may have missed many calls since it last connected.
        let mut call_pks = Vec::new();
        while let Some(page) = marks.next().await {
            let page = page.map_err(unavailable)?;
            call_pks.extend(page.items().iter().filter_map(|mark| string_attr(mark, CALL_ID)).map(|call_id| keys::call_pk(&next.org_id, &call_id)));
        }
        if call_pks.is_empty() {
            return Ok(Vec::new());
        }
        let mut stored = self.batch_get_calls(&call_pks, true).await?;
        Ok(call_pks
            .iter()
            .filter_map(|pk| stored.remove(pk))
            .filter_map(|missed_call| missed::returned_by(&missed_call.call, next).map(|returned| (missed_call, returned)))
            .collect())
    }

    /// Returns, one transaction each, the missed calls a connection returns
    /// beyond those its own transaction took. One that changed meanwhile is
    /// left to the next connection with the number (and logged).
    pub(crate) async fn return_the_rest(&self, rest: &[Return]) {
        for (stored, returned) in rest {
            let written = match self.put_returned(stored, returned) {
                Ok(items) => self.transact(items).await.map_err(unavailable),
                Err(err) => Err(err),
            };
            if let Err(err) = written {
                tracing::warn!(call_id = %stored.call.id, error = %err, "a missed call was not marked returned; the next connected call with its number returns it");
            }
        }
    }

    /// The transaction that writes `returned` over `stored`, on its revision.
    fn put_returned(&self, stored: &StoredCall, returned: &CallLog) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>, DomainError> {
        let put = self.put(super::call_item::call_item(returned, stored.revision + 1)?, "#rev = :rev", Some(stored.revision));
        self.call_transaction(Some(&stored.call), returned, put, &[])
    }
}
