//! End-to-end tests against the CloudStack emulator over real HTTP.
//!
//! The client's clock is linked to the emulator's: every time the client sleeps (job polling,
//! retry backoff, rate limiting) the emulator's clock advances by the same amount, so async
//! jobs complete and throttling windows pass without any real waiting.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use cloudstack::clock::SleepFuture;
use cloudstack::commands::*;
use cloudstack::{ClientConfig, Clock, CloudStackClient, CloudStackError, ManualClock};
use cloudstack_sim::{Fault, FaultKind, FaultTimes, Sim, SimConfig, SimHandle, ids};
use secrecy::SecretString;

#[derive(Debug, Clone)]
struct LinkedClock {
    client: ManualClock,
    sim: Arc<cloudstack_sim::ManualClock>,
}

impl Clock for LinkedClock {
    fn now(&self) -> Instant {
        self.client.now()
    }

    fn sleep(&self, duration: Duration) -> SleepFuture<'_> {
        self.sim.advance(duration);
        self.client.sleep(duration)
    }
}

async fn start(job_duration: Duration) -> (SimHandle, LinkedClock) {
    let sim_clock = cloudstack_sim::ManualClock::new();
    let config = SimConfig {
        job_duration,
        clock: sim_clock.clone(),
        ..SimConfig::default()
    };
    let handle = Sim::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let clock = LinkedClock {
        client: ManualClock::new(),
        sim: sim_clock,
    };
    (handle, clock)
}

fn user_config(sim: &SimHandle) -> ClientConfig {
    let defaults = SimConfig::default();
    ClientConfig::new(
        sim.url().parse().unwrap(),
        SecretString::from(defaults.user_api_key),
        defaults.user_secret,
    )
}

fn client(config: ClientConfig, clock: &LinkedClock) -> CloudStackClient {
    CloudStackClient::with_clock(config, Arc::new(clock.clone())).unwrap()
}

