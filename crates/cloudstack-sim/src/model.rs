//! The emulated cloud: inventory (what an operator set up) and runtime objects (what API calls
//! create). Everything is plain serialisable data so the whole world can be saved to and loaded
//! from a JSON file.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::SimError;

/// Global settings that change the behaviour of commands (CloudStack configuration keys).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Settings {
    /// `allow.user.expunge.recover.vm`: may the user account expunge? (true here, unlike
    /// CloudStack's default, because the CPI's own account normally has it.)
    pub allow_user_expunge_recover_vm: bool,
    /// `allow.user.view.destroyed.vm`.
    pub allow_user_view_destroyed_vm: bool,
    /// `vm.userdata.max.length` in bytes of the base64 text.
    pub vm_userdata_max_length: usize,
    /// `default.page.size`.
    pub default_page_size: usize,
    /// Emulates `secstorage.allowed.internal.sites` covering loopback: when true, template URLs
    /// on loopback and private hosts are accepted (tests serve images from 127.0.0.1).
    pub allow_internal_template_sites: bool,
    /// `max.template.iso.size` in bytes.
    pub max_template_size_bytes: u64,
    /// `api.throttling.max` calls per second when throttling is enabled.
    pub throttling_max_per_second: u32,
    /// Hypervisor of every host (affects device id 3 being reserved on XenServer).
    pub hypervisor: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            allow_user_expunge_recover_vm: true,
            allow_user_view_destroyed_vm: false,
            vm_userdata_max_length: 32768,
            default_page_size: 500,
            allow_internal_template_sites: true,
            max_template_size_bytes: 50 * 1024 * 1024 * 1024,
            throttling_max_per_second: 25,
            hypervisor: "XenServer".to_owned(),
        }
    }
}

/// An availability zone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Zone {
    /// UUID.
    pub id: String,
    /// Name, e.g. `zone1`.
    pub name: String,
    /// `Advanced` or `Basic`.
    pub networktype: String,
    /// Whether local storage offerings are usable.
    pub localstorageenabled: bool,
    /// Whether security groups are enabled.
    pub securitygroupsenabled: bool,
}

/// A hypervisor host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Host {
    /// UUID.
    pub id: String,
    /// Host name.
    pub name: String,
    /// Zone UUID.
    pub zone_id: String,
    /// Whether the host has local primary storage.
    pub local_storage: bool,
    /// Maximum number of VMs placed on it.
    pub max_vms: usize,
}

/// A compute offering.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServiceOffering {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Display text.
    pub displaytext: String,
    /// CPUs (ignored when customized).
    pub cpunumber: u32,
    /// MHz.
    pub cpuspeed: u32,
    /// MiB.
    pub memory: u32,
    /// True when the caller picks CPU and memory through `details`.
    pub iscustomized: bool,
    /// `local` or `shared`.
    pub storagetype: String,
}

/// A disk offering.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DiskOffering {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Display text.
    pub displaytext: String,
    /// GB; 0 when customized.
    pub disksize: u64,
    /// True when the caller passes `size`.
    pub iscustomized: bool,
    /// `local` or `shared`.
    pub storagetype: String,
}

/// A guest network.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Network {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Zone UUID.
    pub zone_id: String,
    /// `Isolated` or `Shared`.
    #[serde(rename = "type")]
    pub kind: String,
    /// e.g. `10.1.1.0/24`.
    pub cidr: String,
    /// Gateway address.
    pub gateway: String,
    /// First address handed to guests.
    pub start_ip: String,
    /// Last address handed to guests.
    pub end_ip: String,
    /// DNS network domain used for host-name uniqueness.
    pub network_domain: String,
}

/// A guest OS type.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OsType {
    /// UUID.
    pub id: String,
    /// e.g. `Other PV (64-bit)`.
    pub description: String,
    /// Category UUID.
    pub oscategoryid: String,
}

/// A project (listed only).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Project {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
}

