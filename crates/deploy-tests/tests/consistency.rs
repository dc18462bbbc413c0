//! The config crate, the job spec, the cpi.json template and docs/configuration.md list the
//! same keys, with the same defaults. Adding a config key without the rest fails here.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use serde_json::{Value, json};

/// The field names serde lists when it refuses an unknown key ("unknown field `x`, expected
/// one of `a`, `b`", or "expected `a`"), for the struct at `path` inside `Config`; `None` when
/// the value at `path` is not a struct (a leaf key). The config types deny unknown fields, so
/// this reads the key set from the types themselves, with no list to maintain.
fn fields_at(path: &[&str]) -> Option<BTreeSet<String>> {
    const PROBE: &str = "zz_not_a_key";
    let mut document = json!({PROBE: 0});
    for part in path.iter().rev() {
        document = json!({*part: document});
    }
    let error = serde_json::from_value::<cpi_config::Config>(document)
        .err()?
        .to_string();
    let rest = error.strip_prefix(&format!("unknown field `{PROBE}`, "))?;
    Some(
        rest.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect(),
    )
}

/// Every leaf config key as a dotted name, derived from the config types.
fn derived_config_keys() -> BTreeSet<String> {
    fn walk(path: &mut Vec<String>, keys: &mut BTreeSet<String>) {
        let parts: Vec<&str> = path.iter().map(String::as_str).collect();
        match fields_at(&parts) {
            Some(fields) => {
                for field in fields {
                    path.push(field);
                    walk(path, keys);
                    path.pop();
                }
            }
            None => {
                keys.insert(path.join("."));
            }
        }
    }
    let mut keys = BTreeSet::new();
    walk(&mut Vec::new(), &mut keys);
    keys
}

/// The config crate's own list of keys; it must match what its types accept.
fn config_keys() -> BTreeSet<String> {
    cpi_config::KNOWN_KEYS
        .iter()
        .map(|k| (*k).to_owned())
        .collect()
}

fn spec_config_keys() -> BTreeSet<String> {
    spec_properties()
        .into_keys()
        .filter(|k| !k.starts_with(JOB_ONLY_PREFIX))
        .collect()
}

/// `| `key` | type | default | meaning |` rows of docs/configuration.md: key -> default cell.
fn documented_keys() -> BTreeMap<String, String> {
    let text = read(&workspace().join("docs/configuration.md"));
    let mut keys = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 5 || !cells[1].starts_with('`') {
            continue;
        }
        let key = cells[1].trim_matches('`');
        if key.contains('.') && !key.contains(' ') {
            let previous = keys.insert(key.to_owned(), cells[3].to_owned());
            assert!(previous.is_none(), "{key} is documented twice");
        }
    }
    keys
}

fn difference(a: &BTreeSet<String>, b: &BTreeSet<String>) -> Vec<String> {
    a.difference(b).cloned().collect()
}

#[test]
fn known_keys_are_exactly_the_keys_the_config_types_accept() {
    let derived = derived_config_keys();
    // Guards the serde-message trick itself against a change of wording.
    for key in [
        "cloudstack.endpoint",
        "cloudstack.stemcell.publish_mode",
        "daemon.database_url",
        "agent.blobstore.options",
        "info.stemcell_formats",
    ] {
        assert!(derived.contains(key), "{key} not derived: {derived:?}");
    }
    let known = config_keys();
    assert_eq!(
        (difference(&derived, &known), difference(&known, &derived)),
        (vec![], vec![]),
        "(keys the config types accept but KNOWN_KEYS lacks, KNOWN_KEYS entries the types refuse)"
    );
}

#[test]
fn the_job_spec_has_a_property_for_every_config_key_and_no_other() {
    let config = config_keys();
    let spec = spec_config_keys();
    assert_eq!(
        (difference(&config, &spec), difference(&spec, &config)),
        (vec![], vec![]),
        "(config keys missing from the job spec, spec properties the config refuses)"
    );
}

#[test]
fn docs_configuration_documents_every_property_and_no_other() {
    let documented: BTreeSet<String> = documented_keys().into_keys().collect();
    let spec: BTreeSet<String> = spec_properties().into_keys().collect();
    assert_eq!(
        (
            difference(&spec, &documented),
            difference(&documented, &spec)
        ),
        (vec![], vec![]),
        "(spec properties missing from docs/configuration.md, documented keys not in the spec)"
    );
}

