//! Client behaviour over real HTTP against wiremock: signing on the wire, async jobs on a
//! manual clock, retries, secrets in logs, the warm cache, projects, pagination and limits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloudstack::commands::*;
use cloudstack::{ClientPool, CloudStackError, signing};
use common::*;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

const VM_ID: &str = "915653c4-298b-4d74-bdee-4ced282114f1";

fn job_answer(job_id: &str, status: u8, result: Value) -> Value {
    json!({"queryasyncjobresultresponse": {
        "jobid": job_id, "jobstatus": status, "jobresultcode": if status == 2 { 530 } else { 0 },
        "jobresulttype": "object", "jobresult": result
    }})
}

async fn mount_job_sequence(server: &MockServer, job_id: &str, pending_polls: u64, last: Value) {
    Mock::given(method("POST"))
        .and(body_string_contains("command=queryAsyncJobResult&"))
        .respond_with(ResponseTemplate::new(200).set_body_json(job_answer(job_id, 0, Value::Null)))
        .up_to_n_times(pending_polls)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("command=queryAsyncJobResult&"))
        .respond_with(ResponseTemplate::new(200).set_body_json(last))
        .mount(server)
        .await;
}

#[tokio::test]
async fn requests_are_signed_post_forms_the_server_can_verify() {
    let server = MockServer::start().await;
    mount_sync(&server, "listZones", fixture("listZones.json")).await;
    let (client, _) = client_for(&server);
    let zones = client.list(&ListZones::default()).await.unwrap();
    assert_eq!(zones.len(), 1);

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method.as_str(), "POST");
    assert_eq!(
        requests[0].url.query(),
        None,
        "nothing may travel in the URL"
    );
    let form = form(&requests[0]);
    assert_eq!(form["apikey"], API_KEY);
    assert_eq!(form["response"], "json");
    assert_eq!(form["signatureversion"], "3");
    assert_eq!(
        (form["page"].as_str(), form["pagesize"].as_str()),
        ("1", "500")
    );
    let expires = time::OffsetDateTime::parse(
        &form["expires"],
        time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory][offset_minute]"
        ),
    )
    .unwrap();
    let ahead = expires - time::OffsetDateTime::now_utc();
    assert!(
        ahead > time::Duration::minutes(5) && ahead < time::Duration::minutes(15),
        "{ahead}"
    );
    assert!(form["expires"].ends_with("+0000"));
    let signed = signing::sign(
        form.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SECRET_KEY,
    );
    assert_eq!(form["signature"], signed);
}

#[tokio::test]
async fn async_job_pending_then_success_polls_with_growing_intervals() {
    let server = MockServer::start().await;
    mount_sync(
        &server,
        "stopVirtualMachine",
        json!({"stopvirtualmachineresponse": {"jobid": "job-1"}}),
    )
    .await;
    let payload = fixture_payload("stopVirtualMachine.json");
    mount_job_sequence(
        &server,
        "job-1",
        3,
        job_answer("job-1", 1, payload["jobresult"].clone()),
    )
    .await;
    let (client, clock) = client_for(&server);

    let vm = client
        .execute(&StopVirtualMachine {
            id: VM_ID.into(),
            forced: None,
        })
        .await
        .unwrap();
    assert_eq!(vm.state.as_deref(), Some("Stopped"));
    assert_eq!(client.call_count("queryAsyncJobResult"), 4);
    assert_eq!(
        clock.sleeps(),
        vec![
            Duration::from_millis(100),
            Duration::from_millis(200),
            Duration::from_millis(400)
        ]
    );
    assert_eq!(
        forms_for(&server, "queryAsyncJobResult").await[0]["jobid"],
        "job-1"
    );
}

