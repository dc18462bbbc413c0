//! The `networks` argument of `create_vm`.
//!
//! Each network is validated and its fields the CPI needs are parsed once, but the original
//! JSON object is kept and is what gets serialised, so fields this CPI does not know (`prefix`,
//! `nic_group`, future director additions) reach the agent settings and the `create_vm` result
//! exactly as the director sent them.

use std::net::IpAddr;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::JsonObject;

/// The three BOSH network types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkKind {
    /// A static IP chosen by the director from the subnet's range.
    Manual,
    /// An IP chosen by the IaaS (CloudStack DHCP).
    Dynamic,
    /// A public IP attached to the VM (static NAT on CloudStack).
    Vip,
}

impl NetworkKind {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "manual" => Some(Self::Manual),
            "dynamic" => Some(Self::Dynamic),
            "vip" => Some(Self::Vip),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Dynamic => "dynamic",
            Self::Vip => "vip",
        }
    }
}

/// One entry of `networks`.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    raw: JsonObject,
    kind: NetworkKind,
    ip: Option<IpAddr>,
    cloud_properties: JsonObject,
}

impl Network {
    /// Parses and validates one network object. A missing `type` means manual, as the
    /// director and older compilation VMs send it that way.
    pub fn from_object(raw: JsonObject) -> Result<Self, String> {
        let kind = match raw.get("type") {
            None | Some(Value::Null) => NetworkKind::Manual,
            Some(Value::String(value)) => NetworkKind::parse(value).ok_or_else(|| {
                format!("unknown network type '{value}', expected manual, dynamic or vip")
            })?,
            Some(other) => {
                return Err(format!(
                    "\"type\" must be a string, got {}",
                    json_type(other)
                ));
            }
        };
        let ip = match raw.get("ip") {
            None | Some(Value::Null) => None,
            Some(Value::String(value)) => Some(
                value
                    .parse::<IpAddr>()
                    .map_err(|_| format!("\"ip\" is not an IP address: '{value}'"))?,
            ),
            Some(other) => {
                return Err(format!("\"ip\" must be a string, got {}", json_type(other)));
            }
        };
        for key in ["netmask", "gateway"] {
            match raw.get(key) {
                None | Some(Value::Null | Value::String(_)) => {}
                Some(other) => {
                    return Err(format!(
                        "\"{key}\" must be a string, got {}",
                        json_type(other)
                    ));
                }
            }
        }
        for key in ["dns", "default"] {
            match raw.get(key) {
                None | Some(Value::Null) => {}
                Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
                Some(_) => return Err(format!("\"{key}\" must be a list of strings")),
            }
        }
        let cloud_properties = match raw.get("cloud_properties") {
            None | Some(Value::Null) => JsonObject::new(),
            Some(Value::Object(map)) => map.clone(),
            Some(other) => {
                return Err(format!(
                    "\"cloud_properties\" must be an object, got {}",
                    json_type(other)
                ));
            }
        };
        if kind == NetworkKind::Manual && ip.is_none() {
            return Err("a manual network needs an \"ip\"".to_owned());
        }
        if kind == NetworkKind::Vip && ip.is_none() {
            return Err("a vip network needs an \"ip\"".to_owned());
        }
        Ok(Self {
            raw,
            kind,
            ip,
            cloud_properties,
        })
    }

    pub fn kind(&self) -> NetworkKind {
        self.kind
    }

    /// The static IP (manual, vip) or the IP the director already knows (dynamic).
    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }

    pub fn netmask(&self) -> Option<&str> {
        self.raw.get("netmask").and_then(Value::as_str)
    }

    pub fn gateway(&self) -> Option<&str> {
        self.raw.get("gateway").and_then(Value::as_str)
    }

    pub fn dns(&self) -> Vec<String> {
        string_list(self.raw.get("dns"))
    }

    /// The `default` list: which of `dns`, `gateway`, `addressable` this network provides.
    pub fn defaults(&self) -> Vec<String> {
        string_list(self.raw.get("default"))
    }

    /// Whether this network carries the VM's default gateway.
    pub fn is_default_gateway(&self) -> bool {
        self.defaults().iter().any(|item| item == "gateway")
    }

    pub fn cloud_properties(&self) -> &JsonObject {
        &self.cloud_properties
    }

    /// The object as the director sent it, plus whatever the CPI added with [`Network::set`].
    pub fn as_object(&self) -> &JsonObject {
        &self.raw
    }

    /// Adds or replaces a field (`mac`, `alias`, `ip` of a dynamic network, …). The typed view
    /// follows when the field is `ip`.
    pub fn set(&mut self, key: &str, value: Value) {
        if key == "ip" {
            self.ip = value.as_str().and_then(|text| text.parse().ok());
        }
        self.raw.insert(key.to_owned(), value);
    }
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The `networks` argument: network name to network, in the director's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Networks(Vec<(String, Network)>);

