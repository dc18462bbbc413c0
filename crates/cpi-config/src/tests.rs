use secrecy::ExposeSecret;
use serde_json::json;

use super::*;

fn minimal() -> Value {
    json!({
        "cloudstack": {
            "endpoint": "https://cloud.example.com/client/api",
            "api_key": "AKEY-visible-only-to-tests",
            "secret_access_key": "SKEY-visible-only-to-tests",
            "default_zone": "zone1"
        }
    })
}

fn full() -> Value {
    json!({
        "cloudstack": {
            "endpoint": "https://cloud.example.com/client/api",
            "api_key": "AKEY-visible-only-to-tests",
            "secret_access_key": "SKEY-visible-only-to-tests",
            "default_zone": "zone1",
            "default_key_name": "bosh",
            "expunge_vm": false,
            "skip_verify_ssl": true,
            "project": "bosh-project",
            "async_job_timeout": 600,
            "max_calls_in_flight": 8,
            "calls_per_second": 25
        },
        "daemon": {
            "socket": "/run/cpid.sock",
            "listen": "127.0.0.1:25555",
            "autostart": true,
            "idle_timeout": 300,
            "state_dir": "/var/lib/cpi",
            "log_file": "/var/log/cpid.log",
            "database_url": "postgres://cpi:DBPASS-secret@127.0.0.1/cpi"
        },
        "registry": {"listen": "0.0.0.0:25777", "endpoint": "http://10.0.0.6:25777", "user": "admin", "password": "REGPASS-secret"},
        "webdav": {"listen": "0.0.0.0:25250", "public_url": "http://10.0.0.6:25250", "user": "dav", "password": "DAVPASS-secret"},
        "agent": {"mbus": "nats://nats:MBUSPASS-secret@10.0.0.6:4222", "ntp": ["0.pool.ntp.org"],
                  "blobstore": {"provider": "dav", "options": {"endpoint": "http://10.0.0.6:25250", "password": "BLOBPASS-secret"}}},
        "info": {"stemcell_formats": ["cloudstack-vhdx", "cloudstack-qcow2"]}
    })
}

#[test]
fn a_minimal_config_gets_documented_defaults() {
    let config = Config::from_value(minimal()).unwrap();
    assert!(config.cloudstack.expunge_vm);
    assert!(!config.cloudstack.skip_verify_ssl);
    assert!(!config.daemon.autostart);
    assert_eq!(config.daemon.idle_timeout, 0);
    assert_eq!(
        config.socket_path(),
        PathBuf::from("/var/vcap/store/cloudstack_cpi/cpid.sock")
    );
    assert_eq!(
        config.database_url().expose_secret(),
        "sqlite:///var/vcap/store/cloudstack_cpi/cpi.sqlite3"
    );
    assert_eq!(config.stemcell_formats(), ["cloudstack-vhdx"]);
    assert_eq!(config.cloudstack.stemcell.os_type, "Other PV (64-bit)");
    assert_eq!(config.cloudstack.stemcell.publish_mode, PublishMode::Url);
}

#[test]
fn every_documented_key_is_read() {
    let config = Config::from_value(full()).unwrap();
    assert_eq!(config.cloudstack.default_key_name.as_deref(), Some("bosh"));
    assert!(!config.cloudstack.expunge_vm);
    assert_eq!(config.cloudstack.project.as_deref(), Some("bosh-project"));
    assert_eq!(
        config.daemon.listen,
        Some("127.0.0.1:25555".parse().unwrap())
    );
    assert_eq!(config.socket_path(), PathBuf::from("/run/cpid.sock"));
    assert_eq!(config.daemon.idle_timeout, 300);
    assert_eq!(config.registry.user.as_deref(), Some("admin"));
    assert_eq!(config.agent.ntp, ["0.pool.ntp.org"]);
    let blobstore = config.agent.blobstore.as_ref().unwrap();
    assert_eq!(blobstore.provider, "dav");
    assert_eq!(blobstore.options.expose()["password"], "BLOBPASS-secret");
}

#[test]
fn debug_output_shows_no_secret() {
    let config = Config::from_value(full()).unwrap();
    let debug = format!("{config:?}");
    for secret in [
        "AKEY", "SKEY", "DBPASS", "REGPASS", "DAVPASS", "MBUSPASS", "BLOBPASS",
    ] {
        assert!(!debug.contains(secret), "{secret} leaked into {debug}");
    }
    assert!(debug.contains("zone1"), "non-secret fields stay visible");
}

