//! The litmus WebDAV compliance suite (`basic`, `copymove`, `props`) against the store, run as
//! a real client over HTTP. Needs the `litmus` binary (Debian package `litmus`); the test fails
//! with an explanation when it is missing rather than silently passing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use stemcell_store::{Credentials, StemcellStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn litmus_basic_copymove_props() {
    let litmus = std::env::var("LITMUS").unwrap_or_else(|_| "litmus".to_owned());
    if Command::new(&litmus).arg("--version").output().is_err() {
        panic!(
            "the `litmus` WebDAV test suite is not installed: run `apt-get install litmus` \
             (or set LITMUS to its path)"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let store = Arc::new(
        StemcellStore::new(
            dir.path().join("stemcells"),
            Some(format!("http://{address}/").parse().unwrap()),
            Some(Credentials::new(
                "litmus",
                SecretString::from("litmus-password"),
            )),
            Duration::from_secs(600),
        )
        .unwrap(),
    );
    tokio::spawn(stemcell_store::serve(
        listener,
        store,
        std::future::pending(),
    ));
    let work = tempfile::tempdir().unwrap();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&litmus)
            .current_dir(work.path())
            .env("TESTS", "basic copymove props")
            .arg("--keep-going")
            .arg(format!("http://{address}/"))
            .arg("litmus")
            .arg("litmus-password")
            .output()
    })
    .await
    .unwrap()
    .expect("litmus runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    for group in ["basic", "copymove", "props"] {
        let summary = stdout
            .lines()
            .find(|line| line.starts_with(&format!("<- summary for `{group}'")))
            .unwrap_or_else(|| panic!("litmus did not run the `{group}` group:\n{stdout}"));
        assert!(
            summary.contains(" 0 failed"),
            "litmus `{group}` failed: {summary}\n{stdout}"
        );
    }
    assert!(
        output.status.success(),
        "litmus exited with {}",
        output.status
    );
}
