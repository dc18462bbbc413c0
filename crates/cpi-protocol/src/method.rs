//! The closed set of CPI methods, each with its arguments typed and parsed once.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::network::json_type;
use crate::{
    AgentId, DiskCid, EmptyCid, Env, JsonObject, Networks, ProtocolError, SnapshotCid, StemcellCid,
    VmCid,
};

/// The names of every CPI method this CPI understands, including those it answers with
/// `NotSupported`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MethodName {
    Info,
    Ping,
    CreateStemcell,
    DeleteStemcell,
    CreateVm,
    DeleteVm,
    HasVm,
    RebootVm,
    SetVmMetadata,
    CalculateVmCloudProperties,
    CreateDisk,
    DeleteDisk,
    ResizeDisk,
    UpdateDisk,
    AttachDisk,
    DetachDisk,
    HasDisk,
    GetDisks,
    SetDiskMetadata,
    SnapshotDisk,
    DeleteSnapshot,
    CurrentVmId,
    ConfigureNetworks,
    CreateNetwork,
    DeleteNetwork,
}

impl MethodName {
    pub const ALL: [MethodName; 25] = [
        MethodName::Info,
        MethodName::Ping,
        MethodName::CreateStemcell,
        MethodName::DeleteStemcell,
        MethodName::CreateVm,
        MethodName::DeleteVm,
        MethodName::HasVm,
        MethodName::RebootVm,
        MethodName::SetVmMetadata,
        MethodName::CalculateVmCloudProperties,
        MethodName::CreateDisk,
        MethodName::DeleteDisk,
        MethodName::ResizeDisk,
        MethodName::UpdateDisk,
        MethodName::AttachDisk,
        MethodName::DetachDisk,
        MethodName::HasDisk,
        MethodName::GetDisks,
        MethodName::SetDiskMetadata,
        MethodName::SnapshotDisk,
        MethodName::DeleteSnapshot,
        MethodName::CurrentVmId,
        MethodName::ConfigureNetworks,
        MethodName::CreateNetwork,
        MethodName::DeleteNetwork,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MethodName::Info => "info",
            MethodName::Ping => "ping",
            MethodName::CreateStemcell => "create_stemcell",
            MethodName::DeleteStemcell => "delete_stemcell",
            MethodName::CreateVm => "create_vm",
            MethodName::DeleteVm => "delete_vm",
            MethodName::HasVm => "has_vm",
            MethodName::RebootVm => "reboot_vm",
            MethodName::SetVmMetadata => "set_vm_metadata",
            MethodName::CalculateVmCloudProperties => "calculate_vm_cloud_properties",
            MethodName::CreateDisk => "create_disk",
            MethodName::DeleteDisk => "delete_disk",
            MethodName::ResizeDisk => "resize_disk",
            MethodName::UpdateDisk => "update_disk",
            MethodName::AttachDisk => "attach_disk",
            MethodName::DetachDisk => "detach_disk",
            MethodName::HasDisk => "has_disk",
            MethodName::GetDisks => "get_disks",
            MethodName::SetDiskMetadata => "set_disk_metadata",
            MethodName::SnapshotDisk => "snapshot_disk",
            MethodName::DeleteSnapshot => "delete_snapshot",
            MethodName::CurrentVmId => "current_vm_id",
            MethodName::ConfigureNetworks => "configure_networks",
            MethodName::CreateNetwork => "create_network",
            MethodName::DeleteNetwork => "delete_network",
        }
    }

    pub fn parse(name: &str) -> Option<MethodName> {
        MethodName::ALL
            .into_iter()
            .find(|candidate| candidate.as_str() == name)
    }
}

/// The argument of `calculate_vm_cloud_properties`: the director's `vm_resources`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmResources {
    pub cpu: u32,
    /// Memory in MiB.
    pub ram: u64,
    /// Ephemeral disk size in MiB.
    pub ephemeral_disk_size: u64,
}

