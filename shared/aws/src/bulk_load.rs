//! Imports for a writer that holds the table alone: the embedded engine's
//! data dir during `callops migrate`, which no other process may open then.
//!
//! The transactional import ([`crate::import`]) writes each call on the
//! condition that it is still as it was read, with its rollup changes as
//! `ADD`s, in transactions of at most 100 writes: what DynamoDB needs when
//! others may write at the same time. A writer that holds the table alone
//! can skip the conditions, since nothing else changes what it read: it
//! reads what each write replaces (the calls, as the import already does,
//! the Vapi pointers they claim and the rollup items they move), works out
//! every item as it must end up, rollups as absolute sums, and hands them to
//! the engine in one write. The items are the very ones the transactional
//! path writes (the same item builders), so the table cannot tell the two
//! apart, and the rollups are exact after every batch.

use std::collections::{BTreeMap, HashMap, HashSet};

use aws_sdk_dynamodb::types::KeysAndAttributes;
use callops_domain::{DomainError, analytics::Tally};

use crate::{
    import::{ImportCall, NotImported},
    item::*,
    rollup::{self, RollupKey},
    store::{
        DynamoStore, Effect,
        call_item::{call_item, vapi_pointer_item},
        effects,
        rollups::rollup_item,
    },
    table::{PK, SK},
};

/// A batch worked out as far as it can be without reading the table: what
/// each call writes, and which calls go another way. [`DynamoStore::prepare_bulk_load`].
#[derive(Debug, Default)]
pub struct PreparedLoad {
    calls: Vec<ImportCall>,
    ready: Vec<Prepared>,
    alone: Vec<usize>,
    refused: Vec<NotImported>,
    /// What the ready calls move every rollup item by, all together.
    moves: BTreeMap<RollupKey, Tally>,
}

impl PreparedLoad {
    /// How many calls the batch holds.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }
}

/// What a bulk load leaves: its rollup items as they end up, and the Vapi
/// pointers it claims. The next batch may be planned from these while this
/// one is written (nothing else writes meanwhile), so it reads from the
/// table only what this load does not write.
#[derive(Debug, Default, Clone)]
pub struct Loaded {
    rollups: HashMap<RollupKey, Tally>,
    pointers: HashSet<String>,
}

/// What one batch of an import writes when the writer holds the table alone.
#[derive(Debug, Default)]
pub struct BulkLoad {
    /// How many calls the batch changes (those written, alone and refused).
    pub calls: usize,
    /// Every item to put, each as it must end up: the calls, the Vapi
    /// pointers they claim, their planned attempts and the rollup items they
    /// move (absolute sums). One write of these is the whole batch.
    pub items: Vec<Item>,
    /// The calls to write after `items` through the transactional path
    /// ([`DynamoStore::import_calls`]), from a fresh read: one whose write
    /// removes or updates an item besides its rollups (it gives back a
    /// dialer slot, say, or forgets a planned attempt), or that claims a
    /// Vapi call id another call holds (the live path refuses it with why).
    pub alone: Vec<ImportCall>,
    /// Calls the store cannot keep, and why.
    pub refused: Vec<NotImported>,
    /// What `items` leave.
    pub leaves: Loaded,
}

/// One call of a batch, ready to write.
#[derive(Debug)]
struct Prepared {
    index: usize,
    /// The call item, and the puts its write brings (a planned attempt).
    items: Vec<Item>,
    /// The Vapi pointer it claims, when its Vapi call id is new to it.
    pointer: Option<Item>,
    /// What it moves each rollup item by (summed into the batch's moves as it is prepared).
    deltas: Vec<(RollupKey, Tally)>,
}

/// The most keys one BatchGetItem takes.
const BATCH_GET_KEYS: usize = 100;

impl DynamoStore {
    /// Works out what `calls` (ids unique, each with what the table held
    /// under its id when it was read) write, without reading the table: the
    /// part of a bulk load that can run while the previous batch is written.
    pub fn prepare_bulk_load(&self, calls: Vec<ImportCall>) -> Result<PreparedLoad, DomainError> {
        let mut load = PreparedLoad::default();
        for (index, import) in calls.iter().enumerate() {
            let previous = import.stored.as_ref();
            let refuse = |reason: String| NotImported { id: import.call.id.clone().into(), reason };
            let effects = match effects(previous.map(|stored| &stored.call), &import.call, &[]) {
                Ok(effects) => effects,
                Err(err) => {
                    load.refused.push(refuse(err.to_string()));
                    continue;
                }
            };
            let item = match call_item(&import.call, previous.map_or(1, |stored| stored.revision + 1)) {
                Ok(item) => item,
                Err(err) => {
                    load.refused.push(refuse(err.to_string()));
                    continue;
                }
            };
            let mut ready = Prepared { index, items: vec![item], pointer: None, deltas: Vec::new() };
            let mut goes_alone = false;
            for effect in effects {
                match effect {
                    Effect::Rollup(key, delta) => ready.deltas.push((key, delta)),
                    Effect::ClaimVapiCallId => ready.pointer = vapi_pointer_item(&import.call),
                    other => {
                        if let Some(write) = self.effect_item(&import.call, other)? {
                            match write.put {
                                Some(put) => ready.items.push(put.item),
                                None => goes_alone = true,
                            }
                        }
                    }
                }
            }
            if goes_alone {
                load.alone.push(index);
                continue;
            }
            // Sums of calls within their bounds cannot overflow; checked all the same.
            for (key, delta) in std::mem::take(&mut ready.deltas) {
                match load.moves.get_mut(&key) {
                    Some(sum) => sum.add(&delta)?,
                    None => {
                        load.moves.insert(key, delta);
                    }
                }
            }
            load.ready.push(ready);
        }
        load.calls = calls;
        Ok(load)
    }

