//! Template download, reproducing the secondary storage VM's `HttpTemplateDownloader`:
//! a plain GET without following redirects, `200` and `Content-Length` required, the checksum
//! computed over the bytes as served, and a resume with `Range: bytes=N-` (answered by `206`)
//! after a broken transfer. Progress is published as the template's `status` string.

use std::sync::Arc;
use std::time::Duration;

use md5::Digest as _;

use crate::server::Shared;

/// Hash algorithms accepted in `checksum` (`{ALG}hex`, or bare hex meaning MD5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlg {
    /// MD5 (default).
    Md5,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-512.
    Sha512,
}

/// A parsed `checksum` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksumSpec {
    /// Algorithm.
    pub alg: ChecksumAlg,
    /// Expected digest, lower-case hex.
    pub hex: String,
    /// The value as given (used in error texts).
    pub given: String,
}

impl ChecksumSpec {
    /// Parses `{SHA-256}abcd...` or bare MD5 hex. Java algorithm names are case-sensitive.
    pub fn parse(value: &str) -> Result<Self, String> {
        let (alg, hex) = match value.strip_prefix('{') {
            Some(rest) => {
                let (name, hex) = rest
                    .split_once('}')
                    .ok_or_else(|| format!("Invalid checksum {value}: missing closing brace"))?;
                let alg = match name {
                    "MD5" => ChecksumAlg::Md5,
                    "SHA-1" => ChecksumAlg::Sha1,
                    "SHA-256" => ChecksumAlg::Sha256,
                    "SHA-512" => ChecksumAlg::Sha512,
                    other => {
                        return Err(format!(
                            "Invalid checksum algorithm {other}; Java knows MD5, SHA-1, SHA-256, SHA-512"
                        ));
                    }
                };
                (alg, hex)
            }
            None => (ChecksumAlg::Md5, value),
        };
        let expected_len = match alg {
            ChecksumAlg::Md5 => 32,
            ChecksumAlg::Sha1 => 40,
            ChecksumAlg::Sha256 => 64,
            ChecksumAlg::Sha512 => 128,
        };
        if hex.len() != expected_len || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "Invalid checksum {value}: expected {expected_len} hex digits"
            ));
        }
        Ok(Self {
            alg,
            hex: hex.to_lowercase(),
            given: value.to_owned(),
        })
    }
}

/// An incremental hasher for any supported algorithm.
#[derive(Debug, Clone)]
pub enum Hasher {
    /// MD5.
    Md5(md5::Md5),
    /// SHA-1.
    Sha1(sha1::Sha1),
    /// SHA-256.
    Sha256(sha2::Sha256),
    /// SHA-512.
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// A fresh hasher.
    pub fn new(alg: ChecksumAlg) -> Self {
        match alg {
            ChecksumAlg::Md5 => Self::Md5(md5::Md5::new()),
            ChecksumAlg::Sha1 => Self::Sha1(sha1::Sha1::new()),
            ChecksumAlg::Sha256 => Self::Sha256(sha2::Sha256::new()),
            ChecksumAlg::Sha512 => Self::Sha512(sha2::Sha512::new()),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Md5(h) => h.update(data),
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }

    /// Lower-case hex digest.
    pub fn finish_hex(self) -> String {
        let bytes: Vec<u8> = match self {
            Self::Md5(h) => h.finalize().to_vec(),
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::Sha512(h) => h.finalize().to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Total executions of the GET (first try plus resumes).
const MAX_ATTEMPTS: u32 = 3;
/// How long one read may stall before the transfer counts as broken.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

enum Attempt {
    Done,
    Broken(String),
}

/// Downloads `url` for `template_id`, updating the template as it goes. Never panics; every
/// failure ends as an error status on the template.
pub async fn run(shared: Arc<Shared>, template_id: String, url: String, checksum: String) {
    let spec = if checksum.is_empty() {
        None
    } else {
        ChecksumSpec::parse(&checksum).ok()
    };
    match download(&shared, &template_id, &url, spec.as_ref()).await {
        Ok(size) => {
            tracing::info!(template_id = %template_id, size, "template download complete");
            shared.update_template(&template_id, |t| {
                t.size = size;
                t.status = "Download Complete".into();
                t.download_state = "DOWNLOADED".into();
                t.download_percent = 100;
                t.isready = true;
            });
        }
        Err(text) => {
            tracing::warn!(template_id = %template_id, error = %text, "template download failed");
            shared.update_template(&template_id, |t| {
                t.status = text.clone();
                t.download_state = "DOWNLOAD_ERROR".into();
                t.isready = false;
            });
        }
    }
}

async fn download(
    shared: &Shared,
    template_id: &str,
    url: &str,
    checksum: Option<&ChecksumSpec>,
) -> Result<u64, String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("Unable to create HTTP client: {e}"))?;
    let max_size = shared.max_template_size();
    let mut hasher = Hasher::new(checksum.map(|c| c.alg).unwrap_or(ChecksumAlg::Md5));
    let mut received: u64 = 0;
    let mut total: Option<u64> = None;
    let mut last_error = String::new();
    for attempt in 1..=MAX_ATTEMPTS {
        let resuming = received > 0;
        let mut request = client.get(url);
        if resuming {
            request = request.header(http::header::RANGE, format!("bytes={received}-"));
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                last_error = format!("Failed to download {url}: {e}");
                tracing::debug!(attempt, error = %last_error, "download request failed");
                continue;
            }
        };
        let status = response.status().as_u16();
        if resuming {
            if status != 206 {
                return Err("HTTP Server does not support partial get".into());
            }
        } else if (300..400).contains(&status) {
            return Err(format!(
                "Failed to download {url} due to redirection, response code: {status}"
            ));
        } else if status != 200 {
            return Err(format!(" HTTP Server returned {status} (expected 200 OK) "));
        }
        if total.is_none() {
            let length = response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| " Failed to receive length of download ".to_owned())?;
            if length > max_size {
                return Err("Download file size is too large".into());
            }
            total = Some(length);
        }
        let Some(expected) = total else {
            return Err(" Failed to receive length of download ".into());
        };
        match read_body(
            shared,
            template_id,
            response,
            &mut hasher,
            &mut received,
            expected,
        )
        .await
        {
            Attempt::Done => {
                if let Some(spec) = checksum {
                    let computed = hasher.finish_hex();
                    if computed != spec.hex {
                        return Err(format!(
                            "checksum \"{computed}\" didn't match the given value, \"{}\"",
                            spec.given
                        ));
                    }
                }
                return Ok(expected);
            }
            Attempt::Broken(text) => {
                tracing::debug!(attempt, received, error = %text, "transfer broken; will resume");
                last_error = text;
                if !shared.template_exists(template_id) {
                    return Err("Template was deleted during download".into());
                }
            }
        }
    }
    Err(if last_error.is_empty() {
        format!("Failed to download {url}")
    } else {
        last_error
    })
}

