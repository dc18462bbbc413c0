//! A BOSH instance's life through the real shim and the real daemon, against the emulator over
//! real HTTP, checking the emulator's state after each step — what a director does when it
//! deploys, updates and deletes one instance with a persistent disk.

mod harness;

use cloudstack_sim::model::{VmState, VolumeType};
use harness::TestDaemon;
use serde_json::{Value, json};

fn manual_network(ip: &str) -> Value {
    json!({"default": {"type": "manual", "ip": ip, "netmask": "255.255.255.0", "gateway": "10.1.1.1",
                       "dns": ["10.1.1.1"], "default": ["dns", "gateway"], "prefix": "32",
                       "cloud_properties": {"name": "isolated-net"}}})
}

#[test]
fn an_instance_with_a_persistent_disk_lives_and_dies_through_the_shim() {
    let daemon = TestDaemon::builder().emulator(|_| {}).start();
    let sim = daemon.sim();

    let info = daemon.ok("info", json!([]));
    assert_eq!(info["api_version"], 2);

    // A light stemcell names an existing template; its cid is the template id.
    let stemcell = daemon.ok(
        "create_stemcell",
        json!(["/dev/null", {"name": "light", "version": "1", "light_template": "bosh-stemcell-default"}]),
    );
    let stemcell = stemcell.as_str().expect("stemcell cid").to_owned();
    assert!(
        sim.templates()
            .iter()
            .any(|template| template.id == stemcell)
    );

    // create_vm on a manual network returns [cid, networks] with the NIC's MAC added.
    let created = daemon.ok(
        "create_vm",
        json!(["agent-lifecycle", stemcell, {"compute_offering": "small", "disk": 2048},
               manual_network("10.1.1.31"), [], {"bosh": {"password": "*"}, "unknown_env": {"kept": true}}]),
    );
    let vm_cid = created[0].as_str().expect("vm cid").to_owned();
    let mac = created[1]["default"]["mac"]
        .as_str()
        .expect("mac in returned networks");
    assert_eq!(
        created[1]["default"]["prefix"], "32",
        "input fields are kept"
    );
    let vm = sim
        .vms()
        .into_iter()
        .find(|vm| vm.id == vm_cid)
        .expect("the VM exists in CloudStack");
    assert_eq!(vm.state, VmState::Running);
    assert_eq!(vm.nics[0].ipaddress, "10.1.1.31");
    assert_eq!(vm.nics[0].macaddress, mac);
    let user_data = vm.userdata.as_deref().expect("user data was sent");
    assert!(!user_data.is_empty());
    let ephemeral: Vec<_> = sim
        .volumes()
        .into_iter()
        .filter(|volume| {
            volume.vm_id.as_deref() == Some(vm_cid.as_str()) && volume.kind == VolumeType::DataDisk
        })
        .collect();
    assert_eq!(ephemeral.len(), 1, "the ephemeral disk is attached");

    assert_eq!(daemon.ok("has_vm", json!([vm_cid])), json!(true));
    daemon.ok(
        "set_vm_metadata",
        json!([vm_cid, {"director": "bosh", "deployment": "d", "name": "web/0", "index": "0"}]),
    );
    assert!(
        sim.tags()
            .iter()
            .any(|tag| tag.resource_id == vm_cid && tag.key == "deployment" && tag.value == "d")
    );

    // A persistent disk: create, attach (a hint), list, detach.
    let disk = daemon.ok("create_disk", json!([3072, {}, vm_cid]));
    let disk = disk.as_str().expect("disk cid").to_owned();
    assert!(
        sim.volumes()
            .iter()
            .any(|volume| volume.id == disk && volume.vm_id.is_none())
    );
    let hint = daemon.ok("attach_disk", json!([vm_cid, disk]));
    assert!(
        hint["path"]
            .as_str()
            .is_some_and(|path| path.starts_with("/dev/xvd")),
        "{hint}"
    );
    assert_eq!(
        sim.volumes()
            .iter()
            .find(|volume| volume.id == disk)
            .and_then(|volume| volume.vm_id.clone()),
        Some(vm_cid.clone())
    );
    assert_eq!(daemon.ok("get_disks", json!([vm_cid])), json!([disk]));
    daemon.ok("detach_disk", json!([vm_cid, disk]));
    assert_eq!(daemon.ok("get_disks", json!([vm_cid])), json!([]));

    // The director deletes a VM with its disk still attached: the disk survives and attaches
    // to the replacement VM, which reuses the same IP at once.
    daemon.ok("attach_disk", json!([vm_cid, disk]));
    daemon.ok("delete_vm", json!([vm_cid]));
    assert_eq!(daemon.ok("has_vm", json!([vm_cid])), json!(false));
    assert!(
        sim.volumes().iter().any(|volume| volume.id == disk),
        "the persistent disk survives delete_vm"
    );
    let replacement = daemon.ok(
        "create_vm",
        json!(["agent-lifecycle", stemcell, {"compute_offering": "small"}, manual_network("10.1.1.31"), [disk], {}]),
    );
    let replacement = replacement[0].as_str().expect("vm cid").to_owned();
    daemon.ok("attach_disk", json!([replacement, disk]));
    assert_eq!(daemon.ok("get_disks", json!([replacement])), json!([disk]));

    // Tear down, twice where BOSH may repeat itself.
    daemon.ok("detach_disk", json!([replacement, disk]));
    daemon.ok("delete_disk", json!([disk]));
    daemon.ok("delete_disk", json!([disk]));
    daemon.ok("delete_vm", json!([replacement]));
    daemon.ok("delete_vm", json!([replacement]));
    assert_eq!(daemon.ok("has_disk", json!([disk])), json!(false));
    daemon.ok("delete_stemcell", json!([stemcell]));
    assert!(
        sim.templates()
            .iter()
            .any(|template| template.id == stemcell),
        "a light stemcell's template is never deleted"
    );
    let leftovers: Vec<_> = sim
        .volumes()
        .into_iter()
        .filter(|volume| volume.kind == VolumeType::DataDisk)
        .map(|volume| volume.id)
        .collect();
    assert!(
        leftovers.is_empty(),
        "no data volume is left behind: {leftovers:?}"
    );
}

#[test]
fn the_request_id_reaches_the_daemon_log_and_the_response_for_cloudstack_calls() {
    let daemon = TestDaemon::builder().emulator(|_| {}).start();
    let request = json!({"method": "has_vm", "arguments": ["no-such-vm"],
                         "context": {"director_uuid": "d", "request_id": "cpi-777123"}, "api_version": 2});
    let response = harness::response(&daemon.call_as_director(request.to_string().as_bytes()));
    assert_eq!(response["result"], json!(false));
    assert!(
        response["log"]
            .as_str()
            .is_some_and(|log| log.contains("cpi-777123")),
        "{response}"
    );
    assert!(daemon.log().contains("cpi-777123"));
    // Neither the log nor the response shows CloudStack credentials.
    for text in [daemon.log(), response.to_string()] {
        assert!(!text.contains("sim-user-secret-key") && !text.contains("sim-user-api-key"));
        assert!(!text.contains("MBUS-PASSWORD-SECRET"));
    }
}
