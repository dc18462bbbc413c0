//! `has_disk`.

use serde_json::Value;

use crate::{ActionError, CallContext};
use cpi_protocol::DiskCid;

pub(crate) async fn run(_ctx: &CallContext, _disk_cid: &DiskCid) -> Result<Value, ActionError> {
    Err(ActionError::NotImplemented("has_disk"))
}
