//! VM and disk scenarios of the director, each call through the real shim and the real daemon
//! against the emulator over real HTTP, with the emulator's state checked after each step. The
//! actions' own tests (`crates/cpi-actions/tests`) cover the same behaviour in more depth by
//! calling the dispatch in-process; these show the whole path works.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

use cloudstack_sim::model::VolumeType;
use cloudstack_sim::{Fault, FaultKind, FaultTimes, ids};
use harness::TestDaemon;
use serde_json::{Value, json};

fn manual(ip: &str, network: &str, gateway: &str, default: bool) -> Value {
    let mut value = json!({"type": "manual", "ip": ip, "netmask": "255.255.255.0", "gateway": gateway,
                           "dns": ["10.1.1.1"], "cloud_properties": {"name": network}});
    if default {
        value["default"] = json!(["dns", "gateway"]);
    }
    value
}

fn create_vm(daemon: &TestDaemon, agent: &str, vm_type: Value, networks: Value) -> Value {
    daemon.director_call(
        "create_vm",
        json!([agent, ids::TEMPLATE, vm_type, networks, [], {"bosh": {"password": "*"}}]),
    )
}

/// No VM, data volume or static NAT is left in the emulator.
fn assert_nothing_left(daemon: &TestDaemon) {
    let sim = daemon.sim();
    let vms: Vec<_> = sim
        .vms()
        .into_iter()
        .filter(|vm| vm.destroyed_at_ms.is_none())
        .map(|vm| vm.id)
        .collect();
    assert!(vms.is_empty(), "VMs left: {vms:?}");
    let volumes: Vec<_> = sim
        .volumes()
        .into_iter()
        .filter(|v| v.kind == VolumeType::DataDisk)
        .map(|v| v.id)
        .collect();
    assert!(volumes.is_empty(), "volumes left: {volumes:?}");
    assert!(
        sim.public_ips().iter().all(|ip| ip.static_nat_vm.is_none()),
        "static NAT left"
    );
}

#[test]
fn several_nics_a_dynamic_network_and_a_vip() {
    let daemon = TestDaemon::builder().emulator(|_| {}).start();
    let runtime = &daemon.emulator.as_ref().unwrap().runtime;
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(&daemon.config_path).unwrap()).unwrap();
    let client_config = cloudstack::ClientConfig::new(
        config["cloudstack"]["endpoint"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
        config["cloudstack"]["api_key"]
            .as_str()
            .unwrap()
            .to_owned()
            .into(),
        config["cloudstack"]["secret_access_key"]
            .as_str()
            .unwrap()
            .to_owned()
            .into(),
    );
    let address = runtime
        .block_on(async {
            let cloud = cloudstack::CloudStackClient::new(client_config)?;
            cloud
                .execute(&cloudstack::commands::AssociateIpAddress {
                    zoneid: Some(ids::ZONE.to_owned()),
                    ..Default::default()
                })
                .await
        })
        .unwrap();
    let public_ip = address.ipaddress.clone().unwrap();
    let networks = json!({
        "shared": {"type": "dynamic", "dns": ["10.2.0.1"], "cloud_properties": {"name": "shared-net"}},
        "private": manual("10.1.1.61", "isolated-net", "10.1.1.1", true),
        "public": {"type": "vip", "ip": public_ip, "cloud_properties": {}},
    });
    let response = create_vm(
        &daemon,
        "agent-nics",
        json!({"compute_offering": "small"}),
        networks,
    );
    assert!(response["error"].is_null(), "{response}");
    let vm_cid = response["result"][0].as_str().unwrap().to_owned();
    let returned = &response["result"][1];
    let vm = daemon
        .sim()
        .vms()
        .into_iter()
        .find(|vm| vm.id == vm_cid)
        .unwrap();
    assert_eq!(vm.nics.len(), 2);
    // The network carrying the default gateway is NIC 0 (eth0).
    assert_eq!(vm.nics[0].ipaddress, "10.1.1.61");
    assert_eq!(returned["private"]["alias"], "eth0");
    assert_eq!(returned["private"]["mac"], json!(vm.nics[0].macaddress));
    assert_eq!(returned["shared"]["alias"], "eth1");
    assert_eq!(returned["shared"]["mac"], json!(vm.nics[1].macaddress));
    assert_eq!(
        returned["shared"]["ip"],
        json!(vm.nics[1].ipaddress),
        "a dynamic network's IP is returned"
    );
    assert_eq!(returned["public"]["ip"], json!(public_ip));
    let nat = daemon
        .sim()
        .public_ips()
        .into_iter()
        .find(|ip| ip.id == address.id)
        .unwrap();
    assert_eq!(nat.static_nat_vm.as_deref(), Some(vm_cid.as_str()));

    daemon.ok("delete_vm", json!([vm_cid]));
    assert_nothing_left(&daemon);
}

