//! Renders model objects as CloudStack JSON response objects (field names and types as in the
//! fixtures under `tests/fixtures/`).

use serde_json::{Map, Value, json};

use crate::clock::format_cs_date;
use crate::model::{
    AffinityGroup, Job, JobStatus, Network, PublicIp, SecurityGroup, SshKeyPair, Template, Vm,
    VmState, Volume, VolumeType, World, ids,
};

/// Id of the one shared primary storage pool.
pub const SHARED_POOL_ID: &str = "9a7e2b2c-0c1d-4d1e-9f0a-000000000001";
/// Name of the shared primary storage pool.
pub const SHARED_POOL_NAME: &str = "primary-shared";

/// Account name of an account id.
pub fn account_name(account_id: &str) -> &'static str {
    if account_id == ids::ADMIN_ACCOUNT {
        "admin"
    } else {
        "bosh"
    }
}

fn user_id_of(account_id: &str) -> &'static str {
    if account_id == ids::ADMIN_ACCOUNT {
        ids::ADMIN_USER
    } else {
        ids::USER_USER
    }
}

fn owner_fields(map: &mut Map<String, Value>, account_id: &str) {
    map.insert("account".into(), json!(account_name(account_id)));
    map.insert("domainid".into(), json!(ids::DOMAIN));
    map.insert("domain".into(), json!("ROOT"));
}

fn insert_job(map: &mut Map<String, Value>, world: &World, pending: Option<&String>) {
    if let Some(job_id) = pending
        && world
            .jobs
            .iter()
            .any(|j| &j.id == job_id && j.status == JobStatus::Pending)
    {
        map.insert("jobid".into(), json!(job_id));
        map.insert("jobstatus".into(), json!(0));
    }
}

/// The `tags` array of a resource.
pub fn tags_of(world: &World, resource_id: &str) -> Value {
    Value::Array(
        world
            .tags
            .iter()
            .filter(|t| t.resource_id == resource_id)
            .map(|t| {
                json!({
                    "key": t.key,
                    "value": t.value,
                    "resourcetype": t.resource_type,
                    "resourceid": t.resource_id,
                    "account": account_name(&t.account_id),
                    "domainid": ids::DOMAIN,
                    "domain": "ROOT",
                })
            })
            .collect(),
    )
}

/// A zone object.
pub fn zone(world: &World, zone: &crate::model::Zone) -> Value {
    json!({
        "id": zone.id,
        "name": zone.name,
        "description": zone.name,
        "dns1": "8.8.8.8",
        "dns2": "8.8.4.4",
        "internaldns1": "10.0.0.2",
        "internaldns2": "10.0.0.3",
        "networktype": zone.networktype,
        "securitygroupsenabled": zone.securitygroupsenabled,
        "allocationstate": "Enabled",
        "zonetoken": format!("token-{}", zone.id),
        "dhcpprovider": "VirtualRouter",
        "localstorageenabled": zone.localstorageenabled,
        "tags": tags_of(world, &zone.id),
    })
}

