//! The outbound Lambda: configuration, the DynamoDB and Scheduler clients, the runtime.

use std::sync::Arc;

use callops_aws::{
    DynamoStore, dynamodb_client_in_lambda,
    scheduler::{DialTarget, EventBridgeScheduler},
};
use callops_http::config;
use callops_outbound::Outbound;
use callops_vapi::client::VapiClient;
use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    callops_http::init_tracing();
    let table = config::required(config::TABLE_VAR)?;
    callops_aws::pseudonym::require_env_key()?;
    let target = DialTarget::from_env()?;
    let scheduler = Arc::new(EventBridgeScheduler::in_lambda(target));
    // Vapi, to end a call that is live when its number opts out.
    let vapi = VapiClient::new(&config::required("VAPI_BASE_URL")?, &config::required("VAPI_API_KEY")?, std::time::Duration::from_secs(8))?
        .with_public_key(std::env::var("VAPI_PUBLIC_KEY").ok());
    let mut outbound = Outbound::new(DynamoStore::new(dynamodb_client_in_lambda(), table), scheduler, Arc::new(vapi), config::secret_namespace()?);
    // A campaign's contacts are checked against the Reassigned Numbers Database, when the deployment asks it.
    if let Some(rnd) = callops_service::rnd::RndClient::from_env(std::time::Duration::from_secs(8))? {
        outbound = outbound.with_rnd(Arc::new(rnd));
    }
    let outbound = &outbound;
    run(service_fn(move |req| async move { Ok::<_, Error>(outbound.handle(req).await) })).await
}
