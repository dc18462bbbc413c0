//! Watching a template until CloudStack has it, uploading to the secondary storage VM, and
//! deleting templates.

use std::time::{Duration, Instant};

use cloudstack::CloudStackClient;
use cloudstack::commands::{DeleteTemplate, ListTemplates, TemplateFilter};
use cloudstack::types::{Template, UploadParams};
use futures_util::StreamExt as _;
use secrecy::ExposeSecret as _;
use stemcell_store::StemcellStore;

use crate::ActionError;

/// First and largest pause between two `listTemplates` polls. Small first so that quick
/// publications (and tests) return quickly; capped so a stalled download is noticed in seconds.
const FIRST_POLL: Duration = Duration::from_millis(200);
const MAX_POLL: Duration = Duration::from_secs(10);

/// What a template's `status` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Ready,
    /// Still downloading or installing; the status text.
    Pending(String),
    /// A download or installation error; CloudStack's text.
    Failed(String),
}

/// Classifies a `status`. Anything that is not known progress or success is an error text
/// (section 10.4 of the API notes: CloudStack puts the error text itself in `status`).
pub fn classify(template: &Template) -> Progress {
    let status = template.status.clone().unwrap_or_default();
    let trimmed = status.trim();
    if template.isready == Some(true)
        || matches!(
            trimmed,
            "Download Complete" | "Successfully Installed" | "Bypassed Secondary Storage"
        )
    {
        return Progress::Ready;
    }
    let lower = trimmed.to_ascii_lowercase();
    let pending = trimmed.is_empty()
        || lower.ends_with("% downloaded")
        || lower.ends_with("% uploaded")
        || matches!(
            lower.as_str(),
            "processing"
                | "installing template"
                | "not uploaded"
                | "upload in progress"
                | "uploaded"
                | "not downloaded"
                | "downloading"
                | "download in progress"
                | "not_downloaded"
                | "download_in_progress"
                | "not_uploaded"
                | "upload_in_progress"
                | "uploaded_to_secondary_storage"
        );
    if pending {
        Progress::Pending(status)
    } else {
        Progress::Failed(status)
    }
}

