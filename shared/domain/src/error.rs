//! The errors every function shares. Each boundary maps them to an HTTP status
//! in exactly one place (`callops-http`).

use thiserror::Error;

/// Why the stored state refuses a change. Code tells them apart by kind;
/// clients by [`Conflict::code`], the stable code of the `409` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// A call with this id exists already.
    CallExists,
    /// The call changed since it was read (its revision moved on).
    CallChanged,
    /// The agent's concurrent-call slots are all taken.
    NoFreeSlot,
    /// The practice's outbound calls fill what its Vapi account leaves after the inbound reserve.
    ConcurrencyReserved,
    /// The attempts to the number changed since its ledger was read.
    AttemptsChanged,
    CampaignExists,
    AgentExists,
    ConsentExists,
    /// The consent is revoked already.
    AlreadyRevoked,
    /// The number keeps as many consent records as it may.
    TooManyConsents,
    /// An `Idempotency-Key` came back with another request.
    IdempotencyKeyReused,
    /// A patient's export would be too large for one answer.
    ExportTooLarge,
    /// A call to the number is under way.
    CallInProgress,
    /// Only a waiting call can change.
    NotScheduled,
    /// The number is on the practice's do-not-call list.
    OnDoNotCallList,
    CampaignCancelled,
    /// The campaign ended (its `endAt` passed): nothing more of it is dialed.
    CampaignEnded,
    /// The campaign was not active when a call of it was claimed (paused, ended or cancelled since it was read).
    CampaignNotActive,
    /// A status change the lifecycle forbids.
    InvalidTransition,
    NotCancellable,
    NotWithdrawable,
    /// An agent imported with legacy history stays as imported.
    ImportedAgent,
    /// A call of the same type to the number already waits at nearly the same time.
    DuplicateCall,
}

impl Conflict {
    /// The stable code clients see.
    pub fn code(self) -> &'static str {
        match self {
            Conflict::CallExists => "call_exists",
            Conflict::CallChanged => "call_changed",
            Conflict::NoFreeSlot => "no_free_slot",
            Conflict::ConcurrencyReserved => "concurrency_reserved",
            Conflict::AttemptsChanged => "attempts_changed",
            Conflict::CampaignExists => "campaign_exists",
            Conflict::AgentExists => "agent_exists",
            Conflict::ConsentExists => "consent_exists",
            Conflict::AlreadyRevoked => "already_revoked",
            Conflict::TooManyConsents => "too_many_consents",
            Conflict::IdempotencyKeyReused => "idempotency_key_reused",
            Conflict::ExportTooLarge => "export_too_large",
            Conflict::CallInProgress => "call_in_progress",
            Conflict::NotScheduled => "not_scheduled",
            Conflict::OnDoNotCallList => "on_do_not_call_list",
            Conflict::DuplicateCall => "duplicate_call",
            Conflict::CampaignCancelled => "campaign_cancelled",
            Conflict::CampaignEnded => "campaign_ended",
            Conflict::CampaignNotActive => "campaign_not_active",
            Conflict::InvalidTransition => "invalid_transition",
            Conflict::NotCancellable => "not_cancellable",
            Conflict::NotWithdrawable => "not_withdrawable",
            Conflict::ImportedAgent => "imported_agent",
        }
    }
}

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
    /// a transition the lifecycle forbids): which conflict, and a message.
    #[error("{message}")]
    Conflict { kind: Conflict, message: String },

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

    /// A conflict with more to say than a message: `details` go into the
    /// error beside `code` and `message` (a `duplicate_call`'s existing call).
    #[error("{message}")]
    ConflictExplained { kind: Conflict, message: String, details: serde_json::Map<String, serde_json::Value> },

    /// A dependency failed (DynamoDB, Vapi). Logged in full, never shown.
    #[error("dependency failed: {0}")]
    Unavailable(String),
}

impl DomainError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { code, message: message.into() }
    }

    pub fn conflict(kind: Conflict, message: impl Into<String>) -> Self {
        Self::Conflict { kind, message: message.into() }
    }

    /// The stable code a client sees for this refusal; `None` for a
    /// dependency's failure, which is never shown.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            DomainError::Invalid { code, .. } | DomainError::NotAllowedYet { code, .. } | DomainError::Explained { code, .. } => Some(code),
            DomainError::Conflict { kind, .. } | DomainError::ConflictExplained { kind, .. } => Some(kind.code()),
            DomainError::NotFound { .. } => Some("not_found"),
            DomainError::Unavailable(_) => None,
        }
    }
}
