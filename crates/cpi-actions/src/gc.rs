//! Template GC: frees the stemcell store and finishes interrupted publications.
//!
//! The daemon runs [`run`] at start and every `webdav.gc_interval`; `cpid gc --dry-run` calls
//! [`collect_for`] with `dry_run` and prints the report. Rules, in order:
//! 1. a store file whose template CloudStack reports ready is deleted (CloudStack has its copy);
//! 2. a store file whose record expired (`webdav.abandoned_file_ttl` after its last change) is
//!    deleted with its record, and its template too if it never became a ready stemcell;
//! 3. a file with no record, older than a short grace, is deleted, as are staging leftovers;
//! 4. a publication journaled as started longer than the TTL ago is finished: its template
//!    (found by its unique name) and its file are deleted, unless it became a ready stemcell;
//! 5. stemcells whose cleanup failed (state `failed`) get their template deleted again.
//!
//! Together these make publication crash-safe: whatever a killed daemon left behind matches
//! one rule. Light stemcells are never touched.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cloudstack::CloudStackClient;
use cloudstack::commands::{ListTemplates, TemplateFilter};
use cpi_store::{
    OperationFilter, OperationState, StemcellState, Store, StoreFileFilter, StoreFileState,
    now_millis,
};
use stemcell_store::StemcellStore;

use crate::stemcell::OPERATION_KIND;
use crate::stemcell::publish::{self, Progress};
use crate::{ActionError, Cpi};

/// Files without a record younger than this are left alone: they may be an operator's upload
/// in progress. Capped by the abandoned-file TTL so tests with a tiny TTL see them go.
const ORPHAN_GRACE: Duration = Duration::from_secs(60);

/// Tunables of one run.
#[derive(Debug, Clone)]
pub struct GcOptions {
    /// Report what would be deleted without deleting anything.
    pub dry_run: bool,
    /// `webdav.abandoned_file_ttl`.
    pub abandoned_ttl: Duration,
}

/// What a GC run deleted (or, dry, would delete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcAction {
    /// `file`, `template` or `operation`.
    pub kind: &'static str,
    /// Store path, template id or operation id.
    pub target: String,
    pub reason: String,
}

/// The outcome of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    pub dry_run: bool,
    pub actions: Vec<GcAction>,
    /// Failures; the next run retries.
    pub errors: Vec<String>,
}

struct Gc<'a> {
    store: &'a dyn Store,
    files: &'a StemcellStore,
    cloud: Option<&'a CloudStackClient>,
    options: &'a GcOptions,
    report: GcReport,
}

/// One GC run over the database `store`, the stemcell store `files` and, when given, CloudStack
/// (without it, only rules that need no API call run).
pub async fn collect(
    store: &dyn Store,
    files: &StemcellStore,
    cloud: Option<&CloudStackClient>,
    options: &GcOptions,
) -> GcReport {
    let mut gc = Gc {
        store,
        files,
        cloud,
        options,
        report: GcReport {
            dry_run: options.dry_run,
            ..GcReport::default()
        },
    };
    if let Err(error) = gc.records().await {
        gc.report.errors.push(error);
    }
    if let Err(error) = gc.journal().await {
        gc.report.errors.push(error);
    }
    if let Err(error) = gc.failed_stemcells().await {
        gc.report.errors.push(error);
    }
    if let Err(error) = gc.orphans().await {
        gc.report.errors.push(error);
    }
    gc.report
}

/// [`collect`] with the services of `cpi`: its database, its stemcell store (or one opened from
/// the configuration) and its CloudStack client.
pub async fn collect_for(cpi: &Cpi, dry_run: bool) -> Result<GcReport, ActionError> {
    let store = cpi.store().await?;
    let files = match cpi.stemcell_store() {
        Some(files) => Arc::clone(files),
        None => Arc::new(crate::stemcell::open_store(cpi.config())?),
    };
    let cloud = cpi.warm_client()?;
    let options = GcOptions {
        dry_run,
        abandoned_ttl: Duration::from_secs(cpi.config().webdav.abandoned_file_ttl),
    };
    Ok(collect(store.as_ref(), &files, Some(&cloud), &options).await)
}

