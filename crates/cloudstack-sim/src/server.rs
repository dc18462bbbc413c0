//! HTTP front end: `/client/api` (authentication, throttling, faults, envelopes), the upload
//! endpoint and the `/sim/*` admin endpoints.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::api::{self, Caller, Ctx};
use crate::clock::Clock;
use crate::error::ApiError;
use crate::faults::{Fault, FaultTable, Throttle};
use crate::model::{Template, World, ids};
use crate::params::Params;
use crate::signing;

/// Largest `/client/api` request body (user data may be 1 MiB decoded).
const MAX_API_BODY: usize = 4 * 1024 * 1024;
/// Largest admin request body.
const MAX_ADMIN_BODY: usize = 64 * 1024;

/// One API key pair.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// API key.
    pub api_key: String,
    /// Secret key (never logged).
    pub secret: SecretString,
    /// The caller it authenticates as.
    pub caller: Caller,
}

/// Runtime settings of a running emulator.
#[derive(Debug)]
pub struct Runtime {
    /// Accepted key pairs.
    pub credentials: Vec<Credentials>,
    /// Async job duration.
    pub job_duration: Duration,
    /// Expunge delay after destroy.
    pub expunge_delay: Duration,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Where to persist the world, if anywhere.
    pub state_file: Option<PathBuf>,
    /// Largest accepted upload body.
    pub max_upload_bytes: usize,
    /// Key for upload signatures.
    pub upload_key: [u8; 32],
}

/// State shared by all handlers and the library handle.
#[derive(Debug)]
pub struct Shared {
    world: Mutex<World>,
    faults: Mutex<FaultTable>,
    throttle: Mutex<Throttle>,
    calls: Mutex<BTreeMap<String, u64>>,
    /// Settings.
    pub runtime: Runtime,
    /// `http://host:port`, set once bound.
    pub base_url: String,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the world half-updated in a way that
    // matters more than stopping the emulator would, so recover the guard.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// Creates the shared state.
    pub fn new(world: World, runtime: Runtime, base_url: String) -> Self {
        Self {
            world: Mutex::new(world),
            faults: Mutex::new(FaultTable::default()),
            throttle: Mutex::new(Throttle::default()),
            calls: Mutex::new(BTreeMap::new()),
            runtime,
            base_url,
        }
    }

    fn now_ms(&self) -> u64 {
        self.runtime.clock.now_ms()
    }

    fn expunge_delay_ms(&self) -> u64 {
        u64::try_from(self.runtime.expunge_delay.as_millis()).unwrap_or(u64::MAX)
    }

    /// A copy of the world after applying due jobs and expunges.
    pub fn snapshot(&self) -> World {
        let mut world = lock(&self.world);
        api::advance(&mut world, self.now_ms(), self.expunge_delay_ms());
        world.clone()
    }

    /// Runs `f` on the world (after advancing time).
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let mut world = lock(&self.world);
        api::advance(&mut world, self.now_ms(), self.expunge_delay_ms());
        f(&mut world)
    }

    /// Updates a template; false when it no longer exists.
    pub fn update_template(&self, id: &str, f: impl FnOnce(&mut Template)) -> bool {
        let mut world = lock(&self.world);
        match world.templates.iter_mut().find(|t| t.id == id) {
            Some(t) => {
                f(t);
                true
            }
            None => false,
        }
    }

    /// Whether a template still exists.
    pub fn template_exists(&self, id: &str) -> bool {
        lock(&self.world).templates.iter().any(|t| t.id == id)
    }

    /// `max.template.iso.size`.
    pub fn max_template_size(&self) -> u64 {
        lock(&self.world).settings.max_template_size_bytes
    }

    /// Calls accepted for `command`.
    pub fn calls(&self, command: &str) -> u64 {
        lock(&self.calls).get(command).copied().unwrap_or(0)
    }

    /// All call counters.
    pub fn all_calls(&self) -> BTreeMap<String, u64> {
        lock(&self.calls).clone()
    }

    /// Adds a fault.
    pub fn inject(&self, fault: Fault) -> Result<(), String> {
        lock(&self.faults).add(fault)
    }

    /// Removes all faults.
    pub fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    /// Turns throttling on or off.
    pub fn set_throttle(&self, enabled: bool) {
        lock(&self.throttle).enabled = enabled;
    }

    /// Writes the world to the state file, if configured.
    pub async fn persist(&self) -> Result<(), crate::SimError> {
        let Some(path) = self.runtime.state_file.clone() else {
            return Ok(());
        };
        let text = {
            let world = lock(&self.world);
            serde_json::to_vec_pretty(&*world).map_err(|source| crate::SimError::Json {
                path: path.display().to_string(),
                source,
            })?
        };
        let tmp = path.with_extension("tmp");
        let io = |source| crate::SimError::Io {
            path: path.display().to_string(),
            source,
        };
        tokio::fs::write(&tmp, text).await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)
    }
}

