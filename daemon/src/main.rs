//! `cpid`: the warm CloudStack CPI daemon, and its companion commands.

pub(crate) mod background;
mod demo;
mod dispatch;
mod log_capture;
mod server;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use cpi_actions::Cpi;
use cpi_config::Config;
use cpi_protocol::MAX_REQUEST_BYTES;

use crate::log_capture::RequestLogLayer;
use crate::server::{Server, ServerOptions};

/// The environment variable holding a tracing filter such as `debug` or `cpid=debug`.
const LOG_FILTER_VARIABLE: &str = "CPID_LOG";

#[derive(Debug, Parser)]
#[command(
    name = "cpid",
    version,
    about = "The BOSH CPI daemon for Apache CloudStack"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve CPI requests from the `cpi` shim until SIGTERM.
    Serve {
        #[arg(long)]
        config: PathBuf,
        /// Set by the shim when it started this daemon; enables `daemon.idle_timeout`.
        #[arg(long)]
        autostarted: bool,
        /// Seconds that requests in flight may still run after SIGTERM
        /// (default: `daemon.shutdown_timeout`).
        #[arg(long)]
        shutdown_timeout: Option<u64>,
        /// Most requests handled at once (default: `daemon.max_concurrent_requests`).
        #[arg(long)]
        max_connections: Option<usize>,
    },
    /// Validate the config and say in plain words what is wrong.
    Check {
        #[arg(long)]
        config: PathBuf,
        /// Only validate the file; do not reach CloudStack or the database.
        #[arg(long)]
        offline: bool,
    },
    /// Handle exactly one request from stdin in-process, as a classic exec-per-call CPI does.
    Oneshot {
        #[arg(long)]
        config: PathBuf,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate {
        #[arg(long)]
        config: PathBuf,
    },
    /// Run the template garbage collector once and list what it deleted.
    Gc {
        #[arg(long)]
        config: PathBuf,
        /// List what would be deleted, and delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Start a daemon on temporary paths and drive calls through the real shim.
    Demo,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            config,
            autostarted,
            shutdown_timeout,
            max_connections,
        } => serve(&config, autostarted, shutdown_timeout, max_connections),
        Command::Check { config, offline } => check(&config, offline),
        Command::Migrate { config } => migrate(&config),
        Command::Gc { config, dry_run } => gc(&config, dry_run),
        Command::Oneshot { config } => oneshot(&config),
        Command::Demo => demo::run(),
    }
}

/// Sends the daemon log to `log_file`, or to stderr, and feeds request logs to responses.
pub(crate) fn init_logging(log_file: Option<&Path>) -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_from_env(LOG_FILTER_VARIABLE).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(RequestLogLayer);
    let result = match log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open the daemon log {}", path.display()))?;
            registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(false)
                        .with_writer(Mutex::new(file)),
                )
                .try_init()
        }
        None => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    result.context("cannot install the log subscriber")
}

fn load_config(path: &Path) -> anyhow::Result<Config> {
    Config::load(path).with_context(|| format!("invalid config {}", path.display()))
}

fn serve(
    config_path: &Path,
    autostarted: bool,
    shutdown_timeout: Option<u64>,
    max_connections: Option<usize>,
) -> anyhow::Result<()> {
    let config = Arc::new(load_config(config_path)?);
    init_logging(config.daemon.log_file.as_deref())?;
    let shutdown_deadline =
        Duration::from_secs(shutdown_timeout.unwrap_or(config.daemon.shutdown_timeout));
    let max_connections = max_connections.unwrap_or(config.daemon.max_concurrent_requests as usize);
    let idle_timeout = (autostarted && config.daemon.idle_timeout > 0)
        .then(|| Duration::from_secs(config.daemon.idle_timeout));
    let options = ServerOptions {
        unix_socket: config.socket_path(),
        tcp_listen: config.daemon.listen,
        idle_timeout,
        shutdown_deadline,
        max_connections,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        // The schema is migrated before the socket exists, so a client that can connect (the
        // shim, `cpid check`) never races the daemon's migrations.
        let store = connect_store(&config, true).await?;
        let server = Server::bind(options).await?;
        let stemcells = Arc::new(
            cpi_actions::open_stemcell_store(&config).context("cannot open the stemcell store")?,
        );
        let cpi = Arc::new(
            Cpi::new(Arc::clone(&config), Arc::clone(&store))
                .with_stemcell_store(Arc::clone(&stemcells)),
        );
        // Building the client now loads TLS roots once, so the first CPI call is warm too.
        if let Err(error) = cpi.warm_client() {
            tracing::warn!(%error, "Cannot create the CloudStack client yet.");
        }
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        let background = background::start(&config, &cpi, &store, &stemcells, &shutdown).await?;
        server.run(cpi, shutdown).await;
        background.stop().await;
        store.close().await;
        anyhow::Ok(())
    })?;
    Ok(())
}

/// Opens the database named by `daemon.database_url`, creating it and, when `migrate` is set,
/// migrating it as needed.
pub(crate) async fn connect_store(
    config: &Config,
    migrate: bool,
) -> anyhow::Result<Arc<dyn cpi_store::Store>> {
    let url = config.database_url();
    if let Some(path) = secrecy::ExposeSecret::expose_secret(&url).strip_prefix("sqlite://")
        && let Some(parent) = Path::new(path).parent()
    {
        std::fs::create_dir_all(parent).with_context(|| {
            format!("cannot create the database directory {}", parent.display())
        })?;
    }
    let options = cpi_store::StoreOptions {
        migrate_on_connect: migrate,
        ..cpi_store::StoreOptions::default()
    };
    cpi_store::connect_with(secrecy::ExposeSecret::expose_secret(&url), &options)
        .await
        .context("cannot open the database")
}

