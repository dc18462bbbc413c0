//! One conformance suite for every `Store` backend: each case runs against SQLite (a file in
//! a temporary directory) and PostgreSQL (a real temporary cluster, one database per test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use cpi_store::pg_test::TempCluster;
use cpi_store::{
    NewOperation, NewStemcell, NewStoreFile, NewVmSettings, OperationFilter, OperationState,
    StemcellState, Store, StoreError, StoreFileFilter, StoreFileState, now_millis,
};
use serde_json::{Value, json};

/// Keeps whatever backs a store alive for the duration of a test.
enum Guard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(#[allow(dead_code)] TempCluster),
}

async fn sqlite_store() -> (Arc<dyn Store>, Guard) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/store.db", dir.path().display());
    let store = cpi_store::connect(&url).await.unwrap();
    (store, Guard::Sqlite(dir))
}

async fn pg_store() -> (Arc<dyn Store>, Guard) {
    let cluster = tokio::task::spawn_blocking(TempCluster::start)
        .await
        .unwrap()
        .unwrap();
    let url = cluster.create_database().await.unwrap();
    let store = cpi_store::connect(&url).await.unwrap();
    (store, Guard::Postgres(cluster))
}

macro_rules! conformance {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let (store, _guard) = super::sqlite_store().await;
                    super::$case(store).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let (store, _guard) = super::pg_store().await;
                    super::$case(store).await;
                }
            )+
        }
    };
}

conformance!(
    settings_round_trip,
    settings_are_stored_verbatim_without_size_cap,
    credential_hash_lifecycle,
    update_settings_edits_atomically,
    concurrent_disk_map_updates_lose_nothing,
    stemcell_crud,
    store_file_crud_and_gc_queries,
    operations_journal,
    ping_and_migrate_are_idempotent,
);

fn new_settings(vm_cid: &str, settings: &Value) -> NewVmSettings {
    NewVmSettings {
        vm_cid: vm_cid.to_string(),
        agent_id: format!("agent-{vm_cid}"),
        settings: settings.to_string(),
        stemcell_api_version: Some(1),
    }
}

async fn settings_round_trip(store: Arc<dyn Store>) {
    assert!(store.get_settings("vm-1").await.unwrap().is_none());
    let first = json!({"agent_id": "agent-vm-1", "disks": {"persistent": {}}});
    store
        .put_settings(&new_settings("vm-1", &first))
        .await
        .unwrap();
    let got = store.get_settings("vm-1").await.unwrap().unwrap();
    assert_eq!(got.vm_cid, "vm-1");
    assert_eq!(got.agent_id, "agent-vm-1");
    assert_eq!(got.settings, first.to_string());
    assert_eq!(got.stemcell_api_version, Some(1));
    assert!(got.updated_at >= got.created_at);

    let second = json!({"agent_id": "agent-vm-1", "v": 2});
    let mut replacement = new_settings("vm-1", &second);
    replacement.stemcell_api_version = None;
    store.put_settings(&replacement).await.unwrap();
    let got2 = store.get_settings("vm-1").await.unwrap().unwrap();
    assert_eq!(got2.settings, second.to_string());
    assert_eq!(got2.stemcell_api_version, None);
    assert_eq!(
        got2.created_at, got.created_at,
        "an upsert keeps the creation time"
    );

    assert!(store.delete_settings("vm-1").await.unwrap());
    assert!(!store.delete_settings("vm-1").await.unwrap());
    assert!(store.get_settings("vm-1").await.unwrap().is_none());
}

