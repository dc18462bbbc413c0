//! Black-box tests of `cpid` driven through the real `cpi` shim.

mod harness;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use harness::{
    CPID, TestDaemon, cli_request, daemons_serving, director_request, response, run_with_stdin,
    send_sigterm,
};

#[test]
fn director_shaped_calls_get_info_and_pong() {
    let daemon = TestDaemon::start();
    let info =
        response(&daemon.call_as_director(&director_request("info", json!([]), "cpi-123456")));
    assert_eq!(
        info,
        json!({"result": {"api_version": 2, "stemcell_formats": ["cloudstack-vhdx"]}, "error": null, "log": info["log"]})
    );
    let ping =
        response(&daemon.call_as_director(&director_request("ping", json!([]), "cpi-654321")));
    assert_eq!(ping["result"], "pong");
    assert_eq!(ping["error"], Value::Null);
}

#[test]
fn cli_shaped_calls_find_the_config_through_bosh_jobs_dir() {
    let daemon = TestDaemon::start();
    let output = daemon.call_as_cli(&cli_request("info", json!([])));
    let info = response(&output);
    assert_eq!(info["result"]["api_version"], 2);
    // bosh-cli sends no request_id; the daemon makes one up so log lines still correlate.
    assert!(
        info["log"].as_str().unwrap().contains("request_id=cpid-"),
        "{info}"
    );
}

#[test]
fn errors_reach_the_caller_with_director_types() {
    let daemon = TestDaemon::start();
    let unknown = response(&daemon.call_as_director(&director_request(
        "make_coffee",
        json!([]),
        "cpi-100000",
    )));
    assert_eq!(unknown["error"]["type"], "Bosh::Clouds::NotImplemented");
    assert_eq!(
        unknown["error"]["message"],
        "Method is not known, got: 'make_coffee'"
    );
    let deprecated = response(&daemon.call_as_director(&director_request(
        "current_vm_id",
        json!([]),
        "cpi-100001",
    )));
    assert_eq!(deprecated["error"]["type"], "Bosh::Clouds::NotImplemented");
    let unsupported = response(&daemon.call_as_director(&director_request(
        "configure_networks",
        json!(["vm-1", {}]),
        "cpi-100003",
    )));
    assert_eq!(unsupported["error"]["type"], "Bosh::Clouds::NotSupported");
    // CloudStack is unreachable in this daemon's config: a transport failure is a CloudError
    // the director may retry, and it names what failed.
    let unreachable = response(&daemon.call_as_director(&director_request(
        "has_vm",
        json!(["vm-1"]),
        "cpi-100004",
    )));
    assert_eq!(
        unreachable["error"]["type"], "Bosh::Clouds::CloudError",
        "{unreachable}"
    );
    assert!(
        unreachable["error"]["message"]
            .as_str()
            .unwrap()
            .contains("CloudStack"),
        "{unreachable}"
    );
    let malformed = response(&daemon.call_as_director(b"{\"method\": \"info\", "));
    assert_eq!(malformed["error"]["type"], "Bosh::Clouds::CpiError");
    assert!(
        malformed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"),
        "{malformed}"
    );
    let wrong_shape =
        response(&daemon.call_as_director(&director_request("has_vm", json!([42]), "cpi-100002")));
    assert_eq!(wrong_shape["error"]["type"], "Bosh::Clouds::CpiError");
    assert!(
        wrong_shape["error"]["message"]
            .as_str()
            .unwrap()
            .contains("has_vm"),
        "{wrong_shape}"
    );
}

