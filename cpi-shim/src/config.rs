//! The few config keys the shim needs, read from the same JSON file as the daemon.
//!
//! The daemon owns full validation of the config (`cpid check`); the shim reads only the
//! `daemon.*` keys that tell it where the daemon is and whether to start it.

use std::ffi::OsString;
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use crate::json::{self, Json};

/// Config files are small; anything bigger is a mistake and is refused before parsing.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Where the daemon keeps its socket, lock and log file when `daemon.state_dir` is not set.
/// Keep in step with the default of `daemon.state_dir` in the `cpi-config` crate.
pub const DEFAULT_STATE_DIR: &str = "/var/vcap/store/cloudstack_cpi";

/// How the shim reaches the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix socket {}", path.display()),
            Endpoint::Tcp(address) => write!(f, "tcp address {address}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimConfig {
    pub config_path: PathBuf,
    pub endpoint: Endpoint,
    pub autostart: bool,
    pub state_dir: PathBuf,
    pub log_file: PathBuf,
}

impl ShimConfig {
    /// The lock file that serialises daemon autostart between concurrent shims.
    pub fn lock_file(&self) -> PathBuf {
        self.state_dir.join("cpid.lock")
    }
}

/// Picks the config path as `bin/cpi` wrappers of other CPIs do: argv, then the environment, then
/// the job directory of the installation (`BOSH_JOBS_DIR` is set by bosh-cli, absent on a director).
pub fn config_path(
    first_argument: Option<OsString>,
    cpi_config: Option<OsString>,
    bosh_jobs_dir: Option<OsString>,
) -> PathBuf {
    if let Some(path) = first_argument.filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    if let Some(path) = cpi_config.filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let jobs_dir = bosh_jobs_dir
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| OsString::from("/var/vcap/jobs"));
    PathBuf::from(jobs_dir).join("cloudstack_cpi/config/cpi.json")
}

/// Reads and interprets the `daemon` section of the config file at `path`.
pub fn load(path: &Path) -> Result<ShimConfig, String> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|e| format!("cannot open CPI config {}: {e}", path.display()))?;
    let mut text = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| format!("cannot read CPI config {}: {e}", path.display()))?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(format!(
            "CPI config {} is larger than the {MAX_CONFIG_BYTES}-byte limit",
            path.display()
        ));
    }
    from_json(path, &text)
}

