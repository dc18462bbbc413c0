//! `reboot_vm`: the VM may be running or stopped; a stopped VM is started.

use cloudstack::commands::{RebootVirtualMachine, StartVirtualMachine};
use serde_json::Value;

use super::lookup::{find_vm, is_gone};
use crate::{ActionError, CallContext};
use cpi_protocol::VmCid;

pub(crate) async fn run(ctx: &CallContext, vm_cid: &VmCid) -> Result<Value, ActionError> {
    let id = vm_cid.as_str();
    let vm = find_vm(&ctx.cloud, id)
        .await?
        .filter(|vm| !is_gone(vm))
        .ok_or_else(|| ActionError::VmNotFound(id.to_owned()))?;
    match vm.state.as_deref() {
        // CloudStack reboots only running VMs.
        Some("Stopped") => {
            ctx.cloud
                .execute(&StartVirtualMachine {
                    id: id.to_owned(),
                    hostid: None,
                })
                .await
                .map_err(ActionError::cloudstack(format!("starting stopped VM {id}")))?;
            tracing::info!(vm_cid = id, "Started a stopped VM instead of rebooting it.");
        }
        _ => {
            ctx.cloud
                .execute(&RebootVirtualMachine {
                    id: id.to_owned(),
                    forced: None,
                })
                .await
                .map_err(ActionError::cloudstack(format!("rebooting VM {id}")))?;
            tracing::info!(vm_cid = id, "Rebooted VM.");
        }
    }
    Ok(Value::Null)
}