/// An inclusive IPv4 range.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IpRange {
    /// First address.
    pub start: String,
    /// Last address.
    pub end: String,
}

/// A template (stemcell image).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Template {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Display text.
    pub displaytext: String,
    /// `VHD`, `QCOW2`...
    pub format: String,
    /// `XenServer`, `KVM`...
    pub hypervisor: String,
    /// OS type UUID.
    pub ostype_id: String,
    /// Zone UUID.
    pub zone_id: String,
    /// Owner account UUID.
    pub account_id: String,
    /// Public.
    pub ispublic: bool,
    /// Featured.
    pub isfeatured: bool,
    /// Extractable.
    pub isextractable: bool,
    /// Password enabled.
    pub passwordenabled: bool,
    /// Requires HVM.
    pub requireshvm: bool,
    /// 32 or 64 (0 when unknown).
    pub bits: u32,
    /// Source URL (empty for uploads).
    pub url: String,
    /// Checksum as given.
    pub checksum: String,
    /// Virtual size in bytes.
    pub size: u64,
    /// `status` string (`35% Downloaded`, `Download Complete`, error text...).
    pub status: String,
    /// Raw download state (`DOWNLOADED`, `DOWNLOAD_IN_PROGRESS`, `DOWNLOAD_ERROR`, ...).
    pub download_state: String,
    /// 0-100.
    pub download_percent: u8,
    /// True once downloaded.
    pub isready: bool,
    /// Creation time.
    pub created_ms: u64,
    /// `USER` or `BUILTIN`.
    pub templatetype: String,
    /// Registration details.
    #[serde(default)]
    pub details: BTreeMap<String, String>,
}

/// An SSH key pair.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SshKeyPair {
    /// UUID.
    pub id: String,
    /// Name (unique per account).
    pub name: String,
    /// Owner account UUID.
    pub account_id: String,
    /// MD5 fingerprint, colon separated.
    pub fingerprint: String,
    /// OpenSSH public key.
    pub public_key: String,
}

/// What an operator has set up before any API call.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Inventory {
    /// Zones.
    pub zones: Vec<Zone>,
    /// Hosts.
    pub hosts: Vec<Host>,
    /// Compute offerings.
    pub service_offerings: Vec<ServiceOffering>,
    /// Disk offerings.
    pub disk_offerings: Vec<DiskOffering>,
    /// Networks.
    pub networks: Vec<Network>,
    /// OS types.
    pub os_types: Vec<OsType>,
    /// Templates present at start.
    pub templates: Vec<Template>,
    /// Key pairs present at start (owned by the user account).
    pub ssh_key_pairs: Vec<SshKeyPair>,
    /// Projects.
    pub projects: Vec<Project>,
    /// Public IP addresses for `associateIpAddress`.
    pub public_ip_range: IpRange,
    /// Behavioural settings.
    pub settings: Settings,
}