impl Networks {
    /// Parses the `networks` object, naming the network whose content is wrong.
    pub fn from_value(value: Value) -> Result<Self, String> {
        let Value::Object(map) = value else {
            return Err(format!(
                "networks must be an object, got {}",
                json_type(&value)
            ));
        };
        let mut networks = Vec::with_capacity(map.len());
        for (name, network) in map {
            let Value::Object(object) = network else {
                return Err(format!(
                    "network '{name}' must be an object, got {}",
                    json_type(&network)
                ));
            };
            let parsed = Network::from_object(object)
                .map_err(|reason| format!("network '{name}': {reason}"))?;
            networks.push((name, parsed));
        }
        Ok(Self(networks))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Network)> {
        self.0
            .iter()
            .map(|(name, network)| (name.as_str(), network))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut Network)> {
        self.0
            .iter_mut()
            .map(|(name, network)| (name.as_str(), network))
    }

    pub fn get(&self, name: &str) -> Option<&Network> {
        self.0
            .iter()
            .find(|(candidate, _)| candidate == name)
            .map(|(_, network)| network)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The networks as one JSON object, with every original field.
    pub fn to_value(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(name, network)| (name.clone(), Value::Object(network.raw.clone())))
                .collect(),
        )
    }
}

impl Serialize for Networks {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Networks {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Networks::from_value(Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_and_order_round_trip_verbatim() {
        let input = json!({
            "z-private": {"type": "manual", "ip": "10.0.0.10", "prefix": "32", "netmask": "255.255.255.0",
                          "gateway": "10.0.0.1", "dns": ["8.8.8.8"], "default": ["dns", "gateway"],
                          "cloud_properties": {"name": "net-a", "future": [1, 2]}, "nic_group": "1", "gateway_x": null},
            "a-dyn": {"type": "dynamic", "dns": [], "cloud_properties": {"name": "net-b"}},
            "public": {"type": "vip", "ip": "203.0.113.7", "prefix": 32, "cloud_properties": {}}
        });
        let networks = Networks::from_value(input.clone()).unwrap();
        assert_eq!(
            serde_json::to_string(&networks).unwrap(),
            serde_json::to_string(&input).unwrap()
        );
        let names: Vec<_> = networks.iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["z-private", "a-dyn", "public"]);
        let private = networks.get("z-private").unwrap();
        assert_eq!(private.kind(), NetworkKind::Manual);
        assert!(private.is_default_gateway());
        assert_eq!(private.cloud_properties()["name"], "net-a");
    }

    #[test]
    fn create_env_networks_without_type_are_manual() {
        let networks = Networks::from_value(
            json!({"default": {"ip": "10.0.0.5", "netmask": "255.255.255.0"}}),
        )
        .unwrap();
        assert_eq!(networks.get("default").unwrap().kind(), NetworkKind::Manual);
    }

    #[test]
    fn bad_networks_name_the_network_and_the_problem() {
        let cases = [
            (
                json!({"n": {"type": "bridge"}}),
                "network 'n': unknown network type 'bridge'",
            ),
            (
                json!({"n": {"type": "manual"}}),
                "network 'n': a manual network needs an \"ip\"",
            ),
            (
                json!({"n": {"type": "dynamic", "ip": "not-an-ip"}}),
                "network 'n': \"ip\" is not an IP address",
            ),
            (
                json!({"n": {"type": "dynamic", "dns": "8.8.8.8"}}),
                "network 'n': \"dns\" must be a list",
            ),
            (
                json!({"n": {"type": "dynamic", "cloud_properties": "x"}}),
                "\"cloud_properties\" must be an object",
            ),
            (
                json!({"n": 3}),
                "network 'n' must be an object, got a number",
            ),
            (json!([]), "networks must be an object, got a list"),
        ];
        for (input, expected) in cases {
            let error = Networks::from_value(input).unwrap_err();
            assert!(
                error.contains(expected),
                "{error:?} should contain {expected:?}"
            );
        }
    }

    #[test]
    fn set_adds_fields_the_agent_needs() {
        let mut networks = Networks::from_value(json!({"d": {"type": "dynamic"}})).unwrap();
        for (_, network) in networks.iter_mut() {
            network.set("mac", json!("02:00:00:00:00:01"));
            network.set("ip", json!("10.1.1.20"));
        }
        let network = networks.get("d").unwrap();
        assert_eq!(network.ip(), Some("10.1.1.20".parse().unwrap()));
        assert_eq!(networks.to_value()["d"]["mac"], "02:00:00:00:00:01");
    }
}
