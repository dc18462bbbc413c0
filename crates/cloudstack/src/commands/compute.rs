//! Zones, service offerings, OS types and virtual machines.

use super::{command, list_command, object_or_success};
use crate::envelope;
use crate::params::Params;
use crate::types::{OsType, ServiceOffering, VirtualMachine, VmUserData, Zone};

/// `listZones`.
#[derive(Debug, Clone, Default)]
pub struct ListZones {
    /// Filter by id.
    pub id: Option<String>,
    /// Filter by name.
    pub name: Option<String>,
    /// Only zones available to the caller.
    pub available: Option<bool>,
}

impl ListZones {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.opt("id", self.id.as_ref())
            .opt("name", self.name.as_ref())
            .opt("available", self.available);
        p
    }
}
list_command!(ListZones, "listZones", "zone", project = false, item = Zone);

/// `listServiceOfferings`.
#[derive(Debug, Clone, Default)]
pub struct ListServiceOfferings {
    /// Filter by id.
    pub id: Option<String>,
    /// Filter by name.
    pub name: Option<String>,
    /// Filter by zone.
    pub zoneid: Option<String>,
}

impl ListServiceOfferings {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.opt("id", self.id.as_ref())
            .opt("name", self.name.as_ref())
            .opt("zoneid", self.zoneid.as_ref());
        p
    }
}
list_command!(
    ListServiceOfferings,
    "listServiceOfferings",
    "serviceoffering",
    project = false,
    item = ServiceOffering
);

/// `listOsTypes`.
#[derive(Debug, Clone, Default)]
pub struct ListOsTypes {
    /// Filter by id.
    pub id: Option<String>,
    /// Filter by description.
    pub description: Option<String>,
    /// Keyword search.
    pub keyword: Option<String>,
}

impl ListOsTypes {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.opt("id", self.id.as_ref())
            .opt("description", self.description.as_ref())
            .opt("keyword", self.keyword.as_ref());
        p
    }
}
list_command!(
    ListOsTypes,
    "listOsTypes",
    "ostype",
    project = false,
    item = OsType
);

/// One entry of `iptonetworklist`: a NIC on a network, optionally with a fixed address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpToNetwork {
    /// Network id.
    pub networkid: String,
    /// Fixed IPv4 address.
    pub ip: Option<String>,
    /// Fixed IPv6 address.
    pub ipv6: Option<String>,
    /// Fixed MAC address.
    pub mac: Option<String>,
}

/// `deployVirtualMachine` (async, create-style).
#[derive(Debug, Clone, Default)]
pub struct DeployVirtualMachine {
    /// Service offering id (required).
    pub serviceofferingid: String,
    /// Template id (required).
    pub templateid: String,
    /// Zone id (required).
    pub zoneid: String,
    /// Host name.
    pub name: Option<String>,
    /// Display name.
    pub displayname: Option<String>,
    /// Networks; NIC order follows list order. Mutually exclusive with `networkids`.
    pub iptonetworklist: Vec<IpToNetwork>,
    /// Network ids, when no fixed addresses are needed.
    pub networkids: Vec<String>,
    /// Base64 user data; sent in the POST body, so several KB are fine.
    pub userdata: Option<String>,
    /// SSH key pair name.
    pub keypair: Option<String>,
    /// Affinity group ids.
    pub affinitygroupids: Vec<String>,
    /// Affinity group names.
    pub affinitygroupnames: Vec<String>,
    /// Security group ids.
    pub securitygroupids: Vec<String>,
    /// Security group names.
    pub securitygroupnames: Vec<String>,
    /// Root disk size in GB.
    pub rootdisksize: Option<u64>,
    /// Data disk offering id.
    pub diskofferingid: Option<String>,
    /// Data disk size in GB (custom offerings).
    pub size: Option<u64>,
    /// `details[0].<key>=<value>`, e.g. `cpuNumber`, `memory` for custom offerings.
    pub details: Vec<(String, String)>,
    /// Host to deploy on (admin only).
    pub hostid: Option<String>,
    /// Hypervisor, when the template has none.
    pub hypervisor: Option<String>,
    /// Whether to start the VM (default true).
    pub startvm: Option<bool>,
    /// Instance group.
    pub group: Option<String>,
}

impl DeployVirtualMachine {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("serviceofferingid", self.serviceofferingid.as_str())
            .set("templateid", self.templateid.as_str())
            .set("zoneid", self.zoneid.as_str())
            .opt("name", self.name.as_ref())
            .opt("displayname", self.displayname.as_ref())
            .list("networkids", &self.networkids)
            .opt("userdata", self.userdata.as_ref())
            .opt("keypair", self.keypair.as_ref())
            .list("affinitygroupids", &self.affinitygroupids)
            .list("affinitygroupnames", &self.affinitygroupnames)
            .list("securitygroupids", &self.securitygroupids)
            .list("securitygroupnames", &self.securitygroupnames)
            .opt("rootdisksize", self.rootdisksize)
            .opt("diskofferingid", self.diskofferingid.as_ref())
            .opt("size", self.size)
            .detail_map("details", &self.details)
            .opt("hostid", self.hostid.as_ref())
            .opt("hypervisor", self.hypervisor.as_ref())
            .opt("startvm", self.startvm)
            .opt("group", self.group.as_ref());
        for (index, nic) in self.iptonetworklist.iter().enumerate() {
            p.indexed("iptonetworklist", index, "networkid", &nic.networkid);
            if let Some(ip) = &nic.ip {
                p.indexed("iptonetworklist", index, "ip", ip);
            }
            if let Some(ipv6) = &nic.ipv6 {
                p.indexed("iptonetworklist", index, "ipv6", ipv6);
            }
            if let Some(mac) = &nic.mac {
                p.indexed("iptonetworklist", index, "mac", mac);
            }
        }
        p
    }
}
command!(
    DeployVirtualMachine,
    "deployVirtualMachine",
    Async,
    safe = false,
    project = true,
    output = VirtualMachine,
    decode = |body| envelope::object(body, "virtualmachine")
);

