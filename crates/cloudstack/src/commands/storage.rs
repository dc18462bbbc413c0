//! Disk offerings, volumes, snapshots and templates.

use super::{command, done, list_command};
use crate::envelope;
use crate::params::Params;
use crate::types::{DiskOffering, Snapshot, Template, UploadParams, Volume};

/// `listDiskOfferings`.
#[derive(Debug, Clone, Default)]
pub struct ListDiskOfferings {
    /// Filter by id.
    pub id: Option<String>,
    /// Filter by name.
    pub name: Option<String>,
    /// Filter by zone.
    pub zoneid: Option<String>,
}

impl ListDiskOfferings {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.opt("id", self.id.as_ref())
            .opt("name", self.name.as_ref())
            .opt("zoneid", self.zoneid.as_ref());
        p
    }
}
list_command!(
    ListDiskOfferings,
    "listDiskOfferings",
    "diskoffering",
    project = false,
    item = DiskOffering
);

/// `createVolume` (async, create-style).
#[derive(Debug, Clone, Default)]
pub struct CreateVolume {
    /// Volume name.
    pub name: Option<String>,
    /// Disk offering id.
    pub diskofferingid: Option<String>,
    /// Size in GB (custom offerings).
    pub size: Option<u64>,
    /// Zone id.
    pub zoneid: Option<String>,
    /// Attach to this VM after creation (keeps local-storage volumes on the VM's host).
    pub virtualmachineid: Option<String>,
    /// Create from a snapshot.
    pub snapshotid: Option<String>,
}

impl CreateVolume {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.opt("name", self.name.as_ref())
            .opt("diskofferingid", self.diskofferingid.as_ref())
            .opt("size", self.size)
            .opt("zoneid", self.zoneid.as_ref())
            .opt("virtualmachineid", self.virtualmachineid.as_ref())
            .opt("snapshotid", self.snapshotid.as_ref());
        p
    }
}
command!(
    CreateVolume,
    "createVolume",
    Async,
    safe = false,
    project = true,
    output = Volume,
    decode = |body| envelope::object(body, "volume")
);

/// `attachVolume` (async).
#[derive(Debug, Clone, Default)]
pub struct AttachVolume {
    /// Volume id.
    pub id: String,
    /// VM id.
    pub virtualmachineid: String,
    /// Device id; the next free one when absent.
    pub deviceid: Option<u64>,
}

impl AttachVolume {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("id", self.id.as_str())
            .set("virtualmachineid", self.virtualmachineid.as_str())
            .opt("deviceid", self.deviceid);
        p
    }
}
command!(
    AttachVolume,
    "attachVolume",
    Async,
    safe = false,
    project = false,
    output = Volume,
    decode = |body| envelope::object(body, "volume")
);

/// `detachVolume` (async).
#[derive(Debug, Clone, Default)]
pub struct DetachVolume {
    /// Volume id.
    pub id: String,
}

impl DetachVolume {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("id", self.id.as_str());
        p
    }
}
command!(
    DetachVolume,
    "detachVolume",
    Async,
    safe = false,
    project = false,
    output = Volume,
    decode = |body| envelope::object(body, "volume")
);

/// `deleteVolume` (sync; the volume must be detached).
#[derive(Debug, Clone, Default)]
pub struct DeleteVolume {
    /// Volume id.
    pub id: String,
}

impl DeleteVolume {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("id", self.id.as_str());
        p
    }
}
command!(
    DeleteVolume,
    "deleteVolume",
    Sync,
    safe = false,
    project = false,
    output = (),
    decode = |body| envelope::success(body)
);

/// `resizeVolume` (async).
#[derive(Debug, Clone, Default)]
pub struct ResizeVolume {
    /// Volume id.
    pub id: String,
    /// New size in GB.
    pub size: Option<u64>,
    /// New disk offering.
    pub diskofferingid: Option<String>,
    /// Allow shrinking.
    pub shrinkok: Option<bool>,
}

impl ResizeVolume {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("id", self.id.as_str())
            .opt("size", self.size)
            .opt("diskofferingid", self.diskofferingid.as_ref())
            .opt("shrinkok", self.shrinkok);
        p
    }
}
command!(
    ResizeVolume,
    "resizeVolume",
    Async,
    safe = false,
    project = false,
    output = Volume,
    decode = |body| envelope::object(body, "volume")
);

