//! `create_vm`.
//!
//! 1. Everything that can be checked before touching CloudStack is: cloud properties, zone,
//!    offerings, networks, key pair, agent configuration. A failure here creates nothing.
//! 2. `deployVirtualMachine` with `startvm=false`, one NIC per network (`iptonetworklist`,
//!    default-gateway network first) and the ephemeral volume as the deploy's data disk. A
//!    static IP still held by a destroyed VM is freed or waited for ([`super::ip_release`]).
//! 3. The VM exists but is stopped, so its NICs' MACs and the ephemeral disk's device are
//!    known before the agent boots: the settings are built with them, stored (the registry
//!    serves them) and put in the user data (POST body) with `updateVirtualMachine`.
//! 4. Static NAT for a vip, then start (on the host of a host-local persistent disk) while the
//!    ephemeral volume is tagged.
//!
//! Any failure after step 2 rolls everything back ([`super::cleanup`]) before reporting.

use std::time::{Duration, Instant};

use agent_settings::{AgentConfig, Disks, Nic, RegistryAccess, SettingsInput};
use base64::Engine;
use cloudstack::CloudStackError;
use cloudstack::commands::{
    CreateTags, DeployVirtualMachine, EnableStaticNat, ListPublicIpAddresses, ListVirtualMachines,
    ListVolumes, StartVirtualMachine, UpdateVirtualMachine,
};
use cloudstack::types::{ServiceOffering, VirtualMachine};
use cpi_protocol::{AgentId, DiskCid, JsonObject, Networks, StemcellCid};
use cpi_store::NewVmSettings;
use serde_json::{Value, json};

use super::cleanup::{self, Created};
use super::cloud_properties::{VmCloudProperties, mib_to_gib};
use super::destroy::{self, is_permission_denied};
use super::ip_release::{self, Holder};
use super::networks::{self, NetworkPlan};
use super::offerings;
use super::placement::{self, LocalPin};
use crate::devices::DiskBus;
use crate::tags::{ResourceType, keys, roles};
use crate::volumes::list_or_empty;
use crate::{ActionError, CallContext};

/// Longest pause between two deploy attempts while a static IP is being released.
const MAX_IP_RETRY_DELAY: Duration = Duration::from_secs(5);
const FIRST_IP_RETRY_DELAY: Duration = Duration::from_millis(250);

/// What was decided before deploying.
#[derive(Debug)]
struct Spec {
    request: DeployVirtualMachine,
    plan: NetworkPlan,
    expects_ephemeral: bool,
    pin: Option<LocalPin>,
    agent: AgentConfig,
}

pub(crate) async fn run(
    ctx: &CallContext,
    agent_id: &AgentId,
    stemcell_cid: &StemcellCid,
    cloud_properties: &JsonObject,
    networks: &Networks,
    disk_cids: &[DiskCid],
    env: &JsonObject,
) -> Result<Value, ActionError> {
    let started = Instant::now();
    let properties = VmCloudProperties::parse(cloud_properties)?;
    let spec = prepare(ctx, &properties, stemcell_cid, networks, disk_cids).await?;
    let vm = deploy(ctx, &spec).await?;
    let mut created = Created {
        vm_id: vm.id.clone(),
        addresses: destroy::addresses(&vm),
        expects_ephemeral: spec.expects_ephemeral,
        ..Created::default()
    };
    match finish(ctx, &spec, &vm, &mut created, agent_id, networks, env).await {
        Ok(annotated) => {
            tracing::info!(
                vm_cid = %vm.id,
                agent_id = %agent_id.as_str(),
                stemcell_cid = %stemcell_cid.as_str(),
                nics = spec.plan.nics.len(),
                ephemeral_volume = ?created.ephemeral_volume,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "Created VM."
            );
            Ok(if ctx.api_version.is_v2_or_later() {
                json!([vm.id, annotated.to_value()])
            } else {
                json!(vm.id)
            })
        }
        Err(error) => {
            let problems = cleanup::rollback(ctx, &created).await;
            Err(after_deploy_failure(&vm.id, error, &problems))
        }
    }
}

