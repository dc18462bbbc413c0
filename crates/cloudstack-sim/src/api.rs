//! Command handlers: validate parameters, change the [`World`], answer with the body that goes
//! under `<command>response`.
//!
//! Async commands validate and change state at submission (so later requests see consistent
//! reservations such as IPs and device ids) and record a [`Job`]; VM state transitions
//! (`Starting` → `Running`, destroy, expunge) are deferred [`Effect`]s applied when the job's
//! duration has passed. Time is evaluated lazily by [`advance`] before every request.

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::model::{
    AffinityGroup, Effect, Job, JobResultKind, JobStatus, Nic, PublicIp, SecurityGroup, Snapshot,
    SshKeyPair, Tag, Template, Vm, VmState, Volume, VolumeType, World, cidr_contains,
};
use crate::params::{Params, list_body};
use crate::render;

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Account UUID.
    pub account_id: String,
    /// User UUID.
    pub user_id: String,
    /// Root admin?
    pub is_admin: bool,
}

/// Per-request context.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The authenticated caller.
    pub caller: &'a Caller,
    /// Current time (ms since epoch).
    pub now_ms: u64,
    /// How long async jobs stay pending.
    pub job_duration_ms: u64,
    /// An injected job failure for this call, if any.
    pub job_fault: Option<(u16, String)>,
    /// Whether the request came as GET (user data size limit).
    pub is_get: bool,
    /// Base URL of the upload endpoint (`http://host:port/upload`).
    pub upload_base: &'a str,
    /// Key signing upload parameters.
    pub upload_key: &'a [u8],
}

/// Result of a command.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Body placed under `<command>response`.
    pub body: Value,
    /// A template whose download must start.
    pub start_download: Option<String>,
}

impl Outcome {
    fn body(body: Value) -> Self {
        Self {
            body,
            start_download: None,
        }
    }
}

/// Every command the emulator knows, with whether it is asynchronous.
pub const COMMANDS: &[(&str, bool)] = &[
    ("listZones", false),
    ("listServiceOfferings", false),
    ("listDiskOfferings", false),
    ("listOsTypes", false),
    ("listNetworks", false),
    ("listTemplates", false),
    ("registerTemplate", false),
    ("deleteTemplate", true),
    ("getUploadParamsForTemplate", false),
    ("deployVirtualMachine", true),
    ("destroyVirtualMachine", true),
    ("expungeVirtualMachine", true),
    ("rebootVirtualMachine", true),
    ("startVirtualMachine", true),
    ("stopVirtualMachine", true),
    ("listVirtualMachines", false),
    ("getVirtualMachineUserData", false),
    ("updateVirtualMachine", false),
    ("createVolume", true),
    ("attachVolume", true),
    ("detachVolume", true),
    ("deleteVolume", false),
    ("resizeVolume", true),
    ("migrateVolume", true),
    ("listVolumes", false),
    ("createSnapshot", true),
    ("deleteSnapshot", true),
    ("listSnapshots", false),
    ("createTags", true),
    ("deleteTags", true),
    ("listTags", false),
    ("associateIpAddress", true),
    ("disassociateIpAddress", true),
    ("listPublicIpAddresses", false),
    ("enableStaticNat", false),
    ("disableStaticNat", true),
    ("createSSHKeyPair", false),
    ("registerSSHKeyPair", false),
    ("listSSHKeyPairs", false),
    ("deleteSSHKeyPair", false),
    ("createAffinityGroup", true),
    ("listAffinityGroups", false),
    ("deleteAffinityGroup", true),
    ("createSecurityGroup", false),
    ("listSecurityGroups", false),
    ("deleteSecurityGroup", false),
    ("listProjects", false),
    ("queryAsyncJobResult", false),
    ("listAsyncJobs", false),
];

/// The canonical spelling of a known command (CloudStack matches command names exactly).
pub fn lookup_command(name: &str) -> Option<(&'static str, bool)> {
    COMMANDS.iter().copied().find(|(c, _)| *c == name)
}

