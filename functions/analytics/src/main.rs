//! The analytics Lambda: configuration, the DynamoDB client, the runtime.

use callops_analytics::Analytics;
use callops_aws::{DynamoStore, dynamodb_client_in_lambda};
use callops_http::config;
use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    callops_http::init_tracing();
    let table = config::required(config::TABLE_VAR)?;
    callops_aws::pseudonym::require_env_key()?;
    let analytics = Analytics::new(DynamoStore::new(dynamodb_client_in_lambda(), table));
    let analytics = &analytics;
    run(service_fn(move |req| async move { Ok::<_, Error>(analytics.handle(req).await) })).await
}