/// Checks and resolves everything the deploy needs; creates nothing in CloudStack except a
/// missing affinity group.
async fn prepare(
    ctx: &CallContext,
    properties: &VmCloudProperties,
    stemcell_cid: &StemcellCid,
    networks: &Networks,
    disk_cids: &[DiskCid],
) -> Result<Spec, ActionError> {
    let cloud = &ctx.cloud;
    let agent = agent_config(ctx)?;
    let zone = properties
        .zone
        .as_deref()
        .unwrap_or(&ctx.config.cloudstack.default_zone);
    let zone_id = cloud.zone_id(zone).await.map_err(|error| {
        if error.is_not_found() {
            ActionError::CloudProperties(format!("zone '{zone}' not found in CloudStack"))
        } else {
            ActionError::CloudStack {
                during: format!("looking up zone '{zone}'"),
                source: error,
            }
        }
    })?;
    let offering = offerings::service_offering(cloud, &properties.compute_offering).await?;
    let details = custom_details(properties, &offering)?;
    let (diskofferingid, size) = ephemeral_disk(ctx, properties).await?;
    let plan = networks::plan(cloud, &zone_id, networks).await?;
    let affinitygroupids = match &properties.affinity_group {
        Some(name) => {
            vec![placement::affinity_group_id(cloud, name, properties.affinity_type()).await?]
        }
        None => Vec::new(),
    };
    let pin = placement::local_pin(cloud, disk_cids).await?;
    let name = format!("vm-{}", uuid::Uuid::new_v4());
    let request = DeployVirtualMachine {
        serviceofferingid: offering.id.clone(),
        templateid: stemcell_cid.as_str().to_owned(),
        zoneid: zone_id,
        displayname: Some(name.clone()),
        name: Some(name),
        iptonetworklist: plan.ip_to_network_list(),
        keypair: properties
            .key_name
            .clone()
            .or_else(|| ctx.config.cloudstack.default_key_name.clone()),
        affinitygroupids,
        securitygroupnames: properties.security_groups.clone(),
        rootdisksize: properties.root_disk_size.map(mib_to_gib),
        diskofferingid,
        size,
        details,
        // Started only once the user data carries the NICs' MACs.
        startvm: Some(false),
        ..DeployVirtualMachine::default()
    };
    Ok(Spec {
        expects_ephemeral: request.diskofferingid.is_some(),
        request,
        plan,
        pin,
        agent,
    })
}

/// `details` for a customized offering; `cpu`/`ram` on a fixed one are refused.
fn custom_details(
    properties: &VmCloudProperties,
    offering: &ServiceOffering,
) -> Result<Vec<(String, String)>, ActionError> {
    let name = offering.name.as_deref().unwrap_or(&offering.id);
    match (
        offering.iscustomized == Some(true),
        properties.cpu,
        properties.ram,
    ) {
        (true, Some(cpu), Some(ram)) => {
            let mut details = vec![
                ("cpuNumber".to_owned(), cpu.to_string()),
                ("memory".to_owned(), ram.to_string()),
            ];
            if let Some(speed) = properties.cpu_speed {
                details.push(("cpuSpeed".to_owned(), speed.to_string()));
            }
            Ok(details)
        }
        (true, _, _) => Err(ActionError::CloudProperties(format!(
            "compute offering '{name}' is customized: the VM type needs 'cpu' and 'ram'"
        ))),
        (false, Some(_), _) => Err(ActionError::CloudProperties(format!(
            "compute offering '{name}' is not customized: 'cpu', 'ram' and 'cpu_speed' apply only to customized offerings"
        ))),
        (false, None, _) => Ok(Vec::new()),
    }
}

/// The deploy's data disk (`diskofferingid`, `size` in GiB) that becomes the ephemeral volume.
async fn ephemeral_disk(
    ctx: &CallContext,
    properties: &VmCloudProperties,
) -> Result<(Option<String>, Option<u64>), ActionError> {
    let cloudstack = &ctx.config.cloudstack;
    let Some(name) = properties
        .ephemeral_disk_offering
        .as_deref()
        .or(cloudstack.default_offer.ephemeral_disk.as_deref())
    else {
        if properties.disk.is_some() {
            return Err(ActionError::CloudProperties(
                "'disk' needs 'ephemeral_disk_offering' (or cloudstack.default_offer.ephemeral_disk)"
                    .to_owned(),
            ));
        }
        return Ok((None, None));
    };
    let offering = offerings::disk_offering(&ctx.cloud, name).await?;
    if offering.iscustomized == Some(true) {
        let mib = properties
            .disk
            .unwrap_or(cloudstack.default_ephemeral_disk_size);
        return Ok((Some(offering.id), Some(mib_to_gib(mib))));
    }
    let fixed_gib = offering.disksize.unwrap_or(0);
    if let Some(mib) = properties.disk
        && mib > fixed_gib.saturating_mul(1024)
    {
        return Err(ActionError::CloudProperties(format!(
            "ephemeral disk offering '{name}' has a fixed size of {fixed_gib} GiB, less than 'disk' ({mib} MiB); use a custom-size offering"
        )));
    }
    Ok((Some(offering.id), None))
}