/// UUIDs of the default inventory, so tests and docs can refer to them.
pub mod ids {
    /// Zone `zone1`.
    pub const ZONE: &str = "9a7e2b2c-0c1d-4d1e-9f00-000000000001";
    /// Host `host1` (local storage).
    pub const HOST1: &str = "9a7e2b2c-0c1d-4d1e-9f01-000000000001";
    /// Host `host2` (local storage).
    pub const HOST2: &str = "9a7e2b2c-0c1d-4d1e-9f01-000000000002";
    /// Host `host3` (shared storage only).
    pub const HOST3: &str = "9a7e2b2c-0c1d-4d1e-9f01-000000000003";
    /// Service offering `small`.
    pub const SO_SMALL: &str = "9a7e2b2c-0c1d-4d1e-9f02-000000000001";
    /// Service offering `medium`.
    pub const SO_MEDIUM: &str = "9a7e2b2c-0c1d-4d1e-9f02-000000000002";
    /// Service offering `large`.
    pub const SO_LARGE: &str = "9a7e2b2c-0c1d-4d1e-9f02-000000000003";
    /// Service offering `custom`.
    pub const SO_CUSTOM: &str = "9a7e2b2c-0c1d-4d1e-9f02-000000000004";
    /// Service offering `small-local`.
    pub const SO_SMALL_LOCAL: &str = "9a7e2b2c-0c1d-4d1e-9f02-000000000005";
    /// Disk offering `small`.
    pub const DO_SMALL: &str = "9a7e2b2c-0c1d-4d1e-9f03-000000000001";
    /// Disk offering `custom`.
    pub const DO_CUSTOM: &str = "9a7e2b2c-0c1d-4d1e-9f03-000000000002";
    /// Disk offering `custom-local`.
    pub const DO_CUSTOM_LOCAL: &str = "9a7e2b2c-0c1d-4d1e-9f03-000000000003";
    /// Network `isolated-net`.
    pub const NET_ISOLATED: &str = "9a7e2b2c-0c1d-4d1e-9f04-000000000001";
    /// Network `shared-net`.
    pub const NET_SHARED: &str = "9a7e2b2c-0c1d-4d1e-9f04-000000000002";
    /// OS type `Other PV (64-bit)`.
    pub const OS_OTHER_PV64: &str = "9a7e2b2c-0c1d-4d1e-9f05-000000000001";
    /// OS type `Ubuntu 22.04 LTS`.
    pub const OS_UBUNTU: &str = "9a7e2b2c-0c1d-4d1e-9f05-000000000002";
    /// OS category.
    pub const OS_CATEGORY: &str = "9a7e2b2c-0c1d-4d1e-9f05-0000000000ff";
    /// Ready featured template `bosh-stemcell-default`.
    pub const TEMPLATE: &str = "9a7e2b2c-0c1d-4d1e-9f06-000000000001";
    /// SSH key pair `bosh`.
    pub const KEYPAIR: &str = "9a7e2b2c-0c1d-4d1e-9f07-000000000001";
    /// Project `default`.
    pub const PROJECT: &str = "9a7e2b2c-0c1d-4d1e-9f08-000000000001";
    /// User account.
    pub const USER_ACCOUNT: &str = "9a7e2b2c-0c1d-4d1e-9f09-000000000001";
    /// User of the user account.
    pub const USER_USER: &str = "9a7e2b2c-0c1d-4d1e-9f09-000000000011";
    /// Admin account.
    pub const ADMIN_ACCOUNT: &str = "9a7e2b2c-0c1d-4d1e-9f09-000000000002";
    /// User of the admin account.
    pub const ADMIN_USER: &str = "9a7e2b2c-0c1d-4d1e-9f09-000000000012";
    /// ROOT domain.
    pub const DOMAIN: &str = "9a7e2b2c-0c1d-4d1e-9f09-0000000000dd";
}

fn offering(
    id: &str,
    name: &str,
    cpu: u32,
    mem: u32,
    custom: bool,
    storage: &str,
) -> ServiceOffering {
    ServiceOffering {
        id: id.into(),
        name: name.into(),
        displaytext: if custom {
            format!("{name}: customized CPU and memory")
        } else {
            format!("{name}: {cpu} CPU, {mem} MiB")
        },
        cpunumber: cpu,
        cpuspeed: 2000,
        memory: mem,
        iscustomized: custom,
        storagetype: storage.into(),
    }
}

fn disk_offering(id: &str, name: &str, size: u64, storage: &str) -> DiskOffering {
    DiskOffering {
        id: id.into(),
        name: name.into(),
        displaytext: name.into(),
        disksize: size,
        iscustomized: size == 0,
        storagetype: storage.into(),
    }
}