/// A network object.
pub fn network(world: &World, net: &Network) -> Value {
    let netmask = crate::model::parse_cidr(&net.cidr)
        .map(|(_, len)| crate::model::netmask(len).to_string())
        .unwrap_or_default();
    let zone_name = world
        .zones
        .iter()
        .find(|z| z.id == net.zone_id)
        .map(|z| z.name.clone())
        .unwrap_or_default();
    let isolated = net.kind == "Isolated";
    let mut services = vec![
        json!({"name": "Dhcp", "capability": [{"name": "DhcpAccrossMultipleSubnets", "value": "true", "canchooseservicecapability": false}]}),
        json!({"name": "Dns", "capability": [{"name": "AllowDnsSuffixModification", "value": "true", "canchooseservicecapability": false}]}),
        json!({"name": "UserData"}),
    ];
    if isolated {
        services.push(json!({"name": "SourceNat", "capability": [{"name": "SupportedSourceNatTypes", "value": "peraccount", "canchooseservicecapability": false}]}));
        services.push(json!({"name": "StaticNat"}));
        services.push(json!({"name": "Firewall", "capability": [{"name": "SupportedProtocols", "value": "tcp,udp,icmp", "canchooseservicecapability": false}]}));
    }
    json!({
        "id": net.id,
        "name": net.name,
        "displaytext": net.name,
        "broadcastdomaintype": "Vlan",
        "traffictype": "Guest",
        "gateway": net.gateway,
        "netmask": netmask,
        "cidr": net.cidr,
        "zoneid": net.zone_id,
        "zonename": zone_name,
        "networkofferingid": if isolated { "9a7e2b2c-0c1d-4d1e-9f0b-000000000001" } else { "9a7e2b2c-0c1d-4d1e-9f0b-000000000002" },
        "networkofferingname": if isolated { "DefaultIsolatedNetworkOfferingWithSourceNatService" } else { "DefaultSharedNetworkOffering" },
        "networkofferingdisplaytext": if isolated { "Offering for Isolated networks with Source Nat service enabled" } else { "Offering for Shared networks" },
        "networkofferingconservemode": true,
        "networkofferingavailability": if isolated { "Required" } else { "Optional" },
        "issystem": false,
        "state": "Implemented",
        "related": net.id,
        "dns1": "8.8.8.8",
        "type": net.kind,
        "acltype": if isolated { "Account" } else { "Domain" },
        "account": "bosh",
        "domainid": ids::DOMAIN,
        "domain": "ROOT",
        "networkdomain": net.network_domain,
        "physicalnetworkid": "9a7e2b2c-0c1d-4d1e-9f0d-000000000001",
        "restartrequired": false,
        "specifyipranges": !isolated,
        "canusefordeploy": true,
        "ispersistent": false,
        "details": {},
        "displaynetwork": true,
        "strechedl2subnet": false,
        "redundantrouter": false,
        "service": services,
        "tags": tags_of(world, &net.id),
    })
}

fn vlan_of(net_id: &str) -> u32 {
    // A stable pseudo VLAN derived from the id keeps `isolationuri` realistic and constant.
    net_id.bytes().map(u32::from).sum::<u32>() % 4000 + 10
}