async fn read_body(
    shared: &Shared,
    template_id: &str,
    mut response: reqwest::Response,
    hasher: &mut Hasher,
    received: &mut u64,
    expected: u64,
) -> Attempt {
    let mut last_percent = u8::MAX;
    loop {
        if *received >= expected {
            return Attempt::Done;
        }
        let chunk = match tokio::time::timeout(READ_TIMEOUT, response.chunk()).await {
            Err(_) => return Attempt::Broken("Read timed out".into()),
            Ok(Err(e)) => return Attempt::Broken(format!("Transfer interrupted: {e}")),
            Ok(Ok(None)) => {
                return if *received >= expected {
                    Attempt::Done
                } else {
                    Attempt::Broken(format!(
                        "Transfer ended after {received} of {expected} bytes"
                    ))
                };
            }
            Ok(Ok(Some(chunk))) => chunk,
        };
        let room = usize::try_from(expected - *received).unwrap_or(usize::MAX);
        let usable = &chunk[..chunk.len().min(room)];
        hasher.update(usable);
        *received += usable.len() as u64;
        let percent = u8::try_from((*received * 100) / expected.max(1)).unwrap_or(100);
        if percent != last_percent {
            last_percent = percent;
            let still_exists = shared.update_template(template_id, |t| {
                t.download_percent = percent;
                t.download_state = "DOWNLOAD_IN_PROGRESS".into();
                t.status = if percent < 100 {
                    format!("{percent}% Downloaded")
                } else {
                    "Installing Template".into()
                };
            });
            if !still_exists {
                return Attempt::Broken("Template was deleted during download".into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_specs() {
        let md5 = ChecksumSpec::parse("0123456789abcdef0123456789ABCDEF").unwrap();
        assert_eq!(md5.alg, ChecksumAlg::Md5);
        assert_eq!(md5.hex, "0123456789abcdef0123456789abcdef");
        let sha = ChecksumSpec::parse(&format!("{{SHA-256}}{}", "a".repeat(64))).unwrap();
        assert_eq!(sha.alg, ChecksumAlg::Sha256);
        assert!(ChecksumSpec::parse(&format!("{{SHA256}}{}", "a".repeat(64))).is_err());
        assert!(ChecksumSpec::parse("xyz").is_err());
        assert!(ChecksumSpec::parse("{SHA-256abc").is_err());
    }

    #[test]
    fn hashers_match_known_digests() {
        let mut h = Hasher::new(ChecksumAlg::Sha256);
        h.update(b"abc");
        assert_eq!(
            h.finish_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut h = Hasher::new(ChecksumAlg::Md5);
        h.update(b"abc");
        assert_eq!(h.finish_hex(), "900150983cd24fb0d6963f7d28e17f72");
    }
}
