//! Disks and snapshots (issue 8), driven through `Cpi::handle` against the emulator, with the
//! emulator's state checked afterwards.

// Test helpers fail the test loudly, which is what panicking is for here.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::time::{Duration, SystemTime};

use cloudstack::commands::{CreateAffinityGroup, CreateTags, CreateVolume, DeployVirtualMachine};
use cloudstack::{ClientConfig, CloudStackClient};
use cloudstack_sim::ids;
use cloudstack_sim::model::Volume;
use common::Fixture;
use cpi_store::NewVmSettings;
use serde_json::{Value, json};

const GIB: u64 = 1 << 30;

/// A client with the CPI's own (user) credentials, for setting up what the director would have
/// created through other calls.
fn client(fixture: &Fixture) -> CloudStackClient {
    let config = ClientConfig::new(
        fixture.sim.url().parse().expect("emulator URL"),
        "sim-user-api-key".to_owned().into(),
        "sim-user-secret-key".to_owned().into(),
    );
    CloudStackClient::new(config).expect("client")
}

/// Deploys a VM directly (the VM lifecycle is issue 7), optionally on local storage and in an
/// affinity group.
async fn deploy_vm(fixture: &Fixture, local: bool, affinity_group: Option<&str>) -> String {
    let vm = client(fixture)
        .execute(&DeployVirtualMachine {
            serviceofferingid: if local {
                ids::SO_SMALL_LOCAL
            } else {
                ids::SO_SMALL
            }
            .to_owned(),
            templateid: ids::TEMPLATE.to_owned(),
            zoneid: ids::ZONE.to_owned(),
            name: Some(format!("vm-{}", uuid::Uuid::new_v4())),
            networkids: vec![ids::NET_ISOLATED.to_owned()],
            affinitygroupids: affinity_group.map(str::to_owned).into_iter().collect(),
            ..DeployVirtualMachine::default()
        })
        .await
        .expect("the VM deploys");
    vm.id
}

fn volume(fixture: &Fixture, id: &str) -> Option<Volume> {
    fixture.sim.volumes().into_iter().find(|v| v.id == id)
}

fn tag_of(fixture: &Fixture, resource: &str, key: &str) -> Option<String> {
    fixture
        .sim
        .tags()
        .into_iter()
        .find(|t| t.resource_id == resource && t.key == key)
        .map(|t| t.value)
}

fn host_of_vm(fixture: &Fixture, vm: &str) -> Option<String> {
    fixture
        .sim
        .vms()
        .into_iter()
        .find(|v| v.id == vm)
        .and_then(|v| v.host_id)
}

async fn create_disk(
    fixture: &Fixture,
    size_mib: u64,
    properties: Value,
    vm: Option<&str>,
) -> String {
    let cid = fixture
        .ok("create_disk", json!([size_mib, properties, vm]))
        .await;
    cid.as_str().expect("a disk CID string").to_owned()
}

#[tokio::test]
async fn create_disk_without_a_vm_uses_the_default_zone_and_offering() {
    let fixture = Fixture::start().await;
    let cid = create_disk(&fixture, 2500, json!({}), None).await;
    let created = volume(&fixture, &cid).expect("the volume exists");
    assert_eq!(created.size, 3 * GIB, "custom sizes round up to whole GiB");
    assert_eq!(created.zone_id, ids::ZONE);
    assert_eq!(created.disk_offering_id.as_deref(), Some(ids::DO_CUSTOM));
    assert_eq!(created.vm_id, None);
    assert_eq!(
        tag_of(&fixture, &cid, "bosh_role").as_deref(),
        Some("persistent")
    );
    assert_eq!(
        tag_of(&fixture, &cid, "bosh_director_uuid").as_deref(),
        Some("director-1")
    );
    assert_eq!(fixture.ok("has_disk", json!([cid])).await, json!(true));
}

