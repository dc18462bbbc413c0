//! Every typed call round-trips against an HTTP fake: the request carries the documented
//! parameter names and encodings, and the answer (an upstream fixture where one exists, else a
//! shape built from the API reference's field lists) decodes into the typed result.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use cloudstack::commands::*;
use common::*;
use secrecy::ExposeSecret;
use serde_json::json;
use wiremock::MockServer;

const VM: &str = "915653c4-298b-4d74-bdee-4ced282114f1";

fn vm_result(file: &str) -> serde_json::Value {
    fixture_payload(file)["jobresult"].clone()
}

#[tokio::test]
async fn virtual_machine_calls_round_trip() {
    let server = MockServer::start().await;
    mount_async(
        &server,
        "deployVirtualMachine",
        "j-deploy",
        Some(VM),
        vm_result("deployVirtualMachine.json"),
    )
    .await;
    mount_async(
        &server,
        "startVirtualMachine",
        "j-start",
        None,
        vm_result("startVirtualMachine.json"),
    )
    .await;
    mount_async(
        &server,
        "stopVirtualMachine",
        "j-stop",
        None,
        vm_result("stopVirtualMachine.json"),
    )
    .await;
    mount_async(
        &server,
        "rebootVirtualMachine",
        "j-reboot",
        None,
        vm_result("startVirtualMachine.json"),
    )
    .await;
    mount_async(
        &server,
        "destroyVirtualMachine",
        "j-destroy",
        None,
        json!({"success": true}),
    )
    .await;
    mount_async(
        &server,
        "expungeVirtualMachine",
        "j-expunge",
        None,
        json!({"success": true}),
    )
    .await;
    mount_sync(
        &server,
        "listVirtualMachines",
        json!({"listvirtualmachinesresponse": fixture_payload("listVirtualMachines.json")}),
    )
    .await;
    mount_sync(
        &server,
        "updateVirtualMachine",
        json!({"updatevirtualmachineresponse": vm_result("stopVirtualMachine.json")}),
    )
    .await;
    mount_sync(
        &server,
        "getVirtualMachineUserData",
        json!({"getvirtualmachineuserdataresponse": {
        "virtualmachineuserdata": {"virtualmachineid": VM, "userdata": "eyJhZ2VudCI6MX0="}}}),
    )
    .await;
    let (client, _) = client_for(&server);

    let user_data = "A".repeat(16 * 1024);
    let vm = client
        .execute(&DeployVirtualMachine {
            serviceofferingid: "so-1".into(),
            templateid: "t-1".into(),
            zoneid: "z-1".into(),
            name: Some("vm-1".into()),
            displayname: Some("bosh vm ~ 1".into()),
            iptonetworklist: vec![
                IpToNetwork {
                    networkid: "net-a".into(),
                    ip: Some("10.0.0.5".into()),
                    ..Default::default()
                },
                IpToNetwork {
                    networkid: "net-b".into(),
                    ..Default::default()
                },
            ],
            userdata: Some(user_data.clone()),
            keypair: Some("bosh".into()),
            affinitygroupids: vec!["ag-1".into(), "ag-2".into()],
            securitygroupnames: vec!["default".into()],
            rootdisksize: Some(20),
            details: vec![
                ("cpuNumber".into(), "2".into()),
                ("memory".into(), "2048".into()),
            ],
            hostid: Some("host-1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(vm.id, VM);
    let sent = only_form(&server, "deployVirtualMachine").await;
    assert_eq!(sent["iptonetworklist[0].networkid"], "net-a");
    assert_eq!(sent["iptonetworklist[0].ip"], "10.0.0.5");
    assert_eq!(sent["iptonetworklist[1].networkid"], "net-b");
    assert!(!sent.contains_key("iptonetworklist[1].ip"));
    assert_eq!(
        sent["userdata"], user_data,
        "large user data travels in the POST body"
    );
    assert_eq!(sent["keypair"], "bosh");
    assert_eq!(sent["affinitygroupids"], "ag-1,ag-2");
    assert_eq!(sent["securitygroupnames"], "default");
    assert_eq!(sent["rootdisksize"], "20");
    assert_eq!(sent["details[0].cpuNumber"], "2");
    assert_eq!(sent["details[0].memory"], "2048");
    assert_eq!(sent["hostid"], "host-1");
    assert_eq!(sent["displayname"], "bosh vm ~ 1");

    let started = client
        .execute(&StartVirtualMachine {
            id: VM.into(),
            hostid: None,
        })
        .await
        .unwrap();
    assert_eq!(started.state.as_deref(), Some("Running"));
    let stopped = client
        .execute(&StopVirtualMachine {
            id: VM.into(),
            forced: Some(true),
        })
        .await
        .unwrap();
    assert_eq!(stopped.state.as_deref(), Some("Stopped"));
    assert_eq!(
        only_form(&server, "stopVirtualMachine").await["forced"],
        "true"
    );
    client
        .execute(&RebootVirtualMachine {
            id: VM.into(),
            forced: None,
        })
        .await
        .unwrap();
    let destroyed = client
        .execute(&DestroyVirtualMachine {
            id: VM.into(),
            expunge: Some(true),
            volumeids: vec!["v1".into()],
        })
        .await
        .unwrap();
    assert!(
        destroyed.is_none(),
        "an expunged VM comes back as a bare success"
    );
    let sent = only_form(&server, "destroyVirtualMachine").await;
    assert_eq!(
        (sent["expunge"].as_str(), sent["volumeids"].as_str()),
        ("true", "v1")
    );
    client
        .execute(&ExpungeVirtualMachine { id: VM.into() })
        .await
        .unwrap();

    let vms = client
        .list(&ListVirtualMachines {
            id: Some(VM.into()),
            tags: vec![("director".into(), "bosh".into())],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(vms[0].displayname.as_deref(), Some("testDummyVM"));
    let sent = only_form(&server, "listVirtualMachines").await;
    assert_eq!(
        (sent["tags[0].key"].as_str(), sent["tags[0].value"].as_str()),
        ("director", "bosh")
    );

    let updated = client
        .execute(&UpdateVirtualMachine {
            id: VM.into(),
            displayname: Some("renamed".into()),
            userdata: None,
        })
        .await
        .unwrap();
    assert_eq!(updated.id, VM);
    assert_eq!(
        only_form(&server, "updateVirtualMachine").await["displayname"],
        "renamed"
    );
    let data = client
        .execute(&GetVirtualMachineUserData {
            virtualmachineid: VM.into(),
        })
        .await
        .unwrap();
    assert_eq!(data.userdata.as_deref(), Some("eyJhZ2VudCI6MX0="));
}

#[tokio::test]
async fn volume_and_snapshot_calls_round_trip() {
    let server = MockServer::start().await;
    let volume = json!({"id": "vol-1", "name": "disk", "type": "DATADISK", "size": 10_737_418_240_u64,
        "state": "Ready", "deviceid": 1, "virtualmachineid": VM, "storagetype": "shared", "tags": []});
    mount_async(
        &server,
        "createVolume",
        "j-cv",
        Some("vol-1"),
        json!({"volume": volume}),
    )
    .await;
    mount_async(
        &server,
        "attachVolume",
        "j-av",
        None,
        json!({"volume": volume}),
    )
    .await;
    mount_async(
        &server,
        "detachVolume",
        "j-dv",
        None,
        json!({"volume": {"id": "vol-1", "state": "Ready"}}),
    )
    .await;
    mount_async(
        &server,
        "resizeVolume",
        "j-rv",
        None,
        json!({"volume": {"id": "vol-1", "size": "21474836480"}}),
    )
    .await;
    mount_async(
        &server,
        "migrateVolume",
        "j-mv",
        None,
        json!({"volume": {"id": "vol-1", "storageid": "pool-2"}}),
    )
    .await;
    mount_sync(
        &server,
        "deleteVolume",
        json!({"deletevolumeresponse": {"success": "true"}}),
    )
    .await;
    mount_sync(
        &server,
        "listVolumes",
        json!({"listvolumesresponse": {"count": 1, "volume": [volume]}}),
    )
    .await;
    mount_sync(
        &server,
        "listDiskOfferings",
        fixture("listDiskOfferings.json"),
    )
    .await;
    let snapshot =
        json!({"id": "snap-1", "volumeid": "vol-1", "state": "BackedUp", "physicalsize": "1024"});
    mount_async(
        &server,
        "createSnapshot",
        "j-cs",
        Some("snap-1"),
        json!({"snapshot": snapshot}),
    )
    .await;
    mount_async(
        &server,
        "deleteSnapshot",
        "j-ds",
        None,
        json!({"success": true}),
    )
    .await;
    mount_sync(
        &server,
        "listSnapshots",
        json!({"listsnapshotsresponse": {"count": 1, "snapshot": [snapshot]}}),
    )
    .await;
    let (client, _) = client_for(&server);

    let created = client
        .execute(&CreateVolume {
            name: Some("disk".into()),
            diskofferingid: Some("do".into()),
            size: Some(10),
            zoneid: Some("z".into()),
            virtualmachineid: Some(VM.into()),
            snapshotid: None,
        })
        .await
        .unwrap();
    assert_eq!(created.size, Some(10_737_418_240));
    let sent = only_form(&server, "createVolume").await;
    assert_eq!(
        (sent["size"].as_str(), sent["virtualmachineid"].as_str()),
        ("10", VM)
    );
    let attached = client
        .execute(&AttachVolume {
            id: "vol-1".into(),
            virtualmachineid: VM.into(),
            deviceid: Some(1),
        })
        .await
        .unwrap();
    assert_eq!(attached.deviceid, Some(1));
    assert_eq!(only_form(&server, "attachVolume").await["deviceid"], "1");
    client
        .execute(&DetachVolume { id: "vol-1".into() })
        .await
        .unwrap();
    let resized = client
        .execute(&ResizeVolume {
            id: "vol-1".into(),
            size: Some(20),
            shrinkok: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(resized.size, Some(21_474_836_480));
    let migrated = client
        .execute(&MigrateVolume {
            volumeid: "vol-1".into(),
            storageid: "pool-2".into(),
            livemigrate: Some(true),
        })
        .await
        .unwrap();
    assert_eq!(migrated.storageid.as_deref(), Some("pool-2"));
    client
        .execute(&DeleteVolume { id: "vol-1".into() })
        .await
        .unwrap();
    let volumes = client
        .list(&ListVolumes {
            virtualmachineid: Some(VM.into()),
            volume_type: Some("DATADISK".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(volumes.len(), 1);
    assert_eq!(only_form(&server, "listVolumes").await["type"], "DATADISK");
    let offerings = client.list(&ListDiskOfferings::default()).await.unwrap();
    assert_eq!(offerings[0].name.as_deref(), Some("test"));

    let snap = client
        .execute(&CreateSnapshot {
            volumeid: "vol-1".into(),
            name: None,
            tags: vec![],
        })
        .await
        .unwrap();
    assert_eq!(
        (snap.state.as_deref(), snap.physicalsize),
        (Some("BackedUp"), Some(1024))
    );
    client
        .execute(&DeleteSnapshot {
            id: "snap-1".into(),
        })
        .await
        .unwrap();
    let snaps = client
        .list(&ListSnapshots {
            volumeid: Some("vol-1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(snaps[0].id, "snap-1");
}

#[tokio::test]
async fn template_calls_round_trip() {
    let server = MockServer::start().await;
    mount_sync(
        &server,
        "registerTemplate",
        fixture("registerTemplate.json"),
    )
    .await;
    mount_sync(&server, "listTemplates", json!({"listtemplatesresponse": {"count": 1, "template": [
        {"id": "t-1", "status": "35% Downloaded", "isready": false, "downloaddetails": [{"downloadState": "DOWNLOAD_IN_PROGRESS", "downloadPercent": "35"}]}
    ]}})).await;
    mount_async(
        &server,
        "deleteTemplate",
        "j-dt",
        None,
        json!({"success": true}),
    )
    .await;
    mount_sync(&server, "getUploadParamsForTemplate", json!({"getuploadparamsfortemplateresponse": {"getuploadparams": {
        "id": "t-2", "postURL": "https://ssvm.example/upload/t-2", "metadata": "META-SECRET", "expires": "2030-01-01T00:00:00.000Z", "signature": "UPLOAD-SIG"
    }}})).await;
    let (client, _) = client_for(&server);

    let spec = TemplateSpec {
        name: "bosh-stemcell-1.0".into(),
        format: "QCOW2".into(),
        hypervisor: "KVM".into(),
        zoneid: "z-1".into(),
        ostypeid: "os-1".into(),
        checksum: Some("{SHA-256}abc".into()),
        requireshvm: Some(true),
        bits: Some(64),
        ..Default::default()
    };
    let template = client
        .execute(&RegisterTemplate {
            spec: spec.clone(),
            url: "http://10.0.0.2:8080/stemcells/s.qcow2".into(),
        })
        .await
        .unwrap();
    assert_eq!(template.id, "5ce8f0b1-a910-4631-a8de-1e332bf3a6b7");
    let sent = only_form(&server, "registerTemplate").await;
    assert_eq!(sent["url"], "http://10.0.0.2:8080/stemcells/s.qcow2");
    assert_eq!(sent["checksum"], "{SHA-256}abc");
    assert_eq!(
        sent["displaytext"], "bosh-stemcell-1.0",
        "display text defaults to the name"
    );
    assert_eq!(
        (sent["bits"].as_str(), sent["requireshvm"].as_str()),
        ("64", "true")
    );

    let templates = client
        .list(&ListTemplates {
            id: Some("t-1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(templates[0].status.as_deref(), Some("35% Downloaded"));
    assert_eq!(templates[0].downloaddetails[0].download_percent, Some(35));
    assert_eq!(
        only_form(&server, "listTemplates").await["templatefilter"],
        "self"
    );

    client
        .execute(&DeleteTemplate {
            id: "t-1".into(),
            zoneid: None,
            forced: None,
        })
        .await
        .unwrap();

    let upload = client
        .execute(&GetUploadParamsForTemplate { spec })
        .await
        .unwrap();
    assert_eq!(upload.post_url, "https://ssvm.example/upload/t-2");
    assert_eq!(upload.signature.expose_secret(), "UPLOAD-SIG");
    assert!(!format!("{upload:?}").contains("UPLOAD-SIG"));
    assert!(
        !only_form(&server, "getUploadParamsForTemplate")
            .await
            .contains_key("url")
    );
}

#[tokio::test]
async fn network_ip_and_static_nat_calls_round_trip() {
    let server = MockServer::start().await;
    mount_sync(&server, "listNetworks", fixture("listNetworks.json")).await;
    mount_async(
        &server,
        "associateIpAddress",
        "j-ip",
        None,
        fixture_payload("associateIpAddress.json")["jobresult"].clone(),
    )
    .await;
    mount_async(
        &server,
        "disassociateIpAddress",
        "j-dip",
        None,
        json!({"success": true}),
    )
    .await;
    mount_sync(
        &server,
        "listPublicIpAddresses",
        json!({"listpublicipaddressesresponse": {"count": 1, "publicipaddress": [
            {"id": "ip-1", "ipaddress": "203.0.113.5", "isstaticnat": true, "virtualmachineid": VM}
        ]}}),
    )
    .await;
    mount_sync(
        &server,
        "enableStaticNat",
        json!({"enablestaticnatresponse": {"success": true}}),
    )
    .await;
    mount_async(
        &server,
        "disableStaticNat",
        "j-nat",
        None,
        json!({"success": true}),
    )
    .await;
    let (client, _) = client_for(&server);

    let networks = client
        .list(&ListNetworks {
            zoneid: Some("z".into()),
            canusefordeploy: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(networks[0].network_type.as_deref(), Some("Isolated"));
    assert_eq!(
        only_form(&server, "listNetworks").await["canusefordeploy"],
        "true"
    );
    let ip = client
        .execute(&AssociateIpAddress {
            networkid: Some("net".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ip.id, "dc51835f-b0e2-4a2e-91a4-6cccc44bdae3");
    let ips = client
        .list(&ListPublicIpAddresses {
            ipaddress: Some("203.0.113.5".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ips[0].virtualmachineid.as_deref(), Some(VM));
    client
        .execute(&EnableStaticNat {
            ipaddressid: "ip-1".into(),
            virtualmachineid: VM.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        only_form(&server, "enableStaticNat").await["ipaddressid"],
        "ip-1"
    );
    client
        .execute(&DisableStaticNat {
            ipaddressid: "ip-1".into(),
        })
        .await
        .unwrap();
    client
        .execute(&DisassociateIpAddress { id: "ip-1".into() })
        .await
        .unwrap();
}

#[tokio::test]
async fn tag_key_group_project_and_job_calls_round_trip() {
    let server = MockServer::start().await;
    mount_async(
        &server,
        "createTags",
        "j-ct",
        None,
        fixture_payload("createTags.json")["jobresult"].clone(),
    )
    .await;
    mount_async(
        &server,
        "deleteTags",
        "j-dt",
        None,
        fixture_payload("deleteTags.json")["jobresult"].clone(),
    )
    .await;
    mount_sync(
        &server,
        "listTags",
        json!({"listtagsresponse": {"count": 1, "tag": [
            {"key": "director", "value": "bosh", "resourceid": VM, "resourcetype": "UserVm"}
        ]}}),
    )
    .await;
    mount_sync(
        &server,
        "createSSHKeyPair",
        fixture("createSSHKeyPair.json"),
    )
    .await;
    mount_sync(&server, "registerSSHKeyPair", json!({"registersshkeypairresponse": {"keypair": {"name": "bosh", "fingerprint": "aa:bb"}}})).await;
    mount_sync(
        &server,
        "deleteSSHKeyPair",
        json!({"deletesshkeypairresponse": {"success": "true"}}),
    )
    .await;
    mount_sync(&server, "listSSHKeyPairs", fixture("listSSHKeyPairs.json")).await;
    mount_async(
        &server,
        "createAffinityGroup",
        "j-ag",
        None,
        fixture_payload("createAffinityGroup.json")["jobresult"].clone(),
    )
    .await;
    mount_async(
        &server,
        "deleteAffinityGroup",
        "j-dag",
        None,
        json!({"success": true}),
    )
    .await;
    mount_sync(
        &server,
        "listAffinityGroups",
        json!({"listaffinitygroupsresponse": {"count": 1, "affinitygroup": [
            {"id": "ag-1", "name": "web", "type": "host anti-affinity"}
        ]}}),
    )
    .await;
    mount_sync(
        &server,
        "createSecurityGroup",
        json!({"createsecuritygroupresponse": {"securitygroup": {"id": "sg-1", "name": "bosh"}}}),
    )
    .await;
    mount_sync(
        &server,
        "deleteSecurityGroup",
        json!({"deletesecuritygroupresponse": {"success": true}}),
    )
    .await;
    mount_sync(&server, "listSecurityGroups", json!({"listsecuritygroupsresponse": {"count": 1, "securitygroup": [
        {"id": "sg-1", "name": "bosh", "ingressrule": [{"ruleid": "r1", "protocol": "tcp", "startport": 22, "endport": "22", "cidr": "0.0.0.0/0"}]}
    ]}})).await;
    mount_sync(&server, "listProjects", json!({"listprojectsresponse": {"count": 1, "project": [{"id": "p-1", "name": "bosh", "state": "Active"}]}})).await;
    mount_sync(&server, "listAsyncJobs", fixture("listAsyncJobs.json")).await;
    let (client, _) = client_for(&server);

    client
        .execute(&CreateTags {
            resourceids: vec![VM.into()],
            resourcetype: "UserVm".into(),
            tags: vec![
                ("director".into(), "bosh".into()),
                ("deployment".into(), "cf".into()),
            ],
        })
        .await
        .unwrap();
    let sent = only_form(&server, "createTags").await;
    assert_eq!(sent["tags[1].key"], "deployment");
    assert_eq!(sent["resourcetype"], "UserVm");
    client
        .execute(&DeleteTags {
            resourceids: vec![VM.into()],
            resourcetype: "UserVm".into(),
            keys: vec!["director".into()],
        })
        .await
        .unwrap();
    assert_eq!(
        only_form(&server, "deleteTags").await["tags[0].key"],
        "director"
    );
    let tags = client
        .list(&ListTags {
            resourceid: Some(VM.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(tags[0].value.as_deref(), Some("bosh"));

    let key = client
        .execute(&CreateSshKeyPair {
            name: "testSSHKey".into(),
        })
        .await
        .unwrap();
    assert!(
        key.privatekey
            .unwrap()
            .expose_secret()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----")
    );
    let registered = client
        .execute(&RegisterSshKeyPair {
            name: "bosh".into(),
            publickey: "ssh-ed25519 AAAA test".into(),
        })
        .await
        .unwrap();
    assert_eq!(registered.fingerprint.as_deref(), Some("aa:bb"));
    assert_eq!(
        only_form(&server, "registerSSHKeyPair").await["publickey"],
        "ssh-ed25519 AAAA test"
    );
    client
        .execute(&DeleteSshKeyPair {
            name: "bosh".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        client.list(&ListSshKeyPairs::default()).await.unwrap()[0].name,
        "testSSHKey"
    );

    let group = client
        .execute(&CreateAffinityGroup {
            name: "web".into(),
            group_type: "host anti-affinity".into(),
            description: None,
        })
        .await
        .unwrap();
    assert_eq!(group.id, "5059d7e3-9213-448d-9314-6ae4e1d95a33");
    assert_eq!(
        only_form(&server, "createAffinityGroup").await["type"],
        "host anti-affinity"
    );
    client
        .execute(&DeleteAffinityGroup {
            name: Some("web".into()),
            id: None,
        })
        .await
        .unwrap();
    assert_eq!(
        client.list(&ListAffinityGroups::default()).await.unwrap()[0].id,
        "ag-1"
    );

    let sg = client
        .execute(&CreateSecurityGroup {
            name: "bosh".into(),
            description: None,
        })
        .await
        .unwrap();
    assert_eq!(sg.id, "sg-1");
    client
        .execute(&DeleteSecurityGroup {
            id: Some("sg-1".into()),
            name: None,
        })
        .await
        .unwrap();
    let groups = client.list(&ListSecurityGroups::default()).await.unwrap();
    assert_eq!(groups[0].ingressrule[0].endport, Some(22));

    assert_eq!(
        client.list(&ListProjects::default()).await.unwrap()[0].id,
        "p-1"
    );
    assert_eq!(
        client.list(&ListAsyncJobs::default()).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn zone_offering_and_os_type_lists_round_trip() {
    let server = MockServer::start().await;
    mount_sync(&server, "listZones", fixture("listZones.json")).await;
    mount_sync(
        &server,
        "listServiceOfferings",
        json!({"listserviceofferingsresponse": {"count": 1,
        "serviceoffering": [fixture_payload("createServiceOffering.json")["serviceoffering"]]}}),
    )
    .await;
    mount_sync(&server, "listOsTypes", json!({"listostypesresponse": {"count": 1, "ostype": [
        {"id": "os-1", "description": "Ubuntu 22.04 LTS", "oscategoryid": "cat", "isuserdefined": "false"}
    ]}})).await;
    let (client, _) = client_for(&server);
    let zones = client
        .list(&ListZones {
            available: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(zones[0].name.as_deref(), Some("test0"));
    assert_eq!(only_form(&server, "listZones").await["available"], "true");
    let offerings = client.list(&ListServiceOfferings::default()).await.unwrap();
    assert_eq!(offerings[0].cpuspeed, Some(1000));
    let types = client.list(&ListOsTypes::default()).await.unwrap();
    assert_eq!(types[0].isuserdefined, Some(false));
}
