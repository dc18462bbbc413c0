//! Networks, public IP addresses and static NAT.

use super::{command, done, list_command};
use crate::envelope;
use crate::params::Params;
use crate::types::{Network, PublicIpAddress};

/// `listNetworks`.
#[derive(Debug, Clone, Default)]
pub struct ListNetworks {
    /// Filter by id.
    pub id: Option<String>,
    /// Filter by name.
    pub name: Option<String>,
    /// Filter by zone.
    pub zoneid: Option<String>,
    /// Only networks VMs can be deployed into.
    pub canusefordeploy: Option<bool>,
    /// Filter by tags.
    pub tags: Vec<(String, String)>,
    /// List everything the caller may see.
    pub listall: Option<bool>,
}

impl ListNetworks {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.opt("id", self.id.as_ref())
            .opt("name", self.name.as_ref())
            .opt("zoneid", self.zoneid.as_ref())
            .opt("canusefordeploy", self.canusefordeploy)
            .key_value_map("tags", &self.tags)
            .opt("listall", self.listall);
        p
    }
}
list_command!(
    ListNetworks,
    "listNetworks",
    "network",
    project = true,
    item = Network
);

/// `associateIpAddress` (async).
#[derive(Debug, Clone, Default)]
pub struct AssociateIpAddress {
    /// Zone id.
    pub zoneid: Option<String>,
    /// Isolated network id.
    pub networkid: Option<String>,
    /// VPC id.
    pub vpcid: Option<String>,
    /// A specific address (newer servers).
    pub ipaddress: Option<String>,
}

impl AssociateIpAddress {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.opt("zoneid", self.zoneid.as_ref())
            .opt("networkid", self.networkid.as_ref())
            .opt("vpcid", self.vpcid.as_ref())
            .opt("ipaddress", self.ipaddress.as_ref());
        p
    }
}
command!(
    AssociateIpAddress,
    "associateIpAddress",
    Async,
    safe = false,
    project = true,
    output = PublicIpAddress,
    decode = |body| envelope::object(body, "ipaddress")
);

/// `disassociateIpAddress` (async).
#[derive(Debug, Clone, Default)]
pub struct DisassociateIpAddress {
    /// Address id.
    pub id: String,
}

impl DisassociateIpAddress {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("id", self.id.as_str());
        p
    }
}
command!(
    DisassociateIpAddress,
    "disassociateIpAddress",
    Async,
    safe = false,
    project = false,
    output = (),
    decode = |body| done(body)
);

/// `listPublicIpAddresses`.
#[derive(Debug, Clone, Default)]
pub struct ListPublicIpAddresses {
    /// Filter by id.
    pub id: Option<String>,
    /// Filter by address.
    pub ipaddress: Option<String>,
    /// Filter by zone.
    pub zoneid: Option<String>,
    /// Filter by associated network.
    pub associatednetworkid: Option<String>,
    /// Only allocated addresses.
    pub allocatedonly: Option<bool>,
    /// List everything the caller may see.
    pub listall: Option<bool>,
}

impl ListPublicIpAddresses {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.opt("id", self.id.as_ref())
            .opt("ipaddress", self.ipaddress.as_ref())
            .opt("zoneid", self.zoneid.as_ref())
            .opt("associatednetworkid", self.associatednetworkid.as_ref())
            .opt("allocatedonly", self.allocatedonly)
            .opt("listall", self.listall);
        p
    }
}
list_command!(
    ListPublicIpAddresses,
    "listPublicIpAddresses",
    "publicipaddress",
    project = true,
    item = PublicIpAddress
);

/// `enableStaticNat` (sync).
#[derive(Debug, Clone, Default)]
pub struct EnableStaticNat {
    /// Public address id.
    pub ipaddressid: String,
    /// Target VM id.
    pub virtualmachineid: String,
    /// Network id (VPC tiers).
    pub networkid: Option<String>,
    /// Guest IP of the VM to map to.
    pub vmguestip: Option<String>,
}

impl EnableStaticNat {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("ipaddressid", self.ipaddressid.as_str())
            .set("virtualmachineid", self.virtualmachineid.as_str())
            .opt("networkid", self.networkid.as_ref())
            .opt("vmguestip", self.vmguestip.as_ref());
        p
    }
}
command!(
    EnableStaticNat,
    "enableStaticNat",
    Sync,
    safe = false,
    project = false,
    output = (),
    decode = |body| envelope::success(body)
);

/// `disableStaticNat` (async).
#[derive(Debug, Clone, Default)]
pub struct DisableStaticNat {
    /// Public address id.
    pub ipaddressid: String,
}

impl DisableStaticNat {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("ipaddressid", self.ipaddressid.as_str());
        p
    }
}
command!(
    DisableStaticNat,
    "disableStaticNat",
    Async,
    safe = false,
    project = false,
    output = (),
    decode = |body| done(body)
);
