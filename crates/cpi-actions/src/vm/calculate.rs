//! `calculate_vm_cloud_properties`.

use serde_json::Value;

use crate::{ActionError, CallContext};
use cpi_protocol::VmResources;

pub(crate) async fn run(
    _ctx: &CallContext,
    _resources: &VmResources,
) -> Result<Value, ActionError> {
    Err(ActionError::NotImplemented("calculate_vm_cloud_properties"))
}
