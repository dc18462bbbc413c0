//! The stemcell store: a WebDAV tree under `<state_dir>/stemcells` that CloudStack's secondary
//! storage VM (SSVM) downloads stemcell images from.
//!
//! Two doors lead into it:
//! - **WebDAV** (dav-server: PROPFIND, MKCOL, COPY, MOVE, LOCK, PUT, DELETE, GET) at `/`, for
//!   operators and tools. Every WebDAV request needs the `webdav` basic credential; without a
//!   configured credential the WebDAV side is closed.
//! - **Signed downloads** at `/signed/<path>?expires=<unix>&signature=<base64url>`, for the SSVM,
//!   which cannot authenticate: GET (200 with `Content-Length`, `Range` → 206) and HEAD only.
//!   URLs are unguessable (HMAC-SHA256 with a per-store random key) and expire.
//!
//! Invariants:
//! - Every outside path goes through [`paths::relative_path`]; `..`, absolute, hidden and
//!   doubly-encoded paths are refused, and symlinks are never followed out of the tree.
//! - Imports land atomically (hard link, or copy into a staging directory outside the tree and
//!   rename), so the store never serves a half-written image.
//! - The password, the signing key and signatures never appear in logs, errors or `Debug`.

mod auth;
mod dav;
mod import;
pub mod paths;
mod signing;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use dav_server::DavHandler;
use dav_server::memls::MemLs;
use http::{StatusCode, header};
use tower::ServiceExt as _;
use tower_http::services::ServeFile;
use url::Url;

pub use auth::Credentials;
pub use import::{ImportMethod, ImportMode};
pub use signing::SignatureError;

/// Chunk size of signed downloads: big chunks keep the per-chunk overhead (a blocking-pool
/// round trip) low enough to stay close to nginx's `sendfile` throughput.
const DOWNLOAD_CHUNK: usize = 1024 * 1024;

/// Everything the store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StemcellStoreError {
    #[error("invalid store path '{path}': {reason}")]
    InvalidPath { path: String, reason: String },
    #[error("{during}: {source}")]
    Io {
        during: String,
        source: std::io::Error,
    },
    #[error("{0} already exists in the stemcell store")]
    AlreadyExists(PathBuf),
    #[error("the stemcell image {0} is not a regular file")]
    NotAFile(PathBuf),
    #[error("the URL signing key {path} is corrupt (expected 32 bytes); delete it to rotate")]
    InvalidKey { path: PathBuf },
    #[error(
        "webdav.public_url is not set: CloudStack has no URL to download stemcells from (set it, or use cloudstack.stemcell.publish_mode: upload)"
    )]
    NoPublicUrl,
    #[error("webdav.public_url '{0}' cannot be a base URL")]
    BadPublicUrl(String),
}

/// A file brought into the store by [`StemcellStore::import`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedFile {
    /// Store-relative path, e.g. `bosh-ubuntu-jammy-1-0a1b2c3d.vhd.bz2`.
    pub path: String,
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
    pub method: ImportMethod,
}

/// A regular file found in the store by [`StemcellStore::list_files`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub path: String,
    pub size: u64,
    pub modified: SystemTime,
}

/// The store: its directory, its public URL, its credential and its URL signer.
#[derive(Debug)]
pub struct StemcellStore {
    root: PathBuf,
    staging: PathBuf,
    public_url: Option<Url>,
    credentials: Option<Credentials>,
    url_ttl: Duration,
    signer: signing::UrlSigner,
}

