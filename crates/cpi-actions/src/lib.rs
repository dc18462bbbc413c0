//! The CPI methods: one module per action, and the dispatch that routes a parsed request to it.
//!
//! The daemon (`cpid serve`) and the classic exec-per-call mode (`cpid oneshot`) both answer
//! through [`Cpi::handle`], so they cannot drift apart.
//!
//! **Invariants**
//! - Actions talk to CloudStack only through the `cloudstack` crate and to the database only
//!   through `cpi-store`; this crate builds no HTTP request and contains no SQL.
//! - Every failure is an [`ActionError`], and [`ActionError`] becomes a BOSH error in exactly one
//!   place (`impl From<ActionError> for CpiError`).
//! - An action receives only the services it needs; the per-request [`CallContext`] is built
//!   once, with the configuration merged with the request's cpi-config overrides.

// Errors carry CloudStack's full error (codes and text) for the operator; they are returned
// once per failed call, so their size does not matter.
#![allow(clippy::result_large_err)]

pub mod cleaner;
mod client_config;
mod context;
pub mod devices;
mod disk;
mod error;
pub mod gc;
mod info;
mod stemcell;
pub mod tags;
mod vm;
mod volumes;

use std::sync::Arc;

use cloudstack::ClientPool;
use cpi_config::Config;
use cpi_protocol::{CpiError, Method, Request};
use cpi_store::Store;
use serde_json::Value;

pub use client_config::client_config;
pub use context::CallContext;
pub use stemcell::open_store as open_stemcell_store;

/// A bound on the directors remembered for the cleaner; real daemons serve one or two.
const MAX_DIRECTORS_TRACKED: usize = 64;
pub use error::ActionError;

/// The long-lived services every request shares.
#[derive(Debug)]
pub struct Cpi {
    config: Arc<Config>,
    clients: ClientPool,
    /// Connected at daemon start; in `cpid oneshot` on first use, because a classic
    /// exec-per-call CPI answers `info` without opening any database.
    store: tokio::sync::OnceCell<Arc<dyn Store>>,
    /// The WebDAV stemcell store the daemon serves; `None` makes `create_stemcell` open one
    /// from the configuration (`cpid oneshot`).
    stemcells: Option<Arc<stemcell_store::StemcellStore>>,
    /// Directors that sent requests to this daemon. The ephemeral-volume cleaner only deletes
    /// volumes tagged with one of them, so a daemon never touches another director's volumes
    /// in a shared account.
    directors: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// The pool's client for the file configuration, kept at hand so a request without
    /// overrides does not rebuild a client configuration just to find it in the pool.
    file_client: std::sync::OnceLock<Arc<cloudstack::CloudStackClient>>,
}

impl Cpi {
    pub fn new(config: Arc<Config>, store: Arc<dyn Store>) -> Self {
        Self {
            config,
            clients: ClientPool::new(),
            store: tokio::sync::OnceCell::new_with(Some(store)),
            stemcells: None,
            directors: Default::default(),
            file_client: std::sync::OnceLock::new(),
        }
    }

    /// A CPI that connects to `daemon.database_url` the first time an action needs the store.
    pub fn with_lazy_store(config: Arc<Config>) -> Self {
        Self {
            config,
            clients: ClientPool::new(),
            store: tokio::sync::OnceCell::new(),
            stemcells: None,
            directors: Default::default(),
            file_client: std::sync::OnceLock::new(),
        }
    }

    /// Shares the stemcell store the daemon serves over HTTP with `create_stemcell`,
    /// `delete_stemcell` and the template GC.
    pub fn with_stemcell_store(mut self, stemcells: Arc<stemcell_store::StemcellStore>) -> Self {
        self.stemcells = Some(stemcells);
        self
    }

    /// The stemcell store set with [`Cpi::with_stemcell_store`].
    pub fn stemcell_store(&self) -> Option<&Arc<stemcell_store::StemcellStore>> {
        self.stemcells.as_ref()
    }

    /// The configuration from the file, before any request overrides.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// The store, connecting (and migrating) it on first use.
    pub async fn store(&self) -> Result<Arc<dyn Store>, ActionError> {
        let store = self
            .store
            .get_or_try_init(|| async {
                let url = self.config.database_url();
                cpi_store::connect(secrecy::ExposeSecret::expose_secret(&url))
                    .await
                    .map_err(ActionError::store("connecting to the database"))
            })
            .await?;
        Ok(Arc::clone(store))
    }

