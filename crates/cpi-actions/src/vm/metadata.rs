//! `set_vm_metadata`: tags (changed keys replaced) and the display name from `name`.

use cloudstack::commands::UpdateVirtualMachine;
use serde_json::Value;

use super::lookup::{find_vm, is_gone};
use crate::tags::{self, ResourceType, keys};
use crate::{ActionError, CallContext};
use cpi_protocol::{JsonObject, VmCid};

pub(crate) async fn run(
    ctx: &CallContext,
    vm_cid: &VmCid,
    metadata: &JsonObject,
) -> Result<Value, ActionError> {
    let id = vm_cid.as_str();
    let vm = find_vm(&ctx.cloud, id)
        .await?
        .filter(|vm| !is_gone(vm))
        .ok_or_else(|| ActionError::VmNotFound(id.to_owned()))?;
    let mut wanted = tags::metadata_to_tags(metadata);
    // Lets a later create_vm recognise this VM as ours if it ever holds a static IP.
    if let Some(uuid) = ctx.director_uuid() {
        wanted.insert(keys::DIRECTOR.to_owned(), uuid.to_owned());
    }
    tags::set_tags(&ctx.cloud, ResourceType::UserVm, id, &wanted).await?;
    if let Some(name) = metadata.get("name").and_then(Value::as_str)
        && !name.is_empty()
        && vm.displayname.as_deref() != Some(name)
    {
        ctx.cloud
            .execute(&UpdateVirtualMachine {
                id: id.to_owned(),
                displayname: Some(name.to_owned()),
                ..UpdateVirtualMachine::default()
            })
            .await
            .map_err(ActionError::cloudstack(format!(
                "setting the display name of VM {id}"
            )))?;
    }
    tracing::info!(vm_cid = id, tags = wanted.len(), "Set VM metadata.");
    Ok(Value::Null)
}
