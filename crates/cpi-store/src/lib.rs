//! Durable state of the CPI daemon: agent settings, registry credentials, stemcell records,
//! published store files and the operations journal.
//!
//! The [`Store`] trait is the only way the rest of the daemon touches the database, and this
//! crate is the only one that contains SQL. It has two implementations built on sqlx with
//! plain runtime queries (no `Any` driver, no compile-time-checked macros):
//!
//! - [`PgStore`] for PostgreSQL, used in production; several daemons may share one database,
//!   so every read-modify-write runs in a transaction holding a row lock;
//! - [`SqliteStore`] for the embedded default (`bosh create-env`), in WAL mode with a busy
//!   timeout; read-modify-write transactions start with `BEGIN IMMEDIATE` so concurrent
//!   writers queue instead of failing on lock upgrade.
//!
//! [`connect`] picks the backend from the URL scheme (`postgres://` or `sqlite://`) and runs
//! the embedded migrations from `migrations/postgres` or `migrations/sqlite`.
//!
//! Invariants:
//! - Settings are stored byte for byte with no size cap (TEXT columns), so the registry hands
//!   back exactly what it was given.
//! - Only hashes of registry credentials are stored, never the credentials.
//! - Errors are one enum, [`StoreError`]; connection-level failures are
//!   [`StoreError::Unavailable`] and retryable, and pool acquire timeouts are short, so a
//!   database outage fails requests quickly instead of hanging them. A pool survives a
//!   database restart: connections are re-established on demand.
//! - Database passwords never appear in errors, logs or `Debug` output ([`redact_url`]).
//! - Timestamps are UTC with millisecond precision on both backends.

mod error;
mod model;
mod pg;
mod sqlite;

#[cfg(feature = "test-support")]
pub mod pg_test;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

pub use error::{Backend, StoreError, redact_url};
pub use model::{
    NewOperation, NewStemcell, NewStoreFile, NewVmSettings, Operation, OperationFilter,
    OperationState, RegistryEntry, SettingsEdit, Stemcell, StemcellState, StoreFile,
    StoreFileFilter, StoreFileState, VmSettings, now_millis,
};
pub use pg::PgStore;
pub use sqlite::SqliteStore;

/// Tunables shared by both backends.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Largest number of pooled connections.
    pub max_connections: u32,
    /// How long a query waits for a pooled connection before failing as unavailable. Kept
    /// short so that an outage surfaces as a clear error within a CPI call's budget.
    pub acquire_timeout: Duration,
    /// How long SQLite waits on a locked database before giving up.
    pub sqlite_busy_timeout: Duration,
    /// Whether to apply pending migrations when connecting.
    pub migrate_on_connect: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
            sqlite_busy_timeout: Duration::from_secs(5),
            migrate_on_connect: true,
        }
    }
}