#[tokio::test]
async fn vm_and_disk_lifecycle_against_the_emulator() {
    let (sim, clock) = start(Duration::from_millis(500)).await;
    let client = client(user_config(&sim), &clock);

    let zone = client.zone_id("zone1").await.unwrap();
    assert_eq!(zone, ids::ZONE);
    let offering = client.service_offering_id("small").await.unwrap();
    assert_eq!(offering, ids::SO_SMALL);
    assert_eq!(client.service_offering_id("small").await.unwrap(), offering);
    assert_eq!(client.call_count("listServiceOfferings"), 1);
    let network = client.network_id("isolated-net", &zone).await.unwrap();
    assert_eq!(network, ids::NET_ISOLATED);
    assert_eq!(
        client.os_type_id("Ubuntu 22.04 LTS").await.unwrap(),
        ids::OS_UBUNTU
    );
    let disk_offering = client.disk_offering_id("custom").await.unwrap();

    let user_data = base64::engine::general_purpose::STANDARD.encode("x".repeat(8 * 1024));
    let vm = client
        .execute(&DeployVirtualMachine {
            serviceofferingid: offering,
            templateid: ids::TEMPLATE.into(),
            zoneid: zone.clone(),
            name: Some("vm-3f2a".into()),
            // Characters that differ between encoders must still verify on the server.
            displayname: Some("bosh vm ~ 1+2=3 *star* /slash/ ü & more".into()),
            iptonetworklist: vec![IpToNetwork {
                networkid: network,
                ip: Some("10.1.1.50".into()),
                ..Default::default()
            }],
            userdata: Some(user_data),
            keypair: Some("bosh".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(vm.state.as_deref(), Some("Running"));
    assert_eq!(
        vm.default_nic().and_then(|n| n.ipaddress.as_deref()),
        Some("10.1.1.50")
    );
    assert_eq!(vm.key_pair_names(), vec!["bosh".to_owned()]);
    assert_eq!(
        vm.displayname.as_deref(),
        Some("bosh vm ~ 1+2=3 *star* /slash/ ü & more")
    );
    assert!(
        client.call_count("queryAsyncJobResult") >= 2,
        "the job was pending at first"
    );

    let listed = client
        .list(&ListVirtualMachines {
            id: Some(vm.id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);

    let volume = client
        .execute(&CreateVolume {
            name: Some("disk-1".into()),
            diskofferingid: Some(disk_offering),
            size: Some(10),
            zoneid: Some(zone),
            ..Default::default()
        })
        .await
        .unwrap();
    let attached = client
        .execute(&AttachVolume {
            id: volume.id.clone(),
            virtualmachineid: vm.id.clone(),
            deviceid: None,
        })
        .await
        .unwrap();
    assert_eq!(attached.virtualmachineid.as_deref(), Some(vm.id.as_str()));
    client
        .execute(&CreateTags {
            resourceids: vec![volume.id.clone()],
            resourcetype: "Volume".into(),
            tags: vec![("director".into(), "bosh".into())],
        })
        .await
        .unwrap();
    let tagged = client
        .list(&ListVolumes {
            tags: vec![("director".into(), "bosh".into())],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(tagged.len(), 1);
    client
        .execute(&DetachVolume {
            id: volume.id.clone(),
        })
        .await
        .unwrap();
    client
        .execute(&DeleteVolume {
            id: volume.id.clone(),
        })
        .await
        .unwrap();

    let stopped = client
        .execute(&StopVirtualMachine {
            id: vm.id.clone(),
            forced: None,
        })
        .await
        .unwrap();
    assert_eq!(stopped.state.as_deref(), Some("Stopped"));
    client
        .execute(&StartVirtualMachine {
            id: vm.id.clone(),
            hostid: None,
        })
        .await
        .unwrap();
    client
        .execute(&DestroyVirtualMachine {
            id: vm.id.clone(),
            expunge: Some(true),
            volumeids: vec![],
        })
        .await
        .unwrap();
    assert!(
        sim.vms().iter().all(|v| v.id != vm.id),
        "the VM is expunged"
    );

    let gone = client
        .execute(&StopVirtualMachine {
            id: vm.id.clone(),
            forced: None,
        })
        .await
        .unwrap_err();
    assert!(
        gone.is_not_found() || gone.errorcode() == Some(431),
        "{gone}"
    );
}

#[tokio::test]
async fn job_failure_from_the_emulator_is_typed() {
    let (sim, clock) = start(Duration::from_millis(200)).await;
    sim.inject(Fault {
        command: "deployVirtualMachine".into(),
        kind: FaultKind::JobFailure {
            code: 533,
            text: "Insufficient capacity".into(),
        },
        times: FaultTimes::Once,
    })
    .unwrap();
    let client = client(user_config(&sim), &clock);
    let error = client
        .execute(&DeployVirtualMachine {
            serviceofferingid: ids::SO_SMALL.into(),
            templateid: ids::TEMPLATE.into(),
            zoneid: ids::ZONE.into(),
            networkids: vec![ids::NET_ISOLATED.into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    match error {
        CloudStackError::JobFailed {
            errorcode,
            errortext,
            ..
        } => {
            assert_eq!(errorcode, 533);
            assert!(errortext.contains("Insufficient capacity"), "{errortext}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_secret_is_rejected_without_retry_or_leak() {
    let (sim, clock) = start(Duration::from_millis(100)).await;
    let mut config = user_config(&sim);
    config.secret_key = SecretString::from("definitely-wrong-secret");
    let client = client(config, &clock);
    let error = client.list(&ListZones::default()).await.unwrap_err();
    assert_eq!(error.errorcode(), Some(401));
    assert_eq!(client.call_count("listZones"), 1);
    let text = format!("{error} {error:?}");
    assert!(!text.contains("definitely-wrong-secret"));
    assert!(!text.contains("sim-user-api-key"));
}

#[tokio::test]
async fn rate_limit_keeps_a_burst_under_the_emulator_throttle() {
    let (sim, clock) = start(Duration::from_millis(100)).await;
    sim.set_throttle(true);

    let mut limited = user_config(&sim);
    limited.rate_limit_per_sec = Some(cloudstack::DEFAULT_RATE_LIMIT_PER_SEC);
    let limited = client(limited, &clock);
    for _ in 0..60 {
        limited.list(&ListZones::default()).await.unwrap();
    }
    assert_eq!(limited.call_count("listZones"), 60, "no call was throttled");

    // Without the limiter the same burst trips the throttle, and the 429s are retried.
    let mut unlimited = user_config(&sim);
    unlimited.retry.max_attempts = 10;
    let unlimited = client(unlimited, &clock);
    for _ in 0..60 {
        unlimited.list(&ListZones::default()).await.unwrap();
    }
    assert!(unlimited.call_count("listZones") > 60);
}

#[tokio::test]
async fn project_name_is_resolved_against_the_emulator() {
    let (sim, clock) = start(Duration::from_millis(100)).await;
    let mut config = user_config(&sim);
    config.project = Some("default".into());
    let client = client(config, &clock);
    assert_eq!(
        client.project_id().await.unwrap().as_deref(),
        Some(ids::PROJECT)
    );
    client.list(&ListVirtualMachines::default()).await.unwrap();
    assert_eq!(client.call_count("listProjects"), 1);

    let mut missing = user_config(&sim);
    missing.project = Some("no-such-project".into());
    let error = client_for_missing(missing, &clock)
        .list(&ListVolumes::default())
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error}");
    assert!(error.to_string().contains("no-such-project"));
}

fn client_for_missing(config: ClientConfig, clock: &LinkedClock) -> CloudStackClient {
    client(config, clock)
}