fn agent_config(ctx: &CallContext) -> Result<AgentConfig, ActionError> {
    let agent = &ctx.config.agent;
    let mbus = agent.mbus.clone().ok_or_else(|| {
        ActionError::Cloud(
            "agent.mbus is not configured: VMs would not know how to reach the director".to_owned(),
        )
    })?;
    let blobstore = match &agent.blobstore {
        Some(blobstore) => {
            let mut object = JsonObject::new();
            object.insert("provider".into(), json!(blobstore.provider));
            object.insert(
                "options".into(),
                Value::Object(blobstore.options.expose().clone()),
            );
            object
        }
        None => JsonObject::new(),
    };
    Ok(AgentConfig {
        mbus,
        ntp: agent.ntp.clone(),
        blobstore,
    })
}

/// Deploys, freeing a static IP still held by a destroyed VM when the deploy says it is taken.
async fn deploy(ctx: &CallContext, spec: &Spec) -> Result<VirtualMachine, ActionError> {
    let timeout = Duration::from_secs(ctx.config.cloudstack.ip_release_timeout);
    let deadline = Instant::now() + timeout;
    let mut delay = FIRST_IP_RETRY_DELAY;
    let mut expunged: Vec<String> = Vec::new();
    let mut attempts: u32 = 0;
    loop {
        attempts += 1;
        let error = match ctx.cloud.execute(&spec.request).await {
            Ok(vm) => {
                tracing::debug!(vm_cid = %vm.id, attempts, "Deployed VM (stopped).");
                return Ok(vm);
            }
            Err(error) => error,
        };
        let cleanup = clean_failed_deploy(ctx, spec, &error).await;
        let Some((nic, ip)) = ip_release::ip_in_use(&error, &spec.plan) else {
            return Err(deploy_failure(&error, &cleanup));
        };
        let holder = ip_release::find_holder(ctx, nic, ip).await;
        let holder_key = holder.describe();
        if !expunged.contains(&holder_key) && ip_release::try_free(ctx, &holder).await {
            expunged.push(holder_key);
            continue;
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(ActionError::VmCreationFailed {
                message: format!(
                    "static IP {ip} of network '{}' is still held by {} after waiting {}s (cloudstack.ip_release_timeout); CloudStack frees it when it expunges that VM{}",
                    nic.network,
                    holder.describe(),
                    timeout.as_secs(),
                    match holder {
                        Holder::Journaled(_) | Holder::Visible(_) => "",
                        Holder::Unknown => " (or the IP belongs to a VM outside BOSH)",
                    }
                ),
                ok_to_retry: true,
            });
        }
        tracing::info!(ip, network = %nic.network, holder = %holder.describe(), delay_ms = delay.as_millis() as u64,
            "Static IP still held; retrying the deploy after a pause.");
        tokio::time::sleep(delay.min(deadline - now)).await;
        delay = delay.saturating_mul(2).min(MAX_IP_RETRY_DELAY);
    }
}

/// Removes what a failed deploy left: the VM a failed or timed-out job names (state Error), or
/// a VM a lost answer may have created unseen (found by its unique name).
async fn clean_failed_deploy(ctx: &CallContext, spec: &Spec, error: &CloudStackError) -> String {
    let vm_ids: Vec<String> = match error {
        CloudStackError::JobFailed { object_id, .. }
        | CloudStackError::JobTimeout { object_id, .. } => object_id.iter().cloned().collect(),
        CloudStackError::Transport { .. } => {
            let name = spec.request.name.clone();
            match ctx
                .cloud
                .list(&ListVirtualMachines {
                    name: name.clone(),
                    ..ListVirtualMachines::default()
                })
                .await
            {
                Ok(vms) => vms
                    .into_iter()
                    .filter(|vm| vm.name == name)
                    .map(|vm| vm.id)
                    .collect(),
                Err(list_error) => {
                    return format!(
                        "; could not check whether a VM named {name:?} was created: {list_error}"
                    );
                }
            }
        }
        _ => Vec::new(),
    };
    let mut summary = String::new();
    for vm_id in vm_ids {
        let created = Created {
            vm_id: vm_id.clone(),
            expects_ephemeral: spec.expects_ephemeral,
            ..Created::default()
        };
        let problems = cleanup::rollback(ctx, &created).await;
        if problems.is_empty() {
            summary.push_str(&format!("; the failed VM {vm_id} was destroyed"));
        } else {
            summary.push_str(&format!(
                "; cleaning up the failed VM {vm_id} left: {}",
                problems.join("; ")
            ));
        }
    }
    summary
}