#[tokio::test]
async fn create_disk_with_a_vm_and_a_fixed_offering() {
    let fixture = Fixture::start().await;
    let vm = deploy_vm(&fixture, false, None).await;
    // The emulator's "small" disk offering is a fixed 10 GiB.
    let cid = create_disk(&fixture, 4096, json!({"disk_offering": "small"}), Some(&vm)).await;
    let created = volume(&fixture, &cid).expect("the volume exists");
    assert_eq!(created.size, 10 * GIB);
    assert_eq!(created.disk_offering_id.as_deref(), Some(ids::DO_SMALL));
    assert_eq!(
        created.vm_id, None,
        "create_disk hands back an unattached disk"
    );

    let (kind, message, _) = fixture
        .err(
            "create_disk",
            json!([12000, {"disk_offering": "small"}, vm]),
        )
        .await;
    assert_eq!(kind, "Bosh::Clouds::CloudError");
    assert!(
        message.contains("12000 MiB") && message.contains("10 GiB"),
        "{message}"
    );
    assert_eq!(
        fixture
            .sim
            .volumes()
            .iter()
            .filter(|v| v.kind == cloudstack_sim::model::VolumeType::DataDisk)
            .count(),
        1
    );
}

#[tokio::test]
async fn create_disk_refuses_bad_cloud_properties() {
    let fixture = Fixture::start().await;
    let (_, message, _) = fixture
        .err(
            "create_disk",
            json!([1024, {"disk_offering": "custom", "iops": 5, "type": "ssd"}, null]),
        )
        .await;
    assert!(
        message.contains("iops") && message.contains("type"),
        "{message}"
    );
    let (_, message, _) = fixture
        .err("create_disk", json!([1024, {"disk_offering": 12}, null]))
        .await;
    assert!(message.contains("disk_offering"), "{message}");
    let (_, message, _) = fixture
        .err(
            "create_disk",
            json!([1024, {"disk_offering": "no-such-offering"}, null]),
        )
        .await;
    assert!(message.contains("no-such-offering"), "{message}");
    let (kind, _, _) = fixture
        .err(
            "create_disk",
            json!([1024, {}, "9a7e2b2c-0c1d-4d1e-9f99-000000000000"]),
        )
        .await;
    assert_eq!(kind, "Bosh::Clouds::VMNotFound");
    assert!(
        fixture
            .sim
            .volumes()
            .iter()
            .all(|v| v.kind != cloudstack_sim::model::VolumeType::DataDisk)
    );
}

#[tokio::test]
async fn attach_get_detach_and_delete() {
    let fixture = Fixture::start().await;
    let vm = deploy_vm(&fixture, false, None).await;
    let cid = create_disk(&fixture, 1024, json!({}), Some(&vm)).await;

    let hint = fixture.ok("attach_disk", json!([vm, cid])).await;
    let attached = volume(&fixture, &cid).expect("volume");
    assert_eq!(attached.vm_id.as_deref(), Some(vm.as_str()));
    let device = attached.device_id.expect("a device id");
    let letter = char::from(b'a' + u8::try_from(device).expect("small device id"));
    assert_eq!(
        hint,
        json!({"path": format!("/dev/xvd{letter}"), "volume_id": device.to_string()})
    );
    // Attaching again to the same VM answers the same hint without a second attachVolume.
    let attaches = fixture.sim.calls("attachVolume");
    assert_eq!(fixture.ok("attach_disk", json!([vm, cid])).await, hint);
    assert_eq!(fixture.sim.calls("attachVolume"), attaches);

    assert_eq!(fixture.ok("get_disks", json!([vm])).await, json!([cid]));

    let (_, message, _) = fixture.err("delete_disk", json!([cid])).await;
    assert!(
        message.contains("attached") && message.contains(&vm),
        "{message}"
    );

    assert_eq!(
        fixture.ok("detach_disk", json!([vm, cid])).await,
        Value::Null
    );
    assert_eq!(volume(&fixture, &cid).expect("volume").vm_id, None);
    assert_eq!(fixture.ok("get_disks", json!([vm])).await, json!([]));
    // Detaching what is not attached, or is gone, succeeds.
    assert_eq!(
        fixture.ok("detach_disk", json!([vm, cid])).await,
        Value::Null
    );

    assert_eq!(fixture.ok("delete_disk", json!([cid])).await, Value::Null);
    assert!(volume(&fixture, &cid).is_none());
    assert_eq!(fixture.ok("has_disk", json!([cid])).await, json!(false));
    assert_eq!(fixture.ok("delete_disk", json!([cid])).await, Value::Null);
    assert_eq!(
        fixture.ok("detach_disk", json!([vm, cid])).await,
        Value::Null
    );
}

