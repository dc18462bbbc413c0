//! A short-lived cache of registry entries, so that agents polling their settings do not
//! cost a database round trip each.
//!
//! Every entry remembers the store's settings generation (see
//! `cpi_store::Store::settings_generation`) from before it was read, and is served only while
//! the generation is unchanged. So any change made through the same store object — by this
//! registry, or by `attach_disk` in the same daemon editing the persistent-disk map — is seen
//! by the very next read. Only changes made by another daemon sharing the database can stay
//! invisible, for at most the TTL (one second by default); agents retry failed reads, so that
//! bound is harmless. A TTL of zero disables the cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;

/// One VM's registry data as served.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The complete 200 response body, rendered once; `None` when only a credential exists.
    pub(crate) ok_body: Option<Bytes>,
    pub(crate) credential_hash: Option<String>,
}

/// When an entry was stored, the store's settings generation it was read at, and the entry.
type Slot = (Instant, u64, Arc<Entry>);

#[derive(Debug)]
pub(crate) struct EntryCache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<String, Slot>>,
}

impl EntryCache {
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        EntryCache {
            ttl,
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn enabled(&self) -> bool {
        !self.ttl.is_zero() && self.capacity > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        // A panic while holding the lock cannot leave the map inconsistent (every operation
        // is a single insert or remove), so a poisoned lock is still usable.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The entry, if it is younger than the TTL and was read at `generation`.
    pub(crate) fn get(&self, id: &str, generation: u64) -> Option<Arc<Entry>> {
        if !self.enabled() {
            return None;
        }
        let entries = self.lock();
        let (stored_at, read_at, entry) = entries.get(id)?;
        (stored_at.elapsed() < self.ttl && *read_at == generation).then(|| entry.clone())
    }

    /// Stores an entry read from the database after observing `generation`.
    pub(crate) fn insert(&self, id: &str, generation: u64, entry: Arc<Entry>) {
        if !self.enabled() {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            let ttl = self.ttl;
            entries.retain(|_, (stored_at, _, _)| stored_at.elapsed() < ttl);
            // Still full of fresh entries: start over rather than grow without bound.
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(id.to_string(), (Instant::now(), generation, entry));
    }

    pub(crate) fn invalidate(&self, id: &str) {
        self.lock().remove(id);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entry() -> Arc<Entry> {
        Arc::new(Entry {
            ok_body: None,
            credential_hash: Some("h".into()),
        })
    }

    #[test]
    fn capacity_is_bounded() {
        let cache = EntryCache::new(Duration::from_secs(60), 3);
        for i in 0..10 {
            cache.insert(&format!("vm-{i}"), 0, entry());
            assert!(cache.lock().len() <= 3);
        }
        assert!(cache.get("vm-9", 0).is_some());
    }

    #[test]
    fn invalidate_and_disabled() {
        let cache = EntryCache::new(Duration::from_secs(60), 10);
        cache.insert("vm", 0, entry());
        assert!(cache.get("vm", 0).is_some());
        cache.invalidate("vm");
        assert!(cache.get("vm", 0).is_none());
        let off = EntryCache::new(Duration::ZERO, 10);
        off.insert("vm", 0, entry());
        assert!(off.get("vm", 0).is_none());
    }

    #[test]
    fn a_newer_store_generation_makes_entries_stale() {
        let cache = EntryCache::new(Duration::from_secs(60), 10);
        cache.insert("vm", 7, entry());
        assert!(cache.get("vm", 7).is_some());
        assert!(
            cache.get("vm", 8).is_none(),
            "a settings write since the read hides the entry"
        );
    }
}
