//! Volumes, snapshots, tags, public IPs, key pairs, affinity and security groups over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use cloudstack_sim::ids;
use common::{Client, spawn};
use serde_json::json;

#[tokio::test]
async fn volumes_attach_with_next_free_device_skipping_3() {
    let sim = spawn(common::config()).await;
    let user = Client::user(&sim);
    let vm = user.deploy(&[]).await;
    let vm_id = vm["id"].as_str().unwrap();
    let mut devices = Vec::new();
    let mut volume_ids = Vec::new();
    for i in 0..3 {
        let name = format!("data-{i}");
        let created = user
            .run(
                "createVolume",
                &[
                    ("name", &name),
                    ("diskofferingid", ids::DO_SMALL),
                    ("zoneid", ids::ZONE),
                ],
            )
            .await;
        assert_eq!(created["volume"]["state"], "Allocated");
        assert_eq!(created["volume"]["size"], 10u64 << 30);
        let id = created["volume"]["id"].as_str().unwrap().to_owned();
        let attached = user
            .run("attachVolume", &[("id", &id), ("virtualmachineid", vm_id)])
            .await;
        assert_eq!(attached["volume"]["virtualmachineid"], vm_id);
        assert_eq!(attached["volume"]["state"], "Ready");
        devices.push(attached["volume"]["deviceid"].as_u64().unwrap());
        volume_ids.push(id);
    }
    assert_eq!(devices, vec![1, 2, 4], "device 3 is reserved on XenServer");

    let text = user
        .err(
            "attachVolume",
            &[("id", &volume_ids[0]), ("virtualmachineid", vm_id)],
            431,
        )
        .await;
    assert!(text.contains("not attached"));
    let text = user
        .err("deleteVolume", &[("id", &volume_ids[0])], 431)
        .await;
    assert!(text.contains("not attached"));

    let detached = user.run("detachVolume", &[("id", &volume_ids[1])]).await;
    assert!(detached["volume"].get("virtualmachineid").is_none());
    let text = user
        .err(
            "attachVolume",
            &[
                ("id", &volume_ids[1]),
                ("virtualmachineid", vm_id),
                ("deviceid", "3"),
            ],
            431,
        )
        .await;
    assert_eq!(text, "Device 3 is reserved for CD-ROM, choose other device");
    user.err(
        "attachVolume",
        &[
            ("id", &volume_ids[1]),
            ("virtualmachineid", vm_id),
            ("deviceid", "1"),
        ],
        431,
    )
    .await;
    let again = user
        .run(
            "attachVolume",
            &[("id", &volume_ids[1]), ("virtualmachineid", vm_id)],
        )
        .await;
    assert_eq!(again["volume"]["deviceid"], 2);
    user.run(
        "detachVolume",
        &[("deviceid", "2"), ("virtualmachineid", vm_id)],
    )
    .await;
    assert_eq!(
        user.ok("deleteVolume", &[("id", &volume_ids[1])]).await["success"],
        true
    );
    user.err("deleteVolume", &[("id", &volume_ids[1])], 431)
        .await;

    let custom = user
        .err(
            "createVolume",
            &[("diskofferingid", ids::DO_CUSTOM), ("zoneid", ids::ZONE)],
            431,
        )
        .await;
    assert!(custom.contains("custom size"));
    let sized = user
        .run(
            "createVolume",
            &[
                ("diskofferingid", ids::DO_CUSTOM),
                ("size", "7"),
                ("virtualmachineid", vm_id),
            ],
        )
        .await;
    assert_eq!(sized["volume"]["size"], 7u64 << 30);
    assert_eq!(sized["volume"]["deviceid"], 2);
    let resized = user
        .run(
            "resizeVolume",
            &[
                ("id", sized["volume"]["id"].as_str().unwrap()),
                ("size", "9"),
            ],
        )
        .await;
    assert_eq!(resized["volume"]["size"], 9u64 << 30);
    let text = user
        .err(
            "resizeVolume",
            &[
                ("id", sized["volume"]["id"].as_str().unwrap()),
                ("size", "1"),
            ],
            431,
        )
        .await;
    assert!(text.contains("shrink"));

    let listed = user
        .ok(
            "listVolumes",
            &[("virtualmachineid", vm_id), ("type", "DATADISK")],
        )
        .await;
    assert_eq!(listed["count"], 3);
    let detached_one = user.run("detachVolume", &[("id", &volume_ids[2])]).await;
    let migrated = user
        .run(
            "migrateVolume",
            &[
                ("volumeid", detached_one["volume"]["id"].as_str().unwrap()),
                ("storageid", ids::HOST1),
            ],
        )
        .await;
    assert_eq!(migrated["volume"]["storagetype"], "local");
    user.err(
        "migrateVolume",
        &[("volumeid", &volume_ids[2]), ("storageid", "nowhere")],
        431,
    )
    .await;
}

