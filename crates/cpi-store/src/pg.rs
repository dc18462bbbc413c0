//! PostgreSQL backend.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{Postgres, Row, Transaction};
use time::OffsetDateTime;

use crate::model::{
    NewOperation, NewStemcell, NewStoreFile, NewVmSettings, Operation, OperationFilter,
    OperationState, RegistryEntry, SettingsEdit, Stemcell, StemcellState, StoreFile,
    StoreFileFilter, StoreFileState, VmSettings, apply_edit, now_millis,
};
use crate::{Backend, SettingsGeneration, Store, StoreError, StoreOptions, redact_url};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// A [`Store`] on PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Bumped after every committed change to VM settings or credentials (see
    /// [`crate::Store::settings_generation`]).
    settings_generation: SettingsGeneration,
    /// The URL with its password masked, for messages.
    redacted_url: String,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.redacted_url)
            .finish_non_exhaustive()
    }
}

fn db_error(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(Backend::Postgres, error)
}

impl PgStore {
    /// Opens a pool on `database_url` and, if `options.migrate_on_connect`, migrates.
    ///
    /// The pool connects lazily, so a daemon can start while the database is down; the
    /// first query then fails with [`StoreError::Unavailable`].
    pub async fn connect(database_url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let redacted_url = redact_url(database_url);
        let connect_options =
            PgConnectOptions::from_str(database_url).map_err(|error| StoreError::InvalidUrl {
                url: redacted_url.clone(),
                reason: scrub(&error.to_string(), database_url),
            })?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(connect_options);
        let store = PgStore {
            pool,
            redacted_url,
            settings_generation: Default::default(),
        };
        if options.migrate_on_connect {
            store.migrate().await?;
        }
        tracing::info!(url = %store.redacted_url, "Connected to the PostgreSQL store.");
        Ok(store)
    }

    /// The underlying pool, for tests and diagnostics.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn lock_settings(
        tx: &mut Transaction<'static, Postgres>,
        vm_cid: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT settings FROM vm_settings WHERE vm_cid = $1 FOR UPDATE")
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

/// Removes the password of `url` from a message, in case a driver echoed it.
fn scrub(message: &str, url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => match parsed.password() {
            Some(password) if !password.is_empty() => message.replace(password, "***"),
            _ => message.to_string(),
        },
        Err(_) => message.to_string(),
    }
}

fn settings_from_row(row: &PgRow) -> Result<VmSettings, StoreError> {
    Ok(VmSettings {
        vm_cid: row.try_get("vm_cid").map_err(db_error)?,
        agent_id: row
            .try_get::<Option<String>, _>("agent_id")
            .map_err(db_error)?
            .unwrap_or_default(),
        settings: row.try_get("settings").map_err(db_error)?,
        stemcell_api_version: row
            .try_get::<Option<i32>, _>("stemcell_api_version")
            .map_err(db_error)?
            .map(i64::from),
        created_at: row.try_get("created_at").map_err(db_error)?,
        updated_at: row.try_get("updated_at").map_err(db_error)?,
    })
}

fn stemcell_from_row(row: &PgRow) -> Result<Stemcell, StoreError> {
    let zone_ids: Json<Vec<String>> = row.try_get("zone_ids").map_err(db_error)?;
    let state: String = row.try_get("state").map_err(db_error)?;
    Ok(Stemcell {
        template_id: row.try_get("template_id").map_err(db_error)?,
        name: row.try_get("name").map_err(db_error)?,
        zone_ids: zone_ids.0,
        format: row.try_get("format").map_err(db_error)?,
        hypervisor: row.try_get("hypervisor").map_err(db_error)?,
        checksum: row.try_get("checksum").map_err(db_error)?,
        store_path: row.try_get("store_path").map_err(db_error)?,
        publish_mode: row.try_get("publish_mode").map_err(db_error)?,
        light: row.try_get("light").map_err(db_error)?,
        state: StemcellState::parse(&state)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
        updated_at: row.try_get("updated_at").map_err(db_error)?,
    })
}