impl Default for Inventory {
    /// The documented default inventory (see the crate README).
    fn default() -> Self {
        let host = |id: &str, name: &str, local: bool| Host {
            id: id.into(),
            name: name.into(),
            zone_id: ids::ZONE.into(),
            local_storage: local,
            max_vms: 50,
        };
        Self {
            zones: vec![Zone {
                id: ids::ZONE.into(),
                name: "zone1".into(),
                networktype: "Advanced".into(),
                localstorageenabled: true,
                securitygroupsenabled: false,
            }],
            hosts: vec![
                host(ids::HOST1, "host1", true),
                host(ids::HOST2, "host2", true),
                host(ids::HOST3, "host3", false),
            ],
            service_offerings: vec![
                offering(ids::SO_SMALL, "small", 1, 1024, false, "shared"),
                offering(ids::SO_MEDIUM, "medium", 2, 2048, false, "shared"),
                offering(ids::SO_LARGE, "large", 4, 8192, false, "shared"),
                offering(ids::SO_CUSTOM, "custom", 0, 0, true, "shared"),
                offering(ids::SO_SMALL_LOCAL, "small-local", 1, 1024, false, "local"),
            ],
            disk_offerings: vec![
                disk_offering(ids::DO_SMALL, "small", 10, "shared"),
                disk_offering(ids::DO_CUSTOM, "custom", 0, "shared"),
                disk_offering(ids::DO_CUSTOM_LOCAL, "custom-local", 0, "local"),
            ],
            networks: vec![
                Network {
                    id: ids::NET_ISOLATED.into(),
                    name: "isolated-net".into(),
                    zone_id: ids::ZONE.into(),
                    kind: "Isolated".into(),
                    cidr: "10.1.1.0/24".into(),
                    gateway: "10.1.1.1".into(),
                    start_ip: "10.1.1.2".into(),
                    end_ip: "10.1.1.254".into(),
                    network_domain: "cs1cloud.internal".into(),
                },
                Network {
                    id: ids::NET_SHARED.into(),
                    name: "shared-net".into(),
                    zone_id: ids::ZONE.into(),
                    kind: "Shared".into(),
                    cidr: "10.2.0.0/24".into(),
                    gateway: "10.2.0.1".into(),
                    start_ip: "10.2.0.10".into(),
                    end_ip: "10.2.0.250".into(),
                    network_domain: "shared.internal".into(),
                },
            ],
            os_types: vec![
                OsType {
                    id: ids::OS_OTHER_PV64.into(),
                    description: "Other PV (64-bit)".into(),
                    oscategoryid: ids::OS_CATEGORY.into(),
                },
                OsType {
                    id: ids::OS_UBUNTU.into(),
                    description: "Ubuntu 22.04 LTS".into(),
                    oscategoryid: ids::OS_CATEGORY.into(),
                },
            ],
            templates: vec![Template {
                id: ids::TEMPLATE.into(),
                name: "bosh-stemcell-default".into(),
                displaytext: "BOSH stemcell (XenServer VHD)".into(),
                format: "VHD".into(),
                hypervisor: "XenServer".into(),
                ostype_id: ids::OS_OTHER_PV64.into(),
                zone_id: ids::ZONE.into(),
                account_id: ids::ADMIN_ACCOUNT.into(),
                ispublic: true,
                isfeatured: true,
                isextractable: false,
                passwordenabled: false,
                requireshvm: false,
                bits: 64,
                url: "http://images.example.invalid/bosh-stemcell-default.vhd.bz2".into(),
                checksum: String::new(),
                size: 3 * 1024 * 1024 * 1024,
                status: "Download Complete".into(),
                download_state: "DOWNLOADED".into(),
                download_percent: 100,
                isready: true,
                created_ms: 1_700_000_000_000,
                templatetype: "USER".into(),
                details: BTreeMap::new(),
            }],
            ssh_key_pairs: vec![SshKeyPair {
                id: ids::KEYPAIR.into(),
                name: "bosh".into(),
                account_id: ids::USER_ACCOUNT.into(),
                fingerprint: "3b:f7:0b:34:40:0d:a5:3c:2a:75:f8:82:1d:88:99:36".into(),
                public_key:
                    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTheCloudStackEmulatorOnly bosh"
                        .into(),
            }],
            projects: vec![Project {
                id: ids::PROJECT.into(),
                name: "default".into(),
            }],
            public_ip_range: IpRange {
                start: "198.51.100.10".into(),
                end: "198.51.100.200".into(),
            },
            settings: Settings::default(),
        }
    }
}

