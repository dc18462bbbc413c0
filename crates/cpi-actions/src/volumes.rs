//! Volume helpers shared by the disk actions and by `create_vm` (the ephemeral disk).
//!
//! Look-ups treat an unknown id as absent (CloudStack answers 431 "entity does not exist"),
//! attaching waits for CloudStack's job and turns the volume's `deviceid` into the guest's device
//! path, and a host-local volume is checked against the VM's host before CloudStack is asked
//! to attach it, because CloudStack's own refusal names neither host.

use std::time::{Duration, Instant};

use cloudstack::commands::{
    AttachVolume, DeleteVolume, DetachVolume, ListVirtualMachines, ListVolumes,
};
use cloudstack::types::{VirtualMachine, Volume};
use cloudstack::{CloudStackClient, CloudStackError};
use serde_json::{Value, json};

use crate::ActionError;
use crate::devices::DiskBus;

/// Volume states in which a volume is being or has been removed: for BOSH it no longer exists.
const GONE_STATES: &[&str] = &["Destroy", "Destroying", "Expunging", "Expunged"];

/// VM states in which a VM no longer exists for BOSH.
const VM_GONE_STATES: &[&str] = &["Destroyed", "Expunging", "Expunged", "Error"];

/// How long `attach` keeps retrying while XenServer reports that the guest's PV drivers are not
/// ready yet (a freshly booted VM); the predecessors waited up to minutes for the same reason.
const PV_DRIVER_RETRY_DEADLINE: Duration = Duration::from_secs(300);
const PV_DRIVER_RETRY_FIRST: Duration = Duration::from_secs(2);
const PV_DRIVER_RETRY_MAX: Duration = Duration::from_secs(20);

/// A volume attached to a VM, with the device path the guest sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedVolume {
    /// CloudStack's `deviceid` (0 is the root disk).
    pub device_id: u64,
    /// The guest device path, e.g. `/dev/xvdc`.
    pub path: String,
    /// The KVM virtio serial (`virtio-<serial>`), the stable by-id handle, when on KVM.
    pub by_id: Option<String>,
    /// The volume as CloudStack reported it after attaching.
    pub volume: Volume,
}

impl AttachedVolume {
    /// The disk hint the agent gets (attach_disk v2 result and `disks.persistent` value):
    /// `path` and `volume_id` (the device id, as the Orange CPIs wrote it), plus `id` on KVM so
    /// that the agent tries the stable by-id name first.
    pub fn hint(&self) -> Value {
        let mut hint = json!({"path": self.path, "volume_id": self.device_id.to_string()});
        if let (Some(id), Some(map)) = (&self.by_id, hint.as_object_mut()) {
            map.insert("id".to_owned(), Value::String(id.clone()));
        }
        hint
    }
}

/// Whether a volume is being or has been destroyed.
pub fn is_gone(volume: &Volume) -> bool {
    volume.state.as_deref().is_some_and(|state| {
        GONE_STATES
            .iter()
            .any(|gone| gone.eq_ignore_ascii_case(state))
    })
}

/// Whether a VM is destroyed, being expunged or failed.
pub fn vm_is_gone(vm: &VirtualMachine) -> bool {
    vm.state.as_deref().is_some_and(|state| {
        VM_GONE_STATES
            .iter()
            .any(|gone| gone.eq_ignore_ascii_case(state))
    })
}

/// Whether a volume lives on one host's local primary storage.
pub fn is_local(volume: &Volume) -> bool {
    volume
        .storagetype
        .as_deref()
        .is_some_and(|kind| kind.eq_ignore_ascii_case("local"))
}

/// A list filtered by an unknown id answers 431 on CloudStack; that simply means no match.
pub(crate) fn list_or_empty<T>(
    result: Result<Vec<T>, CloudStackError>,
) -> Result<Vec<T>, CloudStackError> {
    match result {
        Err(error) if error.is_not_found() => Ok(Vec::new()),
        other => other,
    }
}

/// The volume with this id, or `None` when CloudStack does not know it or it is being
/// destroyed.
pub async fn find(
    cloud: &CloudStackClient,
    volume_id: &str,
) -> Result<Option<Volume>, ActionError> {
    let volumes = list_or_empty(
        cloud
            .list(&ListVolumes {
                id: Some(volume_id.to_owned()),
                listall: Some(true),
                ..ListVolumes::default()
            })
            .await,
    )
    .map_err(ActionError::cloudstack(format!(
        "looking up volume {volume_id}"
    )))?;
    Ok(volumes
        .into_iter()
        .find(|volume| volume.id == volume_id)
        .filter(|volume| !is_gone(volume)))
}