#[tokio::test]
async fn unknown_ids_are_absent_not_errors() {
    let fixture = Fixture::start().await;
    let unknown = "9a7e2b2c-0c1d-4d1e-9f99-000000000001";
    assert_eq!(fixture.ok("has_disk", json!([unknown])).await, json!(false));
    assert_eq!(
        fixture.ok("has_disk", json!(["not-a-uuid"])).await,
        json!(false)
    );
    assert_eq!(
        fixture.ok("delete_disk", json!([unknown])).await,
        Value::Null
    );
    assert_eq!(
        fixture.ok("delete_snapshot", json!([unknown])).await,
        Value::Null
    );
    let vm = deploy_vm(&fixture, false, None).await;
    let (kind, _, _) = fixture.err("attach_disk", json!([vm, unknown])).await;
    assert_eq!(kind, "Bosh::Clouds::DiskNotFound");
    let (kind, _, _) = fixture
        .err("set_disk_metadata", json!([unknown, {"a": "b"}]))
        .await;
    assert_eq!(kind, "Bosh::Clouds::DiskNotFound");
}

#[tokio::test]
async fn a_disk_attached_elsewhere_is_refused_clearly() {
    let fixture = Fixture::start().await;
    let first = deploy_vm(&fixture, false, None).await;
    let second = deploy_vm(&fixture, false, None).await;
    let cid = create_disk(&fixture, 1024, json!({}), None).await;
    fixture.ok("attach_disk", json!([first, cid])).await;

    let (_, message, _) = fixture.err("attach_disk", json!([second, cid])).await;
    assert!(
        message.contains(&first) && message.contains("attached"),
        "{message}"
    );
    assert_eq!(
        volume(&fixture, &cid).expect("volume").vm_id.as_deref(),
        Some(first.as_str())
    );

    let (kind, message, _) = fixture.err("detach_disk", json!([second, cid])).await;
    assert_eq!(kind, "Bosh::Clouds::DiskNotAttached");
    assert!(message.contains(&first), "{message}");
    assert_eq!(
        volume(&fixture, &cid).expect("volume").vm_id.as_deref(),
        Some(first.as_str())
    );
}

/// Two VMs on different local-storage hosts, and a local disk placed on the first one's host.
async fn local_disk_and_vm_on_another_host(fixture: &Fixture) -> (String, String, String) {
    let group = client(fixture)
        .execute(&CreateAffinityGroup {
            name: "spread".to_owned(),
            group_type: "host anti-affinity".to_owned(),
            description: None,
        })
        .await
        .expect("affinity group");
    let on_a = deploy_vm(fixture, true, Some(&group.id)).await;
    let on_b = deploy_vm(fixture, true, Some(&group.id)).await;
    let (host_a, host_b) = (host_of_vm(fixture, &on_a), host_of_vm(fixture, &on_b));
    assert!(
        host_a.is_some() && host_a != host_b,
        "{host_a:?} {host_b:?}"
    );
    let cid = create_disk(
        fixture,
        1024,
        json!({"disk_offering": "custom-local"}),
        Some(&on_a),
    )
    .await;
    let placed = volume(fixture, &cid).expect("volume");
    assert_eq!(
        placed.host_id, host_a,
        "a local disk is created on its VM's host"
    );
    assert_eq!(placed.vm_id, None);
    (on_a, on_b, cid)
}

#[tokio::test]
async fn a_local_disk_on_another_host_is_refused_naming_both_hosts() {
    let fixture = Fixture::start().await;
    let (on_a, on_b, cid) = local_disk_and_vm_on_another_host(&fixture).await;
    let names = |vm: &str| {
        let host = host_of_vm(&fixture, vm).expect("host");
        fixture
            .sim
            .world()
            .hosts
            .into_iter()
            .find(|h| h.id == host)
            .expect("host")
            .name
    };
    let (_, message, _) = fixture.err("attach_disk", json!([on_b, cid])).await;
    assert!(
        message.contains(&names(&on_a)) && message.contains(&names(&on_b)),
        "{message}"
    );
    assert!(message.contains("allow_volume_migration"), "{message}");
    assert_eq!(
        fixture.sim.calls("attachVolume"),
        0,
        "refused before CloudStack is asked"
    );
    // On its own host it attaches.
    fixture.ok("attach_disk", json!([on_a, cid])).await;
}

