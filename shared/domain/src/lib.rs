//! The CallOps domain: what a call is, which states it moves through, the voice
//! agents that place and answer calls, and the errors the functions share.
//!
//! Plain types and plain functions only. This crate depends on no AWS or Lambda
//! crate, so the rules here are tested without I/O and the compiler keeps the
//! boundary.
//!
//! The shared words sit at the root (errors, time, ids, bounds, phone
//! numbers, US states, idempotency, who asks, a tenant's settings). Each
//! capability has a room of its own:
//! - [`call`]: what a call is, the ground every capability stands on;
//! - [`agent`]: voice agents, their hours, their secrets;
//! - [`consent`]: the consent ledger and its policy, and stop requests;
//! - [`placement`]: may this call be placed, and when (every rule a sibling file);
//! - [`ending`]: what happens when a call ends;
//! - [`campaign`]: campaigns and their plans;
//! - [`analytics`]: figures, profiles, window plans, missed calls;
//! - [`records`]: a patient's data (audit, export).
//!
//! `call` imports no capability room, and no room imports another in a
//! circle; inside the domain an import names its room, not the root
//! re-exports (those stay for the other crates). The behaviour suite's
//! `structure` tests keep both.

pub mod agent;
pub mod analytics;
pub mod call;
pub mod caller;
pub mod campaign;
pub mod consent;
pub mod ending;
pub mod error;
pub mod idempotency;
pub mod ids;
pub mod limits;
pub mod phone;
pub mod placement;
pub mod records;
pub mod settings;
pub mod time;
pub mod us_state;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod properties;

pub use agent::{CallingHours, RetryPolicy, VoiceAgent};
pub use call::{CallLog, CallOutcome, CallStatus, CallType, NewCall};
pub use error::DomainError;

pub use ids::{AgentId, CallId, OrgId};
