//! The Vapi webhook Lambda: configuration, the DynamoDB and Scheduler clients, the runtime.

use std::sync::Arc;

use callops_aws::{
    DynamoStore, dynamodb_client_in_lambda,
    scheduler::{DialTarget, EventBridgeScheduler},
    secrets::SecretResolver,
};
use callops_http::config;
use callops_vapi::client::VapiClient;
use callops_webhook::{Webhook, auth::WebhookAuth, sms::TwilioTokens};
use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    callops_http::init_tracing();
    let table = config::required(config::TABLE_VAR)?;
    callops_aws::pseudonym::require_env_key()?;
    let auth = WebhookAuth::from_env()?;
    let scheduler = Arc::new(EventBridgeScheduler::in_lambda(DialTarget::from_env()?));
    // Vapi, to end another live call to a number that opted out during a call.
    let vapi = VapiClient::new(&config::required("VAPI_BASE_URL")?, &config::required("VAPI_API_KEY")?, std::time::Duration::from_secs(8))?
        .with_public_key(std::env::var("VAPI_PUBLIC_KEY").ok());
    // Texts: each tenant's Twilio auth token is its secret `callops/<orgId>/twilio-auth-token`.
    let public_base = std::env::var(callops_webhook::sms::PUBLIC_BASE_URL_VAR).ok().filter(|v| !v.trim().is_empty());
    let webhook = Webhook::new(DynamoStore::new(dynamodb_client_in_lambda(), table), auth, scheduler, Arc::new(vapi))
        .with_twilio(TwilioTokens::SecretsManager(SecretResolver::in_lambda()), public_base);
    let webhook = &webhook;
    run(service_fn(move |req| async move { Ok::<_, Error>(webhook.handle(req).await) })).await
}
