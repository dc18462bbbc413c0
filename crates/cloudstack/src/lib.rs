//! CloudStack API client for the BOSH CPI daemon.
//!
//! Every CloudStack call the CPI makes goes through this crate, and only through it. It signs
//! requests exactly as the management server verifies them ([`signing`]), sends every call as a
//! POST form (user data is several KB), decodes CloudStack's envelopes tolerantly
//! ([`envelope`], [`types`]), polls asynchronous jobs with adaptive backoff and a deadline, and
//! turns every failure into one error type, [`CloudStackError`].
//!
//! # Using it
//!
//! Build a [`ClientConfig`], create one [`CloudStackClient`] (or get one from a [`ClientPool`]
//! keyed by endpoint, API key and project) and keep it for the daemon's life. Run typed
//! requests from [`commands`] with [`CloudStackClient::execute`] (sync or async commands) and
//! [`CloudStackClient::list`] (all pages followed). Resolve names with
//! [`CloudStackClient::zone_id`], [`CloudStackClient::service_offering_id`] and friends; the
//! answers are cached for `lookup_cache_ttl`.
//!
//! # Invariants
//!
//! - **Credentials never leave the request body.** The API key, the secret key and signatures
//!   never appear in URLs, logs, error messages or `Debug` output; keys are
//!   [`secrecy::SecretString`]s, and logs name parameters without their values.
//! - **Everything is bounded**: retries (`retry.max_attempts`), waits (`async_job_timeout`,
//!   `request_timeout`, `queue_timeout`), response bodies (`max_response_bytes`), list pages,
//!   calls in flight (`max_in_flight`) and, optionally, calls per second.
//! - **Only safe calls are retried after a transport failure.** Throttling (429) is always
//!   retried because the server refused before acting; parameter errors (431) never are.
//! - **Time is injected** through [`Clock`]; nothing here sleeps blindly, and tests use
//!   [`ManualClock`] so they never wait.
//! - **This crate knows nothing of BOSH** or of the daemon's configuration format: the daemon
//!   maps its settings onto [`ClientConfig`].

mod client;
pub mod clock;
pub mod command;
pub mod commands;
pub mod config;
pub mod de;
pub mod envelope;
pub mod error;
pub mod params;
mod pool;
mod shortcuts;
pub mod signing;
pub mod types;

pub use client::{CloudStackClient, LookupKind};
pub use clock::{Clock, ManualClock, TokioClock};
pub use command::{Command, Execution, ListCommand};
pub use config::{CaCertPem, ClientConfig, DEFAULT_RATE_LIMIT_PER_SEC, PollPolicy, RetryPolicy};
pub use envelope::{AsyncSubmission, JobState};
pub use error::{CloudStackError, TransportKind};
pub use params::Params;
pub use pool::ClientPool;
