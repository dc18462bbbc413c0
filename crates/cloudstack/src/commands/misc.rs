//! Tags, SSH key pairs, affinity groups, security groups, projects and async jobs.

use super::{command, done, list_command};
use crate::envelope;
use crate::params::Params;
use crate::types::{AffinityGroup, AsyncJob, Project, SecurityGroup, SshKeyPair, Tag};

/// `createTags` (async).
#[derive(Debug, Clone, Default)]
pub struct CreateTags {
    /// Resources to tag.
    pub resourceids: Vec<String>,
    /// `UserVm`, `Volume`, `Snapshot`, `Template`, ...
    pub resourcetype: String,
    /// Key/value pairs.
    pub tags: Vec<(String, String)>,
}

impl CreateTags {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.list("resourceids", &self.resourceids)
            .set("resourcetype", self.resourcetype.as_str())
            .key_value_map("tags", &self.tags);
        p
    }
}
command!(
    CreateTags,
    "createTags",
    Async,
    safe = false,
    project = false,
    output = (),
    decode = |body| done(body)
);

/// `deleteTags` (async). Without keys, every tag of the resources is removed.
#[derive(Debug, Clone, Default)]
pub struct DeleteTags {
    /// Resources.
    pub resourceids: Vec<String>,
    /// Resource type.
    pub resourcetype: String,
    /// Keys to remove.
    pub keys: Vec<String>,
}

impl DeleteTags {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.list("resourceids", &self.resourceids)
            .set("resourcetype", self.resourcetype.as_str());
        for (index, key) in self.keys.iter().enumerate() {
            p.indexed("tags", index, "key", key);
        }
        p
    }
}
command!(
    DeleteTags,
    "deleteTags",
    Async,
    safe = false,
    project = false,
    output = (),
    decode = |body| done(body)
);

/// `listTags`.
#[derive(Debug, Clone, Default)]
pub struct ListTags {
    /// Filter by resource id.
    pub resourceid: Option<String>,
    /// Filter by resource type.
    pub resourcetype: Option<String>,
    /// Filter by key.
    pub key: Option<String>,
    /// Filter by value.
    pub value: Option<String>,
}

impl ListTags {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.opt("resourceid", self.resourceid.as_ref())
            .opt("resourcetype", self.resourcetype.as_ref())
            .opt("key", self.key.as_ref())
            .opt("value", self.value.as_ref());
        p
    }
}
list_command!(ListTags, "listTags", "tag", project = true, item = Tag);

/// `createSSHKeyPair` (sync). The answer includes the private key, kept secret.
#[derive(Debug, Clone, Default)]
pub struct CreateSshKeyPair {
    /// Key pair name.
    pub name: String,
}

impl CreateSshKeyPair {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("name", self.name.as_str());
        p
    }
}
command!(
    CreateSshKeyPair,
    "createSSHKeyPair",
    Sync,
    safe = false,
    project = true,
    output = SshKeyPair,
    decode = |body| envelope::object(body, "keypair")
);

/// `registerSSHKeyPair` (sync).
#[derive(Debug, Clone, Default)]
pub struct RegisterSshKeyPair {
    /// Key pair name.
    pub name: String,
    /// OpenSSH public key.
    pub publickey: String,
}

impl RegisterSshKeyPair {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("name", self.name.as_str())
            .set("publickey", self.publickey.as_str());
        p
    }
}
command!(
    RegisterSshKeyPair,
    "registerSSHKeyPair",
    Sync,
    safe = false,
    project = true,
    output = SshKeyPair,
    decode = |body| envelope::object(body, "keypair")
);

/// `deleteSSHKeyPair` (sync).
#[derive(Debug, Clone, Default)]
pub struct DeleteSshKeyPair {
    /// Key pair name.
    pub name: String,
}

impl DeleteSshKeyPair {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("name", self.name.as_str());
        p
    }
}
command!(
    DeleteSshKeyPair,
    "deleteSSHKeyPair",
    Sync,
    safe = false,
    project = true,
    output = (),
    decode = |body| envelope::success(body)
);

/// `listSSHKeyPairs`.
#[derive(Debug, Clone, Default)]
pub struct ListSshKeyPairs {
    /// Filter by name.
    pub name: Option<String>,
    /// Filter by fingerprint.
    pub fingerprint: Option<String>,
}

impl ListSshKeyPairs {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.opt("name", self.name.as_ref())
            .opt("fingerprint", self.fingerprint.as_ref());
        p
    }
}
list_command!(
    ListSshKeyPairs,
    "listSSHKeyPairs",
    "sshkeypair",
    project = true,
    item = SshKeyPair
);

/// `createAffinityGroup` (async).
#[derive(Debug, Clone, Default)]
pub struct CreateAffinityGroup {
    /// Group name.
    pub name: String,
    /// `host anti-affinity` or `host affinity`.
    pub group_type: String,
    /// Description.
    pub description: Option<String>,
}

