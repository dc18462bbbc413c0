//! `cpid demo`: a whole BOSH lifecycle on embedded defaults, through the real `cpi` shim.
//!
//! It starts the CloudStack emulator, a daemon on temporary paths with its SQLite database,
//! and then runs the calls a director makes for one instance — stemcell, VM, persistent disk,
//! and their deletion — each one through the shim exactly as the director runs it
//! (scrubbed environment, no argv, request on stdin, one response on stdout). Nothing is
//! installed and nothing outside a temporary directory is touched.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

use cloudstack_sim::{Sim, SimConfig};
use cpi_actions::Cpi;
use cpi_config::Config;

use crate::server::{Server, ServerOptions};

/// Removes the demo's temporary directory on the way out.
#[derive(Debug)]
struct TemporaryDirectory(PathBuf);

impl Drop for TemporaryDirectory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn run() -> anyhow::Result<()> {
    let directory =
        TemporaryDirectory(std::env::temp_dir().join(format!("cpid-demo-{}", std::process::id())));
    std::fs::create_dir_all(&directory.0)
        .with_context(|| format!("cannot create {}", directory.0.display()))?;
    let shim = std::env::current_exe()
        .context("cannot locate cpid")?
        .with_file_name("cpi");
    if !shim.exists() {
        anyhow::bail!(
            "the shim {} is missing; build it with 'cargo build --release -p cpi-shim'",
            shim.display()
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(lifecycle(&directory.0, &shim));
    if outcome.is_err() {
        // Keep the daemon log and database for the operator to look at.
        eprintln!("cpid demo: kept {} for inspection", directory.0.display());
        std::mem::forget(directory);
    }
    outcome
}

async fn lifecycle(directory: &Path, shim: &Path) -> anyhow::Result<()> {
    let sim_config = SimConfig {
        job_duration: Duration::from_millis(200),
        expunge_delay: Duration::from_secs(2),
        ..SimConfig::default()
    };
    let sim = Sim::spawn(sim_config.clone(), "127.0.0.1:0".parse()?)
        .await
        .context("cannot start the CloudStack emulator")?;

    // The stemcell store listens on a free loopback port; the emulator downloads from it as the
    // secondary storage VM would, through a signed URL.
    let webdav_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let image = directory.join("image");
    write_demo_image(&image)?;
    let config_path = directory.join("cpi.json");
    let config_text = json!({"cloudstack": {
            "endpoint": sim.url(),
            "api_key": sim_config.user_api_key,
            "secret_access_key": secrecy::ExposeSecret::expose_secret(&sim_config.user_secret),
            "default_zone": "zone1",
            "default_key_name": "bosh",
            "default_offer": {"disk": "custom", "ephemeral_disk": "custom", "custom_disk": "custom"}
        },
        "daemon": {
            "state_dir": directory,
            "log_file": directory.join("cpid.log"),
        },
        "webdav": {
            "listen": format!("127.0.0.1:{webdav_port}"),
            "public_url": format!("http://127.0.0.1:{webdav_port}"),
            "user": "demo",
            "password": "demo-webdav-password"
        },
        "agent": {
            "mbus": "nats://nats:demo-password@10.1.1.2:4222",
            "ntp": ["0.pool.ntp.org"],
            "blobstore": {"provider": "dav", "options": {"endpoint": "http://10.1.1.2:25250"}}
        }
    });
    std::fs::write(&config_path, config_text.to_string())
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    let config = Arc::new(Config::load(&config_path)?);
    crate::init_logging(config.daemon.log_file.as_deref())?;

    let server = Server::bind(ServerOptions {
        unix_socket: config.socket_path(),
        tcp_listen: None,
        idle_timeout: None,
        shutdown_deadline: Duration::from_secs(5),
        max_connections: 8,
    })
    .await?;
    let store = crate::connect_store(&config, true).await?;
    let stemcells = Arc::new(cpi_actions::open_stemcell_store(&config)?);
    let cpi = Arc::new(
        Cpi::new(Arc::clone(&config), Arc::clone(&store))
            .with_stemcell_store(Arc::clone(&stemcells)),
    );
    let shutdown = CancellationToken::new();
    let background = crate::background::start(&config, &cpi, &store, &stemcells, &shutdown).await?;
    let server_task = tokio::spawn(server.run(cpi, shutdown.clone()));

    let mut out = std::io::stdout();
    writeln!(out, "cpid demo")?;
    writeln!(out, "  CloudStack emulator: {}", sim.url())?;
    writeln!(
        out,
        "  daemon socket:       {}",
        config.socket_path().display()
    )?;
    writeln!(
        out,
        "  database:            SQLite in {}",
        directory.display()
    )?;
    writeln!(
        out,
        "  stemcell store:      http://127.0.0.1:{webdav_port} (WebDAV, signed downloads)"
    )?;
    writeln!(
        out,
        "  shim:                {} (director environment: PATH, TMPDIR, HOME only)\n",
        shim.display()
    )?;

    let mut demo = Demo {
        shim,
        image: &image,
        config: &config_path,
        out,
        failures: Vec::new(),
        request_id: 100_000,
    };
    let outcome = demo.run_lifecycle().await;
    shutdown.cancel();
    let _ = server_task.await;
    background.stop().await;
    let _ = sim.shutdown().await;
    let Demo {
        mut out, failures, ..
    } = demo;
    outcome?;
    writeln!(out, "\ndaemon and emulator stopped")?;
    if failures.is_empty() {
        writeln!(out, "every call succeeded")?;
        Ok(())
    } else {
        for failure in &failures {
            writeln!(out, "FAILED: {failure}")?;
        }
        anyhow::bail!("{} call(s) failed", failures.len())
    }
}

struct Demo<'a> {
    shim: &'a Path,
    image: &'a Path,
    config: &'a Path,
    out: std::io::Stdout,
    failures: Vec<String>,
    request_id: u32,
}

impl Demo<'_> {
    async fn run_lifecycle(&mut self) -> anyhow::Result<()> {
        self.step("info (as the director sends it)", "info", json!([]), None)
            .await?;
        self.step("ping", "ping", json!([]), None).await?;
        let stemcell = self
            .step(
                "create_stemcell (the image is published from the WebDAV store; the emulator downloads it)",
                "create_stemcell",
                json!([self.image, {"name": "bosh-cloudstack-xen-ubuntu-jammy-go_agent", "version": "1.0",
                        "infrastructure": "cloudstack", "hypervisor": "xen", "disk_format": "vhdx",
                        "os_type": "linux", "architecture": "x86_64"}]),
                None,
            )
            .await?;
        let Some(stemcell_cid) = stemcell.as_str().map(str::to_owned) else {
            return Ok(());
        };
        let networks = json!({"default": {"type": "manual", "ip": "10.1.1.20", "netmask": "255.255.255.0",
            "gateway": "10.1.1.1", "dns": ["10.1.1.1"], "default": ["dns", "gateway"],
            "cloud_properties": {"name": "isolated-net"}}});
        let vm = self
            .step(
                "create_vm",
                "create_vm",
                json!(["agent-demo-0001", stemcell_cid, {"compute_offering": "small", "disk": 2048},
                       networks, [], {"bosh": {"password": "*"}}]),
                Some(2),
            )
            .await?;
        if let Some(vm_cid) = vm.get(0).and_then(Value::as_str).map(str::to_owned) {
            self.step("has_vm", "has_vm", json!([vm_cid]), None).await?;
            self.step(
                "set_vm_metadata",
                "set_vm_metadata",
                json!([vm_cid, {"director": "demo", "deployment": "demo", "name": "web/0", "index": "0"}]),
                None,
            )
            .await?;
            self.step("reboot_vm", "reboot_vm", json!([vm_cid]), None)
                .await?;
            let disk = self
                .step(
                    "create_disk",
                    "create_disk",
                    json!([4096, {}, vm_cid]),
                    None,
                )
                .await?;
            if let Some(disk_cid) = disk.as_str().map(str::to_owned) {
                self.step(
                    "attach_disk",
                    "attach_disk",
                    json!([vm_cid, disk_cid]),
                    None,
                )
                .await?;
                self.step("get_disks", "get_disks", json!([vm_cid]), None)
                    .await?;
                self.step(
                    "detach_disk",
                    "detach_disk",
                    json!([vm_cid, disk_cid]),
                    None,
                )
                .await?;
                self.step("delete_disk", "delete_disk", json!([disk_cid]), None)
                    .await?;
            }
            self.step("delete_vm", "delete_vm", json!([vm_cid]), None)
                .await?;
            self.step("has_vm (after delete_vm)", "has_vm", json!([vm_cid]), None)
                .await?;
        }
        self.step(
            "delete_stemcell",
            "delete_stemcell",
            json!([stemcell_cid]),
            None,
        )
        .await?;
        Ok(())
    }

