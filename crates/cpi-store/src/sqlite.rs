//! SQLite backend, the embedded default.

use std::fmt;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use time::OffsetDateTime;

use crate::model::{
    NewOperation, NewStemcell, NewStoreFile, NewVmSettings, Operation, OperationFilter,
    OperationState, RegistryEntry, SettingsEdit, Stemcell, StemcellState, StoreFile,
    StoreFileFilter, StoreFileState, VmSettings, apply_edit, now_millis,
};
use crate::{Backend, SettingsGeneration, Store, StoreError, StoreOptions};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

/// A [`Store`] on a SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Bumped after every committed change to VM settings or credentials (see
    /// [`crate::Store::settings_generation`]).
    settings_generation: SettingsGeneration,
    path: String,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn db_error(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(Backend::Sqlite, error)
}

fn to_millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_millis(millis: i64, column: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).map_err(|error| {
        StoreError::Corrupt {
            what: format!("timestamp column '{column}'"),
            reason: error.to_string(),
        }
    })
}

fn get_time(row: &SqliteRow, column: &str) -> Result<OffsetDateTime, StoreError> {
    let millis: i64 = row.try_get(column).map_err(db_error)?;
    from_millis(millis, column)
}

fn get_optional_time(row: &SqliteRow, column: &str) -> Result<Option<OffsetDateTime>, StoreError> {
    let millis: Option<i64> = row.try_get(column).map_err(db_error)?;
    millis.map(|m| from_millis(m, column)).transpose()
}

