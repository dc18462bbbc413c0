//! The `cloud_properties` of a VM type (merged by the director with its AZ's and VM extensions'),
//! parsed once into a closed struct.
//!
//! Parsing is by hand rather than through serde so that every message names the key at fault
//! and lists every unknown key at once: a misspelt property must fail the deploy, not silently
//! fall back to a default.

use cpi_protocol::JsonObject;
use serde_json::Value;

use crate::ActionError;

/// The affinity group type used when the VM type names none.
pub(crate) const DEFAULT_AFFINITY_TYPE: &str = "host anti-affinity";

/// Every key a VM type may carry, with the Orange CPIs' names so existing manifests keep working.
pub(crate) const KNOWN_KEYS: &[&str] = &[
    "compute_offering",
    "cpu",
    "ram",
    "cpu_speed",
    "root_disk_size",
    "ephemeral_disk_offering",
    "disk",
    "affinity_group",
    "affinity_group_type",
    "security_groups",
    "key_name",
    "zone",
];

/// A parsed VM type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct VmCloudProperties {
    /// Service offering, by name or id.
    pub compute_offering: String,
    /// Custom CPU count, memory (MiB) and speed (MHz) for customized offerings.
    pub cpu: Option<u64>,
    pub ram: Option<u64>,
    pub cpu_speed: Option<u64>,
    /// Root volume size in MiB.
    pub root_disk_size: Option<u64>,
    /// Ephemeral volume offering (name or id) and size (MiB).
    pub ephemeral_disk_offering: Option<String>,
    pub disk: Option<u64>,
    /// Affinity group name and the type it is created with when missing.
    pub affinity_group: Option<String>,
    pub affinity_group_type: Option<String>,
    /// Security group names.
    pub security_groups: Vec<String>,
    /// SSH key pair name.
    pub key_name: Option<String>,
    /// Zone (name or id).
    pub zone: Option<String>,
}

impl VmCloudProperties {
    /// Parses and checks a VM type's properties.
    pub(crate) fn parse(raw: &JsonObject) -> Result<Self, ActionError> {
        let unknown: Vec<&str> = raw
            .keys()
            .map(String::as_str)
            .filter(|key| !KNOWN_KEYS.contains(key))
            .collect();
        if !unknown.is_empty() {
            return Err(ActionError::CloudProperties(format!(
                "unknown VM type key(s) {}; known keys are {}",
                quoted(&unknown),
                KNOWN_KEYS.join(", ")
            )));
        }
        let properties = Self {
            compute_offering: string(raw, "compute_offering")?.ok_or_else(|| {
                ActionError::CloudProperties(
                    "the VM type needs 'compute_offering' (a service offering name or id)"
                        .to_owned(),
                )
            })?,
            cpu: positive(raw, "cpu")?,
            ram: positive(raw, "ram")?,
            cpu_speed: positive(raw, "cpu_speed")?,
            root_disk_size: positive(raw, "root_disk_size")?,
            ephemeral_disk_offering: string(raw, "ephemeral_disk_offering")?,
            disk: positive(raw, "disk")?,
            affinity_group: string(raw, "affinity_group")?,
            affinity_group_type: string(raw, "affinity_group_type")?,
            security_groups: string_list(raw, "security_groups")?,
            key_name: string(raw, "key_name")?,
            zone: string(raw, "zone")?,
        };
        if properties.cpu.is_some() != properties.ram.is_some() {
            return Err(ActionError::CloudProperties(
                "'cpu' and 'ram' go together: a customized offering needs both".to_owned(),
            ));
        }
        if properties.cpu_speed.is_some() && properties.cpu.is_none() {
            return Err(ActionError::CloudProperties(
                "'cpu_speed' is only valid with 'cpu' and 'ram' (a customized offering)".to_owned(),
            ));
        }
        if properties.affinity_group_type.is_some() && properties.affinity_group.is_none() {
            return Err(ActionError::CloudProperties(
                "'affinity_group_type' needs 'affinity_group'".to_owned(),
            ));
        }
        Ok(properties)
    }

