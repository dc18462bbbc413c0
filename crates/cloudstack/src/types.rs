//! Typed CloudStack objects, decoded tolerantly.
//!
//! Only `id` (or `name` where CloudStack has no id) is required; every other field is optional
//! because CloudStack omits null fields and older servers lack newer ones. Unknown fields are
//! ignored. Ids are `String`s: current servers send UUIDs, the oldest sent integers, and both
//! decode.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Deserialize;

use crate::de;

/// A resource tag (`tags[]` on objects, `tag` in `listTags`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Tag {
    /// The tag key.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub key: Option<String>,
    /// The tag value.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub value: Option<String>,
    /// The tagged resource's id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub resourceid: Option<String>,
    /// The tagged resource's type (`UserVm`, `Volume`, ...).
    #[serde(default)]
    pub resourcetype: Option<String>,
    /// The owning account.
    #[serde(default)]
    pub account: Option<String>,
    /// The owning project.
    #[serde(default)]
    pub project: Option<String>,
    /// The customer field.
    #[serde(default)]
    pub customer: Option<String>,
}

/// A network interface of a VM.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Nic {
    /// NIC id.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// Network id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub networkid: Option<String>,
    /// Network name.
    #[serde(default)]
    pub networkname: Option<String>,
    /// IPv4 address.
    #[serde(default)]
    pub ipaddress: Option<String>,
    /// IPv6 address.
    #[serde(default)]
    pub ip6address: Option<String>,
    /// Netmask.
    #[serde(default)]
    pub netmask: Option<String>,
    /// Gateway.
    #[serde(default)]
    pub gateway: Option<String>,
    /// MAC address.
    #[serde(default)]
    pub macaddress: Option<String>,
    /// Whether this is the default NIC.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub isdefault: Option<bool>,
    /// Traffic type (`Guest`, ...).
    #[serde(default)]
    pub traffictype: Option<String>,
    /// Network type (`Isolated`, `Shared`, ...).
    #[serde(default, rename = "type")]
    pub network_type: Option<String>,
    /// Broadcast URI.
    #[serde(default)]
    pub broadcasturi: Option<String>,
    /// Isolation URI.
    #[serde(default)]
    pub isolationuri: Option<String>,
    /// Device id of the NIC.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub deviceid: Option<u64>,
}

/// A reference to a security group as embedded in a VM, or a full security group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SecurityGroup {
    /// Group id.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// Group name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Ingress rules.
    #[serde(default, deserialize_with = "de::vec")]
    pub ingressrule: Vec<SecurityGroupRule>,
    /// Egress rules.
    #[serde(default, deserialize_with = "de::vec")]
    pub egressrule: Vec<SecurityGroupRule>,
    /// Number of VMs in the group.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub virtualmachinecount: Option<u64>,
    /// Tags.
    #[serde(default, deserialize_with = "de::vec")]
    pub tags: Vec<Tag>,
}

/// One security group rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SecurityGroupRule {
    /// Rule id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub ruleid: Option<String>,
    /// Protocol.
    #[serde(default)]
    pub protocol: Option<String>,
    /// First port.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub startport: Option<u64>,
    /// Last port.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub endport: Option<u64>,
    /// CIDR.
    #[serde(default)]
    pub cidr: Option<String>,
    /// Source group name.
    #[serde(default)]
    pub securitygroupname: Option<String>,
}

/// An affinity group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AffinityGroup {
    /// Group id.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// Group name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Type, e.g. `host anti-affinity`.
    #[serde(default, rename = "type")]
    pub group_type: Option<String>,
    /// Owning account.
    #[serde(default)]
    pub account: Option<String>,
    /// Owning domain id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub domainid: Option<String>,
}

