//! `set_vm_metadata`.

use serde_json::Value;

use crate::{ActionError, CallContext};
use cpi_protocol::{JsonObject, VmCid};

pub(crate) async fn run(
    _ctx: &CallContext,
    _vm_cid: &VmCid,
    _metadata: &JsonObject,
) -> Result<Value, ActionError> {
    Err(ActionError::NotImplemented("set_vm_metadata"))
}
