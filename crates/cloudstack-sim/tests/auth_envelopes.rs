//! Authentication, envelopes, error codes and fixture shapes over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use cloudstack_sim::ids;
use common::{Client, assert_same_shape, fixture, spawn};

#[tokio::test]
async fn get_and_post_are_both_accepted_with_json_content_type() {
    let sim = spawn(common::config()).await;
    let client = Client::user(&sim);
    for reply in [
        client.get("listZones", &[]).await,
        client.post("listZones", &[]).await,
    ] {
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.key(), "listzonesresponse");
        assert_eq!(reply.inner()["count"], 1);
        assert_eq!(reply.inner()["zone"][0]["name"], "zone1");
        assert_eq!(
            reply.content_type.as_deref(),
            Some("application/json; charset=UTF-8")
        );
    }
    assert_eq!(sim.calls("listZones"), 2);
}

#[tokio::test]
async fn awkward_characters_and_signature_version_3_are_accepted() {
    let sim = spawn(common::config()).await;
    let client = Client::user(&sim);
    let expires = "2099-01-01T00:00:00+0000";
    let odd = "my vm ~ 1+2=3 *star* /slash/ ü";
    for post in [false, true] {
        let params = client.signed(
            "listVirtualMachines",
            &[
                ("keyword", odd),
                ("signatureversion", "3"),
                ("expires", expires),
            ],
        );
        let reply = client.send_raw(post, params).await;
        assert_eq!(reply.status, 200, "post={post}: {}", reply.body);
        assert_eq!(reply.inner(), &serde_json::json!({}));
    }
}

#[tokio::test]
async fn authentication_failures_are_401_with_the_server_text() {
    let sim = spawn(common::config()).await;
    let client = Client::user(&sim);

    // Bad signature.
    let mut params = client.signed("listZones", &[]);
    params.last_mut().unwrap().1 = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    let reply = client.send_raw(false, params).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.key(), "listzonesresponse");
    assert_eq!(reply.inner()["errorcode"], 401);
    assert_eq!(
        reply.errortext(),
        "unable to verify user credentials and/or request signature"
    );
    assert_eq!(
        reply.description.as_deref(),
        Some(reply.errortext().as_str())
    );
    assert!(reply.inner()["uuidList"].is_array());
    assert!(reply.inner()["cserrorcode"].is_number());

    // A parameter changed after signing.
    let mut params = client.signed("listZones", &[("name", "zone1")]);
    params[3].1 = "zone2".into();
    assert_eq!(client.send_raw(true, params).await.status, 401);

    // Unknown API key.
    let stranger = Client::new(&sim, "nobody", common::USER_SECRET);
    assert_eq!(stranger.get("listZones", &[]).await.status, 401);

    // Right key, wrong secret.
    let forger = Client::new(&sim, common::USER_KEY, "guess");
    assert_eq!(forger.get("listZones", &[]).await.status, 401);

    // Expired request, missing expires, unparsable expires.
    for extra in [
        vec![
            ("signatureversion", "3"),
            ("expires", "2001-01-01T00:00:00+0000"),
        ],
        vec![("signatureversion", "3")],
        vec![("signatureversion", "3"), ("expires", "soon")],
    ] {
        let reply = client.get("listZones", &extra).await;
        assert_eq!(reply.status, 401, "{extra:?}");
    }
    // Without version 3, expires is ignored as on the real server.
    let reply = client
        .get("listZones", &[("expires", "2001-01-01T00:00:00+0000")])
        .await;
    assert_eq!(reply.status, 200);

    // Missing signature.
    let params: Vec<(String, String)> = client
        .signed("listZones", &[])
        .into_iter()
        .filter(|(k, _)| k != "signature")
        .collect();
    assert_eq!(client.send_raw(false, params).await.status, 401);

    // Unknown command: 401 under errorresponse.
    let reply = client.get("launchRockets", &[]).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.key(), "errorresponse");
    assert!(reply.errortext().contains("launchRockets"));

    // No command at all.
    let reply = client
        .send_raw(false, vec![("response".into(), "json".into())])
        .await;
    assert_eq!(reply.status, 401);

    // Rejected calls are not counted.
    assert_eq!(sim.calls("listZones"), 1);
}

