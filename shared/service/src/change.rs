//! The one way a call is changed when another writer may change it too
//! (a webhook, the dialer, a user), in the shape of every use case: load
//! the call, decide the change from it, act on what must happen before
//! the write (a schedule for each call the change creates), write it
//! conditionally on the version read; on a conflict load the call again
//! and decide again. Every use case that changes a stored call goes
//! through [`change_call`].

use callops_aws::store::CallStore;
use callops_aws::{AlongWithCall, DynamoStore, StoredCall};
use callops_domain::{CallLog, DomainError};

/// How often a change that lost a race is decided again.
pub const WRITE_ATTEMPTS: usize = 5;

/// A decided change: the call as it should be, and what is written with it.
#[derive(Debug, Clone)]
pub struct Change {
    pub call: CallLog,
    pub also: Vec<AlongWithCall>,
}

impl From<CallLog> for Change {
    fn from(call: CallLog) -> Self {
        Change { call, also: Vec::new() }
    }
}

/// Decides the change to a call from the call as stored.
#[async_trait::async_trait]
pub trait Decide: Send {
    /// The change, `None` when there is nothing to write, or an error that ends the change.
    async fn decide(&mut self, call: &CallLog) -> Result<Option<Change>, DomainError>;

    /// What must happen before `change` is written (once for each write
    /// tried): nothing, unless the change says so.
    async fn act(&mut self, _change: &Change) -> Result<(), DomainError> {
        Ok(())
    }
}

/// A change decided by a plain function of the call.
pub struct Decided<F>(pub F);

#[async_trait::async_trait]
impl<F: FnMut(&CallLog) -> Result<Option<Change>, DomainError> + Send> Decide for Decided<F> {
    async fn decide(&mut self, call: &CallLog) -> Result<Option<Change>, DomainError> {
        (self.0)(call)
    }
}

/// Writes what `decide` makes of the stored call, redeciding on the fresh
/// call after a conflict. `None` when there was nothing to write.
pub async fn change_call(store: &DynamoStore, mut stored: StoredCall, decide: &mut dyn Decide) -> Result<Option<StoredCall>, DomainError> {
    for _ in 0..WRITE_ATTEMPTS {
        let Some(change) = decide.decide(&stored.call).await? else { return Ok(None) };
        decide.act(&change).await?;
        match store.update_call_with(&stored, &change.call, &change.also).await {
            Ok(written) => return Ok(Some(written)),
            Err(DomainError::Conflict { .. }) => {
                stored = store.get_call(&stored.call.org_id, &stored.call.id).await?.ok_or(DomainError::NotFound { what: "call" })?;
            }
            Err(other) => return Err(other),
        }
    }
    Err(DomainError::Unavailable(format!("call {} kept changing", stored.call.id)))
}
