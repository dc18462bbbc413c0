//! Error types: [`ApiError`] is what `/client/api` answers with (CloudStack's error envelope),
//! [`SimError`] is what the library's Rust API returns.

use serde_json::{Value, json};

/// A CloudStack API error: HTTP status equals `errorcode`, plus the `cserrorcode` of the Java
/// exception class the real server would have thrown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{errorcode} ({cserrorcode}): {errortext}")]
pub struct ApiError {
    /// HTTP status and `errorcode` (401, 429, 431, 530, 531, 533, 536...).
    pub errorcode: u16,
    /// `CSExceptionErrorCode` value.
    pub cserrorcode: u32,
    /// Human readable text, also sent as the `X-Description` header.
    pub errortext: String,
}

impl ApiError {
    /// A generic error with an explicit code pair.
    pub fn new(errorcode: u16, cserrorcode: u32, errortext: impl Into<String>) -> Self {
        Self {
            errorcode,
            cserrorcode,
            errortext: errortext.into(),
        }
    }

    /// 401: authentication failures; CloudStack never says which check failed.
    pub fn unauthorized() -> Self {
        Self::new(
            401,
            9999,
            "unable to verify user credentials and/or request signature",
        )
    }

    /// 401 for a command that is unknown (the server treats it as an authorization failure).
    pub fn unknown_command(command: &str) -> Self {
        Self::new(
            401,
            9999,
            format!(
                "The given command '{command}' either does not exist, is not available for user."
            ),
        )
    }

    /// 431 `InvalidParameterValueException`.
    pub fn param(text: impl Into<String>) -> Self {
        Self::new(431, 4350, text)
    }

    /// 431 for a missing required parameter, with the server's wording.
    pub fn missing(command: &str, parameter: &str) -> Self {
        Self::param(format!(
            "Unable to execute API command {} due to missing parameter {parameter}",
            command.to_lowercase()
        ))
    }

    /// 431 for an id that does not parse or names nothing, with the server's wording (clients
    /// match its prefix to detect a missing object).
    pub fn bad_id(parameter: &str, value: &str) -> Self {
        Self::param(format!(
            "Invalid parameter {parameter} value={value} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class."
        ))
    }

    /// 530 internal error.
    pub fn internal(text: impl Into<String>) -> Self {
        Self::new(530, 4250, text)
    }

    /// 531 `PermissionDeniedException`.
    pub fn permission(text: impl Into<String>) -> Self {
        Self::new(531, 4365, text)
    }

    /// 533 `InsufficientCapacityException`.
    pub fn capacity(text: impl Into<String>) -> Self {
        Self::new(533, 4325, text)
    }

    /// 536 `ResourceInUseException`.
    pub fn in_use(text: impl Into<String>) -> Self {
        Self::new(536, 4375, text)
    }

    /// 429 throttling with the server's text.
    pub fn throttled(retry_after_ms: u64) -> Self {
        Self::new(
            429,
            9999,
            format!(
                "The given user has reached his/her account api limit, please retry after {retry_after_ms} ms."
            ),
        )
    }

    /// The body of the error envelope (without the `<command>response` wrapper).
    pub fn body(&self) -> Value {
        json!({
            "uuidList": [],
            "errorcode": self.errorcode,
            "cserrorcode": self.cserrorcode,
            "errortext": self.errortext,
        })
    }
}

/// Errors of the library API (spawning, persistence, configuration).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Requested address.
        addr: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A state or inventory file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// File path.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A state or inventory file is not valid JSON of the expected shape.
    #[error("invalid JSON in {path}: {source}")]
    Json {
        /// File path.
        path: String,
        /// Underlying error.
        source: serde_json::Error,
    },
    /// The inventory is inconsistent (dangling ids, bad CIDR...).
    #[error("invalid inventory: {0}")]
    Inventory(String),
}