#[test]
fn unknown_keys_are_refused_with_their_dotted_name() {
    let mut value = minimal();
    value["cloudstack"]["endpiont"] = json!("x");
    let error = Config::from_value(value).unwrap_err().to_string();
    assert!(
        error.contains("unknown key `cloudstack.endpiont`"),
        "{error}"
    );

    let mut value = minimal();
    value["daemon"] = json!({"sokcet": "/x"});
    assert!(
        Config::from_value(value)
            .unwrap_err()
            .to_string()
            .contains("`daemon.sokcet`")
    );

    let mut value = minimal();
    value["nats"] = json!({});
    assert!(
        Config::from_value(value)
            .unwrap_err()
            .to_string()
            .contains("unknown key `nats`")
    );
}

#[test]
fn wrong_types_name_the_key_without_quoting_secrets() {
    let mut value = minimal();
    value["daemon"] = json!({"idle_timeout": "ten"});
    let error = Config::from_value(value).unwrap_err().to_string();
    assert!(error.contains("daemon.idle_timeout"), "{error}");

    let mut value = minimal();
    value["registry"] = json!({"password": ["REGPASS-secret"]});
    let error = Config::from_value(value).unwrap_err().to_string();
    assert!(error.contains("registry.password"), "{error}");
    assert!(!error.contains("REGPASS"), "{error}");

    let mut value = minimal();
    value["agent"] = json!({"ntp": "pool.ntp.org"});
    assert!(
        Config::from_value(value)
            .unwrap_err()
            .to_string()
            .contains("agent.ntp")
    );
}

#[test]
fn semantic_checks_name_the_key() {
    let cases = [
        (
            json!({"daemon": {"listen": "10.0.0.5:25555"}}),
            "daemon.listen",
        ),
        (
            json!({"daemon": {"state_dir": "relative"}}),
            "daemon.state_dir",
        ),
        (
            json!({"daemon": {"database_url": "mysql://x"}}),
            "daemon.database_url",
        ),
        (
            json!({"daemon": {"database_url": "sqlite://relative.db"}}),
            "daemon.database_url",
        ),
        (json!({"registry": {"user": "u"}}), "registry.user"),
        (
            json!({"registry": {"listen": "0.0.0.0:25777", "user": "u", "password": "p"}}),
            "registry.endpoint",
        ),
        (
            json!({"webdav": {"listen": "0.0.0.0:25250"}}),
            "webdav.public_url",
        ),
        (json!({"webdav": {"gc_interval": 0}}), "webdav.gc_interval"),
    ];
    for (patch, key) in cases {
        let mut value = minimal();
        for (section, body) in patch.as_object().unwrap() {
            value[section] = body.clone();
        }
        let error = Config::from_value(value).unwrap_err().to_string();
        assert!(error.contains(key), "{error} should name {key}");
    }
    let mut value = minimal();
    value["cloudstack"]["endpoint"] = json!("ftp://x/y");
    assert!(
        Config::from_value(value)
            .unwrap_err()
            .to_string()
            .contains("cloudstack.endpoint")
    );
    let mut value = minimal();
    value["cloudstack"]["api_key"] = json!(" ");
    assert!(
        Config::from_value(value)
            .unwrap_err()
            .to_string()
            .contains("cloudstack.api_key")
    );
}

#[test]
fn context_overrides_replace_cloudstack_keys_only() {
    let config = Config::from_value(full()).unwrap();
    let overrides = json!({"endpoint": "https://region-2.example.com/client/api", "api_key": "OTHER", "default_zone": "zone9"});
    let merged = config
        .with_overrides(overrides.as_object().unwrap())
        .unwrap();
    assert_eq!(
        merged.cloudstack.endpoint.as_str(),
        "https://region-2.example.com/client/api"
    );
    assert_eq!(merged.cloudstack.api_key.expose_secret(), "OTHER");
    assert_eq!(merged.cloudstack.default_zone, "zone9");
    assert_eq!(
        merged.cloudstack.secret_access_key.expose_secret(),
        "SKEY-visible-only-to-tests"
    );
    assert_eq!(merged.daemon.idle_timeout, 300);
    // The original is untouched.
    assert_eq!(config.cloudstack.default_zone, "zone1");

    let bad = json!({"no_such_key": 1});
    let error = config
        .with_overrides(bad.as_object().unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("cloudstack.no_such_key") && error.contains("request context"),
        "{error}"
    );
}

