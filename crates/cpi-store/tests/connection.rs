//! Connection handling: outages, bad URLs and password redaction.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use cpi_store::pg_test::TempCluster;
use cpi_store::{Backend, NewVmSettings, PgStore, Store, StoreError, StoreOptions};

fn quick_options() -> StoreOptions {
    StoreOptions {
        acquire_timeout: Duration::from_millis(800),
        ..StoreOptions::default()
    }
}

fn settings(vm_cid: &str) -> NewVmSettings {
    NewVmSettings {
        vm_cid: vm_cid.into(),
        agent_id: "agent".into(),
        settings: r#"{"agent_id":"agent"}"#.into(),
        stemcell_api_version: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_under_a_live_pool_recovers() {
    let cluster = tokio::task::spawn_blocking(TempCluster::start)
        .await
        .unwrap()
        .unwrap();
    let url = cluster.create_database().await.unwrap();
    // Trust authentication ignores the password, which lets this test check that it never
    // appears in errors.
    let url = url.replace("postgres@", "postgres:hunter2-secret@");
    let store = PgStore::connect(&url, &quick_options()).await.unwrap();
    store.put_settings(&settings("vm-1")).await.unwrap();
    assert!(!format!("{store:?}").contains("hunter2"));

    cluster.stop().unwrap();
    for _ in 0..3 {
        let error = store.get_settings("vm-1").await.unwrap_err();
        assert!(error.is_unavailable(), "expected unavailable, got {error}");
        let text = error.to_string();
        assert!(text.contains("PostgreSQL database unavailable"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!format!("{error:?}").contains("hunter2"));
    }
    let ping = store.ping().await.unwrap_err();
    assert!(ping.is_unavailable());

    cluster.resume().unwrap();
    // The same pool reconnects on demand: no new store is created.
    let got = store.get_settings("vm-1").await.unwrap().unwrap();
    assert_eq!(got.agent_id, "agent");
    store.put_settings(&settings("vm-2")).await.unwrap();
    store.ping().await.unwrap();
}

#[tokio::test]
async fn connecting_to_a_down_postgres_fails_fast_and_clearly() {
    // Port 1 on loopback is closed.
    let url = "postgres://cpi:topsecret@127.0.0.1:1/cpi";
    let started = std::time::Instant::now();
    let error = PgStore::connect(url, &quick_options()).await.unwrap_err();
    assert!(error.is_unavailable(), "{error}");
    assert!(!error.to_string().contains("topsecret"));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn unsupported_scheme_is_rejected_without_echoing_the_password() {
    let error = cpi_store::connect("mysql://root:pw-123@localhost/db")
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::InvalidUrl { .. }), "{error}");
    let text = error.to_string();
    assert!(
        text.contains("expected a postgres:// or sqlite:// URL"),
        "{text}"
    );
    assert!(!text.contains("pw-123"), "{text}");
}

#[tokio::test]
async fn malformed_postgres_url_is_invalid() {
    let error = cpi_store::connect("postgres://user:pw-456@host:notaport/db")
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::InvalidUrl { .. }), "{error}");
    assert!(!error.to_string().contains("pw-456"));
}

#[tokio::test]
async fn sqlite_file_is_created_and_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cpi.db");
    let url = format!("sqlite://{}", path.display());
    {
        let store = cpi_store::connect(&url).await.unwrap();
        assert_eq!(store.backend(), Backend::Sqlite);
        store.put_settings(&settings("vm-1")).await.unwrap();
        store.close().await;
    }
    assert!(path.exists());
    let store = cpi_store::connect(&url).await.unwrap();
    assert!(store.get_settings("vm-1").await.unwrap().is_some());
}

#[tokio::test]
async fn sqlite_in_a_missing_directory_fails_clearly() {
    let error = cpi_store::connect("sqlite:///nonexistent-dir-xyz/cpi.db")
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("/nonexistent-dir-xyz/cpi.db"),
        "{error}"
    );
}

#[tokio::test]
async fn sqlite_url_without_path_is_invalid() {
    let error = cpi_store::connect("sqlite://").await.unwrap_err();
    assert!(matches!(error, StoreError::InvalidUrl { .. }), "{error}");
}