#[tokio::test]
async fn a_local_disk_on_another_host_is_migrated_when_allowed() {
    let fixture = Fixture::builder()
        .config(json!({"cloudstack": {"allow_volume_migration": true}}))
        .start()
        .await;
    let (_, on_b, cid) = local_disk_and_vm_on_another_host(&fixture).await;
    fixture.ok("attach_disk", json!([on_b, cid])).await;
    let moved = volume(&fixture, &cid).expect("volume");
    assert_eq!(moved.host_id, host_of_vm(&fixture, &on_b));
    assert_eq!(moved.vm_id.as_deref(), Some(on_b.as_str()));
    assert_eq!(fixture.sim.calls("migrateVolume"), 1);
}

#[tokio::test]
async fn snapshots_are_tagged_and_deleting_a_missing_one_succeeds() {
    let fixture = Fixture::start().await;
    let cid = create_disk(&fixture, 1024, json!({}), None).await;
    let snapshot = fixture
        .ok(
            "snapshot_disk",
            json!([cid, {"deployment": "cf", "job": "db", "index": 0, "director_name": "bosh"}]),
        )
        .await;
    let snapshot = snapshot.as_str().expect("snapshot CID").to_owned();
    let world = fixture.sim.world();
    let stored = world
        .snapshots
        .iter()
        .find(|s| s.id == snapshot)
        .expect("snapshot exists");
    assert_eq!(stored.volume_id, cid);
    assert_eq!(
        tag_of(&fixture, &snapshot, "deployment").as_deref(),
        Some("cf")
    );
    assert_eq!(tag_of(&fixture, &snapshot, "index").as_deref(), Some("0"));
    assert_eq!(
        tag_of(&fixture, &snapshot, "bosh_director_uuid").as_deref(),
        Some("director-1")
    );

    assert_eq!(
        fixture.ok("delete_snapshot", json!([snapshot])).await,
        Value::Null
    );
    assert!(fixture.sim.world().snapshots.is_empty());
    assert_eq!(
        fixture.ok("delete_snapshot", json!([snapshot])).await,
        Value::Null
    );
}

#[tokio::test]
async fn disk_metadata_becomes_tags_but_cannot_change_our_own() {
    let fixture = Fixture::start().await;
    let cid = create_disk(&fixture, 1024, json!({}), None).await;
    fixture
        .ok(
            "set_disk_metadata",
            json!([cid, {"deployment": "cf", "instance_index": 1, "bosh_role": "ephemeral"}]),
        )
        .await;
    fixture
        .ok("set_disk_metadata", json!([cid, {"deployment": "cf2"}]))
        .await;
    assert_eq!(tag_of(&fixture, &cid, "deployment").as_deref(), Some("cf2"));
    assert_eq!(
        tag_of(&fixture, &cid, "instance_index").as_deref(),
        Some("1")
    );
    assert_eq!(
        tag_of(&fixture, &cid, "bosh_role").as_deref(),
        Some("persistent")
    );
}

#[tokio::test]
async fn resize_grows_and_refuses_to_shrink() {
    let fixture = Fixture::start().await;
    let cid = create_disk(&fixture, 2048, json!({}), None).await;
    assert_eq!(
        fixture.ok("resize_disk", json!([cid, 4096])).await,
        Value::Null
    );
    assert_eq!(volume(&fixture, &cid).expect("volume").size, 4 * GIB);

    let (kind, message, _) = fixture.err("resize_disk", json!([cid, 1024])).await;
    assert_eq!(kind, "Bosh::Clouds::NotSupported");
    assert!(message.contains("shrink"), "{message}");
    assert_eq!(volume(&fixture, &cid).expect("volume").size, 4 * GIB);

    // A fixed-size disk grows by moving to the configured custom offering.
    let fixed = create_disk(&fixture, 1024, json!({"disk_offering": "small"}), None).await;
    fixture.ok("resize_disk", json!([fixed, 12 * 1024])).await;
    let grown = volume(&fixture, &fixed).expect("volume");
    assert_eq!(grown.size, 12 * GIB);
    assert_eq!(grown.disk_offering_id.as_deref(), Some(ids::DO_CUSTOM));

    let (kind, _, _) = fixture
        .err(
            "resize_disk",
            json!(["9a7e2b2c-0c1d-4d1e-9f99-000000000002", 4096]),
        )
        .await;
    assert_eq!(kind, "Bosh::Clouds::DiskNotFound");
}