#[tokio::test]
async fn async_job_pending_then_failure_is_a_typed_error() {
    let server = MockServer::start().await;
    mount_sync(
        &server,
        "deployVirtualMachine",
        json!({"deployvirtualmachineresponse": {"jobid": "job-2", "id": "vm-new"}}),
    )
    .await;
    mount_job_sequence(
        &server,
        "job-2",
        1,
        job_answer("job-2", 2, json!({"errorcode": 533, "cserrorcode": 4325, "errortext": "Unable to create a deployment for VM"})),
    )
    .await;
    let (client, _) = client_for(&server);
    let error = client
        .execute(&DeployVirtualMachine {
            serviceofferingid: "so".into(),
            templateid: "t".into(),
            zoneid: "z".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    match &error {
        CloudStackError::JobFailed {
            command,
            job_id,
            object_id,
            jobresultcode,
            errorcode,
            cserrorcode,
            errortext,
        } => {
            assert_eq!(command, "deployVirtualMachine");
            assert_eq!(job_id, "job-2");
            assert_eq!(object_id.as_deref(), Some("vm-new"));
            assert_eq!(
                (*jobresultcode, *errorcode, *cserrorcode),
                (530, 533, Some(4325))
            );
            assert_eq!(errortext, "Unable to create a deployment for VM");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!error.is_retryable());
    assert_eq!(client.call_count("queryAsyncJobResult"), 2);
}

#[tokio::test]
async fn async_job_deadline_names_job_command_and_duration() {
    let server = MockServer::start().await;
    mount_sync(
        &server,
        "attachVolume",
        json!({"attachvolumeresponse": {"jobid": "job-3"}}),
    )
    .await;
    mount_job_sequence(&server, "job-3", u64::MAX, Value::Null).await;
    let mut config = config_for(&server);
    config.async_job_timeout = Duration::from_secs(30);
    let (client, clock) = client_with(config);

    let error = client
        .execute(&AttachVolume {
            id: "vol".into(),
            virtualmachineid: "vm".into(),
            deviceid: None,
        })
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, CloudStackError::JobTimeout { .. }),
        "{error:?}"
    );
    assert!(message.contains("job-3"), "{message}");
    assert!(message.contains("attachVolume"), "{message}");
    assert!(message.contains("30s"), "{message}");
    assert_eq!(clock.elapsed(), Duration::from_secs(30));
    // 100 ms doubling to the 5 s cap: the intervals never exceed the cap.
    assert!(clock.sleeps().iter().all(|d| *d <= Duration::from_secs(5)));
}

#[tokio::test]
async fn throttled_twice_then_success_takes_exactly_three_calls() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("command=listVolumes&"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({"listvolumesresponse": {
            "uuidList": [], "errorcode": 429, "cserrorcode": 9999,
            "errortext": "The given user has reached his/her account api limit, please retry after [300] ms."
        }})))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_sync(
        &server,
        "listVolumes",
        json!({"listvolumesresponse": {"count": 1, "volume": [{"id": "v1", "type": "DATADISK", "size": "10737418240"}]}}),
    )
    .await;
    let (client, clock) = client_for(&server);
    let volumes = client.list(&ListVolumes::default()).await.unwrap();
    assert_eq!(volumes[0].size, Some(10_737_418_240));
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    assert_eq!(client.call_count("listVolumes"), 3);
    // The server's suggestion (300 ms) wins over the shorter first backoff (250 ms).
    assert_eq!(
        clock.sleeps(),
        vec![Duration::from_millis(300), Duration::from_millis(500)]
    );
}

