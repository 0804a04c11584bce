//! Calls: one item each (with its revision), the pointer from a Vapi call
//! id to it, written and read.

use std::collections::HashMap;

use aws_sdk_dynamodb::{
    operation::transact_write_items::TransactWriteItemsError,
    types::{KeysAndAttributes, Put, PutRequest, TransactWriteItem, WriteRequest},
};
use callops_domain::{CallLog, DomainError, error::Conflict};
use futures::StreamExt;

use super::{
    DynamoStore, StoredCall,
    call_item::{call_item, read_call_item, stored_call, vapi_pointer_item},
    effects::AlongWithCall,
    missed::RETURNED_WITH_THE_CALL,
};
use crate::{
    item::*,
    keys,
    table::{PK, SK},
};

/// How many transactions of new calls run at once.
const NEW_CALL_TRANSACTIONS: usize = 4;

/// Calls: written, read by id or Vapi id, created in bulk, scanned.
#[allow(async_fn_in_trait)] // Implemented by DynamoStore alone and called on it: its futures are known, and Send.
pub trait CallStore {
    /// Stores a new call, and claims its Vapi call id when it has one, in one
    /// transaction. `Conflict` when the id or the Vapi call id is taken.
    async fn create_call(&self, call: &CallLog) -> Result<StoredCall, DomainError>;

    /// `create_call`, with more writes in the same transaction.
    async fn create_call_with(&self, call: &CallLog, also: &[AlongWithCall]) -> Result<StoredCall, DomainError>;

    /// Replaces a stored call with `next`, provided nobody wrote it since
    /// `previous` was read. A Vapi call id set for the first time is claimed
    /// in the same transaction.
    async fn update_call(&self, previous: &StoredCall, next: &CallLog) -> Result<StoredCall, DomainError>;

    /// `update_call`, with more writes in the same transaction.
    async fn update_call_with(&self, previous: &StoredCall, next: &CallLog, also: &[AlongWithCall]) -> Result<StoredCall, DomainError>;

    async fn get_call(&self, org_id: &str, call_id: &str) -> Result<Option<StoredCall>, DomainError>;

    /// The call that Vapi knows as `vapi_call_id`, within the tenant.
    async fn find_call_by_vapi_id(&self, org_id: &str, vapi_call_id: &str) -> Result<Option<StoredCall>, DomainError>;

    /// A tenant's calls by id (those that exist and parse), with their
    /// revisions, read consistently from the table, 100 to a request.
    async fn calls_by_id(&self, org_id: &str, ids: &[String]) -> Result<HashMap<String, StoredCall>, DomainError>;

    /// Stores calls that have not started (a campaign's), each only if no
    /// call with its id exists, with what each write brings ([`super::effects`]:
    /// a waiting call's planned attempt): as many as fit one transaction of 100 items, and one by one
    /// for a transaction one of whose calls exists already (a replayed
    /// request racing the first). Returns the ids of the calls stored. A
    /// call that has not started counts in no rollup, so none changes.
    async fn create_new_calls(&self, calls: &[CallLog]) -> Result<Vec<String>, DomainError>;

    /// Changes many waiting calls at once (a campaign's, paused, resumed or
    /// ended), each from its stored revision to its next state with what
    /// its write brings ([`super::effects`]) and the writes asked for it
    /// (its audit entry): as many calls as fit one transaction of 100
    /// items, a few transactions at once, and one by one for a transaction
    /// one of whose calls changed since it was read. Each call's outcome, in order.
    async fn update_calls(&self, changes: &[(StoredCall, CallLog, Vec<AlongWithCall>)]) -> Result<Vec<Result<StoredCall, DomainError>>, DomainError>;

    /// Writes calls in batches, unconditionally and without touching the
    /// rollups: for bulk loads, which rebuild the rollups afterwards.
    async fn bulk_put_calls(&self, calls: &[CallLog]) -> Result<(), DomainError>;

    /// Every call in the table, all tenants (operator tasks); an item that
    /// does not parse is logged and left out.
    async fn all_calls(&self) -> Result<Vec<CallLog>, DomainError>;

    /// Every call in the table, all tenants, and every call item that does not parse.
    async fn scan_calls(&self) -> Result<(Vec<CallLog>, Vec<Unreadable>), DomainError>;

