//! Writing and loading hnsw_rs dumps without ever exposing a half-written one.
//!
//! hnsw_rs's `file_dump` overwrites files in place and panics if the directory is missing,
//! and its loader can exit the process on a damaged file. So a dump goes to a fresh
//! temporary directory, its files are fsynced and checksummed, the directory is renamed to
//! its final `dump-…` name, and only then does the manifest (renamed atomically over the
//! old one) point at it. Loading verifies the checksums first.

use std::fs::{self, File};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use hnsw_rs::prelude::{AnnT, HnswIo};

use super::distance::DistUnitCosine;
use super::manifest::{self, DumpFile, FORMAT_VERSION, Manifest};
use super::{Graph, IndexError};

const BASENAME: &str = "index";

/// What the manifest records besides the files.
pub(super) struct DumpMeta<'a> {
    pub embedder_id: &'a str,
    pub dimensions: usize,
    pub count: usize,
    pub max_chunk_id: i64,
    pub tombstones: usize,
}

/// Name of the lock file in a vectors directory.
const LOCK_FILE: &str = ".lock";

/// Locks `vectors_dir` (an exclusive `flock` on its `.lock` file, released when the
/// returned file is dropped), so loads, dumps and discards of one company's index never
/// overlap: not between two handles of the company (one evicted and saving, one reopened
/// and loading), nor between the server and `silo reindex`.
pub(super) fn lock_dir(vectors_dir: &Path) -> Result<File, IndexError> {
    fs::create_dir_all(vectors_dir)?;
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(vectors_dir.join(LOCK_FILE))?;
    file.lock()?;
    Ok(file)
}

/// Dumps `graph` into a new directory under `vectors_dir`, commits it by rewriting the
/// manifest, then removes older dumps. Returns the new manifest.
pub(super) fn write(
    vectors_dir: &Path,
    graph: &Graph,
    meta: DumpMeta<'_>,
) -> Result<Manifest, IndexError> {
    let _lock = lock_dir(vectors_dir)?;
    let name = format!(
        "dump-{}-{:08x}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f"),
        rand::random::<u32>()
    );
    let (mut files, mut basename) = (Vec::new(), BASENAME.to_string());
    if meta.count > 0 {
        let tmp = vectors_dir.join(format!(".tmp-{name}"));
        fs::create_dir(&tmp)?;
        let dumped = catch_unwind(AssertUnwindSafe(|| graph.file_dump(&tmp, BASENAME)));
        basename = match dumped {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => return Err(cleanup(&tmp, format!("hnsw dump failed: {e}"))),
            Err(_) => return Err(cleanup(&tmp, "hnsw dump panicked".into())),
        };
        for suffix in ["hnsw.graph", "hnsw.data"] {
            let file = format!("{basename}.{suffix}");
            File::open(tmp.join(&file))?.sync_all()?;
            files.push(manifest::describe_file(&tmp, &file)?);
        }
        manifest::sync_dir(&tmp)?;
        fs::rename(&tmp, vectors_dir.join(&name))?;
    } else {
        // An empty graph has nothing to dump; an empty directory keeps the layout uniform.
        fs::create_dir(vectors_dir.join(&name))?;
    }
    manifest::sync_dir(vectors_dir)?;
    let m = Manifest {
        format_version: FORMAT_VERSION,
        embedder_id: meta.embedder_id.to_string(),
        dimensions: meta.dimensions,
        count: meta.count,
        max_chunk_id: meta.max_chunk_id,
        tombstones: meta.tombstones,
        dump_dir: name,
        basename,
        files,
    };
    m.write(vectors_dir)?;
    remove_stale(vectors_dir, &m.dump_dir);
    Ok(m)
}

fn cleanup(tmp: &Path, msg: String) -> IndexError {
    let _ = fs::remove_dir_all(tmp);
    IndexError::Corrupt(msg)
}

/// Removes dump and temp directories other than `keep` (left by earlier dumps or a crash).
/// Best effort: a leftover directory wastes disk but is never read.
pub(super) fn remove_stale(vectors_dir: &Path, keep: &str) {
    let Ok(entries) = fs::read_dir(vectors_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if (name.starts_with("dump-") || name.starts_with(".tmp-dump-")) && name != keep {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Loads the dump the manifest names, after checking its files. The caller has already
/// checked the embedder id, dimensions and format version.
pub(super) fn load(vectors_dir: &Path, m: &Manifest) -> Result<Graph, IndexError> {
    m.verify_files(vectors_dir)?;
    // The loaded graph borrows its HnswIo. Leaking the (small, no mmap) loader gives a
    // 'static graph; it costs a few hundred bytes per company load, far cheaper than
    // rebuilding the graph from SQLite (see docs/benchmarks.md for the measurements).
    let io: &'static mut HnswIo = Box::leak(Box::new(HnswIo::new(
        &vectors_dir.join(&m.dump_dir),
        &m.basename,
    )));
    let loaded = catch_unwind(AssertUnwindSafe(move || {
        let io = io; // moved in, so the closure is FnOnce and may hand out 'static borrows
        io.load_hnsw::<f32, DistUnitCosine>()
    }));
    let graph = match loaded {
        Ok(Ok(g)) => g,
        Ok(Err(e)) => return Err(IndexError::Corrupt(format!("hnsw load: {e}"))),
        Err(_) => return Err(IndexError::Corrupt("hnsw load panicked".into())),
    };
    if graph.get_nb_point() != m.count {
        return Err(IndexError::Corrupt(format!(
            "dump holds {} points, manifest says {}",
            graph.get_nb_point(),
            m.count
        )));
    }
    Ok(graph)
}

/// Bytes of the current dump's files, for callers that report index size on disk.
pub(super) fn files_bytes(m: &Manifest) -> u64 {
    m.files.iter().map(|f: &DumpFile| f.len).sum()
}
