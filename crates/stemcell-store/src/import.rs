//! Bringing a stemcell image into the store: a hard link when possible, otherwise a streamed
//! copy. Either way the SHA-256 is computed by reading the stored bytes once, with one fixed
//! buffer, so memory stays constant whatever the image size.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::StemcellStoreError;

/// Read and write buffer size: large enough for full disk throughput, small enough to keep the
/// daemon's memory flat.
const CHUNK: usize = 1024 * 1024;

/// How the image got into the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMethod {
    HardLink,
    Copy,
}

/// Whether [`crate::StemcellStore::import_with`] may hard-link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImportMode {
    /// Hard link when source and store share a file system, otherwise copy.
    #[default]
    Auto,
    /// Always copy (tests, and sources that may change after the call).
    Copy,
}

pub(crate) struct Imported {
    pub size: u64,
    pub sha256: String,
    pub method: ImportMethod,
}

fn io(during: String) -> impl FnOnce(std::io::Error) -> StemcellStoreError {
    move |source| StemcellStoreError::Io { during, source }
}

/// Blocking: run on a blocking thread.
pub(crate) fn import(
    source: &Path,
    dest: &Path,
    staging: &Path,
    mode: ImportMode,
) -> Result<Imported, StemcellStoreError> {
    let metadata = std::fs::metadata(source).map_err(io(format!(
        "reading the stemcell image {}",
        source.display()
    )))?;
    if !metadata.is_file() {
        return Err(StemcellStoreError::NotAFile(source.to_path_buf()));
    }
    if dest.exists() {
        return Err(StemcellStoreError::AlreadyExists(dest.to_path_buf()));
    }
    if mode == ImportMode::Auto {
        match std::fs::hard_link(source, dest) {
            Ok(()) => {
                return match hash_file(dest) {
                    Ok((size, sha256)) => Ok(Imported {
                        size,
                        sha256,
                        method: ImportMethod::HardLink,
                    }),
                    Err(error) => {
                        let _ = std::fs::remove_file(dest);
                        Err(error)
                    }
                };
            }
            // Other file system, links forbidden (fs.protected_hardlinks for a file owned by
            // someone else), or a file system without links: copy instead.
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::CrossesDevices
                        | ErrorKind::PermissionDenied
                        | ErrorKind::Unsupported
                ) || error.raw_os_error() == Some(1) =>
            {
                tracing::debug!(error = %error, "hard link impossible; copying the image");
            }
            Err(error) => {
                return Err(io(format!("linking the image into {}", dest.display()))(
                    error,
                ));
            }
        }
    }
    copy(source, dest, staging)
}

/// Copies into a staging file outside the served tree, then renames it into place, so the
/// store never serves a half-written file. All-zero chunks become holes, which keeps sparse
/// images sparse.
fn copy(source: &Path, dest: &Path, staging: &Path) -> Result<Imported, StemcellStoreError> {
    let part = staging.join(format!(
        "{}.{:016x}.part",
        dest.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        rand::random::<u64>()
    ));
    let result = copy_into(source, &part).and_then(|imported| {
        if dest.exists() {
            return Err(StemcellStoreError::AlreadyExists(dest.to_path_buf()));
        }
        std::fs::rename(&part, dest)
            .map_err(io(format!("moving the copy into {}", dest.display())))?;
        Ok(imported)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    result
}

fn copy_into(source: &Path, part: &Path) -> Result<Imported, StemcellStoreError> {
    let mut input =
        File::open(source).map_err(io(format!("opening the image {}", source.display())))?;
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut output = options
        .open(part)
        .map_err(io(format!("creating {}", part.display())))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; CHUNK];
    let mut size: u64 = 0;
    loop {
        let read = match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => return Err(io(format!("reading {}", source.display()))(error)),
        };
        let chunk = &buffer[..read];
        hasher.update(chunk);
        if chunk.iter().all(|byte| *byte == 0) {
            output
                .seek(SeekFrom::Current(read as i64))
                .map_err(io(format!("writing {}", part.display())))?;
        } else {
            output
                .write_all(chunk)
                .map_err(io(format!("writing {}", part.display())))?;
        }
        size += read as u64;
    }
    // Trailing holes are only materialised by the final length.
    output
        .set_len(size)
        .and_then(|()| output.sync_all())
        .map_err(io(format!("syncing {}", part.display())))?;
    Ok(Imported {
        size,
        sha256: hex(&hasher.finalize()),
        method: ImportMethod::Copy,
    })
}

/// Size and SHA-256 (lower-case hex) of a file, read with one fixed buffer.
pub(crate) fn hash_file(path: &Path) -> Result<(u64, String), StemcellStoreError> {
    let mut file = File::open(path).map_err(io(format!("opening {}", path.display())))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; CHUNK];
    let mut size: u64 = 0;
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => {
                hasher.update(&buffer[..read]);
                size += read as u64;
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(io(format!("reading {}", path.display()))(error)),
        }
    }
    Ok((size, hex(&hasher.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}
