//! `attach_disk`: attaches a persistent disk, records it in the VM's settings and returns the
//! disk hint (API v2).

use cloudstack::commands::MigrateVolume;
use cloudstack::types::{VirtualMachine, Volume};
use serde_json::Value;

use super::settings::{self, Recorded};
use crate::volumes::{self, AttachedVolume};
use crate::{ActionError, CallContext};
use cpi_protocol::{DiskCid, VmCid};

pub(crate) async fn run(
    ctx: &CallContext,
    vm_cid: &VmCid,
    disk_cid: &DiskCid,
) -> Result<Value, ActionError> {
    let cloud = &ctx.cloud;
    let (vm_id, disk_id) = (vm_cid.as_str(), disk_cid.as_str());
    let vm = volumes::find_vm(cloud, vm_id)
        .await?
        .ok_or_else(|| ActionError::VmNotFound(vm_id.to_owned()))?;
    let volume = volumes::find(cloud, disk_id)
        .await?
        .ok_or_else(|| ActionError::DiskNotFound(disk_id.to_owned()))?;
    if volume
        .volume_type
        .as_deref()
        .is_some_and(|kind| kind.eq_ignore_ascii_case("ROOT"))
    {
        return Err(ActionError::Cloud(format!(
            "volume {disk_id} is the root disk of VM {}; it cannot be attached as a persistent disk",
            volume.virtualmachineid.as_deref().unwrap_or("?")
        )));
    }

    let (attachment, attached_now) = match volume.virtualmachineid.as_deref() {
        // Already attached here (a retried call, or create_disk placed it): same answer.
        Some(current) if current == vm_id => (volumes::attached(volume, &vm)?, false),
        Some(other) => {
            return Err(ActionError::Cloud(format!(
                "disk {disk_id} is attached to another VM, {other}{}; detach it there before attaching it to VM {vm_id}",
                volume
                    .vmname
                    .as_deref()
                    .map(|name| format!(" ({name})"))
                    .unwrap_or_default()
            )));
        }
        None => {
            let volume = ensure_reachable(ctx, volume, &vm).await?;
            let attachment = volumes::attach_to_vm(cloud, disk_id, &vm)
                .await
                .map_err(|error| explain_local_failure(&volume, &vm, error))?;
            (attachment, true)
        }
    };

    let hint = attachment.hint();
    let recorded = settings::add_disk(ctx, vm_id, disk_id, hint.clone()).await;
    let failure = match recorded {
        Ok(Recorded::Yes) => None,
        Ok(Recorded::NoSettings) if !ctx.registry_needed() => None,
        Ok(Recorded::NoSettings) => Some(ActionError::Cloud(format!(
            "VM {vm_id} has no stored agent settings, so its v1 agent cannot learn about disk {disk_id} from the registry"
        ))),
        Err(error) => Some(error),
    };
    if let Some(error) = failure {
        // Undo our attachment so that the director's retry starts from a clean state.
        if attached_now && let Err(undo) = volumes::detach(cloud, disk_id).await {
            tracing::warn!(vm_cid = vm_id, disk_cid = disk_id, error = %undo,
                "Could not detach the disk after failing to record it.");
        }
        return Err(error);
    }
    log_attached(vm_id, disk_id, &attachment);
    if ctx.api_version.is_v2_or_later() {
        Ok(hint)
    } else {
        Ok(Value::Null)
    }
}

fn log_attached(vm_id: &str, disk_id: &str, attachment: &AttachedVolume) {
    tracing::info!(vm_cid = vm_id, disk_cid = disk_id, device_id = attachment.device_id,
        path = %attachment.path, "Disk attached.");
}

/// Where a host-local volume lives compared with the VM.
enum Placement {
    /// Same host, shared storage, or a volume not placed yet: CloudStack can attach it.
    Fine,
    /// Another host; `target` is the local pool (or host) to migrate the volume to.
    OtherHost { target: String },
}

/// A description of the volume's storage for error messages: pool name and id.
fn volume_storage(volume: &Volume) -> String {
    format!(
        "'{}' ({})",
        volume.storage.as_deref().unwrap_or("unknown pool"),
        volume.storageid.as_deref().unwrap_or("unknown id")
    )
}

