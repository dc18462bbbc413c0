//! The daemon's long-running companions of the CPI socket: the registry HTTP server and the
//! periodic tasks. Each stops when the daemon's shutdown token is cancelled.

use std::sync::Arc;

use anyhow::Context as _;
use cpi_actions::Cpi;
use cpi_config::Config;
use cpi_store::Store;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The running background tasks.
#[derive(Debug)]
pub struct Background {
    tasks: JoinSet<()>,
    shutdown: CancellationToken,
}

/// Starts the registry (when `registry.listen` is set) and the periodic tasks.
pub async fn start(
    config: &Config,
    _cpi: &Arc<Cpi>,
    store: &Arc<dyn Store>,
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