#[tokio::test]
async fn parameter_errors_are_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(431).insert_header("X-Description", "bad").set_body_json(json!({
            "deletevolumeresponse": {"uuidList": [], "errorcode": 431, "cserrorcode": 4350,
            "errortext": "Invalid parameter id value=nope due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class."}
        })))
        .mount(&server)
        .await;
    let (client, clock) = client_for(&server);
    let error = client
        .execute(&DeleteVolume { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    assert!(clock.sleeps().is_empty());
    assert_eq!(error.errorcode(), Some(431));
    assert!(error.is_not_found());
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn transport_errors_are_retried_only_for_safe_calls() {
    // Bind and drop a listener so that the port refuses connections.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config = cloudstack::ClientConfig::new(
        format!("http://127.0.0.1:{port}/client/api")
            .parse()
            .unwrap(),
        API_KEY.into(),
        SECRET_KEY.into(),
    );
    config.retry.max_attempts = 3;
    let (client, clock) = client_with(config);

    let error = client.list(&ListZones::default()).await.unwrap_err();
    assert!(
        matches!(error, CloudStackError::Transport { safe: true, .. }),
        "{error:?}"
    );
    assert_eq!(client.call_count("listZones"), 3);
    assert_eq!(clock.sleeps().len(), 2);

    let error = client
        .execute(&DeleteVolume { id: "v".into() })
        .await
        .unwrap_err();
    assert!(
        matches!(error, CloudStackError::Transport { safe: false, .. }),
        "{error:?}"
    );
    assert_eq!(client.call_count("deleteVolume"), 1);
}

#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLog {
    type Writer = CapturedLog;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn failed_requests_log_no_key_secret_or_signature() {
    let log = CapturedLog::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"errorresponse": {
            "uuidList": [], "errorcode": 401, "errortext": "unable to verify user credentials and/or request signature"
        }})))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let error = client.list(&ListZones::default()).await.unwrap_err();
    let error_text = format!("{error} {error:?} {client:?}");
    assert_eq!(error.errorcode(), Some(401));

    let signature = form(&server.received_requests().await.unwrap()[0])["signature"].clone();
    let logged = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("listZones"),
        "the failure must be logged: {logged}"
    );
    for secret in [
        API_KEY,
        SECRET_KEY,
        signature.as_str(),
        &signing::encode_value(&signature),
    ] {
        assert!(!logged.contains(secret), "log leaks {secret}: {logged}");
        assert!(
            !error_text.contains(secret),
            "error leaks {secret}: {error_text}"
        );
    }
}

#[tokio::test]
async fn warm_cache_answers_a_second_lookup_without_an_api_call() {
    let server = MockServer::start().await;
    mount_sync(
        &server,
        "listServiceOfferings",
        json!({"listserviceofferingsresponse": {"count": 2, "serviceoffering": [
            {"id": "so-small-id", "name": "small"},
            {"id": "so-small-2", "name": "small-2"}
        ]}}),
    )
    .await;
    let (client, clock) = client_for(&server);
    assert_eq!(
        client.service_offering_id("small").await.unwrap(),
        "so-small-id"
    );
    assert_eq!(client.call_count("listServiceOfferings"), 1);
    assert_eq!(
        client.service_offering_id("small").await.unwrap(),
        "so-small-id"
    );
    assert_eq!(
        client.call_count("listServiceOfferings"),
        1,
        "second look-up must hit the cache"
    );

    // A UUID is taken as an id without a call.
    let uuid = "498ce071-a077-4237-9492-e55c42553327";
    assert_eq!(client.service_offering_id(uuid).await.unwrap(), uuid);
    assert_eq!(client.call_count("listServiceOfferings"), 1);

    // After the TTL the look-up is refreshed.
    clock.advance(client.config().lookup_cache_ttl + Duration::from_secs(1));
    client.service_offering_id("small").await.unwrap();
    assert_eq!(client.call_count("listServiceOfferings"), 2);

    let missing = client.service_offering_id("huge").await.unwrap_err();
    assert!(missing.is_not_found());
    assert!(missing.to_string().contains("huge"));
}

#[tokio::test]
async fn lookups_resolve_each_kind_and_report_ambiguity() {
    let server = MockServer::start().await;
    mount_sync(
        &server,
        "listZones",
        json!({"listzonesresponse": {"count": 1, "zone": [{"id": "z-1", "name": "zone-a"}]}}),
    )
    .await;
    mount_sync(
        &server,
        "listDiskOfferings",
        fixture("listDiskOfferings.json"),
    )
    .await;
    mount_sync(&server, "listNetworks", fixture("listNetworks.json")).await;
    mount_sync(&server, "listOsTypes", json!({"listostypesresponse": {"count": 2, "ostype": [
        {"id": "os-1", "description": "Ubuntu 22.04 LTS"}, {"id": "os-2", "description": "Ubuntu 22.04 LTS"}
    ]}})).await;
    let (client, _) = client_for(&server);
    assert_eq!(client.zone_id("zone-a").await.unwrap(), "z-1");
    assert_eq!(
        client.disk_offering_id("test").await.unwrap(),
        "7662b6ae-f00b-4268-973f-f3f87eaf82c5"
    );
    assert_eq!(
        client.network_id("testIsolatedNet", "z-1").await.unwrap(),
        "eb9c270d-dd66-443b-9524-ada1eff4442a"
    );
    assert_eq!(only_form(&server, "listNetworks").await["zoneid"], "z-1");
    let ambiguous = client.os_type_id("Ubuntu 22.04 LTS").await.unwrap_err();
    assert!(
        matches!(ambiguous, CloudStackError::Ambiguous { count: 2, .. }),
        "{ambiguous:?}"
    );
}

