//! Records held by the store and the closed enums for their states.

use serde_json::Value;
use time::OffsetDateTime;

use crate::StoreError;

/// Declares a closed string enum stored as TEXT, with `as_str` and a checked parser.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// The value stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses a stored value; anything else is a corrupt record.
            pub fn parse(text: &str) -> Result<Self, StoreError> {
                match text {
                    $($text => Ok($name::$variant),)+
                    other => Err(StoreError::Corrupt {
                        what: stringify!($name).to_string(),
                        reason: format!("unknown value '{other}'"),
                    }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// Lifecycle of a template the CPI registered.
    StemcellState {
        /// Registered with CloudStack, not yet downloaded by the secondary storage VM.
        Creating => "creating",
        /// Usable for deployments.
        Ready => "ready",
        /// Registration or download failed.
        Failed => "failed",
        /// Deletion started but not confirmed.
        Deleting => "deleting",
    }
);

text_enum!(
    /// Lifecycle of a file on the WebDAV stemcell store.
    StoreFileState {
        /// Being written.
        Uploading => "uploading",
        /// Complete and offered to CloudStack for download.
        Published => "published",
        /// CloudStack finished downloading; the file may be garbage-collected.
        Ready => "ready",
        /// The upload or the download failed.
        Failed => "failed",
    }
);

text_enum!(
    /// State of a journaled operation.
    OperationState {
        /// In progress (or interrupted by a crash, if old).
        Started => "started",
        /// Finished successfully.
        Done => "done",
        /// Finished with an error.
        Failed => "failed",
    }
);

/// The agent settings recorded for a VM.
#[derive(Debug, Clone, PartialEq)]
pub struct VmSettings {
    pub vm_cid: String,
    pub agent_id: String,
    /// The settings JSON document, exactly as stored.
    pub settings: String,
    pub stemcell_api_version: Option<i64>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// What the registry needs to answer a GET, read in one query: the settings (if recorded)
/// and the VM's credential hash (if minted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryEntry {
    pub settings: Option<String>,
    pub credential_hash: Option<String>,
}

/// Input of [`crate::Store::put_settings`]: creates or replaces a VM's settings, keeping its
/// registry credential.
#[derive(Debug, Clone, PartialEq)]
pub struct NewVmSettings {
    pub vm_cid: String,
    pub agent_id: String,
    /// A JSON document. The store keeps it byte for byte; callers validate it.
    pub settings: String,
    pub stemcell_api_version: Option<i64>,
}

/// The edit applied by [`crate::Store::update_settings`] inside one transaction. It receives
/// the current settings and returns the new ones, or a reason to refuse the change.
pub type SettingsEdit = Box<dyn FnOnce(Value) -> Result<Value, String> + Send>;

/// A template known to the CPI.
#[derive(Debug, Clone, PartialEq)]
pub struct Stemcell {
    pub template_id: String,
    pub name: String,
    pub zone_ids: Vec<String>,
    pub format: String,
    pub hypervisor: String,
    pub checksum: Option<String>,
    /// Path of the image on the WebDAV store, if it was published there.
    pub store_path: Option<String>,
    pub publish_mode: String,
    /// A light stemcell adopts an existing template; the CPI must never delete it.
    pub light: bool,
    pub state: StemcellState,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Input of [`crate::Store::put_stemcell`] (an upsert keyed by `template_id`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewStemcell {
    pub template_id: String,
    pub name: String,
    pub zone_ids: Vec<String>,
    pub format: String,
    pub hypervisor: String,
    pub checksum: Option<String>,
    pub store_path: Option<String>,
    pub publish_mode: String,
    pub light: bool,
    pub state: StemcellState,
}

/// A file published on the WebDAV stemcell store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreFile {
    pub path: String,
    pub template_id: Option<String>,
    pub size: i64,
    pub sha256: Option<String>,
    pub state: StoreFileState,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
}

/// Input of [`crate::Store::put_store_file`] (an upsert keyed by `path`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewStoreFile {
    pub path: String,
    pub template_id: Option<String>,
    pub size: i64,
    pub sha256: Option<String>,
    pub state: StoreFileState,
    pub expires_at: Option<OffsetDateTime>,
}

/// Which store files to list. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreFileFilter {
    pub state: Option<StoreFileState>,
    /// Only files whose `expires_at` is set and earlier than this instant.
    pub expired_before: Option<OffsetDateTime>,
}

/// A journaled operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub id: String,
    pub kind: String,
    pub vm_cid: Option<String>,
    pub disk_cid: Option<String>,
    pub template_id: Option<String>,
    pub state: OperationState,
    pub payload: Value,
    pub error: Option<String>,
    pub started_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
}

/// Input of [`crate::Store::start_operation`]; the store assigns the id and start time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewOperation {
    pub kind: String,
    pub vm_cid: Option<String>,
    pub disk_cid: Option<String>,
    pub template_id: Option<String>,
    pub payload: Value,
}

/// Which operations to list. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OperationFilter {
    pub state: Option<OperationState>,
    /// Only operations started strictly before this instant.
    pub started_before: Option<OffsetDateTime>,
}

/// The current time truncated to milliseconds, the precision both backends store, so a record
/// read back compares equal to what was written.
pub fn now_millis() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(now)
}

/// Parses the stored settings, runs the edit and serialises the result. Shared by both
/// backends.
pub(crate) fn apply_edit(
    vm_cid: &str,
    current: &str,
    edit: SettingsEdit,
) -> Result<String, StoreError> {
    let parsed: Value = serde_json::from_str(current).map_err(|error| StoreError::Corrupt {
        what: format!("settings of VM '{vm_cid}'"),
        reason: error.to_string(),
    })?;
    let updated = edit(parsed).map_err(|reason| StoreError::EditRejected {
        vm_cid: vm_cid.to_string(),
        reason,
    })?;
    serde_json::to_string(&updated).map_err(|error| StoreError::Corrupt {
        what: format!("edited settings of VM '{vm_cid}'"),
        reason: error.to_string(),
    })
}
