//! `create_stemcell`.

use serde_json::Value;

use crate::{ActionError, CallContext};
use cpi_protocol::JsonObject;

pub(crate) async fn run(
    _ctx: &CallContext,
    _image_path: &str,
    _cloud_properties: &JsonObject,
    _env: Option<&JsonObject>,
) -> Result<Value, ActionError> {
    Err(ActionError::NotImplemented("create_stemcell"))
}
