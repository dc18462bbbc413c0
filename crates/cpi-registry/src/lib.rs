//! The registry HTTP service: bosh-agents (and operators) read agent settings over HTTP.
//!
//! It speaks the classic bosh-registry protocol (`GET`/`PUT`/`DELETE
//! /instances/{id}/settings`, `{"status": …}` bodies, HTTP basic authentication with realm
//! `Bosh Registry`) on top of a [`cpi_store::Store`], and serves `/healthz` and `/metrics`
//! (Prometheus text) on the same listener.
//!
//! Invariants:
//! - Two kinds of credential exist. The operator credential (`registry.user` /
//!   `registry.password`) reads and writes everything. Each VM has its own random credential
//!   (username = VM cid), minted by [`mint_vm_credential`] and delivered only in that VM's
//!   user data; it can only `GET` that VM's settings. The classic registry shared one
//!   password with every VM, which let any VM read every other VM's mbus and blobstore
//!   secrets.
//! - Credentials are compared in constant time, and only SHA-256 hashes of VM passwords are
//!   stored.
//! - Authentication happens before a request body is read; bodies above the configured limit
//!   are refused with 413.
//! - Store failures answer `500 {"status":"error"}` with no internals; the cause is logged.
//!   An unauthenticated caller cannot tell whether a VM exists (401 comes before 404).
//! - `/healthz` and `/metrics` need no credential: they reveal no settings.

mod cache;
mod credentials;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use http_body_util::BodyExt;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use secrecy::SecretString;
use serde_json::json;

use cpi_store::{NewVmSettings, Store, StoreError};

use cache::{Entry, EntryCache};
use credentials::{OperatorCredential, parse_basic, vm_password_matches};
pub use credentials::{VmCredential, hash_password, mint_vm_credential};

/// Default largest accepted request body: 1 MiB, far above real settings (a few KB even with
/// mbus certificates) yet small enough to bound memory per request.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Longest accepted instance id. VM cids are short; this only bounds store lookups.
const MAX_ID_LEN: usize = 512;

/// Errors of the registry boundary.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listener failed.
    #[error("registry server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Settings of the registry service.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// The operator user (`registry.user`).
    pub operator_user: String,
    /// The operator password (`registry.password`).
    pub operator_password: SecretString,
    /// Largest accepted request body in bytes.
    pub body_limit: usize,
    /// How long a VM's settings and credential hash are served from memory (see the `cache`
    /// module); zero disables caching.
    pub cache_ttl: Duration,
    /// Most VMs kept in the cache.
    pub cache_capacity: usize,
}

impl RegistryConfig {
    /// A configuration with the default body limit.
    pub fn new(operator_user: impl Into<String>, operator_password: SecretString) -> Self {
        RegistryConfig {
            operator_user: operator_user.into(),
            operator_password,
            body_limit: DEFAULT_BODY_LIMIT,
            cache_ttl: Duration::from_secs(1),
            cache_capacity: 10_000,
        }
    }
}

/// Shared state of the registry handlers. Cheap to clone.
#[derive(Clone)]
pub struct RegistryState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    operator: OperatorCredential,
    body_limit: usize,
    cache: EntryCache,
    /// A recorder of our own rather than the process-global one, so several registries (as
    /// in tests) keep separate counters and nothing depends on global installation order.
    metrics: PrometheusRecorder,
}

impl std::fmt::Debug for RegistryState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryState")
            .field("store", &self.inner.store)
            .field("operator", &self.inner.operator)
            .field("body_limit", &self.inner.body_limit)
            .finish_non_exhaustive()
    }
}

impl RegistryState {
    /// Builds the state from a store and the configuration.
    pub fn new(store: Arc<dyn Store>, config: &RegistryConfig) -> Self {
        RegistryState {
            inner: Arc::new(Inner {
                store,
                operator: OperatorCredential::new(&config.operator_user, &config.operator_password),
                body_limit: config.body_limit,
                cache: EntryCache::new(config.cache_ttl, config.cache_capacity),
                metrics: PrometheusBuilder::new().build_recorder(),
            }),
        }
    }

    /// The store behind the registry.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Forgets the cached entry of `vm_cid`. Call after changing its settings or credential
    /// directly in the store, to make the change visible before the cache TTL expires.
    pub fn invalidate(&self, vm_cid: &str) {
        self.inner.cache.invalidate(vm_cid);
    }

    /// Mints a VM credential (see [`mint_vm_credential`]) and makes it effective at once.
    pub async fn mint_vm_credential(&self, vm_cid: &str) -> Result<VmCredential, StoreError> {
        let credential = mint_vm_credential(self.inner.store.as_ref(), vm_cid).await?;
        self.invalidate(vm_cid);
        Ok(credential)
    }

