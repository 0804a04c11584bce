//! The embedded DynamoDB-compatible engine (dynoxide), served over the
//! DynamoDB HTTP API from inside this process, so the store talks to it
//! through the very SDK calls it makes in AWS.

use std::{net::SocketAddr, path::Path};

use aws_sdk_dynamodb::{Client, config::Credentials};
use callops_domain::DomainError;
use tokio::sync::oneshot;

pub use dynoxide::Database;

/// A running engine. Dropping it stops the server.
pub struct EmbeddedDynamo {
    endpoint: String,
    stop: Option<oneshot::Sender<()>>,
    db: Database,
}

/// How often the engine deletes items past their time to live, as
/// DynamoDB's own background process does (DynamoDB takes up to a few days).
pub const TTL_SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl EmbeddedDynamo {
    /// An engine holding nothing but memory.
    pub async fn in_memory() -> Result<Self, DomainError> {
        let db = Database::memory().map_err(|e| DomainError::Unavailable(format!("embedded engine: {e}")))?;
        Self::serve(db, "127.0.0.1:0".parse().expect("a socket address")).await
    }

    /// An engine whose data lives in a SQLite file under `dir`.
    pub async fn on_disk(dir: &Path) -> Result<Self, DomainError> {
        std::fs::create_dir_all(dir).map_err(|e| DomainError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        let file = dir.join("callops.db");
        let db = Database::new(&file.to_string_lossy()).map_err(|e| DomainError::Unavailable(format!("embedded engine at {}: {e}", file.display())))?;
        Self::serve(db, "127.0.0.1:0".parse().expect("a socket address")).await
    }

    /// Serves `db` on `addr` (port 0 picks a free one) until dropped.
    pub async fn serve(db: Database, addr: SocketAddr) -> Result<Self, DomainError> {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| DomainError::Unavailable(format!("cannot listen on {addr}: {e}")))?;
        let local = listener.local_addr().map_err(|e| DomainError::Unavailable(e.to_string()))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let swept = db.clone();
        let sweeper = tokio::spawn(async move {
            loop {
                tokio::time::sleep(TTL_SWEEP_EVERY).await;
                let db = swept.clone();
                match tokio::task::spawn_blocking(move || db.sweep_ttl()).await {
                    Ok(Ok(deleted)) if deleted > 0 => tracing::info!(deleted, "items past their time to live were deleted"),
                    Ok(Err(err)) => tracing::warn!(error = %err, "the time-to-live sweep failed; it runs again"),
                    _ => {}
                }
            }
        });
        let served = db.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            if let Err(err) = dynoxide::server::serve_with_shutdown(listener, served, shutdown).await {
                tracing::error!(error = %err, "embedded DynamoDB engine stopped");
            }
            sweeper.abort();
        });
        Ok(EmbeddedDynamo { endpoint: format!("http://{local}"), stop: Some(stop), db })
    }

    /// Puts the engine's file in bulk-loading mode for an import: SQLite
    /// stops waiting for each write to reach the disk (`synchronous = OFF`)
    /// and keeps more pages in memory. A crash of the machine (not of the
    /// process) during the import can lose its last writes; `callops
    /// migrate` is safe to run again and finds what is missing. [`Self::end_bulk_load`] restores the normal settings.
    pub fn begin_bulk_load(&self) -> Result<(), DomainError> {
        self.db.enable_bulk_loading().map_err(|e| DomainError::Unavailable(format!("embedded engine: {e}")))
    }

    /// Back to the normal settings (`synchronous = NORMAL`: each transaction durable once it returns).
    pub fn end_bulk_load(&self) -> Result<(), DomainError> {
        self.db.disable_bulk_loading().map_err(|e| DomainError::Unavailable(format!("embedded engine: {e}")))
    }

    /// Deletes every item past its time to live now (the sweep the engine
    /// runs every [`TTL_SWEEP_EVERY`]); returns how many went.
    pub async fn sweep_expired(&self) -> Result<usize, DomainError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.sweep_ttl())
            .await
            .map_err(|e| DomainError::Unavailable(e.to_string()))?
            .map_err(|e| DomainError::Unavailable(format!("embedded engine: {e}")))
    }

    /// The DynamoDB endpoint URL, for `AWS_ENDPOINT_URL_DYNAMODB` or a client.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// An SDK client for this engine (any region, dummy credentials).
    pub fn client(&self) -> Client {
        client_for_endpoint(&self.endpoint)
    }
}

impl Drop for EmbeddedDynamo {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An SDK client for a local DynamoDB-compatible endpoint. Each endpoint has
/// its own retry budget (the SDK's default is one per process), as each is
/// a service of its own.
pub fn client_for_endpoint(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "callops-embedded"))
        .endpoint_url(endpoint)
        .retry_config(crate::dynamodb_retry_config())
        .retry_partition(aws_sdk_dynamodb::config::retry::RetryPartition::new(format!("dynamodb {endpoint}")))
        .build();
    Client::from_conf(config)
}

/// A store over a fresh in-memory engine with the table created: what each
/// store test starts from. Keep the engine alive as long as the store is used.
pub async fn fresh_store() -> (EmbeddedDynamo, crate::DynamoStore) {
    let engine = EmbeddedDynamo::in_memory().await.expect("the embedded engine starts");
    let client = engine.client();
    crate::table::create_embedded_table(&client, "callops").await.expect("the table is created");
    (engine, crate::DynamoStore::new(client, "callops"))
}
