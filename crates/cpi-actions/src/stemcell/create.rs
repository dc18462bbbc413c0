//! `create_stemcell`: adopt a light template, or publish the image as a new template.
//!
//! Publication is journaled so that a crash at any point leaves records the GC can finish:
//! the operation (with the template name) is written first, then the store file record, then
//! the file, then the template; cleanup on failure runs in the reverse order.

use std::path::Path;
use std::time::Duration;

use cloudstack::commands::{
    GetUploadParamsForTemplate, ListTemplates, RegisterTemplate, TemplateFilter, TemplateSpec,
};
use cpi_config::PublishMode;
use cpi_protocol::JsonObject;
use cpi_store::{
    NewOperation, NewStemcell, NewStoreFile, OperationState, StemcellState, StoreFileState,
    now_millis,
};
use serde_json::{Value, json};
use stemcell_store::StemcellStore;
use tokio::io::AsyncReadExt as _;

use super::properties::{StemcellProperties, compression_suffix};
use super::publish::{self, Progress};
use super::{OPERATION_KIND, store_for};
use crate::tags::{self, ResourceType, keys};
use crate::{ActionError, CallContext};

pub(crate) async fn run(
    ctx: &CallContext,
    image_path: &str,
    cloud_properties: &JsonObject,
    env: Option<&JsonObject>,
) -> Result<Value, ActionError> {
    let properties = StemcellProperties::parse(cloud_properties, &ctx.config)?;
    if let Some(light) = &properties.light_template {
        return adopt_light(ctx, light, &properties).await;
    }
    let store = store_for(ctx)?;
    let mode = ctx.config.cloudstack.stemcell.publish_mode;
    if mode == PublishMode::Url && !store.has_public_url() {
        return Err(ActionError::Cloud(
            "webdav.public_url is not set: CloudStack has no URL to download the stemcell from (set webdav.listen and webdav.public_url, or cloudstack.stemcell.publish_mode: upload)".to_owned(),
        ));
    }
    let image = Path::new(image_path);
    let suffix = image_suffix(image).await?;
    // Resolve everything CloudStack must know before touching the disk, so configuration
    // mistakes fail in a second instead of after copying gigabytes.
    let zone_ids = zone_ids(ctx).await?;
    let os_type = &ctx.config.cloudstack.stemcell.os_type;
    let os_type_id = ctx
        .cloud
        .os_type_id(os_type)
        .await
        .map_err(ActionError::cloudstack(format!(
            "looking up the OS type '{os_type}' (cloudstack.stemcell.os_type)"
        )))?;

    let name = properties.template_name();
    let file = format!("{name}{}{suffix}", properties.format.extension());
    let mode_name = match mode {
        PublishMode::Url => "url",
        PublishMode::Upload => "upload",
    };
    let operation = ctx
        .store
        .start_operation(&NewOperation {
            kind: OPERATION_KIND.to_owned(),
            payload: json!({"template_name": name, "store_path": file, "publish_mode": mode_name}),
            ..NewOperation::default()
        })
        .await
        .map_err(ActionError::store("journaling the stemcell publication"))?;
    let publication = Publication {
        ctx,
        store: &store,
        properties: &properties,
        name: &name,
        file: &file,
        zone_ids: &zone_ids,
        os_type_id: &os_type_id,
        mode,
        mode_name,
    };
    let mut template_id = None;
    match publication.run(image, &mut template_id).await {
        Ok(id) => {
            finish(ctx, &operation.id, OperationState::Done, None).await;
            tag(ctx, &id, &properties, env).await;
            tracing::info!(template_id = %id, name, "stemcell published");
            Ok(Value::String(id))
        }
        Err(error) => {
            tracing::warn!(name, template_id = ?template_id, error = %error, "stemcell publication failed; cleaning up");
            publication.clean_up(template_id.as_deref()).await;
            finish(
                ctx,
                &operation.id,
                OperationState::Failed,
                Some(&error.to_string()),
            )
            .await;
            Err(error)
        }
    }
}

