//! `set_disk_metadata`: the director's metadata as volume tags.

use serde_json::Value;

use crate::tags::{self, ResourceType, keys};
use crate::{ActionError, CallContext, volumes};
use cpi_protocol::{DiskCid, JsonObject};

pub(crate) async fn run(
    ctx: &CallContext,
    disk_cid: &DiskCid,
    metadata: &JsonObject,
) -> Result<Value, ActionError> {
    let disk_id = disk_cid.as_str();
    if volumes::find(&ctx.cloud, disk_id).await?.is_none() {
        return Err(ActionError::DiskNotFound(disk_id.to_owned()));
    }
    let mut wanted = tags::metadata_to_tags(metadata);
    // Our own keys say what the volume is (the cleaner relies on them); metadata cannot change them.
    wanted.retain(|key, _| ![keys::ROLE, keys::DIRECTOR, keys::VM].contains(&key.as_str()));
    tags::set_tags(&ctx.cloud, ResourceType::Volume, disk_id, &wanted).await?;
    tracing::info!(
        disk_cid = disk_id,
        tags = wanted.len(),
        "Disk metadata set."
    );
    Ok(Value::Null)
}
