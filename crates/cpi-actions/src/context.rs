//! The services one request runs with.

use std::sync::Arc;

use cloudstack::CloudStackClient;
use cpi_config::Config;
use cpi_protocol::{ApiVersion, Context, Request};
use cpi_store::Store;

use crate::{ActionError, Cpi, client_config};

/// What an action may use: the configuration merged with the request's cpi-config overrides,
/// the warm CloudStack client for that configuration, the store, and the caller's versions.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub config: Arc<Config>,
    pub cloud: Arc<CloudStackClient>,
    pub store: Arc<dyn Store>,
    /// The daemon's stemcell store, if it runs one.
    pub stemcells: Option<Arc<stemcell_store::StemcellStore>>,
    pub api_version: ApiVersion,
    pub context: Context,
}

impl CallContext {
    pub(crate) async fn new(cpi: &Cpi, request: &Request) -> Result<Self, ActionError> {
        // Without cpi-config overrides (the common case) the file's warm client is reused as is.
        let (config, cloud) = if request.context.cpi_properties.is_empty() {
            (Arc::clone(&cpi.config), cpi.warm_client()?)
        } else {
            let config = Arc::new(
                cpi.config
                    .with_overrides(&request.context.cpi_properties)
                    .map_err(ActionError::Config)?,
            );
            let cloud = cpi
                .clients
                .get(&client_config(&config))
                .map_err(ActionError::cloudstack("creating the CloudStack client"))?;
            (config, cloud)
        };
        Ok(Self {
            config,
            cloud,
            store: cpi.store().await?,
            stemcells: cpi.stemcells.clone(),
            api_version: request.api_version,
            context: request.context.clone(),
        })
    }

    /// The director's UUID, used to tag what this CPI creates.
    pub fn director_uuid(&self) -> Option<&str> {
        self.context.director_uuid.as_deref()
    }

    /// Whether the VM's agent reads its settings from the registry rather than user data:
    /// true unless both the CPI call and the stemcell are API v2 or later.
    pub fn registry_needed(&self) -> bool {
        !(self.api_version.is_v2_or_later()
            && self
                .context
                .stemcell_api_version()
                .is_some_and(|version| version >= 2))
    }
}
