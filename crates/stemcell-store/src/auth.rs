//! HTTP basic authentication for the WebDAV side of the store.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The `webdav.user`/`webdav.password` credential. Only SHA-256 digests of the expected
/// values are kept, computed once, so each request hashes just what it presents. `Debug`
/// never shows the password.
#[derive(Clone)]
pub struct Credentials {
    user: String,
    user_digest: [u8; 32],
    password_digest: [u8; 32],
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"[redacted]")
            .finish()
    }
}

impl Credentials {
    pub fn new(user: impl Into<String>, password: SecretString) -> Self {
        let user = user.into();
        Self {
            user_digest: digest(user.as_bytes()),
            password_digest: digest(password.expose_secret().as_bytes()),
            user,
        }
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// Whether the request's `Authorization: Basic` header carries this credential. Both parts
    /// are compared as SHA-256 digests in constant time, so neither the content nor the length
    /// of the expected values leaks through timing.
    pub(crate) fn accepts(&self, headers: &HeaderMap) -> bool {
        let Some((user, password)) = basic(headers) else {
            return false;
        };
        let same_user = digest(user.as_bytes()).ct_eq(&self.user_digest);
        let same_password = digest(password.as_bytes()).ct_eq(&self.password_digest);
        bool::from(same_user & same_password)
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn checks_user_and_password() {
        let credentials = Credentials::new("director", SecretString::from("s3cret:x"));
        let good = format!("Basic {}", STANDARD.encode("director:s3cret:x"));
        assert!(credentials.accepts(&header(&good)));
        assert!(!credentials.accepts(&header(&format!(
            "Basic {}",
            STANDARD.encode("director:wrong")
        ))));
        assert!(!credentials.accepts(&header(&format!(
            "Basic {}",
            STANDARD.encode("other:s3cret:x")
        ))));
        assert!(!credentials.accepts(&header("Bearer abc")));
        assert!(!credentials.accepts(&HeaderMap::new()));
        assert!(!format!("{credentials:?}").contains("s3cret"));
    }
}
