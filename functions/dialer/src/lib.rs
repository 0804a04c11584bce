//! The dialer function: EventBridge Scheduler fires it at each scheduled
//! attempt's time with `{orgId, callId, attempt}`, and it places that
//! attempt ([`callops_service::place`]); the 5-minute EventBridge rule
//! sends `{"reconcile": true}`, and it runs the reconciler
//! ([`callops_service::reconcile`]).

use callops_service::Calls;
pub use callops_service::{
    DialError, DialRequest, DialSettings, Dialed, Dialer,
    reconcile::{self, ReconcileSettings, Reconciled},
};
use serde::{Deserialize, Serialize};

/// The two events the function takes.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum DialerEvent {
    Dial(DialRequest),
    Reconcile { reconcile: bool },
}

/// What one event did, as the invocation's result.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Outcome {
    Dialed(Dialed),
    Reconciled { checked: usize, finished: usize, requeued: usize, failed: usize, redialed: usize, tenants_failed: usize },
}

impl From<Reconciled> for Outcome {
    fn from(r: Reconciled) -> Self {
        Outcome::Reconciled {
            checked: r.checked,
            finished: r.finished,
            requeued: r.requeued,
            failed: r.failed,
            redialed: r.redialed,
            tenants_failed: r.tenants_failed,
        }
    }
}

/// Why an invocation failed, as Lambda reports it (the type names the
/// retryable cases apart in the logs and the dead-letter queue).
#[derive(Debug, thiserror::Error)]
pub enum DialerFailure {
    #[error(transparent)]
    Dial(#[from] DialError),
    #[error("the reconciler failed: {0}")]
    Reconcile(callops_domain::DomainError),
    #[error("a reconcile event must say reconcile: true")]
    NotAnEvent,
}

impl From<DialerFailure> for lambda_runtime::Diagnostic {
    fn from(err: DialerFailure) -> Self {
        let error_type = match &err {
            DialerFailure::Dial(DialError::CallNotFound(_)) => "CallNotFound",
            DialerFailure::Dial(DialError::Store(_)) | DialerFailure::Reconcile(_) => "StoreUnavailable",
            DialerFailure::NotAnEvent => "InvalidEvent",
        };
        lambda_runtime::Diagnostic { error_type: error_type.into(), error_message: err.to_string() }
    }
}

/// Handles one event.
pub async fn handle(dialer: &Dialer, calls: &Calls, event: DialerEvent) -> Result<Outcome, DialerFailure> {
    match event {
        DialerEvent::Dial(request) => Ok(Outcome::Dialed(dialer.dial(request).await?)),
        DialerEvent::Reconcile { reconcile: false } => Err(DialerFailure::NotAnEvent),
        DialerEvent::Reconcile { reconcile: true } => {
            Ok(dialer.reconcile(calls, &ReconcileSettings::default(), chrono::Utc::now()).await.map_err(DialerFailure::Reconcile)?.into())
        }
    }
}
