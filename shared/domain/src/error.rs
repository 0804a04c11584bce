//! The errors every function shares. Each boundary maps them to an HTTP status
//! in exactly one place (`callops-http`).

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum DomainError {
    /// The request itself is wrong: a stable machine-readable `code` and a
    /// message a person can act on.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },

    /// Nothing of that kind exists for this tenant (or it belongs to another).
    #[error("{what} not found")]
    NotFound { what: &'static str },

    /// The stored state does not allow the change (a failed DynamoDB condition,
    /// a transition the lifecycle forbids).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },

    /// An outbound call asked for a time a rule does not allow (outside the
    /// callee's calling hours, on a closed day, over a frequency limit): the
    /// rule's `code`, and the next time every rule allows.
    #[error("{message}; the next allowed time is {}", crate::time::format(next_allowed_at))]
    NotAllowedYet { code: &'static str, message: String, next_allowed_at: chrono::DateTime<chrono::Utc> },

    /// The request is wrong, with more to say than a message: `details` go
    /// into the error beside `code` and `message` (a `no_consent` refusal's
    /// accepted bases and the consents that did not fit, and why).
    #[error("{message}")]
    Explained { code: &'static str, message: String, details: serde_json::Map<String, serde_json::Value> },

    /// A dependency failed (DynamoDB, Vapi). Logged in full, never shown.
    #[error("dependency failed: {0}")]
    Unavailable(String),
}

impl DomainError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { code, message: message.into() }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into() }
    }
}
