//! The in-memory index of one company: the HNSW graph, the set of chunk ids it holds and
//! the tombstones of deleted chunks (hnsw_rs cannot delete; they are filtered at search
//! time and dropped by compaction, which rebuilds the graph from SQLite).
//!
//! Concurrency: searches take a read lock; writers (add, tombstone, compact, dump) are
//! serialised by one mutex and take the write lock only to swap bookkeeping or the graph,
//! so a search never waits for a graph build or a dump.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::build::{
    REBUILD_BATCH, build_from_sqlite, graph_contents, insert_batch, new_graph, try_load,
};
use super::exact::ExactVectors;
use super::manifest::Manifest;
use super::{Graph, IndexError, dump};
use crate::embed::normalize;
use crate::store::company::embeddings::{self, Indexable};

/// Graph and maintenance parameters.
#[derive(Clone, Copy, Debug)]
pub struct IndexParams {
    /// Neighbours kept per node (hnsw_rs's `max_nb_connection`; above 256 it exits the
    /// process, so it is clamped).
    pub max_nb_connection: usize,
    pub ef_construction: usize,
    /// Compact when tombstones exceed this share of the graph…
    pub compact_ratio: f64,
    /// …and there are at least this many (small graphs are cheap to filter anyway).
    pub compact_min: usize,
    /// Graphs of at most this many points are searched exhaustively, not walked (see
    /// `search`): exact, and no slower at this size.
    pub exhaustive_max: usize,
}

impl Default for IndexParams {
    fn default() -> Self {
        // M = 24: on 100k clustered 384-d vectors it reaches recall@10 0.967 at ef = 32
        // with ~2,400 queries/s on one core, where M = 16 needs ef = 64 for 0.957 at
        // ~2,200/s (docs/benchmarks.md). It costs ~5 % more memory and a slower build.
        IndexParams {
            max_nb_connection: 24,
            ef_construction: 200,
            compact_ratio: 0.2,
            compact_min: 32,
            // Past a few thousand near-duplicate chunks a walk at ef 64 misses neighbours
            // (15 % of unique terms at 10,868 chunks), so up to here vector search scores
            // every chunk; the copy of the vectors (f32 and 8-bit) costs ~1.9 kB a point
            // beside the graph's ~4.3 kB. Exact, and bound by memory bandwidth: a scan
            // reads 384 bytes a point, ~2–4 ms at the limit on the 2-core machine
            // (examples/bench_search.rs).
            exhaustive_max: 100_000,
        }
    }
}

/// Where an opened index came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenSource {
    /// Loaded from the dump named by the manifest.
    Loaded,
    /// Rebuilt from SQLite, and why.
    Rebuilt(String),
}

/// What [`VectorIndex::open_or_rebuild`] did, for logs and tests.
#[derive(Clone, Debug)]
pub struct OpenReport {
    pub source: OpenSource,
    /// Chunks found in SQLite but not in the dump, inserted on open.
    pub caught_up: usize,
    /// Chunks in the graph but gone from SQLite, tombstoned on open.
    pub tombstoned: usize,
    /// Chunks in SQLite this index cannot hold: without a vector, with another embedder's
    /// (or one from before vectors were labelled), or of the wrong length. Non-zero means the
    /// company needs a reindex, which embeds them again and adds them.
    pub stale: usize,
    /// Unlabelled vectors found in the loaded dump, labelled as this embedder's.
    pub adopted: usize,
    /// The embedder the previous dump was built with, when it was another one.
    pub previous_embedder: Option<String>,
    pub elapsed: Duration,
}

