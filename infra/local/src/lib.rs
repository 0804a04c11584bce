//! The local host: every CallOps function on one machine, through the very
//! handlers the Lambdas run, over the embedded DynamoDB-compatible engine.
//!
//! An HTTP request is routed the way API Gateway routes it (the routes are the
//! functions' own, which the SAM template declares), its bearer token checked
//! the way the JWT authorizer would, and it reaches the handler as the
//! API Gateway event the Lambda would receive.

pub mod api_page;
pub mod cli;
pub mod demo;
mod dev_token;
pub mod fake_rnd;
pub use fake_rnd::RndBackend;
pub mod gateway;
pub mod migrate;
pub mod registry_import;
pub mod scheduler;
pub mod vapi_sim;

use std::{collections::HashMap, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Bytes,
    extract::{ConnectInfo, State},
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::get,
};
use callops_analytics::Analytics;
use callops_aws::{DynamoStore, embedded::EmbeddedDynamo, table};
use callops_dashboard::Dashboard;
pub use callops_dashboard::SignIn;
use callops_dialer::{DialSettings, Dialer, reconcile::ReconcileSettings};
use callops_domain::DomainError;
use callops_http::{ApiError, error_response};
use callops_outbound::Outbound;
use callops_service::Calls;
use callops_vapi::{VapiApi, client::VapiClient};
use callops_webhook::{Webhook, auth::WebhookAuth};
pub use dev_token::{DevToken, stable_hash};
use serde_json::json;

use crate::{
    gateway::{Function, Incoming, Route},
    scheduler::LocalScheduler,
    vapi_sim::{SimSettings, VapiSimulator},
};

/// The table name the local host uses inside its embedded engine.
pub const TABLE: &str = "callops";
/// API Gateway's payload limit.
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// How to run the host.
#[derive(Debug, Clone, Default)]
pub struct HostOptions {
    /// Where the embedded engine keeps its data; `None` keeps it in memory.
    pub data_dir: Option<PathBuf>,
    /// A DynamoDB endpoint to use instead of the embedded engine (its table
    /// is created when missing). `data_dir` is then unused.
    pub dynamodb_endpoint: Option<String>,
    /// Bearer token -> tenant and role, standing in for the identity provider.
    pub tokens: HashMap<String, DevToken>,
    /// Seed the demo tenant when it is empty.
    pub demo: bool,
    /// Vapi server credentials, each naming its tenant.
    pub vapi_credentials: Vec<callops_webhook::auth::Credential>,
    /// Twilio auth tokens by tenant, for texts to their numbers.
    pub twilio_tokens: HashMap<String, String>,
    /// The Reassigned Numbers Database the dialer asks.
    pub rnd: RndBackend,
    /// What "now" always is for the dialer, when a test sets it (else the system clock).
    pub dial_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Which Vapi the dialer calls.
    pub vapi: VapiBackend,
    /// The dialer's timings.
    pub dial: DialSettings,
    /// How often the reconciler runs, and what it considers stuck.
    pub reconcile: Option<(Duration, ReconcileSettings)>,
    /// How the dashboard page signs in; `None` hands it the demo tenant's token.
    pub page_sign_in: Option<SignIn>,
}

/// The Vapi the local dialer talks to.
#[derive(Debug, Clone)]
pub enum VapiBackend {
    /// The simulator, started with the host (the default).
    Simulator(SimSettings),
    /// A Vapi API at this base URL (the real one, or a test's fake), with
    /// its private key and, to end live calls, its public key.
    Remote { base_url: String, api_key: String, public_key: Option<String> },
}

impl Default for VapiBackend {
    fn default() -> Self {
        VapiBackend::Simulator(SimSettings::default())
    }
}

/// A clock that always says the same time.
struct At(chrono::DateTime<chrono::Utc>);
impl callops_domain::time::Clock for At {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0
    }
}

/// The dev host's timings: a busy agent's attempt waits seconds, not the
/// production minute, and the reconciler looks every 10 seconds.
pub fn dev_timings() -> (DialSettings, Option<(Duration, ReconcileSettings)>) {
    let dial = DialSettings { busy_delay: Duration::from_secs(2), busy_jitter: Duration::from_secs(3), ..DialSettings::default() };
    let reconcile = ReconcileSettings { dialing: Duration::from_secs(30), in_progress: Duration::from_secs(120), overdue: Duration::from_secs(60) };
    (dial, Some((Duration::from_secs(10), reconcile)))
}

