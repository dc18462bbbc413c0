//! Store-relative paths. Every path that reaches the file system from outside (a signed URL, a
//! caller's file name, a GC walk) goes through [`relative_path`], so traversal is impossible by
//! construction rather than by checking each handler.

use std::path::PathBuf;

use crate::StemcellStoreError;

/// Longest accepted store path, far above what the CPI generates (a 32-char name plus suffix).
const MAX_PATH_LEN: usize = 1024;

/// Checks a store path (`a/b.vhd.bz2`, already percent-decoded) and returns it as a relative
/// [`PathBuf`]. Refused: empty, absolute, `.`/`..`/empty segments, hidden segments (the store
/// keeps nothing hidden, and this keeps editor and staging files unreachable), backslashes,
/// `%` (a second level of encoding is never legitimate), control characters and NUL.
pub fn relative_path(path: &str) -> Result<PathBuf, StemcellStoreError> {
    let refuse = |reason: &str| StemcellStoreError::InvalidPath {
        path: path.chars().take(120).collect(),
        reason: reason.to_owned(),
    };
    if path.is_empty() {
        return Err(refuse("the path is empty"));
    }
    if path.len() > MAX_PATH_LEN {
        return Err(refuse("the path is too long"));
    }
    if path.starts_with('/') {
        return Err(refuse("absolute paths are not allowed"));
    }
    if path
        .chars()
        .any(|c| c.is_control() || c == '\\' || c == '%')
    {
        return Err(refuse(
            "control characters, backslashes and '%' are not allowed",
        ));
    }
    let mut relative = PathBuf::new();
    for segment in path.split('/') {
        match segment {
            "" => return Err(refuse("empty path segments are not allowed")),
            "." | ".." => return Err(refuse("'.' and '..' segments are not allowed")),
            hidden if hidden.starts_with('.') => {
                return Err(refuse("hidden path segments are not allowed"));
            }
            normal => relative.push(normal),
        }
    }
    Ok(relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_relative_paths() {
        assert_eq!(
            relative_path("a/bosh-x.vhd.bz2").unwrap(),
            PathBuf::from("a/bosh-x.vhd.bz2")
        );
        assert!(relative_path("bosh-ubuntu-1.2-0a1b2c3d.qcow2").is_ok());
    }

    #[test]
    fn refuses_traversal_and_tricks() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            "a//b",
            "a/",
            "..",
            ".key",
            "a/.hidden",
            "%2e%2e/x",
            "a\\..\\b",
            "a\0b",
            "a\nb",
        ] {
            assert!(relative_path(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
