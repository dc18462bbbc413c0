//! The warm CloudStack client: one pooled HTTP client, signing, retries, async-job polling,
//! a concurrency cap, an optional rate limit, cached name look-ups and per-command counters.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use serde_json::Value;
use tokio::sync::{OnceCell, Semaphore};

use crate::clock::{Clock, TokioClock};
use crate::command::{Command, Execution, ListCommand};
use crate::commands::{
    ListDiskOfferings, ListNetworks, ListOsTypes, ListProjects, ListServiceOfferings, ListZones,
};
use crate::config::ClientConfig;
use crate::envelope::{self, AsyncSubmission, Body, JobState};
use crate::error::{CloudStackError, TransportKind};
use crate::params::Params;
use crate::signing;

/// CloudStack's maximum page size (`default.page.size`).
const PAGE_SIZE: u32 = 500;
/// A bound on pages followed by one list, so that a misbehaving server cannot loop us forever.
const MAX_PAGES: u32 = 10_000;
/// The longest `expires` lifetime the server accepts when it enforces timestamps.
const MAX_SIGNATURE_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// How much of a non-JSON error body is quoted in an error message.
const ERROR_BODY_QUOTE_LIMIT: usize = 200;

type Result<T, E = CloudStackError> = std::result::Result<T, E>;

/// The kinds of name-to-id look-ups the client caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LookupKind {
    /// Zones by name.
    Zone,
    /// Service offerings by name.
    ServiceOffering,
    /// Disk offerings by name.
    DiskOffering,
    /// Networks by name, within a zone.
    Network,
    /// OS types by description.
    OsType,
}

impl LookupKind {
    fn label(self) -> &'static str {
        match self {
            Self::Zone => "zone",
            Self::ServiceOffering => "service offering",
            Self::DiskOffering => "disk offering",
            Self::Network => "network",
            Self::OsType => "OS type",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LookupKey {
    kind: LookupKind,
    scope: Option<String>,
    name: String,
}

#[derive(Debug, Clone)]
struct CachedId {
    id: String,
    fetched_at: Instant,
}

/// A sliding-window rate limiter on the injected clock.
///
/// It admits at most `max_per_window` calls in any one-second interval. A token bucket would
/// allow a full burst right before a window boundary plus refills right after, which trips
/// CloudStack's fixed per-second windows (`api.throttling.interval`); a sliding window cannot,
/// whatever the server's window alignment. Memory is bounded by `max_per_window` instants.
#[derive(Debug)]
struct RateLimiter {
    max_per_window: usize,
    recent: Mutex<VecDeque<Instant>>,
}

const RATE_WINDOW: Duration = Duration::from_secs(1);

impl RateLimiter {
    fn new(max_per_second: u32) -> Self {
        let max_per_window = usize::try_from(max_per_second.max(1)).unwrap_or(usize::MAX);
        Self {
            max_per_window,
            recent: Mutex::new(VecDeque::with_capacity(max_per_window)),
        }
    }

    /// Records one call, first waiting on `clock` until the window has room.
    async fn acquire(&self, clock: &dyn Clock) {
        loop {
            let wait = {
                let Ok(mut recent) = self.recent.lock() else {
                    return;
                };
                let now = clock.now();
                while recent
                    .front()
                    .is_some_and(|oldest| now.saturating_duration_since(*oldest) >= RATE_WINDOW)
                {
                    recent.pop_front();
                }
                if recent.len() < self.max_per_window {
                    recent.push_back(now);
                    return;
                }
                match recent.front() {
                    Some(oldest) => {
                        RATE_WINDOW.saturating_sub(now.saturating_duration_since(*oldest))
                    }
                    None => Duration::ZERO,
                }
            };
            clock.sleep(wait).await;
        }
    }
}

/// A client for one CloudStack account.
///
/// Create one per account and keep it for the daemon's life: it holds the keep-alive HTTP
/// connection pool and the look-up cache. All methods take `&self` and may run concurrently.
pub struct CloudStackClient {
    config: ClientConfig,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    in_flight: Semaphore,
    rate_limiter: Option<RateLimiter>,
    counters: Mutex<HashMap<String, u64>>,
    lookups: Mutex<HashMap<LookupKey, CachedId>>,
    project_id: OnceCell<Option<String>>,
}

impl fmt::Debug for CloudStackClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudStackClient")
            .field("endpoint", &self.config.endpoint.as_str())
            .field("project", &self.config.project)
            .finish_non_exhaustive()
    }
}