struct Publication<'a> {
    ctx: &'a CallContext,
    store: &'a StemcellStore,
    properties: &'a StemcellProperties,
    name: &'a str,
    file: &'a str,
    zone_ids: &'a [String],
    os_type_id: &'a str,
    mode: PublishMode,
    mode_name: &'a str,
}

impl Publication<'_> {
    fn abandoned_at(&self) -> time::OffsetDateTime {
        now_millis() + Duration::from_secs(self.ctx.config.webdav.abandoned_file_ttl)
    }

    async fn put_file(
        &self,
        template_id: Option<&str>,
        size: u64,
        sha256: Option<&str>,
        state: StoreFileState,
    ) -> Result<(), ActionError> {
        self.ctx
            .store
            .put_store_file(&NewStoreFile {
                path: self.file.to_owned(),
                template_id: template_id.map(str::to_owned),
                size: i64::try_from(size).unwrap_or(i64::MAX),
                sha256: sha256.map(str::to_owned),
                state,
                expires_at: Some(self.abandoned_at()),
            })
            .await
            .map_err(ActionError::store("recording the stemcell store file"))
    }

    async fn run(
        &self,
        image: &Path,
        template_id: &mut Option<String>,
    ) -> Result<String, ActionError> {
        let ctx = self.ctx;
        // The record exists before the file, so the GC never mistakes a file being imported
        // for an orphan, and a crash during the import leaves a record that expires.
        self.put_file(None, 0, None, StoreFileState::Uploading)
            .await?;
        let imported = self.store.import(image, self.file).await.map_err(|error| {
            ActionError::Cloud(format!(
                "bringing the stemcell image into the store: {error}"
            ))
        })?;
        self.put_file(
            None,
            imported.size,
            Some(&imported.sha256),
            StoreFileState::Published,
        )
        .await?;
        let checksum = format!("{{SHA-256}}{}", imported.sha256);
        let config = &ctx.config.cloudstack.stemcell;
        let spec = TemplateSpec {
            name: self.name.to_owned(),
            displaytext: Some(self.properties.display_text()),
            format: self.properties.format.api_name().to_owned(),
            hypervisor: self.properties.hypervisor.clone(),
            zoneid: self.zone_ids.first().cloned().unwrap_or_default(),
            ostypeid: self.os_type_id.to_owned(),
            ispublic: Some(false),
            isextractable: Some(false),
            passwordenabled: Some(false),
            requireshvm: Some(config.requires_hvm),
            bits: Some(64),
            checksum: Some(checksum.clone()),
            ..TemplateSpec::default()
        };
        let timeout = Duration::from_secs(config.publish_timeout);
        let id = match self.mode {
            PublishMode::Url => {
                let url = self.store.signed_url(self.file).map_err(|error| {
                    ActionError::Cloud(format!("signing the download URL: {error}"))
                })?;
                tracing::info!(
                    name = self.name,
                    path = self.file,
                    size = imported.size,
                    "registering the template (the SSVM downloads from the store)"
                );
                let template = ctx
                    .cloud
                    .execute(&RegisterTemplate {
                        spec,
                        url: url.to_string(),
                    })
                    .await
                    .map_err(ActionError::cloudstack(format!(
                        "registering template {}",
                        self.name
                    )))?;
                *template_id = Some(template.id.clone());
                self.record(&template.id, &checksum, imported.size, &imported.sha256)
                    .await?;
                template.id
            }
            PublishMode::Upload => {
                let params = ctx
                    .cloud
                    .execute(&GetUploadParamsForTemplate { spec })
                    .await
                    .map_err(ActionError::cloudstack(format!(
                        "requesting upload parameters for template {}",
                        self.name
                    )))?;
                *template_id = Some(params.id.clone());
                self.record(&params.id, &checksum, imported.size, &imported.sha256)
                    .await?;
                publish::upload(self.store, self.file, imported.size, &params, timeout).await?;
                params.id
            }
        };
        publish::wait_ready(&ctx.cloud, &id, timeout).await?;
        ctx.store
            .set_stemcell_state(&id, StemcellState::Ready)
            .await
            .map_err(ActionError::store("marking the stemcell ready"))?;
        // CloudStack has its own copy now: free the disk at once. If that fails, marking the
        // file ready hands it to the GC.
        match self.store.remove(self.file).await {
            Ok(_) => {
                if let Err(error) = ctx.store.delete_store_file(self.file).await {
                    tracing::warn!(path = self.file, error = %error, "could not drop the store file record; the GC will");
                }
            }
            Err(error) => {
                tracing::warn!(path = self.file, error = %error, "could not remove the published image; the GC will");
                let _ = ctx
                    .store
                    .set_store_file_state(self.file, StoreFileState::Ready)
                    .await;
            }
        }
        Ok(id)
    }

    async fn record(
        &self,
        template_id: &str,
        checksum: &str,
        size: u64,
        sha256: &str,
    ) -> Result<(), ActionError> {
        self.ctx
            .store
            .put_stemcell(&NewStemcell {
                template_id: template_id.to_owned(),
                name: self.name.to_owned(),
                zone_ids: self.zone_ids.to_vec(),
                format: self.properties.format.api_name().to_owned(),
                hypervisor: self.properties.hypervisor.clone(),
                checksum: Some(checksum.to_owned()),
                store_path: Some(self.file.to_owned()),
                publish_mode: self.mode_name.to_owned(),
                light: false,
                state: StemcellState::Creating,
            })
            .await
            .map_err(ActionError::store("recording the stemcell"))?;
        self.put_file(
            Some(template_id),
            size,
            Some(sha256),
            StoreFileState::Published,
        )
        .await
    }

    /// Removes the template, the file and their records. Whatever cannot be removed now is
    /// left marked failed with an expiry, for the GC.
    async fn clean_up(&self, template_id: Option<&str>) {
        let ctx = self.ctx;
        if let Some(id) = template_id {
            match publish::delete_template(&ctx.cloud, id).await {
                Ok(()) => {
                    let _ = ctx.store.delete_stemcell(id).await;
                }
                Err(error) => {
                    tracing::warn!(template_id = id, error = %error, "could not delete the failed template; the GC will retry");
                    let _ = ctx
                        .store
                        .set_stemcell_state(id, StemcellState::Failed)
                        .await;
                }
            }
        }
        match self.store.remove(self.file).await {
            Ok(_) => {
                let _ = ctx.store.delete_store_file(self.file).await;
            }
            Err(error) => {
                tracing::warn!(path = self.file, error = %error, "could not remove the image of the failed publication; the GC will");
                let _ = ctx
                    .store
                    .set_store_file_state(self.file, StoreFileState::Failed)
                    .await;
            }
        }
    }
}