/// `cpid gc [--dry-run]`: one template GC run with the daemon's services, one line per action.
#[allow(clippy::print_stdout)] // The report on stdout is what `cpid gc` is for.
fn gc(config_path: &Path, dry_run: bool) -> anyhow::Result<()> {
    let config = Arc::new(load_config(config_path)?);
    init_logging(None)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(async {
        let store = connect_store(&config, true).await?;
        let cpi = Cpi::new(Arc::clone(&config), store);
        cpi_actions::gc::collect_for(&cpi, dry_run)
            .await
            .context("the template GC could not run")
    })?;
    let verb = if dry_run { "would delete" } else { "deleted" };
    for action in &report.actions {
        println!(
            "{verb} {} {}: {}",
            action.kind, action.target, action.reason
        );
    }
    for error in &report.errors {
        println!("error: {error}");
    }
    println!(
        "{} item(s) {verb}, {} error(s)",
        report.actions.len(),
        report.errors.len()
    );
    anyhow::ensure!(report.errors.is_empty(), "the template GC reported errors");
    Ok(())
}

#[allow(clippy::print_stdout)] // The one-line result is what `cpid migrate` prints.
fn migrate(config_path: &Path) -> anyhow::Result<()> {
    let config = load_config(config_path)?;
    init_logging(None)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let store = connect_store(&config, false).await?;
        store
            .migrate()
            .await
            .context("cannot migrate the database")?;
        store.close().await;
        println!("database schema is up to date");
        anyhow::Ok(())
    })
}

/// Cancels `shutdown` on the first SIGTERM (monit, bpm) or SIGINT (an operator's Ctrl-C).
async fn stop_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut terminate), Ok(mut interrupt)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("Cannot install signal handlers; the daemon stops only when killed.");
        return;
    };
    let name = tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    };
    tracing::info!(signal = name, "Shutting down.");
    shutdown.cancel();
}

fn check(config_path: &Path, offline: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let config = match Config::load(config_path) {
        Ok(config) => config,
        Err(error) => {
            writeln!(out, "config {}: INVALID: {error}", config_path.display())?;
            anyhow::bail!("the config is invalid");
        }
    };
    writeln!(out, "config {}: ok", config_path.display())?;
    writeln!(out, "  unix socket: {}", config.socket_path().display())?;
    match config.daemon.listen {
        Some(address) => writeln!(out, "  tcp listener: {address}")?,
        None => writeln!(out, "  tcp listener: none")?,
    }
    writeln!(out, "  autostart: {}", config.daemon.autostart)?;
    writeln!(
        out,
        "  stemcell formats: {}",
        config.stemcell_formats().join(", ")
    )?;
    if offline {
        writeln!(out, "cloudstack and database: skipped (--offline)")?;
        return Ok(());
    }
    drop(out);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let failures = runtime.block_on(check_online(config));
    if failures > 0 {
        anyhow::bail!("{failures} check(s) failed");
    }
    Ok(())
}

/// Reaches the database and CloudStack, printing one line per check in plain words.
#[allow(clippy::print_stdout)] // The report on stdout is what `cpid check` is for.
async fn check_online(config: Config) -> usize {
    let mut failures = 0;
    // A check only reads: it never changes the schema under a running daemon.
    match connect_store(&config, false).await {
        Ok(store) => match store.ping().await {
            Ok(()) => println!("database: ok"),
            Err(error) => {
                failures += 1;
                println!("database: FAILED: {error}");
            }
        },
        Err(error) => {
            failures += 1;
            println!("database: FAILED: {error:#}");
        }
    }
    let endpoint = config.cloudstack.endpoint.clone();
    let cpi = Cpi::with_lazy_store(Arc::new(config));
    match cpi.warm_client() {
        Ok(client) => {
            let zone = &cpi.config().cloudstack.default_zone;
            match client.zone_id(zone).await {
                Ok(id) => println!(
                    "cloudstack {endpoint}: ok (credentials accepted, default zone {zone} is {id})"
                ),
                Err(error) => {
                    failures += 1;
                    println!("cloudstack {endpoint}: FAILED: {error}");
                }
            }
        }
        Err(error) => {
            failures += 1;
            println!("cloudstack {endpoint}: FAILED: {error}");
        }
    }
    failures
}

/// The classic design: per call, load the config, build the CloudStack client, answer, exit.
fn oneshot(config_path: &Path) -> anyhow::Result<()> {
    let mut request = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_REQUEST_BYTES as u64 + 1)
        .read_to_end(&mut request)
        .context("cannot read the request from stdin")?;
    let config = load_config(config_path)?;
    init_logging(None)?;
    // Exactly what a classic CPI does per call: load the config and build the CloudStack
    // client (TLS roots, connection pool), then answer. The database is opened only if the
    // method needs it.
    let cpi = Cpi::with_lazy_store(Arc::new(config));
    if let Err(error) = cpi.warm_client() {
        tracing::warn!(%error, "Cannot create the CloudStack client.");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let response = runtime.block_on(dispatch::handle_request(&request, &cpi));
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(response.to_json_line().as_bytes())?;
    stdout.flush()?;
    Ok(())
}
