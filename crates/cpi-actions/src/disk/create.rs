//! `create_disk`.

use serde_json::Value;

use crate::{ActionError, CallContext};
use cpi_protocol::{JsonObject, VmCid};

pub(crate) async fn run(
    _ctx: &CallContext,
    _size_mib: u64,
    _cloud_properties: &JsonObject,
    _vm_cid: Option<&VmCid>,
) -> Result<Value, ActionError> {
    Err(ActionError::NotImplemented("create_disk"))
}
