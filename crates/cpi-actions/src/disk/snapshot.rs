//! `snapshot_disk` and `delete_snapshot`.

use cpi_protocol::{DiskCid, JsonObject, SnapshotCid};
use serde_json::Value;

use crate::{ActionError, CallContext};

pub(crate) async fn create(
    _ctx: &CallContext,
    _disk_cid: &DiskCid,
    _metadata: &JsonObject,
) -> Result<Value, ActionError> {
    Err(ActionError::NotImplemented("snapshot_disk"))
}

pub(crate) async fn delete(
    _ctx: &CallContext,
    _snapshot_cid: &SnapshotCid,
) -> Result<Value, ActionError> {
    Err(ActionError::NotImplemented("delete_snapshot"))
}