/// Builds the router.
pub fn router(shared: Arc<Shared>) -> Router {
    let max_upload = shared.runtime.max_upload_bytes;
    let api = Router::new()
        .route("/client/api", get(api_handler).post(api_handler))
        .layer(DefaultBodyLimit::max(MAX_API_BODY));
    let upload = Router::new()
        .route("/upload/{template_id}", post(upload_handler))
        .layer(DefaultBodyLimit::max(max_upload));
    let admin = Router::new()
        .route("/sim/state", get(state_handler))
        .route("/sim/calls", get(calls_handler))
        .route(
            "/sim/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/sim/throttle", post(throttle_handler))
        .layer(DefaultBodyLimit::max(MAX_ADMIN_BODY));
    api.merge(upload).merge(admin).with_state(shared)
}

fn response_key(command: Option<&str>) -> String {
    match command.and_then(api::lookup_command) {
        Some((name, _)) => format!("{}response", name.to_lowercase()),
        None => "errorresponse".to_owned(),
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    response
}

fn error_response(command: Option<&str>, error: &ApiError) -> Response {
    let status = StatusCode::from_u16(error.errorcode).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({ response_key(command): error.body() });
    let mut response = json_response(status, &body);
    // Header values must be visible ASCII; replace anything else so the header is always valid.
    let description: String = error
        .errortext
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if let Ok(value) = HeaderValue::from_str(&description) {
        response.headers_mut().insert("X-Description", value);
    }
    response
}

fn decode_pairs(raw: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn dropped_connection() -> Response {
    // An erroring body makes hyper abort the connection without a complete answer.
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other(
            "connection dropped by fault injection",
        ))
    });
    Response::new(Body::from_stream(stream))
}