async fn settings_are_stored_verbatim_without_size_cap(store: Arc<dyn Store>) {
    // Odd spacing, key order and non-ASCII text must survive, and 2 MiB is far beyond the
    // predecessor's varchar(5000).
    let big = "x".repeat(2 * 1024 * 1024);
    let raw = format!("{{ \"z\": 1,  \"a\": \"caf\u{e9} \u{1f600}\", \"blob\": \"{big}\" }}");
    let record = NewVmSettings {
        vm_cid: "vm-big".into(),
        agent_id: "agent".into(),
        settings: raw.clone(),
        stemcell_api_version: None,
    };
    store.put_settings(&record).await.unwrap();
    let got = store.get_settings("vm-big").await.unwrap().unwrap();
    assert_eq!(got.settings.len(), raw.len());
    assert_eq!(got.settings, raw);
}

async fn credential_hash_lifecycle(store: Arc<dyn Store>) {
    assert_eq!(store.credential_hash("vm-c").await.unwrap(), None);
    // A credential minted before the settings exist does not make settings appear.
    store.set_credential_hash("vm-c", "hash-1").await.unwrap();
    assert_eq!(
        store.credential_hash("vm-c").await.unwrap().as_deref(),
        Some("hash-1")
    );
    assert!(store.get_settings("vm-c").await.unwrap().is_none());
    let entry = store.registry_entry("vm-c").await.unwrap().unwrap();
    assert_eq!(entry.settings, None);
    assert_eq!(entry.credential_hash.as_deref(), Some("hash-1"));

    store
        .put_settings(&new_settings("vm-c", &json!({"agent_id": "a"})))
        .await
        .unwrap();
    assert_eq!(
        store.credential_hash("vm-c").await.unwrap().as_deref(),
        Some("hash-1"),
        "putting settings keeps the credential"
    );
    store.set_credential_hash("vm-c", "hash-2").await.unwrap();
    assert_eq!(
        store.credential_hash("vm-c").await.unwrap().as_deref(),
        Some("hash-2")
    );
    assert!(store.get_settings("vm-c").await.unwrap().is_some());

    let entry = store.registry_entry("vm-c").await.unwrap().unwrap();
    assert_eq!(entry.credential_hash.as_deref(), Some("hash-2"));
    assert_eq!(entry.settings.as_deref(), Some(r#"{"agent_id":"a"}"#));

    assert!(store.delete_settings("vm-c").await.unwrap());
    assert_eq!(store.credential_hash("vm-c").await.unwrap(), None);
    assert_eq!(store.registry_entry("vm-c").await.unwrap(), None);
}

async fn update_settings_edits_atomically(store: Arc<dyn Store>) {
    let missing = store
        .update_settings("vm-none", Box::new(Ok))
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::NotFound { .. }), "{missing}");
    assert!(missing.to_string().contains("vm-none"));

    let initial = json!({"agent_id": "a", "disks": {"persistent": {}}});
    store
        .put_settings(&new_settings("vm-u", &initial))
        .await
        .unwrap();
    let updated = store
        .update_settings(
            "vm-u",
            Box::new(|mut settings| {
                settings["disks"]["persistent"]["disk-1"] = json!({"path": "/dev/xvdc"});
                Ok(settings)
            }),
        )
        .await
        .unwrap();
    let parsed: Value = serde_json::from_str(&updated.settings).unwrap();
    assert_eq!(parsed["disks"]["persistent"]["disk-1"]["path"], "/dev/xvdc");
    let stored = store.get_settings("vm-u").await.unwrap().unwrap();
    assert_eq!(stored.settings, updated.settings);

    // A rejected edit changes nothing.
    let rejected = store
        .update_settings(
            "vm-u",
            Box::new(|_| Err("disk-9 is not attached".to_string())),
        )
        .await
        .unwrap_err();
    assert!(matches!(rejected, StoreError::EditRejected { .. }));
    assert!(rejected.to_string().contains("disk-9 is not attached"));
    assert_eq!(
        store.get_settings("vm-u").await.unwrap().unwrap().settings,
        updated.settings
    );

    // Stored settings that are not JSON are reported as corrupt, not edited.
    let garbage = NewVmSettings {
        settings: "not json".into(),
        ..new_settings("vm-bad", &json!({}))
    };
    store.put_settings(&garbage).await.unwrap();
    let corrupt = store
        .update_settings("vm-bad", Box::new(Ok))
        .await
        .unwrap_err();
    assert!(matches!(corrupt, StoreError::Corrupt { .. }), "{corrupt}");
}

