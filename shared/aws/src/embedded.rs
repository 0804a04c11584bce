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
    /// The data dir's lock, held as long as the engine runs (none in memory).
    _lock: Option<std::fs::File>,
}

/// How a process holds a data dir. Every process that opens one takes its
/// lock: the host and the operator commands share it; a bulk import
/// ([`EmbeddedDynamo::load_items`]) writes without conditions and so holds it
/// alone, and no other process may open the dir meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirAccess {
    Shared,
    Alone,
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

    /// An engine whose data lives in a SQLite file under `dir`, shared with
    /// the other processes that open it.
    pub async fn on_disk(dir: &Path) -> Result<Self, DomainError> {
        Self::on_disk_with(dir, DirAccess::Shared).await
    }

    /// An engine whose data lives in a SQLite file under `dir`, holding the
    /// dir as `access` says: refused while another process holds it in a way
    /// that excludes this one.
    pub async fn on_disk_with(dir: &Path, access: DirAccess) -> Result<Self, DomainError> {
        std::fs::create_dir_all(dir).map_err(|e| DomainError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        let lock = lock_dir(dir, access)?;
        let file = dir.join("callops.db");
        let db = Database::new(&file.to_string_lossy()).map_err(|e| DomainError::Unavailable(format!("embedded engine at {}: {e}", file.display())))?;
        let mut engine = Self::serve(db, "127.0.0.1:0".parse().expect("a socket address")).await?;
        engine._lock = Some(lock);
        Ok(engine)
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
        Ok(EmbeddedDynamo { endpoint: format!("http://{local}"), stop: Some(stop), db, _lock: None })
    }

    /// Leaves nothing removed in the engine's files: the database is
    /// rebuilt without its free pages (`VACUUM`, so a deleted or rewritten
    /// item's old bytes are not left in a page SQLite marked free), and
    /// the write-ahead log, which keeps old versions of pages until it is
    /// overwritten, is checkpointed into the file and truncated to nothing.
    /// Run after an erasure, a retention round that removed content, and a
    /// restore's re-applied erasures. Nothing to do in memory.
    pub async fn scrub(&self) -> Result<(), DomainError> {
        self.scrubber().scrub().await
    }

    /// What scrubs this engine's files from elsewhere (a request's handler, a sweep).
    pub fn scrubber(&self) -> Scrubber {
        Scrubber { db: self.db.clone() }
    }
}

/// Scrubs an engine's files ([`EmbeddedDynamo::scrub`]); clones share the engine.
#[derive(Clone)]
pub struct Scrubber {
    db: Database,
}

impl Scrubber {
    /// See [`EmbeddedDynamo::scrub`].
    pub async fn scrub(&self) -> Result<(), DomainError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || -> Result<(), DomainError> {
            let Some(path) = db.db_path().map_err(|e| DomainError::Unavailable(format!("embedded engine: {e}")))? else { return Ok(()) };
            db.vacuum().map_err(|e| DomainError::Unavailable(format!("embedded engine: VACUUM: {e}")))?;
            let conn = rusqlite::Connection::open(&path).map_err(|e| DomainError::Unavailable(format!("embedded engine at {path}: {e}")))?;
            conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(|e| DomainError::Unavailable(e.to_string()))?;
            // (busy, log frames, frames checkpointed): busy means a reader held the log, and it was not truncated.
            let (busy, _, _): (i64, i64, i64) = conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .map_err(|e| DomainError::Unavailable(format!("embedded engine: checkpoint: {e}")))?;
            if busy != 0 {
                return Err(DomainError::Unavailable("the write-ahead log is in use and was not truncated; scrub again".into()));
            }
            Ok(())
        })
        .await
        .map_err(|e| DomainError::Unavailable(e.to_string()))?
    }
}

impl EmbeddedDynamo {
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

    /// A second engine over the same SQLite file, on a connection of its
    /// own, for reads beside this one's writes: SQLite's write-ahead log
    /// lets a reader go on while the writer writes, and each read sees every
    /// write committed before it began. None for an engine in memory.
    pub async fn reader(&self) -> Result<Option<EmbeddedDynamo>, DomainError> {
        let Some(path) = self.db.db_path().map_err(|e| DomainError::Unavailable(format!("embedded engine: {e}")))? else { return Ok(None) };
        let db = Database::new(&path).map_err(|e| DomainError::Unavailable(format!("embedded engine at {path}: {e}")))?;
        Self::serve(db, "127.0.0.1:0".parse().expect("a socket address")).await.map(Some)
    }

    /// Puts `items` (built by the store's own item builders) into `table` in
    /// one write of the engine's own, all or none, with their index entries:
    /// no conditions and no `ADD`s, so only for a process that holds the
    /// data dir alone ([`DirAccess::Alone`]) and has read what each item replaces
    /// ([`crate::DynamoStore::plan_bulk_load`]).
    pub async fn load_items(&self, table: &str, items: Vec<crate::item::Item>) -> Result<(), DomainError> {
        let (db, table) = (self.db.clone(), table.to_string());
        tokio::task::spawn_blocking(move || {
            let items: Vec<dynoxide::Item> =
                items.into_iter().map(|item| item.into_iter().map(|(name, value)| (name, engine_value(value))).collect()).collect();
            db.import_items(&table, items, dynoxide::ImportOptions::default())
        })
        .await
        .map_err(|e| DomainError::Unavailable(e.to_string()))?
        .map(|_| ())
        .map_err(|e| DomainError::Unavailable(format!("embedded engine: {e}")))
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

/// Takes the lock of the data dir `dir` (the file `callops.lock` in it).
fn lock_dir(dir: &Path, access: DirAccess) -> Result<std::fs::File, DomainError> {
    let path = dir.join("callops.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| DomainError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
    let taken = match access {
        DirAccess::Shared => file.try_lock_shared(),
        DirAccess::Alone => file.try_lock(),
    };
    match taken {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(DomainError::Unavailable(match access {
            DirAccess::Shared => format!("{} is held by a `callops migrate` run; wait for it to end", dir.display()),
            DirAccess::Alone => format!("{} is in use by another callops process (`callops dev`, say); stop it first", dir.display()),
        })),
        Err(std::fs::TryLockError::Error(e)) => Err(DomainError::Unavailable(format!("cannot lock {}: {e}", path.display()))),
    }
}

/// An SDK attribute value as the engine's own type.
fn engine_value(value: aws_sdk_dynamodb::types::AttributeValue) -> dynoxide::AttributeValue {
    use aws_sdk_dynamodb::types::AttributeValue as Sdk;
    use dynoxide::AttributeValue as Engine;
    match value {
        Sdk::S(text) => Engine::S(text),
        Sdk::N(number) => Engine::N(number),
        Sdk::B(blob) => Engine::B(blob.into_inner()),
        Sdk::Bool(flag) => Engine::BOOL(flag),
        Sdk::Ss(texts) => Engine::SS(texts),
        Sdk::Ns(numbers) => Engine::NS(numbers),
        Sdk::Bs(blobs) => Engine::BS(blobs.into_iter().map(|blob| blob.into_inner()).collect()),
        Sdk::L(list) => Engine::L(list.into_iter().map(engine_value).collect()),
        Sdk::M(map) => Engine::M(map.into_iter().map(|(name, value)| (name, engine_value(value))).collect()),
        Sdk::Null(flag) => Engine::NULL(flag),
        // A kind a later SDK adds: the store's item builders write none.
        _ => Engine::NULL(true),
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
