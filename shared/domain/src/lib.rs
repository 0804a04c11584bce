//! The CallOps domain: what a call is, which states it moves through, the voice
//! agents that place and answer calls, and the errors the functions share.
//!
//! Plain types and plain functions only. This crate depends on no AWS or Lambda
//! crate, so the rules here are tested without I/O and the compiler keeps the
//! boundary.

pub mod agent;
pub mod analytics;
pub mod audit;
pub mod call;
pub mod call_rules;
mod call_text;
pub mod callee;
pub mod caller;
mod calling_hours;
pub mod campaign;
pub mod campaign_plan;
pub mod clock;
pub mod compliance;
pub mod consent;
pub mod error;
pub mod export;
pub mod followup;
pub mod frequency;
pub mod idempotency;
pub mod ids;
pub mod lifecycle;
pub mod limits;
pub mod measures;
pub mod missed;
pub mod phone;
pub mod policy;
pub mod recording;
pub mod report;
pub mod schedule;
pub mod secret;
pub mod settings;
pub mod stop_request;
pub mod time;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod properties;

pub use agent::{CallingHours, RetryPolicy, VoiceAgent};
pub use call::{CallLog, CallOutcome, CallStatus, CallType, NewCall};
pub use error::DomainError;

pub use ids::{AgentId, CallId, OrgId};