/// Parses `a.b.c.d/len` into (network, prefix length).
pub fn parse_cidr(cidr: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, len) = cidr.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    (len <= 32).then_some((addr, len))
}

/// Netmask of a prefix length.
pub fn netmask(len: u8) -> Ipv4Addr {
    let bits = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    };
    Ipv4Addr::from(bits)
}

/// Whether `ip` lies in `cidr`.
pub fn cidr_contains(cidr: &str, ip: Ipv4Addr) -> bool {
    match parse_cidr(cidr) {
        Some((net, len)) => {
            let mask = u32::from(netmask(len));
            u32::from(net) & mask == u32::from(ip) & mask
        }
        None => false,
    }
}

impl Inventory {
    /// Checks references and addresses so that commands never meet dangling ids.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |text: String| Err(SimError::Inventory(text));
        if self.zones.is_empty() {
            return bad("at least one zone is required".into());
        }
        let zone_known = |id: &str| self.zones.iter().any(|z| z.id == id);
        for host in &self.hosts {
            if !zone_known(&host.zone_id) {
                return bad(format!(
                    "host {} names unknown zone {}",
                    host.name, host.zone_id
                ));
            }
        }
        for net in &self.networks {
            if !zone_known(&net.zone_id) {
                return bad(format!(
                    "network {} names unknown zone {}",
                    net.name, net.zone_id
                ));
            }
            if parse_cidr(&net.cidr).is_none() {
                return bad(format!(
                    "network {} has invalid cidr {}",
                    net.name, net.cidr
                ));
            }
            for ip in [&net.gateway, &net.start_ip, &net.end_ip] {
                match ip.parse::<Ipv4Addr>() {
                    Ok(addr) if cidr_contains(&net.cidr, addr) => {}
                    _ => {
                        return bad(format!(
                            "network {} address {ip} is not inside {}",
                            net.name, net.cidr
                        ));
                    }
                }
            }
        }
        for template in &self.templates {
            if !zone_known(&template.zone_id) {
                return bad(format!("template {} names unknown zone", template.name));
            }
            if !self.os_types.iter().any(|o| o.id == template.ostype_id) {
                return bad(format!("template {} names unknown OS type", template.name));
            }
        }
        for ip in [&self.public_ip_range.start, &self.public_ip_range.end] {
            if ip.parse::<Ipv4Addr>().is_err() {
                return bad(format!("public IP range has invalid address {ip}"));
            }
        }
        Ok(())
    }
}

/// VM states as CloudStack spells them.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum VmState {
    /// Being started.
    Starting,
    /// Running.
    Running,
    /// Being stopped.
    Stopping,
    /// Stopped.
    Stopped,
    /// Destroyed, awaiting expunge; still holds IPs.
    Destroyed,
    /// Being expunged.
    Expunging,
    /// Deployment failed.
    Error,
}

impl VmState {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "Starting",
            Self::Running => "Running",
            Self::Stopping => "Stopping",
            Self::Stopped => "Stopped",
            Self::Destroyed => "Destroyed",
            Self::Expunging => "Expunging",
            Self::Error => "Error",
        }
    }
}

/// A VM network interface.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Nic {
    /// UUID.
    pub id: String,
    /// Network UUID.
    pub network_id: String,
    /// Guest IP.
    pub ipaddress: String,
    /// MAC address.
    pub macaddress: String,
    /// Default NIC.
    pub isdefault: bool,
}

