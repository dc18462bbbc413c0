//! The request `context`: who is calling, for which request, and cpi-config overrides.

use serde::{Deserialize, Serialize};

use crate::JsonObject;

/// The `context` object of a CPI request.
///
/// The director sends `director_uuid`, `request_id` (`cpi-NNNNNN`) and, when it knows the
/// stemcell of the VM involved, `vm.stemcell.api_version`. With a cpi-config (multi-CPI), every
/// key of that CPI's `properties` is merged in at the top level; those keys land in
/// [`Context::cpi_properties`] and are treated as overrides of the file configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub director_uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm: Option<VmContext>,
    /// Every other top-level key: the cpi-config properties merged in by the director.
    #[serde(flatten)]
    pub cpi_properties: JsonObject,
}

/// `context.vm`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VmContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stemcell: Option<StemcellContext>,
    #[serde(flatten)]
    pub extra: JsonObject,
}

/// `context.vm.stemcell`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StemcellContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<u32>,
    #[serde(flatten)]
    pub extra: JsonObject,
}

impl Context {
    /// The stemcell API version of the VM involved, when the director knows it.
    pub fn stemcell_api_version(&self) -> Option<u32> {
        self.vm.as_ref()?.stemcell.as_ref()?.api_version
    }
}