/// A VM object.
pub fn vm(world: &World, vm: &Vm) -> Value {
    let zone = world.zones.iter().find(|z| z.id == vm.zone_id);
    let template = world.templates.iter().find(|t| t.id == vm.template_id);
    let offering = world
        .service_offerings
        .iter()
        .find(|o| o.id == vm.service_offering_id);
    let os_type = template.and_then(|t| world.os_types.iter().find(|o| o.id == t.ostype_id));
    let mut map = Map::new();
    map.insert("id".into(), json!(vm.id));
    map.insert("name".into(), json!(vm.name));
    map.insert("displayname".into(), json!(vm.displayname));
    owner_fields(&mut map, &vm.account_id);
    map.insert("userid".into(), json!(user_id_of(&vm.account_id)));
    map.insert("username".into(), json!(account_name(&vm.account_id)));
    map.insert("created".into(), json!(format_cs_date(vm.created_ms)));
    map.insert("state".into(), json!(vm.state.as_str()));
    map.insert("haenable".into(), json!(false));
    map.insert("zoneid".into(), json!(vm.zone_id));
    map.insert(
        "zonename".into(),
        json!(zone.map(|z| z.name.clone()).unwrap_or_default()),
    );
    let on_host = matches!(
        vm.state,
        VmState::Running | VmState::Starting | VmState::Stopping
    );
    if on_host && let Some(host_id) = &vm.host_id {
        map.insert("hostid".into(), json!(host_id));
        if let Some(host) = world.hosts.iter().find(|h| &h.id == host_id) {
            map.insert("hostname".into(), json!(host.name));
        }
    }
    map.insert("templateid".into(), json!(vm.template_id));
    if let Some(t) = template {
        map.insert("templatename".into(), json!(t.name));
        map.insert("templatedisplaytext".into(), json!(t.displaytext));
        map.insert("passwordenabled".into(), json!(t.passwordenabled));
    }
    map.insert("serviceofferingid".into(), json!(vm.service_offering_id));
    if let Some(o) = offering {
        map.insert("serviceofferingname".into(), json!(o.name));
    }
    map.insert("cpunumber".into(), json!(vm.cpunumber));
    map.insert("cpuspeed".into(), json!(vm.cpuspeed));
    map.insert("memory".into(), json!(vm.memory));
    if let Some(os) = os_type {
        map.insert("guestosid".into(), json!(os.id));
        map.insert("ostypeid".into(), json!(os.id));
        map.insert("osdisplayname".into(), json!(os.description));
    }
    map.insert("rootdeviceid".into(), json!(0));
    map.insert("rootdevicetype".into(), json!("ROOT"));
    let security_groups: Vec<Value> = vm
        .security_group_ids
        .iter()
        .filter_map(|id| world.security_groups.iter().find(|g| &g.id == id))
        .map(|g| json!({"id": g.id, "name": g.name, "description": g.description}))
        .collect();
    map.insert("securitygroup".into(), Value::Array(security_groups));
    let nics: Vec<Value> = vm
        .nics
        .iter()
        .map(|nic| {
            let net = world.networks.iter().find(|n| n.id == nic.network_id);
            let (netmask, gateway, name, kind) = match net {
                Some(n) => (
                    crate::model::parse_cidr(&n.cidr)
                        .map(|(_, len)| crate::model::netmask(len).to_string())
                        .unwrap_or_default(),
                    n.gateway.clone(),
                    n.name.clone(),
                    n.kind.clone(),
                ),
                None => Default::default(),
            };
            let vlan = format!("vlan://{}", vlan_of(&nic.network_id));
            json!({
                "id": nic.id,
                "networkid": nic.network_id,
                "networkname": name,
                "netmask": netmask,
                "gateway": gateway,
                "ipaddress": nic.ipaddress,
                "isolationuri": vlan,
                "broadcasturi": vlan,
                "traffictype": "Guest",
                "type": kind,
                "isdefault": nic.isdefault,
                "macaddress": nic.macaddress,
                "secondaryip": [],
                "extradhcpoption": [],
            })
        })
        .collect();
    map.insert("nic".into(), Value::Array(nics));
    map.insert("hypervisor".into(), json!(world.settings.hypervisor));
    map.insert("instancename".into(), json!(vm.instancename));
    map.insert("details".into(), json!(vm.details));
    let groups: Vec<Value> = vm
        .affinity_group_ids
        .iter()
        .filter_map(|id| world.affinity_groups.iter().find(|g| &g.id == id))
        .map(|g| json!({"id": g.id, "name": g.name, "description": g.description, "type": g.kind}))
        .collect();
    map.insert("affinitygroup".into(), Value::Array(groups));
    map.insert("displayvm".into(), json!(true));
    map.insert("isdynamicallyscalable".into(), json!(false));
    if let Some(keypair) = &vm.keypair {
        map.insert("keypairs".into(), json!(keypair));
        map.insert("keypair".into(), json!(keypair));
    }
    if let Some(ip) = world
        .public_ips
        .iter()
        .find(|ip| ip.static_nat_vm.as_deref() == Some(vm.id.as_str()))
    {
        map.insert("publicip".into(), json!(ip.ipaddress));
        map.insert("publicipid".into(), json!(ip.id));
    }
    map.insert("tags".into(), tags_of(world, &vm.id));
    insert_job(&mut map, world, vm.pending_job.as_ref());
    Value::Object(map)
}

