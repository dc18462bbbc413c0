//! `delete_disk`.

use serde_json::Value;

use crate::{ActionError, CallContext, volumes};
use cpi_protocol::DiskCid;

pub(crate) async fn run(ctx: &CallContext, disk_cid: &DiskCid) -> Result<Value, ActionError> {
    let disk_id = disk_cid.as_str();
    let Some(volume) = volumes::find(&ctx.cloud, disk_id).await? else {
        tracing::info!(disk_cid = disk_id, "Disk is already gone.");
        return Ok(Value::Null);
    };
    // The director detaches before deleting; deleting data still in use would be a bug upstream,
    // so say which VM holds it instead of passing on CloudStack's generic refusal.
    if let Some(vm) = volume.virtualmachineid.as_deref() {
        return Err(ActionError::Cloud(format!(
            "disk {disk_id} is still attached to VM {vm}{}; detach it before deleting it",
            volume
                .vmname
                .as_deref()
                .map(|name| format!(" ({name})"))
                .unwrap_or_default()
        )));
    }
    let deleted = volumes::delete(&ctx.cloud, disk_id).await?;
    tracing::info!(disk_cid = disk_id, deleted, "Disk deleted.");
    Ok(Value::Null)
}
