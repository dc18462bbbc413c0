//! The stemcell's `cloud_properties` (from its `stemcell.MF`), reduced to what publishing needs.

use cpi_config::Config;
use cpi_protocol::JsonObject;
use serde_json::Value;

use crate::ActionError;

/// A CloudStack image format and the hypervisor it is registered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Vhd,
    Qcow2,
    Ova,
    Raw,
}

impl ImageFormat {
    /// `format` of `registerTemplate`.
    pub fn api_name(self) -> &'static str {
        match self {
            ImageFormat::Vhd => "VHD",
            ImageFormat::Qcow2 => "QCOW2",
            ImageFormat::Ova => "OVA",
            ImageFormat::Raw => "RAW",
        }
    }

    /// The extension CloudStack's URL validation requires for the format (`UriUtils`).
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Vhd => ".vhd",
            ImageFormat::Qcow2 => ".qcow2",
            ImageFormat::Ova => ".ova",
            ImageFormat::Raw => ".img",
        }
    }

    /// The hypervisor a format is published for when the stemcell names none.
    fn default_hypervisor(self) -> &'static str {
        match self {
            ImageFormat::Vhd => "XenServer",
            ImageFormat::Qcow2 | ImageFormat::Raw => "KVM",
            ImageFormat::Ova => "VMware",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "vhd" | "vhdx" | "cloudstack-vhdx" | "cloudstack-vhd" | "xen" | "xenserver" => {
                Some(ImageFormat::Vhd)
            }
            "qcow2" | "cloudstack-qcow2" | "kvm" => Some(ImageFormat::Qcow2),
            "ova" | "cloudstack-ova" | "vmware" => Some(ImageFormat::Ova),
            "raw" | "img" | "cloudstack-raw" => Some(ImageFormat::Raw),
            _ => None,
        }
    }
}

fn hypervisor_name(value: &str) -> Option<&'static str> {
    match value.to_ascii_lowercase().as_str() {
        "xen" | "xenserver" => Some("XenServer"),
        "kvm" => Some("KVM"),
        "vmware" | "esxi" => Some("VMware"),
        _ => None,
    }
}

/// What `create_stemcell` needs from the cloud properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StemcellProperties {
    /// Stemcell name, e.g. `bosh-cloudstack-xen-ubuntu-jammy-go_agent`.
    pub name: String,
    pub version: String,
    pub format: ImageFormat,
    /// `XenServer`, `KVM`, `VMware`.
    pub hypervisor: String,
    /// An existing template (name or id) to adopt instead of uploading.
    pub light_template: Option<String>,
}

fn text(properties: &JsonObject, key: &str) -> Result<Option<String>, ActionError> {
    match properties.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) if value.trim().is_empty() => Err(ActionError::CloudProperties(
            format!("stemcell property '{key}' is empty"),
        )),
        Some(Value::String(value)) => Ok(Some(value.trim().to_owned())),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(other) => Err(ActionError::CloudProperties(format!(
            "stemcell property '{key}' must be a string, not {other}"
        ))),
    }
}

impl StemcellProperties {
    /// Format: `disk_format` (or `format`), else `hypervisor`, else the first of
    /// `cloudstack.hypervisors`. Hypervisor: `hypervisor`, else the format's.
    pub fn parse(properties: &JsonObject, config: &Config) -> Result<Self, ActionError> {
        let light_template = text(properties, "light_template")?;
        let hypervisor_prop = text(properties, "hypervisor")?;
        let hypervisor = match &hypervisor_prop {
            Some(value) => Some(hypervisor_name(value).ok_or_else(|| {
                ActionError::CloudProperties(format!(
                    "stemcell hypervisor '{value}' is not supported (use xen, kvm or vmware)"
                ))
            })?),
            None => None,
        };
        let format_prop = match text(properties, "disk_format")? {
            Some(value) => Some(value),
            None => text(properties, "format")?,
        };
        let format = match (&format_prop, &hypervisor_prop) {
            (Some(value), _) => ImageFormat::parse(value).ok_or_else(|| {
                ActionError::CloudProperties(format!(
                    "stemcell disk format '{value}' is not supported (use vhd, qcow2, ova or raw)"
                ))
            })?,
            (None, Some(value)) => ImageFormat::parse(value).ok_or_else(|| {
                ActionError::CloudProperties(format!("no image format for hypervisor '{value}'"))
            })?,
            (None, None) => config
                .cloudstack
                .hypervisors
                .iter()
                .find_map(|h| ImageFormat::parse(h))
                .unwrap_or(ImageFormat::Vhd),
        };
        let hypervisor = hypervisor.unwrap_or_else(|| format.default_hypervisor());
        let compatible = matches!(
            (format, hypervisor),
            (ImageFormat::Vhd, "XenServer")
                | (ImageFormat::Qcow2 | ImageFormat::Raw, "KVM")
                | (ImageFormat::Ova, "VMware")
                | (ImageFormat::Raw, "XenServer")
        );
        if !compatible {
            return Err(ActionError::CloudProperties(format!(
                "a {} image cannot be published for {hypervisor}",
                format.api_name()
            )));
        }
        Ok(Self {
            name: text(properties, "name")?.unwrap_or_else(|| "stemcell".to_owned()),
            version: text(properties, "version")?.unwrap_or_default(),
            format,
            hypervisor: hypervisor.to_owned(),
            light_template,
        })
    }