/// A volume object.
pub fn volume(world: &World, vol: &Volume) -> Value {
    let mut map = Map::new();
    map.insert("id".into(), json!(vol.id));
    map.insert("name".into(), json!(vol.name));
    map.insert("zoneid".into(), json!(vol.zone_id));
    if let Some(zone) = world.zones.iter().find(|z| z.id == vol.zone_id) {
        map.insert("zonename".into(), json!(zone.name));
    }
    map.insert(
        "type".into(),
        json!(match vol.kind {
            VolumeType::Root => "ROOT",
            VolumeType::DataDisk => "DATADISK",
        }),
    );
    if let Some(device) = vol.device_id {
        map.insert("deviceid".into(), json!(device));
    }
    if let Some(vm_id) = &vol.vm_id {
        map.insert("virtualmachineid".into(), json!(vm_id));
        if let Some(vm) = world.vms.iter().find(|v| &v.id == vm_id) {
            map.insert("vmname".into(), json!(vm.name));
            map.insert("vmdisplayname".into(), json!(vm.displayname));
            map.insert("vmstate".into(), json!(vm.state.as_str()));
            map.insert("attached".into(), json!(format_cs_date(vol.created_ms)));
        }
    }
    map.insert("provisioningtype".into(), json!("thin"));
    map.insert("size".into(), json!(vol.size));
    map.insert("created".into(), json!(format_cs_date(vol.created_ms)));
    map.insert("state".into(), json!(vol.state));
    owner_fields(&mut map, &vol.account_id);
    map.insert("storagetype".into(), json!(vol.storagetype));
    map.insert("hypervisor".into(), json!(world.settings.hypervisor));
    if let Some(offering_id) = &vol.disk_offering_id {
        map.insert("diskofferingid".into(), json!(offering_id));
        if let Some(o) = world.disk_offerings.iter().find(|o| &o.id == offering_id) {
            map.insert("diskofferingname".into(), json!(o.name));
            map.insert("diskofferingdisplaytext".into(), json!(o.displaytext));
        }
    }
    if vol.storagetype == "local" {
        if let Some(host_id) = &vol.host_id {
            let host_name = world
                .hosts
                .iter()
                .find(|h| &h.id == host_id)
                .map(|h| h.name.clone())
                .unwrap_or_default();
            map.insert("storage".into(), json!(format!("{host_name}-local")));
            map.insert("storageid".into(), json!(host_id));
        }
    } else {
        map.insert("storage".into(), json!(SHARED_POOL_NAME));
        map.insert("storageid".into(), json!(SHARED_POOL_ID));
    }
    map.insert("destroyed".into(), json!(false));
    map.insert("isextractable".into(), json!(false));
    map.insert("displayvolume".into(), json!(true));
    map.insert("path".into(), json!(vol.id.replace('-', "")));
    map.insert("tags".into(), tags_of(world, &vol.id));
    insert_job(&mut map, world, vol.pending_job.as_ref());
    Value::Object(map)
}

/// A template object (fixture `registerTemplate.json`).
pub fn template(world: &World, t: &Template) -> Value {
    let zone_name = world
        .zones
        .iter()
        .find(|z| z.id == t.zone_id)
        .map(|z| z.name.clone())
        .unwrap_or_default();
    let os_name = world
        .os_types
        .iter()
        .find(|o| o.id == t.ostype_id)
        .map(|o| o.description.clone())
        .unwrap_or_default();
    let mut map = Map::new();
    map.insert("id".into(), json!(t.id));
    map.insert("name".into(), json!(t.name));
    map.insert("displaytext".into(), json!(t.displaytext));
    map.insert("ispublic".into(), json!(t.ispublic));
    map.insert("created".into(), json!(format_cs_date(t.created_ms)));
    map.insert("isready".into(), json!(t.isready));
    map.insert("passwordenabled".into(), json!(t.passwordenabled));
    map.insert("format".into(), json!(t.format));
    map.insert("isfeatured".into(), json!(t.isfeatured));
    map.insert("crossZones".into(), json!(false));
    map.insert("ostypeid".into(), json!(t.ostype_id));
    map.insert("ostypename".into(), json!(os_name));
    owner_fields(&mut map, &t.account_id);
    map.insert("zoneid".into(), json!(t.zone_id));
    map.insert("zonename".into(), json!(zone_name));
    map.insert("status".into(), json!(t.status));
    if t.size > 0 {
        map.insert("size".into(), json!(t.size));
        map.insert("physicalsize".into(), json!(t.size));
    }
    map.insert("templatetype".into(), json!(t.templatetype));
    map.insert("hypervisor".into(), json!(t.hypervisor));
    map.insert("isextractable".into(), json!(t.isextractable));
    if !t.checksum.is_empty() {
        map.insert("checksum".into(), json!(t.checksum));
    }
    map.insert("details".into(), json!(t.details));
    map.insert(
        "downloaddetails".into(),
        json!([{
            "downloadState": t.download_state,
            "datastore": "secondary-nfs",
            "downloadPercent": t.download_percent.to_string(),
        }]),
    );
    map.insert("bits".into(), json!(t.bits));
    map.insert("sshkeyenabled".into(), json!(false));
    map.insert("isdynamicallyscalable".into(), json!(false));
    map.insert("directdownload".into(), json!(false));
    map.insert("deployasis".into(), json!(false));
    map.insert("requireshvm".into(), json!(t.requireshvm));
    if !t.url.is_empty() {
        map.insert("url".into(), json!(t.url));
    }
    map.insert("tags".into(), tags_of(world, &t.id));
    Value::Object(map)
}

