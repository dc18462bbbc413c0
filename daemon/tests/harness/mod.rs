//! Black-box harness: the real `cpid` on a temporary state directory, called through the real
//! `cpi` shim the way the director and bosh-cli call it.
//!
//! The shim binary is a sibling of `cpid` in the target directory. Cargo cannot make a binary
//! crate a dependency, so [`shim_binary`] runs `cargo build -p cpi-shim` once per test process
//! (a no-op when it is up to date) with the same profile as the test build.
//!
//! With [`TestDaemonBuilder::emulator`], the daemon talks to a real `cloudstack-sim` over HTTP;
//! the emulator runs on the harness's own runtime so tests can inspect its state after each
//! step. The database is SQLite in the state directory unless a test sets another URL.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const CPID: &str = env!("CARGO_BIN_EXE_cpid");

/// The `cpi` shim next to `cpid`, built on first use when it is missing or older than its
/// sources.
pub fn shim_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cpid = PathBuf::from(CPID);
            let directory = cpid.parent().expect("cpid has a directory");
            let shim = directory.join("cpi");
            if shim_is_stale(&shim) {
                let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
                let mut build = Command::new(cargo);
                build.args(["build", "--quiet", "-p", "cpi-shim", "--bin", "cpi"]);
                if directory.ends_with("release") {
                    build.arg("--release");
                }
                let status = build.status().expect("cargo runs");
                assert!(status.success(), "building the shim failed: {status}");
            }
            assert!(shim.exists(), "{} was not built", shim.display());
            shim
        })
        .clone()
}

fn shim_is_stale(shim: &Path) -> bool {
    let Ok(built) = std::fs::metadata(shim).and_then(|m| m.modified()) else {
        return true;
    };
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cpi-shim");
    let mut pending = vec![sources];
    while let Some(path) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified > built)
            {
                return true;
            }
        }
    }
    false
}

/// A director request: `request_id` and `director_uuid` in the context.
pub fn director_request(method: &str, arguments: Value, request_id: &str) -> Vec<u8> {
    json!({
        "method": method,
        "arguments": arguments,
        "context": {"director_uuid": "director-uuid", "request_id": request_id},
        "api_version": 2,
    })
    .to_string()
    .into_bytes()
}

/// A bosh-cli request: no `request_id`, `api_version` 1 for `info`.
pub fn cli_request(method: &str, arguments: Value) -> Vec<u8> {
    let api_version = if method == "info" { 1 } else { 2 };
    json!({
        "method": method,
        "arguments": arguments,
        "context": {"director_uuid": "cli-director-uuid"},
        "api_version": api_version,
    })
    .to_string()
    .into_bytes()
}

/// The emulator a test daemon talks to, on a runtime owned by the harness.
pub struct Emulator {
    pub sim: cloudstack_sim::SimHandle,
    pub runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("url", &self.sim.url())
            .finish()
    }
}

impl Emulator {
    fn start(
        configure: impl FnOnce(&mut cloudstack_sim::SimConfig),
    ) -> (Emulator, cloudstack_sim::SimConfig) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("emulator runtime");
        let mut config = cloudstack_sim::SimConfig {
            job_duration: Duration::from_millis(20),
            expunge_delay: Duration::from_millis(300),
            ..cloudstack_sim::SimConfig::default()
        };
        configure(&mut config);
        let sim = runtime
            .block_on(cloudstack_sim::Sim::spawn(
                config.clone(),
                "127.0.0.1:0".parse().unwrap(),
            ))
            .expect("the emulator starts");
        (Emulator { sim, runtime }, config)
    }
}

/// Adjusts the emulator's configuration before it starts.
type ConfigureEmulator = Box<dyn FnOnce(&mut cloudstack_sim::SimConfig)>;

#[derive(Default)]
pub struct TestDaemonBuilder {
    emulator: Option<ConfigureEmulator>,
    config_patch: Option<Value>,
    autostart: bool,
    idle_timeout: u64,
    tcp_listen: bool,
    spawn: bool,
    autostarted_flag: bool,
    extra_serve_args: Vec<String>,
}

impl std::fmt::Debug for TestDaemonBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDaemonBuilder")
            .field("emulator", &self.emulator.is_some())
            .finish()
    }
}

impl TestDaemonBuilder {
    /// Points the daemon at a real emulator, configured by `configure`.
    pub fn emulator(
        mut self,
        configure: impl FnOnce(&mut cloudstack_sim::SimConfig) + 'static,
    ) -> Self {
        self.emulator = Some(Box::new(configure));
        self
    }

    /// Merges a JSON patch into the generated config (objects merge, other values replace).
    pub fn config(mut self, patch: Value) -> Self {
        self.config_patch = Some(patch);
        self
    }

