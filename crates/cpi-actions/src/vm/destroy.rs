//! Destroying a VM, with expunge when allowed, shared by `delete_vm` and `create_vm`'s cleanup.
//!
//! A destroyed VM keeps its IPs until CloudStack expunges it. When the account may not expunge
//! (or `cloudstack.expunge_vm` is false), the VM and its addresses are written to the operations
//! journal, because a user account cannot even see destroyed VMs: the journal is how a later
//! `create_vm` recognises the holder of a static IP as one of ours and expunges it.

use cloudstack::CloudStackError;
use cloudstack::commands::DestroyVirtualMachine;
use cloudstack::types::VirtualMachine;
use cpi_store::{NewOperation, OperationFilter, OperationState};
use serde_json::{Value, json};

use crate::CallContext;

/// The journal kind of a VM destroyed but not expunged.
pub(crate) const DESTROYED_KIND: &str = "vm_destroyed";

const PERMISSION_DENIED: u16 = 531;

/// Whether CloudStack refused because the account lacks a permission.
pub(crate) fn is_permission_denied(error: &CloudStackError) -> bool {
    error.errorcode() == Some(PERMISSION_DENIED)
}

/// The (network id, IP) pairs a VM holds.
pub(crate) fn addresses(vm: &VirtualMachine) -> Vec<(String, String)> {
    vm.nic
        .iter()
        .filter_map(|nic| Some((nic.networkid.clone()?, nic.ipaddress.clone()?)))
        .collect()
}

/// Destroys `vm_id` (and the data volumes `volume_ids` with it), expunging when `expunge` is
/// set and the account may. Returns whether the VM was expunged. A VM already gone is success.
pub(crate) async fn destroy(
    ctx: &CallContext,
    vm_id: &str,
    addresses: &[(String, String)],
    volume_ids: &[String],
    expunge: bool,
) -> Result<bool, CloudStackError> {
    let request = |expunge: bool| DestroyVirtualMachine {
        id: vm_id.to_owned(),
        expunge: Some(expunge),
        volumeids: volume_ids.to_vec(),
    };
    let expunged = match ctx.cloud.execute(&request(expunge)).await {
        Ok(_) => expunge,
        Err(error) if error.is_not_found() => {
            tracing::info!(vm_cid = vm_id, "VM already gone; nothing to destroy.");
            return Ok(true);
        }
        Err(error) if expunge && is_permission_denied(&error) => {
            tracing::warn!(vm_cid = vm_id, error = %error,
                "The account may not expunge VMs; destroying without expunge. Its IPs stay taken until CloudStack expunges it.");
            match ctx.cloud.execute(&request(false)).await {
                Ok(_) => false,
                Err(error) if error.is_not_found() => return Ok(true),
                Err(error) => return Err(error),
            }
        }
        Err(error) => return Err(error),
    };
    if !expunged {
        journal_destroyed(ctx, vm_id, addresses).await;
    }
    tracing::info!(
        vm_cid = vm_id,
        expunged,
        volumes = volume_ids.len(),
        "VM destroyed."
    );
    Ok(expunged)
}

async fn journal_destroyed(ctx: &CallContext, vm_id: &str, addresses: &[(String, String)]) {
    let ips: Vec<Value> = addresses
        .iter()
        .map(|(network_id, ip)| json!({"network_id": network_id, "ip": ip}))
        .collect();
    let operation = NewOperation {
        kind: DESTROYED_KIND.to_owned(),
        vm_cid: Some(vm_id.to_owned()),
        payload: json!({ "ips": ips }),
        ..NewOperation::default()
    };
    let result = match ctx.store.start_operation(&operation).await {
        Ok(started) => {
            ctx.store
                .finish_operation(&started.id, OperationState::Done, None)
                .await
        }
        Err(error) => Err(error),
    };
    if let Err(error) = result {
        // Not fatal: without the record, a later create_vm waits for the IP instead of
        // expunging the holder.
        tracing::warn!(vm_cid = vm_id, error = %error, "Could not journal a destroyed, unexpunged VM.");
    }
}

/// VMs this CPI destroyed without expunging that held `ip` on `network_id`, newest first.
pub(crate) async fn journaled_holders(
    ctx: &CallContext,
    network_id: &str,
    ip: &str,
) -> Vec<String> {
    let operations = match ctx.store.list_operations(&OperationFilter::default()).await {
        Ok(operations) => operations,
        Err(error) => {
            tracing::warn!(error = %error, "Could not read the operations journal.");
            return Vec::new();
        }
    };
    let mut holders: Vec<String> = operations
        .into_iter()
        .filter(|op| op.kind == DESTROYED_KIND)
        .filter(|op| {
            op.payload["ips"].as_array().is_some_and(|ips| {
                ips.iter().any(|entry| {
                    entry["ip"].as_str() == Some(ip)
                        && entry["network_id"].as_str() == Some(network_id)
                })
            })
        })
        .filter_map(|op| op.vm_cid)
        .collect();
    holders.reverse();
    holders.dedup();
    holders
}

/// Whether this CPI journaled `vm_id` as destroyed without expunge.
pub(crate) async fn is_journaled(ctx: &CallContext, vm_id: &str) -> bool {
    match ctx.store.list_operations(&OperationFilter::default()).await {
        Ok(operations) => operations
            .iter()
            .any(|op| op.kind == DESTROYED_KIND && op.vm_cid.as_deref() == Some(vm_id)),
        Err(_) => false,
    }
}
