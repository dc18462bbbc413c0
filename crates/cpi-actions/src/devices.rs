//! Device paths of attached volumes, per hypervisor.
//!
//! CloudStack reports a volume's `deviceid`; the guest sees it as a letter after a prefix that
//! depends on the hypervisor's disk bus (contract section 10).

/// The disk bus naming of a hypervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskBus {
    /// XenServer: `/dev/xvd<letter>`.
    Xen,
    /// KVM with virtio: `/dev/vd<letter>`.
    Virtio,
    /// VMware SCSI: `/dev/sd<letter>`.
    Scsi,
}

impl DiskBus {
    /// The bus for a CloudStack hypervisor name; unknown hypervisors get XenServer's naming,
    /// which is what the CloudStack stemcell targets.
    pub fn for_hypervisor(hypervisor: &str) -> DiskBus {
        match hypervisor.to_ascii_lowercase().as_str() {
            "kvm" => DiskBus::Virtio,
            "vmware" => DiskBus::Scsi,
            _ => DiskBus::Xen,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            DiskBus::Xen => "/dev/xvd",
            DiskBus::Virtio => "/dev/vd",
            DiskBus::Scsi => "/dev/sd",
        }
    }

    /// The path of the disk with this `deviceid`, or `None` past `z`.
    pub fn device_path(self, device_id: u32) -> Option<String> {
        let letter =
            char::from_u32(u32::from(b'a') + device_id).filter(char::is_ascii_lowercase)?;
        Some(format!("{}{letter}", self.prefix()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_map_to_letters_per_bus() {
        assert_eq!(
            DiskBus::for_hypervisor("XenServer")
                .device_path(0)
                .as_deref(),
            Some("/dev/xvda")
        );
        assert_eq!(
            DiskBus::for_hypervisor("XenServer")
                .device_path(2)
                .as_deref(),
            Some("/dev/xvdc")
        );
        assert_eq!(
            DiskBus::for_hypervisor("KVM").device_path(1).as_deref(),
            Some("/dev/vdb")
        );
        assert_eq!(
            DiskBus::for_hypervisor("VMware").device_path(4).as_deref(),
            Some("/dev/sde")
        );
        assert_eq!(DiskBus::Xen.device_path(26), None);
    }
}
