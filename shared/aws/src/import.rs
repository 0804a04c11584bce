//! Imports: many calls written at once (a migration from the legacy table),
//! with the rollup changes they make, in transactions of up to 100 writes.
//!
//! Each call is written on the condition that the table still holds what the
//! importer read under its id (nothing, or the same revision), and the
//! rollups move by the calls' old and new contributions in the same
//! transaction, exactly as a live write moves them. So the rollups are right
//! after every transaction: an import can stop anywhere, run again, or go
//! into a tenant that is taking calls, and nothing needs rebuilding after.
//! Transactions run side by side only when they move different rollup
//! items, as DynamoDB cancels one that meets another on an item.

use std::collections::{BTreeMap, HashSet, VecDeque};

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use callops_domain::{CallLog, DomainError, analytics::Tally};
use futures::{StreamExt, stream::FuturesUnordered};

use crate::store::CallStore;
use crate::{
    item::{Item, failed_condition, unavailable},
    rollup::{self, RollupKey},
    store::{
        DynamoStore, StoredCall,
        call_item::{call_item, vapi_pointer_item},
        effects::{Effect, effects},
    },
};

/// TransactWriteItems takes at most 100 actions...
const MAX_ACTIONS: usize = 100;
/// ...and 4 MB; a group stops well short of it (item sizes are estimated).
const MAX_BYTES: usize = 3 << 20;

/// A call to import, and what the table held under its id when it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportCall {
    pub stored: Option<StoredCall>,
    pub call: CallLog,
}

/// A call the table would not take, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct NotImported {
    pub id: String,
    pub reason: String,
}

/// Calls that go into one transaction.
#[derive(Default)]
struct Group {
    members: Vec<usize>,
    /// Call puts, Vapi pointer puts and planned attempts.
    puts: Vec<TransactWriteItem>,
    pointers: HashSet<String>,
    rollups: BTreeMap<RollupKey, Tally>,
    bytes: usize,
}

/// A batch of calls packed for writing.
struct Packed {
    groups: Vec<Group>,
    /// Calls written one by one, through the live path.
    alone: Vec<usize>,
    /// Calls the store cannot keep, and why.
    refused: Vec<NotImported>,
}

impl Group {
    fn actions(&self) -> usize {
        self.puts.len() + self.rollups.len()
    }
}

impl DynamoStore {
    /// Writes `calls` (ids unique), `concurrency` transactions at a time.
    /// Returns the calls the table refused: one that changed since it was
    /// read and changes again on a second try, or whose Vapi call id is
    /// another call's. Anything else that fails stops the import with an
    /// error; what was written until then is whole, rollups included.
    pub async fn import_calls(&self, calls: &[ImportCall], concurrency: usize) -> Result<Vec<NotImported>, DomainError> {
        let Packed { groups, alone, mut refused } = self.group(calls)?;
        refused.extend(self.write_groups(calls, groups, concurrency.max(1)).await?);
        for index in alone {
            refused.extend(self.import_alone(&calls[index]).await?);
        }
        Ok(refused)
    }

