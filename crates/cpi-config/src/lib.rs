//! The CPI configuration: one JSON file, rendered by the BOSH job template `cpi.json.erb`.
//!
//! The shim reads a few `daemon.*` keys of the same file with its own tiny reader; everything
//! else is read here, once, into closed types.
//!
//! **Invariants**
//! - Unknown keys are refused, with the full dotted name of the key in the message, because a
//!   misspelt property silently falling back to a default is how production outages start.
//! - Secrets (API and secret keys, passwords, the database URL, the mbus URL, blobstore options)
//!   are held in redacting types: `Debug` never shows them and no error message quotes them.
//! - This crate does no I/O beyond reading the file it is given.

mod redacted;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

pub use redacted::Redacted;

/// A JSON object.
pub type JsonObject = serde_json::Map<String, Value>;

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config is not valid JSON: {0}")]
    Json(String),
    #[error("unknown key `{0}` in config")]
    UnknownKey(String),
    #[error("config key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub cloudstack: CloudStackConfig,
    #[serde(default)]
    pub daemon: DaemonConfig,
    #[serde(default)]
    pub registry: RegistryConfig,
    #[serde(default)]
    pub webdav: WebdavConfig,
    #[serde(default)]
    pub agent: AgentConfig,
    #[serde(default)]
    pub info: InfoConfig,
    /// The document as read, so that cpi-config overrides can be merged and parsed again.
    #[serde(skip)]
    raw: Redacted<Value>,
}

/// `cloudstack.*`: how to reach and use the CloudStack API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudStackConfig {
    /// The API URL, e.g. `https://cloud.example.com/client/api`.
    pub endpoint: Url,
    pub api_key: SecretString,
    pub secret_access_key: SecretString,
    /// The zone (name or id) used when a VM type names no `zone`.
    pub default_zone: String,
    /// The SSH key pair name given to VMs whose VM type names no `key_name`.
    #[serde(default)]
    pub default_key_name: Option<String>,
    /// Destroy VMs with `expunge=true` so their IPs are free at once.
    #[serde(default = "yes")]
    pub expunge_vm: bool,
    /// Accept any TLS certificate from the API endpoint. Logged as a warning.
    #[serde(default)]
    pub skip_verify_ssl: bool,
    /// A PEM bundle of extra CAs to trust for the API endpoint.
    #[serde(default)]
    pub ca_cert: Option<String>,
    /// The CloudStack project (name or id) that owns every resource the CPI creates.
    #[serde(default)]
    pub project: Option<String>,
    /// Seconds to wait for one CloudStack async job before giving up.
    #[serde(default = "default_async_job_timeout")]
    pub async_job_timeout: u64,
    /// Most API calls in flight at once, across all concurrent CPI requests.
    #[serde(default = "default_max_calls_in_flight")]
    pub max_calls_in_flight: u32,
    /// Most API calls per second (CloudStack's `api.throttling.max`); unset means no limit.
    #[serde(default)]
    pub calls_per_second: Option<u32>,
    /// The hypervisors stemcells are published for; `info.stemcell_formats` follows them.
    #[serde(default = "default_hypervisors")]
    pub hypervisors: Vec<String>,
    /// Default offerings, used when a VM or disk type names none.
    #[serde(default)]
    pub default_offer: DefaultOfferConfig,
    /// Ephemeral disk size in MiB when a VM type names an offering but no `disk`.
    #[serde(default = "default_ephemeral_disk_size")]
    pub default_ephemeral_disk_size: u64,
    /// Seconds `create_vm` waits for a static IP still held by a destroyed VM to be freed.
    #[serde(default = "default_ip_release_timeout")]
    pub ip_release_timeout: u64,
    /// Whether `attach_disk` may move a host-local volume to the VM's host with `migrateVolume`.
    #[serde(default)]
    pub allow_volume_migration: bool,
    /// How stemcells become templates.
    #[serde(default)]
    pub stemcell: StemcellConfig,
    /// The periodic cleaner of orphaned ephemeral volumes.
    #[serde(default)]
    pub ephemeral_cleaner: EphemeralCleanerConfig,
}