#[tokio::test]
async fn update_disk_only_grows_in_place() {
    let fixture = Fixture::start().await;
    let cid = create_disk(&fixture, 2048, json!({"disk_offering": "custom"}), None).await;
    assert_eq!(
        fixture
            .ok(
                "update_disk",
                json!([cid, 3072, {"disk_offering": "custom"}])
            )
            .await,
        Value::Null
    );
    assert_eq!(volume(&fixture, &cid).expect("volume").size, 3 * GIB);
    let (kind, _, _) = fixture
        .err(
            "update_disk",
            json!([cid, 4096, {"disk_offering": "small"}]),
        )
        .await;
    assert_eq!(kind, "Bosh::Clouds::NotSupported");
    let (kind, _, _) = fixture.err("update_disk", json!([cid, 1024, {}])).await;
    assert_eq!(kind, "Bosh::Clouds::NotSupported");
    assert_eq!(volume(&fixture, &cid).expect("volume").size, 3 * GIB);
}

#[tokio::test]
async fn a_v1_stemcell_sees_the_disk_map_in_its_settings() {
    let fixture = Fixture::start().await;
    let vm = deploy_vm(&fixture, false, None).await;
    let store = fixture.cpi.store().await.expect("store");
    store
        .put_settings(&NewVmSettings {
            vm_cid: vm.clone(),
            agent_id: "agent-1".to_owned(),
            settings:
                json!({"agent_id": "agent-1", "disks": {"system": "/dev/xvda", "persistent": {}}})
                    .to_string(),
            stemcell_api_version: Some(1),
        })
        .await
        .expect("settings stored");
    let cid = create_disk(&fixture, 1024, json!({}), None).await;
    let v1 = json!({"director_uuid": "director-1", "vm": {"stemcell": {"api_version": 1}}});
    let settings = || async {
        let stored = store
            .get_settings(&vm)
            .await
            .expect("read")
            .expect("present");
        serde_json::from_str::<Value>(&stored.settings).expect("JSON settings")
    };

    let response = fixture
        .call_with("attach_disk", json!([vm, cid]), v1.clone(), 1)
        .await;
    assert!(response.error.is_none(), "{:?}", response.error);
    assert_eq!(response.result, Value::Null, "API v1 answers null");
    let device = volume(&fixture, &cid)
        .and_then(|v| v.device_id)
        .expect("attached");
    let letter = char::from(b'a' + u8::try_from(device).expect("small device id"));
    assert_eq!(
        settings().await["disks"]["persistent"],
        json!({cid.clone(): {"path": format!("/dev/xvd{letter}"), "volume_id": device.to_string()}})
    );

    let response = fixture
        .call_with("detach_disk", json!([vm, cid]), v1, 1)
        .await;
    assert!(response.error.is_none(), "{:?}", response.error);
    let after = settings().await;
    assert_eq!(after["disks"]["persistent"], json!({}));
    assert_eq!(
        after["disks"]["system"],
        json!("/dev/xvda"),
        "the rest is kept"
    );
}

#[tokio::test]
async fn a_v1_stemcell_without_settings_is_not_left_attached() {
    let fixture = Fixture::start().await;
    let vm = deploy_vm(&fixture, false, None).await;
    let cid = create_disk(&fixture, 1024, json!({}), None).await;
    let v1 = json!({"director_uuid": "director-1", "vm": {"stemcell": {"api_version": 1}}});
    let response = fixture
        .call_with("attach_disk", json!([vm, cid]), v1, 1)
        .await;
    let error = response.error.expect("no settings to record the disk in");
    assert!(error.message.contains("settings"), "{}", error.message);
    assert_eq!(
        volume(&fixture, &cid).expect("volume").vm_id,
        None,
        "the attachment is undone"
    );
}