/// A snapshot object.
pub fn snapshot(world: &World, snap: &crate::model::Snapshot) -> Value {
    let vol = world.volumes.iter().find(|v| v.id == snap.volume_id);
    let mut map = Map::new();
    map.insert("id".into(), json!(snap.id));
    map.insert("name".into(), json!(snap.name));
    owner_fields(&mut map, &snap.account_id);
    map.insert("volumeid".into(), json!(snap.volume_id));
    if let Some(v) = vol {
        map.insert("volumename".into(), json!(v.name));
        map.insert(
            "volumetype".into(),
            json!(match v.kind {
                VolumeType::Root => "ROOT",
                VolumeType::DataDisk => "DATADISK",
            }),
        );
        map.insert("zoneid".into(), json!(v.zone_id));
        map.insert("virtualsize".into(), json!(v.size));
    }
    map.insert("created".into(), json!(format_cs_date(snap.created_ms)));
    map.insert("snapshottype".into(), json!("MANUAL"));
    map.insert("intervaltype".into(), json!("MANUAL"));
    map.insert("state".into(), json!(snap.state));
    map.insert("locationtype".into(), json!("PRIMARY"));
    map.insert("revertable".into(), json!(true));
    map.insert("tags".into(), tags_of(world, &snap.id));
    Value::Object(map)
}

/// A public IP object (fixture `associateIpAddress.json`).
pub fn public_ip(world: &World, ip: &PublicIp) -> Value {
    let mut map = Map::new();
    map.insert("id".into(), json!(ip.id));
    map.insert("ipaddress".into(), json!(ip.ipaddress));
    map.insert("allocated".into(), json!(format_cs_date(ip.allocated_ms)));
    map.insert("zoneid".into(), json!(ip.zone_id));
    if let Some(zone) = world.zones.iter().find(|z| z.id == ip.zone_id) {
        map.insert("zonename".into(), json!(zone.name));
    }
    map.insert("issourcenat".into(), json!(false));
    owner_fields(&mut map, &ip.account_id);
    map.insert("forvirtualnetwork".into(), json!(true));
    map.insert(
        "vlanid".into(),
        json!("9a7e2b2c-0c1d-4d1e-9f0c-000000000001"),
    );
    map.insert("vlanname".into(), json!("vlan://untagged"));
    map.insert("isstaticnat".into(), json!(ip.static_nat_vm.is_some()));
    map.insert("issystem".into(), json!(false));
    if let Some(net_id) = &ip.network_id {
        map.insert("associatednetworkid".into(), json!(net_id));
        if let Some(net) = world.networks.iter().find(|n| &n.id == net_id) {
            map.insert("associatednetworkname".into(), json!(net.name));
        }
    }
    map.insert(
        "networkid".into(),
        json!("9a7e2b2c-0c1d-4d1e-9f04-0000000000ff"),
    );
    map.insert("state".into(), json!(ip.state));
    map.insert(
        "physicalnetworkid".into(),
        json!("9a7e2b2c-0c1d-4d1e-9f0d-000000000001"),
    );
    if let Some(vm_id) = &ip.static_nat_vm {
        map.insert("virtualmachineid".into(), json!(vm_id));
        if let Some(vm) = world.vms.iter().find(|v| &v.id == vm_id) {
            map.insert("virtualmachinename".into(), json!(vm.name));
            map.insert("virtualmachinedisplayname".into(), json!(vm.displayname));
            if let Some(nic) = vm.nics.iter().find(|n| n.isdefault) {
                map.insert("vmipaddress".into(), json!(nic.ipaddress));
            }
        }
    }
    map.insert("tags".into(), tags_of(world, &ip.id));
    map.insert("isportable".into(), json!(false));
    map.insert("fordisplay".into(), json!(true));
    Value::Object(map)
}

