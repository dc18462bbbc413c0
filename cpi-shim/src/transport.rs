//! Moving one request to the daemon and its reply back, and starting the daemon when allowed.

use std::fs::{File, TryLockError};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::{Endpoint, ShimConfig};

/// Replies carry a result and a size-capped log; anything beyond this is a daemon bug.
pub const MAX_REPLY_BYTES: u64 = 16 * 1024 * 1024;
/// How long a freshly started daemon may take to accept connections.
const READY_DEADLINE: Duration = Duration::from_secs(30);
/// Waiting for another shim's autostart must outlast that shim's readiness wait.
const LOCK_DEADLINE: Duration = Duration::from_secs(40);
/// Loopback connects succeed or fail at once; this only guards against a wedged stack.
const TCP_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(2);
const MAX_BACKOFF: Duration = Duration::from_millis(100);

/// A connected stream to the daemon over either transport.
#[derive(Debug)]
pub enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.write_all(bytes),
            Stream::Tcp(s) => s.write_all(bytes),
        }
    }

    fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.shutdown(Shutdown::Write),
            Stream::Tcp(s) => s.shutdown(Shutdown::Write),
        }
    }

    fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_read_timeout(Some(timeout)),
            Stream::Tcp(s) => s.set_read_timeout(Some(timeout)),
        }
    }

    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buffer),
            Stream::Tcp(s) => s.read(buffer),
        }
    }
}

pub fn connect(endpoint: &Endpoint) -> io::Result<Stream> {
    match endpoint {
        Endpoint::Unix(path) => UnixStream::connect(path).map(Stream::Unix),
        Endpoint::Tcp(address) => {
            TcpStream::connect_timeout(address, TCP_CONNECT_TIMEOUT).map(Stream::Tcp)
        }
    }
}

/// Errors that mean "nobody is listening", as opposed to e.g. a permission problem that a fresh
/// daemon would not fix.
fn nobody_listening(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
    )
}

/// Connects to the daemon, starting it first when it is down and `daemon.autostart` allows.
pub fn connect_or_start(config: &ShimConfig) -> Result<Stream, String> {
    let first_error = match connect(&config.endpoint) {
        Ok(stream) => return Ok(stream),
        Err(error) => error,
    };
    if !config.autostart || !nobody_listening(&first_error) {
        let hint = if config.autostart {
            ""
        } else {
            "; daemon.autostart is off, so start it with 'cpid serve --config <file>'"
        };
        return Err(format!(
            "CPI daemon unreachable at {}: {first_error}{hint}; daemon log: {}",
            config.endpoint,
            config.log_file.display()
        ));
    }
    start_daemon(config).map_err(|reason| {
        format!(
            "CPI daemon unreachable at {} and autostart failed: {reason}; daemon log: {}",
            config.endpoint,
            config.log_file.display()
        )
    })
}

/// Starts exactly one daemon among concurrent shims: the lock holder re-checks, spawns and waits
/// for readiness, and every later lock holder then finds the daemon up.
fn start_daemon(config: &ShimConfig) -> Result<Stream, String> {
    std::fs::create_dir_all(&config.state_dir).map_err(|e| {
        format!(
            "cannot create state directory {}: {e}",
            config.state_dir.display()
        )
    })?;
    let lock_path = config.lock_file();
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("cannot open lock file {}: {e}", lock_path.display()))?;
    acquire(&lock, &lock_path)?;
    // Another shim may have started the daemon while this one waited for the lock.
    if let Ok(stream) = connect(&config.endpoint) {
        return Ok(stream);
    }
    let mut child = spawn_daemon(config)?;
    eprintln!(
        "cpi: started cpid (pid {}) for {}; log: {}",
        child.id(),
        config.endpoint,
        config.log_file.display()
    );
    let stream = wait_until_ready(config, &mut child);
    // The lock is released when `lock` is dropped here, after readiness is known.
    drop(lock);
    stream
}