/// Runs the GC now and then every `webdav.gc_interval` until `shutdown` completes.
pub async fn run(cpi: Arc<Cpi>, shutdown: impl std::future::Future<Output = ()>) {
    let interval = Duration::from_secs(cpi.config().webdav.gc_interval.max(1));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        match collect_for(&cpi, false).await {
            Ok(report) if !report.errors.is_empty() => {
                tracing::warn!(errors = ?report.errors, deleted = report.actions.len(), "template GC finished with errors");
            }
            Ok(report) => {
                tracing::debug!(deleted = report.actions.len(), "template GC finished");
            }
            Err(error) => tracing::warn!(error = %error, "template GC could not run"),
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

impl Gc<'_> {
    fn note(&mut self, kind: &'static str, target: &str, reason: String) {
        if self.options.dry_run {
            tracing::info!(kind, target, reason = %reason, "template GC would delete");
        } else {
            tracing::info!(kind, target, reason = %reason, "template GC deletes");
        }
        self.report.actions.push(GcAction {
            kind,
            target: target.to_owned(),
            reason,
        });
    }

    /// Deletes a store file and its record.
    async fn drop_file(&mut self, path: &str, reason: String) {
        self.note("file", path, reason);
        if self.options.dry_run {
            return;
        }
        match self.files.remove(path).await {
            Ok(_) => {
                if let Err(error) = self.store.delete_store_file(path).await {
                    self.report
                        .errors
                        .push(format!("forgetting {path}: {error}"));
                }
            }
            Err(error) => self.report.errors.push(format!("deleting {path}: {error}")),
        }
    }

    /// Deletes a template this CPI published and its stemcell record, unless it is light or
    /// became a ready stemcell.
    async fn drop_template(&mut self, template_id: &str, reason: String) {
        let record = match self.store.get_stemcell(template_id).await {
            Ok(record) => record,
            Err(error) => {
                self.report
                    .errors
                    .push(format!("reading stemcell {template_id}: {error}"));
                return;
            }
        };
        if record
            .as_ref()
            .is_some_and(|r| r.light || r.state == StemcellState::Ready)
        {
            return;
        }
        let Some(cloud) = self.cloud else {
            return;
        };
        self.note("template", template_id, reason);
        if self.options.dry_run {
            return;
        }
        match publish::delete_template(cloud, template_id).await {
            Ok(()) => {
                if let Err(error) = self.store.delete_stemcell(template_id).await {
                    self.report
                        .errors
                        .push(format!("forgetting stemcell {template_id}: {error}"));
                }
            }
            Err(error) => self.report.errors.push(error.to_string()),
        }
    }

    async fn template_ready(&mut self, template_id: &str) -> bool {
        let Some(cloud) = self.cloud else {
            return false;
        };
        match cloud
            .list(&ListTemplates {
                templatefilter: TemplateFilter::SelfOwned,
                id: Some(template_id.to_owned()),
                ..ListTemplates::default()
            })
            .await
        {
            Ok(copies) => {
                !copies.is_empty()
                    && copies
                        .iter()
                        .all(|t| publish::classify(t) == Progress::Ready)
            }
            Err(error) => {
                if !error.is_not_found() {
                    self.report
                        .errors
                        .push(format!("checking template {template_id}: {error}"));
                }
                false
            }
        }
    }

    /// Rules 1 and 2.
    async fn records(&mut self) -> Result<(), String> {
        let records = self
            .store
            .list_store_files(&StoreFileFilter::default())
            .await
            .map_err(|error| format!("listing store files: {error}"))?;
        let now = now_millis();
        for record in records {
            if record.state == StoreFileState::Ready {
                self.drop_file(
                    &record.path,
                    "CloudStack reported its template ready".to_owned(),
                )
                .await;
                continue;
            }
            if let Some(template_id) = &record.template_id {
                let stemcell_ready = matches!(
                    self.store.get_stemcell(template_id).await,
                    Ok(Some(s)) if s.state == StemcellState::Ready
                );
                if stemcell_ready || self.template_ready(template_id).await {
                    self.drop_file(
                        &record.path,
                        format!("CloudStack reported template {template_id} ready"),
                    )
                    .await;
                    continue;
                }
            }
            if record.expires_at.is_some_and(|at| at < now) {
                let why = match record.state {
                    StoreFileState::Failed => "its publication failed",
                    _ => "its publication was abandoned",
                };
                if let Some(template_id) = &record.template_id {
                    self.drop_template(
                        template_id,
                        format!("{why} (older than webdav.abandoned_file_ttl)"),
                    )
                    .await;
                }
                self.drop_file(
                    &record.path,
                    format!("{why} (older than webdav.abandoned_file_ttl)"),
                )
                .await;
            }
        }
        Ok(())
    }

    /// Rule 4.
    async fn journal(&mut self) -> Result<(), String> {
        let cutoff = now_millis() - self.options.abandoned_ttl;
        let started = self
            .store
            .list_operations(&OperationFilter {
                state: Some(OperationState::Started),
                started_before: Some(cutoff),
            })
            .await
            .map_err(|error| format!("listing the journal: {error}"))?;
        for operation in started.into_iter().filter(|o| o.kind == OPERATION_KIND) {
            let name = operation.payload["template_name"]
                .as_str()
                .map(str::to_owned);
            let path = operation.payload["store_path"].as_str().map(str::to_owned);
            if let (Some(name), Some(cloud)) = (&name, self.cloud) {
                match cloud
                    .list(&ListTemplates {
                        templatefilter: TemplateFilter::SelfOwned,
                        name: Some(name.clone()),
                        ..ListTemplates::default()
                    })
                    .await
                {
                    Ok(templates) => {
                        for template in templates.iter().filter(|t| t.name.as_deref() == Some(name))
                        {
                            self.drop_template(
                                &template.id,
                                format!("publication {} was interrupted", operation.id),
                            )
                            .await;
                        }
                    }
                    Err(error) => {
                        self.report
                            .errors
                            .push(format!("looking up template {name}: {error}"));
                        continue;
                    }
                }
            }
            if let Some(path) = &path {
                let record = self.store.get_store_file(path).await.ok().flatten();
                let on_disk = self
                    .files
                    .absolute(path)
                    .map(|p| p.exists())
                    .unwrap_or(false);
                if record.is_some() || on_disk {
                    self.drop_file(
                        path,
                        format!("publication {} was interrupted", operation.id),
                    )
                    .await;
                }
            }
            self.note(
                "operation",
                &operation.id,
                "interrupted publication closed".to_owned(),
            );
            if !self.options.dry_run
                && let Err(error) = self
                    .store
                    .finish_operation(
                        &operation.id,
                        OperationState::Failed,
                        Some("interrupted (daemon stopped); cleaned up by the template GC"),
                    )
                    .await
            {
                self.report
                    .errors
                    .push(format!("closing {}: {error}", operation.id));
            }
        }
        Ok(())
    }

    /// Rule 5.
    async fn failed_stemcells(&mut self) -> Result<(), String> {
        let stemcells = self
            .store
            .list_stemcells()
            .await
            .map_err(|error| format!("listing stemcells: {error}"))?;
        for stemcell in stemcells
            .into_iter()
            .filter(|s| s.state == StemcellState::Failed && !s.light)
        {
            self.drop_template(
                &stemcell.template_id,
                "its publication failed and its cleanup did not finish".to_owned(),
            )
            .await;
        }
        Ok(())
    }

    /// Rule 3.
    async fn orphans(&mut self) -> Result<(), String> {
        let listed = self
            .files
            .list_files()
            .await
            .map_err(|error| format!("listing the stemcell store: {error}"))?;
        let grace = ORPHAN_GRACE.min(self.options.abandoned_ttl);
        let now = SystemTime::now();
        for file in listed {
            let age = now.duration_since(file.modified).unwrap_or_default();
            if age < grace {
                continue;
            }
            if file.path.starts_with(".staging/") {
                self.note(
                    "file",
                    &file.path,
                    "leftover of an interrupted copy".to_owned(),
                );
                if !self.options.dry_run
                    && let Err(error) = self.files.remove_staged(&file.path).await
                {
                    self.report
                        .errors
                        .push(format!("deleting {}: {error}", file.path));
                }
                continue;
            }
            let known = self
                .store
                .get_store_file(&file.path)
                .await
                .map_err(|error| format!("reading the record of {}: {error}", file.path))?;
            if known.is_none() {
                self.note("file", &file.path, "no database record".to_owned());
                if !self.options.dry_run
                    && let Err(error) = self.files.remove(&file.path).await
                {
                    self.report
                        .errors
                        .push(format!("deleting {}: {error}", file.path));
                }
            }
        }
        Ok(())
    }
}

pub use crate::stemcell::{open_store, store_root};