#[test]
fn vm_type_properties_reach_cloudstack() {
    let daemon = TestDaemon::builder().emulator(|_| {}).start();
    let vm_type = json!({"compute_offering": "custom", "cpu": 2, "ram": 3072, "root_disk_size": 12288,
                         "ephemeral_disk_offering": "custom", "disk": 4096,
                         "affinity_group": "web-spread", "affinity_group_type": "host anti-affinity"});
    // A director env with mbus certificates makes the user data several KB: it must be POSTed.
    let certificate = "-----BEGIN CERTIFICATE-----\n".to_owned()
        + &"MIIC".repeat(700)
        + "\n-----END CERTIFICATE-----";
    let env = json!({"bosh": {"mbus": {"cert": {"ca": certificate, "certificate": certificate, "private_key": certificate}}}});
    let response = daemon.director_call(
        "create_vm",
        json!(["agent-props", ids::TEMPLATE, vm_type, {"private": manual("10.1.1.62", "isolated-net", "10.1.1.1", true)}, [], env]),
    );
    assert!(response["error"].is_null(), "{response}");
    let vm_cid = response["result"][0].as_str().unwrap().to_owned();
    let vm = daemon
        .sim()
        .vms()
        .into_iter()
        .find(|vm| vm.id == vm_cid)
        .unwrap();
    assert_eq!((vm.cpunumber, vm.memory), (2, 3072));
    assert_eq!(vm.affinity_group_ids.len(), 1);
    assert!(
        vm.userdata.as_deref().unwrap().len() > 2048,
        "user data over 2 KB was accepted"
    );
    let volumes: Vec<_> = daemon
        .sim()
        .volumes()
        .into_iter()
        .filter(|v| v.vm_id.as_deref() == Some(vm_cid.as_str()))
        .collect();
    let root = volumes.iter().find(|v| v.kind == VolumeType::Root).unwrap();
    assert_eq!(
        root.size,
        12 * 1024 * 1024 * 1024,
        "root_disk_size is rounded to GiB"
    );
    let ephemeral = volumes
        .iter()
        .find(|v| v.kind == VolumeType::DataDisk)
        .unwrap();
    assert_eq!(ephemeral.size, 4 * 1024 * 1024 * 1024);
    assert!(
        daemon
            .sim()
            .tags()
            .iter()
            .any(|t| t.resource_id == ephemeral.id
                && t.key == "bosh_role"
                && t.value == "ephemeral")
    );

    let calculated = daemon.ok(
        "calculate_vm_cloud_properties",
        json!([{"cpu": 2, "ram": 2048, "ephemeral_disk_size": 8192}]),
    );
    assert_eq!(calculated["compute_offering"], "medium", "{calculated}");
    assert_eq!(calculated["disk"], 8192);
    daemon.ok("delete_vm", json!([vm_cid]));
    assert_nothing_left(&daemon);
}

