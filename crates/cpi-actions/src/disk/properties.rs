//! The disk type's `cloud_properties`, parsed once and strictly.

use cpi_protocol::JsonObject;
use serde_json::Value;

use crate::ActionError;

/// The keys a disk type may carry.
const KNOWN: &[&str] = &["disk_offering"];

/// What a disk type may say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DiskProperties {
    /// A disk offering name or id; the configured default when absent.
    pub disk_offering: Option<String>,
}

impl DiskProperties {
    /// Parses a disk type, refusing unknown keys (naming them all) and values of the wrong type.
    pub fn parse(cloud_properties: &JsonObject) -> Result<Self, ActionError> {
        let unknown: Vec<&str> = cloud_properties
            .keys()
            .map(String::as_str)
            .filter(|key| !KNOWN.contains(key))
            .collect();
        if !unknown.is_empty() {
            return Err(ActionError::CloudProperties(format!(
                "unknown disk type key(s) {}; the known keys are {}",
                unknown.join(", "),
                KNOWN.join(", ")
            )));
        }
        let disk_offering = match cloud_properties.get("disk_offering") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) if !name.trim().is_empty() => Some(name.trim().to_owned()),
            Some(other) => {
                return Err(ActionError::CloudProperties(format!(
                    "disk_offering must be a non-empty string (an offering name or id), got {other}"
                )));
            }
        };
        Ok(Self { disk_offering })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<DiskProperties, ActionError> {
        DiskProperties::parse(value.as_object().unwrap())
    }

    #[test]
    fn accepts_an_offering_or_nothing() {
        assert_eq!(parse(json!({})).unwrap().disk_offering, None);
        assert_eq!(
            parse(json!({"disk_offering": "custom"}))
                .unwrap()
                .disk_offering
                .as_deref(),
            Some("custom")
        );
    }

    #[test]
    fn refuses_unknown_keys_and_wrong_types() {
        let message = parse(json!({"size": 3, "type": "gp2"}))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("size") && message.contains("type"),
            "{message}"
        );
        let message = parse(json!({"disk_offering": 5})).unwrap_err().to_string();
        assert!(message.contains("disk_offering"), "{message}");
    }
}