#[tokio::test]
async fn local_storage_volume_attaches_only_on_its_host() {
    let sim = spawn(common::config()).await;
    let user = Client::user(&sim);
    user.run(
        "createAffinityGroup",
        &[("name", "apart"), ("type", "host anti-affinity")],
    )
    .await;
    let local = [
        ("serviceofferingid", ids::SO_SMALL_LOCAL),
        ("affinitygroupnames", "apart"),
    ];
    let first = user
        .run(
            "deployVirtualMachine",
            &[
                &local[..],
                &[("templateid", ids::TEMPLATE), ("zoneid", ids::ZONE)],
            ]
            .concat(),
        )
        .await;
    let second = user
        .run(
            "deployVirtualMachine",
            &[
                &local[..],
                &[("templateid", ids::TEMPLATE), ("zoneid", ids::ZONE)],
            ]
            .concat(),
        )
        .await;
    let first_vm = first["virtualmachine"]["id"].as_str().unwrap();
    let second_vm = second["virtualmachine"]["id"].as_str().unwrap();
    assert_ne!(
        first["virtualmachine"]["hostid"],
        second["virtualmachine"]["hostid"]
    );
    let local_hosts = [ids::HOST1, ids::HOST2];
    assert!(local_hosts.contains(&first["virtualmachine"]["hostid"].as_str().unwrap()));

    let vol = user
        .run(
            "createVolume",
            &[
                ("diskofferingid", ids::DO_CUSTOM_LOCAL),
                ("size", "3"),
                ("virtualmachineid", first_vm),
            ],
        )
        .await;
    let vol_id = vol["volume"]["id"].as_str().unwrap();
    assert_eq!(
        vol["volume"]["storageid"],
        first["virtualmachine"]["hostid"]
    );
    user.run("detachVolume", &[("id", vol_id)]).await;
    let text = user
        .err(
            "attachVolume",
            &[("id", vol_id), ("virtualmachineid", second_vm)],
            431,
        )
        .await;
    assert!(
        text.contains("migration of local data volume is not allowed"),
        "{text}"
    );
    user.run(
        "attachVolume",
        &[("id", vol_id), ("virtualmachineid", first_vm)],
    )
    .await;
}

