//! `cpid gc [--dry-run]` and `cpid migrate`: the maintenance commands an operator runs by hand.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

use std::process::Command;

use harness::TestDaemon;

fn gc(daemon: &TestDaemon, dry_run: bool) -> String {
    let mut command = Command::new(harness::CPID);
    command.args(["gc", "--config"]).arg(&daemon.config_path);
    if dry_run {
        command.arg("--dry-run");
    }
    let output = command
        .env("CPID_LOG", "warn")
        .output()
        .expect("cpid gc runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "cpid gc failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn gc_dry_run_lists_an_orphan_and_gc_deletes_it() {
    // No daemon runs: `cpid gc` works on the state directory and database directly.
    let daemon = TestDaemon::builder().emulator(|_| {}).no_spawn().start();
    let stemcells = daemon.state_dir.join("stemcells");
    std::fs::create_dir_all(&stemcells).unwrap();
    let orphan = stemcells.join("bosh-orphan-0000.vhd.bz2");
    std::fs::write(&orphan, b"left by a daemon killed mid-publish").unwrap();
    // Files younger than a minute may be an operator's upload in progress; age this one.
    let status = Command::new("touch")
        .args(["-d", "10 minutes ago"])
        .arg(&orphan)
        .status()
        .unwrap();
    assert!(status.success());

    let listed = gc(&daemon, true);
    assert!(
        listed.contains("would delete file bosh-orphan-0000.vhd.bz2: no database record"),
        "{listed}"
    );
    assert!(orphan.exists(), "a dry run deletes nothing");

    let deleted = gc(&daemon, false);
    assert!(
        deleted.contains("deleted file bosh-orphan-0000.vhd.bz2"),
        "{deleted}"
    );
    assert!(!orphan.exists());
    assert!(gc(&daemon, true).contains("0 item(s) would delete"));
}

#[test]
fn migrate_creates_the_schema_and_is_idempotent() {
    let daemon = TestDaemon::builder().no_spawn().start();
    for _ in 0..2 {
        let output = Command::new(harness::CPID)
            .args(["migrate", "--config"])
            .arg(&daemon.config_path)
            .env("CPID_LOG", "warn")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains("database schema is up to date"), "{stdout}");
    }
    assert!(
        daemon.state_dir.join("cpi.sqlite3").exists(),
        "the default SQLite file was created"
    );
}