/// A documented default is the spec default, written as `value` (strings unquoted, lists and
/// objects as JSON); a key without a spec default documents none as a literal.
#[test]
fn docs_configuration_defaults_match_the_spec() {
    let documented = documented_keys();
    for (key, definition) in spec_properties() {
        let cell = &documented[&key];
        match definition.get("default") {
            Some(Value::String(s)) => assert!(
                cell.contains(&format!("`{s}`")),
                "{key}: docs say {cell:?}, spec says {s:?}"
            ),
            Some(other) => {
                let literal = serde_json::to_string(other).unwrap();
                assert!(
                    cell.contains(&format!("`{literal}`")),
                    "{key}: docs say {cell:?}, spec says {literal}"
                );
            }
            None => assert!(
                !cell.starts_with('`'),
                "{key}: docs give a default {cell:?} the spec does not have"
            ),
        }
    }
}

/// Sample values for every config key: rendering them all must produce every key, and the
/// config crate must accept the result. A new key without a sample fails here.
fn samples() -> BTreeMap<&'static str, Value> {
    BTreeMap::from([
        (
            "cloudstack.endpoint",
            json!("https://cloud.example.com/client/api"),
        ),
        ("cloudstack.api_key", json!("AKEY-sample")),
        ("cloudstack.secret_access_key", json!("SKEY-sample")),
        ("cloudstack.default_zone", json!("zone1")),
        ("cloudstack.default_key_name", json!("bosh")),
        ("cloudstack.expunge_vm", json!(false)),
        ("cloudstack.skip_verify_ssl", json!(false)),
        (
            "cloudstack.ca_cert",
            json!("-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"),
        ),
        ("cloudstack.project", json!("bosh")),
        ("cloudstack.async_job_timeout", json!(600)),
        ("cloudstack.max_calls_in_flight", json!(8)),
        ("cloudstack.calls_per_second", json!(20)),
        ("cloudstack.hypervisors", json!(["XenServer", "KVM"])),
        ("cloudstack.default_offer.disk", json!("custom")),
        ("cloudstack.default_offer.ephemeral_disk", json!("custom")),
        ("cloudstack.default_offer.custom_disk", json!("custom")),
        ("cloudstack.default_ephemeral_disk_size", json!(20480)),
        ("cloudstack.ip_release_timeout", json!(60)),
        ("cloudstack.allow_volume_migration", json!(true)),
        (
            "cloudstack.stemcell.os_type",
            json!("Ubuntu 22.04 (64-bit)"),
        ),
        ("cloudstack.stemcell.requires_hvm", json!(false)),
        ("cloudstack.stemcell.publish_mode", json!("upload")),
        ("cloudstack.stemcell.publish_timeout", json!(7200)),
        ("cloudstack.stemcell.zones", json!(["zone1", "zone2"])),
        ("cloudstack.ephemeral_cleaner.enabled", json!(false)),
        ("cloudstack.ephemeral_cleaner.interval", json!(600)),
        ("cloudstack.ephemeral_cleaner.grace_period", json!(7200)),
        (
            "daemon.socket",
            json!("/var/vcap/data/cloudstack_cpi/run/cpid.sock"),
        ),
        ("daemon.listen", json!("127.0.0.1:25779")),
        ("daemon.autostart", json!(false)),
        ("daemon.idle_timeout", json!(0)),
        ("daemon.state_dir", json!("/var/vcap/store/cloudstack_cpi")),
        (
            "daemon.log_file",
            json!("/var/vcap/sys/log/cloudstack_cpi/cpid.log"),
        ),
        (
            "daemon.database_url",
            json!("postgres://cpi:PGPASS@127.0.0.1:5432/cloudstack_cpi"),
        ),
        ("daemon.shutdown_timeout", json!(30)),
        ("daemon.max_concurrent_requests", json!(32)),
        ("registry.listen", json!("0.0.0.0:25777")),
        ("registry.endpoint", json!("http://10.0.0.6:25777")),
        ("registry.user", json!("registry")),
        ("registry.password", json!("REGPASS")),
        ("webdav.listen", json!("0.0.0.0:25778")),
        ("webdav.public_url", json!("http://10.0.0.6:25778")),
        ("webdav.user", json!("webdav")),
        ("webdav.password", json!("DAVPASS")),
        ("webdav.signed_url_ttl", json!(3600)),
        ("webdav.gc_interval", json!(60)),
        ("webdav.abandoned_file_ttl", json!(7200)),
        ("agent.mbus", json!("nats://10.0.0.6:4222")),
        ("agent.ntp", json!(["0.pool.ntp.org"])),
        ("agent.blobstore.provider", json!("dav")),
        (
            "agent.blobstore.options",
            json!({"endpoint": "https://10.0.0.6:25250", "password": "BLOBPASS"}),
        ),
        (
            "info.stemcell_formats",
            json!(["cloudstack-vhdx", "cloudstack-qcow2"]),
        ),
    ])
}