    /// The affinity group type to create a missing group with.
    pub(crate) fn affinity_type(&self) -> &str {
        self.affinity_group_type
            .as_deref()
            .unwrap_or(DEFAULT_AFFINITY_TYPE)
    }
}

/// Rounds MiB up to whole GiB, CloudStack's unit for volume sizes.
pub(crate) fn mib_to_gib(mib: u64) -> u64 {
    mib.div_ceil(1024)
}

fn quoted(keys: &[&str]) -> String {
    keys.iter()
        .map(|key| format!("'{key}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn type_error(key: &str, expected: &str, value: &Value) -> ActionError {
    ActionError::CloudProperties(format!(
        "'{key}' must be {expected}, got {}",
        describe(value)
    ))
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// A non-empty string; `null` counts as absent.
fn string(raw: &JsonObject, key: &str) -> Result<Option<String>, ActionError> {
    match raw.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(Some(text.clone())),
        Some(other) => Err(type_error(key, "a non-empty string", other)),
    }
}

/// A positive integer; `null` counts as absent.
fn positive(raw: &JsonObject, key: &str) -> Result<Option<u64>, ActionError> {
    match raw.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_u64() {
            Some(number) if number > 0 => Ok(Some(number)),
            _ => Err(type_error(key, "a positive integer", value)),
        },
    }
}

fn string_list(raw: &JsonObject, key: &str) -> Result<Vec<String>, ActionError> {
    match raw.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) if !text.trim().is_empty() => Ok(text.clone()),
                other => Err(type_error(key, "a list of non-empty strings", other)),
            })
            .collect(),
        Some(other) => Err(type_error(key, "a list of strings", other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<VmCloudProperties, ActionError> {
        VmCloudProperties::parse(value.as_object().unwrap())
    }

    #[test]
    fn parses_every_key() {
        let parsed = parse(json!({
            "compute_offering": "custom", "cpu": 2, "ram": 4096, "cpu_speed": 2000,
            "root_disk_size": 20480, "ephemeral_disk_offering": "custom", "disk": 10240,
            "affinity_group": "web", "security_groups": ["default"], "key_name": "bosh",
            "zone": "zone1"
        }))
        .unwrap();
        assert_eq!(parsed.cpu, Some(2));
        assert_eq!(parsed.affinity_type(), DEFAULT_AFFINITY_TYPE);
        assert_eq!(parsed.security_groups, vec!["default".to_owned()]);
    }

    #[test]
    fn unknown_keys_are_all_named() {
        let error = parse(json!({"compute_offering": "small", "instance_type": "m1", "flavor": 1}))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("'instance_type'") && error.contains("'flavor'"),
            "{error}"
        );
    }

    #[test]
    fn wrong_types_name_the_key() {
        let error = parse(json!({"compute_offering": "small", "disk": "10G"}))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("'disk'") && error.contains("\"10G\""),
            "{error}"
        );
        let error = parse(json!({"compute_offering": 3}))
            .unwrap_err()
            .to_string();
        assert!(error.contains("'compute_offering'"), "{error}");
        let error = parse(json!({"compute_offering": "c", "cpu": -1}))
            .unwrap_err()
            .to_string();
        assert!(error.contains("'cpu'"), "{error}");
    }

    #[test]
    fn inconsistent_combinations_are_refused() {
        assert!(parse(json!({})).is_err());
        assert!(parse(json!({"compute_offering": "c", "cpu": 2})).is_err());
        assert!(parse(json!({"compute_offering": "c", "affinity_group_type": "x"})).is_err());
    }

    #[test]
    fn sizes_round_up_to_gib() {
        assert_eq!(mib_to_gib(1), 1);
        assert_eq!(mib_to_gib(1024), 1);
        assert_eq!(mib_to_gib(1025), 2);
    }
}