/// A CPI call with its arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    Info,
    Ping,
    CreateStemcell {
        image_path: String,
        cloud_properties: JsonObject,
        /// The v3 third argument, e.g. `{"tags": {...}}`.
        env: Option<JsonObject>,
    },
    DeleteStemcell {
        stemcell_cid: StemcellCid,
    },
    CreateVm {
        agent_id: AgentId,
        stemcell_cid: StemcellCid,
        cloud_properties: JsonObject,
        networks: Networks,
        /// Persistent disks of the instance: a placement hint.
        disk_cids: Vec<DiskCid>,
        env: Env,
    },
    DeleteVm {
        vm_cid: VmCid,
    },
    HasVm {
        vm_cid: VmCid,
    },
    RebootVm {
        vm_cid: VmCid,
    },
    SetVmMetadata {
        vm_cid: VmCid,
        metadata: JsonObject,
    },
    CalculateVmCloudProperties {
        resources: VmResources,
    },
    CreateDisk {
        size_mib: u64,
        cloud_properties: JsonObject,
        vm_cid: Option<VmCid>,
    },
    DeleteDisk {
        disk_cid: DiskCid,
    },
    ResizeDisk {
        disk_cid: DiskCid,
        new_size_mib: u64,
    },
    UpdateDisk {
        disk_cid: DiskCid,
        new_size_mib: u64,
        cloud_properties: JsonObject,
    },
    AttachDisk {
        vm_cid: VmCid,
        disk_cid: DiskCid,
    },
    DetachDisk {
        vm_cid: VmCid,
        disk_cid: DiskCid,
    },
    HasDisk {
        disk_cid: DiskCid,
    },
    GetDisks {
        vm_cid: VmCid,
    },
    SetDiskMetadata {
        disk_cid: DiskCid,
        metadata: JsonObject,
    },
    SnapshotDisk {
        disk_cid: DiskCid,
        metadata: JsonObject,
    },
    DeleteSnapshot {
        snapshot_cid: SnapshotCid,
    },
    CurrentVmId,
    /// v1 only; answered with `NotSupported` so the director recreates the VM.
    ConfigureNetworks {
        vm_cid: VmCid,
    },
    /// Only used with `director.networks.enable_cpi_management`; answered with `NotSupported`.
    CreateNetwork,
    DeleteNetwork,
}

impl Method {
    pub fn name(&self) -> MethodName {
        match self {
            Method::Info => MethodName::Info,
            Method::Ping => MethodName::Ping,
            Method::CreateStemcell { .. } => MethodName::CreateStemcell,
            Method::DeleteStemcell { .. } => MethodName::DeleteStemcell,
            Method::CreateVm { .. } => MethodName::CreateVm,
            Method::DeleteVm { .. } => MethodName::DeleteVm,
            Method::HasVm { .. } => MethodName::HasVm,
            Method::RebootVm { .. } => MethodName::RebootVm,
            Method::SetVmMetadata { .. } => MethodName::SetVmMetadata,
            Method::CalculateVmCloudProperties { .. } => MethodName::CalculateVmCloudProperties,
            Method::CreateDisk { .. } => MethodName::CreateDisk,
            Method::DeleteDisk { .. } => MethodName::DeleteDisk,
            Method::ResizeDisk { .. } => MethodName::ResizeDisk,
            Method::UpdateDisk { .. } => MethodName::UpdateDisk,
            Method::AttachDisk { .. } => MethodName::AttachDisk,
            Method::DetachDisk { .. } => MethodName::DetachDisk,
            Method::HasDisk { .. } => MethodName::HasDisk,
            Method::GetDisks { .. } => MethodName::GetDisks,
            Method::SetDiskMetadata { .. } => MethodName::SetDiskMetadata,
            Method::SnapshotDisk { .. } => MethodName::SnapshotDisk,
            Method::DeleteSnapshot { .. } => MethodName::DeleteSnapshot,
            Method::CurrentVmId => MethodName::CurrentVmId,
            Method::ConfigureNetworks { .. } => MethodName::ConfigureNetworks,
            Method::CreateNetwork => MethodName::CreateNetwork,
            Method::DeleteNetwork => MethodName::DeleteNetwork,
        }
    }

