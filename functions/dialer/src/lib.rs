//! The dialer function: EventBridge Scheduler fires it at each scheduled
//! attempt's time with `{orgId, callId, attempt}`.

use callops_aws::DynamoStore;
pub use callops_domain::schedule::DialRequest;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DialError {
    #[error("dialing is not available yet")]
    NotImplemented,
}

#[derive(Clone)]
pub struct Dialer {
    #[allow(dead_code)]
    store: DynamoStore,
}

impl Dialer {
    pub fn new(store: DynamoStore) -> Self {
        Dialer { store }
    }

    /// Places the attempt's call.
    pub async fn dial(&self, request: DialRequest) -> Result<(), DialError> {
        tracing::warn!(org_id = %request.org_id, call_id = %request.call_id, attempt = request.attempt, "dial requested");
        Err(DialError::NotImplemented)
    }
}

impl From<DialError> for lambda_runtime::Diagnostic {
    fn from(err: DialError) -> Self {
        lambda_runtime::Diagnostic { error_type: "DialError::NotImplemented".into(), error_message: err.to_string() }
    }
}
