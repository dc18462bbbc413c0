//! Where a new VM goes: its affinity group, and the host of a host-local persistent disk.

use cloudstack::CloudStackClient;
use cloudstack::commands::{CreateAffinityGroup, ListAffinityGroups, ListVolumes};
use cpi_protocol::DiskCid;

use crate::ActionError;
use crate::volumes::list_or_empty;

/// The id of the affinity group `name`, created with `group_type` when missing.
pub(crate) async fn affinity_group_id(
    cloud: &CloudStackClient,
    name: &str,
    group_type: &str,
) -> Result<String, ActionError> {
    let find = || async {
        let groups = cloud
            .list(&ListAffinityGroups {
                name: Some(name.to_owned()),
                ..ListAffinityGroups::default()
            })
            .await
            .map_err(ActionError::cloudstack(format!(
                "looking up affinity group '{name}'"
            )))?;
        Ok::<_, ActionError>(
            groups
                .into_iter()
                .find(|group| group.name.as_deref() == Some(name)),
        )
    };
    if let Some(group) = find().await? {
        if group.group_type.as_deref().is_some_and(|t| t != group_type) {
            tracing::warn!(affinity_group = name, existing_type = ?group.group_type, wanted_type = group_type,
                "The affinity group exists with another type; using it as it is.");
        }
        return Ok(group.id);
    }
    match cloud
        .execute(&CreateAffinityGroup {
            name: name.to_owned(),
            group_type: group_type.to_owned(),
            description: Some("Created by the BOSH CloudStack CPI".to_owned()),
        })
        .await
    {
        Ok(group) => {
            tracing::info!(affinity_group = name, group_type, id = %group.id, "Created affinity group.");
            Ok(group.id)
        }
        Err(error) => {
            // A concurrent create_vm may have created it first.
            if let Some(group) = find().await? {
                return Ok(group.id);
            }
            Err(ActionError::CloudStack {
                during: format!("creating affinity group '{name}' of type '{group_type}'"),
                source: error,
            })
        }
    }
}

/// A host-local persistent disk the new VM must share a host with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocalPin {
    pub volume_id: String,
    /// The host whose local storage holds the volume.
    pub host_id: String,
    /// The storage pool name, for messages.
    pub storage: String,
}

/// The host the VM must run on because one of its persistent disks (`disk_cids`, the director's
/// placement hint) lives on that host's local storage. Unknown disks are ignored: it is a hint.
pub(crate) async fn local_pin(
    cloud: &CloudStackClient,
    disk_cids: &[DiskCid],
) -> Result<Option<LocalPin>, ActionError> {
    let mut pin: Option<LocalPin> = None;
    for disk in disk_cids {
        let volumes = list_or_empty(
            cloud
                .list(&ListVolumes {
                    id: Some(disk.as_str().to_owned()),
                    ..ListVolumes::default()
                })
                .await,
        )
        .map_err(ActionError::cloudstack(format!("looking up disk {disk}")))?;
        let Some(volume) = volumes.into_iter().find(|v| v.id == disk.as_str()) else {
            tracing::warn!(disk_cid = %disk, "A disk named in disk_cids does not exist; ignoring the hint.");
            continue;
        };
        if volume.storagetype.as_deref() != Some("local") {
            continue;
        }
        // CloudStack reports the local pool of a host-local volume; the emulator names the
        // host itself as its storage id.
        let Some(host_id) = volume.storageid.clone() else {
            continue;
        };
        let candidate = LocalPin {
            volume_id: volume.id.clone(),
            host_id,
            storage: volume.storage.clone().unwrap_or_default(),
        };
        match &pin {
            Some(existing) if existing.host_id != candidate.host_id => {
                return Err(ActionError::VmCreationFailed {
                    message: format!(
                        "persistent disks {} and {} live on the local storage of different hosts ({} and {}); one VM cannot reach both",
                        existing.volume_id,
                        candidate.volume_id,
                        existing.host_id,
                        candidate.host_id
                    ),
                    ok_to_retry: false,
                });
            }
            Some(_) => {}
            None => pin = Some(candidate),
        }
    }
    Ok(pin)
}
