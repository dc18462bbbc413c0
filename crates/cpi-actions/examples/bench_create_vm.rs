//! Benchmark of the warm `create_vm` path against the emulator.
//!
//! Runs one cold `create_vm` (filling the look-up caches), then `--runs` warm ones on a dynamic
//! network, each followed by `delete_vm`, and prints per warm `create_vm`:
//! - the CloudStack requests sent (job polls included), by command;
//! - the wall time, the time the emulator's jobs were pending (the union of their pending
//!   intervals), and the CPI overhead: wall time minus that job time.
//!
//! Usage: `cargo run --release -p cpi-actions --example bench_create_vm -- [--runs N] [--job-ms MS]`

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudstack_sim::{Sim, SimConfig, ids};
use cpi_actions::{Cpi, client_config};
use cpi_config::Config;
use cpi_protocol::{Request, Response};
use serde_json::{Value, json};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn call(cpi: &Cpi, method: &str, arguments: Value) -> Value {
    let document = json!({"method": method, "arguments": arguments,
        "context": {"director_uuid": "bench", "request_id": "cpi-000001", "vm": {"stemcell": {"api_version": 2}}},
        "api_version": 2});
    let request = Request::parse(document.to_string().as_bytes()).expect("well-formed request");
    let response = Response::from_outcome(cpi.handle(&request).await, String::new());
    if let Some(error) = response.error {
        panic!("{method} failed: {error:?}");
    }
    response.result
}

/// Milliseconds during which at least one of `intervals` was pending.
fn union_ms(mut intervals: Vec<(u64, u64)>) -> u64 {
    intervals.sort();
    let mut total = 0;
    let mut current: Option<(u64, u64)> = None;
    for (start, end) in intervals {
        current = match current {
            Some((s, e)) if start <= e => Some((s, e.max(end))),
            Some((s, e)) => {
                total += e - s;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    total + current.map_or(0, |(s, e)| e - s)
}

#[tokio::main]
async fn main() {
    let runs = arg("--runs", 20);
    let job_ms = arg("--job-ms", 50);
    let sim_config = SimConfig {
        job_duration: Duration::from_millis(job_ms),
        ..SimConfig::default()
    };
    let sim = Sim::spawn(sim_config.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("emulator starts");
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_value(json!({
        "cloudstack": {
            "endpoint": sim.url(),
            "api_key": sim_config.user_api_key,
            "secret_access_key": secrecy::ExposeSecret::expose_secret(&sim_config.user_secret),
            "default_zone": "zone1",
            "default_key_name": "bosh",
            "default_offer": {"ephemeral_disk": "custom"}
        },
        "daemon": {"state_dir": dir.path()},
        "agent": {"mbus": "nats://nats:password@10.0.0.6:4222", "ntp": ["0.pool.ntp.org"],
                  "blobstore": {"provider": "dav", "options": {"endpoint": "http://10.0.0.6:25250"}}}
    }))
    .expect("valid configuration");
    let store = cpi_store::connect(secrecy::ExposeSecret::expose_secret(&config.database_url()))
        .await
        .expect("store opens");
    let cpi = Cpi::new(Arc::new(config), store);
    let cloud = cpi.clients().get(&client_config(cpi.config())).unwrap();
    let arguments = json!(["agent-bench", ids::TEMPLATE, {"compute_offering": "small"},
        {"default": {"type": "dynamic", "dns": ["8.8.8.8"], "default": ["dns", "gateway"],
                     "cloud_properties": {"name": "isolated-net"}}}, [], {"bosh": {"password": "*"}}]);

    let cold_before = cloud.total_calls();
    let cold = call(&cpi, "create_vm", arguments.clone()).await;
    let cold_calls = cloud.total_calls() - cold_before;
    call(&cpi, "delete_vm", json!([cold[0]])).await;

    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let (mut wall_total, mut job_total) = (Duration::ZERO, 0u64);
    let mut overheads: Vec<f64> = Vec::new();
    for _ in 0..runs {
        let seen: HashSet<String> = sim.world().jobs.into_iter().map(|j| j.id).collect();
        let before = cloud.call_counts();
        let started = Instant::now();
        let result = call(&cpi, "create_vm", arguments.clone()).await;
        let wall = started.elapsed();
        for (command, count) in cloud.call_counts() {
            *counts.entry(command.clone()).or_default() +=
                count - before.get(&command).copied().unwrap_or(0);
        }
        let jobs: Vec<(u64, u64)> = sim
            .world()
            .jobs
            .into_iter()
            .filter(|j| !seen.contains(&j.id))
            .map(|j| (j.created_ms, j.ready_at_ms))
            .collect();
        let job_ms = union_ms(jobs);
        wall_total += wall;
        job_total += job_ms;
        overheads.push(wall.as_secs_f64() * 1000.0 - job_ms as f64);
        call(&cpi, "delete_vm", json!([result[0]])).await;
    }
    let per_run = |n: u64| n as f64 / runs as f64;
    let total: u64 = counts.values().sum();
    overheads.sort_by(f64::total_cmp);
    println!("create_vm benchmark: {runs} warm runs, emulator job duration {job_ms} ms");
    println!("cold create_vm: {cold_calls} CloudStack requests");
    println!(
        "warm create_vm: {:.1} CloudStack requests per call:",
        per_run(total)
    );
    for (command, count) in counts.iter().filter(|(_, count)| **count > 0) {
        println!("  {command:<24} {:.1}", per_run(*count));
    }
    println!(
        "wall time per warm create_vm: {:.1} ms; emulator job time: {:.1} ms; CPI overhead: {:.1} ms mean, {:.1} ms median",
        wall_total.as_secs_f64() * 1000.0 / runs as f64,
        per_run(job_total),
        overheads.iter().sum::<f64>() / overheads.len().max(1) as f64,
        overheads.get(overheads.len() / 2).copied().unwrap_or(0.0),
    );
}
