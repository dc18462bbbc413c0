//! Disk offerings: resolving a name or id, and the size a volume gets from one.

use cloudstack::CloudStackClient;
use cloudstack::commands::ListDiskOfferings;
use cloudstack::types::DiskOffering;

use crate::ActionError;

const MIB_PER_GIB: u64 = 1024;

/// The disk offering with this name or id.
pub(crate) async fn resolve(
    cloud: &CloudStackClient,
    name_or_id: &str,
) -> Result<DiskOffering, ActionError> {
    let id = cloud.disk_offering_id(name_or_id).await.map_err(|error| {
        if error.is_not_found() {
            ActionError::CloudProperties(format!("disk offering '{name_or_id}' not found"))
        } else {
            ActionError::cloudstack(format!("looking up disk offering '{name_or_id}'"))(error)
        }
    })?;
    by_id(cloud, &id).await?.ok_or_else(|| {
        ActionError::CloudProperties(format!("disk offering '{name_or_id}' not found"))
    })
}

/// The disk offering with this id, if it exists.
pub(crate) async fn by_id(
    cloud: &CloudStackClient,
    id: &str,
) -> Result<Option<DiskOffering>, ActionError> {
    match cloud
        .list(&ListDiskOfferings {
            id: Some(id.to_owned()),
            ..ListDiskOfferings::default()
        })
        .await
    {
        Ok(offerings) => Ok(offerings.into_iter().find(|offering| offering.id == id)),
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(ActionError::cloudstack(format!(
            "looking up disk offering {id}"
        ))(error)),
    }
}

/// Whether the caller chooses the size (`size` in GB) rather than the offering.
pub(crate) fn is_custom(offering: &DiskOffering) -> bool {
    offering.iscustomized == Some(true) || offering.disksize.unwrap_or(0) == 0
}

/// Whole GiB holding `size_mib` (CloudStack sizes volumes in GB); at least 1.
pub(crate) fn gib_for(size_mib: u64) -> u64 {
    size_mib.div_ceil(MIB_PER_GIB).max(1)
}

/// The `size` parameter for `createVolume`: the rounded-up size for a custom offering, none for
/// a fixed one that is large enough, and an error naming both sizes for one that is too small
/// (the Java predecessor silently created a smaller disk).
pub(crate) fn create_size(
    offering: &DiskOffering,
    size_mib: u64,
) -> Result<Option<u64>, ActionError> {
    if is_custom(offering) {
        return Ok(Some(gib_for(size_mib)));
    }
    let fixed_gib = offering.disksize.unwrap_or(0);
    let fixed_mib = fixed_gib.saturating_mul(MIB_PER_GIB);
    if fixed_mib < size_mib {
        return Err(ActionError::CloudProperties(format!(
            "disk offering '{}' has a fixed size of {fixed_gib} GiB ({fixed_mib} MiB), smaller than the requested {size_mib} MiB; choose a larger or a custom-size offering",
            offering.name.as_deref().unwrap_or(&offering.id)
        )));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offering(size: u64) -> DiskOffering {
        DiskOffering {
            id: "o".into(),
            name: Some("small".into()),
            disksize: Some(size),
            iscustomized: Some(size == 0),
            ..DiskOffering::default()
        }
    }

    #[test]
    fn custom_sizes_round_up_to_gib() {
        assert_eq!(create_size(&offering(0), 1).unwrap(), Some(1));
        assert_eq!(create_size(&offering(0), 1024).unwrap(), Some(1));
        assert_eq!(create_size(&offering(0), 1025).unwrap(), Some(2));
    }

    #[test]
    fn fixed_offerings_must_be_large_enough() {
        assert_eq!(create_size(&offering(5), 5 * 1024).unwrap(), None);
        let message = create_size(&offering(5), 6000).unwrap_err().to_string();
        assert!(
            message.contains("5 GiB") && message.contains("6000 MiB"),
            "{message}"
        );
    }
}