    /// Packs the calls into transactions. A call whose write must also give
    /// back a dialer slot is written alone, through the live update path; a
    /// call the store cannot keep (`check_storable`) is refused with why.
    fn group(&self, calls: &[ImportCall]) -> Result<Packed, DomainError> {
        let mut groups = Vec::new();
        let mut alone = Vec::new();
        let mut refused = Vec::new();
        let mut group = Group::default();
        // Calls that move the same rollup items go into a transaction
        // together, so it moves each item once for all of them (an hour's
        // calls for one agent and shard share all four items).
        let mut ordered: Vec<(BTreeMap<RollupKey, Tally>, usize)> = Vec::with_capacity(calls.len());
        for (index, import) in calls.iter().enumerate() {
            match rollup::rollup_deltas(import.stored.as_ref().map(|stored| &stored.call), &import.call) {
                Ok(deltas) => ordered.push((deltas, index)),
                Err(err) => refused.push(NotImported { id: import.call.id.clone().into(), reason: err.to_string() }),
            }
        }
        ordered.sort_by(|(a, i), (b, j)| a.keys().cmp(b.keys()).then(i.cmp(j)));
        for (deltas, index) in ordered {
            let Some(import) = calls.get(index) else { continue };
            let previous = import.stored.as_ref();
            if previous.is_some_and(|stored| stored.call.holds_dialer_slot() && !import.call.holds_dialer_slot()) {
                alone.push(index);
                continue;
            }
            let (put, bytes) = match self.import_put(import) {
                Ok(put) => put,
                Err(err) => {
                    refused.push(NotImported { id: import.call.id.clone().into(), reason: err.to_string() });
                    continue;
                }
            };
            let pointer = self.new_pointer(import);
            let plans = self.planned_changes(import)?;
            let new_keys = deltas.keys().filter(|key| !group.rollups.contains_key(*key)).count();
            let pointer_key = pointer.as_ref().and(import.call.vapi_call_id.clone());
            let actions = 1 + usize::from(pointer.is_some()) + plans.len() + new_keys;
            let shares_pointer = pointer_key.as_ref().is_some_and(|key| group.pointers.contains(key));
            if !group.members.is_empty() && (group.actions() + actions > MAX_ACTIONS || group.bytes + bytes > MAX_BYTES || shares_pointer) {
                groups.push(std::mem::take(&mut group));
            }
            group.members.push(index);
            group.puts.push(put);
            group.puts.extend(pointer);
            group.puts.extend(plans);
            group.pointers.extend(pointer_key);
            group.bytes += bytes;
            // Sums of calls within their bounds cannot overflow; checked all the same.
            for (key, delta) in deltas {
                group.rollups.entry(key).or_default().add(&delta)?;
            }
        }
        if !group.members.is_empty() {
            groups.push(group);
        }
        Ok(Packed { groups, alone, refused })
    }

    /// The call's put, on the condition that the table holds what was read,
    /// and its estimated size.
    fn import_put(&self, import: &ImportCall) -> Result<(TransactWriteItem, usize), DomainError> {
        let (put, bytes) = match &import.stored {
            None => {
                let item = call_item(&import.call, 1)?;
                let bytes = item_bytes(&item);
                (self.put(item, "attribute_not_exists(PK)", None), bytes)
            }
            Some(stored) => {
                let item = call_item(&import.call, stored.revision + 1)?;
                let bytes = item_bytes(&item);
                (self.put(item, "#rev = :rev", Some(stored.revision)), bytes)
            }
        };
        Ok((TransactWriteItem::builder().put(put).build(), bytes))
    }

    /// The planned attempt a waiting call keeps at its number, and the marks
    /// a missed call keeps while it waits to be returned, put or removed as
    /// the import changes the call ([`effects`]).
    fn planned_changes(&self, import: &ImportCall) -> Result<Vec<TransactWriteItem>, DomainError> {
        let previous = import.stored.as_ref().map(|stored| &stored.call);
        let mut items = Vec::new();
        for effect in effects(previous, &import.call, &[]).map_err(|e| DomainError::Unavailable(e.to_string()))? {
            if matches!(effect, Effect::Unplan(..) | Effect::Plan | Effect::Mark(..) | Effect::Unmark(..)) {
                items.extend(self.effect_item(&import.call, effect)?);
            }
        }
        Ok(items)
    }

    /// The Vapi pointer to claim: only for a Vapi call id the call did not have.
    fn new_pointer(&self, import: &ImportCall) -> Option<TransactWriteItem> {
        let had = import.stored.as_ref().and_then(|stored| stored.call.vapi_call_id.as_deref());
        if had.is_some() && had == import.call.vapi_call_id.as_deref() {
            return None;
        }
        vapi_pointer_item(&import.call)?;
        self.vapi_pointer(&import.call).map(|put| TransactWriteItem::builder().put(put).build())
    }

