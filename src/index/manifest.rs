//! The manifest: a small JSON file naming the current dump of a company's index and what
//! it was built with. It is the commit point of a dump: the dump directory is complete and
//! fsynced before the manifest that names it is atomically replaced, so after a crash the
//! manifest names either the old dump or the new one, never a half-written one.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::IndexError;

/// Bumped whenever the dump layout or the distance changes; older dumps are then rebuilt.
pub const FORMAT_VERSION: u32 = 1;
/// File name of the manifest inside the company's `vectors/` directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// What a dump contains and how to check it before trusting it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    /// Embedder that produced the vectors ("all-minilm-l6-v2", "lexical-hash-v2", …).
    pub embedder_id: String,
    pub dimensions: usize,
    /// Points in the graph, tombstoned ones included.
    pub count: usize,
    /// Highest chunk rowid in the graph (0 when empty).
    pub max_chunk_id: i64,
    /// Points in the graph whose chunk no longer existed at dump time (informational:
    /// tombstones are derived again from SQLite on open).
    pub tombstones: usize,
    /// Directory (inside `vectors/`) holding the hnsw_rs files.
    pub dump_dir: String,
    /// hnsw_rs basename of the files (`<basename>.hnsw.graph`, `<basename>.hnsw.data`).
    pub basename: String,
    /// File name → (length, lower-case hex sha256). hnsw_rs exits the process or reads out
    /// of bounds on some truncated files, so every file is checked before it is loaded.
    pub files: Vec<DumpFile>,
}

/// One file of a dump and its checksum.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DumpFile {
    pub name: String,
    pub len: u64,
    pub sha256: String,
}

impl Manifest {
    /// Reads `vectors/manifest.json`; `Ok(None)` when there is none yet.
    pub fn read(vectors_dir: &Path) -> Result<Option<Manifest>, IndexError> {
        let path = vectors_dir.join(MANIFEST_FILE);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|e| IndexError::Corrupt(format!("manifest: {e}")))
    }

    /// Atomically replaces `vectors/manifest.json` (temp file, fsync, rename, fsync dir).
    pub fn write(&self, vectors_dir: &Path) -> Result<(), IndexError> {
        let tmp = vectors_dir.join(format!(".{MANIFEST_FILE}.tmp"));
        let json = serde_json::to_vec_pretty(self).expect("manifest serialises");
        let mut file = File::create(&tmp)?;
        file.write_all(&json)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, vectors_dir.join(MANIFEST_FILE))?;
        sync_dir(vectors_dir)
    }

    /// Checks that every file of the dump exists with the recorded length and checksum.
    pub fn verify_files(&self, vectors_dir: &Path) -> Result<(), IndexError> {
        let dir = vectors_dir.join(&self.dump_dir);
        if self.files.is_empty() {
            return Err(IndexError::Corrupt("manifest lists no files".into()));
        }
        for f in &self.files {
            let found = describe_file(&dir, &f.name)?;
            if found.len != f.len || found.sha256 != f.sha256 {
                return Err(IndexError::Corrupt(format!(
                    "{} differs from the manifest",
                    f.name
                )));
            }
        }
        Ok(())
    }
}

/// Length and sha256 of `dir/name`.
pub fn describe_file(dir: &Path, name: &str) -> Result<DumpFile, IndexError> {
    let mut file = File::open(dir.join(name))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok(DumpFile {
        name: name.to_string(),
        len,
        sha256: hex::encode(hasher.finalize()),
    })
}

/// fsyncs a directory so the renames and creations inside it survive a power cut.
pub fn sync_dir(dir: &Path) -> Result<(), IndexError> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(dir: &Path) -> Manifest {
        fs::create_dir_all(dir.join("d1")).unwrap();
        fs::write(dir.join("d1/a"), b"hello").unwrap();
        Manifest {
            format_version: FORMAT_VERSION,
            embedder_id: "lexical-hash-v1".into(),
            dimensions: 384,
            count: 1,
            max_chunk_id: 7,
            tombstones: 0,
            dump_dir: "d1".into(),
            basename: "index".into(),
            files: vec![describe_file(&dir.join("d1"), "a").unwrap()],
        }
    }

    #[test]
    fn round_trip_and_verify() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(Manifest::read(tmp.path()).unwrap(), None);
        let m = sample(tmp.path());
        m.write(tmp.path()).unwrap();
        assert_eq!(Manifest::read(tmp.path()).unwrap(), Some(m.clone()));
        m.verify_files(tmp.path()).unwrap();
        fs::write(tmp.path().join("d1/a"), b"hellp").unwrap();
        assert!(m.verify_files(tmp.path()).is_err());
        fs::write(tmp.path().join("d1/a"), b"hel").unwrap();
        assert!(m.verify_files(tmp.path()).is_err());
    }

    #[test]
    fn garbage_manifest_is_corrupt_not_a_panic() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(MANIFEST_FILE), b"{\"format_ver").unwrap();
        assert!(matches!(
            Manifest::read(tmp.path()),
            Err(IndexError::Corrupt(_))
        ));
    }
}