    /// Sends one director-shaped request through the shim and prints it with its answer.
    async fn step(
        &mut self,
        title: &str,
        method: &str,
        arguments: Value,
        stemcell_api_version: Option<u32>,
    ) -> anyhow::Result<Value> {
        self.request_id += 1;
        let mut context = json!({"director_uuid": "demo-director", "request_id": format!("cpi-{}", self.request_id)});
        if let Some(version) = stemcell_api_version {
            context["vm"] = json!({"stemcell": {"api_version": version}});
        }
        let request =
            json!({"method": method, "arguments": arguments, "context": context, "api_version": 2});
        writeln!(self.out, "=> {title}\n   request:  {request}")?;
        let text = call_shim(self.shim, self.config, &request.to_string()).await?;
        let response: Value =
            serde_json::from_str(&text).context("the shim printed something that is not JSON")?;
        let error = response
            .get("error")
            .filter(|error| !error.is_null())
            .map(|error| {
                let kind = error
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let message = error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                (kind, message)
            });
        match &error {
            None => writeln!(self.out, "   result:   {}", response["result"])?,
            Some((kind, message)) => {
                writeln!(self.out, "   error:    {kind}: {message}")?;
                self.failures.push(format!("{method}: {kind}: {message}"));
            }
        }
        Ok(response["result"].clone())
    }
}

/// Writes a small stand-in for a stemcell's `image` file (a real one is a multi-GB
/// bzip2-compressed VHD; the emulator checks the transfer and checksum, not the content).
fn write_demo_image(path: &Path) -> anyhow::Result<()> {
    let mut content = Vec::with_capacity(4 << 20);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    while content.len() < 4 << 20 {
        // xorshift: cheap bytes that do not compress, like a real image.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        content.extend_from_slice(&state.to_le_bytes());
    }
    std::fs::write(path, content).with_context(|| format!("cannot write {}", path.display()))
}

/// Runs the shim as the director would, except that the config path comes from `CPI_CONFIG`
/// because the demo's config is not under `/var/vcap/jobs`.
async fn call_shim(shim: &Path, config: &Path, request: &str) -> anyhow::Result<String> {
    let mut child = tokio::process::Command::new(shim)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("TMPDIR", std::env::temp_dir())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("CPI_CONFIG", config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot run {}", shim.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(request.as_bytes()).await?;
    }
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .context("the shim did not answer within 120 s")??;
    anyhow::ensure!(
        output.status.success(),
        "the shim exited with {}",
        output.status
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