/// An ephemeral volume as create_vm makes it, optionally attached to a VM.
async fn ephemeral_volume(fixture: &Fixture, director: &str, vm: Option<&str>) -> String {
    let cloud = client(fixture);
    let created = cloud
        .execute(&CreateVolume {
            name: Some(format!("ephemeral-{}", uuid::Uuid::new_v4())),
            diskofferingid: Some(ids::DO_CUSTOM.to_owned()),
            size: Some(1),
            zoneid: Some(ids::ZONE.to_owned()),
            virtualmachineid: vm.map(str::to_owned),
            snapshotid: None,
        })
        .await
        .expect("volume");
    cloud
        .execute(&CreateTags {
            resourceids: vec![created.id.clone()],
            resourcetype: "Volume".to_owned(),
            tags: vec![
                ("bosh_role".to_owned(), "ephemeral".to_owned()),
                ("bosh_director_uuid".to_owned(), director.to_owned()),
            ],
        })
        .await
        .expect("tags");
    created.id
}

#[tokio::test]
async fn the_cleaner_deletes_only_old_unattached_ephemeral_volumes_of_its_director() {
    let fixture = Fixture::start().await;
    let vm = deploy_vm(&fixture, false, None).await;
    let orphan = ephemeral_volume(&fixture, "director-1", None).await;
    let attached = ephemeral_volume(&fixture, "director-1", Some(&vm)).await;
    let other_director = ephemeral_volume(&fixture, "director-2", None).await;
    let persistent = create_disk(&fixture, 1024, json!({}), None).await;
    let cloud = client(&fixture);
    let grace = Duration::from_secs(3600);

    // Fresh: nothing is old enough yet (the predecessor deleted exactly these).
    let report = cpi_actions::cleaner::clean_orphan_ephemeral_volumes(
        &cloud,
        Some("director-1"),
        grace,
        SystemTime::now(),
    )
    .await
    .expect("pass");
    assert!(report.deleted.is_empty(), "{report:?}");
    assert_eq!(
        (report.kept_fresh, report.kept_attached),
        (1, 1),
        "{report:?}"
    );
    assert!(volume(&fixture, &orphan).is_some());

    // Two hours later the orphan is past the grace period; everything else stays.
    let later = SystemTime::now() + Duration::from_secs(7200);
    let report = cpi_actions::cleaner::clean_orphan_ephemeral_volumes(
        &cloud,
        Some("director-1"),
        grace,
        later,
    )
    .await
    .expect("pass");
    assert_eq!(report.deleted, vec![orphan.clone()]);
    assert!(volume(&fixture, &orphan).is_none());
    for kept in [&attached, &other_director, &persistent] {
        assert!(volume(&fixture, kept).is_some(), "{kept} must be kept");
    }
}

/// A VM made by the CPI itself, so that its agent settings are stored.
async fn create_vm(fixture: &Fixture, agent: &str) -> String {
    let result = fixture
        .ok(
            "create_vm",
            json!([agent, ids::TEMPLATE, {"compute_offering": "small"},
                {"private": {"type": "dynamic", "default": ["dns", "gateway"],
                             "cloud_properties": {"name": "isolated-net"}}},
                [], {}]),
        )
        .await;
    result[0].as_str().expect("a VM CID").to_owned()
}

#[tokio::test]
async fn a_disk_survives_delete_vm_and_attaches_to_a_new_vm() {
    let fixture = Fixture::start().await;
    let first = create_vm(&fixture, "agent-1").await;
    let cid = create_disk(&fixture, 2048, json!({}), Some(&first)).await;
    let hint = fixture.ok("attach_disk", json!([first, cid])).await;
    let store = fixture.cpi.store().await.expect("store");
    let stored = store
        .get_settings(&first)
        .await
        .expect("read")
        .expect("settings");
    let settings: Value = serde_json::from_str(&stored.settings).expect("JSON");
    assert_eq!(
        settings["disks"]["persistent"][&cid], hint,
        "recorded for v2 too"
    );

    fixture.ok("delete_vm", json!([first])).await;
    let survivor = volume(&fixture, &cid).expect("the data volume survives delete_vm");
    assert_eq!(survivor.vm_id, None);
    assert_eq!(fixture.ok("has_disk", json!([cid])).await, json!(true));

    let second = create_vm(&fixture, "agent-2").await;
    fixture.ok("attach_disk", json!([second, cid])).await;
    assert_eq!(
        volume(&fixture, &cid).expect("volume").vm_id.as_deref(),
        Some(second.as_str())
    );
    assert_eq!(fixture.ok("get_disks", json!([second])).await, json!([cid]));
}