/// Whether the director may retry a failed deploy.
fn deploy_retryable(error: &CloudStackError) -> bool {
    match error {
        // Parameter and permission errors repeat; capacity and internal errors may not.
        CloudStackError::JobFailed { errorcode, .. } => !matches!(errorcode, 431 | 432 | 531),
        CloudStackError::Api { status, .. } => matches!(status, 429 | 530 | 533 | 534 | 535 | 537),
        CloudStackError::Transport { .. } | CloudStackError::Overloaded { .. } => true,
        _ => false,
    }
}

fn deploy_failure(error: &CloudStackError, cleanup: &str) -> ActionError {
    ActionError::VmCreationFailed {
        message: format!("deploying the VM failed: {error}{cleanup}"),
        ok_to_retry: deploy_retryable(error),
    }
}

/// The error reported after a rollback: what failed, and what could not be undone.
fn after_deploy_failure(vm_id: &str, error: ActionError, problems: &[String]) -> ActionError {
    let ok_to_retry = match &error {
        ActionError::VmCreationFailed { ok_to_retry, .. } => *ok_to_retry,
        ActionError::CloudStack { source, .. } => {
            source.is_retryable()
                || matches!(source, CloudStackError::JobFailed { errorcode, .. } if !matches!(errorcode, 431 | 432 | 531))
        }
        ActionError::Store { source, .. } => source.is_unavailable(),
        _ => false,
    };
    let reason = match &error {
        ActionError::VmCreationFailed { message, .. } => message.clone(),
        other => other.to_string(),
    };
    let cleanup = if problems.is_empty() {
        format!("VM {vm_id}, its ephemeral volume, static NAT and settings were removed")
    } else {
        format!(
            "cleanup of VM {vm_id} was incomplete, remove by hand: {}",
            problems.join("; ")
        )
    };
    ActionError::VmCreationFailed {
        message: format!("creating the VM failed after deploying it: {reason}; {cleanup}"),
        ok_to_retry,
    }
}