    /// The entry of `id`, from the cache or the store.
    async fn lookup(&self, id: &str) -> Result<Option<Arc<Entry>>, StoreError> {
        // Read the generation before the database, so a write that commits in between
        // makes this entry stale instead of hiding behind it.
        let generation = self.inner.store.settings_generation();
        if let Some(entry) = self.inner.cache.get(id, generation) {
            return Ok(Some(entry));
        }
        let Some(stored) = self.inner.store.registry_entry(id).await? else {
            return Ok(None);
        };
        let ok_body = stored.settings.map(|settings| {
            Bytes::from(json!({ "status": "ok", "settings": settings }).to_string())
        });
        let entry = Arc::new(Entry {
            ok_body,
            credential_hash: stored.credential_hash,
        });
        self.inner.cache.insert(id, generation, entry.clone());
        Ok(Some(entry))
    }
}

/// Who the caller proved to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Operator,
    /// A VM credential whose username equals the instance id in the path.
    OwnVm,
}

/// The registry routes, ready to be served or nested.
pub fn router(state: RegistryState) -> Router {
    let instances = Router::new()
        .route(
            "/instances/{id}/settings",
            get(get_settings).put(put_settings).delete(delete_settings),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .merge(instances)
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Serves the registry on `listener` until `shutdown` completes, then drains in-flight
/// requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: RegistryState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RegistryError> {
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "Registry listening.");
    }
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

fn status_body(status: StatusCode, text: &'static str) -> Response {
    (status, Json(json!({ "status": text }))).into_response()
}

fn access_denied() -> Response {
    let mut response = status_body(StatusCode::UNAUTHORIZED, "access_denied");
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"Bosh Registry\""),
    );
    response
}

fn bad_request(reason: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "status": "bad_request", "error": reason })),
    )
        .into_response()
}

fn store_failure(error: &StoreError, action: &'static str) -> Response {
    tracing::error!(%error, action, unavailable = error.is_unavailable(), "Registry store call failed.");
    status_body(StatusCode::INTERNAL_SERVER_ERROR, "error")
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && !id.chars().any(char::is_control)
}

/// Establishes [`Access`] before any body is read.
async fn authenticate(
    State(state): State<RegistryState>,
    Path(params): Path<Vec<(String, String)>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(id) = params
        .into_iter()
        .find(|(name, _)| name == "id")
        .map(|(_, v)| v)
    else {
        return status_body(StatusCode::NOT_FOUND, "not_found");
    };
    if !valid_id(&id) {
        return bad_request(format!(
            "instance id must be 1 to {MAX_ID_LEN} bytes without control characters"
        ));
    }
    let Some(credentials) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(parse_basic)
    else {
        return access_denied();
    };
    let access = if state
        .inner
        .operator
        .matches(&credentials.user, &credentials.password)
    {
        Access::Operator
    } else if request.method() == Method::GET && credentials.user == id {
        match state.lookup(&id).await {
            Ok(Some(entry))
                if entry
                    .credential_hash
                    .as_deref()
                    .is_some_and(|hash| vm_password_matches(&credentials.password, hash)) =>
            {
                // The GET handler serves this very entry: no second lookup.
                request.extensions_mut().insert(entry);
                Access::OwnVm
            }
            Ok(_) => {
                tracing::warn!(instance = %id, "Registry VM credential rejected.");
                return access_denied();
            }
            Err(error) => return store_failure(&error, "check_credential"),
        }
    } else {
        tracing::warn!(instance = %id, method = %request.method(), "Registry credential rejected.");
        return access_denied();
    };
    request.extensions_mut().insert(access);
    next.run(request).await
}

