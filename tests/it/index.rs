//! The vector index against real files: a migrated company database in a temp directory
//! and real hnsw_rs dumps. Invariant 3 in practice: whatever happens to the index files,
//! the next open answers searches completely from SQLite.

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::{Connection, params};
use silo::index::{IndexParams, OpenSource, VectorIndex, distance};
use silo::store::company::chunks;
use silo::store::company::embeddings as store;
use silo::store::db::migrations::{MigrationSet, migrate};

const DIMS: usize = 48;
const EMBEDDER: &str = "test-embedder-v1";

struct Company {
    _tmp: tempfile::TempDir,
    conn: Connection,
    vectors: PathBuf,
    centers: Vec<Vec<f32>>,
    rng: StdRng,
}

fn company() -> Company {
    let tmp = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(tmp.path().join("company.db")).unwrap();
    migrate(&mut conn, MigrationSet::Company).unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let centers = (0..12).map(|_| unit(random_vec(&mut rng, 1.0))).collect();
    let vectors = tmp.path().join("vectors");
    Company {
        _tmp: tmp,
        conn,
        vectors,
        centers,
        rng,
    }
}

fn random_vec(rng: &mut StdRng, spread: f32) -> Vec<f32> {
    (0..DIMS)
        .map(|_| (rng.random::<f32>() - 0.5) * spread)
        .collect()
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    assert!(silo::embed::normalize(&mut v));
    v
}

impl Company {
    /// Inserts a document with `n` embedded chunks (clustered vectors); returns its id.
    fn add_document(&mut self, n: usize) -> i64 {
        let doc_uuid = uuid::Uuid::new_v4().to_string();
        self.conn
            .execute(
                "INSERT INTO documents (uuid, filename, file_path, uploaded_by, status)
                 VALUES (?1, 'f.txt', ?1, 'u1', 'completed')",
                [&doc_uuid],
            )
            .unwrap();
        let doc = self.conn.last_insert_rowid();
        for i in 0..n {
            let c = &self.centers[self.rng.random_range(0..self.centers.len())];
            let noise = random_vec(&mut self.rng, 0.25);
            let v = unit(c.iter().zip(&noise).map(|(a, b)| a + b).collect());
            self.conn
                .execute(
                    "INSERT INTO document_chunks
                         (uuid, document_id, content, chunk_index, embedding, embedding_model)
                     VALUES (?1, ?2, 'text', ?3, ?4, ?5)",
                    params![
                        uuid::Uuid::new_v4().to_string(),
                        doc,
                        i as i64,
                        store::encode_embedding(&v),
                        EMBEDDER
                    ],
                )
                .unwrap();
        }
        doc
    }

    fn open(&self) -> VectorIndex {
        open_with(&self.vectors, &self.conn, EMBEDDER, DIMS)
    }

    fn queries(&mut self, n: usize) -> Vec<Vec<f32>> {
        (0..n)
            .map(|i| {
                let c = &self.centers[i % self.centers.len()];
                let noise = random_vec(&mut self.rng, 0.3);
                unit(c.iter().zip(&noise).map(|(a, b)| a + b).collect())
            })
            .collect()
    }

    /// Exact top-k over what SQLite holds: the answer a complete index must give.
    fn exact(&self, q: &[f32], k: usize) -> Vec<i64> {
        let mut all = Vec::new();
        store::for_each_embedding_batch(&self.conn, EMBEDDER, DIMS, 1000, |b| all.extend(b))
            .unwrap();
        let mut scored: Vec<(i64, f32)> = all
            .iter()
            .map(|(id, v)| (*id, distance::dot(q, v)))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored.into_iter().take(k).map(|(id, _)| id).collect()
    }
}

fn open_with(dir: &Path, conn: &Connection, embedder: &str, dims: usize) -> VectorIndex {
    // ef_construction high enough that the small test graphs are exact.
    let params = IndexParams {
        ef_construction: 200,
        ..IndexParams::default()
    };
    VectorIndex::open_or_rebuild_with(dir, conn, embedder, dims, params).unwrap()
}

fn ids(hits: &[(i64, f32)]) -> Vec<i64> {
    hits.iter().map(|h| h.0).collect()
}

fn search_all(index: &VectorIndex, queries: &[Vec<f32>]) -> Vec<Vec<(i64, f32)>> {
    queries
        .iter()
        .map(|q| index.search(q, 10, 400, None).unwrap())
        .collect()
}