#[test]
fn load_reads_a_file_and_reports_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cpi.json");
    std::fs::write(&path, minimal().to_string()).unwrap();
    assert_eq!(
        Config::load(&path).unwrap().cloudstack.default_zone,
        "zone1"
    );
    let missing = dir.path().join("missing.json");
    let error = Config::load(&missing).unwrap_err().to_string();
    assert!(error.contains("missing.json"), "{error}");
    std::fs::write(&path, "{not json").unwrap();
    assert!(
        Config::load(&path)
            .unwrap_err()
            .to_string()
            .contains("not valid JSON")
    );
}

#[test]
fn stemcell_formats_follow_the_hypervisors_unless_listed() {
    let mut value = minimal();
    value["cloudstack"]["hypervisors"] = json!(["KVM", "XenServer", "kvm"]);
    assert_eq!(
        Config::from_value(value.clone())
            .unwrap()
            .stemcell_formats(),
        ["cloudstack-qcow2", "cloudstack-vhdx"]
    );
    value["info"] = json!({"stemcell_formats": ["cloudstack-raw"]});
    assert_eq!(
        Config::from_value(value.clone())
            .unwrap()
            .stemcell_formats(),
        ["cloudstack-raw"]
    );
    value["cloudstack"]["hypervisors"] = json!(["Hyper-V"]);
    let error = Config::from_value(value).unwrap_err().to_string();
    assert!(
        error.contains("cloudstack.hypervisors") && error.contains("Hyper-V"),
        "{error}"
    );
}

/// Asks serde which fields a section accepts, by inserting a bogus key and reading the
/// "expected one of" list of the error. This derives the key set from the structs themselves.
fn accepted_fields(section_path: &[&str]) -> Vec<String> {
    let mut value = minimal();
    let mut cursor = &mut value;
    for segment in section_path {
        if cursor.get(*segment).is_none() {
            cursor[*segment] = json!({});
        }
        cursor = cursor.get_mut(*segment).unwrap();
    }
    cursor["zz_bogus_key"] = json!(1);
    let raw: Value = value;
    let error = serde_path_to_error::deserialize::<_, Config>(&raw)
        .unwrap_err()
        .into_inner()
        .to_string();
    // serde says "expected `a`" for a single field and "expected one of `a`, `b`" for several.
    let list = error
        .split("expected one of ")
        .nth(1)
        .or_else(|| error.split("expected ").nth(1))
        .unwrap_or_else(|| panic!("no field list in {error}"));
    list.split([',', ' '])
        .filter(|word| word.starts_with('`'))
        .map(|field| field.trim_matches(|c| c == '`' || c == ' ').to_owned())
        .collect()
}

#[test]
fn known_keys_list_exactly_the_fields_of_the_config_structs() {
    let nested = [
        "default_offer",
        "stemcell",
        "ephemeral_cleaner",
        "blobstore",
    ];
    let mut derived = Vec::new();
    let mut pending: Vec<Vec<&str>> = vec![vec![]];
    while let Some(path) = pending.pop() {
        for field in accepted_fields(&path) {
            let leaked: &'static str = Box::leak(field.clone().into_boxed_str());
            let mut child = path.clone();
            child.push(leaked);
            if path.is_empty() || nested.contains(&leaked) {
                pending.push(child);
            } else {
                derived.push(child.join("."));
            }
        }
    }
    derived.sort();
    let mut known: Vec<String> = KNOWN_KEYS.iter().map(|key| (*key).to_owned()).collect();
    known.sort();
    assert_eq!(derived, known);
}

#[test]
fn relative_daemon_paths_resolve_against_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs/cloudstack_cpi/config");
    std::fs::create_dir_all(&jobs).unwrap();
    let path = jobs.join("cpi.json");
    let mut value = minimal();
    value["daemon"] = json!({"state_dir": "../../../cloudstack_cpi", "log_file": "./cpid.log"});
    std::fs::write(&path, value.to_string()).unwrap();
    let config = Config::load(&path).unwrap();
    let root = std::path::absolute(dir.path()).unwrap();
    assert_eq!(config.daemon.state_dir, root.join("cloudstack_cpi"));
    assert_eq!(config.socket_path(), root.join("cloudstack_cpi/cpid.sock"));
    assert_eq!(config.log_file_path(), jobs.join("cpid.log"));
    // Without a file to resolve against, a relative path is refused.
    assert!(
        Config::from_value(value)
            .unwrap_err()
            .to_string()
            .contains("daemon.state_dir")
    );
}