    /// Parses a method name and its positional arguments.
    pub fn parse(name: &str, arguments: Vec<Value>) -> Result<Method, ProtocolError> {
        let method =
            MethodName::parse(name).ok_or_else(|| ProtocolError::UnknownMethod(name.to_owned()))?;
        let mut args = Args::new(method, arguments);
        let parsed = match method {
            MethodName::Info => Method::Info,
            MethodName::Ping => Method::Ping,
            MethodName::CreateStemcell => {
                args.arity(2, 3)?;
                Method::CreateStemcell {
                    image_path: args.string("image_path")?,
                    cloud_properties: args.object("cloud_properties")?,
                    env: args.optional_object("env")?,
                }
            }
            MethodName::DeleteStemcell => {
                args.arity(1, 1)?;
                Method::DeleteStemcell {
                    stemcell_cid: args.cid("stemcell_cid", StemcellCid::new)?,
                }
            }
            MethodName::CreateVm => {
                args.arity(5, 6)?;
                Method::CreateVm {
                    agent_id: args.cid("agent_id", AgentId::new)?,
                    stemcell_cid: args.cid("stemcell_cid", StemcellCid::new)?,
                    cloud_properties: args.object("cloud_properties")?,
                    networks: args.networks()?,
                    disk_cids: args.disk_cids()?,
                    env: args.optional_object("env")?.unwrap_or_default(),
                }
            }
            MethodName::DeleteVm => {
                args.arity(1, 1)?;
                Method::DeleteVm {
                    vm_cid: args.cid("vm_cid", VmCid::new)?,
                }
            }
            MethodName::HasVm => {
                args.arity(1, 1)?;
                Method::HasVm {
                    vm_cid: args.cid("vm_cid", VmCid::new)?,
                }
            }
            MethodName::RebootVm => {
                args.arity(1, 2)?;
                Method::RebootVm {
                    vm_cid: args.cid("vm_cid", VmCid::new)?,
                }
            }
            MethodName::SetVmMetadata => {
                args.arity(2, 2)?;
                Method::SetVmMetadata {
                    vm_cid: args.cid("vm_cid", VmCid::new)?,
                    metadata: args.object("metadata")?,
                }
            }
            MethodName::CalculateVmCloudProperties => {
                args.arity(1, 1)?;
                let value = args.next_value();
                let resources = serde_json::from_value(value).map_err(|error| {
                    args.error(format!("vm_resources must be {{\"cpu\", \"ram\", \"ephemeral_disk_size\"}} as integers: {error}"))
                })?;
                Method::CalculateVmCloudProperties { resources }
            }
            MethodName::CreateDisk => {
                args.arity(2, 3)?;
                Method::CreateDisk {
                    size_mib: args.size("size")?,
                    cloud_properties: args.object("cloud_properties")?,
                    vm_cid: args.optional_cid("vm_cid", VmCid::new)?,
                }
            }
            MethodName::DeleteDisk => {
                args.arity(1, 1)?;
                Method::DeleteDisk {
                    disk_cid: args.cid("disk_cid", DiskCid::new)?,
                }
            }
            MethodName::ResizeDisk => {
                args.arity(2, 2)?;
                Method::ResizeDisk {
                    disk_cid: args.cid("disk_cid", DiskCid::new)?,
                    new_size_mib: args.size("new_size")?,
                }
            }
            MethodName::UpdateDisk => {
                args.arity(3, 3)?;
                Method::UpdateDisk {
                    disk_cid: args.cid("disk_cid", DiskCid::new)?,
                    new_size_mib: args.size("new_size")?,
                    cloud_properties: args.object("cloud_properties")?,
                }
            }
            MethodName::AttachDisk => {
                args.arity(2, 2)?;
                Method::AttachDisk {
                    vm_cid: args.cid("vm_cid", VmCid::new)?,
                    disk_cid: args.cid("disk_cid", DiskCid::new)?,
                }
            }
            MethodName::DetachDisk => {
                args.arity(2, 2)?;
                Method::DetachDisk {
                    vm_cid: args.cid("vm_cid", VmCid::new)?,
                    disk_cid: args.cid("disk_cid", DiskCid::new)?,
                }
            }
            MethodName::HasDisk => {
                args.arity(1, 1)?;
                Method::HasDisk {
                    disk_cid: args.cid("disk_cid", DiskCid::new)?,
                }
            }
            MethodName::GetDisks => {
                args.arity(1, 1)?;
                Method::GetDisks {
                    vm_cid: args.cid("vm_cid", VmCid::new)?,
                }
            }
            MethodName::SetDiskMetadata => {
                args.arity(2, 2)?;
                Method::SetDiskMetadata {
                    disk_cid: args.cid("disk_cid", DiskCid::new)?,
                    metadata: args.object("metadata")?,
                }
            }
            MethodName::SnapshotDisk => {
                args.arity(1, 2)?;
                Method::SnapshotDisk {
                    disk_cid: args.cid("disk_cid", DiskCid::new)?,
                    metadata: args.optional_object("metadata")?.unwrap_or_default(),
                }
            }
            MethodName::DeleteSnapshot => {
                args.arity(1, 1)?;
                Method::DeleteSnapshot {
                    snapshot_cid: args.cid("snapshot_cid", SnapshotCid::new)?,
                }
            }
            MethodName::CurrentVmId => Method::CurrentVmId,
            MethodName::ConfigureNetworks => {
                args.arity(1, 2)?;
                Method::ConfigureNetworks {
                    vm_cid: args.cid("vm_cid", VmCid::new)?,
                }
            }
            MethodName::CreateNetwork => Method::CreateNetwork,
            MethodName::DeleteNetwork => Method::DeleteNetwork,
        };
        Ok(parsed)
    }
}

