//! `get_disks`: the persistent disks attached to a VM, never the root or ephemeral volume.

use serde_json::Value;

use crate::tags::{keys, roles};
use crate::{ActionError, CallContext, volumes};
use cpi_protocol::VmCid;

pub(crate) async fn run(ctx: &CallContext, vm_cid: &VmCid) -> Result<Value, ActionError> {
    let vm_id = vm_cid.as_str();
    if volumes::find_vm(&ctx.cloud, vm_id).await?.is_none() {
        return Err(ActionError::VmNotFound(vm_id.to_owned()));
    }
    let disks: Vec<Value> = volumes::of_vm(&ctx.cloud, vm_id)
        .await?
        .into_iter()
        .filter(|volume| {
            volume
                .volume_type
                .as_deref()
                .is_some_and(|kind| kind.eq_ignore_ascii_case("DATADISK"))
        })
        .filter(|volume| {
            !volume.tags.iter().any(|tag| {
                tag.key.as_deref() == Some(keys::ROLE)
                    && tag.value.as_deref() == Some(roles::EPHEMERAL)
            })
        })
        .map(|volume| Value::String(volume.id))
        .collect();
    Ok(Value::Array(disks))
}
