//! From the director's `networks` to CloudStack NICs and back.
//!
//! Every manual or dynamic network becomes one NIC (`iptonetworklist`, in NIC order); a vip
//! network becomes static NAT after deploy. The network carrying the default gateway is put
//! first, because CloudStack makes the first entry the default NIC and the CloudStack stemcell
//! runs DHCP on `eth0` to find the metadata server.

use cloudstack::CloudStackClient;
use cloudstack::commands::IpToNetwork;
use cloudstack::types::{Nic, VirtualMachine};
use cpi_protocol::{NetworkKind, Networks};
use serde_json::{Value, json};

use crate::ActionError;

/// One NIC to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NicPlan {
    /// The BOSH network name.
    pub network: String,
    /// The CloudStack network id.
    pub network_id: String,
    /// The static IP of a manual network.
    pub ip: Option<String>,
}

/// The NICs, in order, and the optional vip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NetworkPlan {
    pub nics: Vec<NicPlan>,
    /// The BOSH vip network name and its public IP.
    pub vip: Option<(String, String)>,
}

impl NetworkPlan {
    pub(crate) fn ip_to_network_list(&self) -> Vec<IpToNetwork> {
        self.nics
            .iter()
            .map(|nic| IpToNetwork {
                networkid: nic.network_id.clone(),
                ip: nic.ip.clone(),
                ..IpToNetwork::default()
            })
            .collect()
    }

    /// The static IPs with their NIC plan.
    pub(crate) fn static_ips(&self) -> impl Iterator<Item = (&NicPlan, &str)> {
        self.nics
            .iter()
            .filter_map(|nic| nic.ip.as_deref().map(|ip| (nic, ip)))
    }
}

/// Checks the networks and resolves their CloudStack networks (cached by the client).
pub(crate) async fn plan(
    cloud: &CloudStackClient,
    zone_id: &str,
    networks: &Networks,
) -> Result<NetworkPlan, ActionError> {
    if networks.is_empty() {
        return Err(ActionError::CloudProperties(
            "create_vm needs at least one network".to_owned(),
        ));
    }
    let mut plan = NetworkPlan::default();
    let mut default_first: Vec<NicPlan> = Vec::new();
    let mut others: Vec<NicPlan> = Vec::new();
    for (name, network) in networks.iter() {
        let cloud_properties = network.cloud_properties();
        if network.kind() == NetworkKind::Vip {
            if let Some(key) = cloud_properties.keys().next() {
                return Err(ActionError::CloudProperties(format!(
                    "vip network '{name}': unknown cloud_properties key '{key}' (a vip network takes none; its ip must be a public IP allocated in CloudStack)"
                )));
            }
            let ip = network.ip().map(|ip| ip.to_string()).ok_or_else(|| {
                ActionError::CloudProperties(format!("vip network '{name}' has no ip"))
            })?;
            if let Some((other, _)) = &plan.vip {
                return Err(ActionError::CloudProperties(format!(
                    "only one vip network per VM is supported, got '{other}' and '{name}'"
                )));
            }
            plan.vip = Some((name.to_owned(), ip));
            continue;
        }
        let unknown: Vec<&str> = cloud_properties
            .keys()
            .map(String::as_str)
            .filter(|key| *key != "name")
            .collect();
        if !unknown.is_empty() {
            return Err(ActionError::CloudProperties(format!(
                "network '{name}': unknown cloud_properties key(s) {} (the only key is 'name')",
                unknown.join(", ")
            )));
        }
        let cloudstack_name = match cloud_properties.get("name") {
            Some(Value::String(text)) if !text.trim().is_empty() => text.clone(),
            None | Some(Value::Null) => {
                return Err(ActionError::CloudProperties(format!(
                    "network '{name}' needs cloud_properties.name (a CloudStack network name or id)"
                )));
            }
            Some(other) => {
                return Err(ActionError::CloudProperties(format!(
                    "network '{name}': cloud_properties.name must be a non-empty string, got {other}"
                )));
            }
        };
        let network_id = cloud
            .network_id(&cloudstack_name, zone_id)
            .await
            .map_err(|error| {
                if error.is_not_found() {
                    ActionError::NetworkNotFound(format!(
                        "network '{name}': CloudStack network '{cloudstack_name}' not found in zone {zone_id}"
                    ))
                } else {
                    ActionError::CloudStack {
                        during: format!("looking up CloudStack network '{cloudstack_name}' for network '{name}'"),
                        source: error,
                    }
                }
            })?;
        let nic = NicPlan {
            network: name.to_owned(),
            network_id,
            ip: match network.kind() {
                NetworkKind::Manual => network.ip().map(|ip| ip.to_string()),
                _ => None,
            },
        };
        if let Some(clash) = default_first
            .iter()
            .chain(others.iter())
            .find(|other| other.network_id == nic.network_id)
        {
            return Err(ActionError::CloudProperties(format!(
                "networks '{}' and '{name}' both use CloudStack network '{cloudstack_name}'; a VM has one NIC per CloudStack network",
                clash.network
            )));
        }
        if network.is_default_gateway() && default_first.is_empty() {
            default_first.push(nic);
        } else {
            others.push(nic);
        }
    }
    plan.nics = default_first.into_iter().chain(others).collect();
    if plan.nics.is_empty() {
        return Err(ActionError::CloudProperties(
            "create_vm needs a manual or dynamic network besides the vip".to_owned(),
        ));
    }
    Ok(plan)
}

