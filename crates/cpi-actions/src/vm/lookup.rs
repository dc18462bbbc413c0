//! Finding a VM by its cid, tolerating ids CloudStack does not know.

use cloudstack::CloudStackClient;
use cloudstack::types::VirtualMachine;

use crate::ActionError;
/// States in which a VM no longer counts as existing for BOSH.
pub(crate) use crate::volumes::vm_is_gone as is_gone;

/// The VM with this id, if CloudStack shows it to the account, destroyed or not. An id
/// CloudStack has never heard of (431) and an expunged one (empty list) both give `None`.
pub(crate) async fn find_vm(
    cloud: &CloudStackClient,
    vm_cid: &str,
) -> Result<Option<VirtualMachine>, ActionError> {
    crate::volumes::list_vm(cloud, vm_cid, None).await
}