/// The VM with this id in whatever state, or `None` when CloudStack does not know it (431) or
/// no longer lists it (expunged). `listall` is passed to `listVirtualMachines` as is.
pub(crate) async fn list_vm(
    cloud: &CloudStackClient,
    vm_id: &str,
    listall: Option<bool>,
) -> Result<Option<VirtualMachine>, ActionError> {
    let vms = list_or_empty(
        cloud
            .list(&ListVirtualMachines {
                id: Some(vm_id.to_owned()),
                listall,
                ..ListVirtualMachines::default()
            })
            .await,
    )
    .map_err(ActionError::cloudstack(format!("looking up VM {vm_id}")))?;
    Ok(vms.into_iter().find(|vm| vm.id == vm_id))
}

/// The VM with this id, or `None` when CloudStack does not know it or it is destroyed.
pub async fn find_vm(
    cloud: &CloudStackClient,
    vm_id: &str,
) -> Result<Option<VirtualMachine>, ActionError> {
    Ok(list_vm(cloud, vm_id, Some(true))
        .await?
        .filter(|vm| !vm_is_gone(vm)))
}

/// The volumes attached to a VM (root, ephemeral and persistent).
pub async fn of_vm(cloud: &CloudStackClient, vm_id: &str) -> Result<Vec<Volume>, ActionError> {
    let volumes = list_or_empty(
        cloud
            .list(&ListVolumes {
                virtualmachineid: Some(vm_id.to_owned()),
                listall: Some(true),
                ..ListVolumes::default()
            })
            .await,
    )
    .map_err(ActionError::cloudstack(format!(
        "listing the volumes of VM {vm_id}"
    )))?;
    Ok(volumes
        .into_iter()
        .filter(|volume| volume.virtualmachineid.as_deref() == Some(vm_id))
        .filter(|volume| !is_gone(volume))
        .collect())
}

/// The guest's device path for a device id on the VM's hypervisor.
pub fn device_path(hypervisor: Option<&str>, device_id: u64) -> Result<String, ActionError> {
    let bus = DiskBus::for_hypervisor(hypervisor.unwrap_or_default());
    u32::try_from(device_id)
        .ok()
        .and_then(|id| bus.device_path(id))
        .ok_or_else(|| {
            ActionError::Cloud(format!(
                "CloudStack attached the volume as device {device_id}, which has no guest device name"
            ))
        })
}

/// The KVM virtio serial of a volume: its UUID without hyphens, cut to 20 characters
/// (CloudStack's `diskUuidToSerial`); the guest lists it under `/dev/disk/by-id/virtio-<serial>`.
fn virtio_id(volume_id: &str) -> String {
    let serial: String = volume_id.chars().filter(|c| *c != '-').take(20).collect();
    format!("virtio-{serial}")
}

/// The attachment of a volume CloudStack reports as attached to `vm`.
pub fn attached(volume: Volume, vm: &VirtualMachine) -> Result<AttachedVolume, ActionError> {
    let device_id = volume.deviceid.ok_or_else(|| {
        ActionError::Cloud(format!(
            "CloudStack reports volume {} attached to VM {} without a device id",
            volume.id, vm.id
        ))
    })?;
    let hypervisor = vm.hypervisor.as_deref();
    let path = device_path(hypervisor, device_id)?;
    let by_id = (DiskBus::for_hypervisor(hypervisor.unwrap_or_default()) == DiskBus::Virtio)
        .then(|| virtio_id(&volume.id));
    Ok(AttachedVolume {
        device_id,
        path,
        by_id,
        volume,
    })
}