/// How often the local dashboard refreshes its figures (calls move fast here).
const PAGE_REFRESH_SECONDS: u32 = 5;

/// The key a data dir's pseudonyms are made with: the deployment's
/// (`CALLOPS_PSEUDONYM_KEY`) when set, else the dir's own `pseudonym.key`,
/// drawn the first time, so a number's pseudonym stays the same across
/// restarts and commands.
pub fn pseudonym_key_of(dir: &std::path::Path) -> Result<callops_aws::pseudonym::PseudonymKey, DomainError> {
    use callops_aws::pseudonym::{PSEUDONYM_KEY_VAR, PseudonymKey};
    if let Some(key) = std::env::var(PSEUDONYM_KEY_VAR).ok().and_then(|text| PseudonymKey::from_hex(&text)) {
        return Ok(key);
    }
    let path = dir.join("pseudonym.key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return PseudonymKey::from_hex(&text).ok_or_else(|| DomainError::Unavailable(format!("{} does not hold a key (64 hex digits)", path.display())));
    }
    let key = PseudonymKey::random();
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, key.to_hex()))
        .map_err(|e| DomainError::Unavailable(format!("cannot keep {}: {e}", path.display())))?;
    Ok(key)
}

/// The API's OpenAPI document (infra/openapi.yaml), as JSON.
pub fn openapi() -> &'static serde_json::Value {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| serde_yaml_ng::from_str(include_str!("../../openapi.yaml")).expect("infra/openapi.yaml is valid YAML"))
}

/// The token the local dashboard is handed: the demo tenant's, else the
/// first one the host was started with.
fn page_token(tokens: &HashMap<String, DevToken>) -> String {
    let mut tokens: Vec<(&String, &DevToken)> = tokens.iter().collect();
    tokens.sort_by_key(|(token, dev)| (dev.org.as_str() != demo::DEMO_ORG, dev.role != Some(callops_domain::caller::Role::Admin), token.as_str()));
    tokens.first().map(|(token, _)| token.to_string()).unwrap_or_default()
}

/// The functions, wired to one store.
#[derive(Clone)]
pub struct Functions {
    pub analytics: Analytics,
    pub outbound: Outbound,
    pub webhook: Webhook,
    pub dashboard: Dashboard,
}

impl Functions {
    pub fn new(store: DynamoStore, vapi: WebhookAuth, scheduler: LocalScheduler, provider: Arc<dyn VapiApi>, dashboard: Dashboard) -> Self {
        Functions {
            // The embedded engine and a DynamoDB-compatible endpoint keep no point-in-time backups.
            analytics: Analytics::new(store.clone()).with_backup_days(0),
            outbound: Outbound::new(store.clone(), Arc::new(scheduler.clone()), provider.clone(), callops_domain::agent::secret::SecretNamespace::local()),
            webhook: Webhook::new(store, vapi, Arc::new(scheduler), provider),
            dashboard,
        }
    }

    /// A campaign's contacts are checked against this Reassigned Numbers Database before their calls are planned.
    pub fn with_rnd(mut self, rnd: Option<Arc<dyn callops_domain::consent::reassigned::ReassignedNumbers>>) -> Self {
        if let Some(rnd) = rnd {
            self.outbound = self.outbound.with_rnd(rnd);
        }
        self
    }

    /// Texts to these tenants' numbers are taken, signed with their Twilio auth tokens.
    pub fn with_twilio(mut self, tokens: HashMap<String, String>) -> Self {
        self.webhook = self.webhook.with_twilio(callops_webhook::sms::TwilioTokens::Fixed(tokens), None);
        self
    }

    async fn call(&self, function: Function, req: lambda_http::Request) -> lambda_http::Response<lambda_http::Body> {
        match function {
            Function::Analytics => self.analytics.handle(req).await,
            Function::Outbound => self.outbound.handle(req).await,
            Function::Webhook => self.webhook.handle(req).await,
            Function::Dashboard => self.dashboard.handle(req),
        }
    }
}

