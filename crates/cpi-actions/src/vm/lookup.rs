//! Finding a VM by its cid, tolerating ids CloudStack does not know.

use cloudstack::CloudStackClient;
use cloudstack::commands::ListVirtualMachines;
use cloudstack::types::VirtualMachine;

use super::offerings::list_or_empty;
use crate::ActionError;

/// States in which a VM no longer counts as existing for BOSH.
pub(crate) fn is_gone(vm: &VirtualMachine) -> bool {
    matches!(
        vm.state.as_deref(),
        Some("Destroyed" | "Expunging" | "Expunged" | "Error")
    )
}

/// The VM with this id, if CloudStack shows it to the account. An id CloudStack has never
/// heard of (431) and an expunged one (empty list) both give `None`.
pub(crate) async fn find_vm(
    cloud: &CloudStackClient,
    vm_cid: &str,
) -> Result<Option<VirtualMachine>, ActionError> {
    let vms = list_or_empty(
        cloud
            .list(&ListVirtualMachines {
                id: Some(vm_cid.to_owned()),
                ..ListVirtualMachines::default()
            })
            .await,
    )
    .map_err(ActionError::cloudstack(format!("looking up VM {vm_cid}")))?;
    Ok(vms.into_iter().find(|vm| vm.id == vm_cid))
}
