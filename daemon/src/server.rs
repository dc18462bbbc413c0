//! The daemon's listeners: the Unix socket the shim connects to, and an optional loopback TCP
//! listener for the director's BPM sandbox, which shares only the network with the host.
//!
//! Framing mirrors a CPI executable's stdin/stdout: the client writes one request and
//! half-closes; the daemon reads to EOF, answers with one response line, and closes.
//!
//! Shutdown protocol: the `shutdown` token (SIGTERM, SIGINT, or the idle timer) stops the accept
//! loop; the listeners are dropped and the socket file removed, so new shims fail fast (or
//! autostart a fresh daemon); requests in flight then get `shutdown_deadline` to finish, after
//! which the process exits and their clients see a truncated reply.

use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use cpi_protocol::MAX_REQUEST_BYTES;

use cpi_actions::Cpi;

use crate::dispatch::handle_request;

/// The shim writes its whole request at once; a client that trickles for longer is broken.
const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Nobody reads the reply after this long; the director would have given up on the process.
const REPLY_WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// How the server listens and when it stops.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub unix_socket: PathBuf,
    pub tcp_listen: Option<SocketAddr>,
    /// Exit after this long without requests; `None` means never.
    pub idle_timeout: Option<Duration>,
    /// How long requests in flight may run after shutdown begins.
    pub shutdown_deadline: Duration,
    /// Most requests handled at once; further connections wait in the listen backlog.
    pub max_connections: usize,
}

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("another cpid is already listening on {0}")]
    AlreadyRunning(PathBuf),
    #[error("cannot prepare socket directory {path}: {source}")]
    SocketDirectory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot remove the stale socket {path}: {source}")]
    StaleSocket {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on unix socket {path}: {source}")]
    BindUnix {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on tcp address {address}: {source}")]
    BindTcp {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("daemon.listen {0} is not a loopback address")]
    NotLoopback(SocketAddr),
}

/// Removes the socket file when the server stops, however it stops.
#[derive(Debug)]
struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_file(&self.0)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.0.display(), %error, "Could not remove the socket file.");
        }
    }
}

/// A bound server, ready to run.
#[derive(Debug)]
pub struct Server {
    unix: UnixListener,
    tcp: Option<TcpListener>,
    socket_file: SocketFile,
    /// Peers must run as this user (the daemon's own) or as root.
    owner_uid: u32,
    options: ServerOptions,
}

