//! The use cases: what CallOps does, as named operations between the
//! handlers (which parse input into domain types and shape the answer) and
//! the adapters (the DynamoDB store, EventBridge Scheduler, Vapi).
//!
//! - [`schedule`]: scheduling a call, moving or changing one that waits;
//!   [`campaigns`]: creating a campaign; [`cancel`]: cancelling either.
//! - [`record_report`]: what the voice provider says of a call, recorded.
//! - [`follow_through`]: the retry, follow-up call and do-not-call entry an ended call brings.
//! - [`place`]: placing one attempt ([`Dialer`]), if the placement policy allows it.
//! - [`reconcile`]: finishing what a lost webhook, a crash or a lost trigger left.
//! - [`change`]: the one change-with-retry path every use case writes a stored call through.
//! - [`metrics`]: the call cost metric.
//!
//! The rules they apply are the domain's: the lifecycle
//! ([`callops_domain::call::lifecycle`]), what a report does
//! ([`callops_domain::ending`]), whether a call may be placed
//! ([`callops_domain::placement`]).

pub mod campaign_control;
pub mod campaigns;
pub mod cancel;
pub mod change;
pub mod follow_through;
pub mod metrics;
pub mod opt_out;
pub mod place;
pub mod reassigned;
pub mod reconcile;
pub mod record_report;
pub mod records;
pub mod registries;
pub mod rnd;
pub mod schedule;
pub mod texts;
#[cfg(test)]
mod use_case_tests;

use std::sync::Arc;

use callops_aws::DynamoStore;
use callops_domain::placement::schedule::DialScheduler;

pub use place::{DialError, DialRequest, DialSettings, Dialed, Dialer};

/// The use cases over a tenant's calls that need the store and the scheduler.
#[derive(Clone)]
pub struct Calls {
    store: DynamoStore,
    /// For the retries and follow-up calls an ended call brings.
    scheduler: Arc<dyn DialScheduler>,
    /// For ending a live call to a number that opted out while it rang or talked.
    vapi: Arc<dyn callops_vapi::VapiApi>,
    /// The Reassigned Numbers Database, asked for a campaign's contacts in batches when the deployment asks it.
    rnd: Option<Arc<dyn callops_domain::consent::reassigned::ReassignedNumbers>>,
}

impl Calls {
    pub fn new(store: DynamoStore, scheduler: Arc<dyn DialScheduler>, vapi: Arc<dyn callops_vapi::VapiApi>) -> Self {
        Calls { store, scheduler, vapi, rnd: None }
    }

    /// The same use cases, asking `rnd` about a campaign's contacts before their calls are planned.
    pub fn with_rnd(self, rnd: Arc<dyn callops_domain::consent::reassigned::ReassignedNumbers>) -> Self {
        Calls { rnd: Some(rnd), ..self }
    }

    pub fn store(&self) -> &DynamoStore {
        &self.store
    }
}