impl CreateAffinityGroup {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("name", self.name.as_str())
            .set("type", self.group_type.as_str())
            .opt("description", self.description.as_ref());
        p
    }
}
command!(
    CreateAffinityGroup,
    "createAffinityGroup",
    Async,
    safe = false,
    project = true,
    output = AffinityGroup,
    decode = |body| envelope::object(body, "affinitygroup")
);

/// `deleteAffinityGroup` (async), by id or name.
#[derive(Debug, Clone, Default)]
pub struct DeleteAffinityGroup {
    /// Group id.
    pub id: Option<String>,
    /// Group name.
    pub name: Option<String>,
}

impl DeleteAffinityGroup {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.opt("id", self.id.as_ref())
            .opt("name", self.name.as_ref());
        p
    }
}
command!(
    DeleteAffinityGroup,
    "deleteAffinityGroup",
    Async,
    safe = false,
    project = true,
    output = (),
    decode = |body| done(body)
);

/// `listAffinityGroups`.
#[derive(Debug, Clone, Default)]
pub struct ListAffinityGroups {
    /// Filter by id.
    pub id: Option<String>,
    /// Filter by name.
    pub name: Option<String>,
    /// Filter by type.
    pub group_type: Option<String>,
    /// Filter by member VM.
    pub virtualmachineid: Option<String>,
}

impl ListAffinityGroups {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.opt("id", self.id.as_ref())
            .opt("name", self.name.as_ref())
            .opt("type", self.group_type.as_ref())
            .opt("virtualmachineid", self.virtualmachineid.as_ref());
        p
    }
}
list_command!(
    ListAffinityGroups,
    "listAffinityGroups",
    "affinitygroup",
    project = true,
    item = AffinityGroup
);

/// `createSecurityGroup` (sync).
#[derive(Debug, Clone, Default)]
pub struct CreateSecurityGroup {
    /// Group name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
}

impl CreateSecurityGroup {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.set("name", self.name.as_str())
            .opt("description", self.description.as_ref());
        p
    }
}
command!(
    CreateSecurityGroup,
    "createSecurityGroup",
    Sync,
    safe = false,
    project = true,
    output = SecurityGroup,
    decode = |body| envelope::object(body, "securitygroup")
);

/// `deleteSecurityGroup` (sync), by id or name.
#[derive(Debug, Clone, Default)]
pub struct DeleteSecurityGroup {
    /// Group id.
    pub id: Option<String>,
    /// Group name.
    pub name: Option<String>,
}

impl DeleteSecurityGroup {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.opt("id", self.id.as_ref())
            .opt("name", self.name.as_ref());
        p
    }
}
command!(
    DeleteSecurityGroup,
    "deleteSecurityGroup",
    Sync,
    safe = false,
    project = true,
    output = (),
    decode = |body| envelope::success(body)
);

/// `listSecurityGroups`.
#[derive(Debug, Clone, Default)]
pub struct ListSecurityGroups {
    /// Filter by id.
    pub id: Option<String>,
    /// Filter by name.
    pub securitygroupname: Option<String>,
    /// Filter by member VM.
    pub virtualmachineid: Option<String>,
}

impl ListSecurityGroups {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.opt("id", self.id.as_ref())
            .opt("securitygroupname", self.securitygroupname.as_ref())
            .opt("virtualmachineid", self.virtualmachineid.as_ref());
        p
    }
}
list_command!(
    ListSecurityGroups,
    "listSecurityGroups",
    "securitygroup",
    project = true,
    item = SecurityGroup
);

/// `listProjects`.
#[derive(Debug, Clone, Default)]
pub struct ListProjects {
    /// Filter by id.
    pub id: Option<String>,
    /// Filter by name.
    pub name: Option<String>,
    /// List everything the caller may see.
    pub listall: Option<bool>,
}

impl ListProjects {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.opt("id", self.id.as_ref())
            .opt("name", self.name.as_ref())
            .opt("listall", self.listall);
        p
    }
}
list_command!(
    ListProjects,
    "listProjects",
    "project",
    project = false,
    item = Project
);

/// `listAsyncJobs`.
#[derive(Debug, Clone, Default)]
pub struct ListAsyncJobs {
    /// Only jobs started after this date (`yyyy-MM-dd'T'HH:mm:ssZ`).
    pub startdate: Option<String>,
    /// List everything the caller may see.
    pub listall: Option<bool>,
}

impl ListAsyncJobs {
    fn build_params(&self) -> Params {
        let mut p = Params::new();
        p.opt("startdate", self.startdate.as_ref())
            .opt("listall", self.listall);
        p
    }
}
list_command!(
    ListAsyncJobs,
    "listAsyncJobs",
    "asyncjobs",
    project = false,
    item = AsyncJob
);