/// Whether a command only reads state (no need to persist after it).
pub fn is_read_only(command: &str) -> bool {
    command.starts_with("list") || command.starts_with("get") || command == "queryAsyncJobResult"
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

// ---------------------------------------------------------------------------------------------
// Time: job completion and the expunge scavenger.

/// Completes due jobs and expunges VMs whose expunge delay has passed.
pub fn advance(world: &mut World, now_ms: u64, expunge_delay_ms: u64) {
    loop {
        let due = world
            .jobs
            .iter()
            .enumerate()
            .filter(|(_, j)| j.status == JobStatus::Pending && j.ready_at_ms <= now_ms)
            .min_by_key(|(_, j)| j.ready_at_ms)
            .map(|(i, _)| i);
        let Some(index) = due else { break };
        complete_job(world, index);
    }
    let expired: Vec<String> = world
        .vms
        .iter()
        .filter(|vm| {
            vm.state == VmState::Destroyed
                && vm
                    .destroyed_at_ms
                    .is_some_and(|at| at.saturating_add(expunge_delay_ms) <= now_ms)
        })
        .map(|vm| vm.id.clone())
        .collect();
    for vm_id in expired {
        tracing::info!(vm_id = %vm_id, "expunge delay passed; expunging");
        expunge_vm(world, &vm_id);
    }
}

fn complete_job(world: &mut World, index: usize) {
    let job = world.jobs[index].clone();
    let done_at = job.ready_at_ms;
    let (status, result) = if let Some((code, text)) = &job.failure {
        for effect in &job.failure_effects {
            apply_effect(world, effect, done_at);
        }
        (
            JobStatus::Failed,
            json!({"uuidList": [], "errorcode": code, "cserrorcode": cs_code(*code), "errortext": text}),
        )
    } else {
        let mut expunge = Vec::new();
        for effect in &job.effects {
            match effect {
                Effect::ExpungeVm { vm_id } => {
                    if let Some(vm) = world.vms.iter_mut().find(|v| &v.id == vm_id) {
                        vm.state = VmState::Expunging;
                    }
                    expunge.push(vm_id.clone());
                }
                other => apply_effect(world, other, done_at),
            }
        }
        clear_pending(world, &job.id);
        let result = render_result(world, &job.result_kind);
        for vm_id in expunge {
            expunge_vm(world, &vm_id);
        }
        (JobStatus::Succeeded, result)
    };
    clear_pending(world, &job.id);
    tracing::debug!(job_id = %job.id, command = %job.command, ?status, "async job finished");
    if let Some(stored) = world.jobs.get_mut(index) {
        stored.status = status;
        stored.result = Some(result);
        stored.completed_ms = Some(done_at);
    }
}

fn cs_code(code: u16) -> u32 {
    match code {
        431 => 4350,
        531 => 4365,
        533 => 4325,
        536 => 4375,
        _ => 4250,
    }
}

fn clear_pending(world: &mut World, job_id: &str) {
    for vm in &mut world.vms {
        if vm.pending_job.as_deref() == Some(job_id) {
            vm.pending_job = None;
        }
    }
    for vol in &mut world.volumes {
        if vol.pending_job.as_deref() == Some(job_id) {
            vol.pending_job = None;
        }
    }
}

fn render_result(world: &World, kind: &JobResultKind) -> Value {
    let missing = || json!({"success": true});
    match kind {
        JobResultKind::Success => json!({"success": true}),
        JobResultKind::Vm(id) => world
            .vms
            .iter()
            .find(|v| &v.id == id)
            .map(|v| json!({"virtualmachine": render::vm(world, v)}))
            .unwrap_or_else(missing),
        JobResultKind::Volume(id) => world
            .volumes
            .iter()
            .find(|v| &v.id == id)
            .map(|v| json!({"volume": render::volume(world, v)}))
            .unwrap_or_else(missing),
        JobResultKind::Snapshot(id) => world
            .snapshots
            .iter()
            .find(|s| &s.id == id)
            .map(|s| json!({"snapshot": render::snapshot(world, s)}))
            .unwrap_or_else(missing),
        JobResultKind::IpAddress(id) => world
            .public_ips
            .iter()
            .find(|i| &i.id == id)
            .map(|i| json!({"ipaddress": render::public_ip(world, i)}))
            .unwrap_or_else(missing),
        JobResultKind::AffinityGroup(id) => world
            .affinity_groups
            .iter()
            .find(|g| &g.id == id)
            .map(|g| json!({"affinitygroup": render::affinity_group(world, g)}))
            .unwrap_or_else(missing),
        JobResultKind::Template(id) => world
            .templates
            .iter()
            .find(|t| &t.id == id)
            .map(|t| json!({"template": render::template(world, t)}))
            .unwrap_or_else(missing),
    }
}

fn apply_effect(world: &mut World, effect: &Effect, at_ms: u64) {
    match effect {
        Effect::VmState { vm_id, state } => {
            if let Some(vm) = world.vms.iter_mut().find(|v| &v.id == vm_id) {
                vm.state = *state;
            }
        }
        Effect::DestroyVm { vm_id } => {
            if let Some(vm) = world.vms.iter_mut().find(|v| &v.id == vm_id) {
                vm.state = VmState::Destroyed;
                vm.destroyed_at_ms = Some(at_ms);
            }
        }
        Effect::ExpungeVm { vm_id } => expunge_vm(world, vm_id),
        Effect::IpAllocated { ip_id } => {
            if let Some(ip) = world.public_ips.iter_mut().find(|i| &i.id == ip_id) {
                ip.state = "Allocated".into();
            }
        }
    }
}

/// Removes a VM, its root volume and its tags, detaches its data volumes, releases static NAT
/// and frees its IPs (they simply disappear with the NICs).
fn expunge_vm(world: &mut World, vm_id: &str) {
    let Some(pos) = world.vms.iter().position(|v| v.id == vm_id) else {
        return;
    };
    world.vms.remove(pos);
    let root_ids: Vec<String> = world
        .volumes
        .iter()
        .filter(|v| v.vm_id.as_deref() == Some(vm_id) && v.kind == VolumeType::Root)
        .map(|v| v.id.clone())
        .collect();
    world.volumes.retain(|v| !root_ids.contains(&v.id));
    for vol in &mut world.volumes {
        if vol.vm_id.as_deref() == Some(vm_id) {
            vol.vm_id = None;
            vol.device_id = None;
        }
    }
    for ip in &mut world.public_ips {
        if ip.static_nat_vm.as_deref() == Some(vm_id) {
            ip.static_nat_vm = None;
        }
    }
    world
        .tags
        .retain(|t| t.resource_id != vm_id && !root_ids.contains(&t.resource_id));
    world.expunged_vm_ids.push(vm_id.to_owned());
}

// ---------------------------------------------------------------------------------------------
// Dispatch.

/// Runs one command. The caller has already authenticated the request and advanced time.
pub fn dispatch(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Outcome, ApiError> {
    let body = match params.command() {
        "listZones" => list_zones(world, params)?,
        "listServiceOfferings" => list_service_offerings(world, params)?,
        "listDiskOfferings" => list_disk_offerings(world, params)?,
        "listOsTypes" => list_os_types(world, params)?,
        "listNetworks" => list_networks(world, params)?,
        "listTemplates" => list_templates(world, ctx, params)?,
        "registerTemplate" => return register_template(world, ctx, params),
        "deleteTemplate" => delete_template(world, ctx, params)?,
        "getUploadParamsForTemplate" => get_upload_params(world, ctx, params)?,
        "deployVirtualMachine" => deploy_vm(world, ctx, params)?,
        "destroyVirtualMachine" => destroy_vm(world, ctx, params)?,
        "expungeVirtualMachine" => expunge_vm_cmd(world, ctx, params)?,
        "rebootVirtualMachine" => reboot_vm(world, ctx, params)?,
        "startVirtualMachine" => start_vm(world, ctx, params)?,
        "stopVirtualMachine" => stop_vm(world, ctx, params)?,
        "listVirtualMachines" => list_vms(world, ctx, params)?,
        "getVirtualMachineUserData" => get_user_data(world, ctx, params)?,
        "updateVirtualMachine" => update_vm(world, ctx, params)?,
        "createVolume" => create_volume(world, ctx, params)?,
        "attachVolume" => attach_volume(world, ctx, params)?,
        "detachVolume" => detach_volume(world, ctx, params)?,
        "deleteVolume" => delete_volume(world, ctx, params)?,
        "resizeVolume" => resize_volume(world, ctx, params)?,
        "migrateVolume" => migrate_volume(world, ctx, params)?,
        "listVolumes" => list_volumes(world, ctx, params)?,
        "createSnapshot" => create_snapshot(world, ctx, params)?,
        "deleteSnapshot" => delete_snapshot(world, ctx, params)?,
        "listSnapshots" => list_snapshots(world, ctx, params)?,
        "createTags" => create_tags(world, ctx, params)?,
        "deleteTags" => delete_tags(world, ctx, params)?,
        "listTags" => list_tags(world, ctx, params)?,
        "associateIpAddress" => associate_ip(world, ctx, params)?,
        "disassociateIpAddress" => disassociate_ip(world, ctx, params)?,
        "listPublicIpAddresses" => list_public_ips(world, ctx, params)?,
        "enableStaticNat" => enable_static_nat(world, ctx, params)?,
        "disableStaticNat" => disable_static_nat(world, ctx, params)?,
        "createSSHKeyPair" => create_key_pair(world, ctx, params)?,
        "registerSSHKeyPair" => register_key_pair(world, ctx, params)?,
        "listSSHKeyPairs" => list_key_pairs(world, ctx, params)?,
        "deleteSSHKeyPair" => delete_key_pair(world, ctx, params)?,
        "createAffinityGroup" => create_affinity_group(world, ctx, params)?,
        "listAffinityGroups" => list_affinity_groups(world, ctx, params)?,
        "deleteAffinityGroup" => delete_affinity_group(world, ctx, params)?,
        "createSecurityGroup" => create_security_group(world, ctx, params)?,
        "listSecurityGroups" => list_security_groups(world, ctx, params)?,
        "deleteSecurityGroup" => delete_security_group(world, ctx, params)?,
        "listProjects" => list_projects(world, params)?,
        "queryAsyncJobResult" => query_job(world, ctx, params)?,
        "listAsyncJobs" => list_jobs(world, ctx, params)?,
        other => return Err(ApiError::unknown_command(other)),
    };
    Ok(Outcome::body(body))
}

// ---------------------------------------------------------------------------------------------
// Helpers.

struct JobSpec {
    command: &'static str,
    instance_type: Option<&'static str>,
    instance_id: Option<String>,
    result_kind: JobResultKind,
    effects: Vec<Effect>,
    failure_effects: Vec<Effect>,
    failure: Option<(u16, String)>,
}

impl JobSpec {
    fn new(command: &'static str, result_kind: JobResultKind) -> Self {
        Self {
            command,
            instance_type: None,
            instance_id: None,
            result_kind,
            effects: Vec::new(),
            failure_effects: Vec::new(),
            failure: None,
        }
    }

    fn instance(mut self, kind: &'static str, id: &str) -> Self {
        self.instance_type = Some(kind);
        self.instance_id = Some(id.to_owned());
        self
    }
}

fn submit(world: &mut World, ctx: &Ctx<'_>, spec: JobSpec) -> String {
    let id = new_id();
    let failure = spec.failure.or_else(|| ctx.job_fault.clone());
    world.jobs.push(Job {
        id: id.clone(),
        account_id: ctx.caller.account_id.clone(),
        user_id: ctx.caller.user_id.clone(),
        command: spec.command.to_owned(),
        instance_type: spec.instance_type.map(str::to_owned),
        instance_id: spec.instance_id,
        created_ms: ctx.now_ms,
        ready_at_ms: ctx.now_ms.saturating_add(ctx.job_duration_ms),
        completed_ms: None,
        status: JobStatus::Pending,
        result_kind: spec.result_kind,
        effects: spec.effects,
        failure,
        failure_effects: spec.failure_effects,
        result: None,
    });
    // Keep the job table bounded: forget the oldest finished jobs beyond a generous limit.
    const MAX_JOBS: usize = 10_000;
    if world.jobs.len() > MAX_JOBS
        && let Some(pos) = world
            .jobs
            .iter()
            .position(|j| j.status != JobStatus::Pending)
    {
        world.jobs.remove(pos);
    }
    id
}

/// For async commands that change state at submission: when a failure is injected, nothing
/// changes and the job simply fails.
fn injected_failure(world: &mut World, ctx: &Ctx<'_>, command: &'static str) -> Option<Value> {
    ctx.job_fault.as_ref()?;
    let job_id = submit(world, ctx, JobSpec::new(command, JobResultKind::Success));
    Some(json!({"jobid": job_id}))
}

fn can_see(ctx: &Ctx<'_>, owner: &str) -> bool {
    ctx.caller.is_admin || ctx.caller.account_id == owner
}

fn find_vm<'w>(world: &'w World, ctx: &Ctx<'_>, param: &str, id: &str) -> Result<&'w Vm, ApiError> {
    world
        .vms
        .iter()
        .find(|v| v.id == id && can_see(ctx, &v.account_id))
        .ok_or_else(|| ApiError::bad_id(param, id))
}

fn vm_index(world: &World, ctx: &Ctx<'_>, param: &str, id: &str) -> Result<usize, ApiError> {
    world
        .vms
        .iter()
        .position(|v| v.id == id && can_see(ctx, &v.account_id))
        .ok_or_else(|| ApiError::bad_id(param, id))
}

fn volume_index(world: &World, ctx: &Ctx<'_>, param: &str, id: &str) -> Result<usize, ApiError> {
    world
        .volumes
        .iter()
        .position(|v| v.id == id && can_see(ctx, &v.account_id))
        .ok_or_else(|| ApiError::bad_id(param, id))
}

fn matches_tags(world: &World, resource_id: &str, filters: &[(String, Option<String>)]) -> bool {
    filters.iter().all(|(key, value)| {
        world.tags.iter().any(|t| {
            t.resource_id == resource_id
                && &t.key == key
                && value.as_ref().is_none_or(|v| &t.value == v)
        })
    })
}

fn keyword_match(params: &Params, name: &str) -> bool {
    params
        .get("keyword")
        .is_none_or(|k| name.to_lowercase().contains(&k.to_lowercase()))
}

fn page(world: &World, params: &Params, key: &str, items: Vec<Value>) -> Result<Value, ApiError> {
    list_body(params, world.settings.default_page_size, key, items)
}

// ---------------------------------------------------------------------------------------------
// Inventory lists.

fn list_zones(world: &World, params: &Params) -> Result<Value, ApiError> {
    let id = params.get("id");
    let name = params.get("name");
    let items = world
        .zones
        .iter()
        .filter(|z| id.is_none_or(|i| z.id == i))
        .filter(|z| name.is_none_or(|n| z.name == n))
        .filter(|z| {
            params
                .get("networktype")
                .is_none_or(|t| z.networktype.eq_ignore_ascii_case(t))
        })
        .map(|z| render::zone(world, z))
        .collect();
    page(world, params, "zone", items)
}

fn list_service_offerings(world: &World, params: &Params) -> Result<Value, ApiError> {
    let id = params.get("id");
    let name = params.get("name");
    let items = world
        .service_offerings
        .iter()
        .filter(|o| id.is_none_or(|i| o.id == i))
        .filter(|o| name.is_none_or(|n| o.name == n))
        .filter(|o| keyword_match(params, &o.name))
        .map(|o| {
            let mut v = json!({
                "id": o.id,
                "name": o.name,
                "displaytext": o.displaytext,
                "cpuspeed": o.cpuspeed,
                "created": "2024-01-01T00:00:00+0000",
                "storagetype": o.storagetype,
                "provisioningtype": "thin",
                "offerha": false,
                "limitcpuuse": false,
                "isvolatile": false,
                "issystem": false,
                "defaultuse": false,
                "iscustomized": o.iscustomized,
                "cacheMode": "none",
                "rootdisksize": 0,
            });
            if !o.iscustomized {
                v["cpunumber"] = json!(o.cpunumber);
                v["memory"] = json!(o.memory);
            }
            v
        })
        .collect();
    page(world, params, "serviceoffering", items)
}

fn list_disk_offerings(world: &World, params: &Params) -> Result<Value, ApiError> {
    let id = params.get("id");
    let name = params.get("name");
    let items = world
        .disk_offerings
        .iter()
        .filter(|o| id.is_none_or(|i| o.id == i))
        .filter(|o| name.is_none_or(|n| o.name == n))
        .filter(|o| params.get("storagetype").is_none_or(|s| o.storagetype == s))
        .filter(|o| keyword_match(params, &o.name))
        .map(|o| {
            json!({
                "id": o.id,
                "name": o.name,
                "displaytext": o.displaytext,
                "disksize": o.disksize,
                "created": "2024-01-01T00:00:00+0000",
                "iscustomized": o.iscustomized,
                "storagetype": o.storagetype,
                "provisioningtype": "thin",
                "cacheMode": "none",
                "displayoffering": true,
            })
        })
        .collect();
    page(world, params, "diskoffering", items)
}

fn list_os_types(world: &World, params: &Params) -> Result<Value, ApiError> {
    let id = params.get("id");
    let description = params.get("description");
    let items = world
        .os_types
        .iter()
        .filter(|o| id.is_none_or(|i| o.id == i))
        .filter(|o| description.is_none_or(|d| o.description == d))
        .filter(|o| keyword_match(params, &o.description))
        .map(|o| {
            json!({
                "id": o.id,
                "description": o.description,
                "name": o.description,
                "oscategoryid": o.oscategoryid,
                "oscategoryname": "Other",
                "isuserdefined": false,
            })
        })
        .collect();
    page(world, params, "ostype", items)
}

fn list_networks(world: &World, params: &Params) -> Result<Value, ApiError> {
    let id = params.get("id");
    let filters = params.tag_filters();
    let items = world
        .networks
        .iter()
        .filter(|n| id.is_none_or(|i| n.id == i))
        .filter(|n| params.get("zoneid").is_none_or(|z| n.zone_id == z))
        .filter(|n| params.get("name").is_none_or(|x| n.name == x))
        .filter(|n| {
            params
                .get("type")
                .is_none_or(|t| n.kind.eq_ignore_ascii_case(t))
        })
        .filter(|n| keyword_match(params, &n.name))
        .filter(|n| matches_tags(world, &n.id, &filters))
        .map(|n| render::network(world, n))
        .collect();
    page(world, params, "network", items)
}

fn list_projects(world: &World, params: &Params) -> Result<Value, ApiError> {
    let items = world
        .projects
        .iter()
        .filter(|p| params.get("id").is_none_or(|i| p.id == i))
        .filter(|p| params.get("name").is_none_or(|n| p.name == n))
        .map(|p| {
            json!({
                "id": p.id,
                "name": p.name,
                "displaytext": p.name,
                "domainid": crate::model::ids::DOMAIN,
                "domain": "ROOT",
                "state": "Active",
                "tags": [],
            })
        })
        .collect();
    page(world, params, "project", items)
}

// ---------------------------------------------------------------------------------------------
// Templates.

const TEMPLATE_FILTERS: &[&str] = &[
    "featured",
    "self",
    "selfexecutable",
    "sharedexecutable",
    "executable",
    "community",
    "all",
];

fn list_templates(world: &World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let filter = params.required("templatefilter")?;
    if !TEMPLATE_FILTERS.contains(&filter) {
        return Err(ApiError::param(format!(
            "Invalid parameter templatefilter value={filter}; valid values are {}",
            TEMPLATE_FILTERS.join(", ")
        )));
    }
    if filter == "all" && !ctx.caller.is_admin {
        return Err(ApiError::permission(
            "Only ROOT admins are allowed to list all templates",
        ));
    }
    let own = |t: &Template| t.account_id == ctx.caller.account_id;
    let tag_filters = params.tag_filters();
    let isready = params.bool("isready")?;
    let items = world
        .templates
        .iter()
        .filter(|t| match filter {
            "featured" => t.isfeatured && t.isready,
            "self" => own(t),
            "selfexecutable" => own(t) && t.isready,
            "sharedexecutable" => false,
            "executable" => t.isready && (own(t) || t.ispublic),
            "community" => t.ispublic && !t.isfeatured && t.isready,
            _ => true,
        })
        .filter(|t| params.get("id").is_none_or(|i| t.id == i))
        .filter(|t| params.get("name").is_none_or(|n| t.name == n))
        .filter(|t| params.get("zoneid").is_none_or(|z| t.zone_id == z))
        .filter(|t| {
            params
                .get("hypervisor")
                .is_none_or(|h| t.hypervisor.eq_ignore_ascii_case(h))
        })
        .filter(|t| isready.is_none_or(|r| t.isready == r))
        .filter(|t| keyword_match(params, &t.name))
        .filter(|t| matches_tags(world, &t.id, &tag_filters))
        .map(|t| render::template(world, t))
        .collect();
    page(world, params, "template", items)
}

const FORMATS: &[(&str, &[&str])] = &[
    ("QCOW2", &["qcow2", "img", "metalink"]),
    ("RAW", &["img", "raw"]),
    ("VHD", &["vhd"]),
    ("VHDX", &["vhdx"]),
    ("OVA", &["ova", "metalink"]),
    ("VMDK", &["vmdk"]),
    ("TAR", &["tar"]),
    ("ISO", &["iso", "metalink"]),
];

const HYPERVISORS: &[&str] = &[
    "XenServer",
    "KVM",
    "VMware",
    "Hyperv",
    "LXC",
    "Ovm3",
    "Simulator",
    "BareMetal",
];

struct TemplateSpec {
    name: String,
    displaytext: String,
    format: String,
    hypervisor: String,
    zone_id: String,
    ostype_id: String,
    checksum: String,
}

fn template_spec(world: &World, params: &Params) -> Result<TemplateSpec, ApiError> {
    let name = params.required("name")?.to_owned();
    let format_raw = params.required("format")?;
    let hypervisor_raw = params.required("hypervisor")?;
    let format = FORMATS
        .iter()
        .find(|(f, _)| f.eq_ignore_ascii_case(format_raw))
        .map(|(f, _)| (*f).to_owned())
        .ok_or_else(|| {
            ApiError::param(format!(
                "Image format: {format_raw} is incorrect. Supported formats are {}",
                FORMATS
                    .iter()
                    .map(|(f, _)| *f)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    let hypervisor = HYPERVISORS
        .iter()
        .find(|h| h.eq_ignore_ascii_case(hypervisor_raw))
        .map(|h| (*h).to_owned())
        .ok_or_else(|| ApiError::param(format!("Hypervisor {hypervisor_raw} is not supported")))?;
    let zone_param = params
        .get("zoneid")
        .map(str::to_owned)
        .or_else(|| params.list("zoneids").into_iter().next())
        .ok_or_else(|| ApiError::param("Either zoneid or zoneids parameter has to be specified"))?;
    let zone_id = if zone_param == "-1" {
        world
            .zones
            .first()
            .map(|z| z.id.clone())
            .unwrap_or_default()
    } else {
        world
            .zones
            .iter()
            .find(|z| z.id == zone_param)
            .map(|z| z.id.clone())
            .ok_or_else(|| ApiError::bad_id("zoneid", &zone_param))?
    };
    let ostype = params
        .get("ostypeid")
        .ok_or_else(|| ApiError::param("Please provide a guest OS type"))?;
    if !world.os_types.iter().any(|o| o.id == ostype) {
        return Err(ApiError::bad_id("ostypeid", ostype));
    }
    let displaytext = params.get("displaytext").unwrap_or(&name).to_owned();
    if displaytext.len() > 4096 {
        return Err(ApiError::param(
            "Display text must be at most 4096 characters",
        ));
    }
    let checksum = params.get("checksum").unwrap_or("").to_owned();
    if !checksum.is_empty() {
        crate::download::ChecksumSpec::parse(&checksum).map_err(ApiError::param)?;
    }
    Ok(TemplateSpec {
        name,
        displaytext,
        format,
        hypervisor,
        zone_id,
        ostype_id: ostype.to_owned(),
        checksum,
    })
}

/// Validates a template URL like `UriUtils.validateUrl` plus the format extension check.
pub fn validate_template_url(
    url: &str,
    format: &str,
    allow_internal: bool,
) -> Result<(), ApiError> {
    if url.len() > 2048 {
        return Err(ApiError::param("URL is too long (at most 2048 characters)"));
    }
    let parsed = url::Url::parse(url).map_err(|e| {
        ApiError::param(format!(
            "Please specify a valid URL. URL:{url} is invalid: {e}"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ApiError::param(format!(
            "Unsupported scheme for url: {url}"
        )));
    }
    match parsed.host() {
        None => {
            return Err(ApiError::param(format!(
                "Please specify a valid URL. URL:{url} has no host"
            )));
        }
        Some(url::Host::Ipv6(_)) => {
            return Err(ApiError::param(format!(
                "IPV6 addresses not supported ({url})"
            )));
        }
        Some(url::Host::Ipv4(ip)) => {
            let internal =
                ip.is_loopback() || ip.is_link_local() || ip.is_unspecified() || ip.is_multicast();
            if internal && !allow_internal {
                return Err(ApiError::param(format!(
                    "Illegal host specified in url: {ip}"
                )));
            }
        }
        Some(url::Host::Domain(domain)) => {
            if domain.eq_ignore_ascii_case("localhost") && !allow_internal {
                return Err(ApiError::param(format!(
                    "Illegal host specified in url: {domain}"
                )));
            }
        }
    }
    let path = parsed.path().to_lowercase();
    let mut stem = path.as_str();
    for compressed in [".zip", ".bz2", ".gz"] {
        if let Some(s) = stem.strip_suffix(compressed) {
            stem = s;
            break;
        }
    }
    let extensions = FORMATS
        .iter()
        .find(|(f, _)| f.eq_ignore_ascii_case(format))
        .map(|(_, e)| *e)
        .unwrap_or(&[]);
    if !extensions
        .iter()
        .any(|ext| stem.ends_with(&format!(".{ext}")))
    {
        return Err(ApiError::param(format!(
            "Please specify a valid URL. URL:{} is an invalid for the format {}",
            parsed.path(),
            format.to_lowercase()
        )));
    }
    Ok(())
}

fn new_template(
    ctx: &Ctx<'_>,
    spec: TemplateSpec,
    params: &Params,
    url: &str,
) -> Result<Template, ApiError> {
    Ok(Template {
        id: new_id(),
        name: spec.name,
        displaytext: spec.displaytext,
        format: spec.format,
        hypervisor: spec.hypervisor,
        ostype_id: spec.ostype_id,
        zone_id: spec.zone_id,
        account_id: ctx.caller.account_id.clone(),
        ispublic: params.bool("ispublic")?.unwrap_or(false),
        isfeatured: params.bool("isfeatured")?.unwrap_or(false),
        isextractable: params.bool("isextractable")?.unwrap_or(false),
        passwordenabled: params.bool("passwordenabled")?.unwrap_or(false),
        requireshvm: params.bool("requireshvm")?.unwrap_or(false),
        bits: u32::try_from(params.u64("bits")?.unwrap_or(64)).unwrap_or(64),
        url: url.to_owned(),
        checksum: spec.checksum,
        size: 0,
        status: String::new(),
        download_state: "NOT_DOWNLOADED".into(),
        download_percent: 0,
        isready: false,
        created_ms: ctx.now_ms,
        templatetype: "USER".into(),
        details: params
            .map("details")
            .into_iter()
            .flat_map(|m| m.into_iter())
            .collect::<BTreeMap<_, _>>(),
    })
}

fn register_template(
    world: &mut World,
    ctx: &Ctx<'_>,
    params: &Params,
) -> Result<Outcome, ApiError> {
    let spec = template_spec(world, params)?;
    let url = params.required("url")?;
    validate_template_url(
        url,
        &spec.format,
        world.settings.allow_internal_template_sites,
    )?;
    let mut template = new_template(ctx, spec, params, url)?;
    template.status = "Processing".into();
    let id = template.id.clone();
    world.templates.push(template);
    let rendered = world
        .templates
        .iter()
        .find(|t| t.id == id)
        .map(|t| render::template(world, t))
        .unwrap_or(Value::Null);
    Ok(Outcome {
        body: json!({"count": 1, "template": [rendered]}),
        start_download: Some(id),
    })
}

fn delete_template(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let id = params.required("id")?;
    let template = world
        .templates
        .iter()
        .find(|t| t.id == id && (t.ispublic || can_see(ctx, &t.account_id)))
        .ok_or_else(|| ApiError::bad_id("id", id))?;
    if !can_see(ctx, &template.account_id) {
        return Err(ApiError::permission(format!(
            "Account {} does not have permission to delete template {id}",
            render::account_name(&ctx.caller.account_id)
        )));
    }
    let forced = params.bool("forced")?.unwrap_or(false);
    let users: Vec<&str> = world
        .vms
        .iter()
        .filter(|v| v.template_id == id)
        .map(|v| v.instancename.as_str())
        .collect();
    if !forced && !users.is_empty() {
        return Err(ApiError::param(format!(
            "Unable to delete template with id: {id} because VM instances: [{}] are using it.",
            users.join(", ")
        )));
    }
    if let Some(body) = injected_failure(world, ctx, "deleteTemplate") {
        return Ok(body);
    }
    let id = id.to_owned();
    world.templates.retain(|t| t.id != id);
    world.tags.retain(|t| t.resource_id != id);
    let job_id = submit(
        world,
        ctx,
        JobSpec::new("deleteTemplate", JobResultKind::Success).instance("Template", &id),
    );
    Ok(json!({"jobid": job_id}))
}

fn get_upload_params(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let spec = template_spec(world, params)?;
    let mut template = new_template(ctx, spec, params, "")?;
    template.status = "Not Uploaded".into();
    template.download_state = "NOT_UPLOADED".into();
    let id = template.id.clone();
    world.templates.push(template);
    let upload =
        crate::upload::UploadParams::issue(ctx.upload_base, ctx.upload_key, &id, ctx.now_ms);
    Ok(json!({"getuploadparams": {
        "id": id,
        "postURL": upload.post_url,
        "metadata": upload.metadata,
        "expires": upload.expires,
        "signature": upload.signature,
    }}))
}

// ---------------------------------------------------------------------------------------------
// Virtual machines.

fn valid_host_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !bytes[0].is_ascii_digit()
}

fn used_ips(world: &World, network_id: &str) -> HashSet<String> {
    world
        .vms
        .iter()
        .flat_map(|v| v.nics.iter())
        .filter(|n| n.network_id == network_id)
        .map(|n| n.ipaddress.clone())
        .collect()
}

fn allocate_ip(
    world: &World,
    network: &crate::model::Network,
    requested: Option<&str>,
    taken_now: &HashSet<String>,
) -> Result<String, ApiError> {
    let start: Ipv4Addr = network
        .start_ip
        .parse()
        .map_err(|_| ApiError::internal("bad network range"))?;
    let end: Ipv4Addr = network
        .end_ip
        .parse()
        .map_err(|_| ApiError::internal("bad network range"))?;
    let mut used = used_ips(world, &network.id);
    used.extend(taken_now.iter().cloned());
    used.insert(network.gateway.clone());
    if let Some(requested) = requested {
        let ip: Ipv4Addr = requested.parse().map_err(|_| {
            ApiError::param(format!("Invalid format for IPv4 address: {requested}"))
        })?;
        let in_range = u32::from(ip) >= u32::from(start) && u32::from(ip) <= u32::from(end);
        if !cidr_contains(&network.cidr, ip) || !in_range {
            return Err(ApiError::param(format!(
                "Invalid ip address {requested}: it is outside the IP range {}-{} of network {} ({})",
                network.start_ip, network.end_ip, network.name, network.cidr
            )));
        }
        if used.contains(requested) {
            return Err(ApiError::capacity(format!(
                "Unable to acquire requested Guest IP address {requested} for network {}: the address is already in use",
                network.name
            )));
        }
        return Ok(requested.to_owned());
    }
    (u32::from(start)..=u32::from(end))
        .map(|n| Ipv4Addr::from(n).to_string())
        .find(|ip| !used.contains(ip))
        .ok_or_else(|| {
            ApiError::capacity(format!(
                "Insufficient address capacity in network {}",
                network.name
            ))
        })
}

fn decode_user_data(world: &World, ctx: &Ctx<'_>, text: &str) -> Result<(), ApiError> {
    let limit = world.settings.vm_userdata_max_length;
    if text.len() > limit {
        return Err(ApiError::param(format!(
            "User data has exceeded configurable max length : {limit}"
        )));
    }
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&compact))
        .map_err(|_| ApiError::param("User data is not base64 encoded"))?;
    let (method, max) = if ctx.is_get {
        ("GET", 4096)
    } else {
        ("POST", 1_048_576)
    };
    if decoded.len() > max {
        return Err(ApiError::param(format!(
            "User data is too long for an http {method} request"
        )));
    }
    Ok(())
}

/// Chooses a host for a VM: same zone, local storage when the offering needs it, honouring
/// host (anti-)affinity, least loaded first.
fn place(world: &World, vm: &Vm, local: bool, exclude_vm: &str) -> Option<String> {
    let active = |v: &&Vm| {
        v.id != exclude_vm
            && matches!(
                v.state,
                VmState::Running | VmState::Starting | VmState::Stopping
            )
    };
    let group_hosts = |kind: &str| -> Vec<HashSet<String>> {
        vm.affinity_group_ids
            .iter()
            .filter(|g| {
                world
                    .affinity_groups
                    .iter()
                    .any(|a| &&a.id == g && a.kind == kind)
            })
            .map(|g| {
                world
                    .vms
                    .iter()
                    .filter(active)
                    .filter(|v| v.affinity_group_ids.contains(g))
                    .filter_map(|v| v.host_id.clone())
                    .collect()
            })
            .collect()
    };
    let anti = group_hosts("host anti-affinity");
    let affinity = group_hosts("host affinity");
    world
        .hosts
        .iter()
        .filter(|h| h.zone_id == vm.zone_id)
        .filter(|h| !local || h.local_storage)
        .filter(|h| anti.iter().all(|hosts| !hosts.contains(&h.id)))
        .filter(|h| {
            affinity
                .iter()
                .all(|hosts| hosts.is_empty() || hosts.contains(&h.id))
        })
        .map(|h| {
            let load = world
                .vms
                .iter()
                .filter(active)
                .filter(|v| v.host_id.as_deref() == Some(h.id.as_str()))
                .count();
            (load, h)
        })
        .filter(|(load, h)| *load < h.max_vms)
        .min_by_key(|(load, _)| *load)
        .map(|(_, h)| h.id.clone())
}

fn resolve_groups<T>(
    params: &Params,
    ids_param: &str,
    names_param: &str,
    items: &[T],
    id_of: impl Fn(&T) -> &str,
    name_of: impl Fn(&T) -> &str,
) -> Result<Vec<String>, ApiError> {
    let by_id = params.list(ids_param);
    let by_name = params.list(names_param);
    if !by_id.is_empty() && !by_name.is_empty() {
        return Err(ApiError::param(format!(
            "{ids_param} parameter is mutually exclusive with {names_param} parameter"
        )));
    }
    let mut out = Vec::new();
    for id in by_id {
        let item = items
            .iter()
            .find(|i| id_of(i) == id)
            .ok_or_else(|| ApiError::bad_id(ids_param, &id))?;
        out.push(id_of(item).to_owned());
    }
    for name in by_name {
        let item = items
            .iter()
            .find(|i| name_of(i) == name)
            .ok_or_else(|| ApiError::param(format!("Unable to find group by name {name}")))?;
        out.push(id_of(item).to_owned());
    }
    Ok(out)
}

fn deploy_vm(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let so_id = params.required("serviceofferingid")?;
    let template_id = params.required("templateid")?;
    let zone_id = params.required("zoneid")?;
    let zone = world
        .zones
        .iter()
        .find(|z| z.id == zone_id)
        .ok_or_else(|| ApiError::bad_id("zoneid", zone_id))?
        .clone();
    let offering = world
        .service_offerings
        .iter()
        .find(|o| o.id == so_id)
        .ok_or_else(|| ApiError::bad_id("serviceofferingid", so_id))?
        .clone();
    let template = world
        .templates
        .iter()
        .find(|t| t.id == template_id && (t.ispublic || can_see(ctx, &t.account_id)))
        .ok_or_else(|| ApiError::bad_id("templateid", template_id))?
        .clone();
    if !template.isready || template.zone_id != zone.id {
        return Err(ApiError::param(format!(
            "Template {} has not been completely downloaded to zone {}",
            template.id, zone.id
        )));
    }
    let details: BTreeMap<String, String> = params
        .map("details")
        .into_iter()
        .flat_map(|m| m.into_iter())
        .collect();
    let detail = |k: &str| {
        details
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    let (cpunumber, memory) = if offering.iscustomized {
        let cpu = detail("cpunumber").and_then(|v| v.parse::<u32>().ok());
        let mem = detail("memory").and_then(|v| v.parse::<u32>().ok());
        match (cpu, mem) {
            (Some(c), Some(m)) if c > 0 && m > 0 => (c, m),
            _ => {
                return Err(ApiError::param(
                    "Need to specify custom parameter values cpu, cpu speed and memory when using custom offering",
                ));
            }
        }
    } else {
        (offering.cpunumber, offering.memory)
    };
    let cpuspeed = detail("cpuspeed")
        .and_then(|v| v.parse().ok())
        .unwrap_or(offering.cpuspeed);

    let vm_id = new_id();
    let name = match params.get("name") {
        Some(name) => {
            if !valid_host_name(name) {
                return Err(ApiError::param(
                    "Invalid name. Vm name can contain ASCII letters 'a' through 'z', the digits '0' through '9', and the hyphen ('-'), must be between 1 and 63 characters long, and can't start or end with \"-\" and can't start with digit",
                ));
            }
            name.to_owned()
        }
        None => format!("VM-{vm_id}"),
    };
    let displayname = params.get("displayname").unwrap_or(&name).to_owned();

    // Networks and IPs.
    let ip_map = params.map("iptonetworklist");
    let network_ids = params.list("networkids");
    if !ip_map.is_empty() && (!network_ids.is_empty() || params.get("ipaddress").is_some()) {
        return Err(ApiError::param(
            "ipToNetworkMap can't be specified along with networkIds or ipAddress",
        ));
    }
    let mut requests: Vec<(String, Option<String>)> = Vec::new();
    if !ip_map.is_empty() {
        for entry in &ip_map {
            let net = entry
                .get("networkid")
                .ok_or_else(|| ApiError::param("iptonetworklist entries need a networkid"))?;
            requests.push((net.clone(), entry.get("ip").cloned()));
        }
    } else if !network_ids.is_empty() {
        for (i, net) in network_ids.iter().enumerate() {
            let ip = if i == 0 {
                params.get("ipaddress").map(str::to_owned)
            } else {
                None
            };
            requests.push((net.clone(), ip));
        }
    } else {
        let default = world
            .networks
            .iter()
            .find(|n| n.zone_id == zone.id && n.kind == "Isolated")
            .ok_or_else(|| {
                ApiError::param(
                    "Unable to find a default network to deploy the vm in; specify networkids",
                )
            })?;
        requests.push((
            default.id.clone(),
            params.get("ipaddress").map(str::to_owned),
        ));
    }
    let mut nics = Vec::new();
    let mut taken_now = HashSet::new();
    for (i, (net_id, ip)) in requests.iter().enumerate() {
        let network = world
            .networks
            .iter()
            .find(|n| &n.id == net_id && n.zone_id == zone.id)
            .ok_or_else(|| ApiError::bad_id("networkids", net_id))?;
        if nics.iter().any(|n: &Nic| &n.network_id == net_id) {
            return Err(ApiError::param(format!(
                "Network {} is specified twice",
                network.name
            )));
        }
        // Host names must be unique among live VMs of the same network domain.
        let clash = world.vms.iter().any(|v| {
            v.name.eq_ignore_ascii_case(&name)
                && v.nics.iter().any(|n| {
                    world
                        .networks
                        .iter()
                        .any(|o| o.id == n.network_id && o.network_domain == network.network_domain)
                })
        });
        if clash {
            return Err(ApiError::param(format!(
                "The vm with hostName {name} already exists in the network domain: {}; network={}",
                network.network_domain, network.name
            )));
        }
        let address = allocate_ip(world, network, ip.as_deref(), &taken_now)?;
        taken_now.insert(address.clone());
        world.next_serial += 1;
        let serial = world.next_serial;
        nics.push(Nic {
            id: new_id(),
            network_id: net_id.clone(),
            ipaddress: address,
            macaddress: format!(
                "02:00:{:02x}:{:02x}:{:02x}:{:02x}",
                (serial >> 24) & 0xff,
                (serial >> 16) & 0xff,
                (serial >> 8) & 0xff,
                serial & 0xff
            ),
            isdefault: i == 0,
        });
    }

    let userdata = params.get("userdata").map(str::to_owned);
    if let Some(text) = &userdata {
        decode_user_data(world, ctx, text)?;
    }
    let keypair = match params
        .get("keypair")
        .map(str::to_owned)
        .or_else(|| params.list("keypairs").into_iter().next())
    {
        Some(name) => {
            if !world
                .ssh_key_pairs
                .iter()
                .any(|k| k.name == name && k.account_id == ctx.caller.account_id)
            {
                return Err(ApiError::param(format!(
                    "A key pair with name '{name}' was not found for account {}",
                    render::account_name(&ctx.caller.account_id)
                )));
            }
            Some(name)
        }
        None => None,
    };
    let own_groups: Vec<AffinityGroup> = world
        .affinity_groups
        .iter()
        .filter(|g| g.account_id == ctx.caller.account_id)
        .cloned()
        .collect();
    let affinity_group_ids = resolve_groups(
        params,
        "affinitygroupids",
        "affinitygroupnames",
        &own_groups,
        |g| &g.id,
        |g| &g.name,
    )?;
    let own_sgs: Vec<SecurityGroup> = world
        .security_groups
        .iter()
        .filter(|g| g.account_id == ctx.caller.account_id)
        .cloned()
        .collect();
    let security_group_ids = resolve_groups(
        params,
        "securitygroupids",
        "securitygroupnames",
        &own_sgs,
        |g| &g.id,
        |g| &g.name,
    )?;
    if !security_group_ids.is_empty() && !zone.securitygroupsenabled {
        return Err(ApiError::param(
            "Can't create vm with security groups; security group feature is not enabled for this zone",
        ));
    }
    let root_gb =
        match detail("rootdisksize").or_else(|| params.get("rootdisksize").map(str::to_owned)) {
            Some(v) => Some(
                v.parse::<u64>()
                    .map_err(|_| ApiError::param(format!("Invalid rootdisksize {v}")))?,
            ),
            None => None,
        };
    let template_gb = template.size.div_ceil(1 << 30);
    if let Some(gb) = root_gb
        && gb < template_gb
    {
        return Err(ApiError::param(format!(
            "Root disk size should be >= template size: {gb} GB < {template_gb} GB"
        )));
    }
    let host_request = match params.get("hostid") {
        Some(host) => {
            if !ctx.caller.is_admin {
                return Err(ApiError::permission(
                    "Parameter hostid can only be specified by a Root Admin, permission denied",
                ));
            }
            let host = world
                .hosts
                .iter()
                .find(|h| h.id == host && h.zone_id == zone.id)
                .ok_or_else(|| ApiError::bad_id("hostid", host))?;
            Some(host.id.clone())
        }
        None => None,
    };
    let data_disk = match params.get("diskofferingid") {
        Some(id) => {
            let o = world
                .disk_offerings
                .iter()
                .find(|o| o.id == id)
                .ok_or_else(|| ApiError::bad_id("diskofferingid", id))?
                .clone();
            let gb = if o.iscustomized {
                params.u64("size")?.ok_or_else(|| {
                    ApiError::param("This disk offering requires a custom size specified")
                })?
            } else {
                o.disksize
            };
            Some((o, gb))
        }
        None => None,
    };
    let startvm = params.bool("startvm")?.unwrap_or(true);

    world.next_serial += 1;
    let mut vm = Vm {
        id: vm_id.clone(),
        name,
        displayname,
        instancename: format!("i-2-{}-VM", world.next_serial),
        account_id: ctx.caller.account_id.clone(),
        state: if startvm {
            VmState::Starting
        } else {
            VmState::Stopped
        },
        zone_id: zone.id.clone(),
        template_id: template.id.clone(),
        service_offering_id: offering.id.clone(),
        cpunumber,
        cpuspeed,
        memory,
        host_id: None,
        created_ms: ctx.now_ms,
        nics,
        keypair,
        affinity_group_ids,
        security_group_ids,
        userdata,
        details,
        destroyed_at_ms: None,
        pending_job: None,
    };
    let local = offering.storagetype == "local";
    let mut failure = None;
    if startvm {
        vm.host_id = match host_request {
            Some(h) => Some(h),
            None => place(world, &vm, local, &vm.id),
        };
        if vm.host_id.is_none() {
            failure = Some((
                533,
                format!(
                    "Unable to create a deployment for VM[User|{}]",
                    vm.instancename
                ),
            ));
        }
    }
    let root_size = root_gb.map(|gb| gb << 30).unwrap_or(template.size);
    let root = Volume {
        id: new_id(),
        name: format!("ROOT-{}", world.next_serial),
        kind: VolumeType::Root,
        size: root_size,
        state: "Ready".into(),
        vm_id: Some(vm_id.clone()),
        device_id: Some(0),
        disk_offering_id: None,
        zone_id: zone.id.clone(),
        storagetype: offering.storagetype.clone(),
        host_id: if local { vm.host_id.clone() } else { None },
        account_id: ctx.caller.account_id.clone(),
        created_ms: ctx.now_ms,
        pending_job: None,
    };
    let data = data_disk.map(|(o, gb)| Volume {
        id: new_id(),
        name: format!("DATA-{}", world.next_serial),
        kind: VolumeType::DataDisk,
        size: gb << 30,
        state: "Ready".into(),
        vm_id: Some(vm_id.clone()),
        device_id: Some(1),
        disk_offering_id: Some(o.id.clone()),
        zone_id: zone.id.clone(),
        storagetype: o.storagetype.clone(),
        host_id: if o.storagetype == "local" {
            vm.host_id.clone()
        } else {
            None
        },
        account_id: ctx.caller.account_id.clone(),
        created_ms: ctx.now_ms,
        pending_job: None,
    });
    let target = if startvm {
        VmState::Running
    } else {
        VmState::Stopped
    };
    let mut spec = JobSpec::new("deployVirtualMachine", JobResultKind::Vm(vm_id.clone()))
        .instance("VirtualMachine", &vm_id);
    spec.effects = vec![Effect::VmState {
        vm_id: vm_id.clone(),
        state: target,
    }];
    spec.failure_effects = vec![Effect::VmState {
        vm_id: vm_id.clone(),
        state: VmState::Error,
    }];
    spec.failure = failure;
    let job_id = submit(world, ctx, spec);
    vm.pending_job = Some(job_id.clone());
    tracing::info!(vm_id = %vm_id, job_id = %job_id, host = ?vm.host_id, "deploying VM");
    world.vms.push(vm);
    world.volumes.push(root);
    if let Some(data) = data {
        world.volumes.push(data);
    }
    Ok(json!({"id": vm_id, "jobid": job_id}))
}

fn vm_job(
    world: &mut World,
    ctx: &Ctx<'_>,
    command: &'static str,
    index: usize,
    effects: Vec<Effect>,
) -> Value {
    let vm_id = world.vms[index].id.clone();
    let mut spec =
        JobSpec::new(command, JobResultKind::Vm(vm_id.clone())).instance("VirtualMachine", &vm_id);
    spec.effects = effects;
    let job_id = submit(world, ctx, spec);
    if let Some(vm) = world.vms.get_mut(index) {
        vm.pending_job = Some(job_id.clone());
    }
    json!({"jobid": job_id})
}

fn destroy_vm(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let id = params.required("id")?;
    let index = vm_index(world, ctx, "id", id)?;
    let expunge = params.bool("expunge")?.unwrap_or(false);
    if expunge && !ctx.caller.is_admin && !world.settings.allow_user_expunge_recover_vm {
        return Err(ApiError::permission(
            "Parameter expunge can be passed by Admin only. Or when the allow.user.expunge.recover.vm key is set.",
        ));
    }
    let volume_ids = params.list("volumeids");
    for vol_id in &volume_ids {
        let vol = world
            .volumes
            .iter()
            .find(|v| {
                &v.id == vol_id && v.vm_id.as_deref() == Some(id) && v.kind == VolumeType::DataDisk
            })
            .ok_or_else(|| ApiError::bad_id("volumeids", vol_id))?;
        let _ = vol;
    }
    if let Some(body) = injected_failure(world, ctx, "destroyVirtualMachine") {
        return Ok(body);
    }
    world.volumes.retain(|v| !volume_ids.contains(&v.id));
    let vm_id = world.vms[index].id.clone();
    let effect = if expunge {
        Effect::ExpungeVm { vm_id }
    } else {
        Effect::DestroyVm { vm_id }
    };
    Ok(vm_job(
        world,
        ctx,
        "destroyVirtualMachine",
        index,
        vec![effect],
    ))
}

fn expunge_vm_cmd(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let id = params.required("id")?;
    let index = vm_index(world, ctx, "id", id)?;
    if !ctx.caller.is_admin && !world.settings.allow_user_expunge_recover_vm {
        return Err(ApiError::permission(
            "Expunging a vm can only be done by an Admin. Or when the allow.user.expunge.recover.vm key is set.",
        ));
    }
    if !matches!(world.vms[index].state, VmState::Destroyed | VmState::Error) {
        return Err(ApiError::param(format!(
            "Please destroy vm with id {id} before expunging"
        )));
    }
    if let Some(body) = injected_failure(world, ctx, "expungeVirtualMachine") {
        return Ok(body);
    }
    let vm_id = world.vms[index].id.clone();
    let mut spec = JobSpec::new("expungeVirtualMachine", JobResultKind::Success)
        .instance("VirtualMachine", &vm_id);
    spec.effects = vec![Effect::ExpungeVm { vm_id }];
    let job_id = submit(world, ctx, spec);
    Ok(json!({"jobid": job_id}))
}

fn start_vm(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let id = params.required("id")?;
    let index = vm_index(world, ctx, "id", id)?;
    let state = world.vms[index].state;
    if matches!(
        state,
        VmState::Destroyed | VmState::Expunging | VmState::Error
    ) {
        return Err(ApiError::param(format!(
            "Unable to start VM instance {id}: it is in state {}",
            state.as_str()
        )));
    }
    if let Some(host) = params.get("hostid")
        && !ctx.caller.is_admin
    {
        let _ = host;
        return Err(ApiError::permission(
            "Parameter hostid can only be specified by a Root Admin, permission denied",
        ));
    }
    if let Some(body) = injected_failure(world, ctx, "startVirtualMachine") {
        return Ok(body);
    }
    if state == VmState::Stopped {
        let local = world
            .service_offerings
            .iter()
            .any(|o| o.id == world.vms[index].service_offering_id && o.storagetype == "local");
        // A VM whose disks live on one host's local storage must restart there.
        let pinned = world
            .volumes
            .iter()
            .find(|v| {
                v.vm_id.as_deref() == Some(id) && v.storagetype == "local" && v.host_id.is_some()
            })
            .and_then(|v| v.host_id.clone());
        // An admin may name the host (`hostid`), as the CPI does to keep a VM next to its
        // host-local disks; the host must exist and agree with where those disks are.
        let requested = match params.get("hostid") {
            Some(host) => {
                if !world.hosts.iter().any(|h| h.id == host) {
                    return Err(ApiError::bad_id("hostid", host));
                }
                if let Some(pinned) = pinned.as_deref()
                    && pinned != host
                {
                    return Err(ApiError::param(format!(
                        "Unable to start VM instance {id} on host {host}: its local volumes are on host {pinned}"
                    )));
                }
                Some(host.to_owned())
            }
            None => None,
        };
        let host = match (requested, pinned) {
            (Some(h), _) | (None, Some(h)) => Some(h),
            (None, None) => place(world, &world.vms[index], local, id),
        };
        let Some(host) = host else {
            let mut spec = JobSpec::new("startVirtualMachine", JobResultKind::Vm(id.to_owned()))
                .instance("VirtualMachine", id);
            spec.failure = Some((
                533,
                format!(
                    "Unable to create a deployment for VM[User|{}]",
                    world.vms[index].instancename
                ),
            ));
            let job_id = submit(world, ctx, spec);
            return Ok(json!({"jobid": job_id}));
        };
        let vm_id = id.to_owned();
        for vol in &mut world.volumes {
            if vol.vm_id.as_deref() == Some(vm_id.as_str())
                && vol.storagetype == "local"
                && vol.host_id.is_none()
            {
                vol.host_id = Some(host.clone());
            }
        }
        let vm = &mut world.vms[index];
        vm.host_id = Some(host);
        vm.state = VmState::Starting;
    }
    let vm_id = id.to_owned();
    Ok(vm_job(
        world,
        ctx,
        "startVirtualMachine",
        index,
        vec![Effect::VmState {
            vm_id,
            state: VmState::Running,
        }],
    ))
}

fn stop_vm(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let id = params.required("id")?;
    let index = vm_index(world, ctx, "id", id)?;
    let state = world.vms[index].state;
    if matches!(state, VmState::Destroyed | VmState::Expunging) {
        return Err(ApiError::param(format!(
            "Unable to stop VM {id}: it is {}",
            state.as_str()
        )));
    }
    if let Some(body) = injected_failure(world, ctx, "stopVirtualMachine") {
        return Ok(body);
    }
    if matches!(state, VmState::Running | VmState::Starting) {
        world.vms[index].state = VmState::Stopping;
    }
    let vm_id = id.to_owned();
    Ok(vm_job(
        world,
        ctx,
        "stopVirtualMachine",
        index,
        vec![Effect::VmState {
            vm_id,
            state: VmState::Stopped,
        }],
    ))
}

fn reboot_vm(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let id = params.required("id")?;
    let index = vm_index(world, ctx, "id", id)?;
    if world.vms[index].state != VmState::Running {
        return Err(ApiError::param(format!(
            "Unable to reboot VM {id}: it is not in Running state (state {})",
            world.vms[index].state.as_str()
        )));
    }
    if let Some(body) = injected_failure(world, ctx, "rebootVirtualMachine") {
        return Ok(body);
    }
    let vm_id = id.to_owned();
    Ok(vm_job(
        world,
        ctx,
        "rebootVirtualMachine",
        index,
        vec![Effect::VmState {
            vm_id,
            state: VmState::Running,
        }],
    ))
}

fn list_vms(world: &World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let see_destroyed = ctx.caller.is_admin || world.settings.allow_user_view_destroyed_vm;
    let ids: Vec<String> = params.list("ids");
    let filters = params.tag_filters();
    let state = params.get("state");
    let with_user_data = params.bool("userdata")?.unwrap_or(false);
    let items = world
        .vms
        .iter()
        .filter(|v| can_see(ctx, &v.account_id))
        .filter(|v| see_destroyed || !matches!(v.state, VmState::Destroyed | VmState::Expunging))
        .filter(|v| params.get("id").is_none_or(|i| v.id == i))
        .filter(|v| ids.is_empty() || ids.contains(&v.id))
        .filter(|v| params.get("name").is_none_or(|n| v.name == n))
        .filter(|v| {
            state.is_none_or(|s| {
                if s.eq_ignore_ascii_case("present") {
                    !matches!(v.state, VmState::Destroyed | VmState::Expunging)
                } else {
                    v.state.as_str().eq_ignore_ascii_case(s)
                }
            })
        })
        .filter(|v| params.get("zoneid").is_none_or(|z| v.zone_id == z))
        .filter(|v| params.get("templateid").is_none_or(|t| v.template_id == t))
        .filter(|v| {
            params
                .get("networkid")
                .is_none_or(|n| v.nics.iter().any(|nic| nic.network_id == n))
        })
        .filter(|v| {
            params
                .get("hostid")
                .is_none_or(|h| ctx.caller.is_admin && v.host_id.as_deref() == Some(h))
        })
        .filter(|v| keyword_match(params, &v.name) || keyword_match(params, &v.displayname))
        .filter(|v| matches_tags(world, &v.id, &filters))
        .map(|v| {
            let mut rendered = render::vm(world, v);
            if with_user_data && let Some(data) = &v.userdata {
                rendered["userdata"] = json!(data);
            }
            rendered
        })
        .collect();
    page(world, params, "virtualmachine", items)
}

fn get_user_data(world: &World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let id = params.required("virtualmachineid")?;
    let vm = find_vm(world, ctx, "virtualmachineid", id)?;
    let mut body = json!({"virtualmachineid": vm.id});
    if let Some(data) = &vm.userdata {
        body["userdata"] = json!(data);
    }
    Ok(json!({"virtualmachineuserdata": body}))
}

fn update_vm(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let id = params.required("id")?;
    let index = vm_index(world, ctx, "id", id)?;
    if let Some(text) = params.get("userdata") {
        decode_user_data(world, ctx, text)?;
        world.vms[index].userdata = Some(text.to_owned());
    }
    if let Some(display) = params.get("displayname") {
        world.vms[index].displayname = display.to_owned();
    }
    if let Some(name) = params.get("name") {
        if !valid_host_name(name) {
            return Err(ApiError::param(
                "Invalid name. Vm name can contain ASCII letters 'a' through 'z', the digits '0' through '9', and the hyphen ('-'), must be between 1 and 63 characters long, and can't start or end with \"-\" and can't start with digit",
            ));
        }
        world.vms[index].name = name.to_owned();
    }
    Ok(json!({"virtualmachine": render::vm(world, &world.vms[index])}))
}

// ---------------------------------------------------------------------------------------------
// Volumes.

fn next_device_id(world: &World, vm_id: &str) -> u64 {
    let used: HashSet<u64> = world
        .volumes
        .iter()
        .filter(|v| v.vm_id.as_deref() == Some(vm_id))
        .filter_map(|v| v.device_id)
        .collect();
    let xen = world.settings.hypervisor.eq_ignore_ascii_case("XenServer");
    (1..)
        .find(|n| {
            let reserved_for_cdrom = xen && *n == 3;
            !used.contains(n) && !reserved_for_cdrom
        })
        .unwrap_or(1)
}

const MAX_DEVICE_ID: u64 = 15;

/// Checks that `vol` may be attached to `vm` (state, local storage host) and picks the device id.
fn check_attach(
    world: &World,
    vol: &Volume,
    vm: &Vm,
    device: Option<u64>,
) -> Result<u64, ApiError> {
    if vol.kind != VolumeType::DataDisk {
        return Err(ApiError::param(
            "Please specify a volume with the type DATADISK",
        ));
    }
    if vol.vm_id.is_some() {
        return Err(ApiError::param(
            "Please specify a volume that is not attached to any VM.",
        ));
    }
    if !matches!(
        vm.state,
        VmState::Running | VmState::Stopped | VmState::Starting
    ) {
        return Err(ApiError::param(
            "Please specify a VM that is either running or stopped.",
        ));
    }
    if vol.zone_id != vm.zone_id {
        return Err(ApiError::param(
            "Please specify a VM that is in the same zone as the volume.",
        ));
    }
    if vol.storagetype == "local"
        && let (Some(vol_host), Some(vm_host)) = (&vol.host_id, vm_host(world, vm))
        && vol_host != &vm_host
    {
        return Err(ApiError::param(format!(
            "Failed to attach local data volume {} to VM {} as migration of local data volume is not allowed",
            vol.name, vm.displayname
        )));
    }
    let xen = world.settings.hypervisor.eq_ignore_ascii_case("XenServer");
    match device {
        None => Ok(next_device_id(world, &vm.id)),
        Some(0) => Err(ApiError::param(
            "deviceId 0 is reserved for the root volume",
        )),
        Some(3) if xen => Err(ApiError::param(
            "Device 3 is reserved for CD-ROM, choose other device",
        )),
        Some(n) if n > MAX_DEVICE_ID => Err(ApiError::param(format!(
            "Device id {n} exceeds the maximum {MAX_DEVICE_ID}"
        ))),
        Some(n) => {
            if world
                .volumes
                .iter()
                .any(|v| v.vm_id.as_deref() == Some(vm.id.as_str()) && v.device_id == Some(n))
            {
                Err(ApiError::param(format!(
                    "deviceId {n} is used by vm {}",
                    vm.name
                )))
            } else {
                Ok(n)
            }
        }
    }
}

/// The host holding a VM's disks: its current host, or the host of its local root volume.
fn vm_host(world: &World, vm: &Vm) -> Option<String> {
    vm.host_id.clone().or_else(|| {
        world
            .volumes
            .iter()
            .find(|v| v.vm_id.as_deref() == Some(vm.id.as_str()) && v.kind == VolumeType::Root)
            .and_then(|v| v.host_id.clone())
    })
}

fn create_volume(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let offering_id = params.get("diskofferingid");
    let snapshot_id = params.get("snapshotid");
    let (offering, source_size) = match (offering_id, snapshot_id) {
        (Some(id), _) => (
            Some(
                world
                    .disk_offerings
                    .iter()
                    .find(|o| o.id == id)
                    .ok_or_else(|| ApiError::bad_id("diskofferingid", id))?
                    .clone(),
            ),
            None,
        ),
        (None, Some(id)) => {
            let snap = world
                .snapshots
                .iter()
                .find(|s| s.id == id && can_see(ctx, &s.account_id))
                .ok_or_else(|| ApiError::bad_id("snapshotid", id))?;
            let size = world
                .volumes
                .iter()
                .find(|v| v.id == snap.volume_id)
                .map(|v| v.size)
                .unwrap_or(1 << 30);
            (None, Some(size))
        }
        (None, None) => {
            return Err(ApiError::param(
                "Either disk Offering Id or snapshot Id must be passed whilst creating volume",
            ));
        }
    };
    let vm_index = match params.get("virtualmachineid") {
        Some(id) => Some(vm_index(world, ctx, "virtualmachineid", id)?),
        None => None,
    };
    let zone_id = match (params.get("zoneid"), vm_index) {
        (Some(z), _) => world
            .zones
            .iter()
            .find(|zone| zone.id == z)
            .map(|zone| zone.id.clone())
            .ok_or_else(|| ApiError::bad_id("zoneid", z))?,
        (None, Some(i)) => world.vms[i].zone_id.clone(),
        (None, None) => return Err(ApiError::missing(params.command(), "zoneid")),
    };
    let size_gb = params.u64("size")?;
    let size = match (&offering, source_size) {
        (Some(o), _) if o.iscustomized => {
            size_gb.filter(|s| *s > 0).ok_or_else(|| {
                ApiError::param("This disk offering requires a custom size specified")
            })? << 30
        }
        (Some(o), _) => {
            if size_gb.is_some_and(|s| s != o.disksize) {
                return Err(ApiError::param(
                    "This disk offering does not allow custom size",
                ));
            }
            o.disksize << 30
        }
        (None, Some(s)) => s,
        (None, None) => 1 << 30,
    };
    let storagetype = offering
        .as_ref()
        .map(|o| o.storagetype.clone())
        .unwrap_or_else(|| "shared".into());
    if storagetype == "local"
        && !world
            .zones
            .iter()
            .any(|z| z.id == zone_id && z.localstorageenabled)
    {
        return Err(ApiError::param("Local storage is not enabled in this zone"));
    }
    let vol_id = new_id();
    world.next_serial += 1;
    let mut vol = Volume {
        id: vol_id.clone(),
        name: params
            .get("name")
            .map(str::to_owned)
            .unwrap_or_else(|| format!("DATA-{}", world.next_serial)),
        kind: VolumeType::DataDisk,
        size,
        state: "Allocated".into(),
        vm_id: None,
        device_id: None,
        disk_offering_id: offering.as_ref().map(|o| o.id.clone()),
        zone_id,
        storagetype,
        host_id: None,
        account_id: ctx.caller.account_id.clone(),
        created_ms: ctx.now_ms,
        pending_job: None,
    };
    if let Some(i) = vm_index {
        let vm = world.vms[i].clone();
        let device = check_attach(world, &vol, &vm, None)?;
        if vol.storagetype == "local" {
            vol.host_id = vm_host(world, &vm);
        }
        vol.vm_id = Some(vm.id.clone());
        vol.device_id = Some(device);
        vol.state = "Ready".into();
    }
    let mut spec = JobSpec::new("createVolume", JobResultKind::Volume(vol_id.clone()))
        .instance("Volume", &vol_id);
    if let Some(fault) = ctx.job_fault.clone() {
        spec.failure = Some(fault);
        let job_id = submit(world, ctx, spec);
        return Ok(json!({"id": vol_id, "jobid": job_id}));
    }
    let job_id = submit(world, ctx, spec);
    vol.pending_job = Some(job_id.clone());
    world.volumes.push(vol);
    Ok(json!({"id": vol_id, "jobid": job_id}))
}

fn volume_job(world: &mut World, ctx: &Ctx<'_>, command: &'static str, vol_id: &str) -> Value {
    let spec =
        JobSpec::new(command, JobResultKind::Volume(vol_id.to_owned())).instance("Volume", vol_id);
    let job_id = submit(world, ctx, spec);
    if let Some(vol) = world.volumes.iter_mut().find(|v| v.id == vol_id) {
        vol.pending_job = Some(job_id.clone());
    }
    json!({"jobid": job_id})
}

fn attach_volume(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let id = params.required("id")?;
    let vm_id = params.required("virtualmachineid")?;
    let vi = volume_index(world, ctx, "id", id)?;
    let vm = find_vm(world, ctx, "virtualmachineid", vm_id)?.clone();
    let device = check_attach(world, &world.volumes[vi], &vm, params.u64("deviceid")?)?;
    if let Some(body) = injected_failure(world, ctx, "attachVolume") {
        return Ok(body);
    }
    let host = vm_host(world, &vm);
    let vol = &mut world.volumes[vi];
    if vol.storagetype == "local" && vol.host_id.is_none() {
        vol.host_id = host;
    }
    vol.vm_id = Some(vm.id.clone());
    vol.device_id = Some(device);
    vol.state = "Ready".into();
    let vol_id = vol.id.clone();
    Ok(volume_job(world, ctx, "attachVolume", &vol_id))
}

fn detach_volume(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let vi = match params.get("id") {
        Some(id) => volume_index(world, ctx, "id", id)?,
        None => {
            let (Some(device), Some(vm_id)) =
                (params.u64("deviceid")?, params.get("virtualmachineid"))
            else {
                return Err(ApiError::param(
                    "Please provide either a volume id, or a tuple(device id, instance id)",
                ));
            };
            world
                .volumes
                .iter()
                .position(|v| v.vm_id.as_deref() == Some(vm_id) && v.device_id == Some(device))
                .ok_or_else(|| {
                    ApiError::param(format!(
                        "Unable to find volume with device id {device} on vm {vm_id}"
                    ))
                })?
        }
    };
    let vol = &world.volumes[vi];
    if vol.vm_id.is_none() {
        return Err(ApiError::param(
            "Please specify a volume that is attached to a VM.",
        ));
    }
    if vol.kind == VolumeType::Root {
        return Err(ApiError::param("Please specify a data volume."));
    }
    if let Some(body) = injected_failure(world, ctx, "detachVolume") {
        return Ok(body);
    }
    let vol = &mut world.volumes[vi];
    vol.vm_id = None;
    vol.device_id = None;
    let vol_id = vol.id.clone();
    Ok(volume_job(world, ctx, "detachVolume", &vol_id))
}

fn delete_volume(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let id = params.required("id")?;
    let vi = volume_index(world, ctx, "id", id)?;
    let vol = &world.volumes[vi];
    if vol.vm_id.is_some() {
        return Err(ApiError::param(
            "Please specify a volume that is not attached to any VM.",
        ));
    }
    let vol_id = vol.id.clone();
    world.volumes.remove(vi);
    world.tags.retain(|t| t.resource_id != vol_id);
    Ok(json!({"success": true}))
}

fn resize_volume(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let id = params.required("id")?;
    let vi = volume_index(world, ctx, "id", id)?;
    let vol = world.volumes[vi].clone();
    let new_offering = match params.get("diskofferingid") {
        Some(o) => Some(
            world
                .disk_offerings
                .iter()
                .find(|d| d.id == o)
                .ok_or_else(|| ApiError::bad_id("diskofferingid", o))?
                .clone(),
        ),
        None => None,
    };
    let current_custom = vol
        .disk_offering_id
        .as_ref()
        .and_then(|o| world.disk_offerings.iter().find(|d| &d.id == o))
        .is_none_or(|d| d.iscustomized);
    let new_size = match (&new_offering, params.u64("size")?) {
        (Some(o), size) if o.iscustomized => {
            size.ok_or_else(|| {
                ApiError::param("This disk offering requires a custom size specified")
            })? << 30
        }
        (Some(o), _) => o.disksize << 30,
        (None, Some(size)) => {
            if !current_custom {
                return Err(ApiError::param(
                    "To resize a volume whose disk offering has a fixed size, specify a new disk offering",
                ));
            }
            size << 30
        }
        (None, None) => {
            return Err(ApiError::param(
                "Please specify a new size or disk offering to resize the volume",
            ));
        }
    };
    if new_size < vol.size && !params.bool("shrinkok")?.unwrap_or(false) {
        return Err(ApiError::param(format!(
            "Going from existing size of {} bytes to size of {new_size} bytes is not allowed. Set shrinkok to true to shrink.",
            vol.size
        )));
    }
    if let Some(body) = injected_failure(world, ctx, "resizeVolume") {
        return Ok(body);
    }
    let stored = &mut world.volumes[vi];
    stored.size = new_size;
    if let Some(o) = new_offering {
        stored.disk_offering_id = Some(o.id);
    }
    Ok(volume_job(world, ctx, "resizeVolume", &vol.id))
}

fn migrate_volume(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let id = params.required("volumeid")?;
    let storage = params.required("storageid")?;
    let vi = volume_index(world, ctx, "volumeid", id)?;
    let (storagetype, host) = if storage == render::SHARED_POOL_ID {
        ("shared".to_owned(), None)
    } else if let Some(h) = world
        .hosts
        .iter()
        .find(|h| h.id == storage && h.local_storage)
    {
        ("local".to_owned(), Some(h.id.clone()))
    } else {
        return Err(ApiError::bad_id("storageid", storage));
    };
    let vol = world.volumes[vi].clone();
    if let Some(vm_id) = &vol.vm_id
        && let Some(h) = &host
        && let Some(vm) = world.vms.iter().find(|v| &v.id == vm_id)
        && vm_host(world, vm).is_some_and(|vh| &vh != h)
    {
        return Err(ApiError::param(format!(
            "Cannot migrate volume {} of VM {} to the local storage of another host",
            vol.name, vm.name
        )));
    }
    if let Some(body) = injected_failure(world, ctx, "migrateVolume") {
        return Ok(body);
    }
    let stored = &mut world.volumes[vi];
    stored.storagetype = storagetype;
    stored.host_id = host;
    Ok(volume_job(world, ctx, "migrateVolume", &vol.id))
}

fn list_volumes(world: &World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let ids = params.list("ids");
    let filters = params.tag_filters();
    let items = world
        .volumes
        .iter()
        .filter(|v| can_see(ctx, &v.account_id))
        .filter(|v| params.get("id").is_none_or(|i| v.id == i))
        .filter(|v| ids.is_empty() || ids.contains(&v.id))
        .filter(|v| {
            params
                .get("virtualmachineid")
                .is_none_or(|i| v.vm_id.as_deref() == Some(i))
        })
        .filter(|v| {
            params.get("type").is_none_or(|t| match v.kind {
                VolumeType::Root => t.eq_ignore_ascii_case("ROOT"),
                VolumeType::DataDisk => t.eq_ignore_ascii_case("DATADISK"),
            })
        })
        .filter(|v| params.get("name").is_none_or(|n| v.name == n))
        .filter(|v| {
            params
                .get("state")
                .is_none_or(|s| v.state.eq_ignore_ascii_case(s))
        })
        .filter(|v| params.get("zoneid").is_none_or(|z| v.zone_id == z))
        .filter(|v| keyword_match(params, &v.name))
        .filter(|v| matches_tags(world, &v.id, &filters))
        .map(|v| render::volume(world, v))
        .collect();
    page(world, params, "volume", items)
}

// ---------------------------------------------------------------------------------------------
// Snapshots.

fn create_snapshot(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let volume_id = params.required("volumeid")?;
    let vi = volume_index(world, ctx, "volumeid", volume_id)?;
    let vol = world.volumes[vi].clone();
    let snap_id = new_id();
    let mut spec = JobSpec::new("createSnapshot", JobResultKind::Snapshot(snap_id.clone()))
        .instance("Snapshot", &snap_id);
    if let Some(fault) = ctx.job_fault.clone() {
        spec.failure = Some(fault);
        let job_id = submit(world, ctx, spec);
        return Ok(json!({"id": snap_id, "jobid": job_id}));
    }
    let name = params.get("name").map(str::to_owned).unwrap_or_else(|| {
        format!(
            "{}_{}",
            vol.name,
            crate::clock::format_cs_date(ctx.now_ms).replace([':', '-', '+'], "")
        )
    });
    world.snapshots.push(Snapshot {
        id: snap_id.clone(),
        name,
        volume_id: vol.id.clone(),
        state: "BackedUp".into(),
        account_id: ctx.caller.account_id.clone(),
        created_ms: ctx.now_ms,
    });
    let job_id = submit(world, ctx, spec);
    Ok(json!({"id": snap_id, "jobid": job_id}))
}

fn delete_snapshot(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let id = params.required("id")?;
    let pos = world
        .snapshots
        .iter()
        .position(|s| s.id == id && can_see(ctx, &s.account_id))
        .ok_or_else(|| ApiError::bad_id("id", id))?;
    if let Some(body) = injected_failure(world, ctx, "deleteSnapshot") {
        return Ok(body);
    }
    world.snapshots.remove(pos);
    world.tags.retain(|t| t.resource_id != id);
    let job_id = submit(
        world,
        ctx,
        JobSpec::new("deleteSnapshot", JobResultKind::Success).instance("Snapshot", id),
    );
    Ok(json!({"jobid": job_id}))
}

fn list_snapshots(world: &World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let filters = params.tag_filters();
    let items = world
        .snapshots
        .iter()
        .filter(|s| can_see(ctx, &s.account_id))
        .filter(|s| params.get("id").is_none_or(|i| s.id == i))
        .filter(|s| params.get("volumeid").is_none_or(|v| s.volume_id == v))
        .filter(|s| params.get("name").is_none_or(|n| s.name == n))
        .filter(|s| keyword_match(params, &s.name))
        .filter(|s| matches_tags(world, &s.id, &filters))
        .map(|s| render::snapshot(world, s))
        .collect();
    page(world, params, "snapshot", items)
}

// ---------------------------------------------------------------------------------------------
// Tags.

const TAGGABLE: &[&str] = &[
    "UserVm",
    "VMInstance",
    "Template",
    "ISO",
    "Volume",
    "Snapshot",
    "Network",
    "SecurityGroup",
    "PublicIpAddress",
    "Project",
];

fn canonical_resource_type(raw: &str) -> Result<&'static str, ApiError> {
    TAGGABLE
        .iter()
        .find(|t| t.eq_ignore_ascii_case(raw))
        .map(|t| if *t == "VMInstance" { "UserVm" } else { *t })
        .ok_or_else(|| ApiError::param(format!("Invalid resource type {raw}")))
}

fn resource_owner(world: &World, kind: &str, id: &str) -> Option<String> {
    match kind {
        "UserVm" => world
            .vms
            .iter()
            .find(|v| v.id == id)
            .map(|v| v.account_id.clone()),
        "Volume" => world
            .volumes
            .iter()
            .find(|v| v.id == id)
            .map(|v| v.account_id.clone()),
        "Snapshot" => world
            .snapshots
            .iter()
            .find(|v| v.id == id)
            .map(|v| v.account_id.clone()),
        "Template" | "ISO" => world
            .templates
            .iter()
            .find(|v| v.id == id)
            .map(|v| v.account_id.clone()),
        "Network" => world
            .networks
            .iter()
            .find(|n| n.id == id)
            .map(|_| crate::model::ids::USER_ACCOUNT.to_owned()),
        "SecurityGroup" => world
            .security_groups
            .iter()
            .find(|v| v.id == id)
            .map(|v| v.account_id.clone()),
        "PublicIpAddress" => world
            .public_ips
            .iter()
            .find(|v| v.id == id)
            .map(|v| v.account_id.clone()),
        "Project" => world
            .projects
            .iter()
            .find(|p| p.id == id)
            .map(|_| crate::model::ids::USER_ACCOUNT.to_owned()),
        _ => None,
    }
}

/// Tag validation happens inside the job on a real server, so its errors surface as failed
/// jobs rather than immediate 431 answers.
fn create_tags(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let resource_ids = params.list("resourceids");
    if resource_ids.is_empty() {
        return Err(ApiError::missing(params.command(), "resourceids"));
    }
    let kind = canonical_resource_type(params.required("resourcetype")?)?;
    let tags: Vec<(String, String)> = params
        .map("tags")
        .into_iter()
        .filter_map(|mut m| Some((m.remove("key")?, m.remove("value").unwrap_or_default())))
        .collect();
    if tags.is_empty() {
        return Err(ApiError::missing(params.command(), "tags"));
    }
    let validation = (|| {
        for id in &resource_ids {
            let owner = resource_owner(world, kind, id).ok_or_else(|| {
                ApiError::param(format!(
                    "Unable to find resource by id {id} and type {kind}"
                ))
            })?;
            if !can_see(ctx, &owner) && !matches!(kind, "Network" | "Project") {
                return Err(ApiError::permission(format!(
                    "Account does not have access to resource {id}"
                )));
            }
            for (key, _) in &tags {
                if world
                    .tags
                    .iter()
                    .any(|t| &t.resource_id == id && &t.key == key)
                {
                    return Err(ApiError::param(format!(
                        "tag {key} already on {kind} with id {id}"
                    )));
                }
            }
        }
        let mut seen = HashSet::new();
        for (key, _) in &tags {
            if !seen.insert(key) {
                return Err(ApiError::param(format!("tag {key} specified twice")));
            }
        }
        Ok(())
    })();
    let mut spec = JobSpec::new("createTags", JobResultKind::Success);
    match validation {
        Err(e) => spec.failure = Some((e.errorcode, e.errortext)),
        Ok(()) if ctx.job_fault.is_none() => {
            for id in &resource_ids {
                for (key, value) in &tags {
                    world.tags.push(Tag {
                        key: key.clone(),
                        value: value.clone(),
                        resource_id: id.clone(),
                        resource_type: kind.to_owned(),
                        account_id: ctx.caller.account_id.clone(),
                    });
                }
            }
        }
        Ok(()) => {}
    }
    let job_id = submit(world, ctx, spec);
    Ok(json!({"jobid": job_id}))
}

fn delete_tags(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let resource_ids = params.list("resourceids");
    if resource_ids.is_empty() {
        return Err(ApiError::missing(params.command(), "resourceids"));
    }
    let kind = canonical_resource_type(params.required("resourcetype")?)?;
    let filters = params.tag_filters();
    let mut spec = JobSpec::new("deleteTags", JobResultKind::Success);
    let unknown = resource_ids
        .iter()
        .find(|id| resource_owner(world, kind, id).is_none());
    if let Some(id) = unknown {
        spec.failure = Some((
            431,
            format!("Unable to find resource by id {id} and type {kind}"),
        ));
    } else if ctx.job_fault.is_none() {
        world.tags.retain(|t| {
            let targeted = resource_ids.contains(&t.resource_id) && t.resource_type == kind;
            let selected = filters.is_empty()
                || filters
                    .iter()
                    .any(|(k, v)| &t.key == k && v.as_ref().is_none_or(|v| &t.value == v));
            !(targeted && selected)
        });
    }
    let job_id = submit(world, ctx, spec);
    Ok(json!({"jobid": job_id}))
}

fn list_tags(world: &World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let kind = match params.get("resourcetype") {
        Some(k) => Some(canonical_resource_type(k)?),
        None => None,
    };
    let items = world
        .tags
        .iter()
        .filter(|t| can_see(ctx, &t.account_id))
        .filter(|t| params.get("resourceid").is_none_or(|r| t.resource_id == r))
        .filter(|t| kind.is_none_or(|k| t.resource_type == k))
        .filter(|t| params.get("key").is_none_or(|k| t.key == k))
        .filter(|t| params.get("value").is_none_or(|v| t.value == v))
        .map(|t| {
            json!({
                "key": t.key,
                "value": t.value,
                "resourcetype": t.resource_type,
                "resourceid": t.resource_id,
                "account": render::account_name(&t.account_id),
                "domainid": crate::model::ids::DOMAIN,
                "domain": "ROOT",
            })
        })
        .collect();
    page(world, params, "tag", items)
}

// ---------------------------------------------------------------------------------------------
// Public IPs and static NAT.

fn associate_ip(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let network = match params.get("networkid") {
        Some(id) => {
            let net = world
                .networks
                .iter()
                .find(|n| n.id == id)
                .ok_or_else(|| ApiError::bad_id("networkid", id))?;
            if net.kind != "Isolated" {
                return Err(ApiError::param(format!(
                    "Can't associate ip to network {} of type {}; only Isolated networks are supported",
                    net.name, net.kind
                )));
            }
            Some(net.clone())
        }
        None => None,
    };
    let zone_id = match (params.get("zoneid"), &network) {
        (Some(z), _) => world
            .zones
            .iter()
            .find(|zone| zone.id == z)
            .map(|zone| zone.id.clone())
            .ok_or_else(|| ApiError::bad_id("zoneid", z))?,
        (None, Some(n)) => n.zone_id.clone(),
        (None, None) => {
            return Err(ApiError::param(
                "Either networkId or vpcId or zoneId has to be specified",
            ));
        }
    };
    let range = world
        .public_ip_range
        .clone()
        .ok_or_else(|| ApiError::capacity("No public IP range configured"))?;
    let start: Ipv4Addr = range
        .start
        .parse()
        .map_err(|_| ApiError::internal("bad public range"))?;
    let end: Ipv4Addr = range
        .end
        .parse()
        .map_err(|_| ApiError::internal("bad public range"))?;
    let used: HashSet<&str> = world
        .public_ips
        .iter()
        .map(|i| i.ipaddress.as_str())
        .collect();
    let address = match params.get("ipaddress") {
        Some(requested) => {
            let ip: Ipv4Addr = requested.parse().map_err(|_| {
                ApiError::param(format!("Invalid format for IPv4 address: {requested}"))
            })?;
            if u32::from(ip) < u32::from(start) || u32::from(ip) > u32::from(end) {
                return Err(ApiError::param(format!(
                    "Requested ip address {requested} is not in the public range {}-{}",
                    range.start, range.end
                )));
            }
            if used.contains(requested) {
                return Err(ApiError::capacity(format!(
                    "Requested ip address {requested} is already allocated"
                )));
            }
            requested.to_owned()
        }
        None => (u32::from(start)..=u32::from(end))
            .map(|n| Ipv4Addr::from(n).to_string())
            .find(|ip| !used.contains(ip.as_str()))
            .ok_or_else(|| ApiError::capacity("Insufficient address capacity"))?,
    };
    let ip_id = new_id();
    let mut spec = JobSpec::new(
        "associateIpAddress",
        JobResultKind::IpAddress(ip_id.clone()),
    )
    .instance("IpAddress", &ip_id);
    if ctx.job_fault.is_none() {
        world.public_ips.push(PublicIp {
            id: ip_id.clone(),
            ipaddress: address,
            zone_id,
            network_id: network.map(|n| n.id),
            state: "Allocating".into(),
            static_nat_vm: None,
            account_id: ctx.caller.account_id.clone(),
            allocated_ms: ctx.now_ms,
        });
        spec.effects = vec![Effect::IpAllocated {
            ip_id: ip_id.clone(),
        }];
    }
    let job_id = submit(world, ctx, spec);
    Ok(json!({"id": ip_id, "jobid": job_id}))
}

fn ip_index(world: &World, ctx: &Ctx<'_>, param: &str, id: &str) -> Result<usize, ApiError> {
    world
        .public_ips
        .iter()
        .position(|i| i.id == id && can_see(ctx, &i.account_id))
        .ok_or_else(|| ApiError::bad_id(param, id))
}

fn disassociate_ip(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let id = params.required("id")?;
    let index = ip_index(world, ctx, "id", id)?;
    if let Some(body) = injected_failure(world, ctx, "disassociateIpAddress") {
        return Ok(body);
    }
    world.public_ips.remove(index);
    world.tags.retain(|t| t.resource_id != id);
    let job_id = submit(
        world,
        ctx,
        JobSpec::new("disassociateIpAddress", JobResultKind::Success).instance("IpAddress", id),
    );
    Ok(json!({"jobid": job_id}))
}

fn list_public_ips(world: &World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let filters = params.tag_filters();
    let static_nat = params.bool("isstaticnat")?;
    let items = world
        .public_ips
        .iter()
        .filter(|i| can_see(ctx, &i.account_id))
        .filter(|i| params.get("id").is_none_or(|x| i.id == x))
        .filter(|i| params.get("ipaddress").is_none_or(|x| i.ipaddress == x))
        .filter(|i| {
            params
                .get("associatednetworkid")
                .is_none_or(|x| i.network_id.as_deref() == Some(x))
        })
        .filter(|i| params.get("zoneid").is_none_or(|x| i.zone_id == x))
        .filter(|i| static_nat.is_none_or(|s| i.static_nat_vm.is_some() == s))
        .filter(|i| matches_tags(world, &i.id, &filters))
        .map(|i| render::public_ip(world, i))
        .collect();
    page(world, params, "publicipaddress", items)
}

fn enable_static_nat(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let ip_id = params.required("ipaddressid")?;
    let vm_id = params.required("virtualmachineid")?;
    let index = ip_index(world, ctx, "ipaddressid", ip_id)?;
    let vm = find_vm(world, ctx, "virtualmachineid", vm_id)?;
    if matches!(
        vm.state,
        VmState::Destroyed | VmState::Expunging | VmState::Error
    ) {
        return Err(ApiError::param(format!(
            "Can't enable static nat for vm {} in state {}",
            vm.name,
            vm.state.as_str()
        )));
    }
    let ip = &world.public_ips[index];
    if let Some(network_id) = params
        .get("networkid")
        .map(str::to_owned)
        .or_else(|| ip.network_id.clone())
        && !vm.nics.iter().any(|n| n.network_id == network_id)
    {
        return Err(ApiError::param(format!(
            "Virtual machine {} is not in the network {network_id} of the ip address",
            vm.name
        )));
    }
    if let Some(other) = &ip.static_nat_vm {
        return Err(ApiError::new(
            537,
            4380,
            format!(
                "Failed to enable static nat for the ip address id={ip_id} as ip is already associated with vm id={other}"
            ),
        ));
    }
    if let Some(other) = world
        .public_ips
        .iter()
        .find(|i| i.static_nat_vm.as_deref() == Some(vm_id))
    {
        return Err(ApiError::new(
            537,
            4380,
            format!(
                "Failed to enable static nat for the ip address id={ip_id} as vm id={vm_id} is already associated with ip id={}",
                other.id
            ),
        ));
    }
    world.public_ips[index].static_nat_vm = Some(vm_id.to_owned());
    Ok(json!({"success": true}))
}

fn disable_static_nat(
    world: &mut World,
    ctx: &Ctx<'_>,
    params: &Params,
) -> Result<Value, ApiError> {
    let ip_id = params.required("ipaddressid")?;
    let index = ip_index(world, ctx, "ipaddressid", ip_id)?;
    if world.public_ips[index].static_nat_vm.is_none() {
        return Err(ApiError::param(
            "Specified IP address id is not associated with any vm Id",
        ));
    }
    if let Some(body) = injected_failure(world, ctx, "disableStaticNat") {
        return Ok(body);
    }
    world.public_ips[index].static_nat_vm = None;
    let job_id = submit(
        world,
        ctx,
        JobSpec::new("disableStaticNat", JobResultKind::Success).instance("IpAddress", ip_id),
    );
    Ok(json!({"jobid": job_id}))
}

// ---------------------------------------------------------------------------------------------
// SSH key pairs.

fn fingerprint(blob: &[u8]) -> String {
    use md5::Digest as _;
    let digest = md5::Md5::digest(blob);
    digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn create_key_pair(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let name = params.required("name")?;
    if world
        .ssh_key_pairs
        .iter()
        .any(|k| k.name == name && k.account_id == ctx.caller.account_id)
    {
        return Err(ApiError::param(format!(
            "A key pair with name '{name}' already exists."
        )));
    }
    // The emulator has no RSA implementation; the keys are random bytes in the usual
    // envelopes, which is all a CPI stores or forwards.
    let blob: Vec<u8> = (0..279).map(|_| rand::random::<u8>()).collect();
    let private: Vec<u8> = (0..1190).map(|_| rand::random::<u8>()).collect();
    let engine = base64::engine::general_purpose::STANDARD;
    let body = engine.encode(&private);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    let private_key = format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n",
        lines.join("\n")
    );
    let pair = SshKeyPair {
        id: new_id(),
        name: name.to_owned(),
        account_id: ctx.caller.account_id.clone(),
        fingerprint: fingerprint(&blob),
        public_key: format!("ssh-rsa {} {name}", engine.encode(&blob)),
    };
    let mut rendered = render::key_pair(&pair);
    rendered["privatekey"] = json!(private_key);
    world.ssh_key_pairs.push(pair);
    Ok(json!({"keypair": rendered}))
}

fn register_key_pair(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let name = params.required("name")?;
    let public_key = params.required("publickey")?;
    if world
        .ssh_key_pairs
        .iter()
        .any(|k| k.name == name && k.account_id == ctx.caller.account_id)
    {
        return Err(ApiError::param(format!(
            "A key pair with name '{name}' already exists."
        )));
    }
    let mut parts = public_key.split_whitespace();
    let kind = parts.next().unwrap_or_default();
    let blob = parts
        .next()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .filter(|_| kind.starts_with("ssh-") || kind.starts_with("ecdsa-"))
        .ok_or_else(|| ApiError::param("Public key is invalid"))?;
    let pair = SshKeyPair {
        id: new_id(),
        name: name.to_owned(),
        account_id: ctx.caller.account_id.clone(),
        fingerprint: fingerprint(&blob),
        public_key: public_key.trim().to_owned(),
    };
    let rendered = render::key_pair(&pair);
    world.ssh_key_pairs.push(pair);
    Ok(json!({"keypair": rendered}))
}

fn list_key_pairs(world: &World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let items = world
        .ssh_key_pairs
        .iter()
        .filter(|k| can_see(ctx, &k.account_id))
        .filter(|k| params.get("name").is_none_or(|n| k.name == n))
        .filter(|k| params.get("fingerprint").is_none_or(|f| k.fingerprint == f))
        .map(render::key_pair)
        .collect();
    page(world, params, "sshkeypair", items)
}

fn delete_key_pair(world: &mut World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let name = params.required("name")?;
    let pos = world
        .ssh_key_pairs
        .iter()
        .position(|k| k.name == name && k.account_id == ctx.caller.account_id)
        .ok_or_else(|| {
            ApiError::param(format!(
                "A key pair with name '{name}' does not exist for account {} in specified domain id",
                render::account_name(&ctx.caller.account_id)
            ))
        })?;
    world.ssh_key_pairs.remove(pos);
    Ok(json!({"success": true}))
}

// ---------------------------------------------------------------------------------------------
// Affinity and security groups.

fn create_affinity_group(
    world: &mut World,
    ctx: &Ctx<'_>,
    params: &Params,
) -> Result<Value, ApiError> {
    let name = params.required("name")?;
    let kind = params.required("type")?;
    if !matches!(kind, "host anti-affinity" | "host affinity") {
        return Err(ApiError::param(format!(
            "Unable to create affinity group, invalid affinity group type{kind}"
        )));
    }
    if world
        .affinity_groups
        .iter()
        .any(|g| g.name == name && g.account_id == ctx.caller.account_id)
    {
        return Err(ApiError::param(format!(
            "Unable to create affinity group, a group with name {name} already exists."
        )));
    }
    let id = new_id();
    let spec = JobSpec::new(
        "createAffinityGroup",
        JobResultKind::AffinityGroup(id.clone()),
    )
    .instance("AffinityGroup", &id);
    if ctx.job_fault.is_none() {
        world.affinity_groups.push(AffinityGroup {
            id: id.clone(),
            name: name.to_owned(),
            description: params.get("description").unwrap_or(name).to_owned(),
            kind: kind.to_owned(),
            account_id: ctx.caller.account_id.clone(),
        });
    }
    let job_id = submit(world, ctx, spec);
    Ok(json!({"id": id, "jobid": job_id}))
}

fn list_affinity_groups(world: &World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let items = world
        .affinity_groups
        .iter()
        .filter(|g| can_see(ctx, &g.account_id))
        .filter(|g| params.get("id").is_none_or(|i| g.id == i))
        .filter(|g| params.get("name").is_none_or(|n| g.name == n))
        .filter(|g| params.get("type").is_none_or(|t| g.kind == t))
        .filter(|g| {
            params.get("virtualmachineid").is_none_or(|vm| {
                world
                    .vms
                    .iter()
                    .any(|v| v.id == vm && v.affinity_group_ids.contains(&g.id))
            })
        })
        .map(|g| render::affinity_group(world, g))
        .collect();
    page(world, params, "affinitygroup", items)
}

fn delete_affinity_group(
    world: &mut World,
    ctx: &Ctx<'_>,
    params: &Params,
) -> Result<Value, ApiError> {
    let pos = match (params.get("id"), params.get("name")) {
        (Some(id), _) => world
            .affinity_groups
            .iter()
            .position(|g| g.id == id && can_see(ctx, &g.account_id))
            .ok_or_else(|| ApiError::bad_id("id", id))?,
        (None, Some(name)) => world
            .affinity_groups
            .iter()
            .position(|g| g.name == name && g.account_id == ctx.caller.account_id)
            .ok_or_else(|| {
                ApiError::param(format!("Unable to find affinity group by name {name}"))
            })?,
        (None, None) => {
            return Err(ApiError::param(
                "Either the affinity group name or the id has to be specified",
            ));
        }
    };
    let group_id = world.affinity_groups[pos].id.clone();
    if world
        .vms
        .iter()
        .any(|v| v.affinity_group_ids.contains(&group_id))
    {
        return Err(ApiError::in_use(
            "Cannot delete affinity group, as it is in use by VMs",
        ));
    }
    if let Some(body) = injected_failure(world, ctx, "deleteAffinityGroup") {
        return Ok(body);
    }
    world.affinity_groups.remove(pos);
    let job_id = submit(
        world,
        ctx,
        JobSpec::new("deleteAffinityGroup", JobResultKind::Success)
            .instance("AffinityGroup", &group_id),
    );
    Ok(json!({"jobid": job_id}))
}

fn create_security_group(
    world: &mut World,
    ctx: &Ctx<'_>,
    params: &Params,
) -> Result<Value, ApiError> {
    let name = params.required("name")?;
    if world
        .security_groups
        .iter()
        .any(|g| g.name == name && g.account_id == ctx.caller.account_id)
    {
        return Err(ApiError::param(format!(
            "Unable to create security group, a group with name {name} already exists."
        )));
    }
    let group = SecurityGroup {
        id: new_id(),
        name: name.to_owned(),
        description: params.get("description").unwrap_or("").to_owned(),
        account_id: ctx.caller.account_id.clone(),
    };
    let rendered = render::security_group(world, &group);
    world.security_groups.push(group);
    Ok(json!({"securitygroup": rendered}))
}

fn list_security_groups(world: &World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let filters = params.tag_filters();
    let items = world
        .security_groups
        .iter()
        .filter(|g| can_see(ctx, &g.account_id))
        .filter(|g| params.get("id").is_none_or(|i| g.id == i))
        .filter(|g| params.get("securitygroupname").is_none_or(|n| g.name == n))
        .filter(|g| {
            params.get("virtualmachineid").is_none_or(|vm| {
                world
                    .vms
                    .iter()
                    .any(|v| v.id == vm && v.security_group_ids.contains(&g.id))
            })
        })
        .filter(|g| keyword_match(params, &g.name))
        .filter(|g| matches_tags(world, &g.id, &filters))
        .map(|g| render::security_group(world, g))
        .collect();
    page(world, params, "securitygroup", items)
}

fn delete_security_group(
    world: &mut World,
    ctx: &Ctx<'_>,
    params: &Params,
) -> Result<Value, ApiError> {
    let pos = match (params.get("id"), params.get("name")) {
        (Some(id), _) => world
            .security_groups
            .iter()
            .position(|g| g.id == id && can_see(ctx, &g.account_id))
            .ok_or_else(|| ApiError::bad_id("id", id))?,
        (None, Some(name)) => world
            .security_groups
            .iter()
            .position(|g| g.name == name && g.account_id == ctx.caller.account_id)
            .ok_or_else(|| {
                ApiError::param(format!("Unable to find security group by name {name}"))
            })?,
        (None, None) => {
            return Err(ApiError::param(
                "Either the security group name or the id has to be specified",
            ));
        }
    };
    let group_id = world.security_groups[pos].id.clone();
    if world
        .vms
        .iter()
        .any(|v| v.security_group_ids.contains(&group_id))
    {
        return Err(ApiError::in_use(
            "Cannot delete group when it's in use by virtual machines",
        ));
    }
    world.security_groups.remove(pos);
    world.tags.retain(|t| t.resource_id != group_id);
    Ok(json!({"success": true}))
}

// ---------------------------------------------------------------------------------------------
// Jobs.

fn query_job(world: &World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let id = params.required("jobid")?;
    let job = world
        .jobs
        .iter()
        .find(|j| j.id == id && can_see(ctx, &j.account_id))
        .ok_or_else(|| ApiError::bad_id("jobid", id))?;
    Ok(render::job(job))
}

fn list_jobs(world: &World, ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let listall = params.bool("listall")?.unwrap_or(false);
    let items = world
        .jobs
        .iter()
        .filter(|j| j.account_id == ctx.caller.account_id || (ctx.caller.is_admin && listall))
        .map(render::job)
        .collect();
    page(world, params, "asyncjobs", items)
}
