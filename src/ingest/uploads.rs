//! The company's `uploads/` directory: stored files are `<document uuid>.<ext>`; uploads in
//! progress are written to `.upload-<uuid>` temporary files first, which a crash can leave
//! behind and which the start-up recovery removes once they are old enough not to belong to
//! an upload still running.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Prefix of temporary upload files.
pub const TEMP_PREFIX: &str = ".upload-";

/// A file received into a temporary path; deleted on drop unless [`StagedFile::keep`].
pub struct StagedFile {
    pub path: PathBuf,
    pub filename: String,
    pub size: u64,
    pub sha256: String,
    keep: bool,
}

impl StagedFile {
    /// An empty temporary file's record (the receiver fills in size and hash).
    pub fn new(path: PathBuf, filename: String) -> Self {
        StagedFile {
            path,
            filename,
            size: 0,
            sha256: String::new(),
            keep: false,
        }
    }

    /// `bytes`, named `filename`, written to a new temporary file in `uploads_dir` (for
    /// uploads that do not come over HTTP: the demo documents, `silo library add`).
    pub async fn from_bytes(
        uploads_dir: &Path,
        filename: &str,
        bytes: &[u8],
    ) -> std::io::Result<StagedFile> {
        use sha2::{Digest, Sha256};
        let path = uploads_dir.join(format!("{TEMP_PREFIX}{}", uuid::Uuid::new_v4()));
        let mut staged = StagedFile::new(path, filename.to_string());
        tokio::fs::write(&staged.path, bytes).await?;
        staged.size = bytes.len() as u64;
        staged.sha256 = hex::encode(Sha256::digest(bytes));
        Ok(staged)
    }

    /// Moves the file to `dest` and keeps it (the document row now owns it).
    pub async fn persist(mut self, dest: &Path) -> std::io::Result<()> {
        tokio::fs::rename(&self.path, dest).await?;
        self.path = dest.to_path_buf();
        self.keep = true;
        Ok(())
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Removes temporary upload files in `dir` last modified more than `older_than` ago;
/// returns how many were removed. Errors are logged and skipped: this is housekeeping.
pub fn remove_stale_temp_files(dir: &Path, older_than: Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(TEMP_PREFIX) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > older_than);
        if old {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) => tracing::warn!(error = %e, "could not remove a stale upload"),
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_old_temporary_files_go() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".upload-a"), b"x").unwrap();
        std::fs::write(dir.path().join("doc.txt"), b"x").unwrap();
        assert_eq!(
            remove_stale_temp_files(dir.path(), Duration::from_secs(3600)),
            0
        );
        assert_eq!(remove_stale_temp_files(dir.path(), Duration::ZERO), 1);
        assert!(dir.path().join("doc.txt").exists());
    }
}