/// An affinity group object.
pub fn affinity_group(world: &World, group: &AffinityGroup) -> Value {
    let members: Vec<&str> = world
        .vms
        .iter()
        .filter(|vm| vm.affinity_group_ids.contains(&group.id))
        .map(|vm| vm.id.as_str())
        .collect();
    let mut map = Map::new();
    map.insert("id".into(), json!(group.id));
    map.insert("name".into(), json!(group.name));
    map.insert("description".into(), json!(group.description));
    owner_fields(&mut map, &group.account_id);
    map.insert("type".into(), json!(group.kind));
    map.insert("virtualmachineIds".into(), json!(members));
    Value::Object(map)
}

/// A security group object.
pub fn security_group(world: &World, group: &SecurityGroup) -> Value {
    let members: Vec<&str> = world
        .vms
        .iter()
        .filter(|vm| vm.security_group_ids.contains(&group.id))
        .map(|vm| vm.id.as_str())
        .collect();
    let mut map = Map::new();
    map.insert("id".into(), json!(group.id));
    map.insert("name".into(), json!(group.name));
    map.insert("description".into(), json!(group.description));
    owner_fields(&mut map, &group.account_id);
    map.insert("ingressrule".into(), json!([]));
    map.insert("egressrule".into(), json!([]));
    map.insert("virtualmachinecount".into(), json!(members.len()));
    map.insert("virtualmachineids".into(), json!(members));
    map.insert("tags".into(), tags_of(world, &group.id));
    Value::Object(map)
}

/// A key pair object without the private key.
pub fn key_pair(pair: &SshKeyPair) -> Value {
    json!({
        "id": pair.id,
        "name": pair.name,
        "account": account_name(&pair.account_id),
        "domainid": ids::DOMAIN,
        "domain": "ROOT",
        "fingerprint": pair.fingerprint,
    })
}

/// The fields shared by `queryAsyncJobResult` and `listAsyncJobs` entries.
pub fn job(job: &Job) -> Value {
    let mut map = Map::new();
    map.insert("accountid".into(), json!(job.account_id));
    map.insert("userid".into(), json!(job.user_id));
    map.insert("cmd".into(), json!(command_class(&job.command)));
    let (status, code) = match job.status {
        JobStatus::Pending => (0, 0),
        JobStatus::Succeeded => (1, 0),
        JobStatus::Failed => (2, job.failure.as_ref().map(|(c, _)| *c).unwrap_or(530)),
    };
    map.insert("jobstatus".into(), json!(status));
    map.insert("jobprocstatus".into(), json!(0));
    map.insert("jobresultcode".into(), json!(code));
    if let Some(result) = &job.result {
        map.insert("jobresulttype".into(), json!("object"));
        map.insert("jobresult".into(), result.clone());
    }
    if let Some(kind) = &job.instance_type {
        map.insert("jobinstancetype".into(), json!(kind));
    }
    if let Some(id) = &job.instance_id {
        map.insert("jobinstanceid".into(), json!(id));
    }
    map.insert("created".into(), json!(format_cs_date(job.created_ms)));
    if let Some(done) = job.completed_ms {
        map.insert("completed".into(), json!(format_cs_date(done)));
    }
    map.insert("jobid".into(), json!(job.id));
    Value::Object(map)
}

/// A plausible Java command class name for `cmd`.
fn command_class(command: &str) -> String {
    let package = match command {
        c if c.contains("VirtualMachine") => "vm",
        c if c.contains("Volume") => "volume",
        c if c.contains("Snapshot") => "snapshot",
        c if c.contains("Tags") => "tag",
        c if c.contains("Template") => "template",
        c if c.contains("Affinity") => "affinitygroup",
        c if c.contains("StaticNat") => "nat",
        c if c.contains("IpAddress") => "address",
        _ => "misc",
    };
    let mut class = String::new();
    let mut chars = command.chars();
    if let Some(first) = chars.next() {
        class.extend(first.to_uppercase());
        class.extend(chars);
    }
    format!("org.apache.cloudstack.api.command.user.{package}.{class}Cmd")
}