    /// The fingerprint of the request that created a call under an
    /// `Idempotency-Key`, if one did.
    async fn request_fingerprint(&self, org_id: &str, call_id: &str) -> Result<Option<String>, DomainError>;
}

impl DynamoStore {
    /// One transaction of [`CallStore::update_calls`]'s (the changes at `group`), or each alone when one of them changed since it was read.
    async fn calls_updated(
        &self,
        changes: &[(StoredCall, CallLog, Vec<AlongWithCall>)],
        group: &[usize],
        items: Vec<TransactWriteItem>,
    ) -> Result<Vec<Result<StoredCall, DomainError>>, DomainError> {
        let written = |i: &usize| StoredCall { call: changes[*i].1.clone(), revision: changes[*i].0.revision + 1 };
        match self.transact(items).await {
            Ok(()) => Ok(group.iter().map(|i| Ok(written(i))).collect()),
            Err(err) if failed_condition(&err) => {
                let mut each = Vec::with_capacity(group.len());
                for i in group {
                    let (previous, next, also) = &changes[*i];
                    each.push(self.update_call_with(previous, next, also).await);
                }
                Ok(each)
            }
            Err(err) => Err(unavailable(err)),
        }
    }
}

impl CallStore for DynamoStore {
    async fn create_call(&self, call: &CallLog) -> Result<StoredCall, DomainError> {
        self.create_call_with(call, &[]).await
    }

    async fn create_call_with(&self, call: &CallLog, also: &[AlongWithCall]) -> Result<StoredCall, DomainError> {
        let put_call = self.put(call_item(call, 1)?, "attribute_not_exists(PK)", None);
        // A connection returns the number's missed calls: the newest few in this transaction, the rest right after.
        let mut returns = self.returns(None, call).await?;
        let rest = returns.split_off(returns.len().min(RETURNED_WITH_THE_CALL));
        let items = self.call_transaction_coded(None, call, put_call, also, &returns)?.into_iter().map(|(item, _)| item).collect();
        self.transact(items).await.map_err(|e| {
            transaction_conflict(e, DomainError::conflict(callops_domain::error::Conflict::CallExists, format!("call {} already exists", call.id)))
        })?;
        self.return_the_rest(&rest).await;
        Ok(StoredCall { call: call.clone(), revision: 1 })
    }

    async fn update_call(&self, previous: &StoredCall, next: &CallLog) -> Result<StoredCall, DomainError> {
        self.update_call_with(previous, next, &[]).await
    }

    async fn update_call_with(&self, previous: &StoredCall, next: &CallLog, also: &[AlongWithCall]) -> Result<StoredCall, DomainError> {
        if previous.call.id != next.id || previous.call.org_id != next.org_id {
            return Err(DomainError::Unavailable("update_call got two different calls".into()));
        }
        let revision = previous.revision + 1;
        let put_call = self.put(call_item(next, revision)?, "#rev = :rev", Some(previous.revision));
        // A connection returns the number's missed calls: the newest few in this transaction, the rest right after.
        let mut returns = self.returns(Some(&previous.call), next).await?;
        let rest = returns.split_off(returns.len().min(RETURNED_WITH_THE_CALL));
        let (items, codes): (Vec<_>, Vec<_>) = self.call_transaction_coded(Some(&previous.call), next, put_call, also, &returns)?.into_iter().unzip();
        self.transact(items).await.map_err(|e| {
            // The call's own condition comes first; a failed condition of the slot or the ledger has its own code.
            if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = e.as_service_error() {
                let failed: Vec<bool> = cancelled.cancellation_reasons().iter().map(|r| r.code() == Some("ConditionalCheckFailed")).collect();
                let coded = failed.iter().zip(&codes).skip(1).find_map(|(failed, code)| code.filter(|_| *failed));
                match (failed.first(), coded) {
                    (Some(false), Some(kind @ Conflict::NoFreeSlot)) => {
                        return DomainError::conflict(kind, format!("agent {} has no free slot", next.voice_agent_id));
                    }
                    (Some(false), Some(kind @ Conflict::ConcurrencyReserved)) => {
                        return DomainError::conflict(kind, "the practice's outbound calls fill the room its Vapi account leaves after the inbound reserve");
                    }
                    (Some(false), Some(kind @ Conflict::CampaignNotActive)) => {
                        return DomainError::conflict(kind, format!("call {}'s campaign is no longer active", next.id));
                    }
                    (Some(false), Some(kind)) => {
                        return DomainError::conflict(kind, format!("the attempts to call {}'s number changed since they were read", next.id));
                    }
                    _ => {}
                }
            }
            transaction_conflict(e, DomainError::conflict(callops_domain::error::Conflict::CallChanged, format!("call {} changed since it was read", next.id)))
        })?;
        self.return_the_rest(&rest).await;
        Ok(StoredCall { call: next.clone(), revision })
    }

