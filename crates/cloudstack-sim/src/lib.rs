//! `cloudstack-sim`: an Apache CloudStack management-server emulator.
//!
//! No real CloudStack runs in our test environments, so every CPI test talks to this emulator
//! over real HTTP. It is also what `cpid demo` runs against. It reproduces the parts of the
//! management server that a CPI depends on:
//!
//! * **Authentication** exactly like `ApiServer.verifyRequest` ([`signing`]): parameters sorted
//!   as received, Java `URLEncoder` value encoding with `%20`, lower-cased string, HMAC-SHA1,
//!   `signatureversion=3` with `expires`. Every authentication failure and unknown command is a
//!   401 with the server's error envelope.
//! * **Envelopes**: `<command>response`, lists as `{"count", "<object>": [...]}` and `{}` when
//!   empty, async submits as `{jobid}` (plus `id` for create-style commands), errors with HTTP
//!   status = `errorcode`, `cserrorcode`, `uuidList` and an `X-Description` header.
//! * **Async jobs** ([`api`]): pending (`jobstatus` 0) for the configured job duration, then
//!   succeeded (1) with the object under its key, or failed (2) with `jobresult.{errorcode,
//!   errortext}`.
//! * **Semantics that bite CPIs**: destroyed VMs keep their IPs until the expunge delay,
//!   non-admins do not see them, local-storage volumes attach only on their host, static IPs
//!   are range- and duplicate-checked, user data must be base64 and within limits, tags are
//!   unique per key and resource, host anti-affinity is honoured in placement.
//! * **Templates** ([`download`], [`upload`]): `registerTemplate` validates URLs like
//!   `UriUtils` and downloads like the secondary storage VM (GET, no redirects, 200 and
//!   `Content-Length` required, checksum, `Range` resume); browser-style uploads with signed
//!   `X-signature`/`X-metadata`/`X-expires` headers.
//! * **Faults** ([`faults`]): latency, HTTP errors, failing jobs, dropped connections and a
//!   25 calls/s throttle, injectable from Rust ([`SimHandle::inject`]) or over HTTP
//!   (`POST /sim/faults`).
//!
//! Invariants:
//!
//! * Time is read from an injectable [`Clock`]; jobs complete and destroyed VMs are expunged
//!   lazily when any request (or a state inspection) evaluates the clock, so tests can use
//!   [`ManualClock`] instead of sleeping. Template downloads are the only background tasks.
//! * State lives in one [`World`] behind a mutex that is never held across an `.await`.
//! * Secrets (secret keys) are [`secrecy::SecretString`]s and never logged; the world, which
//!   the admin endpoint exposes, holds no secrets.
//! * Nothing panics on bad input: every request error is a CloudStack error envelope.

pub mod api;
pub mod clock;
pub mod download;
pub mod error;
pub mod faults;
pub mod model;
pub mod params;
pub mod render;
pub mod server;
pub mod signing;
pub mod upload;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{ApiError, SimError};
pub use faults::{Fault, FaultKind, FaultTimes};
pub use model::{Inventory, Settings, World, ids};

use server::{Credentials, Runtime, Shared};

/// Configuration of an emulator instance.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// API key of the user account (the one a CPI normally uses).
    pub user_api_key: String,
    /// Secret key of the user account.
    pub user_secret: SecretString,
    /// API key of the root admin account.
    pub admin_api_key: String,
    /// Secret key of the root admin account.
    pub admin_secret: SecretString,
    /// Zones, offerings, networks, templates and settings.
    pub inventory: Inventory,
    /// How long async jobs stay pending.
    pub job_duration: Duration,
    /// How long a destroyed VM keeps its resources before it is expunged.
    pub expunge_delay: Duration,
    /// Time source (use [`ManualClock`] in tests that must not sleep).
    pub clock: Arc<dyn Clock>,
    /// Load the world from this file if it exists, and save it after every change.
    pub state_file: Option<PathBuf>,
    /// Largest accepted template upload body.
    pub max_upload_bytes: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            user_api_key: "sim-user-api-key".into(),
            user_secret: SecretString::from("sim-user-secret-key"),
            admin_api_key: "sim-admin-api-key".into(),
            admin_secret: SecretString::from("sim-admin-secret-key"),
            inventory: Inventory::default(),
            job_duration: Duration::from_millis(100),
            expunge_delay: Duration::from_secs(3),
            clock: Arc::new(SystemClock),
            state_file: None,
            max_upload_bytes: 512 * 1024 * 1024,
        }
    }
}