#[tokio::test]
async fn parameter_errors_are_431() {
    let sim = spawn(common::config()).await;
    let client = Client::user(&sim);
    let text = client.err("queryAsyncJobResult", &[], 431).await;
    assert_eq!(
        text,
        "Unable to execute API command queryasyncjobresult due to missing parameter jobid"
    );
    let text = client
        .err("queryAsyncJobResult", &[("jobid", "not-a-job")], 431)
        .await;
    assert!(text.starts_with("Invalid parameter jobid value=not-a-job due to incorrect long value format, or entity does not exist"));
    let text = client.err("listZones", &[("page", "1")], 431).await;
    assert!(text.contains("pagesize"));
    let text = client
        .err("listZones", &[("page", "1"), ("pagesize", "501")], 431)
        .await;
    assert_eq!(
        text,
        "Page size can't exceed max allowed page size value: 500"
    );
    let text = client
        .err("listVirtualMachines", &[("userdata", "maybe")], 431)
        .await;
    assert!(text.contains("userdata"), "{text}");
    let reply = client.post("listZones", &[("name", "a\u{1}b")]).await;
    assert_eq!(reply.status, 431);
    assert_eq!(reply.inner()["cserrorcode"], 4350);
}

#[tokio::test]
async fn pagination_counts_the_total_and_pages_the_array() {
    let sim = spawn(common::config()).await;
    let client = Client::user(&sim);
    let all = client.ok("listServiceOfferings", &[]).await;
    let total = all["count"].as_u64().unwrap();
    assert_eq!(total, 5);
    let page2 = client
        .ok("listServiceOfferings", &[("page", "2"), ("pagesize", "2")])
        .await;
    assert_eq!(page2["count"], 5);
    assert_eq!(page2["serviceoffering"].as_array().unwrap().len(), 2);
    assert_eq!(page2["serviceoffering"][0], all["serviceoffering"][2]);
    let empty = client
        .ok("listTemplates", &[("templatefilter", "self")])
        .await;
    assert_eq!(empty, serde_json::json!({}));
}

#[tokio::test]
async fn inventory_lists_and_filters() {
    let sim = spawn(common::config()).await;
    let client = Client::user(&sim);
    let zones = client.ok("listZones", &[("id", ids::ZONE)]).await;
    assert_eq!(zones["zone"][0]["networktype"], "Advanced");
    assert_eq!(zones["zone"][0]["localstorageenabled"], true);

    let offerings = client
        .ok("listServiceOfferings", &[("name", "custom")])
        .await;
    assert_eq!(offerings["serviceoffering"][0]["iscustomized"], true);
    let small = client
        .ok("listServiceOfferings", &[("id", ids::SO_SMALL)])
        .await;
    assert_eq!(small["serviceoffering"][0]["cpunumber"], 1);
    assert_eq!(small["serviceoffering"][0]["memory"], 1024);

    let disks = client.ok("listDiskOfferings", &[]).await;
    let disks = disks["diskoffering"].as_array().unwrap();
    assert!(
        disks
            .iter()
            .any(|d| d["iscustomized"] == true && d["disksize"] == 0)
    );
    assert!(disks.iter().any(|d| d["disksize"] == 10));
    assert!(disks.iter().any(|d| d["storagetype"] == "local"));

    let os = client
        .ok("listOsTypes", &[("description", "Other PV (64-bit)")])
        .await;
    assert_eq!(os["count"], 1);

    let nets = client.ok("listNetworks", &[("type", "Isolated")]).await;
    assert_eq!(nets["network"][0]["cidr"], "10.1.1.0/24");
    assert_eq!(nets["network"][0]["gateway"], "10.1.1.1");
    let shared = client.ok("listNetworks", &[("type", "Shared")]).await;
    assert_eq!(shared["count"], 1);

    for filter in ["executable", "featured"] {
        let t = client
            .ok("listTemplates", &[("templatefilter", filter)])
            .await;
        assert_eq!(t["template"][0]["id"], ids::TEMPLATE, "{filter}");
        assert_eq!(t["template"][0]["isready"], true);
    }
    client
        .err("listTemplates", &[("templatefilter", "bogus")], 431)
        .await;
    client
        .err("listTemplates", &[("templatefilter", "all")], 531)
        .await;
    let admin = Client::admin(&sim);
    assert_eq!(
        admin
            .ok("listTemplates", &[("templatefilter", "all")])
            .await["count"],
        1
    );

    let projects = client.ok("listProjects", &[]).await;
    assert_eq!(projects["project"][0]["name"], "default");
}

