//! Service and disk offerings with their attributes, cached per endpoint.
//!
//! The client caches name-to-id look-ups only; `create_vm` also needs to know whether an
//! offering is customized (to send `details` or `size`) and whether it uses local storage. These
//! change only when an operator edits offerings, so the whole object is cached for a few
//! minutes and a warm `create_vm` lists no offering at all.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use cloudstack::CloudStackClient;
use cloudstack::commands::{ListDiskOfferings, ListServiceOfferings};
use cloudstack::types::{DiskOffering, ServiceOffering};

use crate::ActionError;
use crate::volumes::list_or_empty;

const TTL: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
enum Cached {
    Service(ServiceOffering),
    Disk(DiskOffering),
}

type Key = (String, &'static str, String);

fn cache() -> &'static Mutex<HashMap<Key, (Instant, Cached)>> {
    static CACHE: OnceLock<Mutex<HashMap<Key, (Instant, Cached)>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn key(cloud: &CloudStackClient, kind: &'static str, name_or_id: &str) -> Key {
    (
        cloud.config().endpoint.to_string(),
        kind,
        name_or_id.to_owned(),
    )
}

fn cached(key: &Key) -> Option<Cached> {
    let cache = cache().lock().ok()?;
    let (at, value) = cache.get(key)?;
    (at.elapsed() < TTL).then(|| value.clone())
}

fn remember(key: Key, value: Cached) {
    if let Ok(mut cache) = cache().lock() {
        cache.insert(key, (Instant::now(), value));
    }
}

fn is_uuid(text: &str) -> bool {
    uuid::Uuid::try_parse(text).is_ok()
}

/// Picks the one offering whose id or exact name is `name_or_id`.
fn single<T>(
    kind: &str,
    name_or_id: &str,
    items: Vec<T>,
    id: impl Fn(&T) -> &str,
    name: impl Fn(&T) -> Option<&str>,
) -> Result<T, ActionError> {
    let mut matches: Vec<T> = items
        .into_iter()
        .filter(|item| id(item) == name_or_id || name(item) == Some(name_or_id))
        .collect();
    match matches.len() {
        1 => Ok(matches.remove(0)),
        0 => Err(ActionError::CloudProperties(format!(
            "{kind} '{name_or_id}' not found in CloudStack"
        ))),
        n => Err(ActionError::CloudProperties(format!(
            "{kind} name '{name_or_id}' is ambiguous ({n} offerings have it); use its id"
        ))),
    }
}

/// The service offering named (or identified by) `name_or_id`.
pub(crate) async fn service_offering(
    cloud: &CloudStackClient,
    name_or_id: &str,
) -> Result<ServiceOffering, ActionError> {
    let key = key(cloud, "service", name_or_id);
    if let Some(Cached::Service(offering)) = cached(&key) {
        return Ok(offering);
    }
    let mut request = ListServiceOfferings::default();
    if is_uuid(name_or_id) {
        request.id = Some(name_or_id.to_owned());
    } else {
        request.name = Some(name_or_id.to_owned());
    }
    let items = list_or_empty(cloud.list(&request).await).map_err(ActionError::cloudstack(
        format!("looking up compute offering '{name_or_id}'"),
    ))?;
    let offering = single(
        "compute offering",
        name_or_id,
        items,
        |o| &o.id,
        |o| o.name.as_deref(),
    )?;
    remember(key, Cached::Service(offering.clone()));
    Ok(offering)
}

/// The disk offering named (or identified by) `name_or_id`.
pub(crate) async fn disk_offering(
    cloud: &CloudStackClient,
    name_or_id: &str,
) -> Result<DiskOffering, ActionError> {
    let key = key(cloud, "disk", name_or_id);
    if let Some(Cached::Disk(offering)) = cached(&key) {
        return Ok(offering);
    }
    let mut request = ListDiskOfferings::default();
    if is_uuid(name_or_id) {
        request.id = Some(name_or_id.to_owned());
    } else {
        request.name = Some(name_or_id.to_owned());
    }
    let items = list_or_empty(cloud.list(&request).await).map_err(ActionError::cloudstack(
        format!("looking up disk offering '{name_or_id}'"),
    ))?;
    let offering = single(
        "disk offering",
        name_or_id,
        items,
        |o| &o.id,
        |o| o.name.as_deref(),
    )?;
    remember(key, Cached::Disk(offering.clone()));
    Ok(offering)
}