#[test]
fn failed_create_vm_leaves_nothing_behind() {
    let daemon = TestDaemon::builder().emulator(|_| {}).start();
    let private = json!({"private": manual("10.1.1.63", "isolated-net", "10.1.1.1", true)});
    let cases = [
        (
            json!({"compute_offering": "no-such-offering"}),
            private.clone(),
            "no-such-offering",
        ),
        (
            json!({"compute_offering": "small"}),
            json!({"private": manual("10.1.1.63", "no-such-network", "10.1.1.1", true)}),
            "no-such-network",
        ),
        (
            json!({"compute_offering": "small"}),
            json!({"private": manual("10.9.9.9", "isolated-net", "10.9.9.1", true)}),
            "10.9.9.9",
        ),
    ];
    for (vm_type, networks, named) in cases {
        let response = create_vm(&daemon, "agent-fail", vm_type, networks);
        let message = response["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(named),
            "the error names {named}: {response}"
        );
        assert_nothing_left(&daemon);
    }
    daemon
        .sim()
        .inject(Fault {
            command: "deployVirtualMachine".into(),
            kind: FaultKind::JobFailure {
                code: 530,
                text: "hypervisor error".into(),
            },
            times: FaultTimes::Once,
        })
        .unwrap();
    let response = create_vm(
        &daemon,
        "agent-fail",
        json!({"compute_offering": "small"}),
        private,
    );
    assert_eq!(
        response["error"]["type"], "Bosh::Clouds::VMCreationFailed",
        "{response}"
    );
    assert_eq!(response["error"]["ok_to_retry"], true);
    assert_nothing_left(&daemon);
}

