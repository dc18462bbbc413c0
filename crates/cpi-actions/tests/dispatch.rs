mod common;

use common::Fixture;
use serde_json::json;

#[tokio::test]
async fn info_and_ping_answer_without_cloudstack() {
    let fixture = Fixture::start().await;
    let info = fixture.ok("info", json!([])).await;
    assert_eq!(
        info,
        json!({"api_version": 2, "stemcell_formats": ["cloudstack-vhdx"]})
    );
    assert_eq!(fixture.ok("ping", json!([])).await, json!("pong"));
    assert_eq!(fixture.sim.calls("listZones"), 0);
}

#[tokio::test]
async fn unsupported_methods_say_so() {
    let fixture = Fixture::start().await;
    let (kind, message, _) = fixture.err("configure_networks", json!(["vm-1", {}])).await;
    assert_eq!(kind, "Bosh::Clouds::NotSupported");
    assert!(message.contains("configure_networks"), "{message}");
}

#[tokio::test]
async fn cpi_config_overrides_are_validated() {
    let fixture = Fixture::start().await;
    let response = fixture
        .call_with(
            "has_vm",
            json!(["vm-1"]),
            json!({"director_uuid": "d", "no_such_key": 1}),
            2,
        )
        .await;
    let error = response.error.expect("unknown override keys are refused");
    assert_eq!(error.kind, "Bosh::Clouds::CpiError");
    assert!(
        error.message.contains("cloudstack.no_such_key"),
        "{}",
        error.message
    );
}

/// With `bosh update-cpi-config`, the director merges a CPI's properties into `context`; such a
/// request must run against that CloudStack, through its own warm client.
#[tokio::test]
async fn cpi_config_overrides_select_another_cloudstack() {
    let fixture = Fixture::start().await;
    let other_config = cloudstack_sim::SimConfig {
        user_api_key: "region-2-key".into(),
        user_secret: secrecy::SecretString::from("region-2-secret"),
        ..cloudstack_sim::SimConfig::default()
    };
    let other = cloudstack_sim::Sim::spawn(other_config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let context = json!({"director_uuid": "d", "request_id": "cpi-1",
        "endpoint": other.url(), "api_key": "region-2-key", "secret_access_key": "region-2-secret"});
    for _ in 0..2 {
        let response = fixture
            .call_with(
                "has_vm",
                json!(["8d1e2f9c-0000-4000-8000-00000000beef"]),
                context.clone(),
                2,
            )
            .await;
        assert_eq!(response.error, None);
        assert_eq!(response.result, json!(false));
    }
    assert_eq!(
        other.calls("listVirtualMachines"),
        2,
        "the overriding region answered"
    );
    assert_eq!(
        fixture.sim.calls("listVirtualMachines"),
        0,
        "the file's region was not asked"
    );
    assert_eq!(
        fixture.cpi.clients().len(),
        1,
        "one warm client for the overriding identity"
    );
    // The file's region still answers requests without overrides, through a second client.
    fixture
        .ok("has_vm", json!(["8d1e2f9c-0000-4000-8000-00000000beef"]))
        .await;
    assert_eq!(fixture.sim.calls("listVirtualMachines"), 1);
    assert_eq!(fixture.cpi.clients().len(), 2);
}