async fn get_settings(
    State(state): State<RegistryState>,
    Path(id): Path<String>,
    Extension(_access): Extension<Access>,
    authenticated: Option<Extension<Arc<Entry>>>,
) -> Response {
    let looked_up = match authenticated {
        Some(Extension(entry)) => Ok(Some(entry)),
        None => state.lookup(&id).await,
    };
    match looked_up {
        Ok(Some(entry)) => match &entry.ok_body {
            Some(body) => {
                let mut response = Response::new(Body::from(body.clone()));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
            None => status_body(StatusCode::NOT_FOUND, "not_found"),
        },
        Ok(None) => status_body(StatusCode::NOT_FOUND, "not_found"),
        Err(error) => store_failure(&error, "get_settings"),
    }
}

async fn put_settings(
    State(state): State<RegistryState>,
    Path(id): Path<String>,
    Extension(access): Extension<Access>,
    body: Body,
) -> Response {
    if access != Access::Operator {
        return access_denied();
    }
    let limit = state.inner.body_limit;
    let body = match read_body(body, limit).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => return too_large(limit),
        Err(BodyError::Timeout) => {
            return (
                StatusCode::REQUEST_TIMEOUT,
                Json(json!({ "status": "timeout", "error": "request body not received in time" })),
            )
                .into_response();
        }
        Err(BodyError::Broken(reason)) => return bad_request(reason),
    };
    let settings = match std::str::from_utf8(&body) {
        Ok(text) => text,
        Err(_) => return bad_request("settings must be UTF-8 JSON".to_string()),
    };
    let parsed: serde_json::Value = match serde_json::from_str(settings) {
        Ok(value) => value,
        Err(error) => return bad_request(format!("settings are not valid JSON: {error}")),
    };
    let agent_id = parsed
        .get("agent_id")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_string();
    // Keep the stemcell api_version the CPI recorded; the HTTP API does not carry it.
    let stemcell_api_version = match state.inner.store.get_settings(&id).await {
        Ok(existing) => existing.and_then(|record| record.stemcell_api_version),
        Err(error) => return store_failure(&error, "put_settings"),
    };
    let record = NewVmSettings {
        vm_cid: id.clone(),
        agent_id,
        settings: settings.to_string(),
        stemcell_api_version,
    };
    let stored = state.inner.store.put_settings(&record).await;
    state.invalidate(&id);
    match stored {
        Ok(()) => {
            tracing::info!(instance = %id, bytes = body.len(), "Registry settings stored.");
            status_body(StatusCode::OK, "ok")
        }
        Err(error) => store_failure(&error, "put_settings"),
    }
}

/// How much of an oversized body is read and thrown away before answering 413. Closing a
/// socket with unread data makes the kernel send a reset, and a client still uploading then
/// sees "connection reset" instead of our 413; draining a bounded amount first (as nginx's
/// lingering close does) lets ordinary clients read the answer. Only authenticated operator
/// requests get this far, and the drain is bounded in bytes and time.
const OVERSIZE_DRAIN_BYTES: usize = 32 * 1024 * 1024;

/// Longest time to wait for a complete request body.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

enum BodyError {
    TooLarge,
    Timeout,
    Broken(String),
}

/// Reads at most `limit` bytes of `body`. See [`OVERSIZE_DRAIN_BYTES`] for what happens to
/// larger bodies.
async fn read_body(mut body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let drain_limit = limit.saturating_add(OVERSIZE_DRAIN_BYTES);
    if usize::try_from(body.size_hint().lower()).unwrap_or(usize::MAX) > drain_limit {
        return Err(BodyError::TooLarge);
    }
    let deadline = tokio::time::Instant::now() + BODY_TIMEOUT;
    let mut collected: Vec<u8> = Vec::new();
    let mut total: usize = 0;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) if total > limit => return Err(BodyError::TooLarge),
            Err(_) => return Err(BodyError::Timeout),
            Ok(None) => break,
            Ok(Some(Err(error))) => {
                return Err(BodyError::Broken(format!(
                    "cannot read request body: {error}"
                )));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            total = total.saturating_add(data.len());
            if total <= limit {
                collected.extend_from_slice(&data);
            } else if total > drain_limit {
                return Err(BodyError::TooLarge);
            }
        }
    }
    if total > limit {
        return Err(BodyError::TooLarge);
    }
    Ok(Bytes::from(collected))
}

fn too_large(limit: usize) -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        Json(json!({
            "status": "too_large",
            "error": format!("request body exceeds {limit} bytes"),
        })),
    )
        .into_response()
}

async fn delete_settings(
    State(state): State<RegistryState>,
    Path(id): Path<String>,
    Extension(access): Extension<Access>,
) -> Response {
    if access != Access::Operator {
        return access_denied();
    }
    let deleted = state.inner.store.delete_settings(&id).await;
    state.invalidate(&id);
    match deleted {
        Ok(existed) => {
            tracing::info!(instance = %id, existed, "Registry settings deleted.");
            status_body(StatusCode::OK, "ok")
        }
        Err(error) => store_failure(&error, "delete_settings"),
    }
}

async fn healthz(State(state): State<RegistryState>) -> Response {
    match state.inner.store.ping().await {
        Ok(()) => status_body(StatusCode::OK, "ok"),
        Err(error) => {
            tracing::warn!(%error, "Registry health check failed.");
            status_body(StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
    }
}

async fn metrics_text(State(state): State<RegistryState>) -> Response {
    let text = state.inner.metrics.handle().render();
    let mut response = Response::new(Body::from(text));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

/// Counts every response by route, method and status, and logs it.
async fn observe(State(state): State<RegistryState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |path| path.as_str().to_string());
    let method = request.method().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    tracing::debug!(
        route,
        method,
        status,
        elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "Registry request served."
    );
    let labels = [
        ("route", route),
        ("method", method),
        ("status", status.to_string()),
    ];
    metrics::with_local_recorder(&state.inner.metrics, || {
        metrics::counter!("registry_requests_total", &labels).increment(1);
    });
    response
}
