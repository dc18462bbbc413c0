//! Cloud identifiers (CIDs) as newtypes that cannot be empty.
//!
//! Separate types keep a disk id from being passed where a VM id is expected, and the
//! constructor makes the empty string unrepresentable, so actions never have to check it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The error returned when a CID is built from an empty or blank string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} must be a non-empty string")]
pub struct EmptyCid {
    /// Which kind of identifier was empty, e.g. "vm_cid".
    pub kind: &'static str,
}

macro_rules! cid_type {
    ($(#[$meta:meta])* $name:ident, $kind:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The name used for this identifier in error messages.
            pub const KIND: &'static str = $kind;

            /// Builds the identifier, refusing an empty or whitespace-only string.
            pub fn new(value: impl Into<String>) -> Result<Self, EmptyCid> {
                let value = value.into();
                if value.trim().is_empty() {
                    return Err(EmptyCid { kind: $kind });
                }
                Ok(Self(value))
            }

            /// The identifier as sent on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = EmptyCid;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

cid_type!(
    /// A VM's CID: the CloudStack virtual machine id.
    VmCid,
    "vm_cid"
);
cid_type!(
    /// A persistent disk's CID: the CloudStack volume id.
    DiskCid,
    "disk_cid"
);
cid_type!(
    /// A stemcell's CID: the CloudStack template id.
    StemcellCid,
    "stemcell_cid"
);
cid_type!(
    /// A snapshot's CID: the CloudStack snapshot id.
    SnapshotCid,
    "snapshot_cid"
);
cid_type!(
    /// The BOSH agent id the director chose for a VM.
    AgentId,
    "agent_id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_blank_cids_are_refused_with_their_kind() {
        assert_eq!(VmCid::new("").unwrap_err().kind, "vm_cid");
        assert_eq!(
            DiskCid::new("  ").unwrap_err().to_string(),
            "disk_cid must be a non-empty string"
        );
    }

    #[test]
    fn cids_deserialize_only_from_non_empty_strings() {
        let cid: VmCid = serde_json::from_str(r#""i-123""#).unwrap();
        assert_eq!(cid.as_str(), "i-123");
        assert!(serde_json::from_str::<VmCid>(r#""""#).is_err());
        assert!(serde_json::from_str::<VmCid>("42").is_err());
        assert_eq!(serde_json::to_string(&cid).unwrap(), r#""i-123""#);
    }
}
