//! The ops files apply to bosh-deployment's bosh.yml structure: every path they name exists
//! or is created, every variable they use is known, and the result wires the CPI.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{Value, json};

fn assert_all_applied(result: &Value, expected_ops: usize) {
    let ops = result["ops"].as_array().unwrap();
    assert_eq!(ops.len(), expected_ops, "{ops:#?}");
    for op in ops {
        assert!(
            ["existing", "created", "removed"].contains(&op["outcome"].as_str().unwrap()),
            "{op}"
        );
    }
    assert_eq!(
        result["missing_vars"],
        json!([]),
        "variables missing from fixtures/vars.yml"
    );
}

#[test]
fn cpi_yml_wires_the_release_job_and_director() {
    let result = interpolate(&["cpi.yml"]);
    assert_all_applied(&result, 20);
    let manifest = &result["manifest"];
    let final_name = read(&release_dir().join("config/final.yml"));
    assert!(final_name.contains("name: cloudstack-cpi"));
    assert!(
        manifest["releases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "cloudstack-cpi")
    );
    assert_eq!(
        manifest["cloud_provider"]["template"],
        json!({"name": "cloudstack_cpi", "release": "cloudstack-cpi"})
    );
    let group = &manifest["instance_groups"][0];
    assert!(
        group["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j == &json!({"name": "cloudstack_cpi", "release": "cloudstack-cpi"}))
    );
    assert_eq!(group["properties"]["director"]["cpi_job"], "cloudstack_cpi");

    // The socket directory the daemon uses is the one mounted into the director's sandbox.
    let socket = group["properties"]["daemon"]["socket"].as_str().unwrap();
    let volumes = group["properties"]["director"]["cpi_additional_volumes"]
        .as_array()
        .unwrap();
    let socket_dir = std::path::Path::new(socket)
        .parent()
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        volumes
            .iter()
            .any(|v| v["path"] == socket_dir && v["writable"] == true),
        "{volumes:?}"
    );

    // Example cloud properties for the director VM and its disk and network.
    let vms = &manifest["resource_pools"][0]["cloud_properties"];
    for key in [
        "compute_offering",
        "disk",
        "ephemeral_disk_offering",
        "root_disk_size",
    ] {
        assert!(vms.get(key).is_some(), "{key}");
    }
    assert_eq!(
        manifest["disk_pools"][0]["cloud_properties"]["disk_offering"],
        "custom"
    );
    assert_eq!(
        manifest["networks"][0]["subnets"][0]["cloud_properties"]["name"],
        "bosh-net"
    );

    // The registry and store ports are distinct from the director's own.
    let props = &group["properties"];
    assert_eq!(props["registry"]["listen"], "0.0.0.0:25777");
    assert_eq!(props["webdav"]["listen"], "0.0.0.0:25778");
    assert_ne!(props["blobstore"]["port"], json!(25778));
    let variables: Vec<&str> = manifest["variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert!(
        variables.contains(&"cloudstack_cpi_registry_password")
            && variables.contains(&"cloudstack_cpi_webdav_password")
    );
}

#[test]
fn postgres_registry_yml_uses_the_directors_postgres() {
    let result = interpolate(&["cpi.yml", "postgres-registry.yml"]);
    assert_all_applied(&result, 22);
    let props = &result["manifest"]["instance_groups"][0]["properties"];
    assert_eq!(
        props["postgres"]["additional_databases"],
        json!(["cloudstack_cpi"])
    );
    let url = props["daemon"]["database_url"].as_str().unwrap();
    let pg = &props["postgres"];
    assert_eq!(
        url,
        format!(
            "postgres://{}:{}@{}:5432/cloudstack_cpi",
            pg["user"].as_str().unwrap(),
            pg["password"].as_str().unwrap(),
            pg["host"].as_str().unwrap()
        )
    );
    // The socket setting of cpi.yml survives.
    assert!(props["daemon"]["socket"].is_string());
}

#[test]
fn cpi_tcp_loopback_yml_replaces_the_volume_with_a_loopback_listener() {
    let result = interpolate(&["cpi.yml", "cpi-tcp-loopback.yml"]);
    assert_all_applied(&result, 22);
    let props = &result["manifest"]["instance_groups"][0]["properties"];
    assert!(props["director"].get("cpi_additional_volumes").is_none());
    assert_eq!(props["daemon"]["listen"], "127.0.0.1:25779");
    let tmp = tempfile::tempdir().unwrap();
    let dir = render_ok(&director_properties(&result["manifest"]), tmp.path());
    let config = cpi_config::Config::load(&dir.join("config/cpi.json")).unwrap();
    assert!(config.daemon.listen.unwrap().ip().is_loopback());
}

/// The interpreter is strict: an op on a path that neither exists nor is optional fails, so
/// the tests above would catch an ops file written against another manifest shape.
#[test]
fn the_interpreter_refuses_paths_that_do_not_exist() {
    let tmp = tempfile::tempdir().unwrap();
    for (path, should_pass) in [
        ("/instance_groups/name=nope/jobs/-", false),
        ("/instance_groups/name=bosh/properties/nope/x", false),
        ("/instance_groups/name=bosh/properties/nope?/x", true),
        ("/resource_pools/0/cloud_properties?", true),
        ("/resource_pools/5/cloud_properties?", false),
    ] {
        let ops = tmp.path().join("op.yml");
        std::fs::write(
            &ops,
            format!("- type: replace\n  path: {path}\n  value: 1\n"),
        )
        .unwrap();
        let output = bosh_tool(&[
            "interpolate",
            fixtures().join("bosh.yml").to_str().unwrap(),
            fixtures().join("vars.yml").to_str().unwrap(),
            ops.to_str().unwrap(),
        ]);
        assert_eq!(
            output.status.success(),
            should_pass,
            "{path}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The example cloud-config uses only the vocabulary docs/cloud-properties.md documents.
#[test]
fn the_example_cloud_config_uses_documented_cloud_properties() {
    let result = bosh_tool_ok(&[
        "interpolate",
        workspace()
            .join("deploy/bosh-deployment/cloudstack/cloud-config.yml")
            .to_str()
            .unwrap(),
        fixtures().join("vars.yml").to_str().unwrap(),
    ]);
    let result: Value = serde_json::from_str(&result).unwrap();
    let cloud_config = &result["manifest"];
    let docs = read(&workspace().join("docs/cloud-properties.md"));
    let mut seen = 0;
    for (section, path) in [
        ("azs", None),
        ("vm_types", None),
        ("vm_extensions", None),
        ("disk_types", None),
        ("networks", Some("subnets")),
    ] {
        for item in cloud_config[section].as_array().unwrap_or(&vec![]) {
            let holders: Vec<&Value> = match path {
                // A vip network has no subnets and no cloud properties.
                Some(sub) => item[sub].as_array().into_iter().flatten().collect(),
                None => vec![item],
            };
            for holder in holders {
                for key in holder["cloud_properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k)
                {
                    assert!(
                        docs.contains(&format!("| `{key}`")),
                        "{section}: cloud property {key} is not in docs/cloud-properties.md"
                    );
                    seen += 1;
                }
            }
        }
    }
    assert!(seen >= 8, "only {seen} cloud properties in the example");
}
