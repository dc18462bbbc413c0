//! Every typed call decodes the matching upstream fixture from the shared reference.
//!
//! Async fixtures store the final job payload under the command's own key (SOURCES.md,
//! caveat 1), so they go through the same `job_state` decoding as a `queryAsyncJobResult`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use cloudstack::commands::*;
use cloudstack::envelope::{self, JobState};
use cloudstack::types::*;
use cloudstack::{Command, ListCommand};
use common::fixture;

fn job_result<C: Command>(file: &str) -> C::Output {
    let body = envelope::unwrap(C::NAME, fixture(file)).unwrap();
    match envelope::job_state(&body).unwrap() {
        JobState::Succeeded(result) => C::decode(&result).unwrap(),
        other => panic!("{file}: unexpected job state {other:?}"),
    }
}

fn sync_result<C: Command>(file: &str) -> C::Output {
    let body = envelope::unwrap(C::NAME, fixture(file)).unwrap();
    C::decode(&body).unwrap()
}

fn list_items<L: ListCommand>(file: &str) -> (Option<u64>, Vec<L::Item>) {
    let body = envelope::unwrap(L::NAME, fixture(file)).unwrap();
    let page = envelope::list_page::<L::Item>(body, L::ITEM_KEY).unwrap();
    (page.count, page.items)
}

#[test]
fn deploy_start_stop_decode_virtual_machines() {
    let deployed = job_result::<DeployVirtualMachine>("deployVirtualMachine.json");
    assert_eq!(deployed.id, "915653c4-298b-4d74-bdee-4ced282114f1");
    assert_eq!(deployed.state.as_deref(), Some("Running"));
    assert_eq!(deployed.nic.len(), 1);
    assert_eq!(deployed.nic[0].ipaddress.as_deref(), Some("10.1.1.62"));
    assert_eq!(deployed.nic[0].isdefault, Some(true));
    assert_eq!(deployed.memory, Some(256));

    let started = job_result::<StartVirtualMachine>("startVirtualMachine.json");
    assert_eq!(started.state.as_deref(), Some("Running"));
    assert_eq!(started.instancename.as_deref(), Some("i-2-683-QA"));
    assert_eq!(
        started
            .details
            .get("Message.ReservedCapacityFreed.Flag")
            .map(String::as_str),
        Some("false")
    );

    let stopped = job_result::<StopVirtualMachine>("stopVirtualMachine.json");
    assert_eq!(stopped.state.as_deref(), Some("Stopped"));
    assert_eq!(stopped.jobstatus, Some(0));
}

#[test]
fn list_virtual_machines_decodes_despite_the_camel_case_wrapper() {
    let (count, vms) = list_items::<ListVirtualMachines>("listVirtualMachines.json");
    assert_eq!(count, Some(1));
    assert_eq!(vms[0].name.as_deref(), Some("testDummyVM"));
    assert_eq!(
        vms[0].nic[0].macaddress.as_deref(),
        Some("02:00:34:fb:00:01")
    );
}

#[test]
fn old_marvin_job_result_with_integer_ids_decodes() {
    let body = envelope::unwrap(
        "queryAsyncJobResult",
        fixture("queryAsyncJobResult-deployVirtualMachine-succeeded.json"),
    )
    .unwrap();
    let JobState::Succeeded(result) = envelope::job_state(&body).unwrap() else {
        panic!("expected success");
    };
    let vm = DeployVirtualMachine::decode(&result).unwrap();
    assert_eq!(vm.id, "37");
    assert_eq!(vm.zoneid.as_deref(), Some("1"));
    assert_eq!(vm.securitygroup[0].name.as_deref(), Some("default"));
}

