//! `create_stemcell`, `delete_stemcell` and the template GC against the emulator over real
//! HTTP: the emulator downloads from the real stemcell store (URL mode) or receives a real
//! multipart upload (upload mode).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Seek, SeekFrom, Write};
use std::sync::Arc;
use std::time::Duration;

use cloudstack_sim::{Fault, FaultKind, FaultTimes, ids};
use common::Fixture;
use cpi_actions::gc;
use cpi_config::Config;
use cpi_store::{NewOperation, NewStoreFile, OperationState, StoreFileFilter, StoreFileState};
use serde_json::{Value, json};
use stemcell_store::StemcellStore;

struct Env {
    fx: Fixture,
    store: Arc<StemcellStore>,
    image: std::path::PathBuf,
}

/// How the SSVM reaches the store in a test.
enum Reach {
    /// The real store, served on a loopback port.
    Served,
    /// A closed port: connection refused.
    Closed,
    /// A port that accepts connections and never answers.
    Silent,
}

async fn env(mode: &str, reach: Reach, patch: Value) -> Env {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let served = listener.local_addr().unwrap();
    let public = match reach {
        Reach::Served => served,
        Reach::Closed => {
            let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let address = closed.local_addr().unwrap();
            drop(closed);
            address
        }
        Reach::Silent => {
            let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let address = silent.local_addr().unwrap();
            // Kept open (never accepting) for the test's lifetime.
            std::mem::forget(silent);
            address
        }
    };
    let fx = Fixture::builder()
        .config(json!({
            "webdav": {"listen": served.to_string(), "public_url": format!("http://{public}/"),
                       "user": "dav", "password": "dav-password", "abandoned_file_ttl": 1},
            "cloudstack": {"stemcell": {"publish_mode": mode, "publish_timeout": 20}}
        }))
        .config(patch)
        .start()
        .await;
    let config = Config::from_value(fx.config.clone()).unwrap();
    let store = Arc::new(gc::open_store(&config).unwrap());
    tokio::spawn(stemcell_store::serve(
        listener,
        Arc::clone(&store),
        std::future::pending(),
    ));
    // A bzip2-looking image (the emulator does not decompress), a few MB of varied bytes.
    let mut content = b"BZh91AY&SY".to_vec();
    content.extend((0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let image = fx.dir.path().join("image");
    std::fs::write(&image, &content).unwrap();
    Env { fx, store, image }
}

fn props() -> Value {
    json!({"name": "bosh-cloudstack-xen-ubuntu-jammy-go_agent", "version": "1.181", "hypervisor": "xen", "disk_format": "vhdx"})
}

impl Env {
    fn store_files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.store.root())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn cpi_templates(&self) -> Vec<cloudstack_sim::model::Template> {
        self.fx
            .sim
            .templates()
            .into_iter()
            .filter(|t| t.id != ids::TEMPLATE)
            .collect()
    }

    async fn assert_nothing_left(&self) {
        assert!(
            self.cpi_templates().is_empty(),
            "templates left: {:?}",
            self.cpi_templates()
        );
        assert!(
            self.store_files().is_empty(),
            "files left: {:?}",
            self.store_files()
        );
        let db = self.fx.cpi.store().await.unwrap();
        assert!(
            db.list_store_files(&StoreFileFilter::default())
                .await
                .unwrap()
                .is_empty()
        );
        assert!(db.list_stemcells().await.unwrap().is_empty());
        let staging = self.store.root().with_file_name("stemcells.staging");
        assert_eq!(std::fs::read_dir(staging).unwrap().count(), 0);
    }

    async fn create(&self, properties: Value) -> Result<String, (String, String)> {
        let response = self
            .fx
            .call_with(
                "create_stemcell",
                json!([self.image.to_str().unwrap(), properties, {"tags": {"team": "bosh"}}]),
                json!({"director_uuid": "director-1", "request_id": "cpi-1"}),
                3,
            )
            .await;
        match response.error {
            None => Ok(response.result.as_str().unwrap().to_owned()),
            Some(error) => Err((error.kind, error.message)),
        }
    }
}

async fn publish_round_trip(mode: &str) {
    let env = env(mode, Reach::Served, json!({})).await;
    let cid = env.create(props()).await.expect("create_stemcell succeeds");
    let templates = env.cpi_templates();
    assert_eq!(templates.len(), 1);
    let template = &templates[0];
    assert_eq!(template.id, cid);
    assert_eq!(template.status, "Download Complete");
    assert!(template.isready);
    assert_eq!(
        (template.format.as_str(), template.hypervisor.as_str()),
        ("VHD", "XenServer")
    );
    assert!(template.name.len() <= 32 && template.name.starts_with("bosh-ubuntu-jammy-1.181-"));
    assert!(
        template.checksum.starts_with("{SHA-256}"),
        "{}",
        template.checksum
    );
    if mode == "url" {
        assert!(
            template.url.contains("/signed/") && template.url.contains(".vhd.bz2?"),
            "{}",
            template.url
        );
    }
    let tags: Vec<(String, String)> = env
        .fx
        .sim
        .tags()
        .into_iter()
        .filter(|t| t.resource_id == cid)
        .map(|t| (t.key, t.value))
        .collect();
    assert!(
        tags.contains(&("team".to_owned(), "bosh".to_owned())),
        "{tags:?}"
    );
    assert!(tags.iter().any(|(k, _)| k == "bosh_stemcell"));
    // The image is gone from the store once CloudStack has it, and the GC finds nothing.
    let report = gc::collect_for(&env.fx.cpi, false).await.unwrap();
    assert!(report.errors.is_empty(), "{report:?}");
    assert!(env.store_files().is_empty());

    assert!(
        env.fx
            .call("delete_stemcell", json!([cid]))
            .await
            .error
            .is_none()
    );
    env.assert_nothing_left().await;
    // Deleting again is success.
    assert!(
        env.fx
            .call("delete_stemcell", json!([cid]))
            .await
            .error
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_mode_publishes_and_deletes() {
    publish_round_trip("url").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_mode_publishes_and_deletes() {
    publish_round_trip("upload").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_store_fails_cleanly() {
    let env = env("url", Reach::Closed, json!({})).await;
    let (kind, message) = env.create(props()).await.unwrap_err();
    assert_eq!(kind, "Bosh::Clouds::CloudError");
    assert!(
        message.contains("could not download") && message.contains("Failed to download"),
        "{message}"
    );
    assert!(
        !message.contains("signature=") || message.contains("signature=[redacted]"),
        "{message}"
    );
    env.assert_nothing_left().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_timeout_fails_cleanly() {
    let env = env(
        "url",
        Reach::Silent,
        json!({"cloudstack": {"stemcell": {"publish_timeout": 2}}}),
    )
    .await;
    let started = std::time::Instant::now();
    let (kind, message) = env.create(props()).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(kind, "Bosh::Clouds::CloudError");
    assert!(
        message.contains("not ready after 2s") && message.contains("last status"),
        "{message}"
    );
    env.assert_nothing_left().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_checksum_fails_cleanly() {
    let env = env("url", Reach::Served, json!({})).await;
    // Hold registerTemplate back so the image can be altered after it was hashed.
    env.fx
        .sim
        .inject(Fault {
            command: "registerTemplate".into(),
            kind: FaultKind::Latency(Duration::from_millis(1500)),
            times: FaultTimes::Once,
        })
        .unwrap();
    let db = env.fx.cpi.store().await.unwrap();
    let root = env.store.root().to_path_buf();
    let tamper = tokio::spawn(async move {
        for _ in 0..500 {
            let published = db
                .list_store_files(&StoreFileFilter {
                    state: Some(StoreFileState::Published),
                    ..StoreFileFilter::default()
                })
                .await
                .unwrap();
            if let Some(file) = published.first() {
                let mut handle = std::fs::OpenOptions::new()
                    .write(true)
                    .open(root.join(&file.path))
                    .unwrap();
                handle.seek(SeekFrom::Start(100)).unwrap();
                handle.write_all(b"corrupted").unwrap();
                return true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        false
    });
    let (kind, message) = env.create(props()).await.unwrap_err();
    assert!(tamper.await.unwrap(), "the image was altered");
    assert_eq!(kind, "Bosh::Clouds::CloudError");
    assert!(message.contains("checksum"), "{message}");
    env.assert_nothing_left().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn light_stemcells_are_adopted_and_never_deleted() {
    let env = env("url", Reach::Served, json!({})).await;
    for reference in ["bosh-stemcell-default", ids::TEMPLATE] {
        let cid = env
            .create(json!({"name": "light", "version": "1", "light_template": reference}))
            .await
            .unwrap();
        assert_eq!(cid, ids::TEMPLATE);
        assert!(
            env.store_files().is_empty(),
            "a light stemcell uploads nothing"
        );
        assert!(
            env.fx
                .call("delete_stemcell", json!([cid]))
                .await
                .error
                .is_none()
        );
        assert!(env.fx.sim.templates().iter().any(|t| t.id == ids::TEMPLATE));
    }
    let (kind, message) = env
        .create(json!({"light_template": "no-such-template"}))
        .await
        .unwrap_err();
    assert_eq!(kind, "Bosh::Clouds::CloudError");
    assert!(
        message.contains("no-such-template") && message.contains("does not exist"),
        "{message}"
    );
    assert_eq!(env.fx.sim.calls("registerTemplate"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_stemcell_never_deletes_foreign_templates() {
    let env = env("url", Reach::Served, json!({})).await;
    // Unknown to the database: left alone, and success for the director.
    assert!(
        env.fx
            .call("delete_stemcell", json!([ids::TEMPLATE]))
            .await
            .error
            .is_none()
    );
    assert!(env.fx.sim.templates().iter().any(|t| t.id == ids::TEMPLATE));
    assert_eq!(env.fx.sim.calls("deleteTemplate"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_give_clear_errors() {
    let env = env("url", Reach::Served, json!({})).await;
    let (kind, message) = env
        .create(json!({"hypervisor": "hyperv"}))
        .await
        .unwrap_err();
    assert_eq!(kind, "Bosh::Clouds::CloudError");
    assert!(message.contains("hyperv"), "{message}");
    let response = env
        .fx
        .call("create_stemcell", json!(["/nonexistent/image", props()]))
        .await;
    let error = response.error.unwrap();
    assert!(
        error.message.contains("cannot read the stemcell image"),
        "{}",
        error.message
    );
    assert!(env.cpi_templates().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_cleans_up_after_a_crash_mid_publish() {
    let env = env("url", Reach::Served, json!({})).await;
    let db = env.fx.cpi.store().await.unwrap();
    // What a daemon killed after registerTemplate leaves: a journal entry, a file record, the
    // file, and a template being downloaded, but no completion.
    let name = "bosh-crashed-1-0badc0de";
    let path = format!("{name}.vhd.bz2");
    db.start_operation(&NewOperation {
        kind: "create_stemcell".into(),
        payload: json!({"template_name": name, "store_path": path}),
        ..NewOperation::default()
    })
    .await
    .unwrap();
    db.put_store_file(&NewStoreFile {
        path: path.clone(),
        template_id: None,
        size: 0,
        sha256: None,
        state: StoreFileState::Uploading,
        expires_at: Some(cpi_store::now_millis() + Duration::from_secs(1)),
    })
    .await
    .unwrap();
    env.store.import(&env.image, &path).await.unwrap();
    let cloud = env.fx.cpi.warm_client().unwrap();
    let zone = cloud.zone_id("zone1").await.unwrap();
    let os = cloud.os_type_id("Other PV (64-bit)").await.unwrap();
    cloud
        .execute(&cloudstack::commands::RegisterTemplate {
            spec: cloudstack::commands::TemplateSpec {
                name: name.into(),
                format: "VHD".into(),
                hypervisor: "XenServer".into(),
                zoneid: zone,
                ostypeid: os,
                ..Default::default()
            },
            url: env.store.signed_url(&path).unwrap().to_string(),
        })
        .await
        .unwrap();
    // An orphan file nobody recorded, old enough to be collected.
    let orphan = env.store.root().join("stray.qcow2");
    std::fs::write(&orphan, b"stray").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&orphan)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
        .unwrap();

    // Young: the publication might still be running; nothing but the old orphan goes.
    let early = gc::collect_for(&env.fx.cpi, true).await.unwrap();
    assert!(
        early.actions.iter().all(|a| a.target == "stray.qcow2"),
        "{early:?}"
    );

    tokio::time::sleep(Duration::from_millis(1300)).await;
    let dry = gc::collect_for(&env.fx.cpi, true).await.unwrap();
    assert!(dry.dry_run && dry.errors.is_empty(), "{dry:?}");
    let kinds: Vec<&str> = dry.actions.iter().map(|a| a.kind).collect();
    assert!(
        kinds.contains(&"template") && kinds.contains(&"file") && kinds.contains(&"operation"),
        "{dry:?}"
    );
    assert_eq!(env.cpi_templates().len(), 1, "a dry run deletes nothing");
    assert!(env.store.root().join(&path).exists());

    let report = gc::collect_for(&env.fx.cpi, false).await.unwrap();
    assert!(report.errors.is_empty(), "{report:?}");
    assert!(
        report
            .actions
            .iter()
            .any(|a| a.reason.contains("no database record"))
    );
    env.assert_nothing_left().await;
    let operations = db.list_operations(&Default::default()).await.unwrap();
    assert!(operations.iter().all(|o| o.state == OperationState::Failed));
    // A second run has nothing to do.
    assert!(
        gc::collect_for(&env.fx.cpi, false)
            .await
            .unwrap()
            .actions
            .is_empty()
    );
}
