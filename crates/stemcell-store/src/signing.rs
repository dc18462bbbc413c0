//! Signed download URLs: `/signed/<path>?expires=<unix seconds>&signature=<base64url>`, where the
//! signature is HMAC-SHA256 over `GET\n<path>\n<expires>` with a random per-store key.
//!
//! The key lives in a file readable only by the daemon (0600) next to the store root, outside the
//! WebDAV tree, so a WebDAV user cannot read it and it survives restarts (URLs handed to CloudStack
//! stay valid across a daemon restart).

use std::io::Write as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::StemcellStoreError;

const KEY_LEN: usize = 32;

/// Why a signed request was refused. The two cases are logged differently but answered alike
/// (403), so a prober learns nothing about which part was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    Expired,
    Forged,
}

/// Signs and verifies download URLs. `Debug` never shows the key.
pub(crate) struct UrlSigner {
    key: [u8; KEY_LEN],
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner([redacted])")
    }
}

impl UrlSigner {
    /// Reads the key at `path`, or creates it (0600, create-new so two daemons racing on one
    /// state directory cannot end up with different keys).
    pub(crate) fn load_or_create(path: &Path) -> Result<Self, StemcellStoreError> {
        let io = |during: &str| {
            let during = format!("{during} {}", path.display());
            move |source| StemcellStoreError::Io { during, source }
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                let key: [u8; KEY_LEN] =
                    bytes
                        .try_into()
                        .map_err(|_| StemcellStoreError::InvalidKey {
                            path: path.to_path_buf(),
                        })?;
                Ok(Self { key })
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; KEY_LEN] = rand::random();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                match options.open(path) {
                    Ok(mut file) => {
                        file.write_all(&key)
                            .map_err(io("writing the URL signing key"))?;
                        file.sync_all().map_err(io("syncing the URL signing key"))?;
                        Ok(Self { key })
                    }
                    // Another process created it first: use theirs.
                    Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(path)
                    }
                    Err(error) => Err(io("creating the URL signing key")(error)),
                }
            }
            Err(error) => Err(io("reading the URL signing key")(error)),
        }
    }

    fn mac(&self, path: &str, expires: u64) -> Hmac<Sha256> {
        // A 32-byte key is always accepted by HMAC; the fallback only satisfies the type.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
        mac.update(b"GET\n");
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// The signature of a GET of `path` valid until `expires` (Unix seconds).
    pub(crate) fn sign(&self, path: &str, expires: u64) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(path, expires).finalize().into_bytes())
    }

    /// Checks a signature in constant time, then the expiry.
    pub(crate) fn verify(
        &self,
        path: &str,
        expires: u64,
        signature: &str,
        now: u64,
    ) -> Result<(), SignatureError> {
        let provided = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| SignatureError::Forged)?;
        self.mac(path, expires)
            .verify_slice(&provided)
            .map_err(|_| SignatureError::Forged)?;
        if expires < now {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_path_and_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let signer = UrlSigner::load_or_create(&dir.path().join("key")).unwrap();
        let signature = signer.sign("a.qcow2", 100);
        assert_eq!(signer.verify("a.qcow2", 100, &signature, 50), Ok(()));
        assert_eq!(
            signer.verify("b.qcow2", 100, &signature, 50),
            Err(SignatureError::Forged)
        );
        assert_eq!(
            signer.verify("a.qcow2", 101, &signature, 50),
            Err(SignatureError::Forged)
        );
        assert_eq!(
            signer.verify("a.qcow2", 100, &signature, 101),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            signer.verify("a.qcow2", 100, "!!", 50),
            Err(SignatureError::Forged)
        );
        // The key persists: a second signer on the same file accepts the first one's URLs.
        let again = UrlSigner::load_or_create(&dir.path().join("key")).unwrap();
        assert_eq!(again.verify("a.qcow2", 100, &signature, 50), Ok(()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
