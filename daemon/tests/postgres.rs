//! The daemon on PostgreSQL: a database restart under a running daemon fails the requests made
//! during the outage with a clear error, and later requests succeed without restarting it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use base64::Engine as _;
use cpi_store::pg_test::TempCluster;
use harness::TestDaemon;
use serde_json::json;

/// A GET with basic auth over a plain TCP connection; returns the status code and the body.
fn registry_get(address: &str, path: &str, user: &str, password: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).expect("the registry listens");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let credential = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic {credential}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_daemon_rides_out_a_postgres_restart() {
    let cluster = TempCluster::start().expect("a temporary PostgreSQL cluster starts");
    let database_url = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(cluster.create_database())
        .unwrap();
    let registry = format!("127.0.0.1:{}", free_port());
    let daemon = TestDaemon::builder()
        .emulator(|_| {})
        .config(json!({
            "daemon": {"database_url": database_url},
            "registry": {"listen": registry, "endpoint": format!("http://{registry}"),
                         "user": "operator", "password": "operator-password"},
        }))
        .start();
    let network = json!({"default": {"type": "manual", "ip": "10.1.1.41", "netmask": "255.255.255.0",
        "gateway": "10.1.1.1", "dns": ["10.1.1.1"], "default": ["dns", "gateway"],
        "cloud_properties": {"name": "isolated-net"}}});
    let created = daemon.ok(
        "create_vm",
        json!(["agent-pg", cloudstack_sim::ids::TEMPLATE, {"compute_offering": "small"}, network, [], {}]),
    );
    let vm_cid = created[0].as_str().unwrap().to_owned();
    let settings_path = format!("/instances/{vm_cid}/settings");

    cluster.stop().expect("PostgreSQL stops");
    let (status, body) = registry_get(&registry, &settings_path, "operator", "operator-password");
    assert_eq!(status, 500, "{body}");
    assert!(!body.contains("operator-password"));
    let failed = daemon.director_call(
        "create_vm",
        json!(["agent-pg-2", cloudstack_sim::ids::TEMPLATE, {"compute_offering": "small"},
               {"default": {"type": "dynamic", "cloud_properties": {"name": "isolated-net"}}}, [], {}]),
    );
    let error = &failed["error"];
    assert_eq!(error["type"], "Bosh::Clouds::VMCreationFailed", "{failed}");
    assert_eq!(
        error["ok_to_retry"], true,
        "a database outage is worth retrying: {failed}"
    );
    assert!(
        error["message"].as_str().unwrap().contains("unavailable"),
        "{failed}"
    );
    let running: Vec<_> = daemon
        .sim()
        .vms()
        .into_iter()
        .filter(|vm| vm.id != vm_cid && vm.destroyed_at_ms.is_none())
        .collect();
    assert!(
        running.is_empty(),
        "the failed create_vm left no VM behind: {running:?}"
    );

    cluster.resume().expect("PostgreSQL starts again");
    // The pool reconnects on demand; allow the server a moment to accept connections.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut backoff = Duration::from_millis(50);
    loop {
        let (status, body) =
            registry_get(&registry, &settings_path, "operator", "operator-password");
        if status == 200 {
            assert!(body.contains("agent-pg"), "{body}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the registry did not recover: {status} {body}"
        );
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
    daemon.ok("delete_vm", json!([vm_cid]));
    assert_eq!(daemon.ok("has_vm", json!([vm_cid])), json!(false));
}
