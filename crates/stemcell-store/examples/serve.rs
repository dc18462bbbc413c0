//! Serves a stemcell store directory, for `scripts/litmus.sh` and the throughput benchmark.
//!
//! `serve <root> <listen> <user> <password> [file-to-sign]` prints `LISTEN <address>` and, with
//! a file, `URL <signed URL>` on stdout, then serves until killed.

#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use stemcell_store::{Credentials, StemcellStore};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, listen, user, password, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: serve <root> <listen> <user> <password> [file-to-sign]");
    };
    let listener = tokio::net::TcpListener::bind(listen.as_str()).await?;
    let address = listener.local_addr()?;
    let public = url::Url::parse(&format!("http://{address}/"))?;
    let store = Arc::new(StemcellStore::new(
        root.as_str(),
        Some(public),
        Some(Credentials::new(
            user.as_str(),
            SecretString::from(password.as_str()),
        )),
        Duration::from_secs(3600),
    )?);
    println!("LISTEN {address}");
    if let Some(file) = rest.first() {
        println!("URL {}", store.signed_url(file)?);
    }
    stemcell_store::serve(listener, store, std::future::pending()).await?;
    Ok(())
}