#[tokio::test]
async fn project_is_resolved_once_and_scopes_creates_and_lists() {
    let server = MockServer::start().await;
    mount_sync(
        &server,
        "listProjects",
        json!({"listprojectsresponse": {"count": 1, "project": [
            {"id": "7b0c3cde-0000-4000-8000-00000000aaaa", "name": "bosh"}
        ]}}),
    )
    .await;
    mount_sync(
        &server,
        "listVirtualMachines",
        json!({"listvirtualmachinesresponse": {}}),
    )
    .await;
    mount_sync(&server, "listZones", json!({"listzonesresponse": {}})).await;
    mount_async(
        &server,
        "createVolume",
        "job-v",
        Some("vol-1"),
        json!({"volume": {"id": "vol-1", "state": "Allocated"}}),
    )
    .await;
    let mut config = config_for(&server);
    config.project = Some("bosh".into());
    let (client, _) = client_with(config);

    assert!(
        client
            .list(&ListVirtualMachines::default())
            .await
            .unwrap()
            .is_empty()
    );
    client.list(&ListVirtualMachines::default()).await.unwrap();
    client.list(&ListZones::default()).await.unwrap();
    let volume = client
        .execute(&CreateVolume {
            name: Some("d".into()),
            diskofferingid: Some("do".into()),
            zoneid: Some("z".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(volume.id, "vol-1");

    assert_eq!(client.call_count("listProjects"), 1);
    let project = "7b0c3cde-0000-4000-8000-00000000aaaa";
    for vm_list in forms_for(&server, "listVirtualMachines").await {
        assert_eq!(vm_list["projectid"], project);
    }
    assert_eq!(
        only_form(&server, "createVolume").await["projectid"],
        project
    );
    assert!(
        !only_form(&server, "listZones")
            .await
            .contains_key("projectid")
    );
    assert!(!forms_for(&server, "queryAsyncJobResult").await[0].contains_key("projectid"));
}

#[tokio::test]
async fn lists_follow_every_page_until_count() {
    let server = MockServer::start().await;
    let page_one: Vec<Value> = (0..500).map(|i| json!({"id": format!("vm-{i}")})).collect();
    Mock::given(method("POST"))
        .and(body_string_contains("command=listVirtualMachines&"))
        .and(body_string_contains("page=1&"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"listvirtualmachinesresponse": {"count": 501, "virtualmachine": page_one}}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("command=listVirtualMachines&"))
        .and(body_string_contains("page=2&"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"listvirtualmachinesresponse": {"count": 501, "virtualmachine": [{"id": "vm-500"}]}}),
        ))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let vms = client.list(&ListVirtualMachines::default()).await.unwrap();
    assert_eq!(vms.len(), 501);
    assert_eq!(vms[500].id, "vm-500");
    assert_eq!(client.call_count("listVirtualMachines"), 2);
}

#[tokio::test]
async fn oversized_and_malformed_answers_are_clear_errors() {
    let server = MockServer::start().await;
    mount_sync(
        &server,
        "listZones",
        json!({"listzonesresponse": {"count": 1, "zone": [{"id": "z", "name": "x".repeat(4096)}]}}),
    )
    .await;
    Mock::given(method("POST"))
        .and(body_string_contains("command=listNetworks&"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>proxy error</html>"))
        .mount(&server)
        .await;
    mount_sync(
        &server,
        "listVolumes",
        json!({"listvolumesresponse": {"count": 1, "volume": [{"name": "no id"}]}}),
    )
    .await;
    let mut config = config_for(&server);
    config.max_response_bytes = 1024;
    let (client, _) = client_with(config);

    let too_large = client.list(&ListZones::default()).await.unwrap_err();
    assert!(
        matches!(
            too_large,
            CloudStackError::ResponseTooLarge { limit: 1024, .. }
        ),
        "{too_large:?}"
    );
    let not_json = client.list(&ListNetworks::default()).await.unwrap_err();
    assert!(not_json.to_string().contains("proxy error"), "{not_json}");
    let bad_item = client.list(&ListVolumes::default()).await.unwrap_err();
    assert!(bad_item.to_string().contains("volume[0]"), "{bad_item}");
}

#[tokio::test]
async fn rate_limit_spaces_out_calls_on_the_clock() {
    let server = MockServer::start().await;
    mount_sync(&server, "listZones", json!({"listzonesresponse": {}})).await;
    let mut config = config_for(&server);
    config.rate_limit_per_sec = Some(2);
    let (client, clock) = client_with(config);
    for _ in 0..3 {
        client.list(&ListZones::default()).await.unwrap();
    }
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(1)]);
}

#[tokio::test]
async fn invalid_configurations_are_rejected_with_a_reason() {
    let server = MockServer::start().await;
    let mut config = config_for(&server);
    config.max_in_flight = 0;
    let error = cloudstack::CloudStackClient::new(config).unwrap_err();
    assert!(error.to_string().contains("max_in_flight"), "{error}");

    let mut config = config_for(&server);
    config.signature_lifetime = Duration::from_secs(20 * 60);
    assert!(cloudstack::CloudStackClient::new(config).is_err());

    let mut config = config_for(&server);
    config.ca_cert_pem = Some(cloudstack::CaCertPem("not a pem".into()));
    let error = cloudstack::CloudStackClient::new(config).unwrap_err();
    assert!(error.to_string().contains("CA certificate"), "{error}");
}

#[tokio::test]
async fn pool_keeps_one_client_per_identity() {
    let server = MockServer::start().await;
    let pool = ClientPool::new();
    let first = pool.get(&config_for(&server)).unwrap();
    let again = pool.get(&config_for(&server)).unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    let mut other = config_for(&server);
    other.api_key = "OTHER-KEY".into();
    let second = pool.get(&other).unwrap();
    assert!(!Arc::ptr_eq(&first, &second));
    assert_eq!(pool.len(), 2);
    assert!(!format!("{pool:?}").contains(API_KEY));
}

#[tokio::test]
async fn find_by_id_folds_not_found_into_none() {
    let server = MockServer::start().await;
    mount_sync(
        &server,
        "listVirtualMachines",
        json!({"listvirtualmachinesresponse": {}}),
    )
    .await;
    Mock::given(method("POST"))
        .and(body_string_contains("command=listVolumes&"))
        .respond_with(ResponseTemplate::new(431).set_body_json(json!({"listvolumesresponse": {
            "errorcode": 431, "cserrorcode": 4350,
            "errortext": "Invalid parameter id value=x due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class."
        }})))
        .mount(&server)
        .await;
    mount_sync(
        &server,
        "listTemplates",
        json!({"listtemplatesresponse": {"count": 1, "template": [{"id": "t-1"}]}}),
    )
    .await;
    let (client, _) = client_for(&server);
    assert!(client.find_virtual_machine(VM_ID).await.unwrap().is_none());
    assert!(client.find_volume("x").await.unwrap().is_none());
    assert_eq!(
        client.find_template("t-1").await.unwrap().unwrap().id,
        "t-1"
    );
    assert_eq!(
        only_form(&server, "listTemplates").await["templatefilter"],
        "self"
    );
}

#[tokio::test]
async fn disabling_tls_verification_logs_a_warning() {
    let log = CapturedLog::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = MockServer::start().await;
    let mut config = config_for(&server);
    config.verify_tls = false;
    let _client = cloudstack::CloudStackClient::new(config).unwrap();
    let logged = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("WARN"), "{logged}");
    assert!(logged.contains("verification"), "{logged}");
    assert!(!logged.contains(API_KEY));

    let mut verified = config_for(&server);
    verified.verify_tls = true;
    log.0.lock().unwrap().clear();
    let _client = cloudstack::CloudStackClient::new(verified).unwrap();
    assert!(
        !String::from_utf8(log.0.lock().unwrap().clone())
            .unwrap()
            .contains("WARN")
    );
}