/// A description of the VM's host for error messages: host name and id.
fn vm_host(vm: &VirtualMachine) -> String {
    match (&vm.hostname, &vm.hostid) {
        (Some(name), Some(id)) => format!("'{name}' ({id})"),
        (None, Some(id)) => id.clone(),
        (Some(name), None) => format!("'{name}'"),
        (None, None) => "an unknown host".to_owned(),
    }
}

/// Compares a local volume's pool with the VM's. The VM's local pool is certain when its root
/// disk is local. Otherwise the VM's host is compared with the pool by id (how the emulator
/// models local pools) and by CloudStack's pool naming ("<host> Local Storage"). A VM without a
/// known host leaves the decision to CloudStack, whose refusal [`explain_local_failure`]
/// completes.
async fn placement(
    ctx: &CallContext,
    volume: &Volume,
    vm: &VirtualMachine,
) -> Result<Placement, ActionError> {
    let Some(volume_pool) = volume
        .storageid
        .as_deref()
        .filter(|_| volumes::is_local(volume))
    else {
        return Ok(Placement::Fine);
    };
    let root_pool = volumes::of_vm(&ctx.cloud, &vm.id)
        .await?
        .into_iter()
        .find(|v| {
            v.volume_type
                .as_deref()
                .is_some_and(|kind| kind.eq_ignore_ascii_case("ROOT"))
                && volumes::is_local(v)
        })
        .and_then(|root| root.storageid);
    match (root_pool, vm.hostid.as_deref()) {
        (Some(root_pool), _) if root_pool == volume_pool => Ok(Placement::Fine),
        (Some(root_pool), _) => Ok(Placement::OtherHost { target: root_pool }),
        (None, Some(host)) if host == volume_pool => Ok(Placement::Fine),
        (None, Some(_)) if same_host_by_name(volume, vm) => Ok(Placement::Fine),
        (None, Some(host)) => Ok(Placement::OtherHost {
            target: host.to_owned(),
        }),
        (None, None) => Ok(Placement::Fine),
    }
}

/// CloudStack names a host's local pool after the host ("<host> Local Storage").
fn same_host_by_name(volume: &Volume, vm: &VirtualMachine) -> bool {
    match (volume.storage.as_deref(), vm.hostname.as_deref()) {
        (Some(pool), Some(host)) => pool
            .strip_prefix(host)
            .is_some_and(|rest| rest.starts_with([' ', '-', '_'])),
        _ => false,
    }
}

/// Makes sure a host-local volume is on the VM's host before attaching: migrates it when
/// `cloudstack.allow_volume_migration` is on, otherwise fails naming both hosts.
async fn ensure_reachable(
    ctx: &CallContext,
    volume: Volume,
    vm: &VirtualMachine,
) -> Result<Volume, ActionError> {
    let Placement::OtherHost { target } = placement(ctx, &volume, vm).await? else {
        return Ok(volume);
    };
    if !ctx.config.cloudstack.allow_volume_migration {
        return Err(ActionError::Cloud(format!(
            "disk {} is on the host-local storage {} of another host than VM {}, which runs on host {}; set cloudstack.allow_volume_migration to move it, or recreate the VM on the disk's host",
            volume.id,
            volume_storage(&volume),
            vm.id,
            vm_host(vm)
        )));
    }
    tracing::info!(disk_cid = %volume.id, from = ?volume.storageid, to = %target, vm_cid = %vm.id,
        "Migrating the host-local disk to the VM's host.");
    let migrated = ctx
        .cloud
        .execute(&MigrateVolume {
            volumeid: volume.id.clone(),
            storageid: target.clone(),
            livemigrate: None,
        })
        .await
        .map_err(|error| {
            ActionError::Cloud(format!(
                "disk {} is on the host-local storage {} and VM {} runs on host {}; migrating the disk to storage {target} failed: {error}",
                volume.id,
                volume_storage(&volume),
                vm.id,
                vm_host(vm)
            ))
        })?;
    Ok(migrated)
}

/// Adds both hosts to CloudStack's refusal to attach a local volume.
fn explain_local_failure(volume: &Volume, vm: &VirtualMachine, error: ActionError) -> ActionError {
    if !volumes::is_local(volume) || volume.storageid.is_none() {
        return error;
    }
    ActionError::Cloud(format!(
        "disk {} is on the host-local storage {} and VM {} runs on host {}; they may be different hosts: {error}",
        volume.id,
        volume_storage(volume),
        vm.id,
        vm_host(vm)
    ))
}