    /// Runs the groups' transactions, up to `concurrency` at once, but never
    /// two at once that move the same rollup item: DynamoDB cancels a
    /// transaction that meets another one in progress on an item
    /// (`TransactionConflict`), and all of a day's calls move that day's
    /// tenant-wide items. The first group free of the items in flight goes
    /// next, so the groups of different days run side by side.
    async fn write_groups(&self, calls: &[ImportCall], groups: Vec<Group>, concurrency: usize) -> Result<Vec<NotImported>, DomainError> {
        let mut waiting: VecDeque<Group> = groups.into();
        let mut moving: HashSet<RollupKey> = HashSet::new();
        let mut running = FuturesUnordered::new();
        let mut refused = Vec::new();
        loop {
            while running.len() < concurrency {
                let Some(next) = waiting.iter().position(|group| group.rollups.keys().all(|key| !moving.contains(key))) else { break };
                let group = waiting.remove(next).expect("a waiting group");
                let keys: Vec<RollupKey> = group.rollups.keys().cloned().collect();
                moving.extend(keys.iter().cloned());
                running.push(async move { (keys, self.write_group(calls, group).await) });
            }
            let Some((keys, written)) = running.next().await else { break };
            for key in &keys {
                moving.remove(key);
            }
            refused.extend(written?);
        }
        Ok(refused)
    }

    /// One group's transaction. When a condition fails (a call changed since
    /// it was read, a Vapi call id is taken), its calls go one by one.
    async fn write_group(&self, calls: &[ImportCall], group: Group) -> Result<Vec<NotImported>, DomainError> {
        let mut items = group.puts;
        for (key, delta) in group.rollups.iter().filter(|(_, delta)| !delta.is_zero()) {
            items.push(TransactWriteItem::builder().update(rollup::rollup_update(self.table(), key, delta)).build());
        }
        match self.transact(items).await {
            Ok(()) => Ok(Vec::new()),
            Err(err) if failed_condition(&err) => {
                let mut refused = Vec::new();
                for index in group.members {
                    refused.extend(self.import_alone(&calls[index]).await?);
                }
                Ok(refused)
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    /// One call through the live write path, from a fresh read of what the
    /// table holds; a conflict is the call's refusal.
    async fn import_alone(&self, import: &ImportCall) -> Result<Option<NotImported>, DomainError> {
        let call = &import.call;
        let stored = self.get_call(&call.org_id, &call.id).await?;
        let written = match &stored {
            Some(stored) if stored.call == *call => return Ok(None),
            Some(stored) => self.update_call(stored, call).await.map(|_| ()),
            None => self.create_call(call).await.map(|_| ()),
        };
        match written {
            Ok(()) => Ok(None),
            Err(DomainError::Conflict { message, .. }) => {
                let taken = match call.vapi_call_id.as_deref() {
                    Some(vapi_call_id) => self.find_call_by_vapi_id(&call.org_id, vapi_call_id).await?.filter(|other| other.call.id != call.id),
                    None => None,
                };
                let reason = match (taken, call.vapi_call_id.as_deref()) {
                    (Some(other), Some(vapi_call_id)) => format!("vapi_call_id {vapi_call_id} already belongs to call {}", other.call.id),
                    _ => format!("the table would not take it: {message}"),
                };
                Ok(Some(NotImported { id: call.id.clone().into(), reason }))
            }
            Err(err) => Err(err),
        }
    }
}

/// About what DynamoDB counts as an item's size: names and values.
pub(crate) fn item_bytes(item: &Item) -> usize {
    item.iter().map(|(name, value)| name.len() + value_bytes(value)).sum()
}

fn value_bytes(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::N(number) => number.len(),
        AttributeValue::M(map) => 3 + item_bytes(map),
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_bytes(v)).sum::<usize>(),
        _ => 8,
    }
}