#[test]
fn thirty_two_shims_create_vms_at_once() {
    let daemon = TestDaemon::builder().emulator(|_| {}).start();
    let results: Vec<Value> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..32)
            .map(|index| {
                let daemon = &daemon;
                scope.spawn(move || {
                    create_vm(
                        daemon,
                        &format!("agent-{index}"),
                        json!({"compute_offering": "small"}),
                        json!({"private": manual(&format!("10.1.1.{}", 100 + index), "isolated-net", "10.1.1.1", true)}),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });
    for response in &results {
        assert!(response["error"].is_null(), "{response}");
    }
    let running = daemon.sim().vms().len();
    assert_eq!(running, 32);
}

#[test]
fn disks_offerings_snapshots_resize_and_refusals() {
    let daemon = TestDaemon::builder().emulator(|_| {}).start();
    let small_vm = |agent: &str, ip: &str| -> String {
        let network = json!({"p": manual(ip, "isolated-net", "10.1.1.1", true)});
        let created = create_vm(
            &daemon,
            agent,
            json!({"compute_offering": "small"}),
            network,
        );
        created["result"][0].as_str().unwrap().to_owned()
    };
    let first = small_vm("agent-d1", "10.1.1.71");
    let second = small_vm("agent-d2", "10.1.1.72");

    // Without a VM, with a custom offering (rounded up to GiB) and with a fixed one.
    let custom = daemon.ok(
        "create_disk",
        json!([1500, {"disk_offering": "custom"}, null]),
    );
    let custom = custom.as_str().unwrap().to_owned();
    let size = |cid: &str| {
        daemon
            .sim()
            .volumes()
            .into_iter()
            .find(|v| v.id == cid)
            .unwrap()
            .size
    };
    assert_eq!(size(&custom), 2 * 1024 * 1024 * 1024);
    let fixed = daemon.ok(
        "create_disk",
        json!([4096, {"disk_offering": "small"}, first]),
    );
    let fixed = fixed.as_str().unwrap().to_owned();
    assert_eq!(
        size(&fixed),
        10 * 1024 * 1024 * 1024,
        "the fixed offering's size"
    );
    let too_big = daemon.director_call(
        "create_disk",
        json!([20480, {"disk_offering": "small"}, null]),
    );
    let message = too_big["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("20480") || message.contains("20 GiB") || message.contains("20GiB"),
        "{too_big}"
    );

    // Detaching a disk attached to nothing succeeds; attaching one attached elsewhere names it.
    daemon.ok("detach_disk", json!([first, custom]));
    daemon.ok("attach_disk", json!([first, custom]));
    let elsewhere = daemon.director_call("attach_disk", json!([second, custom]));
    assert!(
        elsewhere["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&first),
        "{elsewhere}"
    );
    let wrong_vm = daemon.director_call("detach_disk", json!([second, custom]));
    assert_eq!(
        wrong_vm["error"]["type"], "Bosh::Clouds::DiskNotAttached",
        "{wrong_vm}"
    );

    // A snapshot carries the metadata as tags; deleting a missing one succeeds.
    let snapshot = daemon.ok(
        "snapshot_disk",
        json!([custom, {"deployment": "d", "job": "web", "index": "0"}]),
    );
    let snapshot = snapshot.as_str().unwrap().to_owned();
    assert!(
        daemon
            .sim()
            .tags()
            .iter()
            .any(|t| t.resource_id == snapshot && t.key == "deployment" && t.value == "d")
    );
    daemon.ok("delete_snapshot", json!([snapshot]));
    daemon.ok("delete_snapshot", json!([snapshot]));

    // Resize: a grow works, a shrink is NotSupported so the director copies instead.
    daemon.ok("detach_disk", json!([first, custom]));
    daemon.ok("resize_disk", json!([custom, 4096]));
    assert_eq!(size(&custom), 4 * 1024 * 1024 * 1024);
    let shrink = daemon.director_call("resize_disk", json!([custom, 1024]));
    assert_eq!(
        shrink["error"]["type"], "Bosh::Clouds::NotSupported",
        "{shrink}"
    );

    daemon.ok(
        "set_disk_metadata",
        json!([custom, {"instance_group": "web"}]),
    );
    assert!(
        daemon
            .sim()
            .tags()
            .iter()
            .any(|t| t.resource_id == custom && t.key == "instance_group")
    );
    for disk in [&custom, &fixed] {
        daemon.ok("delete_disk", json!([disk]));
        assert_eq!(daemon.ok("has_disk", json!([disk])), json!(false));
    }
}

#[test]
fn a_v1_stemcell_reads_its_disk_map_from_the_registry() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let registry = format!("127.0.0.1:{port}");
    let daemon = TestDaemon::builder()
        .emulator(|_| {})
        .config(
            json!({"registry": {"listen": registry, "endpoint": format!("http://{registry}"),
                                    "user": "operator", "password": "operator-password"}}),
        )
        .start();
    let v1 = |method: &str, arguments: Value| {
        let request = json!({"method": method, "arguments": arguments, "api_version": 2,
            "context": {"director_uuid": "d", "request_id": "cpi-100100", "vm": {"stemcell": {"api_version": 1}}}});
        harness::response(&daemon.call_as_director(request.to_string().as_bytes()))
    };
    let created = v1(
        "create_vm",
        json!(["agent-v1", ids::TEMPLATE, {"compute_offering": "small"},
                                         {"p": manual("10.1.1.73", "isolated-net", "10.1.1.1", true)}, [], {}]),
    );
    let vm_cid = created["result"][0].as_str().unwrap().to_owned();
    let disk = v1("create_disk", json!([1024, {}, vm_cid]))["result"]
        .as_str()
        .unwrap()
        .to_owned();
    let settings = |daemon: &TestDaemon| -> Value {
        let output = std::process::Command::new("curl")
            .args(["-sf", "-u", "operator:operator-password"])
            .arg(format!("http://{registry}/instances/{vm_cid}/settings"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "registry GET failed: {}",
            daemon.log()
        );
        let body: Value = serde_json::from_slice(&output.stdout).unwrap();
        serde_json::from_str(body["settings"].as_str().unwrap()).unwrap()
    };
    assert_eq!(settings(&daemon)["disks"]["persistent"], json!({}));
    let hint = v1("attach_disk", json!([vm_cid, disk]))["result"].clone();
    assert_eq!(
        settings(&daemon)["disks"]["persistent"][&disk],
        hint,
        "the registry shows the attached disk at once"
    );
    v1("detach_disk", json!([vm_cid, disk]));
    assert_eq!(settings(&daemon)["disks"]["persistent"], json!({}));
}