fn assert_complete(c: &Company, index: &VectorIndex, queries: &[Vec<f32>]) {
    for q in queries {
        assert_eq!(
            ids(&index.search(q, 10, 400, None).unwrap()),
            c.exact(q, 10)
        );
    }
}

fn dump_files(dir: &Path) -> Vec<PathBuf> {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let dump = dir.join(m["dump_dir"].as_str().unwrap());
    std::fs::read_dir(dump)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[test]
fn reload_from_disk_gives_identical_results() {
    let mut c = company();
    for _ in 0..6 {
        c.add_document(50);
    }
    let queries = c.queries(20);
    let index = c.open();
    assert!(matches!(index.open_report().source, OpenSource::Rebuilt(_)));
    assert!(index.is_dirty());
    let before = search_all(&index, &queries);
    assert_complete(&c, &index, &queries);
    assert!(index.dump_if_dirty().unwrap());
    assert!(
        !index.dump_if_dirty().unwrap(),
        "a clean index is not dumped again"
    );
    drop(index);

    let reloaded = c.open();
    assert_eq!(reloaded.open_report().source, OpenSource::Loaded);
    assert_eq!(reloaded.open_report().caught_up, 0);
    assert!(!reloaded.is_dirty());
    assert_eq!(search_all(&reloaded, &queries), before);
    assert_eq!(reloaded.len(), 300);
    assert!(VectorIndex::disk_bytes(&c.vectors) > 300 * DIMS as u64 * 4);
}

#[test]
fn missing_truncated_or_corrupt_files_are_rebuilt_from_sqlite() {
    let mut c = company();
    for _ in 0..4 {
        c.add_document(40);
    }
    let queries = c.queries(12);
    c.open().dump_if_dirty().unwrap();

    // Truncated data file.
    let data = dump_files(&c.vectors)
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(".hnsw.data"))
        .unwrap();
    let len = std::fs::metadata(&data).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&data)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let index = c.open();
    assert!(matches!(index.open_report().source, OpenSource::Rebuilt(_)));
    assert_complete(&c, &index, &queries);
    index.dump_if_dirty().unwrap();

    // One flipped byte in the graph file.
    let graph = dump_files(&c.vectors)
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(".hnsw.graph"))
        .unwrap();
    let mut bytes = std::fs::read(&graph).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&graph, bytes).unwrap();
    let index = c.open();
    assert!(matches!(index.open_report().source, OpenSource::Rebuilt(_)));
    assert_complete(&c, &index, &queries);
    index.dump_if_dirty().unwrap();

    // Dump directory deleted.
    for f in dump_files(&c.vectors) {
        std::fs::remove_file(f).unwrap();
    }
    let index = c.open();
    assert!(matches!(index.open_report().source, OpenSource::Rebuilt(_)));
    assert_complete(&c, &index, &queries);

    // Garbage manifest, then the whole directory gone.
    std::fs::write(c.vectors.join("manifest.json"), b"{not json").unwrap();
    assert!(matches!(
        c.open().open_report().source,
        OpenSource::Rebuilt(_)
    ));
    std::fs::remove_dir_all(&c.vectors).unwrap();
    let index = c.open();
    assert_complete(&c, &index, &queries);
    assert!(
        index.dump_if_dirty().unwrap(),
        "the vectors directory is recreated"
    );
}

#[test]
fn index_older_than_the_database_is_caught_up() {
    let mut c = company();
    c.add_document(60);
    c.open().dump_if_dirty().unwrap();
    // Chunks committed after the last dump (a crash before the next one).
    c.add_document(45);
    let deleted = c.add_document(5);
    c.conn
        .execute("DELETE FROM documents WHERE id = ?1", [deleted])
        .unwrap();
    let queries = c.queries(12);
    let index = c.open();
    assert_eq!(index.open_report().source, OpenSource::Loaded);
    assert_eq!(index.open_report().caught_up, 45);
    assert_eq!(index.len(), 105);
    assert!(index.is_dirty());
    assert_complete(&c, &index, &queries);
    // The caught-up state survives the next dump and reload.
    index.dump_if_dirty().unwrap();
    let again = c.open();
    assert_eq!(again.open_report().caught_up, 0);
    assert_eq!(again.max_chunk_id(), index.max_chunk_id());
}

