//! `delete_stemcell`.

use serde_json::Value;

use crate::{ActionError, CallContext};
use cpi_protocol::StemcellCid;

pub(crate) async fn run(
    _ctx: &CallContext,
    _stemcell_cid: &StemcellCid,
) -> Result<Value, ActionError> {
    Err(ActionError::NotImplemented("delete_stemcell"))
}