async fn concurrent_disk_map_updates_lose_nothing(store: Arc<dyn Store>) {
    let initial = json!({"agent_id": "a", "disks": {"persistent": {}}});
    store
        .put_settings(&new_settings("vm-race", &initial))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .update_settings(
                        "vm-race",
                        Box::new(move |mut settings| {
                            settings["disks"]["persistent"][format!("disk-{i}")] =
                                json!({"volume_id": i.to_string()});
                            Ok(settings)
                        }),
                    )
                    .await
            })
        })
        .collect();
    for task in futures_util::future::join_all(tasks).await {
        task.unwrap().unwrap();
    }
    let stored = store.get_settings("vm-race").await.unwrap().unwrap();
    let parsed: Value = serde_json::from_str(&stored.settings).unwrap();
    let disks = parsed["disks"]["persistent"].as_object().unwrap();
    assert_eq!(disks.len(), 64);
    for i in 0..64 {
        assert_eq!(disks[&format!("disk-{i}")]["volume_id"], i.to_string());
    }
}

fn new_stemcell(template_id: &str, light: bool) -> NewStemcell {
    NewStemcell {
        template_id: template_id.into(),
        name: format!("bosh-stemcell-{template_id}"),
        zone_ids: vec!["zone-a".into(), "zone-b".into()],
        format: "VHD".into(),
        hypervisor: "XenServer".into(),
        checksum: Some("sha1:abc".into()),
        store_path: Some("/stemcells/x.vhd.bz2".into()),
        publish_mode: "webdav".into(),
        light,
        state: StemcellState::Creating,
    }
}

async fn stemcell_crud(store: Arc<dyn Store>) {
    assert!(store.get_stemcell("t-1").await.unwrap().is_none());
    store
        .put_stemcell(&new_stemcell("t-1", false))
        .await
        .unwrap();
    store
        .put_stemcell(&new_stemcell("t-2", true))
        .await
        .unwrap();
    let first = store.get_stemcell("t-1").await.unwrap().unwrap();
    assert_eq!(first.zone_ids, vec!["zone-a", "zone-b"]);
    assert_eq!(first.state, StemcellState::Creating);
    assert!(!first.light);
    assert_eq!(first.checksum.as_deref(), Some("sha1:abc"));
    assert!(store.get_stemcell("t-2").await.unwrap().unwrap().light);

    store
        .set_stemcell_state("t-1", StemcellState::Ready)
        .await
        .unwrap();
    assert_eq!(
        store.get_stemcell("t-1").await.unwrap().unwrap().state,
        StemcellState::Ready
    );
    let missing = store
        .set_stemcell_state("t-404", StemcellState::Ready)
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::NotFound { .. }));

    let ids: Vec<String> = store
        .list_stemcells()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.template_id)
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&"t-1".to_string()) && ids.contains(&"t-2".to_string()));

    assert!(store.delete_stemcell("t-1").await.unwrap());
    assert!(!store.delete_stemcell("t-1").await.unwrap());
    assert_eq!(store.list_stemcells().await.unwrap().len(), 1);
}