struct HostState {
    functions: Functions,
    routes: Vec<Route>,
    tokens: HashMap<String, DevToken>,
    /// Scrubs the engine's files after an erasure (none without a data dir's engine).
    scrubber: Option<callops_aws::embedded::Scrubber>,
}

/// The routes after whose success nothing removed may stay in the engine's files.
const SCRUBBED_AFTER: &[&str] = &["DELETE /api/patients/{phoneNumber}"];

/// A host with its engine up, its table ready and its scheduler firing,
/// not yet listening. Dropping it stops the scheduler and the engine.
pub struct Host {
    /// The embedded engine (unless the host was given an endpoint), kept
    /// running for as long as the host lives.
    engine: Option<EmbeddedDynamo>,
    endpoint: String,
    store: DynamoStore,
    options: HostOptions,
    scheduler: LocalScheduler,
    dialer: Dialer,
    /// Vapi (the simulator unless the host was given one), as every function reaches it.
    vapi: Arc<dyn VapiApi>,
    simulator: Option<VapiSimulator>,
    rnd: Option<fake_rnd::FakeRnd>,
    rnd_client: Option<Arc<dyn callops_domain::consent::reassigned::ReassignedNumbers>>,
    dashboard: Dashboard,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Host {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Host {
    /// The embedded engine, unless the host was given an endpoint.
    pub fn engine(&self) -> Option<&EmbeddedDynamo> {
        self.engine.as_ref()
    }

    /// Starts the embedded engine (or uses the endpoint it was given), creates the table, and seeds the demo tenant.
    pub async fn start(options: HostOptions) -> Result<Host, DomainError> {
        let (engine, endpoint) = match (&options.dynamodb_endpoint, &options.data_dir) {
            (Some(endpoint), _) => (None, endpoint.clone()),
            (None, dir) => {
                let engine = match dir {
                    Some(dir) => EmbeddedDynamo::on_disk(dir).await?,
                    None => EmbeddedDynamo::in_memory().await?,
                };
                let endpoint = engine.endpoint().to_string();
                (Some(engine), endpoint)
            }
        };
        let sign_in = options.page_sign_in.clone().unwrap_or_else(|| SignIn::Token { token: page_token(&options.tokens) });
        let dashboard = Dashboard::new(sign_in, PAGE_REFRESH_SECONDS).map_err(DomainError::Unavailable)?;
        let client = callops_aws::embedded::client_for_endpoint(&endpoint);
        let created = match engine {
            Some(_) => table::create_embedded_table(&client, TABLE).await,
            None => table::create_table(&client, TABLE).await,
        };
        created.map_err(|e| DomainError::Unavailable(format!("cannot create the table: {e}")))?;
        let store = DynamoStore::new(client, TABLE);
        let store = match &options.data_dir {
            Some(dir) if options.dynamodb_endpoint.is_none() => store.with_pseudonym_key(pseudonym_key_of(dir)?),
            _ => store,
        };
        if options.demo {
            demo::seed(&store, demo::DEMO_ORG, chrono::Utc::now()).await?;
        }
        let (vapi, simulator) = match &options.vapi {
            VapiBackend::Simulator(settings) => {
                let mut secrets = HashMap::new();
                for credential in &options.vapi_credentials {
                    secrets.entry(credential.org_id.clone()).or_insert_with(|| credential.secret.clone());
                }
                let simulator = VapiSimulator::start(settings.clone(), secrets)
                    .await
                    .map_err(|e| DomainError::Unavailable(format!("the Vapi simulator cannot start: {e}")))?;
                let client = VapiClient::new(simulator.base_url(), simulator.api_key(), options.dial.request_timeout)
                    .map(|client| client.with_public_key(Some(settings.public_key.clone())));
                (client, Some(simulator))
            }
            VapiBackend::Remote { base_url, api_key, public_key } => {
                (VapiClient::new(base_url, api_key, options.dial.request_timeout).map(|client| client.with_public_key(public_key.clone())), None)
            }
        };
        let vapi: Arc<dyn VapiApi> = Arc::new(vapi.map_err(DomainError::Unavailable)?);
        let scheduler = LocalScheduler::new();
        let dialer = Dialer::new(
            store.clone(),
            Arc::new(scheduler.clone()),
            vapi.clone(),
            Arc::new(callops_aws::secrets::SecretResolver::env_only()),
            callops_domain::agent::secret::SecretNamespace::local(),
            options.dial.clone(),
        );
        let (rnd_client, rnd): (Option<Arc<dyn callops_domain::consent::reassigned::ReassignedNumbers>>, _) = match &options.rnd {
            RndBackend::Fake(disconnected) => {
                let fake = fake_rnd::FakeRnd::start(disconnected.clone())
                    .await
                    .map_err(|e| DomainError::Unavailable(format!("the Reassigned Numbers Database fake cannot start: {e}")))?;
                (Some(Arc::new(callops_service::rnd::RndClient::new(fake.endpoint(), "local", options.dial.request_timeout)?)), Some(fake))
            }
            RndBackend::Remote { endpoint, key } => (Some(Arc::new(callops_service::rnd::RndClient::new(endpoint, key, options.dial.request_timeout)?)), None),
            RndBackend::Off => (None, None),
        };
        let dialer = match &rnd_client {
            Some(client) => dialer.with_rnd(client.clone()),
            None => dialer,
        };
        let dialer = match options.dial_at {
            Some(at) => dialer.with_clock(Arc::new(At(at))),
            None => dialer,
        };
        let restored = scheduler.restore(&store).await?;
        if restored > 0 {
            tracing::info!(restored, "scheduled attempts restored from the store");
        }
        let mut tasks = vec![scheduler.run(dialer.clone())];
        if let Some((every, settings)) = options.reconcile.clone() {
            let (dialer, calls) = (dialer.clone(), Calls::new(store.clone(), Arc::new(scheduler.clone()), vapi.clone()));
            let scrubber = engine.as_ref().map(EmbeddedDynamo::scrubber);
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    match dialer.reconcile(&calls, &settings, chrono::Utc::now()).await {
                        // Content past its retention went: none of it stays in the engine's files.
                        Ok(done) if done.content_expired > 0 => {
                            if let Some(scrubber) = &scrubber
                                && let Err(err) = scrubber.scrub().await
                            {
                                tracing::error!(error = %err, "expired content may remain in the engine's files until the next scrub");
                            }
                        }
                        Ok(_) => {}
                        Err(err) => tracing::warn!(error = %err, "the reconciler's run failed"),
                    }
                }
            }));
        }
        Ok(Host { engine, endpoint, store, options, scheduler, dialer, vapi, simulator, rnd, rnd_client, dashboard, tasks })
    }

    /// The dialer, as the scheduler fires it.
    pub fn dialer(&self) -> &Dialer {
        &self.dialer
    }

    /// The Reassigned Numbers Database fake, when the host runs it.
    pub fn rnd(&self) -> Option<&fake_rnd::FakeRnd> {
        self.rnd.as_ref()
    }

    /// The Vapi simulator, when the host runs one.
    pub fn simulator(&self) -> Option<&VapiSimulator> {
        self.simulator.as_ref()
    }

    /// The use cases on this host's store, for running the reconciler by hand.
    pub fn calls(&self) -> Calls {
        Calls::new(self.store.clone(), Arc::new(self.scheduler.clone()), self.vapi.clone())
    }

    pub fn store(&self) -> &DynamoStore {
        &self.store
    }

    /// The scheduler standing in for EventBridge Scheduler.
    pub fn scheduler(&self) -> &LocalScheduler {
        &self.scheduler
    }

    /// Runs the embedded engine's time-to-live sweep now (it runs every
    /// minute by itself); with a DynamoDB endpoint, that service's own does.
    pub async fn sweep_expired(&self) -> Result<usize, DomainError> {
        match &self.engine {
            Some(engine) => engine.sweep_expired().await,
            None => Ok(0),
        }
    }

    /// The DynamoDB endpoint the host uses: its embedded engine's, or the one it was given.
    pub fn dynamodb_endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The HTTP app: `/healthz`, then every API route and the dashboard.
    pub fn router(&self) -> Router {
        let state = Arc::new(HostState {
            functions: Functions::new(
                self.store.clone(),
                WebhookAuth::new(self.options.vapi_credentials.clone()),
                self.scheduler.clone(),
                self.vapi.clone(),
                self.dashboard.clone(),
            )
            .with_twilio(self.options.twilio_tokens.clone())
            .with_rnd(self.rnd_client.clone()),
            routes: gateway::routes(),
            tokens: self.options.tokens.clone(),
            scrubber: self.engine.as_ref().map(EmbeddedDynamo::scrubber),
        });
        Router::new()
            .route("/healthz", get(|| async { axum::Json(json!({ "status": "ok" })) }))
            .route("/openapi.json", get(|| async { axum::Json(openapi().clone()) }))
            .fallback(api_gateway)
            .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(state)
    }

    /// Serves until `shutdown` resolves. The engine stops when the host is dropped.
    pub async fn serve(&self, listener: tokio::net::TcpListener, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        if let Some(simulator) = &self.simulator {
            simulator.send_webhooks_to(format!("http://127.0.0.1:{}/webhooks/vapi", listener.local_addr()?.port()));
        }
        axum::serve(listener, self.router().into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(shutdown).await
    }
}

