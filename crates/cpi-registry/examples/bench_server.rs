//! Load target for `scripts/bench-registry.sh`: serves the real registry backed by a
//! temporary PostgreSQL cluster on one port and a trivial axum handler on another, prints the
//! URLs and credential as `KEY=value` lines, and runs until stdin closes.
#![allow(clippy::print_stdout)]

use std::io::Read;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use cpi_registry::{RegistryConfig, RegistryState, mint_vm_credential};
use cpi_store::pg_test::TempCluster;
use cpi_store::{NewVmSettings, StoreOptions};
use secrecy::{ExposeSecret, SecretString};

const VM_CID: &str = "bench-vm";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cluster = tokio::task::spawn_blocking(TempCluster::start)
        .await?
        .context("starting PostgreSQL")?;
    let url = cluster.create_database().await?;
    let options = StoreOptions {
        max_connections: 8,
        ..StoreOptions::default()
    };
    let store = cpi_store::connect_with(&url, &options).await?;

    // A realistic settings document of about 4 KB (an mbus certificate dominates it).
    let settings = serde_json::json!({
        "agent_id": "agent-bench",
        "env": {"bosh": {"mbus": {"cert": {"ca": "x".repeat(3000)}}}},
        "networks": {"default": {"type": "manual", "ip": "10.0.0.10", "dns": ["10.0.0.2"]}},
        "disks": {"system": "/dev/xvda", "ephemeral": "/dev/xvdb", "persistent": {}},
    });
    store
        .put_settings(&NewVmSettings {
            vm_cid: VM_CID.into(),
            agent_id: "agent-bench".into(),
            settings: settings.to_string(),
            stemcell_api_version: Some(1),
        })
        .await?;
    let credential = mint_vm_credential(store.as_ref(), VM_CID).await?;

    let mut config = RegistryConfig::new("admin", SecretString::from("admin-password"));
    // CACHE_TTL_MS=0 measures the uncached path (every GET reads PostgreSQL).
    if let Some(millis) = std::env::var("CACHE_TTL_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        config.cache_ttl = std::time::Duration::from_millis(millis);
    }
    let registry_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let trivial_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!(
        "REGISTRY_URL=http://{}/instances/{VM_CID}/settings",
        registry_listener.local_addr()?
    );
    println!("TRIVIAL_URL=http://{}/", trivial_listener.local_addr()?);
    println!("VM_USER={}", credential.username);
    println!("VM_PASSWORD={}", credential.password.expose_secret());
    println!("READY=1");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let registry_stop = {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.changed().await;
        }
    };
    let trivial_stop = {
        let mut rx = stop_rx;
        async move {
            let _ = rx.changed().await;
        }
    };
    let registry = tokio::spawn(cpi_registry::serve(
        registry_listener,
        RegistryState::new(store.clone(), &config),
        registry_stop,
    ));
    let trivial_router = Router::new().route("/", get(|| async { "{\"status\":\"ok\"}" }));
    let trivial = tokio::spawn(async move {
        axum::serve(trivial_listener, trivial_router)
            .with_graceful_shutdown(trivial_stop)
            .await
    });

    // Run until the driving script closes our stdin.
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await?;
    let _ = stop_tx.send(true);
    registry.await??;
    trivial.await??;
    store.close().await;
    drop(cluster);
    Ok(())
}