/// `cloudstack.default_offer.*`, with the Orange Go CPI's names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultOfferConfig {
    /// Disk offering (name or id) for persistent disks whose disk type names none.
    #[serde(default)]
    pub disk: Option<String>,
    /// Disk offering for ephemeral disks whose VM type names none.
    #[serde(default)]
    pub ephemeral_disk: Option<String>,
    /// A custom-size disk offering that `resize_disk` switches a fixed-size volume to.
    #[serde(default)]
    pub custom_disk: Option<String>,
}

/// Whether stemcell images are published by URL from the WebDAV store or uploaded directly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublishMode {
    /// `registerTemplate` with a signed URL of the WebDAV store; the SSVM downloads it.
    #[default]
    Url,
    /// `getUploadParamsForTemplate` and a multipart POST to the SSVM, for clouds whose SSVM
    /// cannot reach the daemon.
    Upload,
}

/// `cloudstack.stemcell.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StemcellConfig {
    /// The OS type (description or id) given to templates.
    #[serde(default = "default_os_type")]
    pub os_type: String,
    #[serde(default = "yes")]
    pub requires_hvm: bool,
    #[serde(default)]
    pub publish_mode: PublishMode,
    /// Seconds to wait for CloudStack to report `Download Complete`.
    #[serde(default = "default_publish_timeout")]
    pub publish_timeout: u64,
    /// Zones (names or ids) to register templates in. Default: the default zone.
    #[serde(default)]
    pub zones: Vec<String>,
}

/// `cloudstack.ephemeral_cleaner.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EphemeralCleanerConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Seconds between runs.
    #[serde(default = "default_cleaner_interval")]
    pub interval: u64,
    /// Seconds an unattached ephemeral volume must have existed before it is deleted.
    #[serde(default = "default_cleaner_grace_period")]
    pub grace_period: u64,
}

impl Default for StemcellConfig {
    fn default() -> Self {
        Self {
            os_type: default_os_type(),
            requires_hvm: true,
            publish_mode: PublishMode::default(),
            publish_timeout: default_publish_timeout(),
            zones: Vec::new(),
        }
    }
}

impl Default for EphemeralCleanerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: default_cleaner_interval(),
            grace_period: default_cleaner_grace_period(),
        }
    }
}

/// `daemon.*`: the warm daemon and how the shim reaches it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// The Unix socket the shim connects to. Default: `<state_dir>/cpid.sock`.
    #[serde(default)]
    pub socket: Option<PathBuf>,
    /// An optional TCP listener on a loopback address, for the director's BPM sandbox.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// Whether the shim starts `cpid serve` itself when no daemon answers (`bosh create-env`).
    #[serde(default)]
    pub autostart: bool,
    /// Seconds without requests after which the daemon exits; 0 means never.
    #[serde(default)]
    pub idle_timeout: u64,
    /// Where the daemon keeps its state: the SQLite database, the stemcell store, the socket.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// The daemon log. Default: stderr (`<state_dir>/cpid.log` when autostarted by the shim).
    #[serde(default)]
    pub log_file: Option<PathBuf>,
    /// `sqlite:///abs/path` or `postgres://…`. Default: SQLite under `state_dir`.
    #[serde(default)]
    pub database_url: Option<SecretString>,
    /// Seconds SIGTERM waits for in-flight requests before the daemon exits anyway.
    #[serde(default = "default_shutdown_timeout")]
    pub shutdown_timeout: u64,
    /// Most CPI requests handled at once; more wait for a slot.
    #[serde(default = "default_max_concurrent_requests")]
    pub max_concurrent_requests: u32,
}

/// `registry.*`: the HTTP registry bosh-agents of old stemcells read their settings from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// Where the registry listens. Unset: no registry HTTP server.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// The URL VMs use to reach the registry, e.g. `http://10.0.0.6:25777`.
    #[serde(default)]
    pub endpoint: Option<Url>,
    /// The operator credential, which may read and write every VM's settings.
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password: Option<SecretString>,
}