fn store_file_from_row(row: &PgRow) -> Result<StoreFile, StoreError> {
    let state: String = row.try_get("state").map_err(db_error)?;
    Ok(StoreFile {
        path: row.try_get("path").map_err(db_error)?,
        template_id: row.try_get("template_id").map_err(db_error)?,
        size: row.try_get("size").map_err(db_error)?,
        sha256: row.try_get("sha256").map_err(db_error)?,
        state: StoreFileState::parse(&state)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
        expires_at: row.try_get("expires_at").map_err(db_error)?,
    })
}

fn operation_from_row(row: &PgRow) -> Result<Operation, StoreError> {
    let state: String = row.try_get("state").map_err(db_error)?;
    let payload: Json<Value> = row.try_get("payload").map_err(db_error)?;
    Ok(Operation {
        id: row.try_get("id").map_err(db_error)?,
        kind: row.try_get("kind").map_err(db_error)?,
        vm_cid: row.try_get("vm_cid").map_err(db_error)?,
        disk_cid: row.try_get("disk_cid").map_err(db_error)?,
        template_id: row.try_get("template_id").map_err(db_error)?,
        state: OperationState::parse(&state)?,
        payload: payload.0,
        error: row.try_get("error").map_err(db_error)?,
        started_at: row.try_get("started_at").map_err(db_error)?,
        finished_at: row.try_get("finished_at").map_err(db_error)?,
    })
}

