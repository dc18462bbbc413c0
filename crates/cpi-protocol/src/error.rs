//! BOSH error kinds and the errors of parsing a request.

use std::fmt;

/// Every error type the director knows (`KNOWN_RPC_ERRORS` in the director's `external_cpi.rb`).
///
/// A type outside this list would become `ExternalCpi::UnknownError` in the director, so the
/// set is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    CpiError,
    NotSupported,
    NotImplemented,
    CloudError,
    VmNotFound,
    NetworkNotFound,
    NoDiskSpace,
    DiskNotAttached,
    DiskNotFound,
    VmCreationFailed,
}

impl ErrorKind {
    /// All kinds, for exhaustive tests and documentation.
    pub const ALL: [ErrorKind; 10] = [
        ErrorKind::CpiError,
        ErrorKind::NotSupported,
        ErrorKind::NotImplemented,
        ErrorKind::CloudError,
        ErrorKind::VmNotFound,
        ErrorKind::NetworkNotFound,
        ErrorKind::NoDiskSpace,
        ErrorKind::DiskNotAttached,
        ErrorKind::DiskNotFound,
        ErrorKind::VmCreationFailed,
    ];

    /// The `type` string of the error on the wire. This is the only place these names appear.
    pub fn wire_name(self) -> &'static str {
        match self {
            ErrorKind::CpiError => "Bosh::Clouds::CpiError",
            ErrorKind::NotSupported => "Bosh::Clouds::NotSupported",
            ErrorKind::NotImplemented => "Bosh::Clouds::NotImplemented",
            ErrorKind::CloudError => "Bosh::Clouds::CloudError",
            ErrorKind::VmNotFound => "Bosh::Clouds::VMNotFound",
            ErrorKind::NetworkNotFound => "Bosh::Clouds::NetworkNotFound",
            ErrorKind::NoDiskSpace => "Bosh::Clouds::NoDiskSpace",
            ErrorKind::DiskNotAttached => "Bosh::Clouds::DiskNotAttached",
            ErrorKind::DiskNotFound => "Bosh::Clouds::DiskNotFound",
            ErrorKind::VmCreationFailed => "Bosh::Clouds::VMCreationFailed",
        }
    }

    /// Parses a wire name back into a kind (used by tests and by clients of the daemon).
    pub fn from_wire_name(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL
            .into_iter()
            .find(|kind| kind.wire_name() == name)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

/// A failure to be reported to BOSH: a kind, a message for the operator, and whether the
/// director may retry the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct CpiError {
    pub kind: ErrorKind,
    pub message: String,
    pub ok_to_retry: bool,
}

impl CpiError {
    /// An error the director must not retry.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            ok_to_retry: false,
        }
    }

    /// An error after which retrying the same call may succeed.
    pub fn retryable(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            ok_to_retry: true,
        }
    }

    /// `Bosh::Clouds::CloudError`, the general IaaS failure.
    pub fn cloud(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::CloudError, message)
    }

    /// `Bosh::Clouds::NotSupported`, which makes the director fall back where it can.
    pub fn not_supported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotSupported, message)
    }

    /// `Bosh::Clouds::NotImplemented` for a method this CPI does not (yet) implement.
    pub fn not_implemented(method: &str) -> Self {
        Self::new(
            ErrorKind::NotImplemented,
            format!("Method is not implemented by this CPI: '{method}'"),
        )
    }
}

/// Why a request could not be turned into a [`crate::Request`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("request is empty: expected one JSON document on stdin")]
    Empty,
    #[error("request is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("request is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("request is not a JSON object with \"method\", \"arguments\" and \"context\": {0}")]
    BadEnvelope(String),
    #[error("api_version {0} is not supported: this CPI accepts 1 to 3")]
    UnsupportedApiVersion(u64),
    #[error("Method is not known, got: '{0}'")]
    UnknownMethod(String),
    #[error("Arguments are not correct for '{method}': {reason}")]
    BadArguments {
        method: &'static str,
        reason: String,
    },
}

impl From<ProtocolError> for CpiError {
    fn from(error: ProtocolError) -> Self {
        let kind = match error {
            ProtocolError::UnknownMethod(_) => ErrorKind::NotImplemented,
            _ => ErrorKind::CpiError,
        };
        CpiError::new(kind, error.to_string())
    }
}
