//! Black-box tests of the `cpi` binary against std-only fake daemons.
//!
//! Each fake daemon is a Unix (or TCP) listener in a thread that behaves in one specific way:
//! well, badly, or not at all. The real daemon is exercised from the `cpid` crate's tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

const INFO_REQUEST: &[u8] = br#"{"method":"info","arguments":[],"context":{"director_uuid":"d"}}"#;
const GOOD_REPLY: &[u8] = br#"{"result":{"api_version":2},"error":null,"log":"ok"}"#;

/// A directory under the system temp dir, removed on drop; std only, like the shim.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "cpi-shim-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_config(dir: &Path, daemon: &str) -> PathBuf {
    let path = dir.join("cpi.json");
    std::fs::write(&path, format!(r#"{{"daemon": {daemon}}}"#)).unwrap();
    path
}

/// Runs the shim like the director does: scrubbed environment, request on stdin then EOF.
fn run_shim(config: &Path, stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cpi"))
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("TMPDIR", std::env::temp_dir())
        .env("HOME", "/nonexistent")
        .env("CPI_CONFIG", config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let request = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // A shim that answers early may close stdin; the answer is what the test checks.
        let _ = input.write_all(&request);
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    output
}

/// Asserts the process printed exactly one schema-valid error response and exited 0; returns it.
fn expect_error(output: &Output, error_type: &str) -> String {
    assert!(output.status.success(), "exit status {:?}", output.status);
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    assert!(stdout.ends_with('\n'));
    assert_eq!(stdout.matches('\n').count(), 1, "one line: {stdout}");
    assert!(
        stdout.starts_with(r#"{"result":null,"error":{"type":""#),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(r#""type":"{error_type}""#)),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#""ok_to_retry":false},"log":""}"#),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("cpi: "),
        "diagnostic on stderr: {stderr}"
    );
    stdout
}

/// A fake daemon that accepts one connection, reads the request to EOF, and answers with `reply`.
/// Returns the request it received.
fn fake_daemon(listener: UnixListener, reply: &'static [u8]) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        stream.read_to_end(&mut request).unwrap();
        stream.write_all(reply).unwrap();
        request
    })
}

#[test]
fn forwards_the_request_and_prints_the_reply_verbatim() {
    let dir = TempDir::new();
    let socket = dir.0.join("d.sock");
    let config = write_config(&dir.0, &format!(r#"{{"socket": "{}"}}"#, socket.display()));
    let daemon = fake_daemon(UnixListener::bind(&socket).unwrap(), GOOD_REPLY);
    let output = run_shim(&config, INFO_REQUEST);
    assert!(output.status.success());
    assert_eq!(daemon.join().unwrap(), INFO_REQUEST);
    let mut expected = GOOD_REPLY.to_vec();
    expected.push(b'\n');
    assert_eq!(output.stdout, expected);
    assert!(output.stderr.is_empty());
}

#[test]
fn uses_the_default_socket_under_state_dir_and_argv_over_environment() {
    let dir = TempDir::new();
    let config = write_config(
        &dir.0,
        &format!(r#"{{"state_dir": "{}"}}"#, dir.0.display()),
    );
    let daemon = fake_daemon(
        UnixListener::bind(dir.0.join("cpid.sock")).unwrap(),
        GOOD_REPLY,
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_cpi"))
        .arg(&config)
        .env("CPI_CONFIG", "/nonexistent/cpi.json")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(INFO_REQUEST).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(daemon.join().unwrap(), INFO_REQUEST);
    assert!(output.stdout.starts_with(GOOD_REPLY));
}

#[test]
fn reaches_the_daemon_over_tcp_loopback() {
    let dir = TempDir::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let config = write_config(&dir.0, &format!(r#"{{"listen": "{address}"}}"#));
    let daemon = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        stream.read_to_end(&mut request).unwrap();
        stream.write_all(GOOD_REPLY).unwrap();
        request
    });
    let output = run_shim(&config, INFO_REQUEST);
    assert_eq!(daemon.join().unwrap(), INFO_REQUEST);
    assert!(output.stdout.starts_with(GOOD_REPLY));
}

#[test]
fn daemon_down_with_autostart_off_names_socket_and_log() {
    let dir = TempDir::new();
    let socket = dir.0.join("absent.sock");
    let config = write_config(
        &dir.0,
        &format!(
            r#"{{"socket": "{}", "log_file": "/var/log/cpid-test.log", "autostart": false}}"#,
            socket.display()
        ),
    );
    let output = run_shim(&config, INFO_REQUEST);
    let stdout = expect_error(&output, "Bosh::Clouds::CloudError");
    assert!(stdout.contains("CPI daemon unreachable"), "{stdout}");
    assert!(stdout.contains(&socket.display().to_string()), "{stdout}");
    assert!(stdout.contains("/var/log/cpid-test.log"), "{stdout}");
    assert!(stdout.contains("autostart is off"), "{stdout}");
}

#[test]
fn daemon_killed_mid_request_yields_cloud_error() {
    let dir = TempDir::new();
    let socket = dir.0.join("d.sock");
    let config = write_config(&dir.0, &format!(r#"{{"socket": "{}"}}"#, socket.display()));
    let listener = UnixListener::bind(&socket).unwrap();
    // The daemon reads the request, starts to answer, then dies: the reply is truncated.
    let daemon = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        stream.read_to_end(&mut request).unwrap();
        stream.write_all(br#"{"result":{"api_ver"#).unwrap();
    });
    let output = run_shim(&config, INFO_REQUEST);
    daemon.join().unwrap();
    let stdout = expect_error(&output, "Bosh::Clouds::CloudError");
    assert!(
        stdout.contains("invalid reply from the CPI daemon"),
        "{stdout}"
    );
    assert!(stdout.contains("truncated JSON"), "{stdout}");
    assert!(stdout.contains("killed during the call"), "{stdout}");
}

#[test]
fn daemon_closing_without_a_reply_yields_cloud_error() {
    let dir = TempDir::new();
    let socket = dir.0.join("d.sock");
    let config = write_config(&dir.0, &format!(r#"{{"socket": "{}"}}"#, socket.display()));
    let daemon = fake_daemon(UnixListener::bind(&socket).unwrap(), b"");
    let output = run_shim(&config, INFO_REQUEST);
    daemon.join().unwrap();
    let stdout = expect_error(&output, "Bosh::Clouds::CloudError");
    assert!(
        stdout.contains("closed the connection without a reply"),
        "{stdout}"
    );
}

#[test]
fn garbage_from_the_daemon_yields_cloud_error() {
    let dir = TempDir::new();
    let socket = dir.0.join("d.sock");
    let config = write_config(&dir.0, &format!(r#"{{"socket": "{}"}}"#, socket.display()));
    let daemon = fake_daemon(
        UnixListener::bind(&socket).unwrap(),
        b"HTTP/1.1 400 Bad\r\n",
    );
    let output = run_shim(&config, INFO_REQUEST);
    daemon.join().unwrap();
    let stdout = expect_error(&output, "Bosh::Clouds::CloudError");
    assert!(stdout.contains("invalid reply"), "{stdout}");
    assert!(stdout.contains("not JSON"), "{stdout}");
}

#[test]
fn schema_violations_from_the_daemon_yield_cloud_error() {
    let dir = TempDir::new();
    let socket = dir.0.join("d.sock");
    let config = write_config(&dir.0, &format!(r#"{{"socket": "{}"}}"#, socket.display()));
    let daemon = fake_daemon(
        UnixListener::bind(&socket).unwrap(),
        br#"{"result":1,"error":null,"log":null}"#,
    );
    let output = run_shim(&config, INFO_REQUEST);
    daemon.join().unwrap();
    let stdout = expect_error(&output, "Bosh::Clouds::CloudError");
    assert!(stdout.contains("'log' must be a string"), "{stdout}");
}

#[test]
fn empty_stdin_yields_cpi_error_without_contacting_the_daemon() {
    let dir = TempDir::new();
    let config = write_config(&dir.0, r#"{"socket": "/nonexistent/d.sock"}"#);
    let output = run_shim(&config, b"");
    let stdout = expect_error(&output, "Bosh::Clouds::CpiError");
    assert!(stdout.contains("empty request on stdin"), "{stdout}");
}

#[test]
fn ten_mib_stdin_yields_cpi_error_naming_the_limit() {
    let dir = TempDir::new();
    let config = write_config(&dir.0, r#"{"socket": "/nonexistent/d.sock"}"#);
    let request = vec![b' '; 10 * 1024 * 1024];
    let output = run_shim(&config, &request);
    let stdout = expect_error(&output, "Bosh::Clouds::CpiError");
    assert!(stdout.contains("8 MiB"), "{stdout}");
}

#[test]
fn unreadable_config_yields_cloud_error_naming_the_path() {
    let dir = TempDir::new();
    let missing = dir.0.join("missing.json");
    let output = run_shim(&missing, INFO_REQUEST);
    let stdout = expect_error(&output, "Bosh::Clouds::CloudError");
    assert!(stdout.contains(&missing.display().to_string()), "{stdout}");

    let broken = dir.0.join("broken.json");
    std::fs::write(&broken, r#"{"daemon": {"autostart": "yes"}}"#).unwrap();
    let output = run_shim(&broken, INFO_REQUEST);
    let stdout = expect_error(&output, "Bosh::Clouds::CloudError");
    assert!(
        stdout.contains("'daemon.autostart' must be a boolean"),
        "{stdout}"
    );
}

#[test]
fn autostart_without_a_daemon_binary_reports_the_failure() {
    // The test binary directory holds `cpi` but the copy below has no `cpid` beside it.
    let dir = TempDir::new();
    let shim = dir.0.join("cpi");
    std::fs::copy(env!("CARGO_BIN_EXE_cpi"), &shim).unwrap();
    let config = write_config(
        &dir.0,
        &format!(
            r#"{{"state_dir": "{}", "autostart": true}}"#,
            dir.0.display()
        ),
    );
    let mut child = Command::new(&shim)
        .env_clear()
        .env("CPI_CONFIG", &config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(INFO_REQUEST).unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = expect_error(&output, "Bosh::Clouds::CloudError");
    assert!(stdout.contains("autostart failed"), "{stdout}");
    assert!(
        stdout.contains(&dir.0.join("cpid").display().to_string()),
        "{stdout}"
    );
    assert!(dir.0.join("cpid.lock").exists());
}
