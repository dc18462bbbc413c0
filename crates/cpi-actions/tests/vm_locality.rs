//! Host-local storage: a VM whose `disk_cids` hint names a host-local volume is started on that
//! volume's host, so the persistent disk can attach (a known failure of the predecessor).

mod common;

use common::Fixture;
use serde_json::json;

fn network(ip: &str) -> serde_json::Value {
    json!({"default": {"type": "manual", "ip": ip, "netmask": "255.255.255.0", "gateway": "10.1.1.1",
        "dns": ["10.1.1.1"], "default": ["dns", "gateway"], "cloud_properties": {"name": "isolated-net"}}})
}

#[tokio::test]
async fn a_vm_follows_its_host_local_disk() {
    // Only a root admin may choose a VM's host, so this CPI runs with the admin's keys.
    let fixture = Fixture::builder()
        .config(json!({"cloudstack": {"api_key": "sim-admin-api-key", "secret_access_key": "sim-admin-secret-key"}}))
        .start()
        .await;
    let template = cloudstack_sim::ids::TEMPLATE;
    // The first VM and the fillers share a host-affinity group, so they all land on one host:
    // the disk's host ends up the most loaded, where CloudStack would not put a new VM itself.
    let packed = json!({"compute_offering": "small", "affinity_group": "packed",
                        "affinity_group_type": "host affinity"});
    let first = fixture
        .ok(
            "create_vm",
            json!(["agent-a", template, packed, network("10.1.1.51"), [], {}]),
        )
        .await;
    let first = first[0].as_str().unwrap().to_owned();
    let disk = fixture
        .ok(
            "create_disk",
            json!([2048, {"disk_offering": "custom-local"}, first]),
        )
        .await;
    let disk = disk.as_str().unwrap().to_owned();
    let disk_host = fixture
        .sim
        .volumes()
        .into_iter()
        .find(|volume| volume.id == disk)
        .and_then(|volume| volume.host_id)
        .expect("a local volume is bound to a host");

    for (index, ip) in ["10.1.1.52", "10.1.1.53", "10.1.1.54"].iter().enumerate() {
        let _ = fixture
            .ok(
                "create_vm",
                json!([
                    format!("agent-filler-{index}"),
                    template,
                    packed,
                    network(ip),
                    [],
                    {}
                ]),
            )
            .await;
    }
    fixture.ok("delete_vm", json!([first])).await;
    let second = fixture
        .ok("create_vm", json!(["agent-b", template, {"compute_offering": "small"}, network("10.1.1.55"), [disk], {}]))
        .await;
    let second = second[0].as_str().unwrap().to_owned();
    let vm = fixture
        .sim
        .vms()
        .into_iter()
        .find(|vm| vm.id == second)
        .unwrap();
    assert_eq!(
        vm.host_id.as_deref(),
        Some(disk_host.as_str()),
        "the VM was placed next to its disk"
    );
    let hint = fixture.ok("attach_disk", json!([second, disk])).await;
    assert!(hint["path"].is_string(), "{hint}");
}
