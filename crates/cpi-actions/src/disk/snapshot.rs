//! `snapshot_disk` and `delete_snapshot`.

use std::collections::BTreeMap;

use cloudstack::CloudStackError;
use cloudstack::commands::{CreateSnapshot, DeleteSnapshot};
use cpi_protocol::{DiskCid, JsonObject, SnapshotCid};
use serde_json::Value;

use crate::tags::{self, ResourceType, keys};
use crate::{ActionError, CallContext, volumes};

pub(crate) async fn create(
    ctx: &CallContext,
    disk_cid: &DiskCid,
    metadata: &JsonObject,
) -> Result<Value, ActionError> {
    let disk_id = disk_cid.as_str();
    if volumes::find(&ctx.cloud, disk_id).await?.is_none() {
        return Err(ActionError::DiskNotFound(disk_id.to_owned()));
    }
    let snapshot = match ctx
        .cloud
        .execute(&CreateSnapshot {
            volumeid: disk_id.to_owned(),
            name: Some(format!("snapshot-{}", uuid::Uuid::new_v4())),
            tags: Vec::new(),
        })
        .await
    {
        Ok(snapshot) => snapshot,
        Err(error) => {
            if let CloudStackError::JobFailed {
                object_id: Some(id),
                ..
            } = &error
            {
                remove(ctx, id).await.ok();
            }
            return Err(ActionError::cloudstack(format!(
                "snapshotting disk {disk_id}"
            ))(error));
        }
    };
    let mut wanted: BTreeMap<String, String> = tags::metadata_to_tags(metadata);
    if let Some(director) = ctx.director_uuid() {
        wanted.insert(keys::DIRECTOR.to_owned(), director.to_owned());
    }
    if let Err(error) =
        tags::set_tags(&ctx.cloud, ResourceType::Snapshot, &snapshot.id, &wanted).await
    {
        // An untagged snapshot is unfindable by the operator; do not leave it behind.
        if let Err(cleanup) = remove(ctx, &snapshot.id).await {
            tracing::warn!(snapshot_cid = %snapshot.id, error = %cleanup, "Could not delete the snapshot after tagging failed.");
        }
        return Err(error);
    }
    tracing::info!(disk_cid = disk_id, snapshot_cid = %snapshot.id, "Disk snapshotted.");
    Ok(Value::String(snapshot.id))
}

pub(crate) async fn delete(
    ctx: &CallContext,
    snapshot_cid: &SnapshotCid,
) -> Result<Value, ActionError> {
    let deleted = remove(ctx, snapshot_cid.as_str()).await?;
    tracing::info!(
        snapshot_cid = snapshot_cid.as_str(),
        deleted,
        "Snapshot deleted."
    );
    Ok(Value::Null)
}

/// Deletes a snapshot; `false` when it was already gone.
async fn remove(ctx: &CallContext, snapshot_id: &str) -> Result<bool, ActionError> {
    match ctx
        .cloud
        .execute(&DeleteSnapshot {
            id: snapshot_id.to_owned(),
        })
        .await
    {
        Ok(()) => Ok(true),
        Err(error) if error.is_not_found() => Ok(false),
        Err(error) => Err(ActionError::cloudstack(format!(
            "deleting snapshot {snapshot_id}"
        ))(error)),
    }
}
