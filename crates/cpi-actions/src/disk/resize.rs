//! `resize_disk` and `update_disk`: grow only; anything else is `NotSupported`, which makes the
//! director create a new disk and copy the data.

use cloudstack::commands::ResizeVolume;
use cloudstack::types::Volume;
use cpi_protocol::{DiskCid, JsonObject};
use serde_json::Value;

use super::offering;
use super::properties::DiskProperties;
use crate::{ActionError, CallContext, volumes};

const BYTES_PER_MIB: u64 = 1024 * 1024;
const BYTES_PER_GIB: u64 = 1024 * BYTES_PER_MIB;

pub(crate) async fn run(
    ctx: &CallContext,
    disk_cid: &DiskCid,
    new_size_mib: u64,
) -> Result<Value, ActionError> {
    let volume = existing(ctx, disk_cid).await?;
    grow(ctx, &volume, new_size_mib, Switch::Allowed).await?;
    Ok(Value::Null)
}

/// Only a pure grow is done in place; a change of offering needs a new disk.
pub(crate) async fn update(
    ctx: &CallContext,
    disk_cid: &DiskCid,
    new_size_mib: u64,
    cloud_properties: &JsonObject,
) -> Result<Value, ActionError> {
    let properties = DiskProperties::parse(cloud_properties)?;
    let volume = existing(ctx, disk_cid).await?;
    let wanted = properties
        .disk_offering
        .or_else(|| ctx.config.cloudstack.default_offer.disk.clone());
    if let Some(wanted) = wanted {
        let wanted_id = offering::resolve(&ctx.cloud, &wanted).await?.id;
        let current = volume.diskofferingid.as_deref();
        // Strict on purpose: a disk that resize_disk moved to the custom offering differs from
        // its disk type now, and the director's copy fallback is always correct.
        if current != Some(wanted_id.as_str()) {
            return Err(ActionError::NotSupported(format!(
                "update_disk cannot change the disk offering of disk {} in place (from {} to '{wanted}')",
                volume.id,
                current.unwrap_or("none")
            )));
        }
    }
    // Growing a fixed-size disk would switch its offering: not a pure grow.
    grow(ctx, &volume, new_size_mib, Switch::Refused).await?;
    Ok(Value::Null)
}

/// Whether growing may move a fixed-size volume to the configured custom offering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Switch {
    Allowed,
    Refused,
}

async fn existing(ctx: &CallContext, disk_cid: &DiskCid) -> Result<Volume, ActionError> {
    volumes::find(&ctx.cloud, disk_cid.as_str())
        .await?
        .ok_or_else(|| ActionError::DiskNotFound(disk_cid.as_str().to_owned()))
}

async fn grow(
    ctx: &CallContext,
    volume: &Volume,
    new_size_mib: u64,
    switch: Switch,
) -> Result<(), ActionError> {
    let current_bytes = volume.size.unwrap_or(0);
    let wanted_bytes = new_size_mib.saturating_mul(BYTES_PER_MIB);
    if wanted_bytes < current_bytes {
        return Err(ActionError::NotSupported(format!(
            "disk {} cannot shrink from {} MiB to {new_size_mib} MiB",
            volume.id,
            current_bytes / BYTES_PER_MIB
        )));
    }
    let new_gib = offering::gib_for(new_size_mib);
    if new_gib.saturating_mul(BYTES_PER_GIB) <= current_bytes {
        tracing::info!(disk_cid = %volume.id, new_size_mib, "Disk already has the requested size.");
        return Ok(());
    }
    let current = match volume.diskofferingid.as_deref() {
        Some(id) => offering::by_id(&ctx.cloud, id).await?,
        None => None,
    };
    // A fixed-size offering cannot grow: move the volume to the configured custom offering.
    let switch_to = match current {
        Some(current) if offering::is_custom(&current) => None,
        _ if switch == Switch::Refused => {
            return Err(ActionError::NotSupported(format!(
                "disk {} has a fixed-size offering; growing it in place would change its offering",
                volume.id
            )));
        }
        _ => Some(custom_offering(ctx, volume).await?),
    };
    ctx.cloud
        .execute(&ResizeVolume {
            id: volume.id.clone(),
            size: Some(new_gib),
            diskofferingid: switch_to.clone(),
            shrinkok: Some(false),
        })
        .await
        .map_err(ActionError::cloudstack(format!(
            "resizing disk {} to {new_gib} GiB",
            volume.id
        )))?;
    tracing::info!(disk_cid = %volume.id, new_size_mib, new_gib, offering = ?switch_to, "Disk resized.");
    Ok(())
}

async fn custom_offering(ctx: &CallContext, volume: &Volume) -> Result<String, ActionError> {
    let Some(name) = &ctx.config.cloudstack.default_offer.custom_disk else {
        return Err(ActionError::NotSupported(format!(
            "disk {} has a fixed-size offering and cloudstack.default_offer.custom_disk is not configured",
            volume.id
        )));
    };
    let custom = offering::resolve(&ctx.cloud, name).await?;
    if !offering::is_custom(&custom) {
        return Err(ActionError::NotSupported(format!(
            "cloudstack.default_offer.custom_disk '{name}' is not a custom-size offering"
        )));
    }
    // Changing between local and shared storage would move the data; leave that to the copy.
    let storage = |kind: Option<&str>| kind.unwrap_or("shared").to_ascii_lowercase();
    if storage(custom.storagetype.as_deref()) != storage(volume.storagetype.as_deref()) {
        return Err(ActionError::NotSupported(format!(
            "disk {} is on {} storage but cloudstack.default_offer.custom_disk '{name}' is for {} storage",
            volume.id,
            storage(volume.storagetype.as_deref()),
            storage(custom.storagetype.as_deref())
        )));
    }
    Ok(custom.id)
}