fn is_uuid(value: &str) -> bool {
    uuid::Uuid::try_parse(value).is_ok()
}

impl CloudStackClient {
    /// Creates a client using the real clock.
    pub fn new(config: ClientConfig) -> Result<Self> {
        Self::with_clock(config, Arc::new(TokioClock))
    }

    /// Creates a client with an injected clock (tests use [`crate::ManualClock`]).
    pub fn with_clock(config: ClientConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        validate(&config)?;
        let http = build_http_client(&config)?;
        Ok(Self {
            in_flight: Semaphore::new(config.max_in_flight),
            rate_limiter: config.rate_limit_per_sec.map(RateLimiter::new),
            counters: Mutex::new(HashMap::new()),
            lookups: Mutex::new(HashMap::new()),
            project_id: OnceCell::new(),
            http,
            clock,
            config,
        })
    }

    /// The configuration this client was built from.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// How many HTTP requests were sent for `command` (retries and job polls included).
    pub fn call_count(&self, command: &str) -> u64 {
        self.counters
            .lock()
            .map(|c| c.get(command).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Request counts for every command called so far.
    pub fn call_counts(&self) -> BTreeMap<String, u64> {
        self.counters
            .lock()
            .map(|c| c.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }

    /// Total HTTP requests sent.
    pub fn total_calls(&self) -> u64 {
        self.counters.lock().map(|c| c.values().sum()).unwrap_or(0)
    }

    /// Runs a command: a synchronous one returns its decoded answer; an asynchronous one is
    /// polled until its job finishes or `async_job_timeout` passes.
    pub async fn execute<C: Command>(&self, command: &C) -> Result<C::Output> {
        let mut params = command.params();
        if C::PROJECT_SCOPED {
            self.add_project(&mut params).await?;
        }
        let body = self.call(C::NAME, &params, C::SAFE).await?;
        let result = match C::EXECUTION {
            Execution::Sync => body,
            Execution::Async => {
                let submission =
                    envelope::submission(&body).map_err(|reason| CloudStackError::Decode {
                        command: C::NAME.to_owned(),
                        reason,
                    })?;
                self.wait_for_job(C::NAME, &submission).await?
            }
        };
        C::decode(&result).map_err(|reason| CloudStackError::Decode {
            command: C::NAME.to_owned(),
            reason,
        })
    }

    /// Runs a list command and follows every page until `count` items are collected.
    pub async fn list<L: ListCommand>(&self, command: &L) -> Result<Vec<L::Item>> {
        let mut params = command.params();
        if L::PROJECT_SCOPED {
            self.add_project(&mut params).await?;
        }
        self.list_pages(L::NAME, L::ITEM_KEY, params).await
    }

    /// Follows every page of a list with already complete filter parameters.
    async fn list_pages<T: serde::de::DeserializeOwned>(
        &self,
        command: &str,
        item_key: &str,
        mut params: Params,
    ) -> Result<Vec<T>> {
        let mut collected: Vec<T> = Vec::new();
        for page in 1..=MAX_PAGES {
            params
                .set("page", page.to_string())
                .set("pagesize", PAGE_SIZE.to_string());
            let body = self.call(command, &params, true).await?;
            let decoded = envelope::list_page::<T>(body, item_key).map_err(|reason| {
                CloudStackError::Decode {
                    command: command.to_owned(),
                    reason,
                }
            })?;
            let received = decoded.items.len();
            collected.extend(decoded.items);
            let total = decoded.count.unwrap_or(0);
            // Stop on an empty page even if `count` promised more, so a server whose count
            // disagrees with its pages cannot keep us looping.
            if received == 0 || collected.len() as u64 >= total {
                return Ok(collected);
            }
        }
        Err(CloudStackError::TooManyPages {
            command: command.to_owned(),
            max_pages: MAX_PAGES,
        })
    }

    /// Asks once for the state of an asynchronous job.
    pub async fn query_async_job(&self, job_id: &str) -> Result<JobState> {
        let mut params = Params::new();
        params.set("jobid", job_id);
        let body = self.call("queryAsyncJobResult", &params, true).await?;
        envelope::job_state(&body).map_err(|reason| CloudStackError::Decode {
            command: "queryAsyncJobResult".to_owned(),
            reason,
        })
    }

    /// Polls a job with adaptive backoff until it finishes or the deadline passes, and returns
    /// its `jobresult` object.
    pub async fn wait_for_job(&self, command: &str, submission: &AsyncSubmission) -> Result<Body> {
        let deadline = self.config.async_job_timeout;
        let started = self.clock.now();
        let mut interval = self.config.poll.initial_interval;
        let mut polls: u32 = 0;
        loop {
            polls += 1;
            match self.query_async_job(&submission.job_id).await? {
                JobState::Succeeded(result) => {
                    tracing::debug!(
                        command,
                        job_id = %submission.job_id,
                        polls,
                        elapsed_ms = self.clock.now().saturating_duration_since(started).as_millis() as u64,
                        "CloudStack job succeeded."
                    );
                    return Ok(result);
                }
                JobState::Failed {
                    jobresultcode,
                    error,
                } => {
                    let failure = CloudStackError::JobFailed {
                        command: command.to_owned(),
                        job_id: submission.job_id.clone(),
                        object_id: submission.object_id.clone(),
                        jobresultcode,
                        errorcode: error.errorcode,
                        cserrorcode: error.cserrorcode,
                        errortext: error.errortext,
                    };
                    tracing::warn!(command, job_id = %submission.job_id, error = %failure, "CloudStack job failed.");
                    return Err(failure);
                }
                JobState::Pending => {
                    let elapsed = self.clock.now().saturating_duration_since(started);
                    if elapsed >= deadline {
                        let timeout = CloudStackError::JobTimeout {
                            command: command.to_owned(),
                            job_id: submission.job_id.clone(),
                            object_id: submission.object_id.clone(),
                            elapsed,
                            deadline,
                        };
                        tracing::warn!(command, job_id = %submission.job_id, polls, error = %timeout, "CloudStack job timed out.");
                        return Err(timeout);
                    }
                    self.clock.sleep(interval.min(deadline - elapsed)).await;
                    interval = interval
                        .saturating_mul(2)
                        .min(self.config.poll.max_interval);
                }
            }
        }
    }

    /// Sends one command with retries and returns its envelope body. This is the escape hatch
    /// for commands without a typed request; `safe` says whether transport failures may be
    /// retried.
    pub async fn call(&self, command: &str, params: &Params, safe: bool) -> Result<Body> {
        let policy = &self.config.retry;
        let max_attempts = policy.max_attempts.max(1);
        let mut attempt: u32 = 1;
        loop {
            match self.send_once(command, params, safe, attempt).await {
                Ok(body) => return Ok(body),
                Err(error) if error.is_retryable() && attempt < max_attempts => {
                    let delay = error
                        .suggested_retry_delay()
                        .map_or_else(
                            || policy.backoff(attempt),
                            |d| d.max(policy.backoff(attempt)),
                        )
                        .min(policy.max_backoff);
                    tracing::warn!(
                        command,
                        attempt,
                        max_attempts,
                        delay_ms = delay.as_millis() as u64,
                        error = %error,
                        "CloudStack call failed; retrying."
                    );
                    self.clock.sleep(delay).await;
                    attempt += 1;
                }
                Err(error) => {
                    tracing::warn!(command, attempt, error = %error, "CloudStack call failed.");
                    return Err(error);
                }
            }
        }
    }

    fn count(&self, command: &str) {
        if let Ok(mut counters) = self.counters.lock() {
            // Allocate the key only the first time a command is seen.
            match counters.get_mut(command) {
                Some(count) => *count += 1,
                None => {
                    counters.insert(command.to_owned(), 1);
                }
            }
        }
    }

    /// The full signed form for one request.
    fn signed_form(&self, command: &str, params: &Params) -> Vec<(String, String)> {
        let expires = self.clock.wall_now()
            + time::Duration::try_from(self.config.signature_lifetime)
                .unwrap_or(time::Duration::minutes(10));
        let mut form: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        form.push(("command".to_owned(), command.to_owned()));
        form.push(("response".to_owned(), "json".to_owned()));
        form.push((
            "apikey".to_owned(),
            self.config.api_key.expose_secret().to_owned(),
        ));
        form.push(("signatureversion".to_owned(), "3".to_owned()));
        form.push(("expires".to_owned(), signing::format_expires(expires)));
        let signature = signing::sign(
            form.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            self.config.secret_key.expose_secret(),
        );
        form.push(("signature".to_owned(), signature));
        form
    }

    async fn send_once(
        &self,
        command: &str,
        params: &Params,
        safe: bool,
        attempt: u32,
    ) -> Result<Body> {
        let _permit = match self.in_flight.try_acquire() {
            Ok(permit) => permit,
            Err(_) => {
                match tokio::time::timeout(self.config.queue_timeout, self.in_flight.acquire())
                    .await
                {
                    Ok(Ok(permit)) => permit,
                    _ => {
                        return Err(CloudStackError::Overloaded {
                            command: command.to_owned(),
                            waited: self.config.queue_timeout,
                        });
                    }
                }
            }
        };
        if let Some(bucket) = &self.rate_limiter {
            bucket.acquire(self.clock.as_ref()).await;
        }
        self.count(command);
        tracing::debug!(command, attempt, params = ?params.names(), "Sending CloudStack request.");
        let form = self.signed_form(command, params);
        let transport = |error: reqwest::Error| transport_error(command, safe, error);
        let mut response = self
            .http
            .post(self.config.endpoint.clone())
            .form(&form)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        let description = response
            .headers()
            .get("x-description")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let limit = self.config.max_response_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(CloudStackError::ResponseTooLarge {
                command: command.to_owned(),
                limit,
            });
        }
        let mut bytes: Vec<u8> = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if bytes.len() + chunk.len() > limit {
                return Err(CloudStackError::ResponseTooLarge {
                    command: command.to_owned(),
                    limit,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        tracing::debug!(
            command,
            attempt,
            status,
            bytes = bytes.len(),
            "Received CloudStack answer."
        );
        interpret_answer(command, status, description, &bytes)
    }

    async fn add_project(&self, params: &mut Params) -> Result<()> {
        if params.contains("projectid") {
            return Ok(());
        }
        if let Some(project_id) = self.project_id().await? {
            params.set("projectid", project_id);
        }
        Ok(())
    }

    /// The configured project's id, resolved once with `listProjects` when a name was given.
    pub async fn project_id(&self) -> Result<Option<String>> {
        let Some(project) = self.config.project.clone() else {
            return Ok(None);
        };
        if is_uuid(&project) {
            return Ok(Some(project));
        }
        self.project_id
            .get_or_try_init(|| async {
                let request = ListProjects {
                    name: Some(project.clone()),
                    listall: Some(true),
                    ..Default::default()
                };
                // Call the pages directly: `list` would try to add the project being resolved.
                let found: Vec<crate::types::Project> = self
                    .list_pages(
                        <ListProjects as ListCommand>::NAME,
                        <ListProjects as ListCommand>::ITEM_KEY,
                        request.params(),
                    )
                    .await?;
                let matches: Vec<_> = found
                    .into_iter()
                    .filter(|p| p.name.as_deref() == Some(project.as_str()))
                    .collect();
                match matches.as_slice() {
                    [only] => Ok(Some(only.id.clone())),
                    [] => Err(CloudStackError::NotFound {
                        kind: "project",
                        name: project.clone(),
                    }),
                    many => Err(CloudStackError::Ambiguous {
                        kind: "project",
                        name: project.clone(),
                        count: many.len(),
                    }),
                }
            })
            .await
            .cloned()
    }

    /// Forgets every cached name-to-id look-up.
    pub fn invalidate_lookups(&self) {
        if let Ok(mut lookups) = self.lookups.lock() {
            lookups.clear();
        }
    }

    async fn resolve<F, Fut>(
        &self,
        kind: LookupKind,
        scope: Option<&str>,
        name_or_id: &str,
        fetch: F,
    ) -> Result<String>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<(String, Option<String>)>>>,
    {
        if is_uuid(name_or_id) {
            return Ok(name_or_id.to_owned());
        }
        let key = LookupKey {
            kind,
            scope: scope.map(str::to_owned),
            name: name_or_id.to_owned(),
        };
        let now = self.clock.now();
        if let Ok(lookups) = self.lookups.lock()
            && let Some(cached) = lookups.get(&key)
            && now.saturating_duration_since(cached.fetched_at) < self.config.lookup_cache_ttl
        {
            return Ok(cached.id.clone());
        }
        let candidates = fetch().await?;
        // Servers differ on whether `name` filters by substring, so compare exactly here.
        let matches: Vec<String> = candidates
            .into_iter()
            .filter(|(_, name)| name.as_deref() == Some(name_or_id))
            .map(|(id, _)| id)
            .collect();
        let id = match matches.as_slice() {
            [only] => only.clone(),
            [] => {
                return Err(CloudStackError::NotFound {
                    kind: kind.label(),
                    name: name_or_id.to_owned(),
                });
            }
            many => {
                return Err(CloudStackError::Ambiguous {
                    kind: kind.label(),
                    name: name_or_id.to_owned(),
                    count: many.len(),
                });
            }
        };
        tracing::debug!(kind = kind.label(), name = name_or_id, id = %id, "Cached CloudStack look-up.");
        if let Ok(mut lookups) = self.lookups.lock() {
            lookups.insert(
                key,
                CachedId {
                    id: id.clone(),
                    fetched_at: self.clock.now(),
                },
            );
        }
        Ok(id)
    }

    /// Resolves a zone name (or id) to its id.
    pub async fn zone_id(&self, name_or_id: &str) -> Result<String> {
        self.resolve(LookupKind::Zone, None, name_or_id, || async {
            let zones = self
                .list(&ListZones {
                    name: Some(name_or_id.to_owned()),
                    ..Default::default()
                })
                .await?;
            Ok(zones.into_iter().map(|z| (z.id, z.name)).collect())
        })
        .await
    }

    /// Resolves a service offering name (or id) to its id.
    pub async fn service_offering_id(&self, name_or_id: &str) -> Result<String> {
        self.resolve(LookupKind::ServiceOffering, None, name_or_id, || async {
            let offerings = self
                .list(&ListServiceOfferings {
                    name: Some(name_or_id.to_owned()),
                    ..Default::default()
                })
                .await?;
            Ok(offerings.into_iter().map(|o| (o.id, o.name)).collect())
        })
        .await
    }

    /// Resolves a disk offering name (or id) to its id.
    pub async fn disk_offering_id(&self, name_or_id: &str) -> Result<String> {
        self.resolve(LookupKind::DiskOffering, None, name_or_id, || async {
            let offerings = self
                .list(&ListDiskOfferings {
                    name: Some(name_or_id.to_owned()),
                    ..Default::default()
                })
                .await?;
            Ok(offerings.into_iter().map(|o| (o.id, o.name)).collect())
        })
        .await
    }

    /// Resolves a network name (or id) within a zone to its id.
    pub async fn network_id(&self, name_or_id: &str, zone_id: &str) -> Result<String> {
        self.resolve(LookupKind::Network, Some(zone_id), name_or_id, || async {
            let networks = self
                .list(&ListNetworks {
                    name: Some(name_or_id.to_owned()),
                    zoneid: Some(zone_id.to_owned()),
                    ..Default::default()
                })
                .await?;
            Ok(networks.into_iter().map(|n| (n.id, n.name)).collect())
        })
        .await
    }

    /// Resolves an OS type description (or id) to its id.
    pub async fn os_type_id(&self, description_or_id: &str) -> Result<String> {
        self.resolve(LookupKind::OsType, None, description_or_id, || async {
            let types = self
                .list(&ListOsTypes {
                    description: Some(description_or_id.to_owned()),
                    ..Default::default()
                })
                .await?;
            Ok(types.into_iter().map(|t| (t.id, t.description)).collect())
        })
        .await
    }
}

fn validate(config: &ClientConfig) -> Result<()> {
    let fail = |message: &str| Err(CloudStackError::Config(message.to_owned()));
    if !matches!(config.endpoint.scheme(), "http" | "https") {
        return fail("the endpoint must be an http or https URL");
    }
    if config.max_in_flight == 0 {
        return fail("max_in_flight must be at least 1");
    }
    if config.rate_limit_per_sec == Some(0) {
        return fail("rate_limit_per_sec must be at least 1 when set");
    }
    if config.signature_lifetime.is_zero() || config.signature_lifetime >= MAX_SIGNATURE_LIFETIME {
        return fail("signature_lifetime must be between 1 second and 15 minutes");
    }
    if config.retry.max_attempts == 0 {
        return fail("retry.max_attempts must be at least 1");
    }
    if config.api_key.expose_secret().is_empty() || config.secret_key.expose_secret().is_empty() {
        return fail("the API key and the secret key must not be empty");
    }
    Ok(())
}

fn build_http_client(config: &ClientConfig) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(config.request_timeout)
        .connect_timeout(config.request_timeout.min(Duration::from_secs(10)))
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_keepalive(Duration::from_secs(30))
        .user_agent(concat!("cloudstack-cpi/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = &config.ca_cert_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem.0.as_bytes()).map_err(|e| {
            CloudStackError::Config(format!("the CA certificate is not valid PEM: {e}"))
        })?;
        if certs.is_empty() {
            return Err(CloudStackError::Config(
                "the CA certificate PEM contains no certificate".to_owned(),
            ));
        }
        builder = builder.tls_certs_merge(certs);
    }
    if !config.verify_tls {
        tracing::warn!(
            endpoint = %config.endpoint,
            "TLS certificate verification of the CloudStack endpoint is disabled."
        );
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder
        .build()
        .map_err(|e| CloudStackError::Config(format!("cannot build the HTTP client: {e}")))
}

fn transport_error(command: &str, safe: bool, error: reqwest::Error) -> CloudStackError {
    let kind = if error.is_timeout() {
        TransportKind::Timeout
    } else if error.is_connect() {
        TransportKind::Connect
    } else {
        TransportKind::Other
    };
    // The URL carries no credentials (everything travels in the POST body), but strip it anyway
    // so that a future change cannot leak through error messages.
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    CloudStackError::Transport {
        command: command.to_owned(),
        kind,
        safe,
        message,
    }
}

/// Turns an HTTP answer into an envelope body or a typed error.
fn interpret_answer(
    command: &str,
    status: u16,
    description: Option<String>,
    bytes: &[u8],
) -> Result<Body> {
    let parsed: Option<Value> = serde_json::from_slice(bytes).ok();
    let body = parsed.and_then(|value| envelope::unwrap(command, value).ok());
    match body {
        Some(body) => {
            if let Some(error) = envelope::error_fields(&body) {
                return Err(CloudStackError::Api {
                    command: command.to_owned(),
                    status,
                    errorcode: error.errorcode,
                    cserrorcode: error.cserrorcode,
                    errortext: error.errortext,
                });
            }
            if !(200..300).contains(&status) {
                return Err(CloudStackError::Api {
                    command: command.to_owned(),
                    status,
                    errorcode: status,
                    cserrorcode: None,
                    errortext: description.unwrap_or_else(|| "no error text".to_owned()),
                });
            }
            Ok(body)
        }
        None if (200..300).contains(&status) => Err(CloudStackError::Decode {
            command: command.to_owned(),
            reason: format!(
                "the answer is not a CloudStack JSON envelope: {}",
                quote(bytes)
            ),
        }),
        None => Err(CloudStackError::Api {
            command: command.to_owned(),
            status,
            errorcode: status,
            cserrorcode: None,
            errortext: description.unwrap_or_else(|| quote(bytes)),
        }),
    }
}

fn quote(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut quoted: String = text.chars().take(ERROR_BODY_QUOTE_LIMIT).collect();
    if text.chars().count() > ERROR_BODY_QUOTE_LIMIT {
        quoted.push('…');
    }
    format!("{quoted:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interprets_error_envelopes_with_status() {
        let body = br#"{"deployvirtualmachineresponse":{"uuidList":[],"errorcode":431,"cserrorcode":4350,"errortext":"bad name"}}"#;
        let error = interpret_answer("deployVirtualMachine", 431, None, body).unwrap_err();
        match error {
            CloudStackError::Api {
                status,
                errorcode,
                cserrorcode,
                errortext,
                ..
            } => {
                assert_eq!((status, errorcode, cserrorcode), (431, 431, Some(4350)));
                assert_eq!(errortext, "bad name");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn non_json_error_uses_x_description() {
        let error = interpret_answer("listZones", 401, Some("unable to verify".into()), b"<html>")
            .unwrap_err();
        assert_eq!(error.errorcode(), Some(401));
        assert_eq!(error.errortext(), Some("unable to verify"));
    }

    #[test]
    fn garbage_success_is_a_decode_error() {
        let error = interpret_answer("listZones", 200, None, b"not json").unwrap_err();
        assert!(matches!(error, CloudStackError::Decode { .. }), "{error}");
        assert!(error.to_string().contains("not json"));
    }

    #[tokio::test]
    async fn rate_limiter_admits_at_most_n_per_sliding_second() {
        let clock = crate::ManualClock::new();
        let limiter = RateLimiter::new(2);
        limiter.acquire(&clock).await;
        clock.advance(Duration::from_millis(400));
        limiter.acquire(&clock).await;
        // The third call must wait until the first leaves the window (600 ms later), and the
        // fourth until the second leaves it (another 400 ms).
        limiter.acquire(&clock).await;
        limiter.acquire(&clock).await;
        assert_eq!(
            clock.sleeps(),
            vec![Duration::from_millis(600), Duration::from_millis(400)]
        );
    }
}