#[test]
fn failed_job_fixture_gives_inner_error_and_outer_code() {
    let body = envelope::unwrap(
        "queryAsyncJobResult",
        fixture("queryAsyncJobResult-failed.json"),
    )
    .unwrap();
    match envelope::job_state(&body).unwrap() {
        JobState::Failed {
            jobresultcode,
            error,
        } => {
            assert_eq!(jobresultcode, 530);
            assert_eq!(error.errorcode, 431);
            assert!(
                error
                    .errortext
                    .starts_with("Please provide either a volume id")
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn async_submission_with_integer_job_id_decodes() {
    let body =
        envelope::unwrap("attachVolume", fixture("attachVolume-async-initial.json")).unwrap();
    let submission = envelope::submission(&body).unwrap();
    assert_eq!(submission.job_id, "24");
    assert_eq!(submission.object_id, None);
}

#[test]
fn error_envelope_fixture_decodes() {
    let body = envelope::unwrap(
        "queryAsyncJobResult",
        fixture("error-missing-parameter.json"),
    )
    .unwrap();
    let error = envelope::error_fields(&body).unwrap();
    assert_eq!(error.errorcode, 431);
    assert_eq!(error.cserrorcode, None);
    assert!(error.errortext.contains("missing parameter jobid"));
}

#[test]
fn empty_list_is_an_empty_vec() {
    let (count, templates) = list_items::<ListTemplates>("listTemplates-empty.json");
    assert_eq!(count, None);
    assert!(templates.is_empty());
}

#[test]
fn register_template_decodes_its_list_answer() {
    let template = sync_result::<RegisterTemplate>("registerTemplate.json");
    assert_eq!(template.id, "5ce8f0b1-a910-4631-a8de-1e332bf3a6b7");
    assert_eq!(template.status.as_deref(), Some("Download Complete"));
    assert_eq!(template.isready, Some(true));
    assert_eq!(template.size, Some(5_242_880));
    assert_eq!(template.downloaddetails[0].download_percent, Some(100));
}

#[test]
fn zones_offerings_and_networks_decode() {
    let (_, zones) = list_items::<ListZones>("listZones.json");
    assert_eq!(zones[0].id, "1");
    assert_eq!(zones[0].networktype.as_deref(), Some("Basic"));
    assert_eq!(zones[0].securitygroupsenabled, Some(true));

    let (_, disks) = list_items::<ListDiskOfferings>("listDiskOfferings.json");
    assert_eq!(disks[0].disksize, Some(0));
    assert_eq!(disks[0].iscustomized, Some(true));

    let offering: ServiceOffering = envelope::object(
        &envelope::unwrap(
            "createServiceOffering",
            fixture("createServiceOffering.json"),
        )
        .unwrap(),
        "serviceoffering",
    )
    .unwrap();
    assert_eq!((offering.cpunumber, offering.memory), (Some(2), Some(2048)));

    let (_, networks) = list_items::<ListNetworks>("listNetworks.json");
    assert_eq!(networks[0].cidr.as_deref(), Some("10.1.1.0/24"));
    assert!(
        networks[0]
            .service
            .iter()
            .any(|s| s.name.as_deref() == Some("Lb"))
    );
}

#[test]
fn tags_ip_affinity_and_keys_decode() {
    job_result::<CreateTags>("createTags.json");
    job_result::<DeleteTags>("deleteTags.json");

    let ip = job_result::<AssociateIpAddress>("associateIpAddress.json");
    assert_eq!(ip.ipaddress.as_deref(), Some("10.70.3.100"));
    assert_eq!(ip.isstaticnat, Some(false));

    let group = job_result::<CreateAffinityGroup>("createAffinityGroup.json");
    assert_eq!(group.group_type.as_deref(), Some("host affinity"));

    let key = sync_result::<CreateSshKeyPair>("createSSHKeyPair.json");
    assert_eq!(key.name, "testSSHKey");
    assert!(key.privatekey.is_some());
    assert!(!format!("{key:?}").contains("BEGIN RSA PRIVATE KEY"));

    let (_, keys) = list_items::<ListSshKeyPairs>("listSSHKeyPairs.json");
    assert_eq!(
        keys[0].fingerprint.as_deref(),
        Some("3b:f7:0b:34:40:0d:a5:3c:2a:75:f8:82:1d:88:99:36")
    );

    let (_, jobs) = list_items::<ListAsyncJobs>("listAsyncJobs.json");
    assert_eq!(jobs[0].jobid, "6679e6b9-4bf2-4d83-b9f0-235fc1609227");

    envelope::success(
        &envelope::unwrap("deleteDiskOffering", fixture("deleteDiskOffering.json")).unwrap(),
    )
    .unwrap();
}
