//! Fault injection (Rust API and admin HTTP endpoint), throttling, the binary's CLI contract
//! and interoperability with the independent Python `cs` client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use cloudstack_sim::{Fault, FaultKind, FaultTimes};
use common::{Client, spawn};

#[tokio::test]
async fn http_faults_latency_and_job_failures() {
    let sim = spawn(common::config()).await;
    let user = Client::user(&sim);
    sim.inject(Fault {
        command: "listZones".into(),
        kind: FaultKind::Http(503),
        times: FaultTimes::N(2),
    })
    .unwrap();
    for _ in 0..2 {
        let reply = user.get("listZones", &[]).await;
        assert_eq!(reply.status, 503);
        assert_eq!(reply.inner()["errorcode"], 503);
    }
    assert_eq!(user.get("listZones", &[]).await.status, 200);

    sim.inject(Fault {
        command: "listZones".into(),
        kind: FaultKind::Http(530),
        times: FaultTimes::Once,
    })
    .unwrap();
    user.err("listZones", &[], 530).await;
    sim.inject(Fault {
        command: "listZones".into(),
        kind: FaultKind::Http(429),
        times: FaultTimes::Once,
    })
    .unwrap();
    let text = user.err("listZones", &[], 429).await;
    assert!(text.contains("api limit"));

    sim.inject(Fault {
        command: "listOsTypes".into(),
        kind: FaultKind::Latency(Duration::from_millis(150)),
        times: FaultTimes::Once,
    })
    .unwrap();
    let started = std::time::Instant::now();
    assert_eq!(user.get("listOsTypes", &[]).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));

    sim.inject(Fault {
        command: "deployVirtualMachine".into(),
        kind: FaultKind::JobFailure {
            code: 533,
            text: "Unable to create a deployment".into(),
        },
        times: FaultTimes::Once,
    })
    .unwrap();
    let failed = user
        .run_failing(
            "deployVirtualMachine",
            &[
                ("serviceofferingid", cloudstack_sim::ids::SO_SMALL),
                ("templateid", cloudstack_sim::ids::TEMPLATE),
                ("zoneid", cloudstack_sim::ids::ZONE),
            ],
        )
        .await;
    assert_eq!(failed["jobresultcode"], 533);
    assert_eq!(
        failed["jobresult"]["errortext"],
        "Unable to create a deployment"
    );
    assert_eq!(sim.vms()[0].state, cloudstack_sim::model::VmState::Error);

    assert!(
        sim.inject(Fault {
            command: "x".into(),
            kind: FaultKind::Http(200),
            times: FaultTimes::Once
        })
        .is_err()
    );
}

#[tokio::test]
async fn dropped_connection_is_a_transport_error() {
    let sim = spawn(common::config()).await;
    let user = Client::user(&sim);
    sim.inject(Fault {
        command: "listZones".into(),
        kind: FaultKind::DropConnection,
        times: FaultTimes::Once,
    })
    .unwrap();
    let params = user.signed("listZones", &[]);
    let result = async {
        let response = user.http.post(&user.url).form(&params).send().await?;
        response.text().await
    }
    .await;
    assert!(
        result.is_err(),
        "expected a broken response, got {result:?}"
    );
    assert_eq!(user.get("listZones", &[]).await.status, 200);
}