#[test]
fn tombstoned_chunks_are_never_returned_and_compaction_keeps_results() {
    let mut c = company();
    let docs: Vec<i64> = (0..8).map(|_| c.add_document(40)).collect();
    let queries = c.queries(24);
    let params = IndexParams {
        compact_min: 1_000_000, // compaction only when asked in this test
        ..IndexParams::default()
    };
    let index =
        VectorIndex::open_or_rebuild_with(&c.vectors, &c.conn, EMBEDDER, DIMS, params).unwrap();
    let mut removed = Vec::new();
    for doc in &docs[..2] {
        removed.extend(chunks::ids_for_document(&c.conn, *doc).unwrap());
        assert_eq!(index.remove_document(&c.conn, *doc).unwrap(), 40);
        c.conn
            .execute("DELETE FROM documents WHERE id = ?1", [doc])
            .unwrap();
    }
    assert_eq!(index.tombstone_count(), 80);
    let filtered = search_all(&index, &queries);
    for hits in &filtered {
        assert_eq!(hits.len(), 10);
        assert!(hits.iter().all(|(id, _)| !removed.contains(id)));
    }
    assert_complete(&c, &index, &queries);
    // A caller filter combines with the tombstones.
    let even = |id: i64| id % 2 == 0;
    for q in &queries {
        let hits = index.search(q, 10, 400, Some(&even)).unwrap();
        assert!(
            hits.iter()
                .all(|(id, _)| id % 2 == 0 && !removed.contains(id))
        );
    }
    index.compact(&c.conn).unwrap();
    assert_eq!(index.tombstone_count(), 0);
    assert_eq!(index.len(), 240);
    let compacted = search_all(&index, &queries);
    for (a, b) in filtered.iter().zip(&compacted) {
        assert_eq!(ids(a), ids(b));
    }
}

#[test]
fn deletions_while_closed_become_tombstones_and_trigger_compaction() {
    let mut c = company();
    let docs: Vec<i64> = (0..5).map(|_| c.add_document(40)).collect();
    c.open().dump_if_dirty().unwrap();
    // 40 of 200 chunks deleted while the index was not loaded: on open they are found
    // missing from SQLite; 20% is not above the ratio, so they stay tombstones.
    c.conn
        .execute("DELETE FROM documents WHERE id = ?1", [docs[0]])
        .unwrap();
    let index = c.open();
    assert_eq!(index.open_report().tombstoned, 40);
    assert_eq!(index.tombstone_count(), 40);
    assert!(!index.needs_compaction());
    // One more document deleted, tombstoned live: 80 of 200 is above 20%.
    index.remove_document(&c.conn, docs[1]).unwrap();
    c.conn
        .execute("DELETE FROM documents WHERE id = ?1", [docs[1]])
        .unwrap();
    assert!(index.needs_compaction());
    assert!(index.compact_if_needed(&c.conn).unwrap());
    assert_eq!((index.len(), index.tombstone_count()), (120, 0));
    let queries = c.queries(10);
    assert_complete(&c, &index, &queries);
}

#[test]
fn embedder_or_dimension_mismatch_rebuilds() {
    let mut c = company();
    c.add_document(30);
    c.open().dump_if_dirty().unwrap();
    let other = open_with(&c.vectors, &c.conn, "another-embedder", DIMS);
    match &other.open_report().source {
        OpenSource::Rebuilt(reason) => assert!(reason.contains("embedder"), "{reason}"),
        s => panic!("expected a rebuild, got {s:?}"),
    }
    assert_eq!(
        other.open_report().previous_embedder.as_deref(),
        Some(EMBEDDER)
    );
    // Stored vectors of another length cannot be indexed: none are, and it is reported.
    let wider = open_with(&c.vectors, &c.conn, EMBEDDER, DIMS * 2);
    assert!(matches!(wider.open_report().source, OpenSource::Rebuilt(_)));
    assert_eq!(wider.open_report().stale, 30);
    assert_eq!(wider.len(), 0);
    // The original dump is still good for the original embedder.
    assert_eq!(c.open().open_report().source, OpenSource::Loaded);
}