/// Interprets the config document; split from `load` so it can be tested without files.
pub fn from_json(path: &Path, text: &[u8]) -> Result<ShimConfig, String> {
    let document = json::parse(text)
        .map_err(|e| format!("CPI config {} is not valid JSON: {e}", path.display()))?;
    if !matches!(document, Json::Object(_)) {
        return Err(format!(
            "CPI config {} must be a JSON object, got {}",
            path.display(),
            document.type_name()
        ));
    }
    let daemon = match document.get("daemon") {
        None | Some(Json::Null) => Json::Object(Vec::new()),
        Some(value @ Json::Object(_)) => value.clone(),
        Some(other) => {
            return Err(format!(
                "CPI config key 'daemon' must be an object, got {}",
                other.type_name()
            ));
        }
    };
    // Relative paths are resolved against the config file's directory, as the daemon does, so
    // that `bosh create-env` can keep state inside its installation directory.
    let base = std::path::absolute(path)
        .ok()
        .and_then(|absolute| absolute.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let resolve = |value: String| resolve_relative(&base, &value);
    let state_dir =
        resolve(optional_string(&daemon, "state_dir")?.unwrap_or_else(|| DEFAULT_STATE_DIR.into()));
    let log_file = optional_string(&daemon, "log_file")?
        .map(resolve)
        .unwrap_or_else(|| state_dir.join("cpid.log"));
    let autostart = match daemon.get("autostart") {
        None | Some(Json::Null) => false,
        Some(Json::Bool(value)) => *value,
        Some(other) => {
            return Err(format!(
                "CPI config key 'daemon.autostart' must be a boolean, got {}",
                other.type_name()
            ));
        }
    };
    // The BPM sandbox on a director only shares the network, so when a TCP listener is
    // configured it is the link that is known to work; the Unix socket is the default otherwise.
    let endpoint = match optional_string(&daemon, "listen")? {
        Some(listen) => Endpoint::Tcp(loopback_address(&listen)?),
        None => Endpoint::Unix(
            optional_string(&daemon, "socket")?
                .map(resolve)
                .unwrap_or_else(|| state_dir.join("cpid.sock")),
        ),
    };
    Ok(ShimConfig {
        config_path: path.to_path_buf(),
        endpoint,
        autostart,
        state_dir,
        log_file,
    })
}

/// `base` joined with `value` (unless it is absolute), with `.` and `..` removed lexically.
fn resolve_relative(base: &Path, value: &str) -> PathBuf {
    let mut resolved = PathBuf::new();
    for component in base.join(value).components() {
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

fn optional_string(daemon: &Json, key: &str) -> Result<Option<String>, String> {
    match daemon.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(value)) if value.is_empty() => Err(format!(
            "CPI config key 'daemon.{key}' must not be an empty string"
        )),
        Some(Json::String(value)) => Ok(Some(value.clone())),
        Some(other) => Err(format!(
            "CPI config key 'daemon.{key}' must be a string, got {}",
            other.type_name()
        )),
    }
}

fn loopback_address(listen: &str) -> Result<SocketAddr, String> {
    let mut addresses = listen
        .to_socket_addrs()
        .map_err(|e| format!("CPI config key 'daemon.listen' ({listen}) is not host:port: {e}"))?;
    match addresses.find(|a| a.ip().is_loopback()) {
        Some(address) => Ok(address),
        None => Err(format!(
            "CPI config key 'daemon.listen' ({listen}) must be a loopback address"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ShimConfig, String> {
        from_json(Path::new("/etc/cpi.json"), text.as_bytes())
    }

    #[test]
    fn config_path_prefers_argv_then_environment_then_jobs_dir() {
        let os = |s: &str| Some(OsString::from(s));
        assert_eq!(
            config_path(os("/a.json"), os("/b.json"), os("/jobs")),
            PathBuf::from("/a.json")
        );
        assert_eq!(
            config_path(None, os("/b.json"), os("/jobs")),
            PathBuf::from("/b.json")
        );
        assert_eq!(
            config_path(None, None, os("/jobs")),
            PathBuf::from("/jobs/cloudstack_cpi/config/cpi.json")
        );
        assert_eq!(
            config_path(os(""), os(""), os("")),
            PathBuf::from("/var/vcap/jobs/cloudstack_cpi/config/cpi.json")
        );
    }

    #[test]
    fn relative_paths_resolve_against_the_config_directory() {
        let config = from_json(
            Path::new("/inst/jobs/cloudstack_cpi/config/cpi.json"),
            br#"{"daemon": {"state_dir": "../../../cloudstack_cpi", "socket": "./x.sock"}}"#,
        )
        .unwrap();
        assert_eq!(config.state_dir, PathBuf::from("/inst/cloudstack_cpi"));
        assert_eq!(
            config.endpoint,
            Endpoint::Unix(PathBuf::from("/inst/jobs/cloudstack_cpi/config/x.sock"))
        );
        assert_eq!(
            config.log_file,
            PathBuf::from("/inst/cloudstack_cpi/cpid.log")
        );
    }

    #[test]
    fn defaults_derive_from_state_dir() {
        let config =
            parse(r#"{"cloudstack": {"api_key": "x"}, "daemon": {"state_dir": "/s"}}"#).unwrap();
        assert_eq!(config.endpoint, Endpoint::Unix("/s/cpid.sock".into()));
        assert_eq!(config.log_file, PathBuf::from("/s/cpid.log"));
        assert_eq!(config.lock_file(), PathBuf::from("/s/cpid.lock"));
        assert!(!config.autostart);
        let empty = parse("{}").unwrap();
        assert_eq!(empty.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
    }

    #[test]
    fn explicit_keys_win() {
        let config = parse(
            r#"{"daemon": {"socket": "/run/x.sock", "log_file": "/log/x", "autostart": true}}"#,
        )
        .unwrap();
        assert_eq!(config.endpoint, Endpoint::Unix("/run/x.sock".into()));
        assert_eq!(config.log_file, PathBuf::from("/log/x"));
        assert!(config.autostart);
    }

    #[test]
    fn listen_selects_tcp_and_must_be_loopback() {
        let config = parse(r#"{"daemon": {"listen": "127.0.0.1:25555"}}"#).unwrap();
        assert_eq!(
            config.endpoint,
            Endpoint::Tcp("127.0.0.1:25555".parse().unwrap())
        );
        let error = parse(r#"{"daemon": {"listen": "10.0.0.1:25555"}}"#).unwrap_err();
        assert!(error.contains("must be a loopback address"), "{error}");
        let error = parse(r#"{"daemon": {"listen": "nonsense"}}"#).unwrap_err();
        assert!(error.contains("is not host:port"), "{error}");
    }

    #[test]
    fn wrong_types_name_the_key() {
        let error = parse(r#"{"daemon": {"autostart": "yes"}}"#).unwrap_err();
        assert_eq!(
            error,
            "CPI config key 'daemon.autostart' must be a boolean, got a string"
        );
        let error = parse(r#"{"daemon": {"socket": 5}}"#).unwrap_err();
        assert_eq!(
            error,
            "CPI config key 'daemon.socket' must be a string, got a number"
        );
        let error = parse(r#"{"daemon": []}"#).unwrap_err();
        assert!(error.contains("'daemon' must be an object"), "{error}");
        let error = parse("[]").unwrap_err();
        assert!(error.contains("must be a JSON object"), "{error}");
        let error = parse("{").unwrap_err();
        assert!(error.contains("/etc/cpi.json is not valid JSON"), "{error}");
    }

    #[test]
    fn missing_file_names_the_path() {
        let error = load(Path::new("/nonexistent/cpi.json")).unwrap_err();
        assert!(error.contains("/nonexistent/cpi.json"), "{error}");
    }
}