    async fn get_call(&self, org_id: &str, call_id: &str) -> Result<Option<StoredCall>, DomainError> {
        self.get_item(keys::call_pk(org_id, call_id), keys::CALL_SK).await?.map(stored_call).transpose()
    }

    async fn find_call_by_vapi_id(&self, org_id: &str, vapi_call_id: &str) -> Result<Option<StoredCall>, DomainError> {
        let pointer = self.get_item(keys::vapi_call_pk(org_id, vapi_call_id), keys::VAPI_CALL_SK).await?;
        match pointer.as_ref().and_then(|item| string_attr(item, "callId")) {
            Some(call_id) => self.get_call(org_id, &call_id).await,
            None => Ok(None),
        }
    }

    async fn calls_by_id(&self, org_id: &str, ids: &[String]) -> Result<HashMap<String, StoredCall>, DomainError> {
        let keys: Vec<String> = ids.iter().map(|id| keys::call_pk(org_id, id)).collect();
        Ok(self.batch_get_calls(&keys, true).await?.into_values().map(|stored| (stored.call.id.to_string(), stored)).collect())
    }

    async fn create_new_calls(&self, calls: &[CallLog]) -> Result<Vec<String>, DomainError> {
        if let Some(started) = calls.iter().find(|call| call.call_started_at.is_some()) {
            return Err(DomainError::Unavailable(format!("call {} has started; store it with create_call", started.id)));
        }
        let mut created = Vec::with_capacity(calls.len());
        // Each call with what its write brings (a waiting call's planned attempt): never split across transactions.
        let mut writes = Vec::with_capacity(calls.len());
        for call in calls {
            writes.push(self.call_transaction(None, call, self.put(call_item(call, 1)?, "attribute_not_exists(PK)", None), &[])?);
        }
        let per_call = writes.iter().map(Vec::len).max().unwrap_or(1).max(1);
        // Transactions of distinct calls touch distinct items: a few at once (in AWS each is a round trip).
        let call_chunks: Vec<&[CallLog]> = calls.chunks(100 / per_call).collect();
        let item_chunks: Vec<Vec<TransactWriteItem>> = writes.chunks(100 / per_call).map(|items| items.iter().flatten().cloned().collect()).collect();
        let (call_chunks, item_chunks) = (&call_chunks, &item_chunks);
        let written: Vec<Result<Vec<String>, DomainError>> = futures::stream::iter(0..call_chunks.len())
            .map(|index| async move {
                let chunk = call_chunks[index];
                match self.transact(item_chunks[index].clone()).await {
                    Ok(()) => Ok(chunk.iter().map(|call| call.id.to_string()).collect()),
                    Err(err) if failed_condition(&err) => {
                        let mut created = Vec::new();
                        for call in chunk {
                            match self.create_call(call).await {
                                Ok(_) => created.push(call.id.to_string()),
                                Err(DomainError::Conflict { .. }) => {}
                                Err(other) => return Err(other),
                            }
                        }
                        Ok(created)
                    }
                    Err(err) => Err(unavailable(err)),
                }
            })
            .buffered(NEW_CALL_TRANSACTIONS)
            .collect()
            .await;
        for chunk in written {
            created.extend(chunk?);
        }
        Ok(created)
    }

