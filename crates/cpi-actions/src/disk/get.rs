//! `get_disks`.

use serde_json::Value;

use crate::{ActionError, CallContext};
use cpi_protocol::VmCid;

pub(crate) async fn run(_ctx: &CallContext, _vm_cid: &VmCid) -> Result<Value, ActionError> {
    Err(ActionError::NotImplemented("get_disks"))
}