    /// Lets the shim start the daemon; the daemon is then not spawned by the harness.
    pub fn autostart(mut self) -> Self {
        self.autostart = true;
        self.spawn = false;
        self
    }

    pub fn idle_timeout(mut self, seconds: u64) -> Self {
        self.idle_timeout = seconds;
        self
    }

    /// Also listen on a loopback TCP port; the shim then uses TCP.
    pub fn tcp(mut self) -> Self {
        self.tcp_listen = true;
        self
    }

    /// Writes the config and state directory but starts no daemon (for `cpid gc`, `check`…).
    pub fn no_spawn(mut self) -> Self {
        self.spawn = false;
        self
    }

    /// Spawns `cpid serve --autostarted` as the shim would, so `idle_timeout` applies.
    pub fn started_by_the_shim(mut self) -> Self {
        self.autostarted_flag = true;
        self
    }

    pub fn serve_arg(mut self, argument: &str) -> Self {
        self.extra_serve_args.push(argument.to_owned());
        self
    }

    pub fn start(self) -> TestDaemon {
        // Build the shim before any daemon runs, so build time never counts against timeouts.
        shim_binary();
        let directory = tempfile::Builder::new()
            .prefix("cpid-")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let jobs_dir = directory.path().join("jobs");
        let config_path = jobs_dir.join("cloudstack_cpi/config/cpi.json");
        std::fs::create_dir_all(config_path.parent().expect("parent")).expect("config dir");
        let state_dir = directory.path().join("state");
        let mut daemon = json!({
            "state_dir": state_dir,
            "autostart": self.autostart,
            "idle_timeout": self.idle_timeout,
        });
        if self.tcp_listen {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            daemon["listen"] = json!(format!("127.0.0.1:{port}"));
        }
        let mut config = json!({
            "cloudstack": {
                "endpoint": "http://127.0.0.1:9/client/api",
                "api_key": "test-api-key-SECRET",
                "secret_access_key": "test-secret-key-SECRET",
                "default_zone": "zone-1",
            },
            "daemon": daemon,
        });
        let emulator = self.emulator.map(|configure| {
            let (emulator, sim_config) = Emulator::start(configure);
            merge(
                &mut config,
                json!({
                    "cloudstack": {
                        "endpoint": emulator.sim.url(),
                        "api_key": sim_config.user_api_key,
                        "secret_access_key": secrecy::ExposeSecret::expose_secret(&sim_config.user_secret),
                        "default_zone": "zone1",
                        "default_key_name": "bosh",
                        "async_job_timeout": 60,
                        "ip_release_timeout": 10,
                        "default_offer": {"disk": "custom", "ephemeral_disk": "custom", "custom_disk": "custom"},
                    },
                    "agent": {"mbus": "nats://nats:MBUS-PASSWORD-SECRET@10.1.1.2:4222", "ntp": ["0.pool.ntp.org"],
                              "blobstore": {"provider": "dav", "options": {"endpoint": "http://10.1.1.2:25250"}}},
                }),
            );
            emulator
        });
        if let Some(patch) = self.config_patch {
            merge(&mut config, patch);
        }
        std::fs::write(&config_path, config.to_string()).expect("write config");
        let mut test_daemon = TestDaemon {
            emulator,
            socket: state_dir.join("cpid.sock"),
            log_file: state_dir.join("cpid.log"),
            state_dir,
            config_path,
            jobs_dir,
            child: None,
            directory,
        };
        if self.spawn {
            test_daemon.spawn(self.autostarted_flag, &self.extra_serve_args);
        }
        test_daemon
    }
}

/// A daemon on its own temporary state directory; killed on drop.
#[derive(Debug)]
pub struct TestDaemon {
    /// The emulator, when the builder asked for one. Dropped after the daemon.
    pub emulator: Option<Emulator>,
    pub directory: tempfile::TempDir,
    pub jobs_dir: PathBuf,
    pub config_path: PathBuf,
    pub state_dir: PathBuf,
    pub socket: PathBuf,
    pub log_file: PathBuf,
    pub child: Option<Child>,
}

impl TestDaemon {
    pub fn builder() -> TestDaemonBuilder {
        TestDaemonBuilder {
            spawn: true,
            ..TestDaemonBuilder::default()
        }
    }

    pub fn start() -> TestDaemon {
        Self::builder().start()
    }

