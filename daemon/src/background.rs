//! The daemon's long-running companions of the CPI socket: the registry HTTP server, the
//! WebDAV stemcell store, the template garbage collector and the ephemeral-volume cleaner.
//! Each stops when the daemon's shutdown token is cancelled.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

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
    tasks.spawn(clean_ephemeral_volumes(Arc::clone(cpi), shutdown.clone()));
    Ok(Background {
        tasks,
        shutdown: shutdown.clone(),
    })
}

/// Runs the ephemeral-volume cleaner every `cloudstack.ephemeral_cleaner.interval`, for each
/// director this daemon has served: the daemon only learns a director's uuid from its requests,
/// and cleaning without one could delete another director's volumes in a shared account.
async fn clean_ephemeral_volumes(cpi: Arc<Cpi>, shutdown: CancellationToken) {
    let settings = cpi.config().cloudstack.ephemeral_cleaner.clone();
    if !settings.enabled {
        tracing::info!("The ephemeral volume cleaner is disabled.");
        return;
    }
    let period = Duration::from_secs(settings.interval.max(1));
    let grace = Duration::from_secs(settings.grace_period);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(period) => {}
        }
        let client = match cpi.warm_client() {
            Ok(client) => client,
            Err(error) => {
                tracing::warn!(%error, "The ephemeral volume cleaner has no CloudStack client.");
                continue;
            }
        };
        for director in cpi.directors_seen() {
            if let Err(error) = cpi_actions::cleaner::clean_orphan_ephemeral_volumes(
                &client,
                Some(&director),
                grace,
                SystemTime::now(),
            )
            .await
            {
                tracing::warn!(%error, director, "Ephemeral volume cleaning pass failed.");
            }
        }
    }
}

impl Background {
    /// Waits for every task to notice the shutdown.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}
