//! The Vapi adapter: everything that knows Vapi's words.
//!
//! - [`message`]: server messages (and Call objects from `GET /call`) read
//!   leniently into the domain's [`callops_domain::ending::report::CallReport`].
//! - [`ended_reason`]: `endedReason` and Vapi's statuses classified.
//! - [`structured_data`]: the assistant's structured data into the analytics fields.
//! - [`api`]: the Vapi API behind the [`api::VapiApi`] trait, with its
//!   request and answer types; [`client`] (feature `client`) is its HTTP client.
//! - [`request`]: the `POST /call` a decided call becomes.

pub mod api;
#[cfg(feature = "client")]
pub mod client;
pub mod ended_reason;
mod lenient;
mod measures;
pub mod message;
pub mod request;
pub mod structured_data;
mod wire;

pub use api::{CallMetadata, CreateCall, VapiApi, VapiCall, VapiError};
pub use message::{ServerMessage, parse_server_message, read_vapi_call};

#[cfg(test)]
mod properties;