async fn api_handler(
    State(shared): State<Arc<Shared>>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut pairs = decode_pairs(query.as_deref().unwrap_or("").as_bytes());
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if method == Method::POST && is_form {
        pairs.extend(decode_pairs(&body));
    }
    let command = pairs
        .iter()
        .find(|(k, _)| k == "command")
        .map(|(_, v)| v.clone());
    let caller = match authenticate(&shared, command.as_deref(), &pairs) {
        Ok(caller) => caller,
        Err(error) => {
            tracing::info!(command = ?command, errorcode = error.errorcode, "request rejected");
            return error_response(command.as_deref(), &error);
        }
    };
    // `authenticate` has checked that the command exists.
    let command = command.unwrap_or_default();
    *lock(&shared.calls).entry(command.clone()).or_insert(0) += 1;

    let now = shared.now_ms();
    let max_per_second = lock(&shared.world).settings.throttling_max_per_second;
    if let Some(retry) = lock(&shared.throttle).check(&caller.account_id, now, max_per_second) {
        return error_response(Some(&command), &ApiError::throttled(retry));
    }
    let planned = lock(&shared.faults).take(&command);
    if !planned.latency.is_zero() {
        tokio::time::sleep(planned.latency).await;
    }
    if planned.drop {
        tracing::info!(command = %command, "fault: dropping connection");
        return dropped_connection();
    }
    if let Some(status) = planned.http {
        tracing::info!(command = %command, status, "fault: forced HTTP error");
        let error = if status == 429 {
            ApiError::throttled(1000)
        } else {
            ApiError::new(
                status,
                9999,
                format!("Injected fault: HTTP {status} for {command}"),
            )
        };
        return error_response(Some(&command), &error);
    }
    if let Some((name, _)) = pairs.iter().find(|(_, v)| {
        v.chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    }) {
        let error = ApiError::param(format!(
            "Received value for parameter {name} contains a control character, which is not allowed"
        ));
        return error_response(Some(&command), &error);
    }

    let params = Params::new(&command, pairs);
    let upload_base = format!("{}/upload", shared.base_url);
    let job_fault = planned
        .job_failure
        .filter(|_| api::lookup_command(&command).is_some_and(|(_, is_async)| is_async));
    let result = shared.with_world(|world| {
        let ctx = Ctx {
            caller: &caller,
            now_ms: now,
            job_duration_ms: u64::try_from(shared.runtime.job_duration.as_millis())
                .unwrap_or(u64::MAX),
            job_fault,
            is_get: method == Method::GET,
            upload_base: &upload_base,
            upload_key: &shared.runtime.upload_key,
        };
        let result = api::dispatch(world, &ctx, &params);
        let download = result.as_ref().ok().and_then(|o| {
            let id = o.start_download.clone()?;
            let t = world.templates.iter().find(|t| t.id == id)?;
            Some((id, t.url.clone(), t.checksum.clone()))
        });
        (result, download)
    });
    let (result, download) = result;
    match result {
        Ok(outcome) => {
            if let Some((id, url, checksum)) = download {
                tokio::spawn(crate::download::run(shared.clone(), id, url, checksum));
            }
            if !api::is_read_only(&command)
                && let Err(e) = shared.persist().await
            {
                tracing::warn!(error = %e, "could not save state");
            }
            tracing::debug!(command = %command, "command succeeded");
            json_response(
                StatusCode::OK,
                &json!({ response_key(Some(&command)): outcome.body }),
            )
        }
        Err(error) => {
            tracing::info!(command = %command, errorcode = error.errorcode, errortext = %error.errortext, "command failed");
            error_response(Some(&command), &error)
        }
    }
}

/// `ApiServer.verifyRequest`: command known, key and signature present, expiry (version 3),
/// key known, signature valid. Every failure is the same 401 text except unknown commands.
fn authenticate(
    shared: &Shared,
    command: Option<&str>,
    pairs: &[(String, String)],
) -> Result<Caller, ApiError> {
    let Some(command) = command else {
        return Err(ApiError::unauthorized());
    };
    if api::lookup_command(command).is_none() {
        return Err(ApiError::unknown_command(command));
    }
    let find = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let (Some(api_key), Some(signature)) = (find("apikey"), find("signature")) else {
        return Err(ApiError::unauthorized());
    };
    if find("signatureversion") == Some("3") {
        let expires = find("expires").ok_or_else(ApiError::unauthorized)?;
        let deadline = signing::parse_expires(expires).ok_or_else(ApiError::unauthorized)?;
        let now_ns = i128::from(shared.now_ms()) * 1_000_000;
        if deadline.unix_timestamp_nanos() < now_ns {
            tracing::info!(command, "request expired");
            return Err(ApiError::unauthorized());
        }
    }
    let credentials = shared
        .runtime
        .credentials
        .iter()
        .find(|c| c.api_key == api_key)
        .ok_or_else(ApiError::unauthorized)?;
    if !signing::verify_signature(
        credentials.secret.expose_secret().as_bytes(),
        pairs,
        signature,
    ) {
        tracing::info!(command, "signature mismatch");
        return Err(ApiError::unauthorized());
    }
    Ok(credentials.caller.clone())
}

