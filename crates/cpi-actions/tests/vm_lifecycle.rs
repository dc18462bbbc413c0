//! VM lifecycle against the emulator: create_vm (networks, offerings, disks, vip, affinity),
//! has_vm, reboot_vm, set_vm_metadata, delete_vm, calculate_vm_cloud_properties.

// Test helpers may panic: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use cloudstack_sim::ids;
use cloudstack_sim::model::{VmState, VolumeType};
use common::Fixture;
use serde_json::{Value, json};

fn manual(ip: &str, network: &str, default: bool) -> Value {
    let (gateway, netmask) = if network == "shared-net" {
        ("10.2.0.1", "255.255.255.0")
    } else {
        ("10.1.1.1", "255.255.255.0")
    };
    let mut object = json!({"type": "manual", "ip": ip, "netmask": netmask, "gateway": gateway,
        "prefix": "32", "dns": ["8.8.8.8"], "cloud_properties": {"name": network}});
    if default {
        object["default"] = json!(["dns", "gateway"]);
    }
    object
}

fn vm_type() -> Value {
    json!({"compute_offering": "small"})
}

fn env() -> Value {
    json!({"bosh": {"password": "*", "group": "director-dep-web"}})
}

fn create_args(agent: &str, cloud_properties: Value, networks: Value) -> Value {
    json!([agent, ids::TEMPLATE, cloud_properties, networks, [], env()])
}

async fn create(fixture: &Fixture, cloud_properties: Value, networks: Value) -> (String, Value) {
    let result = fixture
        .ok(
            "create_vm",
            create_args("agent-007", cloud_properties, networks),
        )
        .await;
    let vm_cid = result[0]
        .as_str()
        .expect("v2 result starts with the vm cid")
        .to_owned();
    (vm_cid, result[1].clone())
}

fn user_data(fixture: &Fixture, vm_cid: &str) -> Value {
    let vm = fixture
        .sim
        .vms()
        .into_iter()
        .find(|vm| vm.id == vm_cid)
        .expect("the VM exists");
    let encoded = vm.userdata.expect("user data was set");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("user data is base64");
    serde_json::from_slice(&bytes).expect("user data is JSON")
}

fn assert_nothing_left(fixture: &Fixture) {
    assert!(
        fixture.sim.vms().is_empty(),
        "VMs left: {:?}",
        fixture.sim.vms()
    );
    assert!(
        fixture.sim.volumes().is_empty(),
        "volumes left: {:?}",
        fixture.sim.volumes()
    );
    assert!(
        fixture
            .sim
            .public_ips()
            .iter()
            .all(|ip| ip.static_nat_vm.is_none()),
        "static NAT left"
    );
}

