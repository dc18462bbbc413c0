//! The WebDAV file system: dav-server's `LocalFs` plus dead properties.
//!
//! `LocalFs` stores no dead properties (PROPPATCH), which WebDAV clients and litmus' `props`
//! group expect. They are kept in memory here, keyed by store path, and follow MOVE and COPY.
//! They are operator annotations with no meaning to the CPI, so losing them on a daemon
//! restart is acceptable; the file contents are what matter and those live on disk.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use dav_server::davpath::DavPath;
use dav_server::fs::{
    DavDirEntry, DavFile, DavFileSystem, DavMetaData, DavProp, FsFuture, FsStream, OpenOptions,
    ReadDirMeta,
};
use dav_server::localfs::LocalFs;
use futures_util::FutureExt as _;
use http::StatusCode;

type PropMap = HashMap<String, HashMap<String, DavProp>>;

/// `LocalFs` with in-memory dead properties.
#[derive(Clone)]
pub(crate) struct PropFs {
    inner: Box<LocalFs>,
    props: Arc<Mutex<PropMap>>,
}

impl PropFs {
    pub(crate) fn new(root: &std::path::Path) -> Box<Self> {
        Box::new(Self {
            // public=false: files and directories are created 0600/0700; only the daemon reads them.
            inner: LocalFs::new(root, false, false, false),
            props: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    fn props(&self) -> MutexGuard<'_, PropMap> {
        // The map holds no invariant a panic could break half-way, so a poisoned lock is usable.
        self.props
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn forget(&self, path: &DavPath) {
        let key = key(path);
        let prefix = format!("{key}/");
        self.props()
            .retain(|stored, _| stored != &key && !stored.starts_with(&prefix));
    }
}

fn key(path: &DavPath) -> String {
    path.as_rel_ospath().to_string_lossy().into_owned()
}

fn prop_key(prop: &DavProp) -> String {
    format!(
        "{}\u{0}{}",
        prop.namespace.as_deref().unwrap_or(""),
        prop.name
    )
}

fn without_value(prop: &DavProp) -> DavProp {
    DavProp {
        name: prop.name.clone(),
        prefix: prop.prefix.clone(),
        namespace: prop.namespace.clone(),
        xml: None,
    }
}

impl DavFileSystem for PropFs {
    fn open<'a>(
        &'a self,
        path: &'a DavPath,
        options: OpenOptions,
    ) -> FsFuture<'a, Box<dyn DavFile>> {
        self.inner.open(path, options)
    }

    fn read_dir<'a>(
        &'a self,
        path: &'a DavPath,
        meta: ReadDirMeta,
    ) -> FsFuture<'a, FsStream<Box<dyn DavDirEntry>>> {
        self.inner.read_dir(path, meta)
    }

    fn metadata<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, Box<dyn DavMetaData>> {
        self.inner.metadata(path)
    }

    fn symlink_metadata<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, Box<dyn DavMetaData>> {
        self.inner.symlink_metadata(path)
    }

    fn create_dir<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        self.inner.create_dir(path)
    }

    fn remove_dir<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            self.inner.remove_dir(path).await?;
            self.forget(path);
            Ok(())
        }
        .boxed()
    }

    fn remove_file<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            self.inner.remove_file(path).await?;
            self.forget(path);
            Ok(())
        }
        .boxed()
    }

    fn rename<'a>(&'a self, from: &'a DavPath, to: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            self.inner.rename(from, to).await?;
            let (from, to) = (key(from), key(to));
            let prefix = format!("{from}/");
            let mut props = self.props();
            let target_prefix = format!("{to}/");
            props.retain(|stored, _| stored != &to && !stored.starts_with(&target_prefix));
            let moved: Vec<String> = props
                .keys()
                .filter(|stored| **stored == from || stored.starts_with(&prefix))
                .cloned()
                .collect();
            for old in moved {
                if let Some(value) = props.remove(&old) {
                    let new = format!("{to}{}", &old[from.len()..]);
                    props.insert(new, value);
                }
            }
            Ok(())
        }
        .boxed()
    }

    fn copy<'a>(&'a self, from: &'a DavPath, to: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            self.inner.copy(from, to).await?;
            let mut props = self.props();
            match props.get(&key(from)).cloned() {
                Some(copied) => props.insert(key(to), copied),
                None => props.remove(&key(to)),
            };
            Ok(())
        }
        .boxed()
    }

    fn set_accessed<'a>(&'a self, path: &'a DavPath, tm: SystemTime) -> FsFuture<'a, ()> {
        self.inner.set_accessed(path, tm)
    }

    fn set_modified<'a>(&'a self, path: &'a DavPath, tm: SystemTime) -> FsFuture<'a, ()> {
        self.inner.set_modified(path, tm)
    }

    fn have_props<'a>(
        &'a self,
        _path: &'a DavPath,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>> {
        futures_util::future::ready(true).boxed()
    }

    fn patch_props<'a>(
        &'a self,
        path: &'a DavPath,
        patch: Vec<(bool, DavProp)>,
    ) -> FsFuture<'a, Vec<(StatusCode, DavProp)>> {
        async move {
            // The resource must exist; properties of nothing would leak into a later PUT.
            self.inner.metadata(path).await?;
            let mut props = self.props();
            let entry = props.entry(key(path)).or_default();
            let mut result = Vec::with_capacity(patch.len());
            for (set, prop) in patch {
                let answer = without_value(&prop);
                if set {
                    entry.insert(prop_key(&prop), prop);
                } else {
                    // Removing an absent property succeeds (RFC 4918 §9.2).
                    entry.remove(&prop_key(&prop));
                }
                result.push((StatusCode::OK, answer));
            }
            Ok(result)
        }
        .boxed()
    }

    fn get_props<'a>(&'a self, path: &'a DavPath, do_content: bool) -> FsFuture<'a, Vec<DavProp>> {
        async move {
            self.inner.metadata(path).await?;
            let props = self.props();
            Ok(props
                .get(&key(path))
                .map(|stored| {
                    stored
                        .values()
                        .map(|p| {
                            if do_content {
                                p.clone()
                            } else {
                                without_value(p)
                            }
                        })
                        .collect()
                })
                .unwrap_or_default())
        }
        .boxed()
    }

    fn get_prop<'a>(&'a self, path: &'a DavPath, prop: DavProp) -> FsFuture<'a, Vec<u8>> {
        async move {
            self.inner.metadata(path).await?;
            self.props()
                .get(&key(path))
                .and_then(|stored| stored.get(&prop_key(&prop)))
                .and_then(|p| p.xml.clone())
                .ok_or(dav_server::fs::FsError::NotFound)
        }
        .boxed()
    }

    fn get_quota(&'_ self) -> FsFuture<'_, (u64, Option<u64>)> {
        self.inner.get_quota()
    }
}
