//! `delete_stemcell`: deletes a template this CPI published, with its store file. A template
//! it did not publish (light, or unknown to the database) is never deleted; a missing one is
//! success.

use cpi_protocol::StemcellCid;
use cpi_store::StemcellState;
use serde_json::Value;

use super::{publish, store_for};
use crate::{ActionError, CallContext};

pub(crate) async fn run(
    ctx: &CallContext,
    stemcell_cid: &StemcellCid,
) -> Result<Value, ActionError> {
    let id = stemcell_cid.as_str();
    let record = ctx
        .store
        .get_stemcell(id)
        .await
        .map_err(ActionError::store("reading the stemcell record"))?;
    let Some(record) = record else {
        tracing::info!(
            template_id = id,
            "delete_stemcell: not a template this CPI published; left alone"
        );
        return Ok(Value::Null);
    };
    if record.light {
        tracing::info!(
            template_id = id,
            "delete_stemcell: light stemcell; the template is left alone"
        );
        ctx.store
            .delete_stemcell(id)
            .await
            .map_err(ActionError::store("removing the light stemcell record"))?;
        return Ok(Value::Null);
    }
    ctx.store
        .set_stemcell_state(id, StemcellState::Deleting)
        .await
        .map_err(ActionError::store("marking the stemcell as deleting"))?;
    publish::delete_template(&ctx.cloud, id).await?;
    if let Some(path) = &record.store_path {
        let store = store_for(ctx)?;
        store
            .remove(path)
            .await
            .map_err(|error| ActionError::Cloud(format!("removing the stemcell image: {error}")))?;
        ctx.store
            .delete_store_file(path)
            .await
            .map_err(ActionError::store("removing the store file record"))?;
    }
    ctx.store
        .delete_stemcell(id)
        .await
        .map_err(ActionError::store("removing the stemcell record"))?;
    tracing::info!(template_id = id, "stemcell deleted");
    Ok(Value::Null)
}
