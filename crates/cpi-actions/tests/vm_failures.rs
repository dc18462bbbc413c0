//! create_vm when things go wrong, static IP reuse, and concurrency.

// Test helpers may panic: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use cloudstack_sim::{Fault, FaultKind, FaultTimes, ids};
use common::Fixture;
use serde_json::{Value, json};

fn manual(ip: &str) -> Value {
    json!({"type": "manual", "ip": ip, "netmask": "255.255.255.0", "gateway": "10.1.1.1",
        "dns": ["8.8.8.8"], "default": ["dns", "gateway"], "cloud_properties": {"name": "isolated-net"}})
}

fn args(networks: Value) -> Value {
    json!(["agent-1", ids::TEMPLATE, {"compute_offering": "small"}, networks, [], {}])
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
async fn ip_outside_the_range_fails_cleanly() {
    let fixture = Fixture::start().await;
    let (kind, message, retry) = fixture
        .err("create_vm", args(json!({"private": manual("10.9.9.9")})))
        .await;
    assert_eq!(kind, "Bosh::Clouds::VMCreationFailed");
    assert!(message.contains("10.9.9.9"), "{message}");
    assert!(!retry, "a bad IP does not get better by retrying");
    assert_nothing_left(&fixture);
}

#[tokio::test]
async fn async_deploy_failure_destroys_the_failed_vm() {
    let fixture = Fixture::start().await;
    fixture
        .sim
        .inject(Fault {
            command: "deployVirtualMachine".into(),
            kind: FaultKind::JobFailure {
                code: 530,
                text: "Unable to start VM: hypervisor error".into(),
            },
            times: FaultTimes::Once,
        })
        .unwrap();
    let (kind, message, retry) = fixture
        .err("create_vm", args(json!({"private": manual("10.1.1.10")})))
        .await;
    assert_eq!(kind, "Bosh::Clouds::VMCreationFailed");
    assert!(message.contains("hypervisor error"), "{message}");
    assert!(message.contains("destroyed"), "{message}");
    assert!(retry);
    assert_nothing_left(&fixture);
    // The IP is free again.
    fixture
        .ok("create_vm", args(json!({"private": manual("10.1.1.10")})))
        .await;
}

#[tokio::test]
async fn failure_after_deploy_rolls_everything_back() {
    let fixture = Fixture::start().await;
    fixture
        .sim
        .inject(Fault {
            command: "startVirtualMachine".into(),
            kind: FaultKind::JobFailure {
                code: 533,
                text: "Unable to create a deployment".into(),
            },
            times: FaultTimes::Once,
        })
        .unwrap();
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
    let (kind, message, retry) = fixture
        .err(
            "create_vm",
            args(json!({"private": manual("10.1.1.11"),
                "public": {"type": "vip", "ip": address.ipaddress, "cloud_properties": {}}})),
        )
        .await;
    assert_eq!(kind, "Bosh::Clouds::VMCreationFailed");
    assert!(message.contains("starting VM"), "{message}");
    assert!(retry, "a capacity failure may pass on retry: {message}");
    assert_nothing_left(&fixture);
}

#[tokio::test]
async fn unknown_vip_fails_and_leaves_nothing() {
    let fixture = Fixture::start().await;
    let (kind, message, retry) = fixture
        .err(
            "create_vm",
            args(json!({"private": manual("10.1.1.12"),
                "public": {"type": "vip", "ip": "198.51.100.199", "cloud_properties": {}}})),
        )
        .await;
    assert_eq!(kind, "Bosh::Clouds::VMCreationFailed");
    assert!(message.contains("198.51.100.199"), "{message}");
    assert!(!retry);
    assert_nothing_left(&fixture);
}

async fn reuse_ip_of_deleted_vm(fixture: &Fixture) {
    let first = fixture
        .ok("create_vm", args(json!({"private": manual("10.1.1.60")})))
        .await;
    fixture.ok("delete_vm", json!([first[0]])).await;
    let started = Instant::now();
    let second = fixture
        .ok("create_vm", args(json!({"private": manual("10.1.1.60")})))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "reused at once, not after a wait: {:?}",
        started.elapsed()
    );
    assert_ne!(first[0], second[0]);
    let vms = fixture.sim.vms();
    assert_eq!(vms.len(), 1, "{vms:?}");
    assert_eq!(vms[0].nics[0].ipaddress, "10.1.1.60");
}

#[tokio::test]
async fn ip_of_a_just_deleted_vm_is_reused_at_once() {
    let fixture = Fixture::start().await;
    reuse_ip_of_deleted_vm(&fixture).await;
    assert_eq!(fixture.sim.calls("expungeVirtualMachine"), 0);
}

#[tokio::test]
async fn ip_of_a_destroyed_unexpunged_vm_is_freed_by_expunging_it() {
    let fixture = Fixture::builder()
        .sim(|sim| sim.expunge_delay = Duration::from_secs(600))
        .config(json!({"cloudstack": {"expunge_vm": false}}))
        .start()
        .await;
    reuse_ip_of_deleted_vm(&fixture).await;
    assert_eq!(fixture.sim.calls("expungeVirtualMachine"), 1);
}

#[tokio::test]
async fn ip_held_by_a_vm_we_may_not_expunge_fails_with_retry() {
    let fixture = Fixture::builder()
        .sim(|sim| {
            sim.expunge_delay = Duration::from_secs(600);
            sim.inventory.settings.allow_user_expunge_recover_vm = false;
        })
        .config(json!({"cloudstack": {"ip_release_timeout": 1}}))
        .start()
        .await;
    let first = fixture
        .ok("create_vm", args(json!({"private": manual("10.1.1.61")})))
        .await;
    let first_cid = first[0].as_str().unwrap().to_owned();
    fixture.ok("delete_vm", json!([first_cid])).await;
    let started = Instant::now();
    let (kind, message, retry) = fixture
        .err("create_vm", args(json!({"private": manual("10.1.1.61")})))
        .await;
    assert_eq!(kind, "Bosh::Clouds::VMCreationFailed");
    assert!(
        retry,
        "the director may retry once CloudStack expunges: {message}"
    );
    assert!(message.contains("10.1.1.61"), "{message}");
    assert!(message.contains(&first_cid), "names the holder: {message}");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(started.elapsed() < Duration::from_secs(8));
    // Only the destroyed holder remains.
    assert_eq!(fixture.sim.vms().len(), 1);
}

#[tokio::test]
async fn thirty_two_concurrent_create_vm_all_succeed() {
    let fixture = Fixture::start().await;
    let started = Instant::now();
    let calls = (0..32).map(|i| {
        let fixture = &fixture;
        async move {
            fixture
                .ok(
                    "create_vm",
                    json!([format!("agent-{i}"), ids::TEMPLATE, {"compute_offering": "small"},
                        {"dyn": {"type": "dynamic", "cloud_properties": {"name": "isolated-net"}}}, [], {}]),
                )
                .await
        }
    });
    let handles: Vec<_> = calls.collect();
    let mut results = Vec::new();
    for chunk in join_all(handles).await {
        results.push(chunk);
    }
    let elapsed = started.elapsed();
    assert_eq!(results.len(), 32);
    let vms = fixture.sim.vms();
    assert_eq!(vms.len(), 32);
    let mut ips: Vec<_> = vms.iter().map(|vm| vm.nics[0].ipaddress.clone()).collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 32);
    eprintln!("32 concurrent create_vm took {elapsed:?}");
}

/// Runs futures concurrently on the current task (no extra dependency needed).
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (index, future) in pinned.iter_mut().enumerate() {
            if outputs[index].is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(output) => outputs[index] = Some(output),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
