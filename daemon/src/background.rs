//! The daemon's long-running companions of the CPI socket: the registry HTTP server, the
//! WebDAV stemcell store, the template garbage collector and the ephemeral-volume cleaner.
//! Each stops when the daemon's shutdown token is cancelled.

use std::sync::Arc;

use anyhow::Context as _;
use cpi_actions::Cpi;
use cpi_config::Config;
use cpi_store::Store;
use stemcell_store::StemcellStore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The running background tasks.
#[derive(Debug)]
pub struct Background {
    tasks: JoinSet<()>,
    shutdown: CancellationToken,
}

/// Binds the listeners (so a taken port fails the start) and spawns every background task.
pub async fn start(
    config: &Config,
    cpi: &Arc<Cpi>,
    store: &Arc<dyn Store>,
    stemcells: &Arc<StemcellStore>,
    shutdown: &CancellationToken,
) -> anyhow::Result<Background> {
    let mut tasks = JoinSet::new();
    if let (Some(listen), Some(user), Some(password)) = (
        config.registry.listen,
        config.registry.user.as_ref(),
        config.registry.password.as_ref(),
    ) {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen for the registry on {listen}"))?;
        let state = cpi_registry::RegistryState::new(
            Arc::clone(store),
            &cpi_registry::RegistryConfig::new(user.clone(), password.clone()),
        );
        let stop = shutdown.clone().cancelled_owned();
        tasks.spawn(async move {
            if let Err(error) = cpi_registry::serve(listener, state, stop).await {
                tracing::error!(%error, "The registry stopped.");
            }
        });
    }
    if let Some(listen) = config.webdav.listen {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen for the stemcell store on {listen}"))?;
        let stemcells = Arc::clone(stemcells);
        let stop = shutdown.clone().cancelled_owned();
        tasks.spawn(async move {
            if let Err(error) = stemcell_store::serve(listener, stemcells, stop).await {
                tracing::error!(%error, "The stemcell store stopped.");
            }
        });
    }
    tasks.spawn(cpi_actions::gc::run(
        Arc::clone(cpi),
        shutdown.clone().cancelled_owned(),
    ));
    match cpi.warm_client() {
        Ok(cloud) => {
            let seen = Arc::clone(cpi);
            tasks.spawn(cpi_actions::cleaner::run_periodically(
                cloud,
                move || seen.directors_seen(),
                config.cloudstack.ephemeral_cleaner.clone(),
                shutdown.clone().cancelled_owned(),
            ));
        }
        Err(error) => {
            tracing::warn!(%error, "The ephemeral volume cleaner cannot run without a CloudStack client.");
        }
    }
    Ok(Background {
        tasks,
        shutdown: shutdown.clone(),
    })
}

impl Background {
    /// Waits for every task to notice the shutdown.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}