pub(super) struct Inner {
    pub(super) graph: Graph,
    /// Every chunk id in the graph, tombstoned ones included.
    pub(super) ids: HashSet<i64>,
    pub(super) tombstones: HashSet<i64>,
    max_chunk_id: i64,
    /// Tombstoned chunks that came back with a new vector (re-embedded): the graph cannot
    /// replace a point, so the next maintenance rebuilds it and they become live again.
    revived: HashSet<i64>,
    /// The normalised vectors of a graph of at most `exhaustive_max` points, searched
    /// exhaustively (exact: a walk can miss a point left without incoming links). Dropped
    /// when the graph outgrows the limit.
    pub(super) exact: Option<ExactVectors>,
}

/// One company's vector index. Share it as `Arc<VectorIndex>`; all methods take `&self`.
pub struct VectorIndex {
    dir: PathBuf,
    embedder_id: String,
    pub(super) dims: usize,
    pub(super) params: IndexParams,
    pub(super) inner: RwLock<Inner>,
    writer: Mutex<()>,
    /// Bumped by every change; a dump records the generation it wrote.
    generation: AtomicU64,
    dumped: AtomicU64,
    /// [`VectorIndex::approx_bytes`], kept current by every change so the registry's
    /// memory budget can be checked without taking the lock (from async code).
    approx: AtomicUsize,
    report: OpenReport,
}

impl VectorIndex {
    /// Opens the index in `dir` (`companies/<id>/vectors`) with default parameters.
    /// See [`VectorIndex::open_or_rebuild_with`].
    pub fn open_or_rebuild(
        dir: &Path,
        conn: &Connection,
        embedder_id: &str,
        dims: usize,
    ) -> Result<VectorIndex, IndexError> {
        Self::open_or_rebuild_with(dir, conn, embedder_id, dims, IndexParams::default())
    }

    /// Loads the dump if its manifest matches `embedder_id` and `dims` and its files check
    /// out, else rebuilds from `document_chunks.embedding`; then reconciles with SQLite
    /// (inserts chunks missing from the graph, tombstones chunks gone from SQLite) and
    /// compacts if tombstones pile up. Blocking: run it on the blocking pool. Never writes
    /// files; a rebuilt or caught-up index is dirty until [`VectorIndex::dump_if_dirty`].
    pub fn open_or_rebuild_with(
        dir: &Path,
        conn: &Connection,
        embedder_id: &str,
        dims: usize,
        params: IndexParams,
    ) -> Result<VectorIndex, IndexError> {
        let started = Instant::now();
        let params = IndexParams {
            max_nb_connection: params.max_nb_connection.clamp(2, 256),
            ..params
        };
        let (loaded, previous_embedder) = {
            // Loads and dumps of one directory never overlap (see `dump::lock_dir`).
            let _lock = dump::lock_dir(dir)?;
            let manifest = Manifest::read(dir);
            let previous = match &manifest {
                Ok(Some(m)) if m.embedder_id != embedder_id => Some(m.embedder_id.clone()),
                _ => None,
            };
            (try_load(dir, manifest, embedder_id, dims), previous)
        };
        let (graph, source) = match loaded {
            Ok(Some(graph)) => (Some(graph), OpenSource::Loaded),
            // A valid dump of an empty index: nothing to load, nothing to rebuild.
            Ok(None) => (Some(new_graph(&params, 0)), OpenSource::Loaded),
            Err(reason) => (None, OpenSource::Rebuilt(reason)),
        };
        let graph = match graph {
            Some(g) => g,
            None => build_from_sqlite(conn, embedder_id, dims, &params)?.0,
        };
        let (ids, exact) = graph_contents(&graph, params.exhaustive_max, dims);
        let max_chunk_id = ids.iter().copied().max().unwrap_or(0);
        let mut index = VectorIndex {
            dir: dir.to_path_buf(),
            embedder_id: embedder_id.to_string(),
            dims,
            params,
            inner: RwLock::new(Inner {
                graph,
                ids,
                tombstones: HashSet::new(),
                max_chunk_id,
                revived: HashSet::new(),
                exact,
            }),
            writer: Mutex::new(()),
            generation: AtomicU64::new(0),
            dumped: AtomicU64::new(0),
            approx: AtomicUsize::new(0),
            report: OpenReport {
                source,
                caught_up: 0,
                tombstoned: 0,
                stale: 0,
                adopted: 0,
                previous_embedder,
                elapsed: Duration::ZERO,
            },
        };
        index.update_approx(&index.inner.read().expect("index lock"));
        let adopt = matches!(index.report.source, OpenSource::Loaded);
        let (caught_up, tombstoned, stale, adopted) = index.reconcile(conn, adopt)?;
        index.report.adopted = adopted;
        index.compact_if_needed(conn)?;
        if matches!(index.report.source, OpenSource::Rebuilt(_)) {
            index.generation.fetch_add(1, Ordering::Relaxed);
        }
        index.report.caught_up = caught_up;
        index.report.tombstoned = tombstoned;
        index.report.stale = stale;
        index.report.elapsed = started.elapsed();
        let r = &index.report;
        tracing::info!(
            source = ?r.source, points = index.len(), caught_up, tombstoned, stale = r.stale,
            ms = r.elapsed.as_millis() as u64, "vector index opened"
        );
        Ok(index)
    }