#[test]
fn add_is_idempotent_and_checks_vectors() {
    let mut c = company();
    let index = c.open();
    assert!(index.is_empty());
    assert!(index.search(&[0.1; DIMS], 5, 50, None).unwrap().is_empty());
    let doc = c.add_document(3);
    let items = store::embeddings_of(
        &c.conn,
        &chunks::ids_for_document(&c.conn, doc).unwrap(),
        EMBEDDER,
        DIMS,
    )
    .unwrap();
    index.add(&items).unwrap();
    index.add(&items).unwrap();
    assert_eq!(index.len(), 3);
    // A vector that cannot be normalised is left out, not an error for its batch-mates.
    index.add(&[(99, vec![0.0; DIMS])]).unwrap();
    assert_eq!(index.len(), 3);
    assert!(index.add(&[(99, vec![1.0; DIMS + 1])]).is_err());
    assert!(index.search(&[1.0; 3], 5, 50, None).is_err());
    let hit = index.search(&items[1].1, 1, 50, None).unwrap();
    assert_eq!(hit[0].0, items[1].0);
    assert!((hit[0].1 - 1.0).abs() < 1e-4);
    assert!(index.dump_if_dirty().unwrap());
}

#[test]
fn an_empty_company_dumps_once_and_then_stays_clean() {
    let c = company();
    let index = c.open();
    assert!(index.is_dirty(), "a fresh index has never been written");
    assert_eq!(index.maintain(&c.conn).unwrap(), (false, true));
    let again = c.open();
    assert_eq!(again.open_report().source, OpenSource::Loaded);
    assert!(!again.is_dirty());
    assert_eq!(again.maintain(&c.conn).unwrap(), (false, false));
}

#[test]
fn searches_run_while_adding_compacting_and_dumping() {
    let mut c = company();
    let first = c.add_document(60);
    c.add_document(60);
    let index = c.open();
    let late = c.add_document(80); // committed after the index was opened
    let items = store::embeddings_of(
        &c.conn,
        &chunks::ids_for_document(&c.conn, late).unwrap(),
        EMBEDDER,
        DIMS,
    )
    .unwrap();
    index.remove_document(&c.conn, first).unwrap();
    c.conn
        .execute("DELETE FROM documents WHERE id = ?1", [first])
        .unwrap();
    let queries = c.queries(8);
    let db_path = c.conn.path().unwrap().to_string();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..30 {
                    for q in &queries {
                        let hits = index.search(q, 10, 64, None).unwrap();
                        assert_eq!(hits.len(), 10);
                    }
                }
            });
        }
        s.spawn(|| {
            let conn = Connection::open(&db_path).unwrap();
            index.add(&items[..40]).unwrap();
            index.dump_if_dirty().unwrap();
            index.compact(&conn).unwrap();
            index.add(&items[40..]).unwrap();
            index.dump_if_dirty().unwrap();
        });
    });
    assert_eq!((index.len(), index.tombstone_count()), (140, 0));
    assert_complete(&c, &index, &queries);
    let reopened = c.open();
    assert_eq!(reopened.open_report().source, OpenSource::Loaded);
    assert_eq!(reopened.open_report().caught_up, 0);
}

#[test]
fn hybrid_survives_an_unavailable_embedder() {
    use silo::embed::{EmbedError, Embedder};
    use silo::search::{SearchError, SearchMode, SearchRequest, rank};

    struct Down;
    impl Embedder for Down {
        fn id(&self) -> &str {
            EMBEDDER
        }
        fn dimensions(&self) -> usize {
            DIMS
        }
        fn embed(&self, _: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
            Err(EmbedError::Unavailable("service down".into()))
        }
    }
    let mut c = company();
    c.add_document(3); // every chunk's content is "text"
    let index = c.open();
    let req = |mode| SearchRequest {
        query: "text",
        k: 5,
        mode,
        allowed: None,
    };
    assert_eq!(
        rank(&c.conn, Some(&index), &Down, req(SearchMode::Hybrid))
            .unwrap()
            .len(),
        3
    );
    assert!(matches!(
        rank(&c.conn, Some(&index), &Down, req(SearchMode::Vector)),
        Err(SearchError::Embed(_))
    ));
}