/// `webdav.*`: the stemcell store CloudStack's secondary storage VM downloads from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebdavConfig {
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// The base URL the secondary storage VM uses to reach `webdav.listen`.
    #[serde(default)]
    pub public_url: Option<Url>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password: Option<SecretString>,
    /// Seconds a signed download URL handed to CloudStack stays valid.
    #[serde(default = "default_signed_url_ttl")]
    pub signed_url_ttl: u64,
    /// Seconds between runs of the template garbage collector.
    #[serde(default = "default_gc_interval")]
    pub gc_interval: u64,
    /// Seconds after which files of failed or abandoned publications are deleted.
    #[serde(default = "default_abandoned_file_ttl")]
    pub abandoned_file_ttl: u64,
}

/// `agent.*`: what every VM's agent is told.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The message bus URL, e.g. `nats://10.0.0.6:4222` or `https://mbus:…@0.0.0.0:6868`.
    #[serde(default)]
    pub mbus: Option<SecretString>,
    #[serde(default)]
    pub ntp: Vec<String>,
    #[serde(default)]
    pub blobstore: Option<BlobstoreConfig>,
}

/// `agent.blobstore`: `{provider, options}` as the agent expects it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobstoreConfig {
    pub provider: String,
    /// Provider options; they usually hold credentials, so they are redacted.
    #[serde(default)]
    pub options: Redacted<JsonObject>,
}

/// `info.*`: what `info` reports.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfoConfig {
    /// Stemcell formats to report. Default: the formats of `cloudstack.hypervisors`.
    #[serde(default)]
    pub stemcell_formats: Vec<String>,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            socket: None,
            listen: None,
            autostart: false,
            idle_timeout: 0,
            state_dir: default_state_dir(),
            log_file: None,
            database_url: None,
            shutdown_timeout: default_shutdown_timeout(),
            max_concurrent_requests: default_max_concurrent_requests(),
        }
    }
}

impl Default for WebdavConfig {
    fn default() -> Self {
        Self {
            listen: None,
            public_url: None,
            user: None,
            password: None,
            signed_url_ttl: default_signed_url_ttl(),
            gc_interval: default_gc_interval(),
            abandoned_file_ttl: default_abandoned_file_ttl(),
        }
    }
}

fn yes() -> bool {
    true
}

fn default_async_job_timeout() -> u64 {
    1800
}

fn default_max_calls_in_flight() -> u32 {
    16
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/vcap/store/cloudstack_cpi")
}

fn default_hypervisors() -> Vec<String> {
    vec!["XenServer".to_owned()]
}

fn default_ephemeral_disk_size() -> u64 {
    10 * 1024
}

fn default_ip_release_timeout() -> u64 {
    120
}

fn default_os_type() -> String {
    "Other PV (64-bit)".to_owned()
}

fn default_publish_timeout() -> u64 {
    3600
}

fn default_cleaner_interval() -> u64 {
    3600
}

fn default_cleaner_grace_period() -> u64 {
    3600
}

fn default_shutdown_timeout() -> u64 {
    60
}

fn default_max_concurrent_requests() -> u32 {
    64
}

fn default_signed_url_ttl() -> u64 {
    6 * 3600
}

fn default_gc_interval() -> u64 {
    30
}

fn default_abandoned_file_ttl() -> u64 {
    6 * 3600
}

/// The stemcell format BOSH stemcells for a hypervisor are published in, as `info` reports it.
pub fn stemcell_format_for_hypervisor(hypervisor: &str) -> Option<&'static str> {
    match hypervisor.to_ascii_lowercase().as_str() {
        "xenserver" | "xen" => Some("cloudstack-vhdx"),
        "kvm" => Some("cloudstack-qcow2"),
        "vmware" => Some("cloudstack-ova"),
        _ => None,
    }
}

