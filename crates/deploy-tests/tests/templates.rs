//! The job templates render, for the director, create-env and PostgreSQL property sets, into
//! files the daemon, the shim, bash and bpm accept.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;
use serde_json::{Value, json};

fn rendered_config(dir: &std::path::Path) -> (String, Value) {
    let text = read(&dir.join("config/cpi.json"));
    let value = serde_json::from_str(&text).expect("cpi.json is JSON");
    (text, value)
}

fn bpm_config(dir: &std::path::Path) -> Value {
    let text = read(&dir.join("config/bpm.yml"));
    // The template emits a comment line, then JSON (valid YAML).
    let json: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    serde_json::from_str(&json).expect("bpm.yml is JSON-shaped YAML")
}

#[test]
fn every_property_set_renders_a_config_the_daemon_accepts() {
    let cpid = cpid_binary();
    for (name, properties) in property_sets() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = render_ok(&properties, tmp.path());
        let (text, document) = rendered_config(&dir);

        // The config crate itself, and the daemon's config-only check.
        // `load` resolves relative daemon paths against the rendered file, as the daemon does.
        let config = cpi_config::Config::load(&dir.join("config/cpi.json"))
            .unwrap_or_else(|e| panic!("{name}: rendered cpi.json refused: {e}\n{text}"));
        let check = Command::new(&cpid)
            .args(["check", "--offline", "--config"])
            .arg(dir.join("config/cpi.json"))
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{name}: cpid check --offline failed:\n{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );

        // bin/cpi is valid bash.
        let syntax = Command::new("bash")
            .arg("-n")
            .arg(dir.join("bin/cpi"))
            .output()
            .unwrap();
        assert!(
            syntax.status.success(),
            "{name}: bash -n bin/cpi: {}",
            String::from_utf8_lossy(&syntax.stderr)
        );

        match name {
            "director" => {
                assert!(
                    !config.daemon.autostart,
                    "bpm runs the daemon on a director"
                );
                assert_eq!(
                    config.socket_path(),
                    std::path::Path::new("/var/vcap/data/cloudstack_cpi/run/cpid.sock")
                );
                assert_eq!(
                    config.daemon.state_dir,
                    std::path::Path::new("/var/vcap/store/cloudstack_cpi")
                );
                assert!(config.registry.listen.is_some() && config.webdav.listen.is_some());
                assert!(config.daemon.database_url.is_none(), "SQLite by default");
                let process = &bpm_config(&dir)["processes"][0];
                assert_eq!(
                    process["executable"],
                    "/var/vcap/packages/cloudstack_cpi/bin/cpid"
                );
                assert_eq!(
                    process["args"],
                    json!([
                        "serve",
                        "--config",
                        "/var/vcap/jobs/cloudstack_cpi/config/cpi.json"
                    ])
                );
                assert_eq!(
                    process["persistent_disk"], true,
                    "state_dir is on the persistent disk"
                );
                assert_eq!(
                    process["ephemeral_disk"], true,
                    "the socket directory is in /var/vcap/data/cloudstack_cpi"
                );
                assert_eq!(
                    process["additional_volumes"],
                    json!([{"path": "/var/vcap/data/director/tmp", "writable": false}]),
                    "the daemon reads the stemcell images the director unpacks"
                );
            }
            "create-env" => {
                assert!(
                    config.daemon.autostart,
                    "nothing else starts the daemon under create-env"
                );
                assert!(
                    config.daemon.idle_timeout > 0,
                    "an autostarted daemon must not linger forever"
                );
                // The rendered job directory stands for <installation>/jobs/cloudstack_cpi, so
                // the state lands in <installation>/cloudstack_cpi.
                let installation = std::path::absolute(tmp.path()).unwrap();
                let installation = installation.parent().unwrap();
                assert_eq!(config.daemon.state_dir, installation.join("cloudstack_cpi"));
                assert!(config.registry.listen.is_none() && config.webdav.listen.is_none());
                assert_eq!(document["agent"]["blobstore"]["provider"], "local");
                assert_eq!(
                    config.cloudstack.stemcell.publish_mode,
                    cpi_config::PublishMode::Upload
                );
            }
            "postgres" => {
                let url = document["daemon"]["database_url"].as_str().unwrap();
                assert_eq!(
                    url,
                    "postgres://postgres:PGPASS-test@127.0.0.1:5432/cloudstack_cpi"
                );
            }
            other => unreachable!("{other}"),
        }
    }
}

#[test]
fn only_cpi_json_carries_secrets() {
    for (name, properties) in property_sets() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = render_ok(&properties, tmp.path());
        let (text, _) = rendered_config(&dir);
        assert!(
            text.contains("SKEY-test"),
            "{name}: cpi.json has the secret key"
        );
        for file in ["bin/cpi", "config/bpm.yml"] {
            let other = read(&dir.join(file));
            for secret in [
                "AKEY-test",
                "SKEY-test",
                "REGPASS-test",
                "DAVPASS-test",
                "PGPASS-test",
                "BLOBPASS-test",
            ] {
                assert!(!other.contains(secret), "{name}: {file} leaks {secret}");
            }
        }
    }
}

