//! Virtual machine life cycle over real HTTP, with a manual clock so nothing sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use base64::Engine as _;
use cloudstack_sim::ids;
use common::{Client, spawn, spawn_manual};

const BASE: [(&str, &str); 3] = [
    ("serviceofferingid", ids::SO_SMALL),
    ("templateid", ids::TEMPLATE),
    ("zoneid", ids::ZONE),
];

fn with<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut v = BASE.to_vec();
    v.extend_from_slice(extra);
    v
}

#[tokio::test]
async fn full_vm_life_keeps_the_ip_until_the_expunge_delay() {
    let (sim, clock) = spawn_manual().await;
    let user = Client::user(&sim);
    let ip = ("ipaddress", "10.1.1.50");
    let net = ("networkids", ids::NET_ISOLATED);

    let submit = user
        .ok(
            "deployVirtualMachine",
            &with(&[ip, net, ("name", "vm-one")]),
        )
        .await;
    let vm_id = submit["id"].as_str().unwrap().to_owned();
    let job_id = submit["jobid"].as_str().unwrap().to_owned();

    // Pending while the job duration has not passed; the VM is Starting and carries the job.
    let pending = user.ok("queryAsyncJobResult", &[("jobid", &job_id)]).await;
    assert_eq!(pending["jobstatus"], 0);
    assert!(pending.get("jobresult").is_none());
    let listed = user.ok("listVirtualMachines", &[("id", &vm_id)]).await;
    assert_eq!(listed["virtualmachine"][0]["state"], "Starting");
    assert_eq!(listed["virtualmachine"][0]["jobid"], job_id.as_str());

    clock.advance(Duration::from_secs(2));
    let done = user.ok("queryAsyncJobResult", &[("jobid", &job_id)]).await;
    assert_eq!(done["jobstatus"], 1);
    assert_eq!(done["jobresultcode"], 0);
    assert_eq!(done["jobinstancetype"], "VirtualMachine");
    let vm = &done["jobresult"]["virtualmachine"];
    assert_eq!(vm["state"], "Running");
    assert_eq!(vm["nic"][0]["ipaddress"], "10.1.1.50");
    assert_eq!(vm["nic"][0]["isdefault"], true);
    assert!(
        vm["nic"][0]["macaddress"]
            .as_str()
            .unwrap()
            .starts_with("02:00:")
    );
    assert!(vm["hostid"].is_string());

    // Destroy without expunge: Destroyed, hidden from the user, IP still held.
    let destroy = user.ok("destroyVirtualMachine", &[("id", &vm_id)]).await;
    clock.advance(Duration::from_secs(2));
    let destroyed = user
        .ok(
            "queryAsyncJobResult",
            &[("jobid", destroy["jobid"].as_str().unwrap())],
        )
        .await;
    assert_eq!(
        destroyed["jobresult"]["virtualmachine"]["state"],
        "Destroyed"
    );
    assert_eq!(
        user.ok("listVirtualMachines", &[]).await,
        serde_json::json!({})
    );
    let admin = Client::admin(&sim);
    let seen = admin.ok("listVirtualMachines", &[("id", &vm_id)]).await;
    assert_eq!(seen["virtualmachine"][0]["state"], "Destroyed");

    let text = user
        .err(
            "deployVirtualMachine",
            &with(&[ip, net, ("name", "vm-two")]),
            533,
        )
        .await;
    assert!(
        text.contains("10.1.1.50") && text.contains("already in use"),
        "{text}"
    );

    // After the expunge delay the VM is gone and the IP is free again.
    clock.advance(Duration::from_secs(31));
    assert_eq!(
        admin.ok("listVirtualMachines", &[("id", &vm_id)]).await,
        serde_json::json!({})
    );
    assert!(sim.vms().is_empty());
    let again = user
        .ok(
            "deployVirtualMachine",
            &with(&[ip, net, ("name", "vm-two")]),
        )
        .await;
    assert!(again["id"].is_string());
}

#[tokio::test]
async fn expunge_true_frees_at_once_and_is_gated_by_the_setting() {
    let sim = spawn(common::config()).await;
    let user = Client::user(&sim);
    let vm = user.deploy(&[("ipaddress", "10.1.1.60")]).await;
    let vm_id = vm["id"].as_str().unwrap();

    sim.update_settings(|s| s.allow_user_expunge_recover_vm = false);
    let text = user
        .err(
            "destroyVirtualMachine",
            &[("id", vm_id), ("expunge", "true")],
            531,
        )
        .await;
    assert!(text.contains("allow.user.expunge.recover.vm"));
    sim.update_settings(|s| s.allow_user_expunge_recover_vm = true);

    user.run(
        "destroyVirtualMachine",
        &[("id", vm_id), ("expunge", "true")],
    )
    .await;
    assert!(sim.vms().is_empty());
    assert!(sim.volumes().is_empty(), "root volume removed with the VM");
    user.deploy(&[("ipaddress", "10.1.1.60")]).await;
}

