//! Browser-style template upload (`getUploadParamsForTemplate` + multipart POST), as served by
//! the secondary storage VM: the POST must carry `X-signature`, `X-metadata` and `X-expires`
//! exactly as issued, before the expiry.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::clock::format_cs_date;
use crate::signing::{hmac_sha1_base64, parse_expires};

/// How long upload parameters stay valid.
const UPLOAD_VALIDITY_MS: u64 = 60 * 60 * 1000;

/// The values `getUploadParamsForTemplate` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadParams {
    /// Where to POST.
    pub post_url: String,
    /// Opaque metadata (Base64 JSON naming the template).
    pub metadata: String,
    /// Expiry in CloudStack's date format.
    pub expires: String,
    /// Base64 HMAC-SHA1 over metadata, URL and expiry.
    pub signature: String,
}

impl UploadParams {
    /// Issues parameters for `template_id`.
    pub fn issue(upload_base: &str, key: &[u8], template_id: &str, now_ms: u64) -> Self {
        let post_url = format!("{upload_base}/{template_id}");
        let metadata = STANDARD.encode(format!("{{\"templateId\":\"{template_id}\"}}"));
        let expires = format_cs_date(now_ms.saturating_add(UPLOAD_VALIDITY_MS));
        let signature = sign(key, &metadata, &post_url, &expires);
        Self {
            post_url,
            metadata,
            expires,
            signature,
        }
    }
}

fn sign(key: &[u8], metadata: &str, post_url: &str, expires: &str) -> String {
    hmac_sha1_base64(key, format!("{metadata}{post_url}{expires}").as_bytes())
}

/// Why an upload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    /// A required header is missing.
    #[error("signature, metadata and expires are compulsory fields")]
    MissingHeaders,
    /// The signature does not match.
    #[error("signature validation failed")]
    BadSignature,
    /// `X-expires` is unparsable or past.
    #[error("upload request expired or has an invalid expiry: {0}")]
    Expired(String),
    /// Metadata names another template.
    #[error("metadata does not match the upload URL")]
    MetadataMismatch,
    /// The template does not exist or is not awaiting upload.
    #[error("template {0} is not awaiting an upload")]
    NotAwaiting(String),
    /// The body is not a usable multipart form.
    #[error("invalid multipart body: {0}")]
    Multipart(String),
}

/// Checks the three headers for an upload to `post_url`.
pub fn verify_headers(
    key: &[u8],
    post_url: &str,
    template_id: &str,
    signature: Option<&str>,
    metadata: Option<&str>,
    expires: Option<&str>,
    now_ms: u64,
) -> Result<(), UploadError> {
    let (Some(signature), Some(metadata), Some(expires)) = (signature, metadata, expires) else {
        return Err(UploadError::MissingHeaders);
    };
    let expected = sign(key, metadata, post_url, expires);
    let same = expected.len() == signature.len()
        && expected
            .bytes()
            .zip(signature.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return Err(UploadError::BadSignature);
    }
    let deadline =
        parse_expires(expires).ok_or_else(|| UploadError::Expired(expires.to_owned()))?;
    let now = i128::from(now_ms) * 1_000_000;
    if deadline.unix_timestamp_nanos() < now {
        return Err(UploadError::Expired(expires.to_owned()));
    }
    let decoded = STANDARD
        .decode(metadata)
        .map_err(|_| UploadError::MetadataMismatch)?;
    let text = String::from_utf8(decoded).map_err(|_| UploadError::MetadataMismatch)?;
    if !text.contains(&format!("\"templateId\":\"{template_id}\"")) {
        return Err(UploadError::MetadataMismatch);
    }
    Ok(())
}

/// Extracts the first file part (a part with a `filename`, else one named `file`) from a
/// `multipart/form-data` body.
pub fn extract_file<'b>(content_type: &str, body: &'b [u8]) -> Result<&'b [u8], UploadError> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty())
        .ok_or_else(|| UploadError::Multipart("missing boundary in Content-Type".into()))?;
    if !content_type
        .trim_start()
        .to_lowercase()
        .starts_with("multipart/form-data")
    {
        return Err(UploadError::Multipart(
            "Content-Type must be multipart/form-data".into(),
        ));
    }
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");
    let mut pos = find(body, delimiter.as_bytes(), 0)
        .ok_or_else(|| UploadError::Multipart("boundary not found".into()))?
        + delimiter.len();
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            break;
        }
        let headers_start = pos + 2;
        let headers_end = find(body, b"\r\n\r\n", headers_start)
            .ok_or_else(|| UploadError::Multipart("part headers not terminated".into()))?;
        let headers = String::from_utf8_lossy(&body[headers_start..headers_end]).to_lowercase();
        let content_start = headers_end + 4;
        let content_end = find(body, next_delimiter.as_bytes(), content_start)
            .ok_or_else(|| UploadError::Multipart("closing boundary not found".into()))?;
        if headers.contains("filename=") || headers.contains("name=\"file\"") {
            return Ok(&body[content_start..content_end]);
        }
        pos = content_end + next_delimiter.len();
    }
    Err(UploadError::Multipart("no file part".into()))
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_parameters_verify_and_tampering_fails() {
        let now = 1_893_456_000_000;
        let p = UploadParams::issue("http://h/upload", b"k", "t1", now);
        assert_eq!(p.post_url, "http://h/upload/t1");
        let ok = verify_headers(
            b"k",
            &p.post_url,
            "t1",
            Some(&p.signature),
            Some(&p.metadata),
            Some(&p.expires),
            now,
        );
        assert_eq!(ok, Ok(()));
        let bad = verify_headers(
            b"k",
            &p.post_url,
            "t1",
            Some("AAAA"),
            Some(&p.metadata),
            Some(&p.expires),
            now,
        );
        assert_eq!(bad, Err(UploadError::BadSignature));
        let late = verify_headers(
            b"k",
            &p.post_url,
            "t1",
            Some(&p.signature),
            Some(&p.metadata),
            Some(&p.expires),
            now + 2 * UPLOAD_VALIDITY_MS,
        );
        assert!(matches!(late, Err(UploadError::Expired(_))));
        let missing = verify_headers(
            b"k",
            &p.post_url,
            "t1",
            None,
            Some(&p.metadata),
            Some(&p.expires),
            now,
        );
        assert_eq!(missing, Err(UploadError::MissingHeaders));
    }

    #[test]
    fn multipart_file_extraction() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.vhd.bz2\"\r\nContent-Type: application/x-bzip\r\n\r\nDATA\r\nMORE\r\n--XyZ--\r\n";
        let file = extract_file("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(file, b"DATA\r\nMORE");
        assert!(extract_file("multipart/form-data", body).is_err());
        assert!(extract_file("multipart/form-data; boundary=nope", body).is_err());
    }
}