async fn finish(ctx: &CallContext, id: &str, state: OperationState, error: Option<&str>) {
    if let Err(failure) = ctx.store.finish_operation(id, state, error).await {
        tracing::warn!(operation = id, error = %failure, "could not close the journal entry; the GC will");
    }
}

/// The compression suffix of the image, checking on the way that it is a readable file.
async fn image_suffix(image: &Path) -> Result<&'static str, ActionError> {
    let unreadable = |error: std::io::Error| {
        ActionError::Cloud(format!(
            "cannot read the stemcell image {}: {error}",
            image.display()
        ))
    };
    let mut file = tokio::fs::File::open(image).await.map_err(unreadable)?;
    if !file.metadata().await.map_err(unreadable)?.is_file() {
        return Err(ActionError::Cloud(format!(
            "the stemcell image {} is not a regular file",
            image.display()
        )));
    }
    let mut head = [0u8; 4];
    let mut filled = 0;
    while filled < head.len() {
        let read = file.read(&mut head[filled..]).await.map_err(unreadable)?;
        if read == 0 {
            break;
        }
        filled += read;
    }
    Ok(compression_suffix(&head[..filled]))
}

/// `cloudstack.stemcell.zones`, or the default zone, as ids.
async fn zone_ids(ctx: &CallContext) -> Result<Vec<String>, ActionError> {
    let configured = &ctx.config.cloudstack.stemcell.zones;
    let names: Vec<String> = if configured.is_empty() {
        vec![ctx.config.cloudstack.default_zone.clone()]
    } else {
        configured.clone()
    };
    let mut ids = Vec::with_capacity(names.len());
    for zone in &names {
        ids.push(
            ctx.cloud
                .zone_id(zone)
                .await
                .map_err(ActionError::cloudstack(format!("looking up zone '{zone}'")))?,
        );
    }
    if ids.len() > 1 {
        tracing::warn!(zones = ?names, "templates are registered in the first configured zone only; copy them to the others with copyTemplate");
    }
    Ok(ids)
}

