//! The ephemeral-volume cleaner: deletes unattached volumes tagged `bosh_role=ephemeral` (and
//! this director's UUID when known) once they are older than a grace period.
//!
//! Such volumes are left behind when a `create_vm` or `delete_vm` fails halfway. The grace period
//! protects the window in which `create_vm` has created an ephemeral volume but not yet attached
//! it. The Go predecessor compared the age the wrong way round and deleted fresh volumes; here
//! "old enough" is `now - created >= grace`, tested on both sides.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cloudstack::CloudStackClient;
use cloudstack::commands::ListVolumes;
use cloudstack::types::Volume;
use cpi_config::EphemeralCleanerConfig;

use crate::ActionError;
use crate::tags::{keys, roles};
use crate::volumes;

/// What one cleaning pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanReport {
    /// Ephemeral volumes of this director that were looked at.
    pub examined: usize,
    /// Volumes deleted.
    pub deleted: Vec<String>,
    /// Volumes kept because they are attached to a VM.
    pub kept_attached: usize,
    /// Volumes kept because they are younger than the grace period or have no readable age.
    pub kept_fresh: usize,
    /// Volumes whose deletion failed, with the reason.
    pub failed: Vec<(String, String)>,
}

/// One cleaning pass. `now` is passed in so that tests can place it on either side of the grace
/// period.
pub async fn clean_orphan_ephemeral_volumes(
    cloud: &CloudStackClient,
    director_uuid: Option<&str>,
    grace: Duration,
    now: SystemTime,
) -> Result<CleanReport, ActionError> {
    let mut filter = vec![(keys::ROLE.to_owned(), roles::EPHEMERAL.to_owned())];
    if let Some(director) = director_uuid {
        filter.push((keys::DIRECTOR.to_owned(), director.to_owned()));
    }
    let candidates = cloud
        .list(&ListVolumes {
            volume_type: Some("DATADISK".to_owned()),
            tags: filter.clone(),
            listall: Some(true),
            ..ListVolumes::default()
        })
        .await
        .map_err(ActionError::cloudstack("listing ephemeral volumes"))?;
    let now_secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut report = CleanReport::default();
    // The tag filter is checked again here: a server that ignored it must not make us delete
    // volumes that are not ours.
    for volume in candidates.into_iter().filter(|v| carries_all(v, &filter)) {
        report.examined += 1;
        if volume.virtualmachineid.is_some() || volumes::is_gone(&volume) {
            report.kept_attached += usize::from(volume.virtualmachineid.is_some());
            continue;
        }
        let created = volume.created.as_deref().and_then(parse_cloudstack_time);
        // A timestamp in the future (clock skew) is not old.
        let old_enough = created
            .is_some_and(|created| created <= now_secs && now_secs - created >= grace.as_secs());
        if !old_enough {
            report.kept_fresh += 1;
            continue;
        }
        match volumes::delete(cloud, &volume.id).await {
            Ok(_) => {
                tracing::info!(volume_id = %volume.id, created = ?volume.created, "Deleted orphaned ephemeral volume.");
                report.deleted.push(volume.id);
            }
            Err(error) => {
                tracing::warn!(volume_id = %volume.id, error = %error, "Could not delete orphaned ephemeral volume.");
                report.failed.push((volume.id, error.to_string()));
            }
        }
    }
    tracing::info!(
        examined = report.examined,
        deleted = report.deleted.len(),
        kept_attached = report.kept_attached,
        kept_fresh = report.kept_fresh,
        failed = report.failed.len(),
        "Ephemeral volume cleaning pass finished."
    );
    Ok(report)
}

/// Runs cleaning passes every `config.interval` seconds until `shutdown` completes; returns at
/// once when the cleaner is disabled. A failed pass is logged and the next one runs on time.
///
/// `directors` is asked before each pass which directors' volumes to clean: the daemon only
/// learns a director's uuid from its requests, and a pass without one could delete another
/// director's volumes in a shared account.
pub async fn run_periodically(
    cloud: Arc<CloudStackClient>,
    directors: impl Fn() -> Vec<String>,
    config: EphemeralCleanerConfig,
    shutdown: impl Future<Output = ()>,
) {
    if !config.enabled {
        tracing::info!("The ephemeral volume cleaner is disabled.");
        return;
    }
    let period = Duration::from_secs(config.interval.max(1));
    let grace = Duration::from_secs(config.grace_period);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = ticks.tick() => {
                for director in directors() {
                    if let Err(error) =
                        clean_orphan_ephemeral_volumes(&cloud, Some(&director), grace, SystemTime::now()).await
                    {
                        tracing::warn!(error = %error, director, "Ephemeral volume cleaning pass failed.");
                    }
                }
            }
        }
    }
}

fn carries_all(volume: &Volume, wanted: &[(String, String)]) -> bool {
    wanted.iter().all(|(key, value)| {
        volume
            .tags
            .iter()
            .any(|tag| tag.key.as_deref() == Some(key) && tag.value.as_deref() == Some(value))
    })
}

/// Seconds since the epoch of a CloudStack timestamp, `2024-01-31T12:00:00+0000` (the offset may
/// also be written `+00:00` or `Z`).
fn parse_cloudstack_time(text: &str) -> Option<u64> {
    let text = text.trim();
    let (date, rest) = text.split_once('T')?;
    let mut date_parts = date.split('-');
    let year: i64 = date_parts.next()?.parse().ok()?;
    let month: i64 = date_parts.next()?.parse().ok()?;
    let day: i64 = date_parts.next()?.parse().ok()?;
    let clock = rest.get(..8)?;
    let offset = rest.get(8..)?;
    let mut clock_parts = clock.split(':');
    let hour: i64 = clock_parts.next()?.parse().ok()?;
    let minute: i64 = clock_parts.next()?.parse().ok()?;
    let second: i64 = clock_parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let offset_secs = match offset {
        "" | "Z" => 0,
        _ => {
            let sign = match offset.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = offset[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 {
                return None;
            }
            let hours: i64 = digits[..2].parse().ok()?;
            let minutes: i64 = digits[2..].parse().ok()?;
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    u64::try_from(local - offset_secs).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cloudstack_timestamps() {
        assert_eq!(parse_cloudstack_time("1970-01-01T00:00:00+0000"), Some(0));
        assert_eq!(
            parse_cloudstack_time("2023-11-14T22:13:20+0000"),
            Some(1_700_000_000)
        );
        assert_eq!(
            parse_cloudstack_time("2023-11-14T23:13:20+01:00"),
            Some(1_700_000_000)
        );
        assert_eq!(
            parse_cloudstack_time("2023-11-14T22:13:20Z"),
            Some(1_700_000_000)
        );
        assert_eq!(
            parse_cloudstack_time("2024-02-29T00:00:00-0500"),
            Some(1_709_182_800)
        );
        assert_eq!(parse_cloudstack_time("yesterday"), None);
        assert_eq!(parse_cloudstack_time("2024-13-01T00:00:00+0000"), None);
    }
}
