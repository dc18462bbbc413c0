//! Recording a VM's persistent disks in its stored agent settings, which the registry serves to
//! v1 stemcells. The map is edited atomically so that concurrent attaches cannot lose a disk.

use cpi_store::{SettingsEdit, StoreError};
use serde_json::Value;

use crate::{ActionError, CallContext};

/// What became of the settings edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recorded {
    Yes,
    /// The VM has no stored settings (not created by this CPI, or its record was lost).
    NoSettings,
}

/// Adds `disk_cid` with `hint` to the VM's `disks.persistent`.
pub(crate) async fn add_disk(
    ctx: &CallContext,
    vm_cid: &str,
    disk_cid: &str,
    hint: Value,
) -> Result<Recorded, ActionError> {
    let disk = disk_cid.to_owned();
    let edit: SettingsEdit = Box::new(move |settings| {
        agent_settings::add_persistent_disk(settings, &disk, hint).map_err(|e| e.to_string())
    });
    apply(ctx, vm_cid, disk_cid, edit, "recording").await
}

/// Removes `disk_cid` from the VM's `disks.persistent`.
pub(crate) async fn remove_disk(
    ctx: &CallContext,
    vm_cid: &str,
    disk_cid: &str,
) -> Result<Recorded, ActionError> {
    let disk = disk_cid.to_owned();
    let edit: SettingsEdit = Box::new(move |settings| {
        agent_settings::remove_persistent_disk(settings, &disk).map_err(|e| e.to_string())
    });
    apply(ctx, vm_cid, disk_cid, edit, "removing").await
}

async fn apply(
    ctx: &CallContext,
    vm_cid: &str,
    disk_cid: &str,
    edit: SettingsEdit,
    doing: &str,
) -> Result<Recorded, ActionError> {
    match ctx.store.update_settings(vm_cid, edit).await {
        Ok(_) => {
            tracing::debug!(
                vm_cid,
                disk_cid,
                "Updated the persistent disks in the VM's settings."
            );
            Ok(Recorded::Yes)
        }
        Err(StoreError::NotFound { .. }) => {
            tracing::warn!(
                vm_cid,
                disk_cid,
                "The VM has no stored agent settings; the persistent disk map is not recorded."
            );
            Ok(Recorded::NoSettings)
        }
        Err(error) => Err(ActionError::store(format!(
            "{doing} disk {disk_cid} in the settings of VM {vm_cid}"
        ))(error)),
    }
}