fn api_version_column(version: Option<i64>) -> Result<Option<i32>, StoreError> {
    version
        .map(|v| {
            i32::try_from(v).map_err(|_| StoreError::Database {
                backend: Backend::Postgres,
                reason: format!("stemcell api_version {v} is out of range"),
            })
        })
        .transpose()
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
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
                backend: Backend::Postgres,
                reason: other.to_string(),
            },
        })
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn get_settings(&self, vm_cid: &str) -> Result<Option<VmSettings>, StoreError> {
        let sql = "SELECT vm_cid, agent_id, settings, stemcell_api_version, created_at, updated_at \
                   FROM vm_settings WHERE vm_cid = $1 AND settings IS NOT NULL";
        let row = sqlx::query(sql)
            .bind(vm_cid)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(settings_from_row).transpose()
    }

    async fn registry_entry(&self, vm_cid: &str) -> Result<Option<RegistryEntry>, StoreError> {
        let row =
            sqlx::query("SELECT settings, credential_hash FROM vm_settings WHERE vm_cid = $1")
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
        let now = now_millis();
        sqlx::query(
            "INSERT INTO vm_settings (vm_cid, agent_id, settings, stemcell_api_version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (vm_cid) DO UPDATE SET agent_id = EXCLUDED.agent_id, settings = EXCLUDED.settings, \
             stemcell_api_version = EXCLUDED.stemcell_api_version, updated_at = EXCLUDED.updated_at",
        )
        .bind(&settings.vm_cid)
        .bind(&settings.agent_id)
        .bind(&settings.settings)
        .bind(api_version_column(settings.stemcell_api_version)?)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        self.settings_generation.bump();
        Ok(())
    }

    async fn delete_settings(&self, vm_cid: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM vm_settings WHERE vm_cid = $1")
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
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let current =
            Self::lock_settings(&mut tx, vm_cid)
                .await?
                .ok_or_else(|| StoreError::NotFound {
                    kind: "VM settings",
                    id: vm_cid.to_string(),
                })?;
        let updated = apply_edit(vm_cid, &current, edit)?;
        let row = sqlx::query(
            "UPDATE vm_settings SET settings = $2, updated_at = $3 WHERE vm_cid = $1 \
             RETURNING vm_cid, agent_id, settings, stemcell_api_version, created_at, updated_at",
        )
        .bind(vm_cid)
        .bind(&updated)
        .bind(now_millis())
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
            "INSERT INTO vm_settings (vm_cid, credential_hash, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (vm_cid) DO UPDATE SET credential_hash = EXCLUDED.credential_hash, updated_at = EXCLUDED.updated_at",
        )
        .bind(vm_cid)
        .bind(hash)
        .bind(now_millis())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        self.settings_generation.bump();
        Ok(())
    }

    async fn credential_hash(&self, vm_cid: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT credential_hash FROM vm_settings WHERE vm_cid = $1")
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
             ON CONFLICT (template_id) DO UPDATE SET name = EXCLUDED.name, zone_ids = EXCLUDED.zone_ids, \
             format = EXCLUDED.format, hypervisor = EXCLUDED.hypervisor, checksum = EXCLUDED.checksum, \
             store_path = EXCLUDED.store_path, publish_mode = EXCLUDED.publish_mode, light = EXCLUDED.light, \
             state = EXCLUDED.state, updated_at = EXCLUDED.updated_at",
        )
        .bind(&stemcell.template_id)
        .bind(&stemcell.name)
        .bind(Json(&stemcell.zone_ids))
        .bind(&stemcell.format)
        .bind(&stemcell.hypervisor)
        .bind(&stemcell.checksum)
        .bind(&stemcell.store_path)
        .bind(&stemcell.publish_mode)
        .bind(stemcell.light)
        .bind(stemcell.state.as_str())
        .bind(now_millis())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn get_stemcell(&self, template_id: &str) -> Result<Option<Stemcell>, StoreError> {
        let row = sqlx::query("SELECT * FROM stemcells WHERE template_id = $1")
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
            sqlx::query("UPDATE stemcells SET state = $2, updated_at = $3 WHERE template_id = $1")
                .bind(template_id)
                .bind(state.as_str())
                .bind(now_millis())
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
        let result = sqlx::query("DELETE FROM stemcells WHERE template_id = $1")
            .bind(template_id)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(result.rows_affected() > 0)
    }

    async fn put_store_file(&self, file: &NewStoreFile) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO store_files (path, template_id, size, sha256, state, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (path) DO UPDATE SET template_id = EXCLUDED.template_id, size = EXCLUDED.size, \
             sha256 = EXCLUDED.sha256, state = EXCLUDED.state, expires_at = EXCLUDED.expires_at",
        )
        .bind(&file.path)
        .bind(&file.template_id)
        .bind(file.size)
        .bind(&file.sha256)
        .bind(file.state.as_str())
        .bind(now_millis())
        .bind(file.expires_at)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn get_store_file(&self, path: &str) -> Result<Option<StoreFile>, StoreError> {
        let row = sqlx::query("SELECT * FROM store_files WHERE path = $1")
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
        let result = sqlx::query("UPDATE store_files SET state = $2 WHERE path = $1")
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
            "SELECT * FROM store_files WHERE ($1::text IS NULL OR state = $1) \
             AND ($2::timestamptz IS NULL OR (expires_at IS NOT NULL AND expires_at < $2)) \
             ORDER BY created_at, path",
        )
        .bind(filter.state.map(|s| s.as_str()))
        .bind(filter.expired_before)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(store_file_from_row).collect()
    }

    async fn delete_store_file(&self, path: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM store_files WHERE path = $1")
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
             VALUES ($1, $2, $3, $4, $5, 'started', $6, $7) RETURNING *",
        )
        .bind(&id)
        .bind(&operation.kind)
        .bind(&operation.vm_cid)
        .bind(&operation.disk_cid)
        .bind(&operation.template_id)
        .bind(Json(&operation.payload))
        .bind(now_millis())
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
            "UPDATE operations SET state = $2, error = $3, finished_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(state.as_str())
        .bind(error)
        .bind(now_millis())
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
        let row = sqlx::query("SELECT * FROM operations WHERE id = $1")
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
            "SELECT * FROM operations WHERE ($1::text IS NULL OR state = $1) \
             AND ($2::timestamptz IS NULL OR started_at < $2) ORDER BY started_at, id",
        )
        .bind(filter.state.map(|s| s.as_str()))
        .bind(filter.started_before)
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
            "DELETE FROM operations WHERE state <> 'started' AND finished_at IS NOT NULL AND finished_at < $1",
        )
        .bind(cutoff)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(result.rows_affected())
    }
}