    async fn update_calls(&self, changes: &[(StoredCall, CallLog, Vec<AlongWithCall>)]) -> Result<Vec<Result<StoredCall, DomainError>>, DomainError> {
        let mut writes = Vec::with_capacity(changes.len());
        for (previous, next, also) in changes {
            if previous.call.call_started_at.is_some() || next.call_started_at.is_some() {
                return Err(DomainError::Unavailable(format!("call {} has started; change it with update_call_with", next.id)));
            }
            let put = self.put(call_item(next, previous.revision + 1)?, "#rev = :rev", Some(previous.revision));
            writes.push(self.call_transaction(Some(&previous.call), next, put, also)?);
        }
        let per_call = writes.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let indexes: Vec<usize> = (0..changes.len()).collect();
        // Room is left for the audit chain's head, which a transaction with audit entries moves.
        let groups: Vec<&[usize]> = indexes.chunks((99 / per_call).max(1)).collect();
        let mut all = Vec::with_capacity(changes.len());
        // One transaction at a time: each moves the tenant's audit chain head, so more at once only wait on each other.
        // Boxed, so callers' futures stay Send across the store's own async calls.
        for batch in groups.chunks(1) {
            let sent: Vec<_> = batch
                .iter()
                .map(|group| {
                    let items: Vec<TransactWriteItem> = group.iter().flat_map(|i| writes[*i].iter().cloned()).collect();
                    Box::pin(self.calls_updated(changes, group, items))
                })
                .collect();
            for outcome in futures::future::try_join_all(sent).await? {
                all.extend(outcome);
            }
        }
        Ok(all)
    }

    async fn bulk_put_calls(&self, calls: &[CallLog]) -> Result<(), DomainError> {
        let mut requests = Vec::with_capacity(calls.len() * 2);
        for call in calls {
            requests.push(call_item(call, 1)?);
            requests.extend(vapi_pointer_item(call));
        }
        for chunk in requests.chunks(25) {
            let mut pending = Vec::with_capacity(chunk.len());
            for item in chunk {
                let put = PutRequest::builder().set_item(Some(item.clone())).build().map_err(|e| DomainError::Unavailable(e.to_string()))?;
                pending.push(WriteRequest::builder().put_request(put).build());
            }
            self.write_batch(pending).await?;
        }
        Ok(())
    }

    async fn all_calls(&self) -> Result<Vec<CallLog>, DomainError> {
        Ok(self.scan_calls().await?.0)
    }

    async fn scan_calls(&self) -> Result<(Vec<CallLog>, Vec<Unreadable>), DomainError> {
        let (mut calls, mut unreadable) = (Vec::new(), Vec::new());
        self.scan_kind("call", |item| {
            match read_call_item(item) {
                Ok(call) => calls.push(call),
                Err(found) => unreadable.push(found),
            }
            Ok(())
        })
        .await?;
        Ok((calls, unreadable))
    }

    async fn request_fingerprint(&self, org_id: &str, call_id: &str) -> Result<Option<String>, DomainError> {
        Ok(self.get_item(keys::call_pk(org_id, call_id), keys::IDEMPOTENCY_SK).await?.as_ref().and_then(|item| string_attr(item, "fingerprint")))
    }
}

impl DynamoStore {
    pub(crate) fn vapi_pointer(&self, call: &CallLog) -> Option<Put> {
        Some(self.put(vapi_pointer_item(call)?, "attribute_not_exists(PK)", None))
    }

    /// Full calls by their partition keys, as a map from key to call, 100
    /// keys a request; `consistent` reads what the last write left. A call
    /// that does not parse is logged and left out.
    pub(crate) async fn batch_get_calls(&self, call_pks: &[String], consistent: bool) -> Result<HashMap<String, StoredCall>, DomainError> {
        let mut calls = HashMap::with_capacity(call_pks.len());
        for chunk in call_pks.chunks(100) {
            let keys: Vec<Item> = chunk.iter().map(|pk| HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(keys::CALL_SK))])).collect();
            let request =
                KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(consistent).build().map_err(|e| DomainError::Unavailable(e.to_string()))?;
            for item in self.batch_get(request).await? {
                let Some(pk) = string_attr(&item, PK) else { continue };
                let key = ItemKey::of(&item);
                match stored_call(item) {
                    Ok(stored) => {
                        calls.insert(pk, stored);
                    }
                    Err(err) => key.unreadable(&err).log("call"),
                }
            }
        }
        Ok(calls)
    }
}