#[tokio::test]
async fn manual_network_vm_lives_and_dies() {
    let fixture = Fixture::start().await;
    let (vm_cid, networks) = create(
        &fixture,
        vm_type(),
        json!({"private": manual("10.1.1.50", "isolated-net", true)}),
    )
    .await;

    let vms = fixture.sim.vms();
    let vm = vms.iter().find(|vm| vm.id == vm_cid).expect("VM created");
    assert_eq!(vm.state, VmState::Running);
    assert!(vm.name.starts_with("vm-"), "{}", vm.name);
    assert_eq!(vm.nics.len(), 1);
    assert_eq!(vm.nics[0].ipaddress, "10.1.1.50");
    assert_eq!(vm.service_offering_id, ids::SO_SMALL);
    // The returned networks keep the director's fields and add the MAC and alias.
    assert_eq!(networks["private"]["prefix"], "32");
    assert_eq!(networks["private"]["mac"], json!(vm.nics[0].macaddress));
    assert_eq!(networks["private"]["alias"], "eth0");

    // The settings are in the user data (with the MAC) and in the store.
    let data = user_data(&fixture, &vm_cid);
    assert_eq!(data["agent_id"], "agent-007");
    assert_eq!(
        data["networks"]["private"]["mac"],
        json!(vm.nics[0].macaddress)
    );
    assert_eq!(data["networks"]["private"]["use_dhcp"], true);
    assert_eq!(data["disks"]["ephemeral"], "/dev/xvdb");
    assert_eq!(data["server"]["name"], json!(vm_cid));
    assert_eq!(data["env"], env());
    let stored = fixture
        .cpi
        .store()
        .await
        .unwrap()
        .get_settings(&vm_cid)
        .await
        .unwrap()
        .expect("settings stored");
    assert_eq!(stored.agent_id, "agent-007");

    // The default ephemeral disk (custom offering, 10 GiB) is attached as device 1 and tagged.
    let data_disks: Vec<_> = fixture
        .sim
        .volumes()
        .into_iter()
        .filter(|v| v.kind == VolumeType::DataDisk)
        .collect();
    assert_eq!(data_disks.len(), 1);
    assert_eq!(data_disks[0].vm_id.as_deref(), Some(vm_cid.as_str()));
    assert_eq!(data_disks[0].device_id, Some(1));
    assert_eq!(data_disks[0].size, 10 << 30);
    let tags: Vec<_> = fixture
        .sim
        .tags()
        .into_iter()
        .filter(|t| t.resource_id == data_disks[0].id)
        .map(|t| (t.key, t.value))
        .collect();
    assert!(
        tags.contains(&("bosh_role".into(), "ephemeral".into())),
        "{tags:?}"
    );
    assert!(
        tags.contains(&("bosh_vm".into(), vm_cid.clone())),
        "{tags:?}"
    );
    assert!(
        tags.contains(&("bosh_director_uuid".into(), "director-1".into())),
        "{tags:?}"
    );

    assert_eq!(fixture.ok("has_vm", json!([vm_cid])).await, json!(true));
    assert_eq!(fixture.ok("reboot_vm", json!([vm_cid])).await, Value::Null);
    assert_eq!(fixture.sim.calls("rebootVirtualMachine"), 1);

    assert_eq!(fixture.ok("delete_vm", json!([vm_cid])).await, Value::Null);
    assert_nothing_left(&fixture);
    assert!(
        fixture
            .cpi
            .store()
            .await
            .unwrap()
            .get_settings(&vm_cid)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(fixture.ok("has_vm", json!([vm_cid])).await, json!(false));
    // Deleting twice succeeds; unknown ids are simply absent.
    assert_eq!(fixture.ok("delete_vm", json!([vm_cid])).await, Value::Null);
    assert_eq!(
        fixture.ok("has_vm", json!(["no-such-vm"])).await,
        json!(false)
    );
    assert_eq!(
        fixture
            .ok("has_vm", json!(["9a7e2b2c-0000-4000-8000-00000000beef"]))
            .await,
        json!(false)
    );
    let (kind, message, _) = fixture.err("reboot_vm", json!([vm_cid])).await;
    assert_eq!(kind, "Bosh::Clouds::VMNotFound", "{message}");
}

#[tokio::test]
async fn dynamic_network_gets_its_ip_returned() {
    let fixture = Fixture::start().await;
    let (vm_cid, networks) = create(
        &fixture,
        vm_type(),
        json!({"dyn": {"type": "dynamic", "dns": ["8.8.8.8"], "default": ["dns", "gateway"],
            "cloud_properties": {"name": "isolated-net"}}}),
    )
    .await;
    let vm = fixture
        .sim
        .vms()
        .into_iter()
        .find(|vm| vm.id == vm_cid)
        .unwrap();
    assert_eq!(networks["dyn"]["ip"], json!(vm.nics[0].ipaddress));
    assert_eq!(networks["dyn"]["mac"], json!(vm.nics[0].macaddress));
    assert_eq!(networks["dyn"]["gateway"], "10.1.1.1");
    assert_eq!(networks["dyn"]["type"], "dynamic");
}

#[tokio::test]
async fn several_nics_put_the_default_gateway_first() {
    let fixture = Fixture::start().await;
    let (vm_cid, networks) = create(
        &fixture,
        vm_type(),
        json!({
            "backend": manual("10.1.1.70", "isolated-net", false),
            "front": manual("10.2.0.70", "shared-net", true),
        }),
    )
    .await;
    let vm = fixture
        .sim
        .vms()
        .into_iter()
        .find(|vm| vm.id == vm_cid)
        .unwrap();
    assert_eq!(vm.nics.len(), 2);
    // The network carrying the default gateway is NIC 0 and CloudStack's default NIC.
    assert_eq!(vm.nics[0].network_id, ids::NET_SHARED);
    assert!(vm.nics[0].isdefault);
    assert_eq!(networks["front"]["alias"], "eth0");
    assert_eq!(networks["front"]["mac"], json!(vm.nics[0].macaddress));
    assert_eq!(networks["backend"]["alias"], "eth1");
    assert_eq!(networks["backend"]["mac"], json!(vm.nics[1].macaddress));
    let data = user_data(&fixture, &vm_cid);
    assert_eq!(
        data["networks"]["backend"]["mac"],
        json!(vm.nics[1].macaddress)
    );
    assert_eq!(data["networks"]["front"]["use_dhcp"], true);
}

#[tokio::test]
async fn vip_gets_static_nat_and_loses_it_on_delete() {
    let fixture = Fixture::start().await;
    let cloud = fixture
        .cpi
        .clients()
        .get(&cpi_actions::client_config(fixture.cpi.config()))
        .unwrap();
    let address = cloud
        .execute(&cloudstack::commands::AssociateIpAddress {
            zoneid: Some(ids::ZONE.to_owned()),
            ..Default::default()
        })
        .await
        .unwrap();
    let public_ip = address.ipaddress.clone().unwrap();
    let (vm_cid, networks) = create(
        &fixture,
        vm_type(),
        json!({"private": manual("10.1.1.80", "isolated-net", true),
               "public": {"type": "vip", "ip": public_ip, "cloud_properties": {}}}),
    )
    .await;
    let nat = fixture
        .sim
        .public_ips()
        .into_iter()
        .find(|ip| ip.id == address.id)
        .unwrap();
    assert_eq!(nat.static_nat_vm.as_deref(), Some(vm_cid.as_str()));
    assert_eq!(networks["public"]["ip"], json!(public_ip));
    assert!(networks["public"].get("mac").is_none());
    fixture.ok("delete_vm", json!([vm_cid])).await;
    assert!(
        fixture
            .sim
            .public_ips()
            .iter()
            .all(|ip| ip.static_nat_vm.is_none())
    );
    assert!(fixture.sim.vms().is_empty());
}

#[tokio::test]
async fn customized_offering_root_disk_affinity_and_ephemeral_disk() {
    let fixture = Fixture::start().await;
    let (vm_cid, _) = create(
        &fixture,
        json!({"compute_offering": "custom", "cpu": 2, "ram": 3072, "cpu_speed": 1500,
               "root_disk_size": 20000, "affinity_group": "web-anti",
               "ephemeral_disk_offering": "custom", "disk": 5000}),
        json!({"private": manual("10.1.1.90", "isolated-net", true)}),
    )
    .await;
    let world = fixture.sim.world();
    let vm = world.vms.iter().find(|vm| vm.id == vm_cid).unwrap();
    assert_eq!((vm.cpunumber, vm.memory, vm.cpuspeed), (2, 3072, 1500));
    let group = world
        .affinity_groups
        .iter()
        .find(|g| g.name == "web-anti")
        .expect("the affinity group was created");
    assert_eq!(group.kind, "host anti-affinity");
    assert_eq!(vm.affinity_group_ids, vec![group.id.clone()]);
    let root = world
        .volumes
        .iter()
        .find(|v| v.vm_id.as_deref() == Some(vm_cid.as_str()) && v.kind == VolumeType::Root)
        .unwrap();
    assert_eq!(root.size, 20 << 30, "20000 MiB rounds up to 20 GiB");
    let ephemeral = world
        .volumes
        .iter()
        .find(|v| v.kind == VolumeType::DataDisk)
        .unwrap();
    assert_eq!(ephemeral.size, 5 << 30);
    // A second VM reuses the existing group.
    create(
        &fixture,
        json!({"compute_offering": "small", "affinity_group": "web-anti"}),
        json!({"private": manual("10.1.1.91", "isolated-net", true)}),
    )
    .await;
    assert_eq!(fixture.sim.calls("createAffinityGroup"), 1);
    let world = fixture.sim.world();
    let hosts: Vec<_> = world.vms.iter().map(|vm| vm.host_id.clone()).collect();
    assert_ne!(hosts[0], hosts[1], "host anti-affinity is honoured");
}

#[tokio::test]
async fn bad_cloud_properties_are_refused_before_anything_is_created() {
    let fixture = Fixture::start().await;
    let networks = json!({"private": manual("10.1.1.20", "isolated-net", true)});
    let cases = [
        (
            json!({"compute_offering": "small", "instance_type": "m1"}),
            "instance_type",
        ),
        (
            json!({"compute_offering": "small", "disk": "big"}),
            "'disk'",
        ),
        (json!({"compute_offering": "nope"}), "nope"),
        (json!({"compute_offering": "custom"}), "customized"),
        (
            json!({"compute_offering": "small", "cpu": 2, "ram": 1024}),
            "not customized",
        ),
        (
            json!({"compute_offering": "small", "zone": "zone9"}),
            "zone9",
        ),
    ];
    for (properties, needle) in cases {
        let (kind, message, retry) = fixture
            .err(
                "create_vm",
                create_args("agent-1", properties, networks.clone()),
            )
            .await;
        assert_eq!(kind, "Bosh::Clouds::CloudError", "{message}");
        assert!(message.contains(needle), "{needle}: {message}");
        assert!(!retry);
    }
    let (_, message, _) = fixture
        .err(
            "create_vm",
            create_args(
                "agent-1",
                vm_type(),
                json!({"private": manual("10.1.1.20", "no-such-net", true)}),
            ),
        )
        .await;
    assert!(message.contains("no-such-net"), "{message}");
    let (_, message, _) = fixture
        .err(
            "create_vm",
            create_args(
                "agent-1",
                vm_type(),
                json!({"private": {"type": "manual", "ip": "10.1.1.20", "cloud_properties": {"name": "isolated-net", "vlan": 3}}}),
            ),
        )
        .await;
    assert!(message.contains("vlan"), "{message}");
    assert_eq!(fixture.sim.calls("deployVirtualMachine"), 0);
    assert_nothing_left(&fixture);
}

#[tokio::test]
async fn set_vm_metadata_replaces_changed_tags_and_names_the_vm() {
    let fixture = Fixture::start().await;
    let (vm_cid, _) = create(
        &fixture,
        vm_type(),
        json!({"private": manual("10.1.1.30", "isolated-net", true)}),
    )
    .await;
    let metadata = json!({"director": "bosh", "deployment": "cf", "name": "web/0", "index": 0});
    fixture
        .ok("set_vm_metadata", json!([vm_cid, metadata]))
        .await;
    fixture
        .ok(
            "set_vm_metadata",
            json!([vm_cid, {"director": "bosh", "deployment": "cf-2", "name": "web/0", "index": 0}]),
        )
        .await;
    let tags: Vec<(String, String)> = fixture
        .sim
        .tags()
        .into_iter()
        .filter(|t| t.resource_id == vm_cid)
        .map(|t| (t.key, t.value))
        .collect();
    assert!(
        tags.contains(&("deployment".into(), "cf-2".into())),
        "{tags:?}"
    );
    assert!(
        !tags.contains(&("deployment".into(), "cf".into())),
        "{tags:?}"
    );
    assert!(tags.contains(&("index".into(), "0".into())), "{tags:?}");
    assert!(tags.contains(&("bosh_director_uuid".into(), "director-1".into())));
    let vm = fixture
        .sim
        .vms()
        .into_iter()
        .find(|vm| vm.id == vm_cid)
        .unwrap();
    assert_eq!(vm.displayname, "web/0");
    let (kind, _, _) = fixture
        .err("set_vm_metadata", json!(["no-such-vm", {"name": "x"}]))
        .await;
    assert_eq!(kind, "Bosh::Clouds::VMNotFound");
}

#[tokio::test]
async fn calculate_vm_cloud_properties_picks_the_smallest_fit() {
    let fixture = Fixture::start().await;
    let result = fixture
        .ok(
            "calculate_vm_cloud_properties",
            json!([{"cpu": 2, "ram": 2000, "ephemeral_disk_size": 4096}]),
        )
        .await;
    assert_eq!(result, json!({"compute_offering": "medium", "disk": 4096}));
    let result = fixture
        .ok(
            "calculate_vm_cloud_properties",
            json!([{"cpu": 16, "ram": 65536, "ephemeral_disk_size": 1024}]),
        )
        .await;
    assert_eq!(
        result,
        json!({"compute_offering": "custom", "cpu": 16, "ram": 65536, "disk": 1024})
    );
    // The result is accepted by create_vm as it is.
    create(
        &fixture,
        json!({"compute_offering": "custom", "cpu": 2, "ram": 1024, "disk": 1024}),
        json!({"private": manual("10.1.1.31", "isolated-net", true)}),
    )
    .await;

    let fixture = Fixture::builder()
        .sim(|sim| sim.inventory.service_offerings.retain(|o| !o.iscustomized))
        .start()
        .await;
    let (kind, message, _) = fixture
        .err(
            "calculate_vm_cloud_properties",
            json!([{"cpu": 16, "ram": 65536, "ephemeral_disk_size": 1024}]),
        )
        .await;
    assert_eq!(kind, "Bosh::Clouds::CloudError");
    assert!(
        message.contains("16 CPU") && message.contains("65536 MiB"),
        "{message}"
    );
    assert!(message.contains("large (4 CPU, 8192 MiB)"), "{message}");
}

#[tokio::test]
async fn large_user_data_with_mbus_certificates_is_posted() {
    let fixture = Fixture::start().await;
    let certificate = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        "MIIDXTCCAkWgAwIBAgIJAKL0UG+mRKSzMA0GCSqGSIb3DQEBCwUAMEUxCzAJBgNV".repeat(40)
    );
    let env = json!({"bosh": {"mbus": {"cert": {"ca": certificate, "certificate": certificate,
        "private_key": certificate}}, "password": "*"}});
    let result = fixture
        .ok(
            "create_vm",
            json!(["agent-big", ids::TEMPLATE, vm_type(),
                   {"private": manual("10.1.1.40", "isolated-net", true)}, [], env]),
        )
        .await;
    let vm_cid = result[0].as_str().unwrap();
    let vm = fixture
        .sim
        .vms()
        .into_iter()
        .find(|vm| vm.id == vm_cid)
        .unwrap();
    assert!(vm.userdata.as_ref().unwrap().len() > 8 * 1024);
    let data = user_data(&fixture, vm_cid);
    assert_eq!(
        data["env"]["bosh"]["mbus"]["cert"]["ca"],
        json!(certificate)
    );
}