#[tokio::test]
async fn expunge_command_and_stop_start_reboot() {
    let sim = spawn(common::config()).await;
    let user = Client::user(&sim);
    let vm = user.deploy(&[]).await;
    let id = vm["id"].as_str().unwrap();

    let text = user.err("expungeVirtualMachine", &[("id", id)], 431).await;
    assert!(text.contains("destroy"));
    user.err(
        "rebootVirtualMachine",
        &[("id", "00000000-0000-4000-8000-000000000000")],
        431,
    )
    .await;

    let stopped = user.run("stopVirtualMachine", &[("id", id)]).await;
    assert_eq!(stopped["virtualmachine"]["state"], "Stopped");
    assert!(stopped["virtualmachine"].get("hostid").is_none());
    user.err("rebootVirtualMachine", &[("id", id)], 431).await;
    let started = user.run("startVirtualMachine", &[("id", id)]).await;
    assert_eq!(started["virtualmachine"]["state"], "Running");
    let rebooted = user.run("rebootVirtualMachine", &[("id", id)]).await;
    assert_eq!(rebooted["virtualmachine"]["state"], "Running");

    let updated = user
        .ok(
            "updateVirtualMachine",
            &[("id", id), ("displayname", "Shown Name")],
        )
        .await;
    assert_eq!(updated["virtualmachine"]["displayname"], "Shown Name");

    user.run("destroyVirtualMachine", &[("id", id)]).await;
    let result = user.run("expungeVirtualMachine", &[("id", id)]).await;
    assert_eq!(result["success"], true);
    assert!(sim.vms().is_empty());
    assert_eq!(sim.calls("expungeVirtualMachine"), 2);
}

#[tokio::test]
async fn deploy_validation_errors() {
    let sim = spawn(common::config()).await;
    let user = Client::user(&sim);
    let missing = user
        .err("deployVirtualMachine", &[("zoneid", ids::ZONE)], 431)
        .await;
    assert!(missing.contains("missing parameter serviceofferingid"));
    user.err(
        "deployVirtualMachine",
        &[
            ("serviceofferingid", "nope"),
            ("templateid", ids::TEMPLATE),
            ("zoneid", ids::ZONE),
        ],
        431,
    )
    .await;

    for bad in ["1abc", "-abc", "abc-", "a_b", &"a".repeat(64)] {
        let text = user
            .err("deployVirtualMachine", &with(&[("name", bad)]), 431)
            .await;
        assert!(text.starts_with("Invalid name."), "{bad}: {text}");
    }
    let text = user
        .err(
            "deployVirtualMachine",
            &with(&[("ipaddress", "10.9.9.9")]),
            431,
        )
        .await;
    assert!(text.contains("outside"), "{text}");
    user.err(
        "deployVirtualMachine",
        &with(&[("ipaddress", "10.1.1.1")]),
        431,
    )
    .await;
    user.err(
        "deployVirtualMachine",
        &with(&[("ipaddress", "not-an-ip")]),
        431,
    )
    .await;

    let text = user
        .err(
            "deployVirtualMachine",
            &with(&[("userdata", "%%%not base64")]),
            431,
        )
        .await;
    assert_eq!(text, "User data is not base64 encoded");
    let big = base64::engine::general_purpose::STANDARD.encode(vec![b'x'; 30_000]);
    let text = user
        .err("deployVirtualMachine", &with(&[("userdata", &big)]), 431)
        .await;
    assert!(text.contains("max length"), "{text}");
    let medium = base64::engine::general_purpose::STANDARD.encode(vec![b'x'; 5000]);
    let reply = user
        .get("deployVirtualMachine", &with(&[("userdata", &medium)]))
        .await;
    assert_eq!(reply.status, 431, "GET allows only 4 KB of user data");

    let text = user
        .err(
            "deployVirtualMachine",
            &with(&[("hostid", ids::HOST1)]),
            531,
        )
        .await;
    assert!(text.contains("Root Admin"));
    let text = user
        .err(
            "deployVirtualMachine",
            &with(&[("keypair", "missing")]),
            431,
        )
        .await;
    assert!(text.contains("missing"));
    let text = user
        .err(
            "deployVirtualMachine",
            &[
                ("serviceofferingid", ids::SO_CUSTOM),
                ("templateid", ids::TEMPLATE),
                ("zoneid", ids::ZONE),
            ],
            431,
        )
        .await;
    assert!(text.contains("custom"));
    user.err(
        "deployVirtualMachine",
        &with(&[("securitygroupnames", "x"), ("securitygroupids", "y")]),
        431,
    )
    .await;
    let text = user
        .err("deployVirtualMachine", &with(&[("rootdisksize", "1")]), 431)
        .await;
    assert!(text.contains("Root disk size"));
    user.err(
        "deployVirtualMachine",
        &with(&[
            ("iptonetworklist[0].networkid", ids::NET_ISOLATED),
            ("networkids", ids::NET_SHARED),
        ]),
        431,
    )
    .await;

    // Host names are unique per network domain.
    user.deploy(&[("name", "dup")]).await;
    let text = user
        .err("deployVirtualMachine", &with(&[("name", "dup")]), 431)
        .await;
    assert!(
        text.contains("already exists in the network domain"),
        "{text}"
    );
    assert_eq!(sim.vms().len(), 1, "refused deploys leave nothing behind");
}

