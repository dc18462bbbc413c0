//! Benchmark (ignored by default; run by `scripts/bench-stemcell-rss.sh`): a 4 GiB sparse image
//! published through the real store and downloaded by the emulator, in this process, whose
//! peak RSS (VmHWM) must stay under 64 MiB.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::Fixture;
use cpi_actions::gc;
use cpi_config::Config;
use serde_json::json;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: scripts/bench-stemcell-rss.sh"]
async fn publish_4gib_sparse_image_in_bounded_memory() {
    let size: u64 = std::env::var("BENCH_IMAGE_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4 << 30);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let fx = Fixture::builder()
        .config(json!({
            "webdav": {"listen": address.to_string(), "public_url": format!("http://{address}/"),
                       "user": "dav", "password": "dav-password"},
            "cloudstack": {"stemcell": {"publish_timeout": 1800}}
        }))
        .start()
        .await;
    let config = Config::from_value(fx.config.clone()).unwrap();
    let store = Arc::new(gc::open_store(&config).unwrap());
    tokio::spawn(stemcell_store::serve(
        listener,
        Arc::clone(&store),
        std::future::pending(),
    ));
    let image = fx.dir.path().join("image");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(size)
        .unwrap();
    let before = peak_rss_kib();
    let started = Instant::now();
    let cid = fx
        .ok(
            "create_stemcell",
            json!([image.to_str().unwrap(), {"name": "bench", "version": "1", "hypervisor": "kvm"}]),
        )
        .await;
    let elapsed = started.elapsed();
    let peak = peak_rss_kib();
    println!(
        "BENCH image_bytes={size} publish_seconds={:.1} peak_rss_mib={:.1} rss_before_mib={:.1} template={cid}",
        elapsed.as_secs_f64(),
        peak as f64 / 1024.0,
        before as f64 / 1024.0
    );
    assert!(peak < 64 * 1024, "peak RSS {} KiB is over 64 MiB", peak);
}