#[test]
fn request_ids_appear_in_the_daemon_log_and_only_in_their_own_response_log() {
    let daemon = TestDaemon::start();
    let ids: Vec<String> = (0..12).map(|i| format!("cpi-{}", 200000 + i)).collect();
    let outputs: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = ids
            .iter()
            .map(|id| {
                let daemon = &daemon;
                scope.spawn(move || {
                    daemon.call_as_director(&director_request("ping", json!([]), id))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let daemon_log = daemon.log();
    for (id, output) in ids.iter().zip(&outputs) {
        let value = response(output);
        let log = value["log"].as_str().unwrap();
        assert!(
            log.contains(&format!("request_id={id} method=ping")),
            "{log}"
        );
        for other in ids.iter().filter(|other| *other != id) {
            assert!(
                !log.contains(other.as_str()),
                "{other} leaked into {id}: {log}"
            );
        }
        assert!(
            daemon_log
                .lines()
                .any(|line| line.contains(id.as_str()) && line.contains("Request succeeded.")),
            "{id} missing from the daemon log:\n{daemon_log}"
        );
    }
}

#[test]
fn secrets_never_reach_the_daemon_log_or_responses() {
    let daemon = TestDaemon::start();
    let output = daemon.call_as_director(&director_request("info", json!([]), "cpi-300000"));
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &daemon.log();
    assert!(!text.contains("SECRET"), "{text}");
}

#[test]
fn the_socket_is_private_to_the_owner_and_group() {
    let daemon = TestDaemon::start();
    let mode = std::fs::metadata(&daemon.socket)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o660);
}

#[test]
fn tcp_loopback_listener_serves_the_shim() {
    let daemon = TestDaemon::builder().tcp().start();
    let value =
        response(&daemon.call_as_director(&director_request("ping", json!([]), "cpi-400000")));
    assert_eq!(value["result"], "pong");
    assert!(
        daemon.log().contains("tcp=Some(127.0.0.1:"),
        "{}",
        daemon.log()
    );
}

#[test]
fn a_second_daemon_on_the_same_socket_refuses_to_start() {
    let daemon = TestDaemon::start();
    let output = Command::new(CPID)
        .arg("serve")
        .arg("--config")
        .arg(&daemon.config_path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("another cpid is already listening"),
        "{stderr}"
    );
    // The first daemon still answers.
    let value = response(&daemon.call_as_director(&director_request("ping", json!([]), "cpi-1")));
    assert_eq!(value["result"], "pong");
}

#[test]
fn sigterm_finishes_the_request_in_flight_removes_the_socket_and_exits_zero() {
    let mut daemon = TestDaemon::start();
    // A request whose client is still writing when SIGTERM arrives is in flight.
    let mut stream = UnixStream::connect(&daemon.socket).unwrap();
    let request = director_request("ping", json!([]), "cpi-500000");
    stream.write_all(&request[..10]).unwrap();
    // The daemon has accepted the connection once the accept is logged as in flight; wait for
    // it by polling the log for the shutdown message after signalling.
    std::thread::sleep(Duration::from_millis(100));
    send_sigterm(daemon.pid());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !daemon.log().contains("Waiting for requests in flight.") {
        assert!(Instant::now() < deadline, "{}", daemon.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!daemon.socket.exists(), "the socket is removed at once");
    stream.write_all(&request[10..]).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let value: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(value["result"], "pong");
    let status = daemon.wait_for_exit(Duration::from_secs(10));
    assert!(status.success(), "{status}");
    // With the daemon gone and autostart off, the shim says where it looked.
    let value = response(&daemon.call_as_director(&director_request("ping", json!([]), "cpi-2")));
    assert_eq!(value["error"]["type"], "Bosh::Clouds::CloudError");
    let message = value["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&daemon.socket.display().to_string()),
        "{message}"
    );
    assert!(message.contains("cpid.log"), "{message}");
}

#[test]
fn sigterm_abandons_requests_after_the_shutdown_deadline() {
    let mut daemon = TestDaemon::builder()
        .serve_arg("--shutdown-timeout")
        .serve_arg("1")
        .start();
    let mut stream = UnixStream::connect(&daemon.socket).unwrap();
    stream.write_all(b"{\"method\":").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let status = daemon.terminate(Duration::from_secs(10));
    assert!(status.success(), "{status}");
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(daemon.log().contains("were abandoned"), "{}", daemon.log());
}

#[test]
fn an_autostarted_daemon_exits_after_the_idle_timeout() {
    let mut daemon = TestDaemon::builder()
        .idle_timeout(1)
        .started_by_the_shim()
        .start();
    let value = response(&daemon.call_as_director(&director_request("ping", json!([]), "cpi-1")));
    assert_eq!(value["result"], "pong");
    let status = daemon.wait_for_exit(Duration::from_secs(15));
    assert!(status.success(), "{status}");
    assert!(!daemon.socket.exists());
    assert!(daemon.log().contains("idle timeout"), "{}", daemon.log());
}

#[test]
fn a_daemon_started_by_monit_ignores_the_idle_timeout() {
    let mut daemon = TestDaemon::builder().idle_timeout(1).start();
    std::thread::sleep(Duration::from_millis(2500));
    let value = response(&daemon.call_as_director(&director_request("ping", json!([]), "cpi-1")));
    assert_eq!(value["result"], "pong");
    assert!(daemon.terminate(Duration::from_secs(10)).success());
}

#[test]
fn sixteen_shims_against_no_daemon_start_exactly_one() {
    let daemon = TestDaemon::builder().autostart().idle_timeout(60).start();
    assert!(daemons_serving(&daemon.config_path).is_empty());
    let outputs: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let daemon = &daemon;
                scope.spawn(move || {
                    daemon.call_as_director(&director_request(
                        "info",
                        json!([]),
                        &format!("cpi-{}", 600000 + i),
                    ))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let pids = daemons_serving(&daemon.config_path);
    for pid in &pids {
        send_sigterm(*pid);
    }
    for output in &outputs {
        let value = response(output);
        assert_eq!(value["error"], Value::Null, "{value}");
        assert_eq!(value["result"]["api_version"], 2);
    }
    assert_eq!(pids.len(), 1, "daemons: {pids:?}");
    let started = outputs
        .iter()
        .filter(|o| String::from_utf8_lossy(&o.stderr).contains("started cpid"))
        .count();
    assert_eq!(started, 1);
    // The autostarted daemon logs to <state_dir>/cpid.log, where the shim points operators.
    assert!(daemon.log().contains("Listening."), "{}", daemon.log());
}

#[test]
fn oneshot_answers_like_the_daemon() {
    let daemon = TestDaemon::builder().start();
    let request = director_request("info", json!([]), "cpi-700000");
    let mut command = Command::new(CPID);
    command
        .arg("oneshot")
        .arg("--config")
        .arg(&daemon.config_path);
    let oneshot = response(&run_with_stdin(command, &request));
    let served = response(&daemon.call_as_director(&request));
    assert_eq!(oneshot["result"], served["result"]);
    assert!(
        oneshot["log"]
            .as_str()
            .unwrap()
            .contains("request_id=cpi-700000"),
        "{oneshot}"
    );
}

#[test]
fn check_reports_a_valid_config_and_names_a_bad_key() {
    let daemon = TestDaemon::builder().start();
    let output = Command::new(CPID)
        .args(["check", "--offline", "--config"])
        .arg(&daemon.config_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains(": ok"), "{stdout}");
    let online = Command::new(CPID)
        .args(["check", "--config"])
        .arg(&daemon.config_path)
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&online.stdout);
    assert!(
        !online.status.success(),
        "CloudStack is unreachable: {report}"
    );
    assert!(report.contains("database: ok"), "{report}");
    assert!(
        report.contains("cloudstack http://127.0.0.1:9/client/api: FAILED"),
        "{report}"
    );
    assert!(!report.contains("SECRET"), "{report}");

    let reachable = TestDaemon::builder().emulator(|_| {}).start();
    let online = Command::new(CPID)
        .args(["check", "--config"])
        .arg(&reachable.config_path)
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&online.stdout);
    assert!(online.status.success(), "{report}");
    assert!(
        report.contains("credentials accepted, default zone zone1"),
        "{report}"
    );

    let bad = daemon.directory.path().join("bad.json");
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(&daemon.config_path).unwrap()).unwrap();
    config["daemon"]["sockett"] = json!("/tmp/x.sock");
    std::fs::write(&bad, config.to_string()).unwrap();
    let output = Command::new(CPID)
        .args(["check", "--offline", "--config"])
        .arg(&bad)
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("daemon.sockett"), "{stdout}");
    assert!(!stdout.contains("SECRET"), "{stdout}");
}
