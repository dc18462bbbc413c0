//! Client configuration, independent of the daemon's own configuration format.
//!
//! The daemon maps its configuration onto [`ClientConfig`]; this crate never reads files.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// How failed calls are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts including the first one; at least 1.
    pub max_attempts: u32,
    /// Delay before the first retry.
    pub initial_backoff: Duration,
    /// Upper bound for any single delay, including a server-suggested one.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1-based), doubling from `initial_backoff` up to
    /// `max_backoff`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// How `queryAsyncJobResult` is polled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollPolicy {
    /// Delay before the second poll; fast, because many jobs finish within a second.
    pub initial_interval: Duration,
    /// Cap for the doubling interval.
    pub max_interval: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            initial_interval: Duration::from_millis(100),
            max_interval: Duration::from_secs(5),
        }
    }
}

/// A PEM-encoded CA bundle trusted in addition to the system roots.
#[derive(Clone, PartialEq, Eq)]
pub struct CaCertPem(pub String);

impl fmt::Debug for CaCertPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaCertPem({} bytes)", self.0.len())
    }
}

/// Everything the client needs to talk to one CloudStack account.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The API endpoint, e.g. `https://cloud.example.com/client/api`.
    pub endpoint: Url,
    /// The account's API key. Sent with every request but never logged.
    pub api_key: SecretString,
    /// The account's secret key. Used only to sign.
    pub secret_key: SecretString,
    /// A project name or id; when set, creates and lists are scoped to it with `projectid`.
    pub project: Option<String>,
    /// Verify the server's TLS certificate. Disabling it logs a warning.
    pub verify_tls: bool,
    /// Extra CA certificates to trust.
    pub ca_cert_pem: Option<CaCertPem>,
    /// Overall deadline for one asynchronous job.
    pub async_job_timeout: Duration,
    /// Polling intervals for asynchronous jobs.
    pub poll: PollPolicy,
    /// Deadline for one HTTP exchange.
    pub request_timeout: Duration,
    /// Maximum number of calls in flight at once.
    pub max_in_flight: usize,
    /// How long a call may wait for a free in-flight slot before it fails as overloaded.
    pub queue_timeout: Duration,
    /// Most calls in any one-second window; `None` disables the limit. CloudStack's default
    /// throttle is 25 calls per second per account.
    pub rate_limit_per_sec: Option<u32>,
    /// How long a name-to-id look-up stays cached.
    pub lookup_cache_ttl: Duration,
    /// Retry behaviour for failed calls.
    pub retry: RetryPolicy,
    /// Largest response body accepted.
    pub max_response_bytes: usize,
    /// Lifetime of a signed request (`expires`); must stay under 15 minutes.
    pub signature_lifetime: Duration,
}

/// The default rate when rate limiting is enabled without a value.
pub const DEFAULT_RATE_LIMIT_PER_SEC: u32 = 25;

impl ClientConfig {
    /// Creates a configuration with defaults for everything but the endpoint and keys.
    pub fn new(endpoint: Url, api_key: SecretString, secret_key: SecretString) -> Self {
        Self {
            endpoint,
            api_key,
            secret_key,
            project: None,
            verify_tls: true,
            ca_cert_pem: None,
            async_job_timeout: Duration::from_secs(900),
            poll: PollPolicy::default(),
            request_timeout: Duration::from_secs(60),
            max_in_flight: 16,
            queue_timeout: Duration::from_secs(120),
            rate_limit_per_sec: None,
            lookup_cache_ttl: Duration::from_secs(300),
            retry: RetryPolicy::default(),
            max_response_bytes: 32 * 1024 * 1024,
            signature_lifetime: Duration::from_secs(600),
        }
    }

    /// The identity used by [`crate::ClientPool`]: endpoint, API key and project.
    ///
    /// The key is part of the identity but the returned value is only compared, never printed.
    pub(crate) fn identity(&self) -> (String, String, Option<String>) {
        (
            self.endpoint.as_str().to_owned(),
            self.api_key.expose_secret().to_owned(),
            self.project.clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_redacts_keys() {
        let config = ClientConfig::new(
            Url::parse("http://127.0.0.1:8080/client/api").unwrap(),
            SecretString::from("the-api-key"),
            SecretString::from("the-secret-key"),
        );
        let debug = format!("{config:?}");
        assert!(!debug.contains("the-api-key"));
        assert!(!debug.contains("the-secret-key"));
    }

    #[test]
    fn retry_backoff_doubles_and_caps() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
        };
        assert_eq!(policy.backoff(1), Duration::from_millis(100));
        assert_eq!(policy.backoff(2), Duration::from_millis(200));
        assert_eq!(policy.backoff(3), Duration::from_millis(350));
        assert_eq!(policy.backoff(40), Duration::from_millis(350));
    }
}
