//! `create_vm`.

use serde_json::Value;

use crate::{ActionError, CallContext};
use cpi_protocol::{AgentId, DiskCid, JsonObject, Networks, StemcellCid};

pub(crate) async fn run(
    _ctx: &CallContext,
    _agent_id: &AgentId,
    _stemcell_cid: &StemcellCid,
    _cloud_properties: &JsonObject,
    _networks: &Networks,
    _disk_cids: &[DiskCid],
    _env: &JsonObject,
) -> Result<Value, ActionError> {
    Err(ActionError::NotImplemented("create_vm"))
}