#[tokio::test]
async fn snapshots_and_tags() {
    let sim = spawn(common::config()).await;
    let user = Client::user(&sim);
    let vm = user.deploy(&[]).await;
    let vm_id = vm["id"].as_str().unwrap();
    let root = user
        .ok(
            "listVolumes",
            &[("virtualmachineid", vm_id), ("type", "ROOT")],
        )
        .await;
    let root_id = root["volume"][0]["id"].as_str().unwrap();

    let snap = user
        .run(
            "createSnapshot",
            &[("volumeid", root_id), ("name", "snap1")],
        )
        .await;
    assert_eq!(snap["snapshot"]["state"], "BackedUp");
    assert_eq!(snap["snapshot"]["volumeid"], root_id);
    let snap_id = snap["snapshot"]["id"].as_str().unwrap();
    assert_eq!(
        user.ok("listSnapshots", &[("volumeid", root_id)]).await["count"],
        1
    );

    user.run(
        "createTags",
        &[
            ("resourceids", vm_id),
            ("resourcetype", "UserVm"),
            ("tags[0].key", "director"),
            ("tags[0].value", "bosh-1"),
            ("tags[1].key", "deployment"),
            ("tags[1].value", "cf"),
        ],
    )
    .await;
    user.run(
        "createTags",
        &[
            ("resourceids", snap_id),
            ("resourcetype", "snapshot"),
            ("tags[0].key", "k"),
            ("tags[0].value", "v"),
        ],
    )
    .await;
    assert_eq!(sim.tags().len(), 3);

    // Unique per key and resource: a second value for the same key fails the job.
    let dup = user
        .run_failing(
            "createTags",
            &[
                ("resourceids", vm_id),
                ("resourcetype", "UserVm"),
                ("tags[0].key", "director"),
                ("tags[0].value", "x"),
            ],
        )
        .await;
    assert_eq!(dup["jobresult"]["errorcode"], 431);
    let unknown = user
        .run_failing(
            "createTags",
            &[
                ("resourceids", "nope"),
                ("resourcetype", "UserVm"),
                ("tags[0].key", "a"),
                ("tags[0].value", "b"),
            ],
        )
        .await;
    assert!(
        unknown["jobresult"]["errortext"]
            .as_str()
            .unwrap()
            .contains("nope")
    );
    user.err(
        "createTags",
        &[
            ("resourceids", vm_id),
            ("resourcetype", "Galaxy"),
            ("tags[0].key", "a"),
        ],
        431,
    )
    .await;
    user.err(
        "createTags",
        &[("resourceids", vm_id), ("resourcetype", "UserVm")],
        431,
    )
    .await;

    let filtered = user
        .ok(
            "listVirtualMachines",
            &[("tags[0].key", "director"), ("tags[0].value", "bosh-1")],
        )
        .await;
    assert_eq!(filtered["count"], 1);
    assert_eq!(
        filtered["virtualmachine"][0]["tags"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let none = user
        .ok(
            "listVirtualMachines",
            &[("tags[0].key", "director"), ("tags[0].value", "other")],
        )
        .await;
    assert_eq!(none, json!({}));
    let tags = user
        .ok("listTags", &[("resourceid", vm_id), ("key", "deployment")])
        .await;
    assert_eq!(tags["tag"][0]["value"], "cf");
    assert_eq!(tags["tag"][0]["resourcetype"], "UserVm");
    assert_eq!(
        user.ok("listSnapshots", &[("tags[0].key", "k")]).await["count"],
        1
    );

    user.run(
        "deleteTags",
        &[
            ("resourceids", vm_id),
            ("resourcetype", "UserVm"),
            ("tags[0].key", "director"),
        ],
    )
    .await;
    assert_eq!(
        user.ok("listTags", &[("resourceid", vm_id)]).await["count"],
        1
    );
    user.run(
        "deleteTags",
        &[("resourceids", vm_id), ("resourcetype", "UserVm")],
    )
    .await;
    assert_eq!(
        user.ok("listTags", &[("resourceid", vm_id)]).await,
        json!({})
    );

    assert_eq!(
        user.run("deleteSnapshot", &[("id", snap_id)]).await["success"],
        true
    );
    assert_eq!(user.ok("listSnapshots", &[]).await, json!({}));
    user.err("deleteSnapshot", &[("id", snap_id)], 431).await;
    assert!(
        sim.tags().is_empty(),
        "deleting the snapshot removed its tag"
    );
}

#[tokio::test]
async fn public_ips_and_static_nat() {
    let sim = spawn(common::config()).await;
    let user = Client::user(&sim);
    let vm = user.deploy(&[]).await;
    let vm_id = vm["id"].as_str().unwrap();
    let submit = user
        .ok("associateIpAddress", &[("networkid", ids::NET_ISOLATED)])
        .await;
    assert!(submit["id"].is_string());
    let job = user.wait_job(submit["jobid"].as_str().unwrap()).await;
    let ip = &job["jobresult"]["ipaddress"];
    assert_eq!(ip["state"], "Allocated");
    assert_eq!(ip["associatednetworkid"], ids::NET_ISOLATED);
    common::assert_same_shape(
        &common::fixture("associateIpAddress.json")["associateipaddressresponse"]["jobresult"],
        &job["jobresult"],
        "ipaddress",
    );
    let ip_id = ip["id"].as_str().unwrap();
    let specific = user
        .run(
            "associateIpAddress",
            &[("zoneid", ids::ZONE), ("ipaddress", "198.51.100.150")],
        )
        .await;
    assert_eq!(specific["ipaddress"]["ipaddress"], "198.51.100.150");
    user.err(
        "associateIpAddress",
        &[("zoneid", ids::ZONE), ("ipaddress", "198.51.100.150")],
        533,
    )
    .await;
    user.err(
        "associateIpAddress",
        &[("zoneid", ids::ZONE), ("ipaddress", "203.0.113.1")],
        431,
    )
    .await;
    user.err("associateIpAddress", &[], 431).await;
    user.err("associateIpAddress", &[("networkid", ids::NET_SHARED)], 431)
        .await;

    assert_eq!(
        user.ok(
            "enableStaticNat",
            &[("ipaddressid", ip_id), ("virtualmachineid", vm_id)]
        )
        .await["success"],
        true
    );
    let listed = user
        .ok("listPublicIpAddresses", &[("isstaticnat", "true")])
        .await;
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["publicipaddress"][0]["virtualmachineid"], vm_id);
    let vm_view = user.ok("listVirtualMachines", &[("id", vm_id)]).await;
    assert_eq!(vm_view["virtualmachine"][0]["publicipid"], ip_id);
    let other_ip = specific["ipaddress"]["id"].as_str().unwrap();
    user.err(
        "enableStaticNat",
        &[("ipaddressid", other_ip), ("virtualmachineid", vm_id)],
        537,
    )
    .await;

    user.run("disableStaticNat", &[("ipaddressid", ip_id)])
        .await;
    user.err("disableStaticNat", &[("ipaddressid", ip_id)], 431)
        .await;
    user.run("disassociateIpAddress", &[("id", ip_id)]).await;
    assert_eq!(sim.public_ips().len(), 1);
    user.err("disassociateIpAddress", &[("id", ip_id)], 431)
        .await;
}

#[tokio::test]
async fn key_pairs_affinity_and_security_groups() {
    let sim = spawn(common::config()).await;
    let user = Client::user(&sim);
    let created = user.ok("createSSHKeyPair", &[("name", "k1")]).await;
    assert!(
        created["keypair"]["privatekey"]
            .as_str()
            .unwrap()
            .contains("PRIVATE KEY")
    );
    user.err("createSSHKeyPair", &[("name", "k1")], 431).await;
    let registered = user
        .ok("registerSSHKeyPair", &[("name", "k2"), ("publickey", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@host")])
        .await;
    assert!(registered["keypair"].get("privatekey").is_none());
    assert_eq!(
        registered["keypair"]["fingerprint"].as_str().unwrap().len(),
        47
    );
    user.err(
        "registerSSHKeyPair",
        &[("name", "k3"), ("publickey", "garbage")],
        431,
    )
    .await;
    assert_eq!(user.ok("listSSHKeyPairs", &[]).await["count"], 3);
    assert_eq!(
        user.ok("listSSHKeyPairs", &[("name", "k2")]).await["count"],
        1
    );
    assert_eq!(
        user.ok("deleteSSHKeyPair", &[("name", "k2")]).await["success"],
        true
    );
    user.err("deleteSSHKeyPair", &[("name", "k2")], 431).await;

    let group = user
        .run(
            "createAffinityGroup",
            &[("name", "g1"), ("type", "host affinity")],
        )
        .await;
    common::assert_same_shape(
        &common::fixture("createAffinityGroup.json")["createaffinitygroupresponse"]["jobresult"],
        &group,
        "affinitygroup",
    );
    user.err(
        "createAffinityGroup",
        &[("name", "g1"), ("type", "host affinity")],
        431,
    )
    .await;
    user.err(
        "createAffinityGroup",
        &[("name", "g2"), ("type", "sideways")],
        431,
    )
    .await;
    let vm = user
        .deploy(&[(
            "affinitygroupids",
            group["affinitygroup"]["id"].as_str().unwrap(),
        )])
        .await;
    let groups = user
        .ok(
            "listAffinityGroups",
            &[("virtualmachineid", vm["id"].as_str().unwrap())],
        )
        .await;
    assert_eq!(groups["affinitygroup"][0]["name"], "g1");
    user.err("deleteAffinityGroup", &[("name", "g1")], 536)
        .await;
    user.run(
        "destroyVirtualMachine",
        &[("id", vm["id"].as_str().unwrap()), ("expunge", "true")],
    )
    .await;
    user.run("deleteAffinityGroup", &[("name", "g1")]).await;
    assert_eq!(user.ok("listAffinityGroups", &[]).await, json!({}));

    let sg = user
        .ok(
            "createSecurityGroup",
            &[("name", "web"), ("description", "web")],
        )
        .await;
    assert_eq!(sg["securitygroup"]["name"], "web");
    user.err("createSecurityGroup", &[("name", "web")], 431)
        .await;
    assert_eq!(
        user.ok("listSecurityGroups", &[("securitygroupname", "web")])
            .await["count"],
        1
    );
    let text = user
        .err(
            "deployVirtualMachine",
            &[
                ("serviceofferingid", ids::SO_SMALL),
                ("templateid", ids::TEMPLATE),
                ("zoneid", ids::ZONE),
                ("securitygroupnames", "web"),
            ],
            431,
        )
        .await;
    assert!(text.contains("security group"));
    assert_eq!(
        user.ok("deleteSecurityGroup", &[("name", "web")]).await["success"],
        true
    );
    user.err("deleteSecurityGroup", &[("name", "web")], 431)
        .await;

    let jobs = user.ok("listAsyncJobs", &[]).await;
    assert!(jobs["count"].as_u64().unwrap() >= 4);
}

#[tokio::test]
async fn user_cannot_see_admin_resources() {
    let sim = spawn(common::config()).await;
    let admin = Client::admin(&sim);
    let user = Client::user(&sim);
    let vm = admin.deploy(&[]).await;
    let id = vm["id"].as_str().unwrap();
    assert_eq!(user.ok("listVirtualMachines", &[]).await, json!({}));
    user.err("stopVirtualMachine", &[("id", id)], 431).await;
}