/// The daemon's persistent state. Object safe, so it is shared as `Arc<dyn Store>`.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Which engine this store uses.
    fn backend(&self) -> Backend;

    /// A counter bumped after every committed change to VM settings or credentials made
    /// through this store object. Caches of settings in the same process compare it to know
    /// whether an entry may be stale, without asking the database.
    fn settings_generation(&self) -> u64;

    /// A cheap round trip to the database, for health checks.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Applies pending embedded migrations (idempotent).
    async fn migrate(&self) -> Result<(), StoreError>;

    /// Closes the pool, waiting for checked-out connections to be returned.
    async fn close(&self);

    /// The settings recorded for `vm_cid`, if any.
    async fn get_settings(&self, vm_cid: &str) -> Result<Option<VmSettings>, StoreError>;

    /// The settings and credential hash of a VM in one round trip, for registry GETs.
    async fn registry_entry(&self, vm_cid: &str) -> Result<Option<RegistryEntry>, StoreError>;

    /// Creates or replaces a VM's settings. An existing credential hash is kept.
    async fn put_settings(&self, settings: &NewVmSettings) -> Result<(), StoreError>;

    /// Removes a VM's settings and credential. Returns whether a record existed.
    async fn delete_settings(&self, vm_cid: &str) -> Result<bool, StoreError>;

    /// Atomically reads, edits and writes a VM's settings (used by attach and detach to edit
    /// the persistent disk map). Concurrent edits of one VM are serialised, none is lost.
    /// Fails with [`StoreError::NotFound`] when the VM has no settings.
    async fn update_settings(
        &self,
        vm_cid: &str,
        edit: SettingsEdit,
    ) -> Result<VmSettings, StoreError>;

    /// Records the hash of a VM's registry credential, creating the VM's record if needed
    /// (a credential may be minted before the VM's settings are known).
    async fn set_credential_hash(&self, vm_cid: &str, hash: &str) -> Result<(), StoreError>;

    /// The hash of a VM's registry credential, if one was minted.
    async fn credential_hash(&self, vm_cid: &str) -> Result<Option<String>, StoreError>;

    /// Creates or replaces a stemcell record.
    async fn put_stemcell(&self, stemcell: &NewStemcell) -> Result<(), StoreError>;

    /// The stemcell record for a template, if any.
    async fn get_stemcell(&self, template_id: &str) -> Result<Option<Stemcell>, StoreError>;

    /// Every stemcell record, ordered by creation time.
    async fn list_stemcells(&self) -> Result<Vec<Stemcell>, StoreError>;

    /// Changes a stemcell's state; [`StoreError::NotFound`] if unknown.
    async fn set_stemcell_state(
        &self,
        template_id: &str,
        state: StemcellState,
    ) -> Result<(), StoreError>;

    /// Removes a stemcell record. Returns whether it existed.
    async fn delete_stemcell(&self, template_id: &str) -> Result<bool, StoreError>;

    /// Creates or replaces a store file record.
    async fn put_store_file(&self, file: &NewStoreFile) -> Result<(), StoreError>;

    /// The store file record at `path`, if any.
    async fn get_store_file(&self, path: &str) -> Result<Option<StoreFile>, StoreError>;

    /// Changes a store file's state; [`StoreError::NotFound`] if unknown.
    async fn set_store_file_state(
        &self,
        path: &str,
        state: StoreFileState,
    ) -> Result<(), StoreError>;

    /// Store files matching `filter`, oldest first.
    async fn list_store_files(
        &self,
        filter: &StoreFileFilter,
    ) -> Result<Vec<StoreFile>, StoreError>;

    /// Removes a store file record. Returns whether it existed.
    async fn delete_store_file(&self, path: &str) -> Result<bool, StoreError>;

    /// Journals the start of an operation and returns it with its new id.
    async fn start_operation(&self, operation: &NewOperation) -> Result<Operation, StoreError>;

    /// Marks an operation finished (`Done` or `Failed`, with an optional error text).
    async fn finish_operation(
        &self,
        id: &str,
        state: OperationState,
        error: Option<&str>,
    ) -> Result<(), StoreError>;

    /// One journaled operation, if any.
    async fn get_operation(&self, id: &str) -> Result<Option<Operation>, StoreError>;

    /// Operations matching `filter`, oldest first.
    async fn list_operations(&self, filter: &OperationFilter)
    -> Result<Vec<Operation>, StoreError>;

    /// Deletes finished operations that ended before `cutoff`. Returns how many went.
    async fn delete_operations_finished_before(
        &self,
        cutoff: OffsetDateTime,
    ) -> Result<u64, StoreError>;
}

/// The counter behind [`Store::settings_generation`], shared by a store's clones.
#[derive(Debug, Default, Clone)]
pub(crate) struct SettingsGeneration(Arc<AtomicU64>);

impl SettingsGeneration {
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Call after the change has committed, so a reader that saw the old generation re-reads.
    pub(crate) fn bump(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Connects to the database named by `database_url` with default options.
pub async fn connect(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    connect_with(database_url, &StoreOptions::default()).await
}

/// Connects to `postgres://…` (or `postgresql://…`) or `sqlite:///path` (the file is created
/// if missing) and, unless disabled, applies pending migrations.
pub async fn connect_with(
    database_url: &str,
    options: &StoreOptions,
) -> Result<Arc<dyn Store>, StoreError> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(database_url, options).await?))
    } else if database_url.starts_with("sqlite://") {
        Ok(Arc::new(SqliteStore::connect(database_url, options).await?))
    } else {
        Err(StoreError::InvalidUrl {
            url: redact_url(database_url),
            reason: "expected a postgres:// or sqlite:// URL".to_string(),
        })
    }
}