    /// Finishes a prepared batch for a writer that holds the table alone and
    /// writes [`BulkLoad::items`] before anything else changes: reads the
    /// Vapi pointers its calls claim and the rollup items they move, but for
    /// what the load before it leaves (`before`: written or being written,
    /// and nothing else written since).
    pub async fn plan_bulk_load(&self, prepared: PreparedLoad, before: &Loaded) -> Result<BulkLoad, DomainError> {
        let PreparedLoad { calls, ready, mut alone, refused, mut moves } = prepared;
        // A Vapi call id another call holds (in the table, claimed by the
        // load before, or earlier in this batch): that call goes through the
        // live path, which refuses it.
        let unread =
            ready.iter().filter_map(|call| call.pointer.as_ref()).filter(|pointer| string_attr(pointer, PK).is_none_or(|pk| !before.pointers.contains(&pk)));
        let mut owners = self.pointer_owners(unread).await?;
        owners.extend(before.pointers.iter().map(|pk| (pk.clone(), String::new())));
        let mut claimed: HashMap<String, String> = HashMap::new();
        let mut items = Vec::new();
        for mut call in ready {
            if let Some(pointer) = call.pointer.take() {
                let pk = string_attr(&pointer, PK).unwrap_or_default();
                let call_id = calls[call.index].call.id.to_string();
                match owners.get(&pk).or(claimed.get(&pk)) {
                    Some(owner) if *owner == call_id => {}
                    Some(_) => {
                        // It goes alone: its rollup changes come with its own write, not these.
                        let import = &calls[call.index];
                        for (key, delta) in rollup::rollup_deltas(import.stored.as_ref().map(|stored| &stored.call), &import.call)? {
                            moves.entry(key).or_default().add(&Tally::default().minus(&delta)?)?;
                        }
                        alone.push(call.index);
                        continue;
                    }
                    None => {
                        claimed.insert(pk, call_id);
                        items.push(pointer);
                    }
                }
            }
            items.append(&mut call.items);
        }
        let rollups = self.rollup_sums(moves, &before.rollups).await?;
        items.extend(rollups.iter().map(|(key, sum)| rollup_item(key, sum)));
        alone.sort_unstable();
        let alone = alone.into_iter().filter_map(|index| calls.get(index).cloned()).collect();
        let leaves = Loaded { rollups: rollups.into_iter().collect(), pointers: claimed.into_keys().collect() };
        Ok(BulkLoad { calls: calls.len(), items, alone, refused, leaves })
    }

    /// The call each Vapi pointer's key already points to, by the pointer's partition key.
    async fn pointer_owners(&self, pointers: impl Iterator<Item = &Item>) -> Result<HashMap<String, String>, DomainError> {
        let keys = pointers.filter_map(key_of).collect();
        Ok(self.get_many(keys).await?.iter().filter_map(|item| Some((string_attr(item, PK)?, string_attr(item, "callId")?))).collect())
    }

    /// Each rollup item `moves` touches, as it must end up: what the table
    /// holds (or, for those in `known`, what the load before leaves) plus
    /// the move. An item whose sum comes to zero is kept with no counters (a
    /// write that puts cannot remove it), which every reader and check takes
    /// as zero.
    async fn rollup_sums(&self, moves: BTreeMap<RollupKey, Tally>, known: &HashMap<RollupKey, Tally>) -> Result<Vec<(RollupKey, Tally)>, DomainError> {
        let moves: BTreeMap<RollupKey, Tally> = moves.into_iter().filter(|(_, delta)| !delta.is_zero()).collect();
        let keys = moves
            .keys()
            .filter(|key| !known.contains_key(*key))
            .map(|key| HashMap::from([(PK.to_string(), s(&key.pk)), (SK.to_string(), s(&key.sk))]))
            .collect();
        let mut held: HashMap<RollupKey, Tally> = HashMap::new();
        for item in self.get_many(keys).await? {
            let key = RollupKey { pk: string_attr(&item, PK).unwrap_or_default(), sk: string_attr(&item, SK).unwrap_or_default() };
            let (tally, problems) = rollup::tally_of_item(&item);
            if !problems.is_empty() {
                return Err(DomainError::Unavailable(format!(
                    "the rollup item {} / {} holds counters no calls can make ({}); run `callops rebuild-rollups` first",
                    key.pk,
                    key.sk,
                    problems.join("; ")
                )));
            }
            held.insert(key, tally);
        }
        let mut sums = Vec::with_capacity(moves.len());
        for (key, delta) in moves {
            let mut sum = held.remove(&key).or_else(|| known.get(&key).cloned()).unwrap_or_default();
            sum.add(&delta)?;
            sums.push((key, sum));
        }
        Ok(sums)
    }

    /// The items under `keys` that exist, read consistently, 100 keys a request.
    async fn get_many(&self, keys: Vec<Item>) -> Result<Vec<Item>, DomainError> {
        let mut items = Vec::new();
        for chunk in keys.chunks(BATCH_GET_KEYS) {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .consistent_read(true)
                .build()
                .map_err(|e| DomainError::Unavailable(e.to_string()))?;
            items.extend(self.batch_get(request).await?);
        }
        Ok(items)
    }
}

/// An item's key attributes.
fn key_of(item: &Item) -> Option<Item> {
    Some(HashMap::from([(PK.to_string(), item.get(PK)?.clone()), (SK.to_string(), item.get(SK)?.clone())]))
}