/// A chunk whose vector was replaced (re-embedded) while the index held its old one: the
/// old point is tombstoned, the new vector revives it at the next compaction.
#[test]
fn a_reembedded_chunk_is_revived_by_compaction() {
    let mut c = company();
    let doc = c.add_document(6);
    let index = c.open();
    let id = chunks::ids_for_document(&c.conn, doc).unwrap()[2];
    // Another embedder's vector now: the index must not serve the old one.
    c.conn
        .execute(
            "UPDATE document_chunks SET embedding_model = 'other' WHERE id = ?1",
            [id],
        )
        .unwrap();
    assert_eq!(index.catch_up(&c.conn).unwrap(), 0);
    assert_eq!(index.tombstone_count(), 1);
    // Re-embedded by this embedder, with a vector unlike any other.
    let fresh = unit(random_vec(&mut c.rng, 1.0));
    store::set_embeddings(&c.conn, EMBEDDER, &[(id, fresh.clone())]).unwrap();
    index.add(&[(id, fresh.clone())]).unwrap();
    assert!(index.needs_compaction(), "the graph cannot replace a point");
    assert!(!ids(&index.search(&fresh, 6, 100, None).unwrap()).contains(&id));
    index.compact(&c.conn).unwrap();
    assert_eq!(index.tombstone_count(), 0);
    assert!(!index.needs_compaction());
    assert_eq!(index.search(&fresh, 1, 100, None).unwrap()[0].0, id);
    assert_eq!(index.len(), 6);
}

/// The graph walk (used above `exhaustive_max` points; forced here): tombstones and a
/// caller's filter are honoured and recall against exact search stays high.
#[test]
fn the_graph_walk_honours_tombstones_and_filters() {
    let mut c = company();
    let docs: Vec<i64> = (0..8).map(|_| c.add_document(40)).collect();
    let queries = c.queries(24);
    let walk = IndexParams {
        exhaustive_max: 0,
        compact_min: 1_000_000,
        ..IndexParams::default()
    };
    let index =
        VectorIndex::open_or_rebuild_with(&c.vectors, &c.conn, EMBEDDER, DIMS, walk).unwrap();
    let removed = chunks::ids_for_document(&c.conn, docs[0]).unwrap();
    index.remove_document(&c.conn, docs[0]).unwrap();
    c.conn
        .execute("DELETE FROM documents WHERE id = ?1", [docs[0]])
        .unwrap();
    let even = |id: i64| id % 2 == 0;
    let (mut found, mut wanted) = (0, 0);
    for q in &queries {
        let hits = index.search(q, 10, 64, None).unwrap();
        assert_eq!(hits.len(), 10);
        assert!(hits.iter().all(|(id, _)| !removed.contains(id)));
        let exact = c.exact(q, 10);
        found += ids(&hits).iter().filter(|id| exact.contains(id)).count();
        wanted += exact.len();
        let filtered = index.search(q, 10, 64, Some(&even)).unwrap();
        assert_eq!(filtered.len(), 10);
        assert!(
            filtered
                .iter()
                .all(|(id, _)| id % 2 == 0 && !removed.contains(id))
        );
    }
    let recall = found as f64 / wanted as f64;
    assert!(recall >= 0.9, "recall@10 {recall}");
}

/// A small graph is searched exhaustively until it outgrows `exhaustive_max`; then it is
/// walked, and both ways find the chunks added last.
#[test]
fn a_graph_outgrowing_the_exhaustive_limit_is_walked() {
    let mut c = company();
    c.add_document(40);
    let params = IndexParams {
        exhaustive_max: 50,
        ..IndexParams::default()
    };
    let index =
        VectorIndex::open_or_rebuild_with(&c.vectors, &c.conn, EMBEDDER, DIMS, params).unwrap();
    let exact_bytes = index.approx_bytes();
    for round in 0..2 {
        let doc = c.add_document(10);
        let items = store::embeddings_of(
            &c.conn,
            &chunks::ids_for_document(&c.conn, doc).unwrap(),
            EMBEDDER,
            DIMS,
        )
        .unwrap();
        index.add(&items).unwrap();
        for (id, v) in &items {
            assert_eq!(
                index.search(v, 1, 64, None).unwrap()[0].0,
                *id,
                "round {round}"
            );
        }
    }
    // 60 points: past the limit, the kept vectors are dropped (and no longer counted).
    assert_eq!(index.len(), 60);
    assert!(
        index.approx_bytes() < exact_bytes * 60 / 40,
        "vectors kept past the limit"
    );
}