/// A virtual machine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct VirtualMachine {
    /// VM id.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// Host name.
    #[serde(default)]
    pub name: Option<String>,
    /// Display name.
    #[serde(default)]
    pub displayname: Option<String>,
    /// Hypervisor instance name, e.g. `i-2-683-QA`.
    #[serde(default)]
    pub instancename: Option<String>,
    /// State (`Running`, `Stopped`, `Destroyed`, ...).
    #[serde(default)]
    pub state: Option<String>,
    /// Zone id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub zoneid: Option<String>,
    /// Zone name.
    #[serde(default)]
    pub zonename: Option<String>,
    /// Template id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub templateid: Option<String>,
    /// Service offering id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub serviceofferingid: Option<String>,
    /// Service offering name.
    #[serde(default)]
    pub serviceofferingname: Option<String>,
    /// Number of CPUs.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub cpunumber: Option<u64>,
    /// CPU speed in MHz.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub cpuspeed: Option<u64>,
    /// Memory in MiB.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub memory: Option<u64>,
    /// Hypervisor.
    #[serde(default)]
    pub hypervisor: Option<String>,
    /// Host id (visible to admins).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub hostid: Option<String>,
    /// Host name (visible to admins).
    #[serde(default)]
    pub hostname: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub created: Option<String>,
    /// SSH key pair name (`keypair`, older servers and single keys).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub keypair: Option<String>,
    /// SSH key pair names, comma-separated (`keypairs`, 4.17+).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub keypairs: Option<String>,
    /// Affinity groups.
    #[serde(default, deserialize_with = "de::vec")]
    pub affinitygroup: Vec<AffinityGroup>,
    /// Security groups.
    #[serde(default, deserialize_with = "de::vec")]
    pub securitygroup: Vec<SecurityGroup>,
    /// Tags.
    #[serde(default, deserialize_with = "de::vec")]
    pub tags: Vec<Tag>,
    /// VM details.
    #[serde(default, deserialize_with = "de::string_map")]
    pub details: BTreeMap<String, String>,
    /// Static NAT public IP.
    #[serde(default)]
    pub publicip: Option<String>,
    /// Static NAT public IP id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub publicipid: Option<String>,
    /// Root device id.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub rootdeviceid: Option<u64>,
    /// NICs.
    #[serde(default, deserialize_with = "de::vec")]
    pub nic: Vec<Nic>,
    /// Pending job id, when a job is running on this VM.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub jobid: Option<String>,
    /// Pending job status.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub jobstatus: Option<i64>,
    /// Owning account.
    #[serde(default)]
    pub account: Option<String>,
    /// Owning project id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub projectid: Option<String>,
    /// Group name.
    #[serde(default)]
    pub group: Option<String>,
}

/// A volume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Volume {
    /// Volume id.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// `ROOT` or `DATADISK`.
    #[serde(default, rename = "type")]
    pub volume_type: Option<String>,
    /// Size in bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub size: Option<u64>,
    /// State (`Allocated`, `Ready`, ...).
    #[serde(default)]
    pub state: Option<String>,
    /// Device id when attached.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub deviceid: Option<u64>,
    /// Attached VM id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub virtualmachineid: Option<String>,
    /// Attached VM name.
    #[serde(default)]
    pub vmname: Option<String>,
    /// Attached VM state.
    #[serde(default)]
    pub vmstate: Option<String>,
    /// Disk offering id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub diskofferingid: Option<String>,
    /// Zone id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub zoneid: Option<String>,
    /// Primary storage name.
    #[serde(default)]
    pub storage: Option<String>,
    /// Primary storage id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub storageid: Option<String>,
    /// `local` or `shared`.
    #[serde(default)]
    pub storagetype: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub created: Option<String>,
    /// Attach time.
    #[serde(default)]
    pub attached: Option<String>,
    /// Path on primary storage.
    #[serde(default)]
    pub path: Option<String>,
    /// Provisioning type.
    #[serde(default)]
    pub provisioningtype: Option<String>,
    /// Tags.
    #[serde(default, deserialize_with = "de::vec")]
    pub tags: Vec<Tag>,
}

/// One entry of a template's `downloaddetails`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct DownloadDetail {
    /// Raw state, e.g. `DOWNLOADED`.
    #[serde(default, rename = "downloadState")]
    pub download_state: Option<String>,
    /// Secondary storage name.
    #[serde(default)]
    pub datastore: Option<String>,
    /// Percentage, sent as a string.
    #[serde(default, rename = "downloadPercent", deserialize_with = "de::opt_u64")]
    pub download_percent: Option<u64>,
}

/// A template (stemcell image).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Template {
    /// Template id.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Display text.
    #[serde(default)]
    pub displaytext: Option<String>,
    /// Whether it is public.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub ispublic: Option<bool>,
    /// Whether it is ready to deploy.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub isready: Option<bool>,
    /// Status text, e.g. `"35% Downloaded"` or `"Download Complete"`.
    #[serde(default)]
    pub status: Option<String>,
    /// Format (`QCOW2`, `VHD`, ...).
    #[serde(default)]
    pub format: Option<String>,
    /// Hypervisor.
    #[serde(default)]
    pub hypervisor: Option<String>,
    /// OS type id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub ostypeid: Option<String>,
    /// OS type name.
    #[serde(default)]
    pub ostypename: Option<String>,
    /// Zone id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub zoneid: Option<String>,
    /// Zone name.
    #[serde(default)]
    pub zonename: Option<String>,
    /// Virtual size in bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub size: Option<u64>,
    /// Physical size in bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub physicalsize: Option<u64>,
    /// Template type (`USER`, ...).
    #[serde(default)]
    pub templatetype: Option<String>,
    /// Whether password reset is enabled.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub passwordenabled: Option<bool>,
    /// Whether HVM is required.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub requireshvm: Option<bool>,
    /// Whether it is extractable.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub isextractable: Option<bool>,
    /// Source URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Checksum.
    #[serde(default)]
    pub checksum: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub created: Option<String>,
    /// Download progress per secondary storage.
    #[serde(default, deserialize_with = "de::vec")]
    pub downloaddetails: Vec<DownloadDetail>,
    /// Tags.
    #[serde(default, deserialize_with = "de::vec")]
    pub tags: Vec<Tag>,
}