/// Tags the new template with the env's tags plus the CPI's ownership marks. Tags are for
/// people: ownership is decided by the database, so a tagging failure only warns.
async fn tag(
    ctx: &CallContext,
    template_id: &str,
    properties: &StemcellProperties,
    env: Option<&JsonObject>,
) {
    let mut wanted = env
        .and_then(|env| env.get("tags"))
        .and_then(Value::as_object)
        .map(tags::metadata_to_tags)
        .unwrap_or_default();
    wanted.insert(
        keys::STEMCELL.to_owned(),
        format!("{} {}", properties.name, properties.version)
            .trim()
            .to_owned(),
    );
    if let Some(director) = ctx.director_uuid() {
        wanted.insert(keys::DIRECTOR.to_owned(), director.to_owned());
    }
    if let Err(error) =
        tags::set_tags(&ctx.cloud, ResourceType::Template, template_id, &wanted).await
    {
        tracing::warn!(template_id, error = %error, "could not tag the template");
    }
}

/// A light stemcell: an existing template, by id or name, that must be ready. It is recorded
/// as light so `delete_stemcell` never deletes it.
async fn adopt_light(
    ctx: &CallContext,
    reference: &str,
    properties: &StemcellProperties,
) -> Result<Value, ActionError> {
    let by_id = uuid::Uuid::parse_str(reference).is_ok();
    let query = ListTemplates {
        templatefilter: TemplateFilter::Executable,
        id: by_id.then(|| reference.to_owned()),
        name: (!by_id).then(|| reference.to_owned()),
        ..ListTemplates::default()
    };
    let found = match ctx.cloud.list(&query).await {
        Ok(found) => found,
        Err(error) if error.is_not_found() => Vec::new(),
        Err(source) => {
            return Err(ActionError::CloudStack {
                during: format!("looking up the light stemcell template '{reference}'"),
                source,
            });
        }
    };
    let matching: Vec<_> = found
        .into_iter()
        .filter(|t| by_id || t.name.as_deref() == Some(reference))
        .collect();
    let Some(template) = matching
        .iter()
        .find(|t| classify_ready(t))
        .or_else(|| matching.first())
    else {
        return Err(ActionError::Cloud(format!(
            "light stemcell template '{reference}' (light_template) does not exist or is not usable by this account"
        )));
    };
    if !classify_ready(template) {
        return Err(ActionError::Cloud(format!(
            "light stemcell template '{reference}' is not ready: '{}'",
            template.status.as_deref().unwrap_or("unknown status")
        )));
    }
    let id = template.id.clone();
    let existing = ctx
        .store
        .get_stemcell(&id)
        .await
        .map_err(ActionError::store("reading the stemcell record"))?;
    // A template this CPI published keeps its (non-light) record: it stays deletable.
    if existing.is_none() {
        ctx.store
            .put_stemcell(&NewStemcell {
                template_id: id.clone(),
                name: template
                    .name
                    .clone()
                    .unwrap_or_else(|| reference.to_owned()),
                zone_ids: template.zoneid.clone().into_iter().collect(),
                format: template.format.clone().unwrap_or_default(),
                hypervisor: template
                    .hypervisor
                    .clone()
                    .unwrap_or_else(|| properties.hypervisor.clone()),
                checksum: None,
                store_path: None,
                publish_mode: "light".to_owned(),
                light: true,
                state: StemcellState::Ready,
            })
            .await
            .map_err(ActionError::store("recording the light stemcell"))?;
    }
    tracing::info!(template_id = %id, reference, "light stemcell adopted");
    Ok(Value::String(id))
}

fn classify_ready(template: &cloudstack::types::Template) -> bool {
    publish::classify(template) == Progress::Ready
}
