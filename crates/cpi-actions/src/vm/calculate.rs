//! `calculate_vm_cloud_properties`: the smallest fixed offering that fits the director's
//! `vm_resources`, else a customized offering with `cpu` and `ram`; plus `disk`, the ephemeral
//! size, so that `create_vm` with the result gets what was asked (the predecessor dropped it).

use cloudstack::commands::{ListDiskOfferings, ListServiceOfferings};
use cloudstack::types::ServiceOffering;
use serde_json::{Value, json};

use crate::{ActionError, CallContext};
use cpi_protocol::VmResources;

pub(crate) async fn run(ctx: &CallContext, resources: &VmResources) -> Result<Value, ActionError> {
    let offerings = ctx
        .cloud
        .list(&ListServiceOfferings::default())
        .await
        .map_err(ActionError::cloudstack("listing compute offerings"))?;
    let mut properties = serde_json::Map::new();
    match pick(&offerings, resources) {
        Some(Pick::Fixed(offering)) => {
            properties.insert(
                "compute_offering".into(),
                json!(offering.name.clone().unwrap_or_else(|| offering.id.clone())),
            );
        }
        Some(Pick::Custom(offering)) => {
            properties.insert(
                "compute_offering".into(),
                json!(offering.name.clone().unwrap_or_else(|| offering.id.clone())),
            );
            properties.insert("cpu".into(), json!(resources.cpu));
            properties.insert("ram".into(), json!(resources.ram));
        }
        None => {
            let existing: Vec<String> = offerings
                .iter()
                .map(|o| {
                    format!(
                        "{} ({} CPU, {} MiB)",
                        o.name.as_deref().unwrap_or(&o.id),
                        o.cpunumber.unwrap_or(0),
                        o.memory.unwrap_or(0)
                    )
                })
                .collect();
            return Err(ActionError::Cloud(format!(
                "no compute offering fits {} CPU and {} MiB of RAM, and there is no customized offering; existing offerings: {}",
                resources.cpu,
                resources.ram,
                if existing.is_empty() {
                    "none".to_owned()
                } else {
                    existing.join(", ")
                }
            )));
        }
    }
    properties.insert("disk".into(), json!(resources.ephemeral_disk_size));
    if ctx.config.cloudstack.default_offer.ephemeral_disk.is_none() {
        // Without a default, `disk` needs an offering that can hold it.
        properties.insert(
            "ephemeral_disk_offering".into(),
            json!(ephemeral_offering(ctx, resources.ephemeral_disk_size).await?),
        );
    }
    let properties = Value::Object(properties);
    tracing::info!(cpu = resources.cpu, ram = resources.ram, disk = resources.ephemeral_disk_size,
        properties = %properties, "Calculated VM cloud properties.");
    Ok(properties)
}

#[derive(Debug, PartialEq)]
enum Pick<'a> {
    Fixed(&'a ServiceOffering),
    Custom(&'a ServiceOffering),
}

/// The fixed offering with the least memory, then fewest CPUs, that fits; else a customized one.
fn pick<'a>(offerings: &'a [ServiceOffering], wanted: &VmResources) -> Option<Pick<'a>> {
    let fixed = offerings
        .iter()
        .filter(|o| o.iscustomized != Some(true))
        .filter(|o| {
            o.cpunumber.unwrap_or(0) >= u64::from(wanted.cpu) && o.memory.unwrap_or(0) >= wanted.ram
        })
        .min_by_key(|o| {
            (
                o.memory.unwrap_or(0),
                o.cpunumber.unwrap_or(0),
                o.name.clone(),
            )
        });
    if let Some(offering) = fixed {
        return Some(Pick::Fixed(offering));
    }
    offerings
        .iter()
        .find(|o| o.iscustomized == Some(true))
        .map(Pick::Custom)
}

/// A custom-size disk offering, else the smallest fixed one that holds `size_mib`.
async fn ephemeral_offering(ctx: &CallContext, size_mib: u64) -> Result<String, ActionError> {
    let offerings = ctx
        .cloud
        .list(&ListDiskOfferings::default())
        .await
        .map_err(ActionError::cloudstack("listing disk offerings"))?;
    let name = |o: &cloudstack::types::DiskOffering| o.name.clone().unwrap_or_else(|| o.id.clone());
    if let Some(custom) = offerings.iter().find(|o| o.iscustomized == Some(true)) {
        return Ok(name(custom));
    }
    offerings
        .iter()
        .filter(|o| o.disksize.unwrap_or(0).saturating_mul(1024) >= size_mib)
        .min_by_key(|o| o.disksize.unwrap_or(0))
        .map(name)
        .ok_or_else(|| {
            ActionError::Cloud(format!(
                "no disk offering can hold an ephemeral disk of {size_mib} MiB and none is custom-size; set cloudstack.default_offer.ephemeral_disk"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offering(name: &str, cpu: u64, memory: u64, custom: bool) -> ServiceOffering {
        ServiceOffering {
            id: name.to_owned(),
            name: Some(name.to_owned()),
            cpunumber: Some(cpu),
            memory: Some(memory),
            iscustomized: Some(custom),
            ..ServiceOffering::default()
        }
    }

    #[test]
    fn picks_the_smallest_fitting_offering() {
        let offerings = vec![
            offering("large", 4, 8192, false),
            offering("small", 1, 1024, false),
            offering("medium", 2, 2048, false),
            offering("custom", 0, 0, true),
        ];
        let wanted = |cpu, ram| VmResources {
            cpu,
            ram,
            ephemeral_disk_size: 1024,
        };
        assert_eq!(
            pick(&offerings, &wanted(1, 512)),
            Some(Pick::Fixed(&offerings[1]))
        );
        assert_eq!(
            pick(&offerings, &wanted(2, 2000)),
            Some(Pick::Fixed(&offerings[2]))
        );
        assert_eq!(
            pick(&offerings, &wanted(8, 1024)),
            Some(Pick::Custom(&offerings[3]))
        );
        assert_eq!(pick(&offerings[..3], &wanted(8, 1024)), None);
    }
}