/// Entry point.
#[derive(Debug)]
pub struct Sim;

impl Sim {
    /// Binds `listen` (use `127.0.0.1:0` for a free port) and serves until
    /// [`SimHandle::shutdown`] or the handle is dropped.
    pub async fn spawn(config: SimConfig, listen: SocketAddr) -> Result<SimHandle, SimError> {
        config.inventory.validate()?;
        let world = match &config.state_file {
            Some(path) if path.exists() => load_world(path)?,
            _ => World::from_inventory(config.inventory.clone()),
        };
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: listen.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: listen.to_string(),
            source,
        })?;
        let (user, admin) = server::default_callers();
        let runtime = Runtime {
            credentials: vec![
                Credentials {
                    api_key: config.user_api_key.clone(),
                    secret: config.user_secret.clone(),
                    caller: user,
                },
                Credentials {
                    api_key: config.admin_api_key.clone(),
                    secret: config.admin_secret.clone(),
                    caller: admin,
                },
            ],
            job_duration: config.job_duration,
            expunge_delay: config.expunge_delay,
            clock: config.clock.clone(),
            state_file: config.state_file.clone(),
            max_upload_bytes: config.max_upload_bytes,
            upload_key: rand::random(),
        };
        let shared = Arc::new(Shared::new(world, runtime, format!("http://{addr}")));
        let app = server::router(shared.clone());
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stop_rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "emulator server stopped with an error");
            }
        });
        tracing::info!(%addr, "cloudstack-sim listening");
        Ok(SimHandle {
            shared,
            addr,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }
}

fn load_world(path: &std::path::Path) -> Result<World, SimError> {
    let text = std::fs::read(path).map_err(|source| SimError::Io {
        path: path.display().to_string(),
        source,
    })?;
    serde_json::from_slice(&text).map_err(|source| SimError::Json {
        path: path.display().to_string(),
        source,
    })
}

/// Reads an inventory JSON file (the format of [`Inventory`]'s serde representation).
pub fn load_inventory(path: &std::path::Path) -> Result<Inventory, SimError> {
    let text = std::fs::read(path).map_err(|source| SimError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let inventory: Inventory = serde_json::from_slice(&text).map_err(|source| SimError::Json {
        path: path.display().to_string(),
        source,
    })?;
    inventory.validate()?;
    Ok(inventory)
}

/// A running emulator.
#[derive(Debug)]
pub struct SimHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// The API endpoint, `http://127.0.0.1:PORT/client/api`.
    pub fn url(&self) -> String {
        format!("http://{}/client/api", self.addr)
    }

    /// `http://127.0.0.1:PORT` (admin endpoints live under `/sim/`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A copy of the whole world, with due jobs and expunges applied.
    pub fn world(&self) -> World {
        self.shared.snapshot()
    }

    /// All VMs not yet expunged (any state).
    pub fn vms(&self) -> Vec<model::Vm> {
        self.world().vms
    }

    /// All volumes.
    pub fn volumes(&self) -> Vec<model::Volume> {
        self.world().volumes
    }

    /// All templates.
    pub fn templates(&self) -> Vec<model::Template> {
        self.world().templates
    }

    /// All tags.
    pub fn tags(&self) -> Vec<model::Tag> {
        self.world().tags
    }

    /// All public IPs (with their static NAT VM).
    pub fn public_ips(&self) -> Vec<model::PublicIp> {
        self.world().public_ips
    }

    /// How many authenticated calls of `command` were received.
    pub fn calls(&self, command: &str) -> u64 {
        self.shared.calls(command)
    }

    /// Injects a fault.
    pub fn inject(&self, fault: Fault) -> Result<(), String> {
        self.shared.inject(fault)
    }

    /// Removes all faults.
    pub fn clear_faults(&self) {
        self.shared.clear_faults();
    }

    /// Turns the 25 calls/s throttle on or off.
    pub fn set_throttle(&self, enabled: bool) {
        self.shared.set_throttle(enabled);
    }

    /// Changes settings at run time (e.g. `allow_user_expunge_recover_vm`).
    pub fn update_settings(&self, f: impl FnOnce(&mut Settings)) {
        self.shared.with_world(|w| f(&mut w.settings));
    }

    /// Stops serving, waits for the server task and saves the state file if configured.
    pub async fn shutdown(mut self) -> Result<(), SimError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.shared.persist().await
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
