//! Look-ups by id that callers need often, with "does not exist" folded into `None`.
//!
//! CloudStack answers a list filtered by an unknown or expunged id either with an empty list
//! or with a 431 "entity does not exist" error, depending on version and object; both mean
//! absent here, so callers such as `has_vm` need not know the difference.

use crate::client::CloudStackClient;
use crate::commands::{ListTemplates, ListVirtualMachines, ListVolumes, TemplateFilter};
use crate::error::CloudStackError;
use crate::types::{Template, VirtualMachine, Volume};

fn absent_if_not_found<T>(
    result: Result<Vec<T>, CloudStackError>,
) -> Result<Option<T>, CloudStackError> {
    match result {
        Ok(items) => Ok(items.into_iter().next()),
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(error),
    }
}

impl CloudStackClient {
    /// The VM with this id, or `None` when it does not exist (or is hidden as destroyed).
    pub async fn find_virtual_machine(
        &self,
        id: &str,
    ) -> Result<Option<VirtualMachine>, CloudStackError> {
        absent_if_not_found(
            self.list(&ListVirtualMachines {
                id: Some(id.to_owned()),
                ..Default::default()
            })
            .await,
        )
    }

    /// The volume with this id, or `None` when it does not exist.
    pub async fn find_volume(&self, id: &str) -> Result<Option<Volume>, CloudStackError> {
        absent_if_not_found(
            self.list(&ListVolumes {
                id: Some(id.to_owned()),
                ..Default::default()
            })
            .await,
        )
    }

    /// The caller's template with this id (ready or not), or `None` when it does not exist.
    pub async fn find_template(&self, id: &str) -> Result<Option<Template>, CloudStackError> {
        absent_if_not_found(
            self.list(&ListTemplates {
                templatefilter: TemplateFilter::SelfOwned,
                id: Some(id.to_owned()),
                ..Default::default()
            })
            .await,
        )
    }
}