impl StemcellStore {
    /// Opens (creating if needed) the store rooted at `root`, e.g. `<state_dir>/stemcells`. The
    /// staging directory and the signing key live next to it, outside the served tree:
    /// `<root>.staging/` and `<root>.url-key`.
    pub fn new(
        root: impl Into<PathBuf>,
        public_url: Option<Url>,
        credentials: Option<Credentials>,
        url_ttl: Duration,
    ) -> Result<Self, StemcellStoreError> {
        let root: PathBuf = root.into();
        if let Some(url) = &public_url
            && url.cannot_be_a_base()
        {
            return Err(StemcellStoreError::BadPublicUrl(url.to_string()));
        }
        let sibling = |suffix: &str| {
            let mut name = root.file_name().unwrap_or_default().to_os_string();
            name.push(suffix);
            root.with_file_name(name)
        };
        let staging = sibling(".staging");
        for dir in [&root, &staging] {
            create_private_dir(dir)?;
        }
        let signer = signing::UrlSigner::load_or_create(&sibling(".url-key"))?;
        if credentials.is_none() {
            tracing::warn!(root = %root.display(), "webdav.user/password are not set: the WebDAV side of the stemcell store is closed; only signed downloads are served");
        }
        Ok(Self {
            root,
            staging,
            public_url,
            credentials,
            url_ttl,
            signer,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn url_ttl(&self) -> Duration {
        self.url_ttl
    }

    pub fn has_public_url(&self) -> bool {
        self.public_url.is_some()
    }

    /// The absolute path of a store path, refusing traversal.
    pub fn absolute(&self, path: &str) -> Result<PathBuf, StemcellStoreError> {
        Ok(self.root.join(paths::relative_path(path)?))
    }

    /// Brings `image` into the store as `name` (hard link or streamed copy) and returns its
    /// size and SHA-256.
    pub async fn import(
        &self,
        image: &Path,
        name: &str,
    ) -> Result<ImportedFile, StemcellStoreError> {
        self.import_with(image, name, ImportMode::Auto).await
    }

    /// [`Self::import`] with an explicit [`ImportMode`].
    pub async fn import_with(
        &self,
        image: &Path,
        name: &str,
        mode: ImportMode,
    ) -> Result<ImportedFile, StemcellStoreError> {
        let dest = self.absolute(name)?;
        if let Some(parent) = dest.parent() {
            create_private_dir(parent)?;
        }
        let (source, staging, target) = (image.to_path_buf(), self.staging.clone(), dest);
        let started = std::time::Instant::now();
        let imported =
            tokio::task::spawn_blocking(move || import::import(&source, &target, &staging, mode))
                .await
                .map_err(|join| StemcellStoreError::Io {
                    during: "importing the stemcell image".to_owned(),
                    source: std::io::Error::other(join.to_string()),
                })??;
        tracing::info!(
            path = name,
            size = imported.size,
            method = ?imported.method,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "stemcell image imported into the store"
        );
        Ok(ImportedFile {
            path: name.to_owned(),
            size: imported.size,
            sha256: imported.sha256,
            method: imported.method,
        })
    }

    /// A signed download URL for `path`, valid for the store's URL TTL.
    pub fn signed_url(&self, path: &str) -> Result<Url, StemcellStoreError> {
        let expires = signing::unix_now().saturating_add(self.url_ttl.as_secs());
        self.signed_url_until(path, expires)
    }

    /// A signed download URL for `path` valid until `expires` (Unix seconds).
    pub fn signed_url_until(&self, path: &str, expires: u64) -> Result<Url, StemcellStoreError> {
        paths::relative_path(path)?;
        let base = self
            .public_url
            .as_ref()
            .ok_or(StemcellStoreError::NoPublicUrl)?;
        let mut url = base.clone();
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| StemcellStoreError::BadPublicUrl(base.to_string()))?;
            segments.pop_if_empty().push("signed");
            for segment in path.split('/') {
                segments.push(segment);
            }
        }
        url.query_pairs_mut()
            .clear()
            .append_pair("expires", &expires.to_string())
            .append_pair("signature", &self.signer.sign(path, expires));
        Ok(url)
    }

    /// Checks a signed request for `path` (what the `/signed/` route does).
    pub fn verify(&self, path: &str, expires: u64, signature: &str) -> Result<(), SignatureError> {
        self.signer
            .verify(path, expires, signature, signing::unix_now())
    }

    /// Removes a store file. Returns whether it existed. Empty parent directories are left:
    /// the CPI writes at the top level, and operators own any subdirectories.
    pub async fn remove(&self, path: &str) -> Result<bool, StemcellStoreError> {
        remove_if_present(&self.absolute(path)?).await
    }

    /// Every regular file of the store (recursively), plus leftovers in the staging directory
    /// (reported with a path starting with `.staging/`, which only [`Self::remove_staged`]
    /// accepts). Symlinks are skipped. For the garbage collector.
    pub async fn list_files(&self) -> Result<Vec<StoredFile>, StemcellStoreError> {
        let root = self.root.clone();
        let staging = self.staging.clone();
        tokio::task::spawn_blocking(move || {
            let mut files = Vec::new();
            walk(&root, "", &mut files)?;
            let mut staged = Vec::new();
            walk(&staging, "", &mut staged)?;
            files.extend(staged.into_iter().map(|mut f| {
                f.path = format!(".staging/{}", f.path);
                f
            }));
            Ok(files)
        })
        .await
        .map_err(|join| StemcellStoreError::Io {
            during: "listing the stemcell store".to_owned(),
            source: std::io::Error::other(join.to_string()),
        })?
    }

    /// Removes a leftover staging file reported by [`Self::list_files`].
    pub async fn remove_staged(&self, listed: &str) -> Result<bool, StemcellStoreError> {
        let name = listed.strip_prefix(".staging/").unwrap_or(listed);
        remove_if_present(&self.staging.join(paths::relative_path(name)?)).await
    }

    /// Opens a store file for reading (direct upload streams it to the SSVM).
    pub async fn open(&self, path: &str) -> Result<tokio::fs::File, StemcellStoreError> {
        let absolute = self.absolute(path)?;
        tokio::fs::File::open(&absolute)
            .await
            .map_err(|source| StemcellStoreError::Io {
                during: format!("opening {}", absolute.display()),
                source,
            })
    }
}

/// Removes a file; returns whether it existed.
async fn remove_if_present(absolute: &Path) -> Result<bool, StemcellStoreError> {
    match tokio::fs::remove_file(absolute).await {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(StemcellStoreError::Io {
            during: format!("removing {}", absolute.display()),
            source,
        }),
    }
}

fn create_private_dir(dir: &Path) -> Result<(), StemcellStoreError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|source| StemcellStoreError::Io {
            during: format!("creating {}", dir.display()),
            source,
        })
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<StoredFile>) -> Result<(), StemcellStoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(StemcellStoreError::Io {
                during: format!("listing {}", dir.display()),
                source,
            });
        }
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            walk(&entry.path(), &path, out)?;
        } else if file_type.is_file()
            && let Ok(metadata) = entry.metadata()
        {
            out.push(StoredFile {
                path,
                size: metadata.len(),
                modified: metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            });
        }
    }
    Ok(())
}

