//! The dialer Lambda: configuration, the clients, the runtime.

use std::sync::Arc;

use callops_aws::{
    DynamoStore, dynamodb_client_in_lambda,
    scheduler::{DialTarget, EventBridgeScheduler},
    secrets::SecretResolver,
};
use callops_dialer::{DialSettings, Dialer, DialerEvent, handle};
use callops_http::config;
use callops_service::Calls;
use callops_vapi::client::VapiClient;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    callops_http::init_tracing();
    let table = config::required(config::TABLE_VAR)?;
    callops_aws::pseudonym::require_env_key()?;
    let settings = DialSettings::default();
    let vapi = VapiClient::new(&config::required("VAPI_BASE_URL")?, &config::required("VAPI_API_KEY")?, settings.request_timeout)?
        .with_public_key(std::env::var("VAPI_PUBLIC_KEY").ok());
    let target = DialTarget::from_env()?;
    let store = DynamoStore::new(dynamodb_client_in_lambda(), table);
    let scheduler = Arc::new(EventBridgeScheduler::in_lambda(target));
    let vapi: Arc<dyn callops_vapi::VapiApi> = Arc::new(vapi);
    let mut dialer =
        Dialer::new(store.clone(), scheduler.clone(), vapi.clone(), Arc::new(SecretResolver::in_lambda()), config::secret_namespace()?, settings.clone());
    // The Reassigned Numbers Database, through the deployment's caller agent, when it has one.
    if let Some(rnd) = callops_service::rnd::RndClient::from_env(settings.request_timeout)? {
        dialer = dialer.with_rnd(Arc::new(rnd));
    }
    let calls = Calls::new(store, scheduler, vapi);
    let (dialer, calls) = (&dialer, &calls);
    run(service_fn(move |event: LambdaEvent<DialerEvent>| async move { handle(dialer, calls, event.payload).await })).await
}