/// Runs the rendered bin/cpi as bosh-cli does (BOSH_* set) and as the director does (no
/// variables, no argv), against a stand-in shim that reports its argv and stdin.
#[test]
fn bin_cpi_execs_the_shim_with_the_config_under_create_env_and_the_director() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = render_ok(&minimal_properties(), tmp.path());
    let packages = tmp.path().join("installation/packages");
    let jobs = tmp.path().join("installation/jobs");
    std::fs::create_dir_all(packages.join("cloudstack_cpi/bin")).unwrap();
    std::fs::create_dir_all(jobs.join("cloudstack_cpi")).unwrap();
    let shim = packages.join("cloudstack_cpi/bin/cpi");
    std::fs::write(
        &shim,
        "#!/bin/sh\nprintf 'argv1=%s argc=%s stdin=' \"$1\" \"$#\"\ncat\n",
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let run = |envs: &[(&str, &std::path::Path)]| {
        let mut command = Command::new("bash");
        command
            .arg(dir.join("bin/cpi"))
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        for (k, v) in envs {
            command.env(k, v);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(br#"{"method":"info"}"#)
            .unwrap();
        let output = child.wait_with_output().unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    let out = run(&[("BOSH_PACKAGES_DIR", &packages), ("BOSH_JOBS_DIR", &jobs)]);
    assert_eq!(
        out,
        format!(
            "argv1={}/cloudstack_cpi/config/cpi.json argc=1 stdin={{\"method\":\"info\"}}",
            jobs.display()
        )
    );
    // The director sets neither variable: the script must fall back to /var/vcap, which does
    // not exist here, so exec fails; check the path it tried.
    let text = read(&dir.join("bin/cpi"));
    assert!(
        text.contains("${BOSH_PACKAGES_DIR:-/var/vcap/packages}")
            || text.contains("BOSH_PACKAGES_DIR=${BOSH_PACKAGES_DIR:-/var/vcap/packages}")
    );
    assert!(text.contains("BOSH_JOBS_DIR=${BOSH_JOBS_DIR:-/var/vcap/jobs}"));
    assert!(
        !text.contains("2>"),
        "stderr must reach `bosh task N --cpi`, not a file"
    );
}

/// Every spec default is the config crate's own default: rendering a key's default changes
/// nothing in the parsed config.
#[test]
fn spec_defaults_match_the_config_crate_defaults() {
    let baseline = cpi_config::Config::from_value(minimal_properties()).unwrap();
    let describe = |c: &cpi_config::Config| {
        format!(
            "{:?}",
            (
                &c.cloudstack,
                &c.daemon,
                &c.registry,
                &c.webdav,
                &c.agent,
                &c.info
            )
        )
    };
    let mut checked = 0;
    for (name, definition) in spec_properties() {
        if name.starts_with(JOB_ONLY_PREFIX) {
            continue;
        }
        let Some(default) = definition.get("default") else {
            continue;
        };
        let mut document = minimal_properties();
        set_dotted(&mut document, &name, default.clone());
        let config = cpi_config::Config::from_value(document)
            .unwrap_or_else(|e| panic!("spec default of {name} ({default}) is refused: {e}"));
        assert_eq!(
            describe(&config),
            describe(&baseline),
            "spec default of {name} differs from the config default"
        );
        checked += 1;
    }
    assert!(checked >= 9, "only {checked} defaults checked");
}

/// The minimal property set renders exactly the required keys plus the spec defaults.
#[test]
fn only_keys_with_a_value_are_rendered() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = render_ok(&minimal_properties(), tmp.path());
    let (text, document) = rendered_config(&dir);
    cpi_config::Config::from_json_str(&text).unwrap();
    let mut expected: Vec<String> = spec_properties()
        .into_iter()
        .filter(|(k, d)| !k.starts_with(JOB_ONLY_PREFIX) && d.get("default").is_some())
        .map(|(k, _)| k)
        .chain(
            [
                "cloudstack.endpoint",
                "cloudstack.api_key",
                "cloudstack.secret_access_key",
                "cloudstack.default_zone",
            ]
            .map(String::from),
        )
        .collect();
    expected.sort();
    assert_eq!(config_keys_of(&document, &known_keys()), expected);
}

#[test]
fn a_misspelt_property_is_refused_by_the_test_renderer() {
    let mut properties = minimal_properties();
    set_dotted(&mut properties, "cloudstack.endpont", json!("https://x"));
    let tmp = tempfile::tempdir().unwrap();
    let output = render(&properties, tmp.path());
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cloudstack.endpont"));
}

#[test]
fn bpm_refuses_a_socket_it_cannot_mount_on_a_director() {
    let mut properties = minimal_properties();
    set_dotted(&mut properties, "daemon.socket", json!("/run/cpid.sock"));
    let tmp = tempfile::tempdir().unwrap();
    let output = render(&properties, tmp.path());
    assert!(
        !output.status.success(),
        "bpm only mounts /var/vcap/data and /var/vcap/store"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("/run"));

    // Under create-env (autostart) bpm.yml is never used, so operator paths are fine.
    set_dotted(&mut properties, "daemon.autostart", json!(true));
    let tmp = tempfile::tempdir().unwrap();
    render_ok(&properties, tmp.path());
}