/// A virtual machine.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Vm {
    /// UUID.
    pub id: String,
    /// Host name.
    pub name: String,
    /// Display name.
    pub displayname: String,
    /// `i-<account>-<n>-VM`.
    pub instancename: String,
    /// Owner account UUID.
    pub account_id: String,
    /// State.
    pub state: VmState,
    /// Zone UUID.
    pub zone_id: String,
    /// Template UUID.
    pub template_id: String,
    /// Service offering UUID.
    pub service_offering_id: String,
    /// CPUs.
    pub cpunumber: u32,
    /// MHz.
    pub cpuspeed: u32,
    /// MiB.
    pub memory: u32,
    /// Host UUID once placed.
    pub host_id: Option<String>,
    /// Creation time.
    pub created_ms: u64,
    /// NICs, default first.
    pub nics: Vec<Nic>,
    /// Key pair name.
    pub keypair: Option<String>,
    /// Affinity group UUIDs.
    pub affinity_group_ids: Vec<String>,
    /// Security group UUIDs.
    pub security_group_ids: Vec<String>,
    /// Base64 user data as received.
    pub userdata: Option<String>,
    /// `details` map.
    pub details: BTreeMap<String, String>,
    /// When the VM was destroyed (expunge delay runs from here).
    pub destroyed_at_ms: Option<u64>,
    /// Job currently working on the VM.
    pub pending_job: Option<String>,
}

/// Volume type.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum VolumeType {
    /// Root disk.
    #[serde(rename = "ROOT")]
    Root,
    /// Data disk.
    #[serde(rename = "DATADISK")]
    DataDisk,
}

/// A volume.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Volume {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// ROOT or DATADISK.
    pub kind: VolumeType,
    /// Bytes.
    pub size: u64,
    /// `Allocated` (never attached) or `Ready`.
    pub state: String,
    /// Attached VM.
    pub vm_id: Option<String>,
    /// Device id when attached.
    pub device_id: Option<u64>,
    /// Disk offering UUID.
    pub disk_offering_id: Option<String>,
    /// Zone UUID.
    pub zone_id: String,
    /// `local` or `shared`.
    pub storagetype: String,
    /// Host whose local storage holds the volume (only for local storage once placed).
    pub host_id: Option<String>,
    /// Owner account UUID.
    pub account_id: String,
    /// Creation time.
    pub created_ms: u64,
    /// Job currently working on the volume.
    pub pending_job: Option<String>,
}

/// A volume snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Snapshot {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Source volume UUID.
    pub volume_id: String,
    /// `BackedUp` once done.
    pub state: String,
    /// Owner account UUID.
    pub account_id: String,
    /// Creation time.
    pub created_ms: u64,
}

/// A resource tag.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
    /// Tagged resource UUID.
    pub resource_id: String,
    /// Canonical resource type (`UserVm`, `Volume`, ...).
    pub resource_type: String,
    /// Owner account UUID.
    pub account_id: String,
}

/// An affinity group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AffinityGroup {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// `host anti-affinity` or `host affinity`.
    pub kind: String,
    /// Owner account UUID.
    pub account_id: String,
}

/// A security group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SecurityGroup {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Owner account UUID.
    pub account_id: String,
}

/// A public IP address owned by an account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublicIp {
    /// UUID.
    pub id: String,
    /// Address.
    pub ipaddress: String,
    /// Zone UUID.
    pub zone_id: String,
    /// Associated network.
    pub network_id: Option<String>,
    /// `Allocating` until the job ends, then `Allocated`.
    pub state: String,
    /// VM with static NAT to this address.
    pub static_nat_vm: Option<String>,
    /// Owner account UUID.
    pub account_id: String,
    /// Allocation time.
    pub allocated_ms: u64,
}

/// Job status values.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum JobStatus {
    /// 0.
    Pending,
    /// 1.
    Succeeded,
    /// 2.
    Failed,
}

/// Deferred state changes applied when a job completes successfully.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Effect {
    /// Move a VM to a state.
    VmState {
        /// VM UUID.
        vm_id: String,
        /// Target state.
        state: VmState,
    },
    /// Destroy (keeping IPs until the expunge delay).
    DestroyVm {
        /// VM UUID.
        vm_id: String,
    },
    /// Remove a VM and everything it holds.
    ExpungeVm {
        /// VM UUID.
        vm_id: String,
    },
    /// Mark a public IP allocated.
    IpAllocated {
        /// Public IP UUID.
        ip_id: String,
    },
}