fn plain(status: StatusCode, text: impl Into<String>) -> Response {
    (status, text.into()).into_response()
}

async fn upload_handler(
    State(shared): State<Arc<Shared>>,
    Path(template_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header_str = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let post_url = format!("{}/upload/{template_id}", shared.base_url);
    if let Err(e) = crate::upload::verify_headers(
        &shared.runtime.upload_key,
        &post_url,
        &template_id,
        header_str("X-signature"),
        header_str("X-metadata"),
        header_str("X-expires"),
        shared.now_ms(),
    ) {
        tracing::info!(template_id = %template_id, error = %e, "upload refused");
        let status = match e {
            crate::upload::UploadError::MissingHeaders => StatusCode::BAD_REQUEST,
            _ => StatusCode::FORBIDDEN,
        };
        return plain(status, e.to_string());
    }
    let awaiting = shared.with_world(|w| {
        w.templates
            .iter()
            .any(|t| t.id == template_id && t.download_state == "NOT_UPLOADED")
    });
    if !awaiting {
        return plain(
            StatusCode::BAD_REQUEST,
            crate::upload::UploadError::NotAwaiting(template_id).to_string(),
        );
    }
    let content_type = header_str("content-type").unwrap_or("");
    let file = match crate::upload::extract_file(content_type, &body) {
        Ok(file) if !file.is_empty() => file,
        Ok(_) => return plain(StatusCode::BAD_REQUEST, "the uploaded file is empty"),
        Err(e) => return plain(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let size = file.len() as u64;
    shared.update_template(&template_id, |t| {
        t.size = size;
        t.status = "Download Complete".into();
        t.download_state = "DOWNLOADED".into();
        t.download_percent = 100;
        t.isready = true;
    });
    tracing::info!(template_id = %template_id, size, "template uploaded");
    if let Err(e) = shared.persist().await {
        tracing::warn!(error = %e, "could not save state");
    }
    plain(StatusCode::OK, "upload successful")
}

async fn state_handler(State(shared): State<Arc<Shared>>) -> Response {
    match serde_json::to_value(shared.snapshot()) {
        Ok(value) => json_response(StatusCode::OK, &value),
        Err(e) => plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn calls_handler(State(shared): State<Arc<Shared>>) -> Response {
    json_response(StatusCode::OK, &json!(shared.all_calls()))
}

async fn list_faults(State(shared): State<Arc<Shared>>) -> Response {
    json_response(StatusCode::OK, &json!(lock(&shared.faults).list()))
}

async fn add_fault(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let fault: Fault = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return plain(StatusCode::BAD_REQUEST, format!("invalid fault JSON: {e}")),
    };
    match shared.inject(fault) {
        Ok(()) => plain(StatusCode::NO_CONTENT, ""),
        Err(e) => plain(StatusCode::BAD_REQUEST, e),
    }
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> Response {
    shared.clear_faults();
    plain(StatusCode::NO_CONTENT, "")
}

#[derive(serde::Deserialize)]
struct ThrottleRequest {
    enabled: bool,
}

async fn throttle_handler(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<ThrottleRequest>(&body) {
        Ok(req) => {
            shared.set_throttle(req.enabled);
            plain(StatusCode::NO_CONTENT, "")
        }
        Err(e) => plain(
            StatusCode::BAD_REQUEST,
            format!("expected {{\"enabled\": bool}}: {e}"),
        ),
    }
}

/// The two accounts every emulator has.
pub fn default_callers() -> (Caller, Caller) {
    (
        Caller {
            account_id: ids::USER_ACCOUNT.into(),
            user_id: ids::USER_USER.into(),
            is_admin: false,
        },
        Caller {
            account_id: ids::ADMIN_ACCOUNT.into(),
            user_id: ids::ADMIN_USER.into(),
            is_admin: true,
        },
    )
}
