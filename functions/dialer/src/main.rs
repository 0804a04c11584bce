//! The dialer Lambda: configuration, the clients, the runtime. It takes two
//! events: a dial attempt from its EventBridge schedule, and the
//! reconciler's `{"reconcile": true}` from the 5-minute EventBridge rule.

use std::sync::Arc;

use callops_aws::{
    DynamoStore, dynamodb_client_in_lambda,
    scheduler::{DialTarget, EventBridgeScheduler},
    secrets::SecretResolver,
};
use callops_dialer::{
    DialRequest, DialSettings, Dialer,
    reconcile::{ReconcileSettings, Reconciled},
    vapi::VapiClient,
};
use callops_http::config;
use callops_webhook::{Webhook, auth::WebhookAuth};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(untagged)]
enum DialerEvent {
    Dial(DialRequest),
    Reconcile { reconcile: bool },
}

#[derive(serde::Serialize)]
#[serde(untagged)]
enum Outcome {
    Dialed(callops_dialer::Dialed),
    Reconciled { checked: usize, finished: usize, requeued: usize, failed: usize, redialed: usize, tenants_failed: usize },
}

impl From<Reconciled> for Outcome {
    fn from(r: Reconciled) -> Self {
        Outcome::Reconciled {
            checked: r.checked,
            finished: r.finished,
            requeued: r.requeued,
            failed: r.failed,
            redialed: r.redialed,
            tenants_failed: r.tenants_failed,
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    callops_http::init_tracing();
    let table = config::required(config::TABLE_VAR)?;
    let settings = DialSettings::default();
    let vapi = VapiClient::new(&config::required("VAPI_BASE_URL")?, &config::required("VAPI_API_KEY")?, settings.request_timeout)?;
    let target = DialTarget::from_env()?;
    let store = DynamoStore::new(dynamodb_client_in_lambda(), table);
    let scheduler = Arc::new(EventBridgeScheduler::in_lambda(target));
    let dialer = Dialer::new(store.clone(), scheduler.clone(), vapi, Arc::new(SecretResolver::in_lambda()), config::secret_namespace()?, settings);
    let webhook = Webhook::new(store, WebhookAuth::new(Vec::new()), scheduler);
    let (dialer, webhook) = (&dialer, &webhook);
    run(service_fn(move |event: LambdaEvent<DialerEvent>| async move {
        match event.payload {
            DialerEvent::Dial(request) => Ok::<_, Error>(Outcome::Dialed(dialer.dial(request).await?)),
            DialerEvent::Reconcile { reconcile: false } => Err(Error::from("a reconcile event must say reconcile: true")),
            DialerEvent::Reconcile { reconcile: true } => {
                Ok(dialer.reconcile(webhook, &ReconcileSettings::default(), chrono::Utc::now()).await.map_err(|e| Error::from(e.to_string()))?.into())
            }
        }
    }))
    .await
}