#[tokio::test]
async fn response_shapes_match_the_fixtures() {
    let sim = spawn(common::config()).await;
    let client = Client::user(&sim);

    let zone = client.ok("listZones", &[]).await;
    let expected = fixture("listZones.json");
    // The old fixture uses an integer id; compare everything else.
    let mut expected_zone = expected["listzonesresponse"]["zone"][0].clone();
    expected_zone.as_object_mut().unwrap().remove("id");
    assert_same_shape(&expected_zone, &zone["zone"][0], "zone");

    let disks = client.ok("listDiskOfferings", &[]).await;
    assert_same_shape(
        &fixture("listDiskOfferings.json")["listdiskofferingsresponse"],
        &disks,
        "listdiskofferings",
    );
    let so = client
        .ok("listServiceOfferings", &[("id", ids::SO_SMALL)])
        .await;
    assert_same_shape(
        &fixture("createServiceOffering.json")["createserviceofferingresponse"]["serviceoffering"],
        &so["serviceoffering"][0],
        "serviceoffering",
    );
    let nets = client
        .ok("listNetworks", &[("id", ids::NET_ISOLATED)])
        .await;
    let mut expected_net =
        fixture("listNetworks.json")["listnetworksresponse"]["network"][0].clone();
    // Service capability lists differ by offering; compare the network fields.
    expected_net.as_object_mut().unwrap().remove("service");
    assert_same_shape(&expected_net, &nets["network"][0], "network");

    let keys = client.ok("listSSHKeyPairs", &[]).await;
    assert_same_shape(
        &fixture("listSSHKeyPairs.json")["listsshkeypairsresponse"],
        &keys,
        "sshkeypairs",
    );
    let created = client.ok("createSSHKeyPair", &[("name", "shape")]).await;
    assert_same_shape(
        &fixture("createSSHKeyPair.json")["createsshkeypairresponse"],
        &created,
        "createsshkeypair",
    );

    // Deploy: the submit answer, the finished job and the VM object.
    let submit = client
        .ok(
            "deployVirtualMachine",
            &[
                ("serviceofferingid", ids::SO_SMALL),
                ("templateid", ids::TEMPLATE),
                ("zoneid", ids::ZONE),
            ],
        )
        .await;
    assert!(submit["id"].is_string() && submit["jobid"].is_string());
    let job = client.wait_job(submit["jobid"].as_str().unwrap()).await;
    let mut expected_job =
        fixture("deployVirtualMachine.json")["deployvirtualmachineresponse"].clone();
    // The fixture's VM carries a stale pending jobid; a finished job's VM has none.
    let vm = expected_job["jobresult"]["virtualmachine"]
        .as_object_mut()
        .unwrap();
    vm.remove("jobid");
    vm.remove("jobstatus");
    vm.remove("bootmode");
    vm.remove("boottype");
    assert_same_shape(&expected_job, &job, "deployjob");

    let list = client.ok("listVirtualMachines", &[]).await;
    let mut expected_list = fixture("listVirtualMachines.json")["listVirtualMachines"].clone();
    let item = expected_list["virtualmachine"][0].as_object_mut().unwrap();
    // Hypervisor statistics are not emulated.
    for stat in [
        "cpuused",
        "diskioread",
        "diskiowrite",
        "diskkbsread",
        "diskkbswrite",
        "memoryintfreekbs",
        "memorykbs",
        "memorytargetkbs",
        "networkkbsread",
        "networkkbswrite",
    ] {
        item.remove(stat);
    }
    // `details` is a free-form map whose keys depend on the hypervisor.
    item.insert("details".into(), serde_json::json!({}));
    assert_same_shape(&expected_list, &list, "listvirtualmachines");

    // Async jobs list and a failed job envelope.
    let jobs = client.ok("listAsyncJobs", &[]).await;
    assert_same_shape(
        &fixture("listAsyncJobs.json")["listasyncjobsresponse"],
        &jobs,
        "asyncjobs",
    );
    sim.inject(cloudstack_sim::Fault {
        command: "createTags".into(),
        kind: cloudstack_sim::FaultKind::JobFailure {
            code: 530,
            text: "boom".into(),
        },
        times: cloudstack_sim::FaultTimes::Once,
    })
    .unwrap();
    let vm_id = submit["id"].as_str().unwrap();
    let failed = client
        .run_failing(
            "createTags",
            &[
                ("resourceids", vm_id),
                ("resourcetype", "UserVm"),
                ("tags[0].key", "a"),
                ("tags[0].value", "b"),
            ],
        )
        .await;
    let mut expected_failed =
        fixture("queryAsyncJobResult-failed.json")["queryasyncjobresultresponse"].clone();
    expected_failed.as_object_mut().unwrap().remove("jobid");
    assert_same_shape(&expected_failed, &failed, "failedjob");
    assert_eq!(failed["jobresultcode"], 530);
    assert_eq!(failed["jobresult"]["errortext"], "boom");

    // Tags job result.
    let tag_job = client
        .ok(
            "createTags",
            &[
                ("resourceids", vm_id),
                ("resourcetype", "UserVm"),
                ("tags[0].key", "a"),
                ("tags[0].value", "b"),
            ],
        )
        .await;
    let tag_result = client.wait_job(tag_job["jobid"].as_str().unwrap()).await;
    assert_same_shape(
        &fixture("createTags.json")["createtagsresponse"],
        &tag_result,
        "createtags",
    );
}
