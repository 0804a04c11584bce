//! AWS adapters for the CallOps domain.
//!
//! - [`table`]: the one definition of the DynamoDB table and its indexes.
//! - [`keys`]: how each item's keys are built from the tenant and its ids.
//! - [`import`]: many calls at once (a migration), rollups kept exact.
//! - [`store`]: the DynamoDB store (aws-sdk-dynamodb + serde_dynamo);
//!   [`outbound`]: its do-not-call list and campaigns.
//! - [`scheduler`]: one EventBridge Scheduler schedule per dial attempt.
//! - [`secrets`]: secrets by reference (Secrets Manager, or the environment locally).
//! - [`embedded`] (feature `embedded`): the in-process DynamoDB-compatible
//!   engine for the local host and the tests.

pub mod cursor;
pub mod import;
pub mod keys;
pub mod outbound;
pub mod rollup;
pub mod scheduler;
pub mod secrets;
pub mod store;
pub mod table;

#[cfg(feature = "embedded")]
pub mod embedded;

pub use store::{AlongWithCall, CallQuery, DynamoStore, Page, PageRequest, StoredCall, Window};

/// Builds a DynamoDB client from the normal AWS configuration (environment,
/// profile, role; `AWS_ENDPOINT_URL_DYNAMODB` is honoured).
pub async fn dynamodb_client_from_env() -> aws_sdk_dynamodb::Client {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    aws_sdk_dynamodb::Client::new(&config)
}

#[cfg(test)]
mod store_tests;
