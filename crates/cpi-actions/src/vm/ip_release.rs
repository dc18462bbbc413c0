//! Expunge-aware reuse of static IPs.
//!
//! CloudStack keeps a destroyed VM's IPs until it is expunged, so the IP of a VM the director
//! just deleted may still be taken when the director recreates it. Instead of sleeping after
//! every delete (the predecessor's 30 s), `create_vm` deploys at once and, only if the deploy
//! says the IP is in use, finds the holder: one of our destroyed VMs is expunged on the spot
//! when the account may; otherwise the deploy is retried with backoff until
//! `cloudstack.ip_release_timeout`, and then fails with `ok_to_retry` naming the IP and holder.

use cloudstack::CloudStackError;
use cloudstack::commands::{ExpungeVirtualMachine, ListVirtualMachines};
use cloudstack::types::VirtualMachine;

use super::destroy::{self, is_permission_denied};
use super::networks::{NetworkPlan, NicPlan};
use crate::CallContext;
use crate::tags::keys;

/// Phrases CloudStack versions (and the emulator) use for a requested guest IP that is taken.
const IN_USE_PHRASES: &[&str] = &[
    "already in use",
    "already used",
    "is not available",
    "unable to acquire requested guest ip",
];

/// If `error` says a requested static IP is taken, which NIC and IP it is about.
pub(crate) fn ip_in_use<'a>(
    error: &CloudStackError,
    plan: &'a NetworkPlan,
) -> Option<(&'a NicPlan, &'a str)> {
    let text = error.errortext()?.to_ascii_lowercase();
    if !IN_USE_PHRASES.iter().any(|phrase| text.contains(phrase)) {
        return None;
    }
    let mentioned = |ip: &str| {
        text.match_indices(ip).any(|(at, _)| {
            // "10.0.0.1" must not match inside "10.0.0.12".
            !text[at + ip.len()..].starts_with(|c: char| c.is_ascii_digit())
        })
    };
    plan.static_ips()
        .find(|(_, ip)| mentioned(ip))
        .or_else(|| plan.static_ips().next())
}

/// Who holds a static IP.
#[derive(Debug, Clone)]
pub(crate) enum Holder {
    /// A VM the account can see.
    Visible(Box<VirtualMachine>),
    /// A VM this CPI destroyed without expunging (invisible to a user account).
    Journaled(String),
    /// Nobody the account can see or remembers.
    Unknown,
}

impl Holder {
    pub(crate) fn describe(&self) -> String {
        match self {
            Holder::Visible(vm) => format!(
                "VM {} ({}, state {})",
                vm.id,
                vm.name.as_deref().unwrap_or("unnamed"),
                vm.state.as_deref().unwrap_or("unknown")
            ),
            Holder::Journaled(id) => {
                format!("VM {id} (destroyed by this CPI, not yet expunged)")
            }
            Holder::Unknown => "a VM this account cannot see (destroyed VMs keep their IPs until CloudStack expunges them)".to_owned(),
        }
    }
}

/// Finds the VM holding `ip` on the NIC's network.
pub(crate) async fn find_holder(ctx: &CallContext, nic: &NicPlan, ip: &str) -> Holder {
    let visible = ctx
        .cloud
        .list(&ListVirtualMachines {
            networkid: Some(nic.network_id.clone()),
            listall: Some(true),
            ..ListVirtualMachines::default()
        })
        .await;
    match visible {
        Ok(vms) => {
            if let Some(vm) = vms.into_iter().find(|vm| {
                vm.nic.iter().any(|n| {
                    n.networkid.as_deref() == Some(nic.network_id.as_str())
                        && n.ipaddress.as_deref() == Some(ip)
                })
            }) {
                return Holder::Visible(Box::new(vm));
            }
        }
        Err(error) => {
            tracing::warn!(ip, error = %error, "Could not list the VMs of the network to find the IP holder.");
        }
    }
    match destroy::journaled_holders(ctx, &nic.network_id, ip)
        .await
        .into_iter()
        .next()
    {
        Some(id) => Holder::Journaled(id),
        None => Holder::Unknown,
    }
}

/// Whether a visible VM is one of ours: named by this CPI and tagged with our director.
fn is_ours(ctx: &CallContext, vm: &VirtualMachine) -> bool {
    let named = vm
        .name
        .as_deref()
        .is_some_and(|name| name.starts_with("vm-"));
    let tagged = ctx.director_uuid().is_some_and(|uuid| {
        vm.tags.iter().any(|tag| {
            tag.key.as_deref() == Some(keys::DIRECTOR) && tag.value.as_deref() == Some(uuid)
        })
    });
    named && tagged
}

/// Frees the IP if the holder is ours and already destroyed (or failed), by expunging it.
/// Returns whether something was expunged (then the deploy is worth retrying at once).
pub(crate) async fn try_free(ctx: &CallContext, holder: &Holder) -> bool {
    let vm_id = match holder {
        Holder::Visible(vm) => {
            let state = vm.state.as_deref().unwrap_or_default();
            let ours = is_ours(ctx, vm) || destroy::is_journaled(ctx, &vm.id).await;
            if !ours {
                return false;
            }
            match state {
                "Destroyed" => vm.id.clone(),
                "Error" => {
                    // A failed VM of ours: destroy it for good.
                    return destroy::destroy(ctx, &vm.id, &[], &[], true)
                        .await
                        .unwrap_or(false);
                }
                _ => return false,
            }
        }
        Holder::Journaled(id) => id.clone(),
        Holder::Unknown => return false,
    };
    match ctx
        .cloud
        .execute(&ExpungeVirtualMachine { id: vm_id.clone() })
        .await
    {
        Ok(()) => {
            tracing::info!(vm_cid = %vm_id, "Expunged a destroyed VM of ours to free its static IP.");
            true
        }
        // Already expunged since: the IP is free now.
        Err(error) if error.is_not_found() => true,
        Err(error) if is_permission_denied(&error) => {
            tracing::info!(vm_cid = %vm_id, "The account may not expunge; waiting for CloudStack to release the IP.");
            false
        }
        Err(error) => {
            tracing::warn!(vm_cid = %vm_id, error = %error, "Expunging the IP holder failed; waiting instead.");
            false
        }
    }
}