    /// Brings the graph in line with SQLite: inserts this embedder's chunks it lacks,
    /// tombstones chunks SQLite no longer has (or has from another embedder now). Cheap when
    /// nothing changed (one scan of chunk ids). Returns (inserted, tombstoned, stale,
    /// adopted).
    ///
    /// With `adopt` (the graph was loaded from a dump of this embedder), unlabelled vectors
    /// (stored before chunks recorded their embedder) that are in the graph are labelled as
    /// this embedder's: the dump was built from them. That is the only evidence of whose
    /// they are that nothing in this process rewrites before it is read.
    fn reconcile(
        &self,
        conn: &Connection,
        adopt: bool,
    ) -> Result<(usize, usize, usize, usize), IndexError> {
        let Indexable {
            mut live,
            unlabelled,
            mut stale,
        } = embeddings::indexable_chunk_ids(conn, &self.embedder_id, self.dims)?;
        let mut adopted = 0;
        if adopt && !unlabelled.is_empty() {
            let ours: Vec<i64> = {
                let inner = self.inner.read().expect("index lock");
                unlabelled
                    .into_iter()
                    .filter(|id| inner.ids.contains(id))
                    .collect()
            };
            for ids in ours.chunks(REBUILD_BATCH) {
                embeddings::label(conn, &self.embedder_id, ids)?;
            }
            adopted = ours.len();
            stale -= adopted;
            live.extend(ours);
            live.sort_unstable();
        }
        let trashed: HashSet<i64> = crate::store::company::trash::chunk_ids(conn)?
            .into_iter()
            .collect();
        let (missing, gone, lifted) = {
            let inner = self.inner.read().expect("index lock");
            let live_set: HashSet<i64> = live.iter().copied().collect();
            // Tombstones of chunks live again (their document restored while a tombstone
            // was on its way), unless a new vector of theirs waits for compaction.
            let lifted: Vec<i64> = inner
                .tombstones
                .iter()
                .copied()
                .filter(|id| {
                    live_set.contains(id) && !trashed.contains(id) && !inner.revived.contains(id)
                })
                .collect();
            let missing: Vec<i64> = live
                .iter()
                .copied()
                .filter(|id| !inner.ids.contains(id))
                .collect();
            let gone: Vec<i64> = inner
                .ids
                .iter()
                .copied()
                .filter(|id| !live_set.contains(id) && !inner.tombstones.contains(id))
                .collect();
            (missing, gone, lifted)
        };
        let mut added = 0;
        for ids in missing.chunks(REBUILD_BATCH) {
            let items = embeddings::embeddings_of(conn, ids, &self.embedder_id, self.dims)?;
            added += items.len();
            self.add(&items)?;
        }
        self.tombstone(&gone);
        // Trashed documents keep their chunks in SQLite, and their vectors here as
        // tombstones, until they are restored or purged.
        self.tombstone(&trashed.into_iter().collect::<Vec<_>>());
        if !lifted.is_empty() {
            self.untombstone(&lifted);
        }
        Ok((added, gone.len(), stale, adopted))
    }