#[tokio::test]
async fn admin_endpoint_faults_throttle_and_state() {
    let sim = spawn(common::config()).await;
    let user = Client::user(&sim);
    let http = reqwest::Client::new();
    let base = sim.base_url();
    let add = http
        .post(format!("{base}/sim/faults"))
        .body(r#"{"command":"listZones","kind":{"http":502},"times":"once"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(add.status(), 204);
    let bad = http
        .post(format!("{base}/sim/faults"))
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("invalid fault JSON"));
    let listed: serde_json::Value = http
        .get(format!("{base}/sim/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(user.get("listZones", &[]).await.status, 502);

    http.post(format!("{base}/sim/faults"))
        .body(r#"{"command":"*","kind":{"http":500},"times":"always"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(user.get("listNetworks", &[]).await.status, 500);
    assert_eq!(
        http.delete(format!("{base}/sim/faults"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(user.get("listNetworks", &[]).await.status, 200);

    let on = http
        .post(format!("{base}/sim/throttle"))
        .body(r#"{"enabled":true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(on.status(), 204);
    let mut limited = 0;
    for _ in 0..30 {
        if user.get("listZones", &[]).await.status == 429 {
            limited += 1;
        }
    }
    assert!(limited >= 5, "only {limited} calls throttled");
    http.post(format!("{base}/sim/throttle"))
        .body(r#"{"enabled":false}"#)
        .send()
        .await
        .unwrap();

    let state: serde_json::Value = http
        .get(format!("{base}/sim/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["zones"][0]["name"], "zone1");
    let text = state.to_string();
    assert!(!text.contains(common::USER_SECRET) && !text.contains(common::ADMIN_SECRET));
    let calls: serde_json::Value = http
        .get(format!("{base}/sim/calls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(calls["listZones"].as_u64().unwrap() >= 31);
}

#[tokio::test]
async fn secrets_never_appear_in_debug_output() {
    let config = common::config();
    let debug = format!("{config:?}");
    assert!(
        !debug.contains(common::USER_SECRET) && !debug.contains(common::ADMIN_SECRET),
        "{debug}"
    );
    let sim = spawn(config).await;
    assert!(!format!("{sim:?}").contains(common::USER_SECRET));
}

#[tokio::test]
async fn state_file_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let config = cloudstack_sim::SimConfig {
        state_file: Some(path.clone()),
        ..common::config()
    };
    let sim = spawn(config.clone()).await;
    let vm = Client::user(&sim).deploy(&[("name", "persisted")]).await;
    sim.shutdown().await.unwrap();
    let again = spawn(config).await;
    let listed = Client::user(&again)
        .ok("listVirtualMachines", &[("name", "persisted")])
        .await;
    assert_eq!(listed["virtualmachine"][0]["id"], vm["id"]);
}

#[test]
fn binary_prints_its_url_first_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cloudstack-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            "cli-key",
            "--secret-key",
            "cli-secret",
            "--job-duration-ms",
            "10",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/client/api"),
        "{url}"
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let status = runtime.block_on(async {
        let params = vec![
            ("command".to_owned(), "listZones".to_owned()),
            ("response".to_owned(), "json".to_owned()),
            ("apikey".to_owned(), "cli-key".to_owned()),
        ];
        let signature = common::reference_signature("cli-secret", &params);
        let mut all = params;
        all.push(("signature".into(), signature));
        reqwest::Client::new()
            .post(&url)
            .form(&all)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(status, 200);
}

/// The Python `cs` package signs requests with its own implementation; the emulator must
/// accept them. Install it with `pip install cs`.
#[tokio::test]
async fn python_cs_client_is_accepted() {
    let probe = tokio::process::Command::new("python3")
        .args(["-c", "import cs"])
        .output()
        .await;
    let installed = probe.as_ref().map(|o| o.status.success()).unwrap_or(false);
    assert!(
        installed,
        "the Python package `cs` is required for this test: run `pip install cs`"
    );
    let sim = spawn(common::config()).await;
    let script = r#"
import json, sys
from cs import CloudStack
api = CloudStack(endpoint=sys.argv[1], key=sys.argv[2], secret=sys.argv[3])
zones = api.listZones()
vm = api.deployVirtualMachine(serviceofferingid=sys.argv[4], templateid=sys.argv[5], zoneid=sys.argv[6], displayname="from python with spaces", fetch_result=True)
tagged = api.listVirtualMachines(keyword="from python")
post = CloudStack(endpoint=sys.argv[1], key=sys.argv[2], secret=sys.argv[3], method="post")
ip = post.associateIpAddress(zoneid=sys.argv[6], fetch_result=True)
print(json.dumps({"zones": zones["count"], "vm": vm["virtualmachine"]["state"], "listed": tagged.get("count", 0), "ip": ip["ipaddress"]["state"]}))
"#;
    let output = tokio::process::Command::new("python3")
        .args([
            "-c",
            script,
            &sim.url(),
            common::USER_KEY,
            common::USER_SECRET,
        ])
        .args([
            cloudstack_sim::ids::SO_SMALL,
            cloudstack_sim::ids::TEMPLATE,
            cloudstack_sim::ids::ZONE,
        ])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "cs failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        result,
        serde_json::json!({"zones": 1, "vm": "Running", "listed": 1, "ip": "Allocated"})
    );
}
