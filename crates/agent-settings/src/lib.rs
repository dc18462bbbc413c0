//! Builds what a VM is told at boot: the full bosh-agent settings and the CloudStack user
//! data that carries them.
//!
//! The settings follow `bosh-agent`'s `settings.Settings`: `agent_id`, `blobstore`, `disks`
//! (`system`, `ephemeral`, `persistent`), `env` (copied verbatim from `create_vm`),
//! `networks` (the director's objects kept verbatim plus `mac`, `alias`, `use_dhcp`,
//! `default`, `dns`), `ntp`, `mbus` and `vm.name`.
//!
//! The user data is the same settings document plus the keys older CloudStack stemcells read
//! (`server.name`, `registry.endpoint` with the VM's own credential, `dns.nameserver`), so
//! agents of both generations boot. CloudStack carries it base64-encoded (standard alphabet).
//!
//! Invariants:
//! - This crate does no I/O; it only turns typed inputs into JSON documents.
//! - NIC 0 (`eth0`) always uses DHCP: the CloudStack stemcell's agent runs DHCP on `eth0` to
//!   find the virtual router that serves metadata.
//! - Director-supplied network fields and `env` are never dropped or rewritten.
//! - Values holding secrets (the agent config with mbus/blobstore passwords, user data with the
//!   VM's registry password) never print them through `Debug`.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cpi_protocol::{AgentId, ApiVersion, Env, JsonObject, NetworkKind, Networks};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

/// Errors in the inputs of the builders.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    /// A NIC names a network that is not in `networks`.
    #[error("NIC {index} refers to unknown network '{network}'")]
    UnknownNicNetwork { index: usize, network: String },
    /// A network other than vip has no NIC, or more than one.
    #[error("network '{network}' must have exactly one NIC, found {count}")]
    NicCount { network: String, count: usize },
    /// A vip network was given a NIC; vip addresses are NAT, not interfaces.
    #[error("vip network '{network}' cannot have a NIC")]
    VipNic { network: String },
    /// The configured registry endpoint is not a usable URL.
    #[error("invalid registry endpoint '{endpoint}': {reason}")]
    RegistryEndpoint { endpoint: String, reason: String },
    /// The settings document is not a JSON object.
    #[error("agent settings must be a JSON object")]
    SettingsNotObject,
    /// `disks` or `disks.persistent` in stored settings is not an object.
    #[error("agent settings field 'disks.persistent' must be an object")]
    DisksNotObject,
}

/// The `mbus`, `ntp` and `blobstore` values from the CPI configuration's `agent` section.
#[derive(Clone)]
pub struct AgentConfig {
    /// The message bus URL, e.g. `nats://user:password@10.0.0.6:4222`.
    pub mbus: SecretString,
    pub ntp: Vec<String>,
    /// `{"provider": …, "options": {…}}`; options usually hold a password.
    pub blobstore: JsonObject,
}

impl fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentConfig")
            .field("mbus", &"[REDACTED]")
            .field("ntp", &self.ntp)
            .field(
                "blobstore.provider",
                &self.blobstore.get("provider").and_then(Value::as_str),
            )
            .finish_non_exhaustive()
    }
}

/// One NIC of the VM, in NIC order (index 0 becomes `eth0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    /// Name of the BOSH network on this NIC.
    pub network: String,
    /// The MAC CloudStack assigned, when known. The agent matches interfaces by MAC.
    pub mac: Option<String>,
}

/// Device paths of the VM's disks.
#[derive(Debug, Clone, PartialEq)]
pub struct Disks {
    pub system: String,
    /// `None` when the VM has no ephemeral disk (`null` in the settings).
    pub ephemeral: Option<String>,
    /// Disk cid to hint (a path string or an object with `path`, `volume_id`, …).
    pub persistent: JsonObject,
}

impl Default for Disks {
    /// The XenServer layout used by the CloudStack stemcell.
    fn default() -> Self {
        Disks {
            system: "/dev/xvda".to_string(),
            ephemeral: Some("/dev/xvdb".to_string()),
            persistent: JsonObject::new(),
        }
    }
}

/// Everything the settings are built from.
#[derive(Debug, Clone)]
pub struct SettingsInput<'a> {
    pub agent_id: &'a AgentId,
    /// The VM's name (`vm.name`), usually its cid.
    pub vm_name: &'a str,
    pub networks: &'a Networks,
    /// The NICs in order. Every non-vip network has exactly one.
    pub nics: &'a [Nic],
    pub disks: &'a Disks,
    pub env: &'a Env,
    pub agent: &'a AgentConfig,
}