    /// The warm CloudStack client of the file configuration, created now if it does not exist.
    pub fn warm_client(&self) -> Result<Arc<cloudstack::CloudStackClient>, ActionError> {
        if let Some(client) = self.file_client.get() {
            return Ok(Arc::clone(client));
        }
        let client = self
            .clients
            .get(&client_config(&self.config))
            .map_err(ActionError::cloudstack("creating the CloudStack client"))?;
        Ok(Arc::clone(self.file_client.get_or_init(|| client)))
    }

    /// The warm CloudStack clients, one per endpoint, key and project.
    pub fn clients(&self) -> &ClientPool {
        &self.clients
    }

    /// The directors (`context.director_uuid`) this daemon has served so far.
    pub fn directors_seen(&self) -> Vec<String> {
        self.directors
            .lock()
            .map(|directors| directors.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Answers one request. `info` and `ping` touch neither CloudStack nor the database.
    pub async fn handle(&self, request: &Request) -> Result<Value, CpiError> {
        if let Some(director) = request
            .context
            .director_uuid
            .as_deref()
            .filter(|uuid| !uuid.is_empty())
            && let Ok(mut directors) = self.directors.lock()
            && directors.len() < MAX_DIRECTORS_TRACKED
        {
            directors.insert(director.to_owned());
        }
        match &request.method {
            Method::Info => return Ok(info::run(&self.config)),
            Method::Ping => return Ok(Value::String("pong".to_owned())),
            _ => {}
        }
        let context = CallContext::new(self, request)
            .await
            .map_err(CpiError::from)?;
        dispatch(&context, &request.method)
            .await
            .map_err(CpiError::from)
    }
}

async fn dispatch(ctx: &CallContext, method: &Method) -> Result<Value, ActionError> {
    match method {
        Method::Info | Method::Ping => Err(ActionError::Internal("info and ping are answered before dispatch".into())),
        Method::CreateStemcell { image_path, cloud_properties, env } => {
            stemcell::create::run(ctx, image_path, cloud_properties, env.as_ref()).await
        }
        Method::DeleteStemcell { stemcell_cid } => stemcell::delete::run(ctx, stemcell_cid).await,
        Method::CreateVm { agent_id, stemcell_cid, cloud_properties, networks, disk_cids, env } => {
            vm::create::run(ctx, agent_id, stemcell_cid, cloud_properties, networks, disk_cids, env).await
        }
        Method::DeleteVm { vm_cid } => vm::delete::run(ctx, vm_cid).await,
        Method::HasVm { vm_cid } => vm::has::run(ctx, vm_cid).await,
        Method::RebootVm { vm_cid } => vm::reboot::run(ctx, vm_cid).await,
        Method::SetVmMetadata { vm_cid, metadata } => vm::metadata::run(ctx, vm_cid, metadata).await,
        Method::CalculateVmCloudProperties { resources } => vm::calculate::run(ctx, resources).await,
        Method::CreateDisk { size_mib, cloud_properties, vm_cid } => {
            disk::create::run(ctx, *size_mib, cloud_properties, vm_cid.as_ref()).await
        }
        Method::DeleteDisk { disk_cid } => disk::delete::run(ctx, disk_cid).await,
        Method::ResizeDisk { disk_cid, new_size_mib } => disk::resize::run(ctx, disk_cid, *new_size_mib).await,
        Method::UpdateDisk { disk_cid, new_size_mib, cloud_properties } => {
            disk::resize::update(ctx, disk_cid, *new_size_mib, cloud_properties).await
        }
        Method::AttachDisk { vm_cid, disk_cid } => disk::attach::run(ctx, vm_cid, disk_cid).await,
        Method::DetachDisk { vm_cid, disk_cid } => disk::detach::run(ctx, vm_cid, disk_cid).await,
        Method::HasDisk { disk_cid } => disk::has::run(ctx, disk_cid).await,
        Method::GetDisks { vm_cid } => disk::get::run(ctx, vm_cid).await,
        Method::SetDiskMetadata { disk_cid, metadata } => disk::metadata::run(ctx, disk_cid, metadata).await,
        Method::SnapshotDisk { disk_cid, metadata } => disk::snapshot::create(ctx, disk_cid, metadata).await,
        Method::DeleteSnapshot { snapshot_cid } => disk::snapshot::delete(ctx, snapshot_cid).await,
        Method::CurrentVmId => Err(ActionError::NotImplemented("current_vm_id")),
        Method::ConfigureNetworks { .. } => Err(ActionError::NotSupported(
            "configure_networks is not supported: the director recreates the VM instead".to_owned(),
        )),
        Method::CreateNetwork | Method::DeleteNetwork => Err(ActionError::NotSupported(
            "CPI-managed networks are not supported: declare CloudStack networks in the cloud config".to_owned(),
        )),
    }
}