/// Every configuration key, as a dotted path. The job spec, `docs/configuration.md` and the
/// config structs must agree with this list; tests check all three.
pub const KNOWN_KEYS: &[&str] = &[
    "cloudstack.endpoint",
    "cloudstack.api_key",
    "cloudstack.secret_access_key",
    "cloudstack.default_zone",
    "cloudstack.default_key_name",
    "cloudstack.expunge_vm",
    "cloudstack.skip_verify_ssl",
    "cloudstack.ca_cert",
    "cloudstack.project",
    "cloudstack.async_job_timeout",
    "cloudstack.max_calls_in_flight",
    "cloudstack.calls_per_second",
    "cloudstack.hypervisors",
    "cloudstack.default_offer.disk",
    "cloudstack.default_offer.ephemeral_disk",
    "cloudstack.default_offer.custom_disk",
    "cloudstack.default_ephemeral_disk_size",
    "cloudstack.ip_release_timeout",
    "cloudstack.allow_volume_migration",
    "cloudstack.stemcell.os_type",
    "cloudstack.stemcell.requires_hvm",
    "cloudstack.stemcell.publish_mode",
    "cloudstack.stemcell.publish_timeout",
    "cloudstack.stemcell.zones",
    "cloudstack.ephemeral_cleaner.enabled",
    "cloudstack.ephemeral_cleaner.interval",
    "cloudstack.ephemeral_cleaner.grace_period",
    "daemon.socket",
    "daemon.listen",
    "daemon.autostart",
    "daemon.idle_timeout",
    "daemon.state_dir",
    "daemon.log_file",
    "daemon.database_url",
    "daemon.shutdown_timeout",
    "daemon.max_concurrent_requests",
    "registry.listen",
    "registry.endpoint",
    "registry.user",
    "registry.password",
    "webdav.listen",
    "webdav.public_url",
    "webdav.user",
    "webdav.password",
    "webdav.signed_url_ttl",
    "webdav.gc_interval",
    "webdav.abandoned_file_ttl",
    "agent.mbus",
    "agent.ntp",
    "agent.blobstore.provider",
    "agent.blobstore.options",
    "info.stemcell_formats",
];

/// The last path segments whose values are secret: errors about them never quote the value.
const SECRET_KEYS: [&str; 6] = [
    "api_key",
    "secret_access_key",
    "password",
    "database_url",
    "mbus",
    "options",
];

impl Config {
    /// Reads and validates the file at `path`.
    ///
    /// Relative `daemon.state_dir`, `daemon.socket` and `daemon.log_file` are resolved against
    /// the file's directory. This is what lets `bosh create-env` keep the daemon's state inside
    /// its installation directory (`~/.bosh/installations/<uuid>/`), whose path is unknown when
    /// the job template is rendered. The shim resolves them the same way.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut raw: Value =
            serde_json::from_str(&text).map_err(|error| ConfigError::Json(error.to_string()))?;
        let base = std::path::absolute(path)
            .ok()
            .and_then(|absolute| absolute.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        if let Some(daemon) = raw.get_mut("daemon").and_then(Value::as_object_mut) {
            for key in ["state_dir", "socket", "log_file"] {
                if let Some(Value::String(value)) = daemon.get_mut(key)
                    && !value.is_empty()
                    && Path::new(value.as_str()).is_relative()
                {
                    *value = resolve_relative(&base, value)
                        .to_string_lossy()
                        .into_owned();
                }
            }
        }
        Config::from_value(raw)
    }

    /// Parses and validates a configuration document.
    pub fn from_json_str(text: &str) -> Result<Config, ConfigError> {
        let raw: Value =
            serde_json::from_str(text).map_err(|error| ConfigError::Json(error.to_string()))?;
        Config::from_value(raw)
    }

    /// Parses and validates a configuration that is already JSON.
    pub fn from_value(raw: Value) -> Result<Config, ConfigError> {
        let mut config: Config =
            serde_path_to_error::deserialize(&raw).map_err(describe_serde_error)?;
        config.raw = Redacted::new(raw);
        config.validate()?;
        Ok(config)
    }

    /// The configuration with a request's cpi-config properties merged over `cloudstack.*`.
    ///
    /// With `bosh update-cpi-config`, the director merges that CPI's properties into each
    /// request's `context`; like the OpenStack and AWS CPIs, we treat them as overrides of the
    /// IaaS section (`endpoint`, `api_key`, `secret_access_key`, `default_zone`, …). Unknown
    /// keys are refused, as in the file.
    pub fn with_overrides(&self, overrides: &JsonObject) -> Result<Config, ConfigError> {
        if overrides.is_empty() {
            return Ok(self.clone());
        }
        let mut raw = self.raw.expose().clone();
        let Some(cloudstack) = raw.get_mut("cloudstack").and_then(Value::as_object_mut) else {
            return Err(ConfigError::Invalid {
                key: "cloudstack".to_owned(),
                message: "must be an object".to_owned(),
            });
        };
        for (key, value) in overrides {
            cloudstack.insert(key.clone(), value.clone());
        }
        Config::from_value(raw).map_err(|error| match error {
            ConfigError::UnknownKey(key) => {
                ConfigError::UnknownKey(format!("{key} (from the request context)"))
            }
            other => other,
        })
    }

