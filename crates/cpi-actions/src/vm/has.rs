//! `has_vm`: false for unknown, destroyed, expunging and failed VMs; never an error for an
//! unknown id.

use serde_json::Value;

use super::lookup::{find_vm, is_gone};
use crate::{ActionError, CallContext};
use cpi_protocol::VmCid;

pub(crate) async fn run(ctx: &CallContext, vm_cid: &VmCid) -> Result<Value, ActionError> {
    let vm = find_vm(&ctx.cloud, vm_cid.as_str()).await?;
    let exists = vm.as_ref().is_some_and(|vm| !is_gone(vm));
    tracing::debug!(vm_cid = %vm_cid.as_str(), exists, state = ?vm.and_then(|vm| vm.state), "has_vm");
    Ok(Value::Bool(exists))
}