/// Builds the full agent settings document.
pub fn build_settings(input: &SettingsInput<'_>) -> Result<Value, SettingsError> {
    let networks = build_networks(input.networks, input.nics)?;
    let mut settings = JsonObject::new();
    settings.insert("agent_id".into(), json!(input.agent_id.as_str()));
    settings.insert(
        "blobstore".into(),
        Value::Object(input.agent.blobstore.clone()),
    );
    settings.insert(
        "disks".into(),
        json!({
            "system": input.disks.system,
            "ephemeral": input.disks.ephemeral,
            "persistent": input.disks.persistent,
        }),
    );
    settings.insert("env".into(), Value::Object(input.env.clone()));
    settings.insert("networks".into(), networks);
    settings.insert("ntp".into(), json!(input.agent.ntp));
    settings.insert("mbus".into(), json!(input.agent.mbus.expose_secret()));
    settings.insert("vm".into(), json!({ "name": input.vm_name }));
    Ok(Value::Object(settings))
}

/// The `networks` of the settings: each director object verbatim, plus the fields the agent
/// needs to configure interfaces.
fn build_networks(networks: &Networks, nics: &[Nic]) -> Result<Value, SettingsError> {
    for (index, nic) in nics.iter().enumerate() {
        match networks.get(&nic.network) {
            None => {
                return Err(SettingsError::UnknownNicNetwork {
                    index,
                    network: nic.network.clone(),
                });
            }
            Some(network) if network.kind() == NetworkKind::Vip => {
                return Err(SettingsError::VipNic {
                    network: nic.network.clone(),
                });
            }
            Some(_) => {}
        }
    }
    // Without any `default` list, the agent would configure neither DNS nor a default
    // gateway; give both to eth0, the interface that reaches the virtual router.
    let any_default = networks.iter().any(|(_, network)| {
        network
            .as_object()
            .get("default")
            .is_some_and(Value::is_array)
    });
    let mut result = JsonObject::new();
    for (name, network) in networks.iter() {
        let mut object = network.as_object().clone();
        if network.kind() != NetworkKind::Vip {
            let positions: Vec<usize> = nics
                .iter()
                .enumerate()
                .filter(|(_, nic)| nic.network == name)
                .map(|(index, _)| index)
                .collect();
            let [index] = positions[..] else {
                return Err(SettingsError::NicCount {
                    network: name.to_string(),
                    count: positions.len(),
                });
            };
            if let Some(mac) = nics.get(index).and_then(|nic| nic.mac.as_ref()) {
                object.insert("mac".into(), json!(mac));
            }
            object.insert("alias".into(), json!(format!("eth{index}")));
            let use_dhcp = index == 0 || network.kind() == NetworkKind::Dynamic;
            object.insert("use_dhcp".into(), json!(use_dhcp));
            if !object.get("default").is_some_and(Value::is_array) {
                let default = if index == 0 && !any_default {
                    json!(["dns", "gateway"])
                } else {
                    json!([])
                };
                object.insert("default".into(), default);
            }
            if !object.get("dns").is_some_and(Value::is_array) {
                object.insert("dns".into(), json!([]));
            }
        }
        result.insert(name.to_string(), Value::Object(object));
    }
    Ok(Value::Object(result))
}

/// The DNS servers for `dns.nameserver` in user data: those of the network that provides
/// DNS (its `default` contains `dns`), else of the first network that lists any.
pub fn nameservers(networks: &Networks) -> Vec<String> {
    networks
        .iter()
        .find(|(_, network)| network.defaults().iter().any(|d| d == "dns"))
        .or_else(|| {
            networks
                .iter()
                .find(|(_, network)| !network.dns().is_empty())
        })
        .map(|(_, network)| network.dns())
        .unwrap_or_default()
}

/// The user data for one VM. Contains the VM's registry password, so `Debug` shows only its
/// size.
#[derive(Clone, PartialEq)]
pub struct UserData {
    document: Value,
    encoded: String,
}

impl UserData {
    /// The JSON document.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// The document serialised and base64-encoded (standard alphabet), as `deployVirtualMachine`
    /// expects.
    pub fn base64(&self) -> &str {
        &self.encoded
    }

    /// Size of the encoded form in bytes, to check against CloudStack's user-data limit.
    pub fn encoded_len(&self) -> usize {
        self.encoded.len()
    }
}