#[tokio::test]
async fn update_disk_does_not_grow_a_fixed_offering_in_place() {
    let fixture = Fixture::start().await;
    let cid = create_disk(&fixture, 1024, json!({"disk_offering": "small"}), None).await;
    let (kind, _, _) = fixture
        .err(
            "update_disk",
            json!([cid, 20 * 1024, {"disk_offering": "small"}]),
        )
        .await;
    assert_eq!(kind, "Bosh::Clouds::NotSupported");
    assert_eq!(volume(&fixture, &cid).expect("volume").size, 10 * GIB);
}

#[tokio::test]
async fn the_periodic_cleaner_runs_until_shut_down() {
    let fixture = Fixture::start().await;
    let orphan = ephemeral_volume(&fixture, "director-1", None).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = tokio::spawn(cpi_actions::cleaner::run_periodically(
        std::sync::Arc::new(client(&fixture)),
        || vec!["director-1".to_owned()],
        cpi_config::EphemeralCleanerConfig {
            enabled: true,
            interval: 1,
            grace_period: 0,
        },
        async {
            let _ = stopped.await;
        },
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while volume(&fixture, &orphan).is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cleaner never ran"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send(()).expect("the runner is still running");
    tokio::time::timeout(Duration::from_secs(5), runner)
        .await
        .expect("the runner stops")
        .expect("the runner does not panic");

    // Disabled: returns at once.
    let disabled = cpi_config::EphemeralCleanerConfig {
        enabled: false,
        interval: 1,
        grace_period: 0,
    };
    tokio::time::timeout(
        Duration::from_secs(1),
        cpi_actions::cleaner::run_periodically(
            std::sync::Arc::new(client(&fixture)),
            Vec::new,
            disabled,
            std::future::pending(),
        ),
    )
    .await
    .expect("a disabled cleaner returns");
}

fn fail_once(fixture: &Fixture, command: &str) {
    fixture
        .sim
        .inject(cloudstack_sim::Fault {
            command: command.to_owned(),
            kind: cloudstack_sim::FaultKind::Http(530),
            times: cloudstack_sim::FaultTimes::Once,
        })
        .expect("fault injected");
}

#[tokio::test]
async fn nothing_leaks_when_tagging_fails() {
    let fixture = Fixture::start().await;
    fail_once(&fixture, "createTags");
    let (kind, message, _) = fixture.err("create_disk", json!([1024, {}, null])).await;
    assert_eq!(kind, "Bosh::Clouds::CloudError");
    assert!(message.contains("createTags"), "{message}");
    assert!(
        fixture
            .sim
            .volumes()
            .iter()
            .all(|v| v.kind != cloudstack_sim::model::VolumeType::DataDisk),
        "the untagged volume is deleted"
    );

    let cid = create_disk(&fixture, 1024, json!({}), None).await;
    fail_once(&fixture, "createTags");
    fixture
        .err("snapshot_disk", json!([cid, {"deployment": "cf"}]))
        .await;
    assert!(
        fixture.sim.world().snapshots.is_empty(),
        "the untagged snapshot is deleted"
    );
}

#[tokio::test]
async fn kvm_hints_name_the_virtio_device() {
    let fixture = Fixture::start().await;
    fixture
        .sim
        .update_settings(|settings| settings.hypervisor = "KVM".to_owned());
    let vm = deploy_vm(&fixture, false, None).await;
    let cid = create_disk(&fixture, 1024, json!({}), None).await;
    let hint = fixture.ok("attach_disk", json!([vm, cid])).await;
    let device = volume(&fixture, &cid)
        .and_then(|v| v.device_id)
        .expect("attached");
    let letter = char::from(b'a' + u8::try_from(device).expect("small device id"));
    let serial: String = cid.chars().filter(|c| *c != '-').take(20).collect();
    assert_eq!(
        hint,
        json!({"path": format!("/dev/vd{letter}"), "volume_id": device.to_string(),
               "id": format!("virtio-{serial}")})
    );
}