#[derive(Clone)]
struct AppState {
    store: Arc<StemcellStore>,
    dav: DavHandler,
}

/// The store's HTTP routes: `/signed/*` for the SSVM, everything else WebDAV.
pub fn router(store: Arc<StemcellStore>) -> Router {
    let dav = DavHandler::builder()
        .filesystem(dav::PropFs::new(&store.root))
        .locksystem(MemLs::new())
        .hide_symlinks(true)
        .autoindex(true)
        .build_handler();
    Router::new()
        .route(
            "/signed/{*path}",
            axum::routing::get(signed_download).fallback(method_not_allowed),
        )
        .fallback(webdav)
        .with_state(AppState { store, dav })
}

/// Serves [`router`] on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<StemcellStore>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let address = listener.local_addr()?;
    tracing::info!(%address, root = %store.root.display(), "stemcell store listening");
    axum::serve(listener, router(store))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "GET, HEAD")],
        "signed URLs allow GET and HEAD only\n",
    )
        .into_response()
}

async fn signed_download(State(state): State<AppState>, request: Request) -> Response {
    let raw_path = request
        .uri()
        .path()
        .strip_prefix("/signed/")
        .unwrap_or_default();
    let checked =
        percent_decode(raw_path).and_then(|path| Some((paths::relative_path(&path).ok()?, path)));
    let Some((relative, path)) = checked else {
        tracing::warn!(path = raw_path, "signed download refused: invalid path");
        return (StatusCode::BAD_REQUEST, "invalid path\n").into_response();
    };
    let (mut expires, mut signature) = (None, None);
    for (key, value) in url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
    {
        match key.as_ref() {
            "expires" => expires = value.parse::<u64>().ok(),
            "signature" => signature = Some(value.into_owned()),
            _ => {}
        }
    }
    let (Some(expires), Some(signature)) = (expires, signature) else {
        tracing::warn!(path, "signed download refused: no valid expires/signature");
        return (StatusCode::FORBIDDEN, "a valid signed URL is required\n").into_response();
    };
    if let Err(error) = state.store.verify(&path, expires, &signature) {
        // The signature itself is never logged.
        tracing::warn!(path, reason = ?error, "signed download refused");
        return (StatusCode::FORBIDDEN, "the URL is expired or not valid\n").into_response();
    }
    let absolute = state.store.root.join(relative);
    // Only regular files, and never through a symlink: the tree holds none the CPI made, so
    // one is either an operator's mistake or an escape attempt.
    match tokio::fs::symlink_metadata(&absolute).await {
        Ok(metadata) if metadata.is_file() => {}
        _ => return (StatusCode::NOT_FOUND, "no such file\n").into_response(),
    }
    let range = request.headers().get(header::RANGE).cloned();
    tracing::debug!(path, method = %request.method(), range = ?range, "signed download");
    match ServeFile::new(&absolute)
        .with_buf_chunk_size(DOWNLOAD_CHUNK)
        .oneshot(request)
        .await
    {
        Ok(response) => response.map(Body::new),
        Err(error) => {
            tracing::warn!(path, error = %error, "signed download failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "read error\n").into_response()
        }
    }
}

fn percent_decode(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

async fn webdav(State(state): State<AppState>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let Some(credentials) = &state.store.credentials else {
        tracing::warn!(%method, path, "WebDAV request refused: no webdav credential is configured");
        return (
            StatusCode::FORBIDDEN,
            "the WebDAV store is closed: set webdav.user and webdav.password\n",
        )
            .into_response();
    };
    if !credentials.accepts(request.headers()) {
        tracing::info!(%method, path, "WebDAV request refused: missing or wrong credential");
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"stemcells\"")],
            "authentication required\n",
        )
            .into_response();
    }
    let response = state.dav.handle(request).await;
    let status = response.status();
    // Reads are routine and chatty; changes are what an operator wants in the log.
    if matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS" | "PROPFIND") {
        tracing::debug!(%method, path, status = status.as_u16(), "WebDAV request");
    } else {
        tracing::info!(%method, path, status = status.as_u16(), user = credentials.user(), "WebDAV request");
    }
    response.map(Body::new)
}