/// Polls `listTemplates templatefilter=self id=…` with backoff until every zone's copy is ready,
/// one fails, or `timeout` passes.
pub async fn wait_ready(
    cloud: &CloudStackClient,
    template_id: &str,
    timeout: Duration,
) -> Result<(), ActionError> {
    let deadline = Instant::now() + timeout;
    let mut pause = FIRST_POLL;
    let mut last_status = String::from("(none yet)");
    loop {
        let listed = cloud
            .list(&ListTemplates {
                templatefilter: TemplateFilter::SelfOwned,
                id: Some(template_id.to_owned()),
                ..ListTemplates::default()
            })
            .await;
        match listed {
            Ok(copies) if copies.is_empty() => {
                return Err(ActionError::Cloud(format!(
                    "template {template_id} disappeared while CloudStack was downloading it (last status: '{last_status}')"
                )));
            }
            Ok(copies) => {
                let mut all_ready = true;
                for copy in &copies {
                    match classify(copy) {
                        Progress::Ready => {}
                        Progress::Pending(status) => {
                            all_ready = false;
                            last_status = status;
                        }
                        Progress::Failed(status) => {
                            return Err(ActionError::Cloud(format!(
                                "CloudStack could not download the stemcell image for template {template_id}: '{}'",
                                redact_signature(status.trim())
                            )));
                        }
                    }
                }
                if all_ready {
                    return Ok(());
                }
                tracing::debug!(template_id, status = %last_status, "template not ready yet");
            }
            Err(error) if error.is_retryable() => {
                tracing::warn!(template_id, error = %error, "listTemplates failed; will retry");
            }
            Err(source) => {
                return Err(ActionError::CloudStack {
                    during: format!("watching the download of template {template_id}"),
                    source,
                });
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(ActionError::Cloud(format!(
                "template {template_id} was not ready after {}s (cloudstack.stemcell.publish_timeout); CloudStack's last status: '{}'",
                timeout.as_secs(),
                redact_signature(last_status.trim())
            )));
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 3 / 2).min(MAX_POLL);
    }
}

/// Deletes a template in every zone; a template already gone is success.
pub async fn delete_template(
    cloud: &CloudStackClient,
    template_id: &str,
) -> Result<(), ActionError> {
    match cloud
        .execute(&DeleteTemplate {
            id: template_id.to_owned(),
            zoneid: None,
            forced: None,
        })
        .await
    {
        Ok(()) => Ok(()),
        Err(error) if error.is_not_found() => Ok(()),
        Err(source) => Err(ActionError::CloudStack {
            during: format!("deleting template {template_id}"),
            source,
        }),
    }
}

/// Streams a store file to the secondary storage VM as `multipart/form-data` (field `file`)
/// with the `X-signature`, `X-metadata` and `X-expires` headers `getUploadParamsForTemplate`
/// issued. The body is built by hand so its length is known (the SSVM wants `Content-Length`)
/// and the file is read in chunks, never held in memory. TLS is verified.
pub async fn upload(
    store: &StemcellStore,
    path: &str,
    size: u64,
    params: &UploadParams,
    timeout: Duration,
) -> Result<(), ActionError> {
    let file = store
        .open(path)
        .await
        .map_err(|error| ActionError::Cloud(format!("opening the stemcell image: {error}")))?;
    let boundary = format!("bosh-stemcell-{}", uuid::Uuid::new_v4().simple());
    let file_name = path.rsplit('/').next().unwrap_or(path);
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let length = head.len() as u64 + size + tail.len() as u64;
    let body = futures_util::stream::once(async move { Ok(bytes_of(head)) })
        .chain(tokio_util::io::ReaderStream::with_capacity(
            file,
            256 * 1024,
        ))
        .chain(futures_util::stream::once(
            async move { Ok(bytes_of(tail)) },
        ));

    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in [
        ("X-signature", params.signature.expose_secret()),
        ("X-metadata", params.metadata.expose_secret()),
        ("X-expires", params.expires.as_str()),
    ] {
        let mut value = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
            ActionError::Cloud(format!(
                "getUploadParamsForTemplate returned an unusable {name}"
            ))
        })?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    headers.insert(
        reqwest::header::CONTENT_TYPE,
        reqwest::header::HeaderValue::from_str(&format!(
            "multipart/form-data; boundary={boundary}"
        ))
        .map_err(|_| ActionError::Internal("bad multipart boundary".to_owned()))?,
    );
    headers.insert(reqwest::header::CONTENT_LENGTH, length.into());
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        // CloudStack's SSVM has been reported to match these header names case-sensitively;
        // title case is the closest hyper can send to `X-signature`.
        .http1_title_case_headers()
        .build()
        .map_err(|error| ActionError::Internal(format!("building the upload client: {error}")))?;
    // The URL is not secret (the headers are), but keep logs short: host only.
    let host = url::Url::parse(&params.post_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    tracing::info!(
        path,
        size,
        host,
        "uploading the stemcell image to the secondary storage VM"
    );
    let send = client
        .post(&params.post_url)
        .headers(headers)
        .body(reqwest::Body::wrap_stream(body))
        .send();
    let response = tokio::time::timeout(timeout, send)
        .await
        .map_err(|_| {
            ActionError::Cloud(format!(
                "uploading the stemcell image to {host} did not finish within {}s",
                timeout.as_secs()
            ))
        })?
        .map_err(|error| {
            ActionError::Cloud(format!(
                "uploading the stemcell image to {host} failed: {}",
                error.without_url()
            ))
        })?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        return Err(ActionError::Cloud(format!(
            "the secondary storage VM refused the stemcell upload: HTTP {status}: {}",
            text.trim().chars().take(300).collect::<String>()
        )));
    }
    Ok(())
}

/// CloudStack quotes the download URL in its errors; the signature must not reach the
/// director's task log.
pub fn redact_signature(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("signature=") {
        let (before, after) = rest.split_at(at + "signature=".len());
        out.push_str(before);
        out.push_str("[redacted]");
        let end = after
            .find(|c: char| c == '&' || c == ':' || c == '"' || c == '\'' || c.is_whitespace())
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn bytes_of(text: String) -> bytes::Bytes {
    bytes::Bytes::from(text.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(status: &str, ready: bool) -> Template {
        serde_json::from_value(serde_json::json!({"id": "t", "status": status, "isready": ready}))
            .unwrap()
    }

    #[test]
    fn signatures_are_redacted() {
        assert_eq!(
            redact_signature(
                "Failed to download http://h/signed/a.vhd?expires=1&signature=AbC-_x: refused"
            ),
            "Failed to download http://h/signed/a.vhd?expires=1&signature=[redacted]: refused"
        );
        assert_eq!(redact_signature("plain"), "plain");
    }

    #[test]
    fn statuses() {
        assert_eq!(
            classify(&template("Download Complete", true)),
            Progress::Ready
        );
        assert!(matches!(
            classify(&template("35% Downloaded", false)),
            Progress::Pending(_)
        ));
        assert!(matches!(
            classify(&template("Installing Template", false)),
            Progress::Pending(_)
        ));
        assert!(matches!(
            classify(&template("Processing", false)),
            Progress::Pending(_)
        ));
        assert!(matches!(
            classify(&template("Not Uploaded", false)),
            Progress::Pending(_)
        ));
        assert_eq!(
            classify(&template(
                " HTTP Server returned 404 (expected 200 OK) ",
                false
            )),
            Progress::Failed(" HTTP Server returned 404 (expected 200 OK) ".to_owned())
        );
        assert!(matches!(
            classify(&template(
                "checksum \"a\" didn't match the given value, \"b\"",
                false
            )),
            Progress::Failed(_)
        ));
    }
}