/// `migrateVolume` (async).
#[derive(Debug, Clone, Default)]
pub struct MigrateVolume {
    /// Volume id.
    pub volumeid: String,
    /// Destination primary storage id.
    pub storageid: String,
    /// Migrate while the VM runs.
    pub livemigrate: Option<bool>,
}

impl MigrateVolume {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("volumeid", self.volumeid.as_str())
            .set("storageid", self.storageid.as_str())
            .opt("livemigrate", self.livemigrate);
        p
    }
}
command!(
    MigrateVolume,
    "migrateVolume",
    Async,
    safe = false,
    project = false,
    output = Volume,
    decode = |body| envelope::object(body, "volume")
);

/// `listVolumes`.
#[derive(Debug, Clone, Default)]
pub struct ListVolumes {
    /// Filter by id.
    pub id: Option<String>,
    /// Filter by VM.
    pub virtualmachineid: Option<String>,
    /// `ROOT` or `DATADISK`.
    pub volume_type: Option<String>,
    /// Filter by name.
    pub name: Option<String>,
    /// Filter by zone.
    pub zoneid: Option<String>,
    /// Filter by tags.
    pub tags: Vec<(String, String)>,
    /// List everything the caller may see.
    pub listall: Option<bool>,
}

impl ListVolumes {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.opt("id", self.id.as_ref())
            .opt("virtualmachineid", self.virtualmachineid.as_ref())
            .opt("type", self.volume_type.as_ref())
            .opt("name", self.name.as_ref())
            .opt("zoneid", self.zoneid.as_ref())
            .key_value_map("tags", &self.tags)
            .opt("listall", self.listall);
        p
    }
}
list_command!(
    ListVolumes,
    "listVolumes",
    "volume",
    project = true,
    item = Volume
);

/// `createSnapshot` (async, create-style).
#[derive(Debug, Clone, Default)]
pub struct CreateSnapshot {
    /// Source volume id.
    pub volumeid: String,
    /// Snapshot name.
    pub name: Option<String>,
    /// Tags to set at creation (newer servers).
    pub tags: Vec<(String, String)>,
}

impl CreateSnapshot {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("volumeid", self.volumeid.as_str())
            .opt("name", self.name.as_ref())
            .key_value_map("tags", &self.tags);
        p
    }
}
command!(
    CreateSnapshot,
    "createSnapshot",
    Async,
    safe = false,
    project = false,
    output = Snapshot,
    decode = |body| envelope::object(body, "snapshot")
);

/// `deleteSnapshot` (async).
#[derive(Debug, Clone, Default)]
pub struct DeleteSnapshot {
    /// Snapshot id.
    pub id: String,
}

impl DeleteSnapshot {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("id", self.id.as_str());
        p
    }
}
command!(
    DeleteSnapshot,
    "deleteSnapshot",
    Async,
    safe = false,
    project = false,
    output = (),
    decode = |body| done(body)
);

/// `listSnapshots`.
#[derive(Debug, Clone, Default)]
pub struct ListSnapshots {
    /// Filter by id.
    pub id: Option<String>,
    /// Filter by volume.
    pub volumeid: Option<String>,
    /// Filter by name.
    pub name: Option<String>,
    /// Filter by tags.
    pub tags: Vec<(String, String)>,
}

impl ListSnapshots {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.opt("id", self.id.as_ref())
            .opt("volumeid", self.volumeid.as_ref())
            .opt("name", self.name.as_ref())
            .key_value_map("tags", &self.tags);
        p
    }
}
list_command!(
    ListSnapshots,
    "listSnapshots",
    "snapshot",
    project = true,
    item = Snapshot
);

/// Template fields shared by `registerTemplate` and `getUploadParamsForTemplate`.
#[derive(Debug, Clone, Default)]
pub struct TemplateSpec {
    /// Template name (required).
    pub name: String,
    /// Display text; defaults to the name.
    pub displaytext: Option<String>,
    /// `QCOW2`, `RAW`, `VHD`, `OVA`, ...
    pub format: String,
    /// `KVM`, `XenServer`, `VMware`, ...
    pub hypervisor: String,
    /// Zone id; `-1` for all zones.
    pub zoneid: String,
    /// Guest OS type id.
    pub ostypeid: String,
    /// Public to other accounts.
    pub ispublic: Option<bool>,
    /// Extractable.
    pub isextractable: Option<bool>,
    /// Password reset enabled.
    pub passwordenabled: Option<bool>,
    /// SSH key reset enabled.
    pub sshkeyenabled: Option<bool>,
    /// HVM required.
    pub requireshvm: Option<bool>,
    /// 32 or 64.
    pub bits: Option<u32>,
    /// Checksum: hex MD5, or `{SHA-256}hex`.
    pub checksum: Option<String>,
    /// Template details.
    pub details: Vec<(String, String)>,
}