/// Everything after the deploy; on error the caller rolls back what `created` records.
async fn finish(
    ctx: &CallContext,
    spec: &Spec,
    vm: &VirtualMachine,
    created: &mut Created,
    agent_id: &AgentId,
    networks: &Networks,
    env: &JsonObject,
) -> Result<Networks, ActionError> {
    let bus = DiskBus::for_hypervisor(vm.hypervisor.as_deref().unwrap_or("XenServer"));
    let ephemeral_path = if spec.expects_ephemeral {
        let (volume_id, path) = ephemeral_volume(ctx, vm, bus).await?;
        created.ephemeral_volume = Some(volume_id);
        Some(path)
    } else {
        None
    };
    let nics = networks::match_nics(&spec.plan, vm)?;
    let annotated = networks::annotate(networks, &spec.plan, &nics);
    let agent_nics: Vec<Nic> = spec
        .plan
        .nics
        .iter()
        .zip(&nics)
        .map(|(planned, nic)| Nic {
            network: planned.network.clone(),
            mac: nic.macaddress.clone(),
        })
        .collect();
    let vm_name = vm.name.clone().unwrap_or_else(|| vm.id.clone());
    let disks = Disks {
        system: bus.device_path(0).unwrap_or_else(|| "/dev/xvda".to_owned()),
        ephemeral: ephemeral_path,
        persistent: JsonObject::new(),
    };
    let settings = agent_settings::build_settings(&SettingsInput {
        agent_id,
        vm_name: &vm_name,
        networks: &annotated,
        nics: &agent_nics,
        disks: &disks,
        env,
        agent: &spec.agent,
    })
    .map_err(|error| ActionError::Cloud(format!("building the agent settings: {error}")))?;
    ctx.store
        .put_settings(&NewVmSettings {
            vm_cid: vm.id.clone(),
            agent_id: agent_id.as_str().to_owned(),
            settings: settings.to_string(),
            stemcell_api_version: ctx.context.stemcell_api_version().map(i64::from),
        })
        .await
        .map_err(ActionError::store(format!(
            "storing the settings of VM {}",
            vm.id
        )))?;
    let user_data = user_data(ctx, &vm.id, &settings, &annotated).await?;
    ctx.cloud
        .execute(&UpdateVirtualMachine {
            id: vm.id.clone(),
            userdata: Some(user_data),
            ..UpdateVirtualMachine::default()
        })
        .await
        .map_err(ActionError::cloudstack(format!(
            "setting the user data of VM {}",
            vm.id
        )))?;
    if let Some((network, ip)) = &spec.plan.vip {
        created.nat_ip_id = Some(enable_vip(ctx, vm, &spec.plan, network, ip).await?);
    }
    let (running, tagged) = tokio::join!(
        start(ctx, &vm.id, spec.pin.as_ref()),
        tag_ephemeral(ctx, &vm.id, created.ephemeral_volume.as_deref())
    );
    let running = running?;
    tagged?;
    if let Some(pin) = &spec.pin
        && running.hostid.as_deref() != Some(pin.host_id.as_str())
    {
        return Err(ActionError::VmCreationFailed {
            message: format!(
                "persistent disk {} lives on the local storage of host {} ({}), but the VM started on host {}; placing a VM on a host needs a root admin key (hostid), which this account does not have",
                pin.volume_id,
                pin.host_id,
                pin.storage,
                running.hostid.as_deref().unwrap_or("unknown"),
            ),
            ok_to_retry: false,
        });
    }
    Ok(annotated)
}

/// The ephemeral volume the deploy created and its device path.
async fn ephemeral_volume(
    ctx: &CallContext,
    vm: &VirtualMachine,
    bus: DiskBus,
) -> Result<(String, String), ActionError> {
    let volumes = list_or_empty(
        ctx.cloud
            .list(&ListVolumes {
                virtualmachineid: Some(vm.id.clone()),
                volume_type: Some("DATADISK".to_owned()),
                ..ListVolumes::default()
            })
            .await,
    )
    .map_err(ActionError::cloudstack(format!(
        "listing the volumes of VM {}",
        vm.id
    )))?;
    let [volume] = volumes.as_slice() else {
        return Err(ActionError::Cloud(format!(
            "expected the deploy to create one ephemeral data volume for VM {}, found {}",
            vm.id,
            volumes.len()
        )));
    };
    let path = volume
        .deviceid
        .and_then(|id| u32::try_from(id).ok())
        .and_then(|id| bus.device_path(id))
        .ok_or_else(|| {
            ActionError::Cloud(format!(
                "ephemeral volume {} of VM {} has no usable device id ({:?})",
                volume.id, vm.id, volume.deviceid
            ))
        })?;
    Ok((volume.id.clone(), path))
}

/// Base64 user data: the settings plus what older stemcells read (`server.name`,
/// `registry.endpoint` with the VM's own credential, `dns.nameserver`).
async fn user_data(
    ctx: &CallContext,
    vm_id: &str,
    settings: &Value,
    networks: &Networks,
) -> Result<String, ActionError> {
    let nameservers = agent_settings::nameservers(networks);
    let Some(endpoint) = &ctx.config.registry.endpoint else {
        if ctx.registry_needed() {
            tracing::warn!(
                vm_cid = vm_id,
                "The stemcell or the call predates API v2 but registry.endpoint is not configured; the agent gets its settings from user data only."
            );
        }
        let mut document = match settings {
            Value::Object(object) => object.clone(),
            _ => JsonObject::new(),
        };
        document.insert("server".into(), json!({ "name": vm_id }));
        document.insert("dns".into(), json!({ "nameserver": nameservers }));
        return Ok(
            base64::engine::general_purpose::STANDARD.encode(Value::Object(document).to_string())
        );
    };
    let credential = cpi_registry::mint_vm_credential(ctx.store.as_ref(), vm_id)
        .await
        .map_err(ActionError::store(format!(
            "minting the registry credential of VM {vm_id}"
        )))?;
    let endpoint = endpoint.to_string();
    let user_data = agent_settings::build_user_data(
        settings,
        vm_id,
        &RegistryAccess {
            endpoint: &endpoint,
            username: &credential.username,
            password: &credential.password,
        },
        &nameservers,
    )
    .map_err(|error| ActionError::Cloud(format!("building the user data: {error}")))?;
    Ok(user_data.base64().to_owned())
}