    /// The Unix socket path, resolved against `state_dir`.
    pub fn socket_path(&self) -> PathBuf {
        self.daemon
            .socket
            .clone()
            .unwrap_or_else(|| self.daemon.state_dir.join("cpid.sock"))
    }

    /// The daemon log file an autostarted daemon writes to.
    pub fn log_file_path(&self) -> PathBuf {
        self.daemon
            .log_file
            .clone()
            .unwrap_or_else(|| self.daemon.state_dir.join("cpid.log"))
    }

    /// The stemcell formats `info` reports: `info.stemcell_formats` when set, otherwise the
    /// formats of the configured hypervisors.
    pub fn stemcell_formats(&self) -> Vec<String> {
        if !self.info.stemcell_formats.is_empty() {
            return self.info.stemcell_formats.clone();
        }
        let mut formats: Vec<String> = Vec::new();
        for hypervisor in &self.cloudstack.hypervisors {
            if let Some(format) = stemcell_format_for_hypervisor(hypervisor)
                && !formats.iter().any(|known| known == format)
            {
                formats.push(format.to_owned());
            }
        }
        formats
    }

    /// The database URL, resolved to SQLite under `state_dir` when unset.
    pub fn database_url(&self) -> SecretString {
        match &self.daemon.database_url {
            Some(url) => url.clone(),
            None => SecretString::from(format!(
                "sqlite://{}",
                self.daemon.state_dir.join("cpi.sqlite3").display()
            )),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| ConfigError::Invalid {
            key: key.to_owned(),
            message: message.to_owned(),
        };
        let cloudstack = &self.cloudstack;
        if !matches!(cloudstack.endpoint.scheme(), "http" | "https") {
            return Err(invalid(
                "cloudstack.endpoint",
                "must be an http:// or https:// URL",
            ));
        }
        if cloudstack.api_key.expose_secret().trim().is_empty() {
            return Err(invalid("cloudstack.api_key", "must not be empty"));
        }
        if cloudstack
            .secret_access_key
            .expose_secret()
            .trim()
            .is_empty()
        {
            return Err(invalid("cloudstack.secret_access_key", "must not be empty"));
        }
        if cloudstack.default_zone.trim().is_empty() {
            return Err(invalid("cloudstack.default_zone", "must name a zone"));
        }
        if cloudstack.async_job_timeout == 0 {
            return Err(invalid(
                "cloudstack.async_job_timeout",
                "must be at least 1 second",
            ));
        }
        if cloudstack.max_calls_in_flight == 0 {
            return Err(invalid(
                "cloudstack.max_calls_in_flight",
                "must be at least 1",
            ));
        }
        if cloudstack.calls_per_second == Some(0) {
            return Err(invalid(
                "cloudstack.calls_per_second",
                "must be at least 1, or unset for no limit",
            ));
        }
        let daemon = &self.daemon;
        if !daemon.state_dir.is_absolute() {
            return Err(invalid("daemon.state_dir", "must be an absolute path"));
        }
        for (key, path) in [
            ("daemon.socket", &daemon.socket),
            ("daemon.log_file", &daemon.log_file),
        ] {
            if path.as_ref().is_some_and(|path| !path.is_absolute()) {
                return Err(invalid(key, "must be an absolute path"));
            }
        }
        // Unix socket paths are limited to 107 bytes by the kernel (sun_path).
        if self.socket_path().as_os_str().len() > 107 {
            return Err(invalid(
                "daemon.socket",
                "is longer than the 107 bytes a Unix socket path may have",
            ));
        }
        if let Some(listen) = daemon.listen
            && !listen.ip().is_loopback()
        {
            return Err(invalid(
                "daemon.listen",
                "must be a loopback address (127.0.0.1 or [::1]): the CPI API has no authentication beyond the peer being local",
            ));
        }
        if let Some(url) = &daemon.database_url {
            let url = url.expose_secret();
            if let Some(path) = url.strip_prefix("sqlite://") {
                if !path.starts_with('/') {
                    return Err(invalid(
                        "daemon.database_url",
                        "a sqlite URL must be sqlite:///absolute/path",
                    ));
                }
            } else if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(invalid(
                    "daemon.database_url",
                    "must start with sqlite:// or postgres://",
                ));
            }
        }
        let registry = &self.registry;
        if registry.user.is_some() != registry.password.is_some() {
            return Err(invalid(
                "registry.user",
                "registry.user and registry.password must be set together",
            ));
        }
        if registry.listen.is_some() && registry.endpoint.is_none() {
            return Err(invalid(
                "registry.endpoint",
                "must be set when registry.listen is: it is the URL VMs use to reach the registry",
            ));
        }
        if registry.listen.is_some() && registry.user.is_none() {
            return Err(invalid(
                "registry.user",
                "must be set when registry.listen is: the operator credential",
            ));
        }
        let webdav = &self.webdav;
        if webdav.user.is_some() != webdav.password.is_some() {
            return Err(invalid(
                "webdav.user",
                "webdav.user and webdav.password must be set together",
            ));
        }
        if webdav.listen.is_some() && webdav.public_url.is_none() {
            return Err(invalid(
                "webdav.public_url",
                "must be set when webdav.listen is: it is the URL CloudStack downloads stemcells from",
            ));
        }
        if let Some(unknown) = cloudstack
            .hypervisors
            .iter()
            .find(|hypervisor| stemcell_format_for_hypervisor(hypervisor).is_none())
        {
            return Err(ConfigError::Invalid {
                key: "cloudstack.hypervisors".to_owned(),
                message: format!(
                    "unknown hypervisor '{unknown}': expected XenServer, KVM or VMware"
                ),
            });
        }
        if self.stemcell_formats().is_empty() {
            return Err(invalid(
                "cloudstack.hypervisors",
                "must name at least one hypervisor",
            ));
        }
        for (key, value) in [
            (
                "cloudstack.stemcell.publish_timeout",
                cloudstack.stemcell.publish_timeout,
            ),
            (
                "cloudstack.ephemeral_cleaner.interval",
                cloudstack.ephemeral_cleaner.interval,
            ),
            ("webdav.signed_url_ttl", webdav.signed_url_ttl),
            ("webdav.gc_interval", webdav.gc_interval),
            (
                "daemon.max_concurrent_requests",
                u64::from(daemon.max_concurrent_requests),
            ),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }

        Ok(())
    }
}