/// The NIC of `vm` on each planned network, in plan order.
pub(crate) fn match_nics<'a>(
    plan: &NetworkPlan,
    vm: &'a VirtualMachine,
) -> Result<Vec<&'a Nic>, ActionError> {
    plan.nics
        .iter()
        .map(|wanted| {
            vm.nic
                .iter()
                .find(|nic| nic.networkid.as_deref() == Some(wanted.network_id.as_str()))
                .ok_or_else(|| {
                    ActionError::Cloud(format!(
                        "CloudStack created VM {} without a NIC on network {} (for network '{}')",
                        vm.id, wanted.network_id, wanted.network
                    ))
                })
        })
        .collect()
}

/// Adds what the VM got to the director's networks: each NIC's `mac` and `alias`, and for a
/// dynamic network the address CloudStack chose. Every director field is kept.
pub(crate) fn annotate(networks: &Networks, plan: &NetworkPlan, nics: &[&Nic]) -> Networks {
    let mut annotated = networks.clone();
    for (name, network) in annotated.iter_mut() {
        let Some(index) = plan.nics.iter().position(|nic| nic.network == name) else {
            continue;
        };
        let Some(nic) = nics.get(index) else {
            continue;
        };
        if let Some(mac) = &nic.macaddress {
            network.set("mac", json!(mac));
        }
        network.set("alias", json!(format!("eth{index}")));
        if network.kind() == NetworkKind::Dynamic {
            if let Some(ip) = &nic.ipaddress {
                network.set("ip", json!(ip));
            }
            for (key, value) in [("netmask", &nic.netmask), ("gateway", &nic.gateway)] {
                if network.as_object().get(key).is_none_or(Value::is_null)
                    && let Some(value) = value
                {
                    network.set(key, json!(value));
                }
            }
        }
    }
    annotated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iptonetworklist_follows_plan_order() {
        let plan = NetworkPlan {
            nics: vec![
                NicPlan {
                    network: "a".into(),
                    network_id: "n1".into(),
                    ip: Some("10.0.0.5".into()),
                },
                NicPlan {
                    network: "b".into(),
                    network_id: "n2".into(),
                    ip: None,
                },
            ],
            vip: None,
        };
        let list = plan.ip_to_network_list();
        assert_eq!(list[0].networkid, "n1");
        assert_eq!(list[0].ip.as_deref(), Some("10.0.0.5"));
        assert_eq!(list[1].ip, None);
        assert_eq!(plan.static_ips().count(), 1);
    }
}