impl fmt::Debug for UserData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserData")
            .field("encoded_len", &self.encoded.len())
            .finish_non_exhaustive()
    }
}

/// Where and as whom the VM reaches the registry.
#[derive(Debug, Clone)]
pub struct RegistryAccess<'a> {
    /// The configured registry endpoint, e.g. `http://10.0.0.6:25777` (a missing scheme means
    /// `http://`).
    pub endpoint: &'a str,
    /// The VM's registry username (its cid) and password.
    pub username: &'a str,
    pub password: &'a SecretString,
}

/// Builds the user data: the full `settings`, plus `server.name` (the registry key),
/// `registry.endpoint` with the VM's own credential in its userinfo, and `dns.nameserver`.
pub fn build_user_data(
    settings: &Value,
    server_name: &str,
    registry: &RegistryAccess<'_>,
    nameservers: &[String],
) -> Result<UserData, SettingsError> {
    let Value::Object(settings) = settings else {
        return Err(SettingsError::SettingsNotObject);
    };
    let endpoint = registry_endpoint(registry)?;
    let mut document = settings.clone();
    document.insert("server".into(), json!({ "name": server_name }));
    document.insert("registry".into(), json!({ "endpoint": endpoint }));
    document.insert("dns".into(), json!({ "nameserver": nameservers }));
    let document = Value::Object(document);
    let encoded = STANDARD.encode(document.to_string());
    Ok(UserData { document, encoded })
}

/// `http://<user>:<password>@host:port`, userinfo percent-encoded.
fn registry_endpoint(registry: &RegistryAccess<'_>) -> Result<String, SettingsError> {
    let invalid = |reason: &str| SettingsError::RegistryEndpoint {
        endpoint: registry.endpoint.to_string(),
        reason: reason.to_string(),
    };
    let with_scheme = if registry.endpoint.contains("://") {
        registry.endpoint.to_string()
    } else {
        format!("http://{}", registry.endpoint)
    };
    let mut url = url::Url::parse(&with_scheme).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid("expected http://host:port"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or fragment"));
    }
    // `set_username`/`set_password` percent-encode the userinfo characters that need it.
    url.set_username(registry.username)
        .map_err(|()| invalid("cannot carry a username"))?;
    url.set_password(Some(registry.password.expose_secret()))
        .map_err(|()| invalid("cannot carry a password"))?;
    let text = url.to_string();
    // The agent appends `/instances/…`; a bare trailing slash would double it.
    Ok(match text.strip_suffix('/') {
        Some(trimmed) if url.path() == "/" => trimmed.to_string(),
        _ => text,
    })
}

/// Whether the registry must serve this VM's settings: unless both the CPI request and the
/// stemcell speak API version 2 or later (then the agent reads the full settings from user
/// data). The settings are recorded in the database either way.
pub fn uses_registry(request_api_version: ApiVersion, stemcell_api_version: Option<u32>) -> bool {
    !(request_api_version.is_v2_or_later() && stemcell_api_version.is_some_and(|v| v >= 2))
}

/// Adds or replaces a persistent disk in a settings document (for `attach_disk`).
pub fn add_persistent_disk(
    mut settings: Value,
    disk_cid: &str,
    hint: Value,
) -> Result<Value, SettingsError> {
    persistent_map(&mut settings)?.insert(disk_cid.to_string(), hint);
    Ok(settings)
}

/// Removes a persistent disk from a settings document (for `detach_disk`); removing an absent
/// disk is not an error.
pub fn remove_persistent_disk(mut settings: Value, disk_cid: &str) -> Result<Value, SettingsError> {
    persistent_map(&mut settings)?.remove(disk_cid);
    Ok(settings)
}

fn persistent_map(settings: &mut Value) -> Result<&mut JsonObject, SettingsError> {
    let Value::Object(root) = settings else {
        return Err(SettingsError::SettingsNotObject);
    };
    let disks = root
        .entry("disks")
        .or_insert_with(|| Value::Object(JsonObject::new()));
    let Value::Object(disks) = disks else {
        return Err(SettingsError::DisksNotObject);
    };
    let persistent = disks
        .entry("persistent")
        .or_insert_with(|| Value::Object(JsonObject::new()));
    // The agent treats a null map as empty; anything else would be silently lost, so refuse.
    if persistent.is_null() {
        *persistent = Value::Object(JsonObject::new());
    }
    match persistent {
        Value::Object(map) => Ok(map),
        _ => Err(SettingsError::DisksNotObject),
    }
}