/// Static NAT of the vip's public IP to the VM; returns the public IP's id.
async fn enable_vip(
    ctx: &CallContext,
    vm: &VirtualMachine,
    plan: &NetworkPlan,
    network: &str,
    ip: &str,
) -> Result<String, ActionError> {
    let addresses = ctx
        .cloud
        .list(&ListPublicIpAddresses {
            ipaddress: Some(ip.to_owned()),
            ..ListPublicIpAddresses::default()
        })
        .await
        .map_err(ActionError::cloudstack(format!(
            "looking up public IP {ip} of vip network '{network}'"
        )))?;
    let Some(address) = addresses
        .into_iter()
        .find(|a| a.ipaddress.as_deref() == Some(ip))
    else {
        return Err(ActionError::VmCreationFailed {
            message: format!(
                "vip network '{network}': {ip} is not a public IP allocated to this CloudStack account (allocate it with associateIpAddress first)"
            ),
            ok_to_retry: false,
        });
    };
    // An address of an isolated network maps to the VM's NIC on that network; a VPC address
    // has no network of its own and needs the tier, taken as the default NIC's.
    let networkid = match &address.associatednetworkid {
        Some(_) => None,
        None => plan.nics.first().map(|nic| nic.network_id.clone()),
    };
    ctx.cloud
        .execute(&EnableStaticNat {
            ipaddressid: address.id.clone(),
            virtualmachineid: vm.id.clone(),
            networkid,
            vmguestip: None,
        })
        .await
        .map_err(ActionError::cloudstack(format!(
            "enabling static NAT from {ip} (vip network '{network}') to VM {}",
            vm.id
        )))?;
    tracing::info!(vm_cid = %vm.id, vip = ip, ip_id = %address.id, "Enabled static NAT.");
    Ok(address.id)
}

/// Starts the VM, on the pinned host when there is one and the account may choose hosts.
async fn start(
    ctx: &CallContext,
    vm_id: &str,
    pin: Option<&LocalPin>,
) -> Result<VirtualMachine, ActionError> {
    let request = |hostid: Option<String>| StartVirtualMachine {
        id: vm_id.to_owned(),
        hostid,
    };
    let during = || format!("starting VM {vm_id}");
    match ctx
        .cloud
        .execute(&request(pin.map(|p| p.host_id.clone())))
        .await
    {
        Ok(vm) => Ok(vm),
        Err(error) if pin.is_some() && is_permission_denied(&error) => {
            tracing::warn!(
                vm_cid = vm_id,
                "The account may not choose hosts; starting without hostid."
            );
            ctx.cloud
                .execute(&request(None))
                .await
                .map_err(ActionError::cloudstack(during()))
        }
        Err(error) => Err(ActionError::CloudStack {
            during: during(),
            source: error,
        }),
    }
}

/// Tags the ephemeral volume so that it is recognised (by `delete_vm` and the orphan cleaner).
async fn tag_ephemeral(
    ctx: &CallContext,
    vm_id: &str,
    volume_id: Option<&str>,
) -> Result<(), ActionError> {
    let Some(volume_id) = volume_id else {
        return Ok(());
    };
    let mut tags = vec![
        (keys::ROLE.to_owned(), roles::EPHEMERAL.to_owned()),
        (keys::VM.to_owned(), vm_id.to_owned()),
    ];
    if let Some(uuid) = ctx.director_uuid() {
        tags.push((keys::DIRECTOR.to_owned(), uuid.to_owned()));
    }
    // A new volume has no tags, so they are created directly rather than through
    // `tags::set_tags`, which first lists the existing ones.
    ctx.cloud
        .execute(&CreateTags {
            resourceids: vec![volume_id.to_owned()],
            resourcetype: ResourceType::Volume.as_str().to_owned(),
            tags,
        })
        .await
        .map_err(ActionError::cloudstack(format!(
            "tagging ephemeral volume {volume_id}"
        )))?;
    Ok(())
}