/// A zone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Zone {
    /// Zone id.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// `Basic` or `Advanced`.
    #[serde(default)]
    pub networktype: Option<String>,
    /// Whether security groups are enabled.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub securitygroupsenabled: Option<bool>,
    /// `Enabled` or `Disabled`.
    #[serde(default)]
    pub allocationstate: Option<String>,
    /// Whether local storage is enabled.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub localstorageenabled: Option<bool>,
    /// First DNS server.
    #[serde(default)]
    pub dns1: Option<String>,
    /// Second DNS server.
    #[serde(default)]
    pub dns2: Option<String>,
    /// First internal DNS server.
    #[serde(default)]
    pub internaldns1: Option<String>,
    /// DHCP provider.
    #[serde(default)]
    pub dhcpprovider: Option<String>,
}

/// A service offering (VM size).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ServiceOffering {
    /// Offering id.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Display text.
    #[serde(default)]
    pub displaytext: Option<String>,
    /// CPUs.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub cpunumber: Option<u64>,
    /// CPU speed in MHz.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub cpuspeed: Option<u64>,
    /// Memory in MiB.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub memory: Option<u64>,
    /// Whether CPU and memory are given at deploy time.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub iscustomized: Option<bool>,
    /// `local` or `shared`.
    #[serde(default)]
    pub storagetype: Option<String>,
    /// Root disk size in GB (0 when from the template).
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub rootdisksize: Option<u64>,
    /// Whether HA is offered.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub offerha: Option<bool>,
    /// Host tags.
    #[serde(default)]
    pub hosttags: Option<String>,
    /// Storage tags.
    #[serde(default)]
    pub storagetags: Option<String>,
    /// Provisioning type.
    #[serde(default)]
    pub provisioningtype: Option<String>,
}

/// A disk offering.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct DiskOffering {
    /// Offering id.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Display text.
    #[serde(default)]
    pub displaytext: Option<String>,
    /// Size in GB; 0 for custom offerings.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub disksize: Option<u64>,
    /// Whether `size` must be given.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub iscustomized: Option<bool>,
    /// Whether IOPS are custom.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub iscustomizediops: Option<bool>,
    /// `local` or `shared`.
    #[serde(default)]
    pub storagetype: Option<String>,
    /// Provisioning type.
    #[serde(default)]
    pub provisioningtype: Option<String>,
    /// Storage tags.
    #[serde(default)]
    pub tags: Option<String>,
}

/// A guest OS type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct OsType {
    /// OS type id.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// Description, e.g. `Ubuntu 22.04 LTS`.
    #[serde(default)]
    pub description: Option<String>,
    /// Name (newer servers).
    #[serde(default)]
    pub name: Option<String>,
    /// Category id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub oscategoryid: Option<String>,
    /// Whether user defined.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub isuserdefined: Option<bool>,
}

/// A service capability of a network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct NetworkCapability {
    /// Capability name.
    #[serde(default)]
    pub name: Option<String>,
    /// Capability value.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub value: Option<String>,
}

/// A service offered by a network (`Dhcp`, `UserData`, `StaticNat`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct NetworkService {
    /// Service name.
    #[serde(default)]
    pub name: Option<String>,
    /// Capabilities.
    #[serde(default, deserialize_with = "de::vec")]
    pub capability: Vec<NetworkCapability>,
}

/// A guest network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Network {
    /// Network id.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Display text.
    #[serde(default)]
    pub displaytext: Option<String>,
    /// CIDR.
    #[serde(default)]
    pub cidr: Option<String>,
    /// Gateway.
    #[serde(default)]
    pub gateway: Option<String>,
    /// Netmask.
    #[serde(default)]
    pub netmask: Option<String>,
    /// `Isolated`, `Shared` or `L2`.
    #[serde(default, rename = "type")]
    pub network_type: Option<String>,
    /// State.
    #[serde(default)]
    pub state: Option<String>,
    /// Zone id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub zoneid: Option<String>,
    /// Zone name.
    #[serde(default)]
    pub zonename: Option<String>,
    /// Network offering id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub networkofferingid: Option<String>,
    /// VPC id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub vpcid: Option<String>,
    /// Traffic type.
    #[serde(default)]
    pub traffictype: Option<String>,
    /// First DNS server.
    #[serde(default)]
    pub dns1: Option<String>,
    /// Second DNS server.
    #[serde(default)]
    pub dns2: Option<String>,
    /// Network domain.
    #[serde(default)]
    pub networkdomain: Option<String>,
    /// Whether VMs can be deployed in it.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub canusefordeploy: Option<bool>,
    /// Services and capabilities.
    #[serde(default, deserialize_with = "de::vec")]
    pub service: Vec<NetworkService>,
    /// Tags.
    #[serde(default, deserialize_with = "de::vec")]
    pub tags: Vec<Tag>,
}