    fn spawn(&mut self, autostarted: bool, extra: &[String]) {
        std::fs::create_dir_all(&self.state_dir).expect("state dir");
        let log = std::fs::File::create(&self.log_file).expect("log file");
        let mut command = Command::new(CPID);
        command
            .arg("serve")
            .arg("--config")
            .arg(&self.config_path)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone"))
            .stderr(log);
        if autostarted {
            command.arg("--autostarted");
        }
        self.child = Some(command.spawn().expect("spawn cpid"));
        self.wait_until_ready();
    }

    /// Polls the socket with backoff until the daemon accepts, for at most 20 s.
    pub fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut backoff = Duration::from_millis(5);
        while UnixStream::connect(&self.socket).is_err() {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("cpid exited during start-up ({status}): {}", self.log());
            }
            assert!(Instant::now() < deadline, "cpid not ready: {}", self.log());
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_millis(200));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("spawned by the harness").id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// The shim as the director runs it: environment reduced to PATH, TMPDIR and HOME, no argv.
    /// The config path travels in `CPI_CONFIG` because the job is not under `/var/vcap/jobs`.
    pub fn call_as_director(&self, request: &[u8]) -> Output {
        let mut command = Command::new(shim_binary());
        command
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("TMPDIR", std::env::temp_dir())
            .env("HOME", self.directory.path())
            .env("CPI_CONFIG", &self.config_path);
        run_with_stdin(command, request)
    }

    /// The shim as bosh-cli runs it: the whole environment plus `BOSH_JOBS_DIR`, which is how
    /// the shim finds its config.
    pub fn call_as_cli(&self, request: &[u8]) -> Output {
        let mut command = Command::new(shim_binary());
        command
            .env_remove("CPI_CONFIG")
            .env("BOSH_JOBS_DIR", &self.jobs_dir)
            .env("BOSH_PACKAGES_DIR", self.directory.path().join("packages"));
        run_with_stdin(command, request)
    }

    /// Sends SIGTERM and waits up to `limit` for the exit status.
    pub fn terminate(&mut self, limit: Duration) -> ExitStatus {
        send_sigterm(self.pid());
        self.wait_for_exit(limit)
    }

    pub fn wait_for_exit(&mut self, limit: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("spawned by the harness");
        let deadline = Instant::now() + limit;
        let mut backoff = Duration::from_millis(5);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "cpid did not exit within {limit:?}"
            );
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_millis(100));
        }
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl TestDaemon {
    /// The emulator's handle; panics when the daemon was built without one.
    pub fn sim(&self) -> &cloudstack_sim::SimHandle {
        &self.emulator.as_ref().expect("built with .emulator()").sim
    }

    /// Calls `method` through the shim as the director does (api_version 2, v2 stemcell) and
    /// returns the response, after checking it against the director's schema.
    pub fn director_call(&self, method: &str, arguments: Value) -> Value {
        let request = json!({
            "method": method,
            "arguments": arguments,
            "context": {"director_uuid": "director-uuid", "request_id": "cpi-424242",
                        "vm": {"stemcell": {"api_version": 2}}},
            "api_version": 2,
        });
        response(&self.call_as_director(request.to_string().as_bytes()))
    }

    /// Like [`TestDaemon::director_call`] but expects success and returns the result.
    pub fn ok(&self, method: &str, arguments: Value) -> Value {
        let response = self.director_call(method, arguments);
        assert!(response["error"].is_null(), "{method} failed: {response}");
        response["result"].clone()
    }
}

fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(base.entry(key).or_insert(Value::Null), value);
            }
        }
        (base, patch) => *base = patch,
    }
}

pub fn send_sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -TERM {pid} failed");
}

pub fn run_with_stdin(mut command: Command, request: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the shim");
    let mut stdin = child.stdin.take().expect("stdin");
    let request = request.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&request);
    });
    let output = child.wait_with_output().expect("shim output");
    writer.join().expect("writer");
    output
}

/// Parses the shim's stdout strictly, as the director does, and checks the response schema.
pub fn response(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "shim exit {:?}, stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let value: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    assert!(value["log"].is_string(), "{value}");
    assert!(value.get("result").is_some(), "{value}");
    match &value["error"] {
        Value::Null => {}
        error => {
            assert!(error["type"].is_string(), "{value}");
            assert!(error["message"].is_string(), "{value}");
            assert!(error["ok_to_retry"].is_boolean(), "{value}");
        }
    }
    value
}

/// Process ids of `cpid serve` processes started with `config` (read from /proc).
pub fn daemons_serving(config: &Path) -> Vec<u32> {
    let needle = config.as_os_str().as_encoded_bytes();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let arguments: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_cpid = arguments
            .first()
            .is_some_and(|program| program.ends_with(b"cpid"));
        if is_cpid && arguments.contains(&b"serve".as_slice()) && arguments.contains(&needle) {
            pids.push(pid);
        }
    }
    pids
}
