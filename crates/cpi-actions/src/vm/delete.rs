//! `delete_vm`: releases static NAT, detaches persistent disks (the director deletes VMs with
//! disks attached, and they must survive), destroys the VM with its ephemeral volume (expunged
//! per `cloudstack.expunge_vm`) and forgets its settings. A VM already gone is success.

use cloudstack::commands::{DetachVolume, DisableStaticNat, ListVolumes};
use cloudstack::types::Volume;
use serde_json::Value;

use super::destroy;
use super::lookup::find_vm;
use crate::tags::{keys, roles};
use crate::volumes::list_or_empty;
use crate::{ActionError, CallContext};
use cpi_protocol::VmCid;

fn is_ephemeral(volume: &Volume) -> bool {
    volume.tags.iter().any(|tag| {
        tag.key.as_deref() == Some(keys::ROLE) && tag.value.as_deref() == Some(roles::EPHEMERAL)
    })
}

pub(crate) async fn run(ctx: &CallContext, vm_cid: &VmCid) -> Result<Value, ActionError> {
    let id = vm_cid.as_str();
    let Some(vm) = find_vm(&ctx.cloud, id).await? else {
        tracing::info!(vm_cid = id, "VM already gone.");
        forget(ctx, id).await?;
        return Ok(Value::Null);
    };
    if matches!(vm.state.as_deref(), Some("Destroyed" | "Expunging")) {
        tracing::info!(vm_cid = id, state = ?vm.state, "VM already destroyed.");
        forget(ctx, id).await?;
        return Ok(Value::Null);
    }
    if let Some(ip_id) = &vm.publicipid {
        match ctx
            .cloud
            .execute(&DisableStaticNat {
                ipaddressid: ip_id.clone(),
            })
            .await
        {
            Ok(()) => tracing::info!(vm_cid = id, ip_id = %ip_id, "Disabled static NAT."),
            Err(error) if error.is_not_found() => {}
            Err(error) => {
                return Err(ActionError::CloudStack {
                    during: format!("disabling static NAT of public IP {ip_id} to VM {id}"),
                    source: error,
                });
            }
        }
    }
    let volumes = list_or_empty(
        ctx.cloud
            .list(&ListVolumes {
                virtualmachineid: Some(id.to_owned()),
                volume_type: Some("DATADISK".to_owned()),
                ..ListVolumes::default()
            })
            .await,
    )
    .map_err(ActionError::cloudstack(format!(
        "listing the volumes of VM {id}"
    )))?;
    let (ephemeral, persistent): (Vec<Volume>, Vec<Volume>) =
        volumes.into_iter().partition(is_ephemeral);
    for volume in &persistent {
        match ctx
            .cloud
            .execute(&DetachVolume {
                id: volume.id.clone(),
            })
            .await
        {
            Ok(_) => {
                tracing::info!(vm_cid = id, disk_cid = %volume.id, "Detached persistent disk before deleting its VM.")
            }
            Err(error) if error.is_not_found() => {}
            Err(error) => {
                return Err(ActionError::CloudStack {
                    during: format!("detaching persistent disk {} from VM {id}", volume.id),
                    source: error,
                });
            }
        }
    }
    let ephemeral_ids: Vec<String> = ephemeral.into_iter().map(|volume| volume.id).collect();
    destroy::destroy(
        ctx,
        id,
        &destroy::addresses(&vm),
        &ephemeral_ids,
        ctx.config.cloudstack.expunge_vm,
    )
    .await
    .map_err(ActionError::cloudstack(format!("destroying VM {id}")))?;
    forget(ctx, id).await?;
    tracing::info!(
        vm_cid = id,
        detached = persistent.len(),
        ephemeral = ephemeral_ids.len(),
        "Deleted VM."
    );
    Ok(Value::Null)
}

/// Removes the VM's settings and registry credential.
async fn forget(ctx: &CallContext, id: &str) -> Result<(), ActionError> {
    ctx.store
        .delete_settings(id)
        .await
        .map_err(ActionError::store(format!(
            "deleting the settings of VM {id}"
        )))?;
    Ok(())
}
