//! Registry credentials: the operator's, and one random credential per VM.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use cpi_store::{Store, StoreError};

/// A VM's registry credential. The password exists in plaintext only here, once, so the CPI
/// can put it in the VM's user data; the store keeps only its hash.
#[derive(Debug, Clone)]
pub struct VmCredential {
    /// The VM cid, which is also the registry key of the VM's settings.
    pub username: String,
    /// 32 random bytes, base64url without padding.
    pub password: SecretString,
}

/// Creates a fresh random credential for `vm_cid`, stores its hash (replacing any previous
/// one) and returns the plaintext.
pub async fn mint_vm_credential(
    store: &dyn Store,
    vm_cid: &str,
) -> Result<VmCredential, StoreError> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let password = URL_SAFE_NO_PAD.encode(bytes);
    store
        .set_credential_hash(vm_cid, &hash_password(&password))
        .await?;
    tracing::info!(vm_cid, "Minted a registry credential for the VM.");
    Ok(VmCredential {
        username: vm_cid.to_string(),
        password: SecretString::from(password),
    })
}

/// The stored form of a VM password: lowercase hex SHA-256.
///
/// A fast hash is adequate here, unlike for human passwords: VM passwords are 256-bit random
/// tokens, so an attacker holding the hashes cannot enumerate candidates, and slow key
/// derivation (bcrypt, argon2) would only add milliseconds to every agent request.
pub fn hash_password(password: &str) -> String {
    let digest = Sha256::digest(password.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Compares a presented VM password with a stored hash in constant time.
pub(crate) fn vm_password_matches(presented: &str, stored_hash: &str) -> bool {
    let presented_hash = hash_password(presented);
    presented_hash
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

/// The operator credential, kept as SHA-256 digests so that comparisons are constant-time
/// and independent of the lengths of the presented values.
pub(crate) struct OperatorCredential {
    user_digest: [u8; 32],
    password_digest: [u8; 32],
}

impl std::fmt::Debug for OperatorCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorCredential([REDACTED])")
    }
}

fn digest(value: &[u8]) -> [u8; 32] {
    Sha256::digest(value).into()
}

impl OperatorCredential {
    pub(crate) fn new(user: &str, password: &SecretString) -> Self {
        OperatorCredential {
            user_digest: digest(user.as_bytes()),
            password_digest: digest(password.expose_secret().as_bytes()),
        }
    }

    pub(crate) fn matches(&self, user: &str, password: &str) -> bool {
        let user_ok = self.user_digest.ct_eq(&digest(user.as_bytes()));
        let password_ok = self.password_digest.ct_eq(&digest(password.as_bytes()));
        (user_ok & password_ok).into()
    }
}

/// Credentials presented with HTTP basic authentication.
pub(crate) struct BasicCredentials {
    pub(crate) user: String,
    pub(crate) password: String,
}

/// Parses an `Authorization: Basic …` header value; `None` for anything malformed.
pub(crate) fn parse_basic(header: &str) -> Option<BasicCredentials> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some(BasicCredentials {
        user: user.to_string(),
        password: password.to_string(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hash_is_hex_sha256() {
        assert_eq!(
            hash_password("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn vm_password_comparison() {
        let stored = hash_password("right");
        assert!(vm_password_matches("right", &stored));
        assert!(!vm_password_matches("wrong", &stored));
        assert!(!vm_password_matches("", &stored));
    }

    #[test]
    fn operator_comparison_needs_both_parts() {
        let operator = OperatorCredential::new("admin", &SecretString::from("s3cret"));
        assert!(operator.matches("admin", "s3cret"));
        assert!(!operator.matches("admin", "s3cre"));
        assert!(!operator.matches("admi", "s3cret"));
        assert!(!format!("{operator:?}").contains("s3cret"));
    }

    #[test]
    fn basic_header_parsing() {
        let header = format!("Basic {}", STANDARD.encode("vm-1:pa:ss"));
        let creds = parse_basic(&header).unwrap();
        assert_eq!(creds.user, "vm-1");
        assert_eq!(creds.password, "pa:ss", "only the first colon separates");
        assert!(parse_basic("Bearer abc").is_none());
        assert!(parse_basic("Basic !!!notbase64").is_none());
        assert!(parse_basic(&format!("Basic {}", STANDARD.encode("nocolon"))).is_none());
    }

    #[test]
    fn vm_credential_debug_hides_password() {
        let credential = VmCredential {
            username: "vm-1".into(),
            password: SecretString::from("plaintext-token"),
        };
        assert!(!format!("{credential:?}").contains("plaintext-token"));
    }
}