fn get_json<T: serde::de::DeserializeOwned>(
    row: &SqliteRow,
    column: &str,
) -> Result<T, StoreError> {
    let text: String = row.try_get(column).map_err(db_error)?;
    serde_json::from_str(&text).map_err(|error| StoreError::Corrupt {
        what: format!("JSON column '{column}'"),
        reason: error.to_string(),
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError::Corrupt {
        what: "JSON value".to_string(),
        reason: error.to_string(),
    })
}

fn settings_from_row(row: &SqliteRow) -> Result<VmSettings, StoreError> {
    Ok(VmSettings {
        vm_cid: row.try_get("vm_cid").map_err(db_error)?,
        agent_id: row
            .try_get::<Option<String>, _>("agent_id")
            .map_err(db_error)?
            .unwrap_or_default(),
        settings: row.try_get("settings").map_err(db_error)?,
        stemcell_api_version: row.try_get("stemcell_api_version").map_err(db_error)?,
        created_at: get_time(row, "created_at")?,
        updated_at: get_time(row, "updated_at")?,
    })
}

fn stemcell_from_row(row: &SqliteRow) -> Result<Stemcell, StoreError> {
    let state: String = row.try_get("state").map_err(db_error)?;
    Ok(Stemcell {
        template_id: row.try_get("template_id").map_err(db_error)?,
        name: row.try_get("name").map_err(db_error)?,
        zone_ids: get_json(row, "zone_ids")?,
        format: row.try_get("format").map_err(db_error)?,
        hypervisor: row.try_get("hypervisor").map_err(db_error)?,
        checksum: row.try_get("checksum").map_err(db_error)?,
        store_path: row.try_get("store_path").map_err(db_error)?,
        publish_mode: row.try_get("publish_mode").map_err(db_error)?,
        light: row.try_get("light").map_err(db_error)?,
        state: StemcellState::parse(&state)?,
        created_at: get_time(row, "created_at")?,
        updated_at: get_time(row, "updated_at")?,
    })
}

fn store_file_from_row(row: &SqliteRow) -> Result<StoreFile, StoreError> {
    let state: String = row.try_get("state").map_err(db_error)?;
    Ok(StoreFile {
        path: row.try_get("path").map_err(db_error)?,
        template_id: row.try_get("template_id").map_err(db_error)?,
        size: row.try_get("size").map_err(db_error)?,
        sha256: row.try_get("sha256").map_err(db_error)?,
        state: StoreFileState::parse(&state)?,
        created_at: get_time(row, "created_at")?,
        expires_at: get_optional_time(row, "expires_at")?,
    })
}

fn operation_from_row(row: &SqliteRow) -> Result<Operation, StoreError> {
    let state: String = row.try_get("state").map_err(db_error)?;
    Ok(Operation {
        id: row.try_get("id").map_err(db_error)?,
        kind: row.try_get("kind").map_err(db_error)?,
        vm_cid: row.try_get("vm_cid").map_err(db_error)?,
        disk_cid: row.try_get("disk_cid").map_err(db_error)?,
        template_id: row.try_get("template_id").map_err(db_error)?,
        state: OperationState::parse(&state)?,
        payload: get_json::<Value>(row, "payload")?,
        error: row.try_get("error").map_err(db_error)?,
        started_at: get_time(row, "started_at")?,
        finished_at: get_optional_time(row, "finished_at")?,
    })
}

impl SqliteStore {
    /// Opens (creating if missing) the SQLite file named by a `sqlite:///path` URL and, if
    /// `options.migrate_on_connect`, migrates.
    pub async fn connect(database_url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let path = database_url
            .strip_prefix("sqlite://")
            .filter(|path| !path.is_empty() && !path.contains('?'))
            .ok_or_else(|| StoreError::InvalidUrl {
                url: database_url.to_string(),
                reason: "expected sqlite:///absolute/path/to/file.db".to_string(),
            })?;
        let connect_options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            // WAL lets readers (registry GETs) proceed while a writer holds the lock.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(options.sqlite_busy_timeout)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect_options)
            .await
            .map_err(|error| match db_error(error) {
                StoreError::Database { reason, .. } | StoreError::Unavailable { reason, .. } => {
                    StoreError::Unavailable {
                        backend: Backend::Sqlite,
                        reason: format!("cannot open '{path}': {reason}"),
                    }
                }
                other => other,
            })?;
        let store = SqliteStore {
            pool,
            path: path.to_string(),
            settings_generation: Default::default(),
        };
        if options.migrate_on_connect {
            store.migrate().await?;
        }
        tracing::info!(path = %store.path, "Opened the SQLite store.");
        Ok(store)
    }

    /// The underlying pool, for tests and diagnostics.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn read_settings_locked(
        tx: &mut Transaction<'static, Sqlite>,
        vm_cid: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT settings FROM vm_settings WHERE vm_cid = ?1")
            .bind(vm_cid)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_error)?;
        match row {
            Some(row) => row
                .try_get::<Option<String>, _>("settings")
                .map_err(db_error),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn settings_generation(&self) -> u64 {
        self.settings_generation.get()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await.map_err(|error| match error {
            sqlx::migrate::MigrateError::Execute(inner) => db_error(inner),
            other => StoreError::Migration {
                backend: Backend::Sqlite,
                reason: other.to_string(),
            },
        })
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn get_settings(&self, vm_cid: &str) -> Result<Option<VmSettings>, StoreError> {
        let row =
            sqlx::query("SELECT * FROM vm_settings WHERE vm_cid = ?1 AND settings IS NOT NULL")
                .bind(vm_cid)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
        row.as_ref().map(settings_from_row).transpose()
    }

    async fn registry_entry(&self, vm_cid: &str) -> Result<Option<RegistryEntry>, StoreError> {
        let row =
            sqlx::query("SELECT settings, credential_hash FROM vm_settings WHERE vm_cid = ?1")
                .bind(vm_cid)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
        row.map(|row| {
            Ok(RegistryEntry {
                settings: row.try_get("settings").map_err(db_error)?,
                credential_hash: row.try_get("credential_hash").map_err(db_error)?,
            })
        })
        .transpose()
    }

    async fn put_settings(&self, settings: &NewVmSettings) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO vm_settings (vm_cid, agent_id, settings, stemcell_api_version, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?5) \
             ON CONFLICT (vm_cid) DO UPDATE SET agent_id = excluded.agent_id, settings = excluded.settings, \
             stemcell_api_version = excluded.stemcell_api_version, updated_at = excluded.updated_at",
        )
        .bind(&settings.vm_cid)
        .bind(&settings.agent_id)
        .bind(&settings.settings)
        .bind(settings.stemcell_api_version)
        .bind(to_millis(now_millis()))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        self.settings_generation.bump();
        Ok(())
    }

    async fn delete_settings(&self, vm_cid: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM vm_settings WHERE vm_cid = ?1")
            .bind(vm_cid)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        self.settings_generation.bump();
        Ok(result.rows_affected() > 0)
    }

    async fn update_settings(
        &self,
        vm_cid: &str,
        edit: SettingsEdit,
    ) -> Result<VmSettings, StoreError> {
        // BEGIN IMMEDIATE takes the write lock up front. A deferred transaction would read
        // under a shared lock and then fail with SQLITE_BUSY when upgrading, instead of
        // waiting for the busy timeout.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)?;
        let current = Self::read_settings_locked(&mut tx, vm_cid)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                kind: "VM settings",
                id: vm_cid.to_string(),
            })?;
        let updated = apply_edit(vm_cid, &current, edit)?;
        let row = sqlx::query(
            "UPDATE vm_settings SET settings = ?2, updated_at = ?3 WHERE vm_cid = ?1 RETURNING *",
        )
        .bind(vm_cid)
        .bind(&updated)
        .bind(to_millis(now_millis()))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        let record = settings_from_row(&row)?;
        tx.commit().await.map_err(db_error)?;
        self.settings_generation.bump();
        Ok(record)
    }

    async fn set_credential_hash(&self, vm_cid: &str, hash: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO vm_settings (vm_cid, credential_hash, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) \
             ON CONFLICT (vm_cid) DO UPDATE SET credential_hash = excluded.credential_hash, updated_at = excluded.updated_at",
        )
        .bind(vm_cid)
        .bind(hash)
        .bind(to_millis(now_millis()))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        self.settings_generation.bump();
        Ok(())
    }

    async fn credential_hash(&self, vm_cid: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT credential_hash FROM vm_settings WHERE vm_cid = ?1")
            .bind(vm_cid)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        match row {
            Some(row) => row.try_get("credential_hash").map_err(db_error),
            None => Ok(None),
        }
    }

    async fn put_stemcell(&self, stemcell: &NewStemcell) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO stemcells (template_id, name, zone_ids, format, hypervisor, checksum, store_path, \
             publish_mode, light, state, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11) \
             ON CONFLICT (template_id) DO UPDATE SET name = excluded.name, zone_ids = excluded.zone_ids, \
             format = excluded.format, hypervisor = excluded.hypervisor, checksum = excluded.checksum, \
             store_path = excluded.store_path, publish_mode = excluded.publish_mode, light = excluded.light, \
             state = excluded.state, updated_at = excluded.updated_at",
        )
        .bind(&stemcell.template_id)
        .bind(&stemcell.name)
        .bind(to_json(&stemcell.zone_ids)?)
        .bind(&stemcell.format)
        .bind(&stemcell.hypervisor)
        .bind(&stemcell.checksum)
        .bind(&stemcell.store_path)
        .bind(&stemcell.publish_mode)
        .bind(stemcell.light)
        .bind(stemcell.state.as_str())
        .bind(to_millis(now_millis()))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn get_stemcell(&self, template_id: &str) -> Result<Option<Stemcell>, StoreError> {
        let row = sqlx::query("SELECT * FROM stemcells WHERE template_id = ?1")
            .bind(template_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(stemcell_from_row).transpose()
    }

    async fn list_stemcells(&self) -> Result<Vec<Stemcell>, StoreError> {
        let rows = sqlx::query("SELECT * FROM stemcells ORDER BY created_at, template_id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(stemcell_from_row).collect()
    }

    async fn set_stemcell_state(
        &self,
        template_id: &str,
        state: StemcellState,
    ) -> Result<(), StoreError> {
        let result =
            sqlx::query("UPDATE stemcells SET state = ?2, updated_at = ?3 WHERE template_id = ?1")
                .bind(template_id)
                .bind(state.as_str())
                .bind(to_millis(now_millis()))
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                kind: "stemcell",
                id: template_id.to_string(),
            });
        }
        Ok(())
    }

    async fn delete_stemcell(&self, template_id: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM stemcells WHERE template_id = ?1")
            .bind(template_id)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(result.rows_affected() > 0)
    }

    async fn put_store_file(&self, file: &NewStoreFile) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO store_files (path, template_id, size, sha256, state, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (path) DO UPDATE SET template_id = excluded.template_id, size = excluded.size, \
             sha256 = excluded.sha256, state = excluded.state, expires_at = excluded.expires_at",
        )
        .bind(&file.path)
        .bind(&file.template_id)
        .bind(file.size)
        .bind(&file.sha256)
        .bind(file.state.as_str())
        .bind(to_millis(now_millis()))
        .bind(file.expires_at.map(to_millis))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn get_store_file(&self, path: &str) -> Result<Option<StoreFile>, StoreError> {
        let row = sqlx::query("SELECT * FROM store_files WHERE path = ?1")
            .bind(path)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(store_file_from_row).transpose()
    }

    async fn set_store_file_state(
        &self,
        path: &str,
        state: StoreFileState,
    ) -> Result<(), StoreError> {
        let result = sqlx::query("UPDATE store_files SET state = ?2 WHERE path = ?1")
            .bind(path)
            .bind(state.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                kind: "store file",
                id: path.to_string(),
            });
        }
        Ok(())
    }

    async fn list_store_files(
        &self,
        filter: &StoreFileFilter,
    ) -> Result<Vec<StoreFile>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM store_files WHERE (?1 IS NULL OR state = ?1) \
             AND (?2 IS NULL OR (expires_at IS NOT NULL AND expires_at < ?2)) \
             ORDER BY created_at, path",
        )
        .bind(filter.state.map(|s| s.as_str()))
        .bind(filter.expired_before.map(to_millis))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(store_file_from_row).collect()
    }

    async fn delete_store_file(&self, path: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM store_files WHERE path = ?1")
            .bind(path)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(result.rows_affected() > 0)
    }

    async fn start_operation(&self, operation: &NewOperation) -> Result<Operation, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let row = sqlx::query(
            "INSERT INTO operations (id, kind, vm_cid, disk_cid, template_id, state, payload, started_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, 'started', ?6, ?7) RETURNING *",
        )
        .bind(&id)
        .bind(&operation.kind)
        .bind(&operation.vm_cid)
        .bind(&operation.disk_cid)
        .bind(&operation.template_id)
        .bind(to_json(&operation.payload)?)
        .bind(to_millis(now_millis()))
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        operation_from_row(&row)
    }

    async fn finish_operation(
        &self,
        id: &str,
        state: OperationState,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE operations SET state = ?2, error = ?3, finished_at = ?4 WHERE id = ?1",
        )
        .bind(id)
        .bind(state.as_str())
        .bind(error)
        .bind(to_millis(now_millis()))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                kind: "operation",
                id: id.to_string(),
            });
        }
        Ok(())
    }

    async fn get_operation(&self, id: &str) -> Result<Option<Operation>, StoreError> {
        let row = sqlx::query("SELECT * FROM operations WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(operation_from_row).transpose()
    }

    async fn list_operations(
        &self,
        filter: &OperationFilter,
    ) -> Result<Vec<Operation>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM operations WHERE (?1 IS NULL OR state = ?1) \
             AND (?2 IS NULL OR started_at < ?2) ORDER BY started_at, id",
        )
        .bind(filter.state.map(|s| s.as_str()))
        .bind(filter.started_before.map(to_millis))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(operation_from_row).collect()
    }

    async fn delete_operations_finished_before(
        &self,
        cutoff: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "DELETE FROM operations WHERE state <> 'started' AND finished_at IS NOT NULL AND finished_at < ?1",
        )
        .bind(to_millis(cutoff))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(result.rows_affected())
    }
}