/// A volume snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Snapshot {
    /// Snapshot id.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Source volume id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub volumeid: Option<String>,
    /// Source volume name.
    #[serde(default)]
    pub volumename: Option<String>,
    /// Source volume type.
    #[serde(default)]
    pub volumetype: Option<String>,
    /// State (`BackedUp` when finished).
    #[serde(default)]
    pub state: Option<String>,
    /// Snapshot type.
    #[serde(default)]
    pub snapshottype: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub created: Option<String>,
    /// Zone id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub zoneid: Option<String>,
    /// Physical size in bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub physicalsize: Option<u64>,
    /// Tags.
    #[serde(default, deserialize_with = "de::vec")]
    pub tags: Vec<Tag>,
}

/// A public IP address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PublicIpAddress {
    /// Address id.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// The address.
    #[serde(default)]
    pub ipaddress: Option<String>,
    /// Zone id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub zoneid: Option<String>,
    /// Whether it is the source NAT address.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub issourcenat: Option<bool>,
    /// Whether static NAT is enabled.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub isstaticnat: Option<bool>,
    /// Associated network id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub associatednetworkid: Option<String>,
    /// Network id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub networkid: Option<String>,
    /// State (`Allocating`, `Allocated`, ...).
    #[serde(default)]
    pub state: Option<String>,
    /// VLAN id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub vlanid: Option<String>,
    /// Static NAT target VM id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub virtualmachineid: Option<String>,
    /// Static NAT target guest IP.
    #[serde(default)]
    pub vmipaddress: Option<String>,
    /// Allocation time.
    #[serde(default)]
    pub allocated: Option<String>,
    /// Whether portable.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub isportable: Option<bool>,
    /// Tags.
    #[serde(default, deserialize_with = "de::vec")]
    pub tags: Vec<Tag>,
}

/// An SSH key pair. The private key, present only on creation, is kept secret.
#[derive(Debug, Clone, Deserialize)]
pub struct SshKeyPair {
    /// Key pair name.
    pub name: String,
    /// Key pair id (newer servers).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub id: Option<String>,
    /// Fingerprint.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// Private key, returned only by `createSSHKeyPair`.
    #[serde(default)]
    pub privatekey: Option<SecretString>,
    /// Owning account.
    #[serde(default)]
    pub account: Option<String>,
    /// Owning domain id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub domainid: Option<String>,
}

/// A project.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Project {
    /// Project id.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Display text.
    #[serde(default)]
    pub displaytext: Option<String>,
    /// State.
    #[serde(default)]
    pub state: Option<String>,
}

/// An entry of `listAsyncJobs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AsyncJob {
    /// Job id.
    #[serde(deserialize_with = "de::string")]
    pub jobid: String,
    /// Java command class.
    #[serde(default)]
    pub cmd: Option<String>,
    /// 0 pending, 1 succeeded, 2 failed.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub jobstatus: Option<i64>,
    /// Result code.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub jobresultcode: Option<i64>,
    /// Instance type.
    #[serde(default)]
    pub jobinstancetype: Option<String>,
    /// Instance id.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub jobinstanceid: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub created: Option<String>,
}

/// The answer to `getUploadParamsForTemplate`. The upload signature is a credential.
#[derive(Debug, Clone, Deserialize)]
pub struct UploadParams {
    /// The new template's id.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// Where to POST the file.
    #[serde(rename = "postURL")]
    pub post_url: String,
    /// Value for the `X-metadata` header.
    pub metadata: SecretString,
    /// Value for the `X-expires` header.
    #[serde(deserialize_with = "de::string")]
    pub expires: String,
    /// Value for the `X-signature` header.
    pub signature: SecretString,
}

/// The answer to `getVirtualMachineUserData`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct VmUserData {
    /// VM id.
    #[serde(deserialize_with = "de::string")]
    pub virtualmachineid: String,
    /// Base64 user data; absent when none is set.
    #[serde(default)]
    pub userdata: Option<String>,
}

impl VirtualMachine {
    /// The SSH key pair names from `keypairs` or, on older servers, `keypair`.
    pub fn key_pair_names(&self) -> Vec<String> {
        self.keypairs
            .as_deref()
            .or(self.keypair.as_deref())
            .map(|names| {
                names
                    .split(',')
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The default NIC, or the first one when none is marked default.
    pub fn default_nic(&self) -> Option<&Nic> {
        self.nic
            .iter()
            .find(|nic| nic.isdefault == Some(true))
            .or_else(|| self.nic.first())
    }
}
