//! A wrapper that hides its content from `Debug`.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// Holds a value that must never be logged, such as blobstore options with credentials.
///
/// `secrecy::SecretString` covers strings; this covers structured values, which `secrecy`
/// cannot hold without them implementing `Zeroize`.
#[derive(Clone, Default, PartialEq)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The value itself. Call sites are easy to audit by searching for `expose`.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Redacted<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Redacted)
    }
}
