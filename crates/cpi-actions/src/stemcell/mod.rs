//! Stemcells: `create_stemcell` (light, URL publication from the WebDAV store, direct upload)
//! and `delete_stemcell`.
//!
//! Ownership is decided by the database, never by names or tags: a template is this CPI's to
//! delete only if a non-light stemcell record exists for it.

pub(crate) mod create;
pub(crate) mod delete;
pub(crate) mod properties;
pub(crate) mod publish;

use std::sync::Arc;
use std::time::Duration;

use cpi_config::Config;
use secrecy::ExposeSecret as _;
use stemcell_store::{Credentials, StemcellStore};

use crate::{ActionError, CallContext};

/// Journal kind of a publication; the GC finds interrupted ones by it.
pub const OPERATION_KIND: &str = "create_stemcell";

/// The store directory under `daemon.state_dir`.
pub fn store_root(config: &Config) -> std::path::PathBuf {
    config.daemon.state_dir.join("stemcells")
}

/// Opens the stemcell store described by the configuration (what the daemon serves on
/// `webdav.listen`). Used by the daemon at start and by `cpid oneshot`.
pub fn open_store(config: &Config) -> Result<StemcellStore, ActionError> {
    let webdav = &config.webdav;
    let credentials = match (&webdav.user, &webdav.password) {
        (Some(user), Some(password)) => Some(Credentials::new(
            user.clone(),
            password.expose_secret().to_owned().into(),
        )),
        _ => None,
    };
    StemcellStore::new(
        store_root(config),
        webdav.public_url.clone(),
        credentials,
        Duration::from_secs(webdav.signed_url_ttl),
    )
    .map_err(|error| ActionError::Cloud(format!("opening the stemcell store: {error}")))
}

/// The daemon's store, or one opened from the call's configuration.
pub(crate) fn store_for(ctx: &CallContext) -> Result<Arc<StemcellStore>, ActionError> {
    match &ctx.stemcells {
        Some(store) => Ok(Arc::clone(store)),
        None => open_store(&ctx.config).map(Arc::new),
    }
}