impl TemplateSpec {
    fn write(&self, p: &mut Params) {
        p.set("name", self.name.as_str())
            .set(
                "displaytext",
                self.displaytext
                    .clone()
                    .unwrap_or_else(|| self.name.clone()),
            )
            .set("format", self.format.as_str())
            .set("hypervisor", self.hypervisor.as_str())
            .set("zoneid", self.zoneid.as_str())
            .set("ostypeid", self.ostypeid.as_str())
            .opt("ispublic", self.ispublic)
            .opt("isextractable", self.isextractable)
            .opt("passwordenabled", self.passwordenabled)
            .opt("sshkeyenabled", self.sshkeyenabled)
            .opt("requireshvm", self.requireshvm)
            .opt("bits", self.bits)
            .opt("checksum", self.checksum.as_ref())
            .detail_map("details", &self.details);
    }
}

/// `registerTemplate` (sync; answers with a one-item list).
#[derive(Debug, Clone, Default)]
pub struct RegisterTemplate {
    /// Template fields.
    pub spec: TemplateSpec,
    /// Where the secondary storage VM downloads the image (GET, no redirects).
    pub url: String,
}

impl RegisterTemplate {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        self.spec.write(&mut p);
        p.set("url", self.url.as_str());
        p
    }
}
command!(
    RegisterTemplate,
    "registerTemplate",
    Sync,
    safe = false,
    project = true,
    output = Template,
    decode = |body| {
        let page = envelope::list_page::<Template>(body.clone(), "template")?;
        page.items
            .into_iter()
            .next()
            .ok_or_else(|| "the template list is empty".to_owned())
    }
);

/// `getUploadParamsForTemplate` (sync).
#[derive(Debug, Clone, Default)]
pub struct GetUploadParamsForTemplate {
    /// Template fields.
    pub spec: TemplateSpec,
}

impl GetUploadParamsForTemplate {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        self.spec.write(&mut p);
        p
    }
}
command!(
    GetUploadParamsForTemplate,
    "getUploadParamsForTemplate",
    Sync,
    safe = false,
    project = true,
    output = UploadParams,
    decode = |body| envelope::object(body, "getuploadparams")
);

/// `templatefilter` values of `listTemplates`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TemplateFilter {
    /// Templates owned by the caller, ready or not (use this to watch a download).
    #[default]
    SelfOwned,
    /// Ready templates owned by the caller.
    SelfExecutable,
    /// Ready templates the caller can use.
    Executable,
    /// Featured templates.
    Featured,
    /// Community templates.
    Community,
    /// Everything (admin).
    All,
}

impl TemplateFilter {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SelfOwned => "self",
            Self::SelfExecutable => "selfexecutable",
            Self::Executable => "executable",
            Self::Featured => "featured",
            Self::Community => "community",
            Self::All => "all",
        }
    }
}

/// `listTemplates`.
#[derive(Debug, Clone, Default)]
pub struct ListTemplates {
    /// Required filter.
    pub templatefilter: TemplateFilter,
    /// Filter by id.
    pub id: Option<String>,
    /// Filter by name.
    pub name: Option<String>,
    /// Filter by zone.
    pub zoneid: Option<String>,
    /// Filter by tags.
    pub tags: Vec<(String, String)>,
}

impl ListTemplates {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("templatefilter", self.templatefilter.as_str())
            .opt("id", self.id.as_ref())
            .opt("name", self.name.as_ref())
            .opt("zoneid", self.zoneid.as_ref())
            .key_value_map("tags", &self.tags);
        p
    }
}
list_command!(
    ListTemplates,
    "listTemplates",
    "template",
    project = true,
    item = Template
);

/// `deleteTemplate` (async).
#[derive(Debug, Clone, Default)]
pub struct DeleteTemplate {
    /// Template id.
    pub id: String,
    /// Zone; all zones when absent.
    pub zoneid: Option<String>,
    /// Delete even when VMs use it.
    pub forced: Option<bool>,
}

impl DeleteTemplate {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("id", self.id.as_str())
            .opt("zoneid", self.zoneid.as_ref())
            .opt("forced", self.forced);
        p
    }
}
command!(
    DeleteTemplate,
    "deleteTemplate",
    Async,
    safe = false,
    project = false,
    output = (),
    decode = |body| done(body)
);
