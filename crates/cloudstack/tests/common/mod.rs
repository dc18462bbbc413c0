//! Shared helpers for the HTTP-level tests: fixtures, a wiremock CloudStack and form parsing.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cloudstack::{ClientConfig, CloudStackClient, ManualClock};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const API_KEY: &str = "TEST-API-KEY-a1b2c3d4e5";
pub const SECRET_KEY: &str = "TEST-SECRET-KEY-z9y8x7w6";
/// The project's copy of the reference fixtures (see its SOURCES.md for provenance), kept with
/// the emulator's tests so both crates check against the same files.
pub const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../cloudstack-sim/tests/fixtures"
);

/// Reads a fixture from the shared reference directory.
pub fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The payload stored under the single top-level key of a fixture.
pub fn fixture_payload(name: &str) -> Value {
    fixture(name)
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone()
}

/// A configuration pointing at `server` with fast, deterministic settings.
pub fn config_for(server: &MockServer) -> ClientConfig {
    let mut config = ClientConfig::new(
        format!("{}/client/api", server.uri()).parse().unwrap(),
        SecretString::from(API_KEY),
        SecretString::from(SECRET_KEY),
    );
    config.request_timeout = Duration::from_secs(10);
    config
}

/// A client on a manual clock, so that job polling and retries never sleep.
pub fn client_with(config: ClientConfig) -> (CloudStackClient, ManualClock) {
    let clock = ManualClock::new();
    let client = CloudStackClient::with_clock(config, Arc::new(clock.clone())).unwrap();
    (client, clock)
}

pub fn client_for(server: &MockServer) -> (CloudStackClient, ManualClock) {
    client_with(config_for(server))
}

/// Answers `command` with `body` (HTTP 200).
pub async fn mount_sync(server: &MockServer, command: &str, body: Value) {
    Mock::given(method("POST"))
        .and(body_string_contains(format!("command={command}&")))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
}

/// Answers an async `command` with a job id (and object id), and the job with `jobresult`.
pub async fn mount_async(
    server: &MockServer,
    command: &str,
    job_id: &str,
    object_id: Option<&str>,
    jobresult: Value,
) {
    let key = format!("{}response", command.to_lowercase());
    let mut submit = json!({ "jobid": job_id });
    if let Some(id) = object_id {
        submit["id"] = json!(id);
    }
    mount_sync(server, command, json!({ key: submit })).await;
    Mock::given(method("POST"))
        .and(body_string_contains("command=queryAsyncJobResult&"))
        .and(body_string_contains(format!("jobid={job_id}&")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "queryasyncjobresultresponse": {
                "jobid": job_id,
                "jobstatus": 1,
                "jobresultcode": 0,
                "jobresulttype": "object",
                "jobresult": jobresult,
            }
        })))
        .mount(server)
        .await;
}

/// The decoded form of a request body.
pub fn form(request: &wiremock::Request) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Every form received for `command`, in order.
pub async fn forms_for(server: &MockServer, command: &str) -> Vec<BTreeMap<String, String>> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(form)
        .filter(|f| f.get("command").map(String::as_str) == Some(command))
        .collect()
}

/// The single form received for `command`.
pub async fn only_form(server: &MockServer, command: &str) -> BTreeMap<String, String> {
    let forms = forms_for(server, command).await;
    assert_eq!(
        forms.len(),
        1,
        "expected one {command} request, got {forms:?}"
    );
    forms.into_iter().next().unwrap()
}