    /// Catches up with chunks committed while the index was being opened (ingestion hooks
    /// find no loaded index until the open finishes). Call once after publishing the
    /// index. Blocking.
    pub fn catch_up(&self, conn: &Connection) -> Result<usize, IndexError> {
        Ok(self.reconcile(conn, false)?.0)
    }

    /// Adds embedded chunks (after their rows are committed). Vectors are normalised here;
    /// ids already in the graph are skipped, so a retried add is harmless, and so are
    /// vectors that cannot be normalised (all zeros: a text of only stopwords for the
    /// lexical embedder), which no query could find anyway. A tombstoned id given a new
    /// vector (re-embedded after the graph was built) is revived by the next compaction,
    /// which reads its new vector from SQLite. Blocking.
    pub fn add(&self, items: &[(i64, Vec<f32>)]) -> Result<(), IndexError> {
        let _writer = self.writer.lock().expect("index writer");
        let mut fresh: Vec<(Vec<f32>, usize)> = Vec::with_capacity(items.len());
        let mut revived = Vec::new();
        {
            let inner = self.inner.read().expect("index lock");
            let mut seen = HashSet::new();
            for (id, v) in items {
                if v.len() != self.dims {
                    return Err(IndexError::Dimensions {
                        expected: self.dims,
                        found: v.len(),
                    });
                }
                if *id <= 0 {
                    return Err(IndexError::InvalidVector(*id));
                }
                if inner.tombstones.contains(id) {
                    revived.push(*id);
                }
                if inner.ids.contains(id) || !seen.insert(*id) {
                    continue;
                }
                let mut v = v.clone();
                if normalize(&mut v) {
                    fresh.push((v, *id as usize));
                }
            }
            // hnsw_rs inserts through &self; searches go on meanwhile.
            insert_batch(&inner.graph, &fresh);
        }
        if fresh.is_empty() && revived.is_empty() {
            return Ok(());
        }
        let mut guard = self.inner.write().expect("index lock");
        let inner = &mut *guard;
        inner.revived.extend(revived);
        if inner.ids.len() + fresh.len() > self.params.exhaustive_max {
            inner.exact = None;
        }
        for (v, id) in fresh {
            let id = id as i64;
            inner.ids.insert(id);
            inner.max_chunk_id = inner.max_chunk_id.max(id);
            if let Some(exact) = inner.exact.as_mut() {
                exact.push(id, &v);
            }
        }
        self.update_approx(&guard);
        self.generation.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Marks chunks as deleted: they are never returned again. Call it with the ids from
    /// [`crate::store::company::chunks::ids_for_document`] when a document is deleted (before or after the
    /// rows go; ids not in the graph are ignored).
    ///
    /// Tombstones do not make the index dirty: they are not stored in the dump but derived
    /// again from SQLite on every open, so rewriting a large dump for a deletion would be
    /// wasted I/O. Compaction, which changes the graph, does make it dirty.
    pub fn tombstone(&self, chunk_ids: &[i64]) {
        let mut inner = self.inner.write().expect("index lock");
        for id in chunk_ids {
            if inner.ids.contains(id) {
                inner.tombstones.insert(*id);
                inner.revived.remove(id);
            }
        }
        self.update_approx(&inner);
    }

    /// Lifts the tombstones of chunks whose document came back from the trash (their
    /// vectors are unchanged). Returns the ids the graph no longer holds (compacted away
    /// meanwhile): the caller adds them again from SQLite.
    pub fn untombstone(&self, chunk_ids: &[i64]) -> Vec<i64> {
        let mut inner = self.inner.write().expect("index lock");
        let mut missing = Vec::new();
        for id in chunk_ids {
            if inner.ids.contains(id) {
                inner.tombstones.remove(id);
            } else {
                missing.push(*id);
            }
        }
        self.update_approx(&inner);
        self.generation.fetch_add(1, Ordering::Relaxed);
        missing
    }

    /// Runs `f` holding the writer lock (no add, compaction or dump meanwhile): to read a
    /// state from SQLite and apply it to the index in the same order as the changes.
    pub fn with_writer<R>(&self, f: impl FnOnce() -> R) -> R {
        let _writer = self.writer.lock().expect("index writer");
        f()
    }

    /// Tombstones every chunk of `document_id` (internal id). Call before deleting the
    /// document's rows, which cascade to its chunks.
    pub fn remove_document(
        &self,
        conn: &Connection,
        document_id: i64,
    ) -> Result<usize, IndexError> {
        let ids = crate::store::company::chunks::ids_for_document(conn, document_id)?;
        self.tombstone(&ids);
        Ok(ids.len())
    }

    /// True when tombstones exceed the compaction threshold, or a rebuild is due.
    pub fn needs_compaction(&self) -> bool {
        let inner = self.inner.read().expect("index lock");
        let t = inner.tombstones.len();
        !inner.revived.is_empty()
            || t >= self.params.compact_min
                && t as f64 > self.params.compact_ratio * inner.ids.len().max(1) as f64
    }

    /// Rebuilds the graph from SQLite if [`needs_compaction`](Self::needs_compaction).
    /// Blocking and slow for big companies: run it from the background task.
    pub fn compact_if_needed(&self, conn: &Connection) -> Result<bool, IndexError> {
        if !self.needs_compaction() {
            return Ok(false);
        }
        self.compact(conn)?;
        Ok(true)
    }

    /// Rebuilds the graph from SQLite without the tombstoned chunks; searches keep using
    /// the old graph until the new one is swapped in. Chunks deleted while it builds (their
    /// tombstones arrive without the writer lock) stay tombstones in the new graph.
    pub fn compact(&self, conn: &Connection) -> Result<(), IndexError> {
        let _writer = self.writer.lock().expect("index writer");
        let revived: HashSet<i64> = self.inner.read().expect("index lock").revived.clone();
        let (graph, _skipped) =
            build_from_sqlite(conn, &self.embedder_id, self.dims, &self.params)?;
        let (ids, exact) = graph_contents(&graph, self.params.exhaustive_max, self.dims);
        let mut guard = self.inner.write().expect("index lock");
        let inner = &mut *guard;
        inner.max_chunk_id = ids.iter().copied().max().unwrap_or(0);
        inner.graph = graph;
        inner.ids = ids;
        inner.exact = exact;
        // Tombstones of chunks the rebuild still found were deleted during it; those of
        // revived chunks are lifted (the rebuild read their new vectors).
        let Inner {
            ids,
            tombstones,
            revived: still_revived,
            ..
        } = inner;
        tombstones.retain(|id| ids.contains(id) && !revived.contains(id));
        still_revived.retain(|id| !revived.contains(id));
        self.update_approx(&guard);
        self.generation.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Dumps the index if it changed since the last dump (atomically; see `dump`).
    /// Returns whether it wrote. Meant for a periodic background task, never the request
    /// path; searches continue while it runs, writers wait.
    pub fn dump_if_dirty(&self) -> Result<bool, IndexError> {
        let _writer = self.writer.lock().expect("index writer");
        let generation = self.generation.load(Ordering::Relaxed);
        if generation == self.dumped.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let inner = self.inner.read().expect("index lock");
        dump::write(
            &self.dir,
            &inner.graph,
            dump::DumpMeta {
                embedder_id: &self.embedder_id,
                dimensions: self.dims,
                count: inner.ids.len(),
                max_chunk_id: inner.max_chunk_id,
                tombstones: inner.tombstones.len(),
            },
        )?;
        self.dumped.store(generation, Ordering::Relaxed);
        Ok(true)
    }

    /// One pass of background maintenance: compacts if tombstones pile up, then dumps if
    /// anything changed. Returns `(compacted, dumped)`. Blocking; run it periodically per
    /// open company on the blocking pool (and once before an idle company is evicted).
    pub fn maintain(&self, conn: &Connection) -> Result<(bool, bool), IndexError> {
        let compacted = self.compact_if_needed(conn)?;
        let dumped = self.dump_if_dirty()?;
        Ok((compacted, dumped))
    }

    /// True when there are changes not yet dumped.
    pub fn is_dirty(&self) -> bool {
        self.generation.load(Ordering::Relaxed) != self.dumped.load(Ordering::Relaxed)
    }

    /// Live (searchable) chunks.
    pub fn len(&self) -> usize {
        let inner = self.inner.read().expect("index lock");
        inner.ids.len() - inner.tombstones.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn tombstone_count(&self) -> usize {
        self.inner.read().expect("index lock").tombstones.len()
    }

    /// Highest chunk id in the graph (0 when empty).
    pub fn max_chunk_id(&self) -> i64 {
        self.inner.read().expect("index lock").max_chunk_id
    }

    pub fn embedder_id(&self) -> &str {
        &self.embedder_id
    }

    pub fn dimensions(&self) -> usize {
        self.dims
    }

    /// Removes the saved index in `dir` if it was built by another embedder than
    /// `embedder_id`/`dims` (after a reindex moved the company's chunks to this one), so
    /// nothing mistakes it for current; the next open builds from SQLite. Returns whether
    /// it removed one. Blocking.
    pub fn discard_other(dir: &Path, embedder_id: &str, dims: usize) -> Result<bool, IndexError> {
        if !dir.is_dir() {
            return Ok(false);
        }
        let _lock = dump::lock_dir(dir)?;
        let Ok(Some(m)) = Manifest::read(dir) else {
            return Ok(false);
        };
        if m.embedder_id == embedder_id && m.dimensions == dims {
            return Ok(false);
        }
        std::fs::remove_file(dir.join(super::manifest::MANIFEST_FILE))?;
        dump::remove_stale(dir, "");
        Ok(true)
    }

    /// Bytes on disk of the current dump in `dir` (0 without one), without loading it (the
    /// admin statistics count the whole `vectors/` directory instead, leftovers included).
    pub fn disk_bytes(dir: &Path) -> u64 {
        match Manifest::read(dir) {
            Ok(Some(m)) => dump::files_bytes(&m),
            _ => 0,
        }
    }

    /// Whether searches score every point from the vectors kept in memory (a small index),
    /// so a filtered search needs nothing from SQLite but the allowed chunk ids.
    pub fn is_exhaustive(&self) -> bool {
        self.inner.read().expect("index lock").exact.is_some()
    }

    /// How the index was opened.
    pub fn open_report(&self) -> &OpenReport {
        &self.report
    }

    /// Approximate resident size, for the registry's memory budget: per point the vector,
    /// hnsw_rs's bookkeeping (points and neighbour links are `Arc`s to small allocations)
    /// and our id sets. Fitted to RSS measured by examples/bench_hnsw.rs at 100k × 384:
    /// 4.15 kB a point with M = 16, 4.56 kB with M = 32. Lock-free (an atomic kept current
    /// by every change).
    pub fn approx_bytes(&self) -> usize {
        self.approx.load(Ordering::Relaxed)
    }

    fn update_approx(&self, inner: &Inner) {
        let per_point = self.dims * 4 + 2000 + 32 * self.params.max_nb_connection;
        let exact = inner
            .exact
            .as_ref()
            .map_or(0, |e| e.len() * ExactVectors::bytes_per_point(self.dims));
        let bytes = inner.ids.len() * per_point + inner.tombstones.len() * 16 + exact;
        self.approx.store(bytes, Ordering::Relaxed);
    }
}
