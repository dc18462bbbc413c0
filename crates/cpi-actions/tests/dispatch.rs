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