impl Server {
    /// Binds the listeners. A socket file left by a dead daemon is replaced; a live one is not.
    pub async fn bind(options: ServerOptions) -> Result<Server, ServerError> {
        let path = options.unix_socket.clone();
        if let Some(directory) = path.parent() {
            std::fs::create_dir_all(directory).map_err(|source| ServerError::SocketDirectory {
                path: directory.to_owned(),
                source,
            })?;
        }
        if path.exists() {
            if UnixStream::connect(&path).await.is_ok() {
                return Err(ServerError::AlreadyRunning(path));
            }
            std::fs::remove_file(&path).map_err(|source| ServerError::StaleSocket {
                path: path.clone(),
                source,
            })?;
        }
        let unix = UnixListener::bind(&path).map_err(|source| ServerError::BindUnix {
            path: path.clone(),
            source,
        })?;
        let socket_file = SocketFile(path.clone());
        // Group members may call the CPI (the director's worker runs as vcap in group vcap);
        // nobody else may even connect.
        let bind_error = |source| ServerError::BindUnix {
            path: path.clone(),
            source,
        };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660))
            .map_err(bind_error)?;
        let owner_uid = std::fs::metadata(&path).map_err(bind_error)?.uid();
        let tcp = match options.tcp_listen {
            None => None,
            Some(address) if !address.ip().is_loopback() => {
                return Err(ServerError::NotLoopback(address));
            }
            Some(address) => Some(
                TcpListener::bind(address)
                    .await
                    .map_err(|source| ServerError::BindTcp { address, source })?,
            ),
        };
        Ok(Server {
            unix,
            tcp,
            socket_file,
            owner_uid,
            options,
        })
    }

    /// Serves until `shutdown` is cancelled or the idle timeout passes, then drains.
    pub async fn run(self, cpi: Arc<Cpi>, shutdown: CancellationToken) {
        let Server {
            unix,
            tcp,
            socket_file,
            owner_uid,
            options,
        } = self;
        tracing::info!(
            socket = %socket_file.0.display(),
            tcp = ?tcp.as_ref().and_then(|l| l.local_addr().ok()),
            idle_timeout_seconds = options.idle_timeout.map(|d| d.as_secs()),
            "Listening."
        );
        let tracker = TaskTracker::new();
        let permits = Arc::new(Semaphore::new(options.max_connections.max(1)));
        let last_activity = Arc::new(Mutex::new(Instant::now()));
        loop {
            let permit = tokio::select! {
                () = shutdown.cancelled() => break,
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    // The semaphore is never closed; stop serving if that ever changes.
                    Err(_) => break,
                },
            };
            let idle_deadline = options.idle_timeout.map(|timeout| {
                *last_activity.lock().unwrap_or_else(PoisonError::into_inner) + timeout
            });
            let connection = tokio::select! {
                () = shutdown.cancelled() => break,
                () = sleep_until(idle_deadline) => {
                    if tracker.is_empty() {
                        tracing::info!("No requests within the idle timeout; shutting down.");
                        break;
                    }
                    // A long call is still running; idleness counts from its end.
                    *last_activity.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
                    continue;
                }
                accepted = unix.accept() => match accepted {
                    Ok((stream, _)) => match stream.peer_cred() {
                        Ok(credentials) if credentials.uid() == owner_uid || credentials.uid() == 0 => {
                            Connection::Unix(stream)
                        }
                        Ok(credentials) => {
                            tracing::warn!(peer_uid = credentials.uid(), "Refused a connection from another user.");
                            continue;
                        }
                        Err(error) => {
                            tracing::warn!(%error, "Refused a connection whose peer is unknown.");
                            continue;
                        }
                    },
                    Err(error) => {
                        accept_failed(&error).await;
                        continue;
                    }
                },
                accepted = accept_tcp(tcp.as_ref()) => match accepted {
                    Ok(stream) => Connection::Tcp(stream),
                    Err(error) => {
                        accept_failed(&error).await;
                        continue;
                    }
                },
            };
            *last_activity.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
            let cpi = cpi.clone();
            let last_activity = last_activity.clone();
            tracker.spawn(async move {
                match connection {
                    Connection::Unix(stream) => serve_connection(stream, &cpi).await,
                    Connection::Tcp(stream) => serve_connection(stream, &cpi).await,
                }
                *last_activity.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
                drop(permit);
            });
        }
        drop(unix);
        drop(tcp);
        drop(socket_file);
        tracker.close();
        let in_flight = tracker.len();
        if in_flight > 0 {
            tracing::info!(
                in_flight,
                deadline_seconds = options.shutdown_deadline.as_secs(),
                "Waiting for requests in flight."
            );
        }
        if tokio::time::timeout(options.shutdown_deadline, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                abandoned = tracker.len(),
                "Requests still running at the shutdown deadline were abandoned."
            );
        }
        tracing::info!("Stopped.");
    }
}

#[derive(Debug)]
enum Connection {
    Unix(UnixStream),
    Tcp(TcpStream),
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

async fn accept_tcp(listener: Option<&TcpListener>) -> std::io::Result<TcpStream> {
    match listener {
        Some(listener) => listener.accept().await.map(|(stream, _)| stream),
        None => std::future::pending().await,
    }
}

/// Accept fails transiently when file descriptors run out; pausing avoids a hot error loop.
async fn accept_failed(error: &std::io::Error) {
    tracing::warn!(%error, "Accepting a connection failed.");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Reads one request to EOF, answers it, and closes.
async fn serve_connection<S>(mut stream: S, cpi: &Cpi)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut request = Vec::new();
    // One byte over the limit is enough to know the request is too large; the parser says so.
    let mut limited = (&mut stream).take(MAX_REQUEST_BYTES as u64 + 1);
    match tokio::time::timeout(REQUEST_READ_TIMEOUT, limited.read_to_end(&mut request)).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => {
            tracing::warn!(%error, "Reading a request failed.");
            return;
        }
        Err(_) => {
            tracing::warn!(
                timeout_seconds = REQUEST_READ_TIMEOUT.as_secs(),
                "A client did not finish sending its request in time."
            );
            return;
        }
    }
    if request.is_empty() {
        // A connection without a request is a readiness probe, not a CPI call.
        tracing::debug!("A client connected and closed without sending a request.");
        return;
    }
    let response = handle_request(&request, cpi).await;
    let line = response.to_json_line();
    let write = async {
        stream.write_all(line.as_bytes()).await?;
        stream.shutdown().await
    };
    match tokio::time::timeout(REPLY_WRITE_TIMEOUT, write).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "Sending a response failed; the caller is gone."),
        Err(_) => tracing::warn!("Sending a response timed out."),
    }
}