fn acquire(lock: &File, path: &Path) -> Result<(), String> {
    let deadline = Instant::now() + LOCK_DEADLINE;
    let mut backoff = FIRST_BACKOFF;
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(TryLockError::WouldBlock) => {
                return Err(format!(
                    "timed out after {}s waiting for lock {}",
                    LOCK_DEADLINE.as_secs(),
                    path.display()
                ));
            }
            Err(TryLockError::Error(error)) => {
                return Err(format!("cannot lock {}: {error}", path.display()));
            }
        }
    }
}

/// The director's PATH does not contain the CPI package, so `cpid` is looked up next to the shim.
fn daemon_executable() -> Result<PathBuf, String> {
    let shim = std::env::current_exe()
        .map_err(|e| format!("cannot locate the shim's own executable: {e}"))?;
    let directory = shim
        .parent()
        .ok_or_else(|| format!("the shim path {} has no directory", shim.display()))?;
    Ok(directory.join("cpid"))
}

fn spawn_daemon(config: &ShimConfig) -> Result<Child, String> {
    let executable = daemon_executable()?;
    if let Some(parent) = config.log_file.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create log directory {}: {e}", parent.display()))?;
    }
    let log = File::options()
        .create(true)
        .append(true)
        .open(&config.log_file)
        .map_err(|e| format!("cannot open {}: {e}", config.log_file.display()))?;
    let log_for_stderr = log
        .try_clone()
        .map_err(|e| format!("cannot duplicate {}: {e}", config.log_file.display()))?;
    // The daemon outlives this process, so it must get an absolute config path.
    let config_path = std::path::absolute(&config.config_path).map_err(|e| {
        format!(
            "cannot make the config path {} absolute: {e}",
            config.config_path.display()
        )
    })?;
    Command::new(&executable)
        .arg("serve")
        .arg("--config")
        .arg(&config_path)
        .arg("--autostarted")
        .current_dir(&config.state_dir)
        // The shim's stdout and stderr are pipes the caller reads to EOF; a daemon holding them
        // would make every call hang until it exits.
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_for_stderr))
        // A new process group keeps the caller's signals (and its process-group kill on task
        // cancellation) from reaching the shared daemon.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", executable.display()))
}

fn wait_until_ready(config: &ShimConfig, child: &mut Child) -> Result<Stream, String> {
    let deadline = Instant::now() + READY_DEADLINE;
    let mut backoff = FIRST_BACKOFF;
    loop {
        match connect(&config.endpoint) {
            Ok(stream) => return Ok(stream),
            Err(error) => {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("cpid exited during start-up ({status})"));
                }
                if Instant::now() >= deadline {
                    return Err(format!(
                        "cpid (pid {}) did not accept connections within {}s: {error}",
                        child.id(),
                        READY_DEADLINE.as_secs()
                    ));
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Why an exchange with a connected daemon failed.
#[derive(Debug)]
pub enum ExchangeError {
    Send(io::Error),
    Receive(io::Error),
    TimedOut(Duration),
    TooLarge,
}

/// Sends the request, half-closes to mark its end, and reads the reply to EOF within `timeout`.
pub fn exchange(
    stream: &mut Stream,
    request: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, ExchangeError> {
    let deadline = Instant::now() + timeout;
    stream.write_all(request).map_err(ExchangeError::Send)?;
    stream.shutdown_write().map_err(ExchangeError::Send)?;
    let mut reply = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(ExchangeError::TimedOut(timeout));
        }
        stream
            .set_read_timeout(remaining)
            .map_err(ExchangeError::Receive)?;
        match stream.read(&mut buffer) {
            Ok(0) => return Ok(reply),
            Ok(count) => {
                if (reply.len() + count) as u64 > MAX_REPLY_BYTES {
                    return Err(ExchangeError::TooLarge);
                }
                reply.extend_from_slice(&buffer[..count]);
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(ExchangeError::TimedOut(timeout));
            }
            Err(error) => return Err(ExchangeError::Receive(error)),
        }
    }
}