#[tokio::test]
async fn v1_calls_return_the_cid_and_v1_stemcells_get_the_registry() {
    let fixture = Fixture::builder()
        .config(json!({"registry": {"endpoint": "http://10.0.0.6:25777", "user": "admin", "password": "registry-password"}}))
        .start()
        .await;
    let response = fixture
        .call_with(
            "create_vm",
            create_args(
                "agent-v1",
                vm_type(),
                json!({"private": manual("10.1.1.45", "isolated-net", true)}),
            ),
            json!({"director_uuid": "director-1", "request_id": "cpi-1", "vm": {"stemcell": {"api_version": 1}}}),
            1,
        )
        .await;
    assert!(response.error.is_none(), "{:?}", response.error);
    let vm_cid = response
        .result
        .as_str()
        .expect("v1 returns the cid alone")
        .to_owned();
    let stored = fixture
        .cpi
        .store()
        .await
        .unwrap()
        .get_settings(&vm_cid)
        .await
        .unwrap()
        .expect("settings stored for the registry");
    assert_eq!(stored.stemcell_api_version, Some(1));
    let settings: Value = serde_json::from_str(&stored.settings).unwrap();
    assert_eq!(settings["agent_id"], "agent-v1");
    assert!(
        fixture
            .cpi
            .store()
            .await
            .unwrap()
            .credential_hash(&vm_cid)
            .await
            .unwrap()
            .is_some(),
        "a registry credential was minted"
    );
    let data = user_data(&fixture, &vm_cid);
    let endpoint = data["registry"]["endpoint"].as_str().unwrap();
    assert!(
        endpoint.starts_with(&format!("http://{vm_cid}:")),
        "{endpoint}"
    );
    assert!(!endpoint.contains("registry-password"));
    fixture.ok("delete_vm", json!([vm_cid])).await;
    assert!(
        fixture
            .cpi
            .store()
            .await
            .unwrap()
            .credential_hash(&vm_cid)
            .await
            .unwrap()
            .is_none()
    );
}