    /// A template name unique and within CloudStack's 32 characters:
    /// `bosh-<tail of name-version>-<8 hex>`. The tail keeps the distinctive end of stemcell
    /// names (`…-ubuntu-jammy-1.181`); the display text carries the full name and version.
    pub fn template_name(&self) -> String {
        let base = format!(
            "{}-{}",
            self.name
                .trim_start_matches("bosh-")
                .trim_end_matches("-go_agent"),
            self.version
        );
        let mut clean = String::new();
        for c in base.chars() {
            let c = if c.is_ascii_alphanumeric() || c == '.' {
                c.to_ascii_lowercase()
            } else {
                '-'
            };
            if !(c == '-' && clean.ends_with('-')) {
                clean.push(c);
            }
        }
        let clean = clean.trim_matches('-');
        const BUDGET: usize = 32 - "bosh-".len() - "-0123abcd".len();
        let tail = &clean[clean.len().saturating_sub(BUDGET)..];
        let tail = tail.trim_matches(|c| c == '-' || c == '.');
        let suffix: String = uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .chars()
            .take(8)
            .collect();
        if tail.is_empty() {
            format!("bosh-{suffix}")
        } else {
            format!("bosh-{tail}-{suffix}")
        }
    }

    pub fn display_text(&self) -> String {
        format!("BOSH stemcell {} {}", self.name, self.version)
            .trim()
            .to_owned()
    }
}

/// The compression suffix of an image, by magic bytes (CloudStack decompresses `.bz2`, `.gz`
/// and `.zip` after download and needs the suffix to know).
pub fn compression_suffix(head: &[u8]) -> &'static str {
    if head.starts_with(b"BZh") {
        ".bz2"
    } else if head.starts_with(&[0x1f, 0x8b]) {
        ".gz"
    } else if head.starts_with(b"PK\x03\x04") {
        ".zip"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> Config {
        Config::from_value(json!({"cloudstack": {"endpoint": "http://cs/client/api", "api_key": "k", "secret_access_key": "s", "default_zone": "z"}}))
            .unwrap()
    }

    fn parse(value: Value) -> Result<StemcellProperties, ActionError> {
        StemcellProperties::parse(value.as_object().unwrap(), &config())
    }

    #[test]
    fn formats_and_hypervisors() {
        let p = parse(json!({"name": "bosh-cloudstack-xen-ubuntu-jammy-go_agent", "version": "1.181", "hypervisor": "xen", "disk_format": "vhdx"})).unwrap();
        assert_eq!(
            (p.format, p.hypervisor.as_str()),
            (ImageFormat::Vhd, "XenServer")
        );
        let p = parse(json!({"hypervisor": "kvm"})).unwrap();
        assert_eq!(
            (p.format, p.hypervisor.as_str()),
            (ImageFormat::Qcow2, "KVM")
        );
        let p = parse(json!({"disk_format": "ova"})).unwrap();
        assert_eq!(
            (p.format, p.hypervisor.as_str()),
            (ImageFormat::Ova, "VMware")
        );
        let p = parse(json!({"disk_format": "raw", "hypervisor": "kvm"})).unwrap();
        assert_eq!(p.format, ImageFormat::Raw);
        // Default: the configured hypervisor (XenServer).
        assert_eq!(parse(json!({})).unwrap().format, ImageFormat::Vhd);
        assert!(parse(json!({"hypervisor": "hyperv"})).is_err());
        assert!(parse(json!({"disk_format": "vmdk"})).is_err());
        assert!(parse(json!({"disk_format": "qcow2", "hypervisor": "xen"})).is_err());
        assert!(parse(json!({"name": 3.5, "version": {}})).is_err());
        assert!(parse(json!({"light_template": " "})).is_err());
    }

    #[test]
    fn template_names_are_short_unique_and_readable() {
        let p =
            parse(json!({"name": "bosh-cloudstack-xen-ubuntu-jammy-go_agent", "version": "1.181"}))
                .unwrap();
        let a = p.template_name();
        let b = p.template_name();
        assert_ne!(a, b);
        assert!(a.len() <= 32, "{a}");
        assert!(a.starts_with("bosh-ubuntu-jammy-1.181-"), "{a}");
        let weird =
            parse(json!({"name": "../../ÉVIL name//", "version": "x".repeat(100)})).unwrap();
        let name = weird.template_name();
        assert!(
            name.len() <= 32
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'),
            "{name}"
        );
    }

    #[test]
    fn compression_by_magic() {
        assert_eq!(compression_suffix(b"BZh91AY"), ".bz2");
        assert_eq!(compression_suffix(&[0x1f, 0x8b, 8]), ".gz");
        assert_eq!(compression_suffix(b"QFI\xfb"), "");
    }
}