#[test]
fn the_template_renders_every_config_key() {
    let samples = samples();
    let mut properties = json!({});
    for key in config_keys() {
        let value = samples.get(key.as_str()).unwrap_or_else(|| {
            panic!("add a sample value for the new config key {key} to this test")
        });
        set_dotted(&mut properties, &key, value.clone());
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = render_ok(&properties, tmp.path());
    let text = read(&dir.join("config/cpi.json"));
    let document: Value = serde_json::from_str(&text).unwrap();
    let rendered: BTreeSet<String> = config_keys_of(&document, &config_keys())
        .into_iter()
        .collect();
    assert_eq!(
        difference(&config_keys(), &rendered),
        Vec::<String>::new(),
        "keys cpi.json.erb does not render"
    );
    cpi_config::Config::from_json_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    // Values pass through with their JSON types.
    for key in config_keys() {
        let value = key.split('.').fold(&document, |node, part| &node[part]);
        assert_eq!(value, &samples[key.as_str()], "{key}");
    }
}

/// The names operators know from the Orange CPIs, kept where they mean the same thing.
#[test]
fn orange_property_names_are_kept() {
    let spec = spec_properties();
    for name in [
        "cloudstack.endpoint",
        "cloudstack.api_key",
        "cloudstack.secret_access_key",
        "cloudstack.default_zone",
        "cloudstack.default_key_name",
        "cloudstack.expunge_vm",
        "cloudstack.skip_verify_ssl",
        "agent.mbus",
        "agent.blobstore.provider",
        "agent.blobstore.options",
        "cloudstack.stemcell.os_type",
        "cloudstack.stemcell.requires_hvm",
        "cloudstack.default_offer.disk",
        "cloudstack.default_offer.ephemeral_disk",
        "cloudstack.default_offer.custom_disk",
    ] {
        assert!(spec.contains_key(name), "{name}");
    }
    assert_eq!(
        spec["cloudstack.expunge_vm"]["default"],
        json!(true),
        "as in the Go CPI"
    );
}

/// Every spec property has a description (bosh.io and `bosh int` show it to operators).
#[test]
fn every_property_is_described() {
    for (name, definition) in spec_properties() {
        let description = definition["description"].as_str().unwrap_or_default();
        assert!(description.len() > 10, "{name} has no real description");
    }
}

/// The operator guide names the ports the ops file opens and the commands it tells about.
#[test]
fn operator_docs_match_the_ops_file() {
    let operators = read(&workspace().join("docs/operators.md"));
    let ops = read(&ops_dir().join("cpi.yml"));
    for port in ["25777", "25778", "25250", "6868", "25555"] {
        if ops.contains(port) || port == "25555" || port == "6868" {
            assert!(
                operators.contains(port),
                "docs/operators.md does not mention port {port}"
            );
        }
    }
    for needle in [
        "cpid check",
        "--offline",
        "/metrics",
        "bosh task",
        "--cpi",
        "cpid.stderr.log",
        "installations/<uuid>/cloudstack_cpi",
    ] {
        assert!(
            operators.contains(needle),
            "docs/operators.md does not mention {needle}"
        );
    }
    let migrating = read(&workspace().join("docs/migrating-from-orange-cpi.md"));
    for orange in [
        "cpi.registry.endpoint",
        "registry.username",
        "cloudstack.timeout.poll_template",
        "cpi.webdav_host",
        "cloudstack.default_offer",
    ] {
        assert!(
            migrating.contains(orange),
            "the migration guide does not map {orange}"
        );
    }
}
