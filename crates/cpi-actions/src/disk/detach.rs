//! `detach_disk`: detaches a persistent disk and removes it from the VM's settings.

use serde_json::Value;

use super::settings;
use crate::{ActionError, CallContext, volumes};
use cpi_protocol::{DiskCid, VmCid};

pub(crate) async fn run(
    ctx: &CallContext,
    vm_cid: &VmCid,
    disk_cid: &DiskCid,
) -> Result<Value, ActionError> {
    let (vm_id, disk_id) = (vm_cid.as_str(), disk_cid.as_str());
    let volume = volumes::find(&ctx.cloud, disk_id).await?;
    match volume.as_ref().and_then(|v| v.virtualmachineid.as_deref()) {
        Some(current) if current == vm_id => volumes::detach(&ctx.cloud, disk_id).await?,
        Some(other) => {
            return Err(ActionError::DiskNotAttached(format!(
                "disk {disk_id} is not attached to VM {vm_id}: it is attached to VM {other}"
            )));
        }
        // Gone, or attached to nothing: the goal is reached. The settings may still list it
        // (a detach that failed after CloudStack's part), so they are cleaned below anyway.
        None => {
            tracing::info!(
                vm_cid = vm_id,
                disk_cid = disk_id,
                exists = volume.is_some(),
                "Disk is not attached; nothing to detach."
            );
        }
    }
    settings::remove_disk(ctx, vm_id, disk_id).await?;
    tracing::info!(vm_cid = vm_id, disk_cid = disk_id, "Disk detached.");
    Ok(Value::Null)
}
