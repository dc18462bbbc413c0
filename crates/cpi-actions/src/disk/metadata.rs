//! `set_disk_metadata`.

use serde_json::Value;

use crate::{ActionError, CallContext};
use cpi_protocol::{DiskCid, JsonObject};

pub(crate) async fn run(
    _ctx: &CallContext,
    _disk_cid: &DiskCid,
    _metadata: &JsonObject,
) -> Result<Value, ActionError> {
    Err(ActionError::NotImplemented("set_disk_metadata"))
}
