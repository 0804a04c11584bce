//! AWS adapters for the CallOps domain.
//!
//! - [`table`]: the one definition of the DynamoDB table and its indexes.
//! - [`keys`]: how each item's keys are built from the tenant and its ids.
//! - [`import`]: many calls at once (a migration), rollups kept exact.
//! - [`store`]: the DynamoDB store (aws-sdk-dynamodb + serde_dynamo), split
//!   by what it stores; [`rollup`]: what each call adds to the analytics rollups.
//! - [`scheduler`]: one EventBridge Scheduler schedule per dial attempt.
//! - [`secrets`]: secrets by reference (Secrets Manager, or the environment locally).
//! - [`embedded`] (feature `embedded`): the in-process DynamoDB-compatible
//!   engine for the local host and the tests.

pub mod bulk_load;
pub mod cursor;
pub mod import;
mod item;
pub mod keys;
pub mod lambda_env;
pub mod pseudonym;
pub mod retry;
pub mod rollup;
pub mod scheduler;
pub mod secrets;
pub mod store;
pub mod table;

#[cfg(feature = "embedded")]
pub mod embedded;

pub use store::{AlongWithCall, CallQuery, DynamoStore, NumberState, Page, PageRequest, StoredCall, Unreadable};

/// Builds a DynamoDB client from the normal AWS configuration (environment,
/// profile, role; `AWS_ENDPOINT_URL_DYNAMODB` is honoured).
pub async fn dynamodb_client_from_env() -> aws_sdk_dynamodb::Client {
    client_from_env(dynamodb_retry_config()).await
}

async fn client_from_env(retry: aws_sdk_dynamodb::config::retry::RetryConfig) -> aws_sdk_dynamodb::Client {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    aws_sdk_dynamodb::Client::from_conf(aws_sdk_dynamodb::config::Builder::from(&config).retry_config(retry).build())
}

/// The client of a bulk writer (`callops migrate --table`): the SDK's
/// adaptive retry mode, which also slows the sender itself while DynamoDB
/// throttles it, with more attempts and longer pauses than a webhook can
/// wait for. A new on-demand table, or a provisioned one below the import's
/// rate, throttles for seconds at a time; an import can wait.
pub async fn dynamodb_bulk_client_from_env() -> aws_sdk_dynamodb::Client {
    client_from_env(
        aws_sdk_dynamodb::config::retry::RetryConfig::adaptive()
            .with_max_attempts(10)
            .with_initial_backoff(std::time::Duration::from_millis(100))
            .with_max_backoff(std::time::Duration::from_secs(20)),
    )
    .await
}

/// The DynamoDB client a Lambda function uses (see [`lambda_env`]).
pub fn dynamodb_client_in_lambda() -> aws_sdk_dynamodb::Client {
    let mut config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(lambda_env::behavior_version())
        .credentials_provider(lambda_env::credentials())
        .retry_config(dynamodb_retry_config());
    config.set_region(lambda_env::region()).set_endpoint_url(lambda_env::endpoint("DYNAMODB"));
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

/// How every DynamoDB client retries: the SDK's standard mode (throttling,
/// 5xx and transient transport errors, exponential backoff with full
/// jitter, a retry budget per client), with five attempts and a 50 ms
/// first pause instead of three and one second. DynamoDB's throttling and
/// internal errors clear in milliseconds, and a webhook has to be answered
/// within Vapi's timeout: the pauses here add up to under a second.
pub fn dynamodb_retry_config() -> aws_sdk_dynamodb::config::retry::RetryConfig {
    aws_sdk_dynamodb::config::retry::RetryConfig::standard()
        .with_max_attempts(5)
        .with_initial_backoff(std::time::Duration::from_millis(50))
        .with_max_backoff(std::time::Duration::from_secs(1))
}

#[cfg(test)]
mod roundtrip_tests;
#[cfg(test)]
mod store_tests;
