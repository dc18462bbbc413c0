//! The one error type of the actions, and its single mapping to BOSH errors.

use cloudstack::CloudStackError;
use cpi_config::ConfigError;
use cpi_protocol::{CpiError, ErrorKind};
use cpi_store::StoreError;

/// Everything an action can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("{during}: {source}")]
    CloudStack {
        during: String,
        source: CloudStackError,
    },
    #[error("{during}: {source}")]
    Store { during: String, source: StoreError },
    #[error("the request's cpi-config properties are not a valid configuration: {0}")]
    Config(ConfigError),
    /// A `cloud_properties` value (VM type, disk type, network, stemcell) is wrong.
    #[error("invalid cloud_properties: {0}")]
    CloudProperties(String),
    #[error("VM '{0}' not found")]
    VmNotFound(String),
    #[error("disk '{0}' not found")]
    DiskNotFound(String),
    #[error("{0}")]
    DiskNotAttached(String),
    #[error("{0}")]
    NetworkNotFound(String),
    /// `create_vm` failed after cleaning up; `ok_to_retry` tells the director whether a new
    /// attempt may succeed.
    #[error("{message}")]
    VmCreationFailed { message: String, ok_to_retry: bool },
    #[error("{0}")]
    NotSupported(String),
    #[error("Method is not implemented by this CPI: '{0}'")]
    NotImplemented(&'static str),
    /// Any other failure the operator must look at, with its explanation.
    #[error("{0}")]
    Cloud(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ActionError {
    /// Wraps a CloudStack failure with what the CPI was doing.
    pub fn cloudstack(during: impl Into<String>) -> impl FnOnce(CloudStackError) -> ActionError {
        let during = during.into();
        move |source| ActionError::CloudStack { during, source }
    }

    /// Wraps a store failure with what the CPI was doing.
    pub fn store(during: impl Into<String>) -> impl FnOnce(StoreError) -> ActionError {
        let during = during.into();
        move |source| ActionError::Store { during, source }
    }
}

impl From<ActionError> for CpiError {
    /// The only place where an action failure becomes a BOSH error type.
    fn from(error: ActionError) -> CpiError {
        let message = error.to_string();
        match error {
            ActionError::CloudStack { source, .. } => {
                if source.is_retryable() {
                    CpiError::retryable(ErrorKind::CloudError, message)
                } else {
                    CpiError::new(ErrorKind::CloudError, message)
                }
            }
            ActionError::Store { source, .. } => {
                if source.is_unavailable() {
                    CpiError::retryable(ErrorKind::CloudError, message)
                } else {
                    CpiError::new(ErrorKind::CloudError, message)
                }
            }
            ActionError::Config(_) | ActionError::Internal(_) => {
                CpiError::new(ErrorKind::CpiError, message)
            }
            ActionError::CloudProperties(_) | ActionError::Cloud(_) => {
                CpiError::new(ErrorKind::CloudError, message)
            }
            ActionError::VmNotFound(_) => CpiError::new(ErrorKind::VmNotFound, message),
            ActionError::DiskNotFound(_) => CpiError::new(ErrorKind::DiskNotFound, message),
            ActionError::DiskNotAttached(_) => CpiError::new(ErrorKind::DiskNotAttached, message),
            ActionError::NetworkNotFound(_) => CpiError::new(ErrorKind::NetworkNotFound, message),
            ActionError::VmCreationFailed { ok_to_retry, .. } => CpiError {
                kind: ErrorKind::VmCreationFailed,
                message,
                ok_to_retry,
            },
            ActionError::NotSupported(_) => CpiError::new(ErrorKind::NotSupported, message),
            ActionError::NotImplemented(_) => CpiError::new(ErrorKind::NotImplemented, message),
        }
    }
}
