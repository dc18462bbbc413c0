//! The slow one: vendor the crates with `scripts/prepare-blobs`, run the package's `packaging`
//! script offline as bosh-cli does (isolated environment, no HOME), and check that the built
//! `cpi` and `cpid` answer `info`. A full release build: minutes, not seconds.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use serde_json::{Value, json};

fn run_with_stdin(command: &mut Command, stdin: &str) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn assert_info(name: &str, output: &std::process::Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{name} failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let response: Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{name}: {e}: {stdout}"));
    assert_eq!(response["error"], Value::Null, "{name}: {response}");
    assert_eq!(
        response["result"]["api_version"],
        json!(2),
        "{name}: {response}"
    );
    assert_eq!(
        response["result"]["stemcell_formats"],
        json!(["cloudstack-vhdx"]),
        "{name}: {response}"
    );
}

#[test]
fn packaging_script_builds_cpi_and_cpid_offline_from_vendored_crates() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let compile = root.join("compile/cloudstack_cpi");
    let install = root.join("packages/cloudstack_cpi");
    std::fs::create_dir_all(compile.join("cloudstack_cpi")).unwrap();
    std::fs::create_dir_all(&install).unwrap();

    // 1. The blobs, as a release engineer prepares them (this step may use the network).
    let prepare = Command::new(release_dir().join("scripts/prepare-blobs"))
        .arg("--output")
        .arg(compile.join("cloudstack_cpi"))
        .status()
        .unwrap();
    assert!(prepare.success(), "prepare-blobs failed");
    std::fs::copy(
        release_dir().join("packages/cloudstack_cpi/packaging"),
        compile.join("packaging"),
    )
    .unwrap();

    // 2. The packaging script, with bosh-cli's isolated environment. The toolchain is found on
    //    PATH or in the build user's ~/.cargo/bin; CARGO_HOME is private, so the build cannot
    //    use the machine's registry cache: vendored crates or nothing.
    let status = Command::new("bash")
        .args(["-x", "packaging"])
        .current_dir(&compile)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("BOSH_COMPILE_TARGET", &compile)
        .env("BOSH_INSTALL_TARGET", &install)
        .env("BOSH_PACKAGE_NAME", "cloudstack_cpi")
        .env("BOSH_PACKAGES_DIR", root.join("packages"))
        // This test checks that the script builds working binaries offline, not how fast they
        // run, so it trades optimisation for build time to keep CI short. Cargo reads these
        // overrides of the release profile from the environment.
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
        .env("CARGO_PROFILE_RELEASE_LTO", "off")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "64")
        .env("CARGO_PROFILE_RELEASE_STRIP", "none")
        .status()
        .unwrap();
    assert!(status.success(), "the packaging script failed");
    let cpi = install.join("bin/cpi");
    let cpid = install.join("bin/cpid");
    assert!(
        cpi.is_file() && cpid.is_file(),
        "cpi and cpid are installed into BOSH_INSTALL_TARGET/bin"
    );
    assert!(
        !compile.join("cargo-home/registry/index").exists(),
        "the build must not reach a registry"
    );

    // 3. A create-env shaped config, rendered by the job template.
    let state = root.join("state");
    let mut properties = minimal_properties();
    set_dotted(&mut properties, "daemon.autostart", json!(true));
    set_dotted(&mut properties, "daemon.idle_timeout", json!(30));
    set_dotted(
        &mut properties,
        "daemon.state_dir",
        json!(state.to_str().unwrap()),
    );
    let rendered = render_ok(&properties, &root.join("render"));
    let config = rendered.join("config/cpi.json");
    let info =
        r#"{"method":"info","arguments":[],"context":{"director_uuid":"test"},"api_version":1}"#;

    let oneshot = run_with_stdin(
        Command::new(&cpid)
            .arg("oneshot")
            .arg("--config")
            .arg(&config),
        info,
    );
    assert_info("cpid oneshot", &oneshot);

    let check = Command::new(&cpid)
        .args(["check", "--offline", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "cpid check --offline: {}",
        String::from_utf8_lossy(&check.stdout)
    );

    // The shim finds no daemon and autostarts `cpid serve` from its own directory.
    let shim = run_with_stdin(Command::new(&cpi).arg(&config), info);
    let stop_daemon = || {
        if let Ok(pid) = std::fs::read_to_string(state.join("cpid.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        let stderr = String::from_utf8_lossy(&shim.stderr);
        if let Some(pid) = stderr
            .split("(pid ")
            .nth(1)
            .and_then(|s| s.split(')').next())
        {
            let _ = Command::new("kill").arg(pid).status();
        }
    };
    assert_info("cpi (autostart)", &shim);
    assert!(
        Path::new(&state.join("cpid.sock")).exists(),
        "the autostarted daemon listens on state_dir/cpid.sock"
    );
    // A second call reaches the now warm daemon.
    let again = run_with_stdin(Command::new(&cpi).arg(&config), info);
    stop_daemon();
    assert_info("cpi (warm)", &again);
}
