//! The dialer Lambda: configuration, the DynamoDB client, the runtime.

use callops_aws::{DynamoStore, dynamodb_client_from_env};
use callops_dialer::{DialRequest, Dialer};
use callops_http::config;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    callops_http::init_tracing();
    let table = config::required(config::TABLE_VAR)?;
    let dialer = Dialer::new(DynamoStore::new(dynamodb_client_from_env().await, table));
    let dialer = &dialer;
    run(service_fn(move |event: LambdaEvent<DialRequest>| async move { dialer.dial(event.payload).await })).await
}