async fn store_file_crud_and_gc_queries(store: Arc<dyn Store>) {
    let now = now_millis();
    let past = now - Duration::from_secs(3600);
    let future = now + Duration::from_secs(3600);
    let file = |path: &str, state, expires_at| NewStoreFile {
        path: path.into(),
        template_id: Some("t-1".into()),
        size: 5_000_000_000,
        sha256: Some("ab".repeat(32)),
        state,
        expires_at,
    };
    store
        .put_store_file(&file("a.vhd", StoreFileState::Published, Some(past)))
        .await
        .unwrap();
    store
        .put_store_file(&file("b.vhd", StoreFileState::Published, Some(future)))
        .await
        .unwrap();
    store
        .put_store_file(&file("c.vhd", StoreFileState::Uploading, None))
        .await
        .unwrap();

    let a = store.get_store_file("a.vhd").await.unwrap().unwrap();
    assert_eq!(a.size, 5_000_000_000);
    assert_eq!(a.expires_at, Some(past));
    assert_eq!(a.template_id.as_deref(), Some("t-1"));
    assert!(store.get_store_file("zzz").await.unwrap().is_none());

    let published = store
        .list_store_files(&StoreFileFilter {
            state: Some(StoreFileState::Published),
            expired_before: None,
        })
        .await
        .unwrap();
    assert_eq!(published.len(), 2);
    let expired = store
        .list_store_files(&StoreFileFilter {
            state: None,
            expired_before: Some(now),
        })
        .await
        .unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].path, "a.vhd");
    assert_eq!(
        store
            .list_store_files(&StoreFileFilter::default())
            .await
            .unwrap()
            .len(),
        3
    );

    store
        .set_store_file_state("c.vhd", StoreFileState::Failed)
        .await
        .unwrap();
    assert_eq!(
        store.get_store_file("c.vhd").await.unwrap().unwrap().state,
        StoreFileState::Failed
    );
    assert!(matches!(
        store
            .set_store_file_state("nope", StoreFileState::Ready)
            .await
            .unwrap_err(),
        StoreError::NotFound { .. }
    ));
    assert!(store.delete_store_file("a.vhd").await.unwrap());
    assert!(!store.delete_store_file("a.vhd").await.unwrap());
}

async fn operations_journal(store: Arc<dyn Store>) {
    let started = store
        .start_operation(&NewOperation {
            kind: "create_vm".into(),
            vm_cid: Some("vm-1".into()),
            payload: json!({"step": "deploy", "nics": [1, 2]}),
            ..NewOperation::default()
        })
        .await
        .unwrap();
    assert_eq!(started.state, OperationState::Started);
    assert_eq!(started.payload["nics"], json!([1, 2]));
    assert_eq!(started.finished_at, None);
    let other = store
        .start_operation(&NewOperation {
            kind: "attach_disk".into(),
            disk_cid: Some("disk-1".into()),
            payload: json!({}),
            ..NewOperation::default()
        })
        .await
        .unwrap();
    assert_ne!(started.id, other.id);
    assert_eq!(
        store.get_operation(&started.id).await.unwrap().unwrap(),
        started
    );

    store
        .finish_operation(&other.id, OperationState::Failed, Some("volume busy"))
        .await
        .unwrap();
    let failed = store.get_operation(&other.id).await.unwrap().unwrap();
    assert_eq!(failed.state, OperationState::Failed);
    assert_eq!(failed.error.as_deref(), Some("volume busy"));
    assert!(failed.finished_at.is_some());
    assert!(matches!(
        store
            .finish_operation("nope", OperationState::Done, None)
            .await
            .unwrap_err(),
        StoreError::NotFound { .. }
    ));

    let in_flight = store
        .list_operations(&OperationFilter {
            state: Some(OperationState::Started),
            started_before: None,
        })
        .await
        .unwrap();
    assert_eq!(in_flight.len(), 1);
    assert_eq!(in_flight[0].id, started.id);
    let later = now_millis() + Duration::from_secs(60);
    let old = store
        .list_operations(&OperationFilter {
            state: None,
            started_before: Some(started.started_at - Duration::from_secs(1)),
        })
        .await
        .unwrap();
    assert!(old.is_empty());

    // Only finished operations are pruned; the started one is kept for crash recovery.
    assert_eq!(
        store
            .delete_operations_finished_before(later)
            .await
            .unwrap(),
        1
    );
    assert!(store.get_operation(&other.id).await.unwrap().is_none());
    assert!(store.get_operation(&started.id).await.unwrap().is_some());
}

async fn ping_and_migrate_are_idempotent(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
}
