//! `resize_disk` and `update_disk`.

use cpi_protocol::{DiskCid, JsonObject};
use serde_json::Value;

use crate::{ActionError, CallContext};

pub(crate) async fn run(
    _ctx: &CallContext,
    _disk_cid: &DiskCid,
    _new_size_mib: u64,
) -> Result<Value, ActionError> {
    Err(ActionError::NotImplemented("resize_disk"))
}

pub(crate) async fn update(
    _ctx: &CallContext,
    _disk_cid: &DiskCid,
    _new_size_mib: u64,
    _cloud_properties: &JsonObject,
) -> Result<Value, ActionError> {
    Err(ActionError::NotImplemented("update_disk"))
}