/// `base` joined with `relative`, with `.` and `..` removed lexically (the directories need not
/// exist yet), so that the 107-byte socket limit is judged on the short path.
pub fn resolve_relative(base: &Path, relative: &str) -> PathBuf {
    let mut resolved = PathBuf::new();
    for component in base.join(relative).components() {
        match component {
            std::path::Component::ParentDir => {
                resolved.pop();
            }
            std::path::Component::CurDir => {}
            other => resolved.push(other),
        }
    }
    resolved
}

fn describe_serde_error(error: serde_path_to_error::Error<serde_json::Error>) -> ConfigError {
    let path = error.path().to_string();
    let inner = error.into_inner().to_string();
    // serde reports unknown keys as "unknown field `x`, expected one of …".
    if let Some(rest) = inner.strip_prefix("unknown field `")
        && let Some((field, _)) = rest.split_once('`')
    {
        let key = if path == "." || path.is_empty() {
            field.to_owned()
        } else if path.ends_with(field) {
            path
        } else {
            format!("{path}.{field}")
        };
        return ConfigError::UnknownKey(key);
    }
    let last = path.rsplit('.').next().unwrap_or_default();
    let message = if SECRET_KEYS.contains(&last) {
        "has the wrong type or format (the value is not shown because it is secret)".to_owned()
    } else {
        // serde_json appends " at line L column C"; the key already says where.
        inner.split(" at line ").next().unwrap_or(&inner).to_owned()
    };
    if path == "." || path.is_empty() {
        ConfigError::Invalid {
            key: "(top level)".to_owned(),
            message,
        }
    } else {
        ConfigError::Invalid { key: path, message }
    }
}

#[cfg(test)]
mod tests;
