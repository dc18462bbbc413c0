//! `attach_disk`.

use serde_json::Value;

use crate::{ActionError, CallContext};
use cpi_protocol::{DiskCid, VmCid};

pub(crate) async fn run(
    _ctx: &CallContext,
    _vm_cid: &VmCid,
    _disk_cid: &DiskCid,
) -> Result<Value, ActionError> {
    Err(ActionError::NotImplemented("attach_disk"))
}