/// What a job answers with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum JobResultKind {
    /// `{"virtualmachine": {...}}`.
    Vm(String),
    /// `{"volume": {...}}`.
    Volume(String),
    /// `{"snapshot": {...}}`.
    Snapshot(String),
    /// `{"ipaddress": {...}}`.
    IpAddress(String),
    /// `{"affinitygroup": {...}}`.
    AffinityGroup(String),
    /// `{"template": {...}}`.
    Template(String),
    /// `{"success": true}`.
    Success,
}

/// An async job.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Job {
    /// UUID.
    pub id: String,
    /// Submitting account.
    pub account_id: String,
    /// Submitting user.
    pub user_id: String,
    /// API command name.
    pub command: String,
    /// `VirtualMachine`, `Volume`, ...
    pub instance_type: Option<String>,
    /// Object UUID.
    pub instance_id: Option<String>,
    /// Submission time.
    pub created_ms: u64,
    /// When the job finishes.
    pub ready_at_ms: u64,
    /// Completion time.
    pub completed_ms: Option<u64>,
    /// Status.
    pub status: JobStatus,
    /// Success payload kind.
    pub result_kind: JobResultKind,
    /// Effects applied on success.
    pub effects: Vec<Effect>,
    /// Planned failure `(code, text)`; set at submission (injected faults, placement failure).
    pub failure: Option<(u16, String)>,
    /// Effects applied on failure (e.g. VM to `Error`).
    pub failure_effects: Vec<Effect>,
    /// The rendered `jobresult` once finished.
    pub result: Option<Value>,
}

/// The whole emulated cloud.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(default)]
pub struct World {
    /// Zones.
    pub zones: Vec<Zone>,
    /// Hosts.
    pub hosts: Vec<Host>,
    /// Compute offerings.
    pub service_offerings: Vec<ServiceOffering>,
    /// Disk offerings.
    pub disk_offerings: Vec<DiskOffering>,
    /// Networks.
    pub networks: Vec<Network>,
    /// OS types.
    pub os_types: Vec<OsType>,
    /// Projects.
    pub projects: Vec<Project>,
    /// Public IP range.
    pub public_ip_range: Option<IpRange>,
    /// Settings.
    pub settings: Settings,
    /// Templates.
    pub templates: Vec<Template>,
    /// Key pairs.
    pub ssh_key_pairs: Vec<SshKeyPair>,
    /// VMs (expunged ones are removed).
    pub vms: Vec<Vm>,
    /// Volumes.
    pub volumes: Vec<Volume>,
    /// Snapshots.
    pub snapshots: Vec<Snapshot>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Affinity groups.
    pub affinity_groups: Vec<AffinityGroup>,
    /// Security groups.
    pub security_groups: Vec<SecurityGroup>,
    /// Public IPs.
    pub public_ips: Vec<PublicIp>,
    /// Async jobs.
    pub jobs: Vec<Job>,
    /// Ids of expunged VMs: they resolve (empty list) rather than giving 431.
    pub expunged_vm_ids: Vec<String>,
    /// Counter for instance names and MAC addresses.
    pub next_serial: u64,
}

impl World {
    /// Builds the initial world from an inventory.
    pub fn from_inventory(inventory: Inventory) -> Self {
        Self {
            zones: inventory.zones,
            hosts: inventory.hosts,
            service_offerings: inventory.service_offerings,
            disk_offerings: inventory.disk_offerings,
            networks: inventory.networks,
            os_types: inventory.os_types,
            projects: inventory.projects,
            public_ip_range: Some(inventory.public_ip_range),
            settings: inventory.settings,
            templates: inventory.templates,
            ssh_key_pairs: inventory.ssh_key_pairs,
            next_serial: 100,
            ..Self::default()
        }
    }
}