/// `destroyVirtualMachine` (async). The result is the VM, or nothing once it is expunged.
#[derive(Debug, Clone, Default)]
pub struct DestroyVirtualMachine {
    /// VM id.
    pub id: String,
    /// Expunge at once (needs `allow.user.expunge.recover.vm` or an admin key).
    pub expunge: Option<bool>,
    /// Data volumes to delete with it.
    pub volumeids: Vec<String>,
}

impl DestroyVirtualMachine {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("id", self.id.as_str())
            .opt("expunge", self.expunge)
            .list("volumeids", &self.volumeids);
        p
    }
}
command!(
    DestroyVirtualMachine,
    "destroyVirtualMachine",
    Async,
    safe = false,
    project = false,
    output = Option<VirtualMachine>,
    decode = |body| object_or_success(body, "virtualmachine")
);

/// A request that only names a VM by id.
macro_rules! vm_id_command {
    ($ty:ident, $name:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Default)]
        pub struct $ty {
            /// VM id.
            pub id: String,
            /// Force the operation (stop and reboot only; ignored by the others).
            pub forced: Option<bool>,
        }

        impl $ty {
            fn build_params(&self) -> Params {
                let mut p = Params::new();
                p.set("id", self.id.as_str()).opt("forced", self.forced);
                p
            }
        }
        command!(
            $ty,
            $name,
            Async,
            safe = false,
            project = false,
            output = VirtualMachine,
            decode = |body| envelope::object(body, "virtualmachine")
        );
    };
}

vm_id_command!(
    RebootVirtualMachine,
    "rebootVirtualMachine",
    "`rebootVirtualMachine` (async)."
);
vm_id_command!(
    StopVirtualMachine,
    "stopVirtualMachine",
    "`stopVirtualMachine` (async)."
);

/// `startVirtualMachine` (async).
#[derive(Debug, Clone, Default)]
pub struct StartVirtualMachine {
    /// VM id.
    pub id: String,
    /// Host to start on (admin only).
    pub hostid: Option<String>,
}

impl StartVirtualMachine {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("id", self.id.as_str())
            .opt("hostid", self.hostid.as_ref());
        p
    }
}
command!(
    StartVirtualMachine,
    "startVirtualMachine",
    Async,
    safe = false,
    project = false,
    output = VirtualMachine,
    decode = |body| envelope::object(body, "virtualmachine")
);

/// `expungeVirtualMachine` (async).
#[derive(Debug, Clone, Default)]
pub struct ExpungeVirtualMachine {
    /// VM id.
    pub id: String,
}

impl ExpungeVirtualMachine {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("id", self.id.as_str());
        p
    }
}
command!(
    ExpungeVirtualMachine,
    "expungeVirtualMachine",
    Async,
    safe = false,
    project = false,
    output = (),
    decode = |body| super::done(body)
);

/// `listVirtualMachines`.
#[derive(Debug, Clone, Default)]
pub struct ListVirtualMachines {
    /// Filter by id.
    pub id: Option<String>,
    /// Filter by several ids.
    pub ids: Vec<String>,
    /// Filter by name (substring on some versions; prefer id or tags).
    pub name: Option<String>,
    /// Filter by state.
    pub state: Option<String>,
    /// Filter by zone.
    pub zoneid: Option<String>,
    /// Filter by network.
    pub networkid: Option<String>,
    /// Filter by tags.
    pub tags: Vec<(String, String)>,
    /// List everything the caller may see.
    pub listall: Option<bool>,
}

impl ListVirtualMachines {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.opt("id", self.id.as_ref())
            .list("ids", &self.ids)
            .opt("name", self.name.as_ref())
            .opt("state", self.state.as_ref())
            .opt("zoneid", self.zoneid.as_ref())
            .opt("networkid", self.networkid.as_ref())
            .key_value_map("tags", &self.tags)
            .opt("listall", self.listall);
        p
    }
}
list_command!(
    ListVirtualMachines,
    "listVirtualMachines",
    "virtualmachine",
    project = true,
    item = VirtualMachine
);

/// `updateVirtualMachine` (sync).
#[derive(Debug, Clone, Default)]
pub struct UpdateVirtualMachine {
    /// VM id.
    pub id: String,
    /// New display name.
    pub displayname: Option<String>,
    /// New base64 user data (the VM must be stopped on most hypervisors).
    pub userdata: Option<String>,
}

impl UpdateVirtualMachine {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("id", self.id.as_str())
            .opt("displayname", self.displayname.as_ref())
            .opt("userdata", self.userdata.as_ref());
        p
    }
}
command!(
    UpdateVirtualMachine,
    "updateVirtualMachine",
    Sync,
    safe = true,
    project = false,
    output = VirtualMachine,
    decode = |body| envelope::object(body, "virtualmachine")
);

/// `getVirtualMachineUserData` (sync).
#[derive(Debug, Clone, Default)]
pub struct GetVirtualMachineUserData {
    /// VM id.
    pub virtualmachineid: String,
}

impl GetVirtualMachineUserData {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("virtualmachineid", self.virtualmachineid.as_str());
        p
    }
}
command!(
    GetVirtualMachineUserData,
    "getVirtualMachineUserData",
    Sync,
    safe = true,
    project = false,
    output = VmUserData,
    decode = |body| envelope::object(body, "virtualmachineuserdata")
);
