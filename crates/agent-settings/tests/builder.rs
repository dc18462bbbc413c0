//! Agent settings and user data: snapshots and properties.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use agent_settings::{
    AgentConfig, Disks, Nic, RegistryAccess, SettingsError, SettingsInput, add_persistent_disk,
    build_settings, build_user_data, nameservers, remove_persistent_disk, uses_registry,
};
use base64::Engine;
use cpi_protocol::{AgentId, ApiVersion, Env, JsonObject, Networks};
use secrecy::SecretString;
use serde_json::{Value, json};

fn networks() -> Networks {
    Networks::from_value(json!({
        "private": {
            "type": "manual", "ip": "10.0.0.10", "prefix": "32", "netmask": "255.255.255.0",
            "gateway": "10.0.0.1", "dns": ["10.0.0.2", "8.8.8.8"], "default": ["dns", "gateway"],
            "cloud_properties": {"name": "net-a"}, "nic_group": "1"
        },
        "dyn": {"type": "dynamic", "prefix": "32", "dns": ["8.8.4.4"], "cloud_properties": {"name": "net-b"}},
        "public": {"type": "vip", "ip": "203.0.113.7", "prefix": 32, "cloud_properties": {}}
    }))
    .unwrap()
}

fn env() -> Env {
    match json!({
        "bosh": {"password": "*", "group": "director-dep-ig", "mbus": {"cert": {"ca": "-----BEGIN CERTIFICATE-----"}}},
        "persistent_disk_fs": "ext4",
        "custom": {"nested": [1, 2, {"x": null}]}
    }) {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

fn agent_config() -> AgentConfig {
    let blobstore = match json!({
        "provider": "dav",
        "options": {"endpoint": "http://10.0.0.6:25250", "user": "agent", "password": "blob-secret"}
    }) {
        Value::Object(map) => map,
        _ => unreachable!(),
    };
    AgentConfig {
        mbus: SecretString::from("nats://nats:nats-secret@10.0.0.6:4222"),
        ntp: vec!["0.pool.ntp.org".into(), "1.pool.ntp.org".into()],
        blobstore,
    }
}

fn nics() -> Vec<Nic> {
    vec![
        Nic {
            network: "dyn".into(),
            mac: Some("02:00:34:fb:00:01".into()),
        },
        Nic {
            network: "private".into(),
            mac: Some("02:00:34:fb:00:02".into()),
        },
    ]
}

fn settings() -> Value {
    let agent_id = AgentId::new("1a2b3c4d-0000-4000-8000-000000000001").unwrap();
    let networks = networks();
    let nics = nics();
    let mut disks = Disks::default();
    disks.persistent.insert(
        "vol-cid-1".into(),
        json!({"path": "/dev/xvdc", "volume_id": "2"}),
    );
    let env = env();
    let agent = agent_config();
    build_settings(&SettingsInput {
        agent_id: &agent_id,
        vm_name: "vm-1a2b3c4d",
        networks: &networks,
        nics: &nics,
        disks: &disks,
        env: &env,
        agent: &agent,
    })
    .unwrap()
}

#[test]
fn full_settings_snapshot() {
    insta::assert_json_snapshot!("full_settings", settings());
}

#[test]
fn settings_keep_director_fields_and_add_agent_fields() {
    let settings = settings();
    let private = &settings["networks"]["private"];
    // Verbatim fields, including ones this CPI does not interpret.
    assert_eq!(private["nic_group"], "1");
    assert_eq!(private["prefix"], "32");
    assert_eq!(private["type"], "manual");
    assert_eq!(private["default"], json!(["dns", "gateway"]));
    // Added fields, in NIC order: dyn is eth0 and uses DHCP; private is eth1 and static.
    assert_eq!(settings["networks"]["dyn"]["alias"], "eth0");
    assert_eq!(settings["networks"]["dyn"]["use_dhcp"], true);
    assert_eq!(settings["networks"]["dyn"]["default"], json!([]));
    assert_eq!(private["alias"], "eth1");
    assert_eq!(private["use_dhcp"], false);
    assert_eq!(private["mac"], "02:00:34:fb:00:02");
    // vip networks have no interface.
    let public = settings["networks"]["public"].as_object().unwrap();
    assert!(!public.contains_key("alias") && !public.contains_key("mac"));
    assert_eq!(settings["env"], Value::Object(env()));
    assert_eq!(settings["disks"]["ephemeral"], "/dev/xvdb");
    assert_eq!(settings["mbus"], "nats://nats:nats-secret@10.0.0.6:4222");
}

#[test]
fn manual_network_on_eth0_uses_dhcp_and_gets_defaults_when_none_given() {
    let networks = Networks::from_value(json!({
        "default": {"type": "manual", "ip": "10.0.0.20", "netmask": "255.255.255.0", "gateway": "10.0.0.1"}
    }))
    .unwrap();
    let nics = [Nic {
        network: "default".into(),
        mac: None,
    }];
    let agent_id = AgentId::new("agent").unwrap();
    let disks = Disks {
        ephemeral: None,
        ..Disks::default()
    };
    let settings = build_settings(&SettingsInput {
        agent_id: &agent_id,
        vm_name: "vm-x",
        networks: &networks,
        nics: &nics,
        disks: &disks,
        env: &JsonObject::new(),
        agent: &agent_config(),
    })
    .unwrap();
    let network = &settings["networks"]["default"];
    assert_eq!(network["use_dhcp"], true);
    assert_eq!(network["alias"], "eth0");
    assert_eq!(network["default"], json!(["dns", "gateway"]));
    assert_eq!(network["dns"], json!([]));
    assert!(network.get("mac").is_none());
    assert_eq!(settings["disks"]["ephemeral"], Value::Null);
}

fn try_build(nics: &[Nic]) -> Result<Value, SettingsError> {
    let networks = networks();
    let agent_id = AgentId::new("agent").unwrap();
    build_settings(&SettingsInput {
        agent_id: &agent_id,
        vm_name: "vm",
        networks: &networks,
        nics,
        disks: &Disks::default(),
        env: &JsonObject::new(),
        agent: &agent_config(),
    })
}

#[test]
fn nic_mismatches_are_named() {
    let unknown = try_build(&[Nic {
        network: "nope".into(),
        mac: None,
    }])
    .unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "NIC 0 refers to unknown network 'nope'"
    );
    let missing = try_build(&[Nic {
        network: "dyn".into(),
        mac: None,
    }])
    .unwrap_err();
    assert_eq!(
        missing.to_string(),
        "network 'private' must have exactly one NIC, found 0"
    );
    let twice = [
        Nic {
            network: "dyn".into(),
            mac: None,
        },
        Nic {
            network: "private".into(),
            mac: None,
        },
        Nic {
            network: "dyn".into(),
            mac: None,
        },
    ];
    assert!(matches!(
        try_build(&twice).unwrap_err(),
        SettingsError::NicCount { count: 2, .. }
    ));
    let vip = [
        Nic {
            network: "public".into(),
            mac: None,
        },
        Nic {
            network: "dyn".into(),
            mac: None,
        },
        Nic {
            network: "private".into(),
            mac: None,
        },
    ];
    assert_eq!(
        try_build(&vip).unwrap_err().to_string(),
        "vip network 'public' cannot have a NIC"
    );
}

fn access<'a>(endpoint: &'a str, password: &'a SecretString) -> RegistryAccess<'a> {
    RegistryAccess {
        endpoint,
        username: "vm-1a2b3c4d",
        password,
    }
}

#[test]
fn user_data_snapshot() {
    let password = SecretString::from("Zm9vYmFyLXJhbmRvbS10b2tlbi0zMi1ieXRlcw");
    let user_data = build_user_data(
        &settings(),
        "vm-1a2b3c4d",
        &access("http://10.0.0.6:25777", &password),
        &nameservers(&networks()),
    )
    .unwrap();
    insta::assert_json_snapshot!("user_data", user_data.document());
}

#[test]
fn user_data_decodes_back_to_every_settings_key() {
    let settings = settings();
    let password = SecretString::from("pw");
    let user_data = build_user_data(
        &settings,
        "vm-1a2b3c4d",
        &access("10.0.0.6:25777", &password),
        &["10.0.0.2".to_string()],
    )
    .unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(user_data.base64())
        .unwrap();
    assert_eq!(user_data.encoded_len(), user_data.base64().len());
    let document: Value = serde_json::from_slice(&decoded).unwrap();
    for (key, value) in settings.as_object().unwrap() {
        assert_eq!(&document[key], value, "user data key {key}");
    }
    assert_eq!(document["server"]["name"], "vm-1a2b3c4d");
    assert_eq!(
        document["registry"]["endpoint"],
        "http://vm-1a2b3c4d:pw@10.0.0.6:25777"
    );
    assert_eq!(document["dns"]["nameserver"], json!(["10.0.0.2"]));
}

#[test]
fn registry_endpoint_percent_encodes_userinfo() {
    let password = SecretString::from("p@ss/w:rd?#");
    let registry = RegistryAccess {
        endpoint: "https://registry.example:25777/",
        username: "vm:1@x",
        password: &password,
    };
    let user_data = build_user_data(&settings(), "vm:1@x", &registry, &[]).unwrap();
    let endpoint = user_data.document()["registry"]["endpoint"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        endpoint,
        "https://vm%3A1%40x:p%40ss%2Fw%3Ard%3F%23@registry.example:25777"
    );
    let parsed = url::Url::parse(&endpoint).unwrap();
    assert_eq!(parsed.host_str(), Some("registry.example"));
}

#[test]
fn bad_registry_endpoints_are_refused() {
    let password = SecretString::from("pw");
    for endpoint in [
        "ftp://host:21",
        "http://",
        "http://host:1/?q=1",
        "http://[::1",
    ] {
        let error =
            build_user_data(&settings(), "vm", &access(endpoint, &password), &[]).unwrap_err();
        assert!(
            matches!(error, SettingsError::RegistryEndpoint { .. }),
            "{endpoint}: {error}"
        );
        assert!(!error.to_string().contains("pw@"));
    }
    let error =
        build_user_data(&json!([1]), "vm", &access("http://h:1", &password), &[]).unwrap_err();
    assert_eq!(error, SettingsError::SettingsNotObject);
}

#[test]
fn secrets_do_not_leak_through_debug() {
    let debug = format!("{:?}", agent_config());
    assert!(
        !debug.contains("nats-secret") && !debug.contains("blob-secret"),
        "{debug}"
    );
    let password = SecretString::from("registry-token-xyz");
    let user_data =
        build_user_data(&settings(), "vm", &access("http://h:1", &password), &[]).unwrap();
    let debug = format!("{user_data:?}");
    assert!(
        !debug.contains("registry-token-xyz") && !debug.contains("nats-secret"),
        "{debug}"
    );
}

#[test]
fn nameservers_prefer_the_dns_default_network() {
    assert_eq!(nameservers(&networks()), vec!["10.0.0.2", "8.8.8.8"]);
    let no_default = Networks::from_value(json!({
        "a": {"type": "dynamic"},
        "b": {"type": "dynamic", "dns": ["1.1.1.1"]}
    }))
    .unwrap();
    assert_eq!(nameservers(&no_default), vec!["1.1.1.1"]);
    assert!(nameservers(&Networks::default()).is_empty());
}

#[test]
fn registry_rule() {
    // Written when the stemcell api_version is below 2 or absent, or the caller is v1.
    assert!(uses_registry(ApiVersion::V2, None));
    assert!(uses_registry(ApiVersion::V2, Some(1)));
    assert!(uses_registry(ApiVersion::V1, Some(2)));
    assert!(!uses_registry(ApiVersion::V2, Some(2)));
    assert!(!uses_registry(ApiVersion::V3, Some(3)));
}

#[test]
fn persistent_disk_map_edits() {
    let settings = settings();
    let added = add_persistent_disk(
        settings.clone(),
        "vol-2",
        json!({"path": "/dev/xvdd", "volume_id": "3"}),
    )
    .unwrap();
    assert_eq!(added["disks"]["persistent"]["vol-2"]["volume_id"], "3");
    assert_eq!(
        added["disks"]["persistent"]["vol-cid-1"]["path"],
        "/dev/xvdc"
    );
    let removed = remove_persistent_disk(added, "vol-cid-1").unwrap();
    assert!(removed["disks"]["persistent"].get("vol-cid-1").is_none());
    assert!(removed["disks"]["persistent"].get("vol-2").is_some());
    // Removing an absent disk is fine; a null map is treated as empty.
    let null_map = json!({"disks": {"persistent": null}});
    assert_eq!(
        remove_persistent_disk(null_map, "x").unwrap(),
        json!({"disks": {"persistent": {}}})
    );
    let broken = json!({"disks": "oops"});
    assert_eq!(
        add_persistent_disk(broken, "x", json!("/dev/xvdc")).unwrap_err(),
        SettingsError::DisksNotObject
    );
}
