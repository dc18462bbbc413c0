//! `has_disk`: false for unknown and destroyed volumes.

use serde_json::Value;

use crate::{ActionError, CallContext, volumes};
use cpi_protocol::DiskCid;

pub(crate) async fn run(ctx: &CallContext, disk_cid: &DiskCid) -> Result<Value, ActionError> {
    let found = volumes::find(&ctx.cloud, disk_cid.as_str()).await?;
    Ok(Value::Bool(found.is_some()))
}