/// Attaches a volume to a VM and waits for CloudStack's job. While XenServer says the guest's
/// PV drivers are not ready (a VM that has just booted), it retries with backoff for a bounded
/// time.
pub async fn attach_to_vm(
    cloud: &CloudStackClient,
    volume_id: &str,
    vm: &VirtualMachine,
) -> Result<AttachedVolume, ActionError> {
    let started = Instant::now();
    let mut delay = PV_DRIVER_RETRY_FIRST;
    let volume = loop {
        let outcome = cloud
            .execute(&AttachVolume {
                id: volume_id.to_owned(),
                virtualmachineid: vm.id.clone(),
                deviceid: None,
            })
            .await;
        match outcome {
            Ok(volume) => break volume,
            Err(error)
                if pv_drivers_not_ready(&error)
                    && started.elapsed() + delay < PV_DRIVER_RETRY_DEADLINE =>
            {
                tracing::info!(volume_id, vm_id = %vm.id, retry_in_ms = delay.as_millis() as u64,
                    "The VM's PV drivers are not ready; retrying the attachment.");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(PV_DRIVER_RETRY_MAX);
            }
            Err(error) => {
                return Err(ActionError::cloudstack(format!(
                    "attaching volume {volume_id} to VM {}",
                    vm.id
                ))(error));
            }
        }
    };
    let attachment = attached(volume, vm)?;
    tracing::info!(volume_id, vm_id = %vm.id, device_id = attachment.device_id, path = %attachment.path,
        "Attached volume.");
    Ok(attachment)
}

fn pv_drivers_not_ready(error: &CloudStackError) -> bool {
    error
        .errortext()
        .is_some_and(|text| text.to_ascii_lowercase().contains("pv drivers"))
}

/// Detaches a volume and waits for the job. A volume that is gone or attached to nothing is
/// already detached: success.
pub async fn detach(cloud: &CloudStackClient, volume_id: &str) -> Result<(), ActionError> {
    match cloud
        .execute(&DetachVolume {
            id: volume_id.to_owned(),
        })
        .await
    {
        Ok(_) => {
            tracing::info!(volume_id, "Detached volume.");
            Ok(())
        }
        Err(error) if error.is_not_found() => Ok(()),
        Err(error) => {
            // CloudStack refuses to detach what is attached to nothing; that is the goal anyway.
            match find(cloud, volume_id).await? {
                None => Ok(()),
                Some(volume) if volume.virtualmachineid.is_none() => Ok(()),
                Some(_) => Err(ActionError::cloudstack(format!(
                    "detaching volume {volume_id}"
                ))(error)),
            }
        }
    }
}

/// Deletes a detached volume. Returns `false` when it was already gone.
pub async fn delete(cloud: &CloudStackClient, volume_id: &str) -> Result<bool, ActionError> {
    match cloud
        .execute(&DeleteVolume {
            id: volume_id.to_owned(),
        })
        .await
    {
        Ok(()) => {
            tracing::info!(volume_id, "Deleted volume.");
            Ok(true)
        }
        Err(error) if error.is_not_found() => Ok(false),
        Err(error) => Err(ActionError::cloudstack(format!(
            "deleting volume {volume_id}"
        ))(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_paths_follow_the_hypervisor() {
        assert_eq!(device_path(Some("XenServer"), 2).unwrap(), "/dev/xvdc");
        assert_eq!(device_path(Some("KVM"), 1).unwrap(), "/dev/vdb");
        assert_eq!(device_path(Some("VMware"), 2).unwrap(), "/dev/sdc");
        assert_eq!(device_path(None, 4).unwrap(), "/dev/xvde");
        assert!(device_path(Some("KVM"), 40).is_err());
    }

    #[test]
    fn kvm_hints_carry_the_virtio_serial() {
        let vm = VirtualMachine {
            id: "vm".into(),
            hypervisor: Some("KVM".into()),
            ..VirtualMachine::default()
        };
        let volume = Volume {
            id: "0b5b1c2e-7f1a-4c3b-9d2e-1234567890ab".into(),
            deviceid: Some(1),
            ..Volume::default()
        };
        let hint = attached(volume, &vm).unwrap().hint();
        assert_eq!(
            hint,
            json!({"path": "/dev/vdb", "volume_id": "1", "id": "virtio-0b5b1c2e7f1a4c3b9d2e"})
        );
    }

    #[test]
    fn destroyed_volumes_are_gone() {
        let mut volume = Volume {
            id: "v".into(),
            state: Some("Ready".into()),
            ..Volume::default()
        };
        assert!(!is_gone(&volume));
        volume.state = Some("Expunged".into());
        assert!(is_gone(&volume));
    }
}
