//! Setting tags on CloudStack resources so that changed keys are replaced.
//!
//! CloudStack refuses a second tag with the same key on a resource, so a changed value means
//! deleting the old tag first. Unchanged keys are left alone to save API calls.

use std::collections::BTreeMap;

use cloudstack::CloudStackClient;
use cloudstack::commands::{CreateTags, DeleteTags, ListTags};
use cpi_protocol::JsonObject;
use serde_json::Value;

use crate::ActionError;

/// Tag keys this CPI puts on what it creates, so that it can recognise its own resources.
pub mod keys {
    /// The director's UUID (from the request context), on VMs, volumes, snapshots, templates.
    pub const DIRECTOR: &str = "bosh_director_uuid";
    /// What a volume is to BOSH: [`super::roles::EPHEMERAL`] or [`super::roles::PERSISTENT`].
    pub const ROLE: &str = "bosh_role";
    /// On an ephemeral volume: the VM it was created for.
    pub const VM: &str = "bosh_vm";
    /// On a template: this CPI uploaded it (light stemcells never carry it).
    pub const STEMCELL: &str = "bosh_stemcell";
}

/// Values of [`keys::ROLE`].
pub mod roles {
    pub const EPHEMERAL: &str = "ephemeral";
    pub const PERSISTENT: &str = "persistent";
}

/// The CloudStack resource types the CPI tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    UserVm,
    Volume,
    Snapshot,
    Template,
}

impl ResourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::UserVm => "UserVm",
            ResourceType::Volume => "Volume",
            ResourceType::Snapshot => "Snapshot",
            ResourceType::Template => "Template",
        }
    }
}

/// BOSH metadata values as strings: strings stay as they are, other scalars are written in
/// JSON, and empty values are dropped because CloudStack refuses empty tag values.
pub fn metadata_to_tags(metadata: &JsonObject) -> BTreeMap<String, String> {
    metadata
        .iter()
        .filter_map(|(key, value)| {
            let text = match value {
                Value::Null => return None,
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            (!text.is_empty() && !key.is_empty()).then(|| (key.clone(), text))
        })
        .collect()
}

/// Makes `tags` present on the resource, replacing keys whose value differs.
pub async fn set_tags(
    cloud: &CloudStackClient,
    resource_type: ResourceType,
    resource_id: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), ActionError> {
    if tags.is_empty() {
        return Ok(());
    }
    let existing = cloud
        .list(&ListTags {
            resourceid: Some(resource_id.to_owned()),
            resourcetype: Some(resource_type.as_str().to_owned()),
            ..ListTags::default()
        })
        .await
        .map_err(ActionError::cloudstack(format!(
            "listing the tags of {} {resource_id}",
            resource_type.as_str()
        )))?;
    let current: BTreeMap<String, String> = existing
        .into_iter()
        .filter_map(|tag| Some((tag.key?, tag.value.unwrap_or_default())))
        .collect();
    let changed: Vec<String> = tags
        .iter()
        .filter(|(key, value)| current.get(*key).is_some_and(|old| old != *value))
        .map(|(key, _)| key.clone())
        .collect();
    let missing: Vec<(String, String)> = tags
        .iter()
        .filter(|(key, value)| current.get(*key) != Some(*value))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !changed.is_empty() {
        cloud
            .execute(&DeleteTags {
                resourceids: vec![resource_id.to_owned()],
                resourcetype: resource_type.as_str().to_owned(),
                keys: changed,
            })
            .await
            .map_err(ActionError::cloudstack(format!(
                "replacing tags of {} {resource_id}",
                resource_type.as_str()
            )))?;
    }
    if !missing.is_empty() {
        cloud
            .execute(&CreateTags {
                resourceids: vec![resource_id.to_owned()],
                resourcetype: resource_type.as_str().to_owned(),
                tags: missing,
            })
            .await
            .map_err(ActionError::cloudstack(format!(
                "tagging {} {resource_id}",
                resource_type.as_str()
            )))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_values_become_non_empty_strings() {
        let metadata =
            json!({"name": "web/0", "index": 0, "compiling": true, "empty": "", "gone": null});
        let tags = metadata_to_tags(metadata.as_object().unwrap());
        assert_eq!(tags.get("name").map(String::as_str), Some("web/0"));
        assert_eq!(tags.get("index").map(String::as_str), Some("0"));
        assert_eq!(tags.get("compiling").map(String::as_str), Some("true"));
        assert!(!tags.contains_key("empty") && !tags.contains_key("gone"));
    }
}