fn to_axum(response: lambda_http::Response<lambda_http::Body>) -> Response {
    let (parts, bytes) = gateway::into_parts(response);
    (parts.status, parts.headers, bytes).into_response()
}

/// The claims of the bearer token, if it is one the host was started with:
/// its tenant, its role (when it has one) and its own subject.
fn claims_for(headers: &HeaderMap, tokens: &HashMap<String, DevToken>) -> Option<serde_json::Value> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    Some(tokens.get(token.trim())?.claims(token.trim()))
}

/// The local host's listening socket on `addr`; a taken port says how to pick another.
pub async fn listen(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "cannot listen on {addr}: the port is taken (another callops dev?); stop that one, or pick another port: callops dev --listen {}:{}",
            addr.ip(),
            addr.port().saturating_add(1)
        ),
        _ => format!("cannot listen on {addr}: {e}"),
    })
}

/// What a request without a token the local host knows is told.
const LOCAL_SIGN_IN: &str = "send Authorization: Bearer <token> with a token this host knows: the ones `callops dev` printed when it started (dev-token, for the demo practice, unless --dev-token TOKEN:ORG[:ROLE] gave others)";

async fn api_gateway(
    State(state): State<Arc<HostState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let Some((route, params)) = gateway::find_route(&state.routes, method.as_str(), path) else {
        return to_axum(error_response(&ApiError::NoRoute(format!("{method} {path}"))));
    };
    let claims = if route.authorized {
        match claims_for(&headers, &state.tokens) {
            Some(claims) => Some(claims),
            None => return to_axum(error_response(&ApiError::SignInFirst(LOCAL_SIGN_IN.into()))),
        }
    } else {
        None
    };
    let incoming =
        Incoming { method: method.as_str(), path, query: uri.query().unwrap_or_default(), headers: &headers, body: &body, source_ip: peer.ip().to_string() };
    let event = gateway::event(&incoming, route, &params, claims.as_ref());
    let request = match gateway::lambda_request(&event) {
        Ok(request) => request,
        Err(err) => {
            tracing::error!(error = %err, "the gateway event did not parse");
            return (StatusCode::INTERNAL_SERVER_ERROR, "gateway event did not parse").into_response();
        }
    };
    let response = state.functions.call(route.function, request).await;
    // What Lambda would refuse to carry, API Gateway answers with a 502: so does the host.
    let weight = gateway::lambda_weight(&response);
    if weight > gateway::LAMBDA_RESPONSE_LIMIT {
        tracing::error!(route = route.key, weight, "the answer passes Lambda's 6 MB response limit");
        return (StatusCode::BAD_GATEWAY, axum::Json(json!({"message": "Internal Server Error"}))).into_response();
    }
    if let Some(scrubber) = &state.scrubber
        && response.status().is_success()
        && SCRUBBED_AFTER.contains(&route.key)
        && let Err(err) = scrubber.scrub().await
    {
        tracing::error!(error = %err, "erased records may remain in the engine's files until the next scrub");
    }
    to_axum(response)
}
