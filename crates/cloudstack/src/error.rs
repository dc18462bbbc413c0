//! The one error type of this crate.
//!
//! Messages name the command, the job and the server's own codes and text, but never the API
//! key, the secret key or a signature: requests are sent as POST forms, so no credential ever
//! appears in a URL that a transport error could quote, and transport errors are stripped of
//! their URL anyway.

use std::time::Duration;

/// The kind of transport failure, for classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// Could not connect.
    Connect,
    /// The request or response took longer than `request_timeout`.
    Timeout,
    /// Any other I/O or protocol failure.
    Other,
}

/// Everything that can go wrong when calling CloudStack.
#[derive(Debug, thiserror::Error)]
pub enum CloudStackError {
    /// The management server answered with an error envelope.
    #[error(
        "CloudStack {command} failed: HTTP {status}, errorcode {errorcode}, cserrorcode {}: {errortext}",
        display_opt(.cserrorcode)
    )]
    Api {
        /// The command name.
        command: String,
        /// The HTTP status of the answer.
        status: u16,
        /// CloudStack's `errorcode` (usually equal to the status).
        errorcode: u16,
        /// CloudStack's `cserrorcode`, when present.
        cserrorcode: Option<u32>,
        /// CloudStack's `errortext`.
        errortext: String,
    },
    /// The request did not complete at the HTTP level.
    #[error("transport error calling CloudStack {command}: {message}")]
    Transport {
        /// The command name.
        command: String,
        /// What failed.
        kind: TransportKind,
        /// Whether the command is safe to repeat (read-only or idempotent).
        safe: bool,
        /// A description without the request URL.
        message: String,
    },
    /// The answer was not what the command promises.
    #[error("unexpected answer to CloudStack {command}: {reason}")]
    Decode {
        /// The command name.
        command: String,
        /// What did not match.
        reason: String,
    },
    /// The answer was larger than `max_response_bytes`.
    #[error("answer to CloudStack {command} exceeds the limit of {limit} bytes")]
    ResponseTooLarge {
        /// The command name.
        command: String,
        /// The configured limit.
        limit: usize,
    },
    /// An asynchronous job finished with `jobstatus` 2.
    #[error(
        "CloudStack async job {job_id} for {command} failed: jobresultcode {jobresultcode}, errorcode {errorcode}, cserrorcode {}: {errortext}",
        display_opt(.cserrorcode)
    )]
    JobFailed {
        /// The command that started the job.
        command: String,
        /// The job id.
        job_id: String,
        /// The id of the object a create-style command was creating, if any. It may exist in
        /// an `Error` state and need cleaning up.
        object_id: Option<String>,
        /// The outer `jobresultcode`.
        jobresultcode: u16,
        /// The inner `errorcode`.
        errorcode: u16,
        /// The inner `cserrorcode`, when present.
        cserrorcode: Option<u32>,
        /// The inner `errortext`.
        errortext: String,
    },
    /// An asynchronous job was still pending when the deadline passed.
    #[error(
        "CloudStack async job {job_id} for {command} did not finish within {}s (deadline {}s)",
        .elapsed.as_secs_f64().round(),
        .deadline.as_secs()
    )]
    JobTimeout {
        /// The command that started the job.
        command: String,
        /// The job id.
        job_id: String,
        /// The id of the object a create-style command was creating, if any.
        object_id: Option<String>,
        /// How long the client waited.
        elapsed: Duration,
        /// The configured deadline.
        deadline: Duration,
    },
    /// A name-to-id look-up found nothing.
    #[error("CloudStack {kind} {name:?} not found")]
    NotFound {
        /// What was looked up (zone, service offering, ...).
        kind: &'static str,
        /// The name that was looked up.
        name: String,
    },
    /// A name-to-id look-up found several objects.
    #[error("CloudStack {kind} name {name:?} is ambiguous: {count} matches")]
    Ambiguous {
        /// What was looked up.
        kind: &'static str,
        /// The name that was looked up.
        name: String,
        /// How many objects matched.
        count: usize,
    },
    /// A call waited too long for a free in-flight slot.
    #[error("CloudStack client overloaded: {command} waited {}s for a free slot", .waited.as_secs())]
    Overloaded {
        /// The command name.
        command: String,
        /// How long it waited.
        waited: Duration,
    },
    /// A list kept returning pages beyond the safety bound.
    #[error("CloudStack {command} returned more than {max_pages} pages; refusing to continue")]
    TooManyPages {
        /// The command name.
        command: String,
        /// The bound.
        max_pages: u32,
    },
    /// The client configuration cannot be used.
    #[error("invalid CloudStack client configuration: {0}")]
    Config(String),
}

