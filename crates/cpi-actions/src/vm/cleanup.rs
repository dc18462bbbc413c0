//! Undoing a `create_vm` that failed after `deployVirtualMachine`: nothing may leak.

use cloudstack::commands::{DisableStaticNat, ListVolumes};

use super::destroy;
use crate::CallContext;
use crate::volumes::list_or_empty;

/// What a `create_vm` has created so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct Created {
    pub vm_id: String,
    /// (network id, IP) of the VM's NICs, for the journal if it cannot be expunged.
    pub addresses: Vec<(String, String)>,
    /// The ephemeral volume, once known.
    pub ephemeral_volume: Option<String>,
    /// Whether the deploy asked for an ephemeral volume (to find it when its id is unknown).
    pub expects_ephemeral: bool,
    /// The public IP whose static NAT points at the VM.
    pub nat_ip_id: Option<String>,
}

/// Releases static NAT, destroys and expunges the VM with its ephemeral volume, and removes
/// its settings and registry credential. Returns what could not be undone.
pub(crate) async fn rollback(ctx: &CallContext, created: &Created) -> Vec<String> {
    let vm_id = created.vm_id.as_str();
    let mut problems = Vec::new();
    if let Some(ip_id) = &created.nat_ip_id {
        match ctx
            .cloud
            .execute(&DisableStaticNat {
                ipaddressid: ip_id.clone(),
            })
            .await
        {
            Ok(()) => {}
            Err(error) if error.is_not_found() => {}
            Err(error) => problems.push(format!(
                "disabling static NAT of public IP {ip_id}: {error}"
            )),
        }
    }
    let mut volumes: Vec<String> = created.ephemeral_volume.iter().cloned().collect();
    if volumes.is_empty() && created.expects_ephemeral {
        // At creation the only data disk is the ephemeral one the deploy made.
        match list_or_empty(
            ctx.cloud
                .list(&ListVolumes {
                    virtualmachineid: Some(vm_id.to_owned()),
                    volume_type: Some("DATADISK".to_owned()),
                    ..ListVolumes::default()
                })
                .await,
        ) {
            Ok(found) => volumes.extend(found.into_iter().map(|volume| volume.id)),
            Err(error) => problems.push(format!("listing the volumes of VM {vm_id}: {error}")),
        }
    }
    if let Err(error) = destroy::destroy(ctx, vm_id, &created.addresses, &volumes, true).await {
        problems.push(format!(
            "destroying VM {vm_id} and its ephemeral volume(s) {volumes:?}: {error}"
        ));
    }
    if let Err(error) = ctx.store.delete_settings(vm_id).await {
        problems.push(format!("deleting the settings of VM {vm_id}: {error}"));
    }
    if problems.is_empty() {
        tracing::info!(
            vm_cid = vm_id,
            volumes = volumes.len(),
            "Rolled back a failed create_vm."
        );
    } else {
        tracing::error!(vm_cid = vm_id, problems = ?problems, "Rolling back a failed create_vm left something behind.");
    }
    problems
}
