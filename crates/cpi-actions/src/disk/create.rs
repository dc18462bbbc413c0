//! `create_disk`: a data volume tagged as a persistent disk of this director.

use std::collections::BTreeMap;

use cloudstack::CloudStackError;
use cloudstack::commands::CreateVolume;
use serde_json::Value;

use super::offering;
use super::properties::DiskProperties;
use crate::tags::{self, ResourceType, keys, roles};
use crate::{ActionError, CallContext, volumes};
use cpi_protocol::{JsonObject, VmCid};

pub(crate) async fn run(
    ctx: &CallContext,
    size_mib: u64,
    cloud_properties: &JsonObject,
    vm_cid: Option<&VmCid>,
) -> Result<Value, ActionError> {
    let properties = DiskProperties::parse(cloud_properties)?;
    if size_mib == 0 {
        return Err(ActionError::CloudProperties(
            "the requested disk size is 0 MiB".to_owned(),
        ));
    }
    let cloud = &ctx.cloud;
    let offering_name = properties
        .disk_offering
        .or_else(|| ctx.config.cloudstack.default_offer.disk.clone())
        .ok_or_else(|| {
            ActionError::CloudProperties(
                "the disk type names no disk_offering and cloudstack.default_offer.disk is not configured"
                    .to_owned(),
            )
        })?;
    let offering = offering::resolve(cloud, &offering_name).await?;
    let size_gib = offering::create_size(&offering, size_mib)?;
    let local = offering
        .storagetype
        .as_deref()
        .is_some_and(|kind| kind.eq_ignore_ascii_case("local"));

    // With a VM the disk goes to the VM's zone; a host-local disk is also created attached to the
    // VM, because CloudStack picks a local volume's host at its first attach (API notes 9.1).
    let vm = match vm_cid {
        Some(cid) => Some(
            volumes::find_vm(cloud, cid.as_str())
                .await?
                .ok_or_else(|| ActionError::VmNotFound(cid.as_str().to_owned()))?,
        ),
        None => None,
    };
    let zone_id = match vm.as_ref().and_then(|vm| vm.zoneid.clone()) {
        Some(zone) => zone,
        None => cloud
            .zone_id(&ctx.config.cloudstack.default_zone)
            .await
            .map_err(ActionError::cloudstack(format!(
                "looking up zone '{}'",
                ctx.config.cloudstack.default_zone
            )))?,
    };
    let place_on_vm = vm.as_ref().filter(|_| local);
    let name = format!("disk-{}", uuid::Uuid::new_v4());
    let created = cloud
        .execute(&CreateVolume {
            name: Some(name.clone()),
            diskofferingid: Some(offering.id.clone()),
            size: size_gib,
            zoneid: Some(zone_id.clone()),
            virtualmachineid: place_on_vm.map(|vm| vm.id.clone()),
            snapshotid: None,
        })
        .await;
    let volume = match created {
        Ok(volume) => volume,
        Err(error) => {
            clean_up_failed_create(ctx, &error).await;
            return Err(ActionError::cloudstack(format!(
                "creating a {size_mib} MiB volume with disk offering '{offering_name}' in zone {zone_id}"
            ))(error));
        }
    };
    let disk_cid = volume.id.clone();

    let mut volume_tags = BTreeMap::from([(keys::ROLE.to_owned(), roles::PERSISTENT.to_owned())]);
    if let Some(director) = ctx.director_uuid() {
        volume_tags.insert(keys::DIRECTOR.to_owned(), director.to_owned());
    }
    if let Err(error) = tags::set_tags(cloud, ResourceType::Volume, &disk_cid, &volume_tags).await {
        // An untagged volume would look like someone else's; remove it rather than leak it.
        if place_on_vm.is_some() {
            let _ = volumes::detach(cloud, &disk_cid).await;
        }
        if let Err(cleanup) = volumes::delete(cloud, &disk_cid).await {
            tracing::warn!(disk_cid, error = %cleanup, "Could not delete the volume after tagging failed.");
        }
        return Err(error);
    }

    if let Some(vm) = place_on_vm {
        // The volume now lives on the VM's host; attach_disk attaches it properly (and records
        // it), so hand it back unattached. If detaching fails the disk stays attached to the
        // right VM, which attach_disk accepts.
        if let Err(error) = volumes::detach(cloud, &disk_cid).await {
            tracing::warn!(disk_cid, vm_cid = %vm.id, error = %error,
                "Could not detach the local disk after placing it; attach_disk will find it attached.");
        }
    }
    tracing::info!(disk_cid, size_mib, size_gib = ?size_gib, offering = %offering_name, zone_id,
        vm_cid = ?vm_cid.map(VmCid::as_str), "Created disk.");
    Ok(Value::String(disk_cid))
}

/// A failed or timed-out create-style job may have left a volume in an `Error` state.
async fn clean_up_failed_create(ctx: &CallContext, error: &CloudStackError) {
    let object_id = match error {
        CloudStackError::JobFailed { object_id, .. }
        | CloudStackError::JobTimeout { object_id, .. } => object_id.as_deref(),
        _ => None,
    };
    if let Some(volume_id) = object_id
        && let Err(cleanup) = volumes::delete(&ctx.cloud, volume_id).await
    {
        tracing::warn!(volume_id, error = %cleanup, "Could not delete the volume of a failed createVolume.");
    }
}