fn display_opt(value: &Option<u32>) -> String {
    value.map_or_else(|| "none".to_owned(), |v| v.to_string())
}

/// CloudStack's throttling status (`API_LIMIT_EXCEED`).
pub const STATUS_API_LIMIT_EXCEEDED: u16 = 429;
/// CloudStack's parameter error status (`PARAM_ERROR`).
pub const STATUS_PARAM_ERROR: u16 = 431;

impl CloudStackError {
    /// Whether repeating the same call may succeed: throttling always (the server refused before
    /// doing anything), transport failures only for safe calls, never parameter errors.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { status, .. } => *status == STATUS_API_LIMIT_EXCEEDED,
            Self::Transport { safe, .. } => *safe,
            _ => false,
        }
    }

    /// Whether the error means that the object referred to does not exist.
    ///
    /// CloudStack answers an unknown UUID with 431 and a text containing "entity does not
    /// exist" (or, in some commands, "Unable to find"); look-ups report [`Self::NotFound`].
    pub fn is_not_found(&self) -> bool {
        match self {
            Self::NotFound { .. } => true,
            Self::Api {
                errorcode,
                errortext,
                ..
            }
            | Self::JobFailed {
                errorcode,
                errortext,
                ..
            } => *errorcode == STATUS_PARAM_ERROR && text_says_not_found(errortext),
            _ => false,
        }
    }

    /// The CloudStack `errorcode` if the server produced one.
    pub fn errorcode(&self) -> Option<u16> {
        match self {
            Self::Api { errorcode, .. } | Self::JobFailed { errorcode, .. } => Some(*errorcode),
            _ => None,
        }
    }

    /// The CloudStack `errortext` if the server produced one.
    pub fn errortext(&self) -> Option<&str> {
        match self {
            Self::Api { errortext, .. } | Self::JobFailed { errortext, .. } => Some(errortext),
            _ => None,
        }
    }

    /// A server-suggested retry delay, parsed from the 429 text "please retry after [N] ms".
    pub fn suggested_retry_delay(&self) -> Option<Duration> {
        let Self::Api {
            status: STATUS_API_LIMIT_EXCEEDED,
            errortext,
            ..
        } = self
        else {
            return None;
        };
        let lower = errortext.to_ascii_lowercase();
        let after = lower.split("retry after").nth(1)?;
        let digits: String = after
            .trim_start_matches([' ', '['])
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse::<u64>().ok().map(Duration::from_millis)
    }
}

fn text_says_not_found(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("entity does not exist")
        || lower.contains("unable to find")
        || lower.contains("does not exist")
        || lower.contains("not found")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, text: &str) -> CloudStackError {
        CloudStackError::Api {
            command: "listVolumes".into(),
            status,
            errorcode: status,
            cserrorcode: Some(4350),
            errortext: text.into(),
        }
    }

    #[test]
    fn classifies_retryable_errors() {
        assert!(api(429, "slow down").is_retryable());
        assert!(!api(431, "bad").is_retryable());
        assert!(!api(530, "internal").is_retryable());
        let transport = |safe| CloudStackError::Transport {
            command: "x".into(),
            kind: TransportKind::Connect,
            safe,
            message: "refused".into(),
        };
        assert!(transport(true).is_retryable());
        assert!(!transport(false).is_retryable());
    }

    #[test]
    fn recognises_not_found_texts() {
        let text = "Invalid parameter id value=abc due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.";
        assert!(api(431, text).is_not_found());
        assert!(!api(431, "missing parameter name").is_not_found());
        assert!(!api(530, text).is_not_found());
    }

    #[test]
    fn parses_suggested_retry_delay() {
        let err = api(
            429,
            "The given user has reached his/her account api limit, please retry after [250] ms.",
        );
        assert_eq!(
            err.suggested_retry_delay(),
            Some(Duration::from_millis(250))
        );
        assert_eq!(api(431, "retry after 5 ms").suggested_retry_delay(), None);
    }

    #[test]
    fn display_names_codes_and_text() {
        let message = api(431, "bad value").to_string();
        assert!(message.contains("listVolumes"));
        assert!(message.contains("431"));
        assert!(message.contains("4350"));
        assert!(message.contains("bad value"));
    }
}
