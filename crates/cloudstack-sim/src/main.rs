//! `cloudstack-sim` binary: runs the emulator until interrupted. The first line on stdout is
//! the API URL, so scripts can start it with `--listen 127.0.0.1:0` and read the port.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use cloudstack_sim::{Sim, SimConfig};
use secrecy::SecretString;

/// Apache CloudStack management-server emulator.
#[derive(Debug, Parser)]
#[command(name = "cloudstack-sim", version)]
struct Args {
    /// Address to listen on, e.g. 127.0.0.1:8080 or 127.0.0.1:0 for a free port.
    #[arg(long)]
    listen: SocketAddr,
    /// API key of the user account.
    #[arg(long)]
    api_key: String,
    /// Secret key of the user account.
    #[arg(long, env = "CLOUDSTACK_SIM_SECRET_KEY", hide_env_values = true)]
    secret_key: SecretString,
    /// API key of the root admin account.
    #[arg(long, default_value = "sim-admin-api-key")]
    admin_api_key: String,
    /// Secret key of the root admin account.
    #[arg(
        long,
        env = "CLOUDSTACK_SIM_ADMIN_SECRET_KEY",
        hide_env_values = true,
        default_value = "sim-admin-secret-key"
    )]
    admin_secret_key: SecretString,
    /// Inventory JSON file replacing the default inventory.
    #[arg(long)]
    inventory: Option<PathBuf>,
    /// How long async jobs stay pending, in milliseconds.
    #[arg(long, default_value_t = 200)]
    job_duration_ms: u64,
    /// How long destroyed VMs keep their IPs before being expunged, in milliseconds.
    #[arg(long, default_value_t = 3000)]
    expunge_delay_ms: u64,
    /// Load state from and save it to this JSON file.
    #[arg(long)]
    state_file: Option<PathBuf>,
    /// Start with the 25 calls/s per-account throttle enabled.
    #[arg(long)]
    throttle: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let inventory = match &args.inventory {
        Some(path) => cloudstack_sim::load_inventory(path)
            .with_context(|| format!("loading inventory {}", path.display()))?,
        None => cloudstack_sim::Inventory::default(),
    };
    let config = SimConfig {
        user_api_key: args.api_key,
        user_secret: args.secret_key,
        admin_api_key: args.admin_api_key,
        admin_secret: args.admin_secret_key,
        inventory,
        job_duration: Duration::from_millis(args.job_duration_ms),
        expunge_delay: Duration::from_millis(args.expunge_delay_ms),
        state_file: args.state_file,
        ..SimConfig::default()
    };
    let handle = Sim::spawn(config, args.listen).await?;
    handle.set_throttle(args.throttle);
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", handle.url()).context("writing the URL to stdout")?;
        stdout.flush().context("flushing stdout")?;
    }
    wait_for_signal().await;
    tracing::info!("shutting down");
    handle.shutdown().await?;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