/// A cursor over positional arguments that names the argument in every error.
struct Args {
    method: MethodName,
    values: std::vec::IntoIter<Value>,
    count: usize,
}

impl Args {
    fn new(method: MethodName, values: Vec<Value>) -> Self {
        Self {
            method,
            count: values.len(),
            values: values.into_iter(),
        }
    }

    fn error(&self, reason: String) -> ProtocolError {
        ProtocolError::BadArguments {
            method: self.method.as_str(),
            reason,
        }
    }

    fn arity(&self, min: usize, max: usize) -> Result<(), ProtocolError> {
        if (min..=max).contains(&self.count) {
            return Ok(());
        }
        let expected = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        Err(self.error(format!("expected {expected} arguments, got {}", self.count)))
    }

    /// The next argument; a missing trailing optional argument reads as null.
    fn next_value(&mut self) -> Value {
        self.values.next().unwrap_or(Value::Null)
    }

    fn string(&mut self, name: &str) -> Result<String, ProtocolError> {
        match self.next_value() {
            Value::String(text) if !text.is_empty() => Ok(text),
            other => Err(self.error(format!(
                "{name} must be a non-empty string, got {}",
                describe(&other)
            ))),
        }
    }

    fn cid<T>(
        &mut self,
        name: &str,
        build: fn(String) -> Result<T, EmptyCid>,
    ) -> Result<T, ProtocolError> {
        match self.next_value() {
            Value::String(text) => build(text).map_err(|error| self.error(error.to_string())),
            other => Err(self.error(format!("{name} must be a string, got {}", describe(&other)))),
        }
    }

    fn optional_cid<T>(
        &mut self,
        name: &str,
        build: fn(String) -> Result<T, EmptyCid>,
    ) -> Result<Option<T>, ProtocolError> {
        match self.next_value() {
            Value::Null => Ok(None),
            Value::String(text) if text.is_empty() => Ok(None),
            Value::String(text) => build(text)
                .map(Some)
                .map_err(|error| self.error(error.to_string())),
            other => Err(self.error(format!(
                "{name} must be a string or null, got {}",
                describe(&other)
            ))),
        }
    }

    fn object(&mut self, name: &str) -> Result<JsonObject, ProtocolError> {
        match self.next_value() {
            Value::Object(map) => Ok(map),
            // The director sends `{}` but older callers send null for "no properties".
            Value::Null => Ok(JsonObject::new()),
            other => Err(self.error(format!(
                "{name} must be an object, got {}",
                describe(&other)
            ))),
        }
    }

    fn optional_object(&mut self, name: &str) -> Result<Option<JsonObject>, ProtocolError> {
        match self.next_value() {
            Value::Null => Ok(None),
            Value::Object(map) => Ok(Some(map)),
            other => Err(self.error(format!(
                "{name} must be an object, got {}",
                describe(&other)
            ))),
        }
    }

    fn size(&mut self, name: &str) -> Result<u64, ProtocolError> {
        match self.next_value() {
            Value::Number(number) => match number.as_u64() {
                Some(size) if size > 0 => Ok(size),
                _ => Err(self.error(format!(
                    "{name} must be a positive integer (MiB), got {number}"
                ))),
            },
            other => Err(self.error(format!(
                "{name} must be a positive integer (MiB), got {}",
                describe(&other)
            ))),
        }
    }

    fn networks(&mut self) -> Result<Networks, ProtocolError> {
        let value = self.next_value();
        Networks::from_value(value).map_err(|reason| self.error(reason))
    }

