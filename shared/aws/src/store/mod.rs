//! The DynamoDB store: calls and voice agents in the one table, through
//! aws-sdk-dynamodb with serde_dynamo doing the item conversion, split by
//! what it stores:
//!
//! - [`calls`]: calls and their Vapi pointers; [`query`]: reading them from
//!   the indexes; [`effects`]: what a call write brings in its transaction.
//! - [`agents`]: voice agents, their slots, the tenants.
//! - [`campaigns`], [`do_not_call`], [`rollups`], [`markers`], [`outputs`], [`settings`], [`ledgers`], [`consents`].
//! - [`ext`]: the DynamoDB plumbing they all share.
//!
//! A use case names what it touches: each aggregate's operations are a
//! narrow trait ([`CallStore`], [`LedgerStore`], [`ConsentStore`],
//! [`DoNotCallStore`], …) that [`DynamoStore`] implements, and a file that
//! reads or writes calls imports `CallStore`, one that reads ledgers
//! `LedgerStore`. The plumbing (transactions, metering, pages) stays on
//! `DynamoStore` itself.
//!
//! Every write that depends on what is stored is conditional, and a failed
//! condition comes back as [`DomainError::Conflict`]. Calls carry a revision
//! number (`rev`) that each write checks and bumps, so two writers that read
//! the same call cannot both write it.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use aws_sdk_dynamodb::{Client, types::ConsumedCapacity};
use callops_domain::CallLog;

pub mod agents;
pub mod audit;
pub mod audit_chain;
pub mod call_item;
pub mod calls;
pub mod campaigns;
pub mod consents;
pub mod do_not_call;
pub mod effects;
pub mod erasure;
mod ext;
pub mod ledgers;
pub mod markers;
pub mod missed;
pub mod outputs;
pub mod query;
pub mod registries;
pub mod rollup_check;
pub mod rollups;
pub mod settings;

pub use self::{
    agents::AgentStore, audit::AuditStore, audit_chain::AuditChainStore, calls::CallStore, campaigns::CampaignStore, consents::ConsentStore,
    do_not_call::DoNotCallStore, erasure::ErasureStore, ledgers::LedgerStore, markers::MarkerStore, outputs::AwaitedOutputStore, query::CallQueryStore,
    registries::RegistryStore, rollup_check::RollupCheckStore, rollups::RollupStore, settings::SettingsStore,
};
pub use crate::item::Unreadable;
pub use campaigns::CampaignCall;
pub use do_not_call::{DoNotCallChange, DoNotCallEntry, MAX_REASON_BYTES};
pub use effects::{AlongWithCall, Effect, effects};
pub use erasure::{ErasedMark, ErasedMarks, ErasedNumber};
pub use ledgers::LedgerNotes;
pub use ledgers::NumberState;
pub use query::{CallQuery, MAX_FILTER_AGENTS, PageRequest};
pub use rollup_check::{CheckOptions, Drift, HELD_ITEMS, Impossible, LISTED, RollupReport};
pub use rollups::SCAN_SEGMENTS;

/// The most items one query returns.
pub const MAX_PAGE: usize = 10_100;

/// The attribute holding a call's revision (not part of the domain model).
pub(crate) const REVISION: &str = "rev";

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    meter: Arc<ReadMeter>,
    /// Write units the table reports for transactions (an import's cost).
    write_meter: Arc<ReadMeter>,
    /// How often a transaction cancelled for a conflict or throttling is sent.
    transaction_attempts: u32,
    /// What the audit log keeps instead of a phone number.
    pseudonyms: crate::pseudonym::PseudonymKey,
}

/// Capacity consumed by the store's analytics reads (or, for the write
/// meter, its transactions), as DynamoDB reports it
/// (`ReturnConsumedCapacity`), for benchmarks, reports and logs.
#[derive(Debug, Default)]
pub struct ReadMeter {
    /// Thousandths of a read unit.
    milli_units: AtomicU64,
}

impl ReadMeter {
    pub(crate) fn record(&self, consumed: Option<&ConsumedCapacity>) {
        if let Some(units) = consumed.and_then(|c| c.capacity_units().or(c.read_capacity_units())) {
            self.milli_units.fetch_add((units * 1000.0).round() as u64, Ordering::Relaxed);
        }
    }

    /// Read units consumed so far.
    pub fn read_units(&self) -> f64 {
        self.milli_units.load(Ordering::Relaxed) as f64 / 1000.0
    }
}

/// A call as read from the store, with the revision a later write must match.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCall {
    pub call: CallLog,
    pub revision: u64,
}

/// One page of a query; `next_cursor` is `None` on the last page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            meter: Arc::default(),
            write_meter: Arc::default(),
            transaction_attempts: ext::TRANSACTION_ATTEMPTS,
            pseudonyms: crate::pseudonym::PseudonymKey::of_process(),
        }
    }

    /// The store, making pseudonyms with `key` (a data dir's own).
    pub fn with_pseudonym_key(mut self, key: crate::pseudonym::PseudonymKey) -> Self {
        self.pseudonyms = key;
        self
    }

    /// The pseudonym of `number` in `org_id`'s records: what the audit log keeps instead.
    pub fn pseudonym(&self, org_id: &str, number: &str) -> String {
        self.pseudonyms.of(org_id, number)
    }

    pub fn meter(&self) -> &ReadMeter {
        &self.meter
    }

    /// A store for a bulk writer: a transaction cancelled for throttling is
    /// sent up to 24 times (about 20 s of
    /// pauses), not 8, so an import rides out a table that throttles it.
    pub fn patient(mut self) -> Self {
        self.transaction_attempts = ext::BULK_TRANSACTION_ATTEMPTS;
        self
    }

    /// Write units consumed by this store's transactions so far, as the table reported them.
    pub fn write_units(&self) -> f64 {
        self.write_meter.read_units()
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}
