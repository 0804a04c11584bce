//! The Vapi webhook Lambda: configuration, the DynamoDB client, the runtime.

use callops_aws::{DynamoStore, dynamodb_client_from_env};
use callops_http::config;
use callops_webhook::{Webhook, auth::WebhookAuth};
use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    callops_http::init_tracing();
    let table = config::required(config::TABLE_VAR)?;
    let auth = WebhookAuth::from_env()?;
    let webhook = Webhook::new(DynamoStore::new(dynamodb_client_from_env().await, table), auth);
    let webhook = &webhook;
    run(service_fn(move |req| async move { Ok::<_, Error>(webhook.handle(req).await) })).await
}