    fn disk_cids(&mut self) -> Result<Vec<DiskCid>, ProtocolError> {
        match self.next_value() {
            Value::Null => Ok(Vec::new()),
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(text) => {
                        DiskCid::new(text).map_err(|error| self.error(error.to_string()))
                    }
                    other => Err(self.error(format!(
                        "disk_cids must hold strings, got {}",
                        describe(&other)
                    ))),
                })
                .collect(),
            other => Err(self.error(format!(
                "disk_cids must be a list, got {}",
                describe(&other)
            ))),
        }
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing".to_owned(),
        other => json_type(other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(value: Value) -> Vec<Value> {
        match value {
            Value::Array(items) => items,
            _ => panic!("test arguments must be a list"),
        }
    }

    #[test]
    fn every_method_name_round_trips() {
        for name in MethodName::ALL {
            assert_eq!(MethodName::parse(name.as_str()), Some(name));
        }
    }

    #[test]
    fn create_stemcell_takes_two_or_three_arguments() {
        let v2 = Method::parse(
            "create_stemcell",
            args(json!(["/tmp/image", {"name": "s"}])),
        )
        .unwrap();
        assert!(matches!(v2, Method::CreateStemcell { env: None, .. }));
        let v3 = Method::parse(
            "create_stemcell",
            args(json!(["/tmp/image", {}, {"tags": {"a": "b"}}])),
        )
        .unwrap();
        let Method::CreateStemcell { env: Some(env), .. } = v3 else {
            panic!("expected env")
        };
        assert_eq!(env["tags"]["a"], "b");
        let error = Method::parse("create_stemcell", args(json!(["/tmp/image"]))).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Arguments are not correct for 'create_stemcell': expected 2 to 3 arguments, got 1"
        );
    }

    #[test]
    fn create_vm_parses_every_argument() {
        let method = Method::parse(
            "create_vm",
            args(json!(["agent-1", "tmpl-1", {"compute_offering": "small"},
                        {"net": {"type": "dynamic", "cloud_properties": {"name": "n"}}},
                        ["vol-1"], {"bosh": {"password": "*"}}])),
        )
        .unwrap();
        let Method::CreateVm {
            agent_id,
            disk_cids,
            env,
            networks,
            ..
        } = method
        else {
            panic!("wrong method")
        };
        assert_eq!(agent_id.as_str(), "agent-1");
        assert_eq!(disk_cids, vec![DiskCid::new("vol-1").unwrap()]);
        assert_eq!(env["bosh"]["password"], "*");
        assert_eq!(networks.len(), 1);
    }

    #[test]
    fn wrong_shapes_name_the_argument() {
        let cases = [
            ("has_vm", json!([""]), "vm_cid must be a non-empty string"),
            (
                "has_vm",
                json!([{}]),
                "vm_cid must be a string, got an object",
            ),
            (
                "create_disk",
                json!([-5, {}, null]),
                "size must be a positive integer (MiB), got -5",
            ),
            (
                "create_disk",
                json!(["big", {}, null]),
                "size must be a positive integer (MiB), got a string",
            ),
            (
                "create_vm",
                json!(["a", "s", {}, {}, "vol", {}]),
                "disk_cids must be a list, got a string",
            ),
            (
                "set_vm_metadata",
                json!(["vm", []]),
                "metadata must be an object, got a list",
            ),
            (
                "calculate_vm_cloud_properties",
                json!([{"cpu": "two"}]),
                "vm_resources must be",
            ),
            ("attach_disk", json!(["vm"]), "expected 2 arguments, got 1"),
        ];
        for (method, arguments, expected) in cases {
            let error = Method::parse(method, args(arguments))
                .unwrap_err()
                .to_string();
            assert!(
                error.contains(expected),
                "{method}: {error:?} should contain {expected:?}"
            );
            assert!(error.contains(method), "{error:?} should name {method}");
        }
    }

    #[test]
    fn create_disk_vm_hint_may_be_null_or_absent() {
        let with_null = Method::parse("create_disk", args(json!([1024, {}, null]))).unwrap();
        assert!(matches!(
            with_null,
            Method::CreateDisk {
                vm_cid: None,
                size_mib: 1024,
                ..
            }
        ));
        let absent = Method::parse("create_disk", args(json!([1024, {}]))).unwrap();
        assert!(matches!(absent, Method::CreateDisk { vm_cid: None, .. }));
    }

    #[test]
    fn unknown_methods_are_reported_as_such() {
        let error = Method::parse("frobnicate", vec![]).unwrap_err();
        assert_eq!(error, ProtocolError::UnknownMethod("frobnicate".to_owned()));
        assert_eq!(error.to_string(), "Method is not known, got: 'frobnicate'");
    }
}