#[tokio::test]
async fn deploy_options_are_reflected() {
    let sim = spawn(common::config()).await;
    let user = Client::user(&sim);
    let admin = Client::admin(&sim);
    let user_data = base64::engine::general_purpose::STANDARD.encode(b"#cloud-config\n{}");
    let vm = user
        .deploy(&[
            ("iptonetworklist[0].networkid", ids::NET_SHARED),
            ("iptonetworklist[0].ip", "10.2.0.20"),
            ("iptonetworklist[1].networkid", ids::NET_ISOLATED),
            ("userdata", &user_data),
            ("keypair", "bosh"),
            ("details[0].rootdisksize", "20"),
            ("diskofferingid", ids::DO_CUSTOM),
            ("size", "5"),
            ("displayname", "with options"),
        ])
        .await;
    assert_eq!(vm["nic"][0]["networkid"], ids::NET_SHARED);
    assert_eq!(vm["nic"][0]["ipaddress"], "10.2.0.20");
    assert_eq!(vm["nic"][0]["isdefault"], true);
    assert_eq!(vm["nic"][1]["networkid"], ids::NET_ISOLATED);
    assert_eq!(vm["nic"][1]["isdefault"], false);
    assert_eq!(vm["keypairs"], "bosh");
    let id = vm["id"].as_str().unwrap();
    let data = user
        .ok("getVirtualMachineUserData", &[("virtualmachineid", id)])
        .await;
    assert_eq!(
        data["virtualmachineuserdata"]["userdata"],
        user_data.as_str()
    );
    let volumes = user.ok("listVolumes", &[("virtualmachineid", id)]).await;
    let volumes = volumes["volume"].as_array().unwrap();
    let root = volumes.iter().find(|v| v["type"] == "ROOT").unwrap();
    assert_eq!(root["size"], 20u64 << 30);
    assert_eq!(root["deviceid"], 0);
    let data_disk = volumes.iter().find(|v| v["type"] == "DATADISK").unwrap();
    assert_eq!(data_disk["size"], 5u64 << 30);

    let custom = user
        .deploy_with(&[
            ("serviceofferingid", ids::SO_CUSTOM),
            ("details[0].cpuNumber", "3"),
            ("details[0].memory", "3072"),
            ("startvm", "false"),
        ])
        .await;
    assert_eq!(custom["cpunumber"], 3);
    assert_eq!(custom["memory"], 3072);
    assert_eq!(custom["state"], "Stopped");

    let placed = admin.deploy(&[("hostid", ids::HOST3)]).await;
    assert_eq!(placed["hostid"], ids::HOST3);
}

#[tokio::test]
async fn host_anti_affinity_spreads_vms_and_fails_when_exhausted() {
    let sim = spawn(common::config()).await;
    let user = Client::user(&sim);
    user.run(
        "createAffinityGroup",
        &[("name", "spread"), ("type", "host anti-affinity")],
    )
    .await;
    let mut hosts = std::collections::HashSet::new();
    for _ in 0..3 {
        let vm = user.deploy(&[("affinitygroupnames", "spread")]).await;
        assert_eq!(vm["affinitygroup"][0]["name"], "spread");
        hosts.insert(vm["hostid"].as_str().unwrap().to_owned());
    }
    assert_eq!(hosts.len(), 3, "three VMs on three different hosts");
    let failed = user
        .run_failing(
            "deployVirtualMachine",
            &with(&[("affinitygroupnames", "spread")]),
        )
        .await;
    assert_eq!(failed["jobresultcode"], 533);
    assert_eq!(failed["jobresult"]["errorcode"], 533);
    assert!(
        sim.vms()
            .iter()
            .any(|vm| vm.state == cloudstack_sim::model::VmState::Error)
    );
}

trait DeployWith {
    async fn deploy_with(&self, params: &[(&str, &str)]) -> serde_json::Value;
}

impl DeployWith for Client {
    async fn deploy_with(&self, params: &[(&str, &str)]) -> serde_json::Value {
        let mut all = vec![("templateid", ids::TEMPLATE), ("zoneid", ids::ZONE)];
        all.extend_from_slice(params);
        self.run("deployVirtualMachine", &all).await["virtualmachine"].clone()
    }
}
