//! Benchmark of the per-company vector index on realistic data.
//!
//! `cargo run --release --example bench_hnsw [-- --n 100000 --dims 384 --clusters 200
//! --queries 1000 --m 24 --efc 200]` (M and ef_construction default to Silo's own)
//!
//! The vectors are a mixture of gaussian clusters of varying size and spread, normalised —
//! like sentence embeddings, where documents on one topic crowd together — not uniform
//! noise, on which every ANN index looks bad and which no embedder produces. They are
//! stored in a real company database, and the index is built the way Silo builds it (from
//! SQLite). Reported: build time, dump and reload times (vs rebuilding), memory per
//! point, and for each ef the recall@10 against exact search and single-thread queries/s.

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::Connection;
use silo::index::{IndexParams, OpenSource, VectorIndex, distance};
use silo::store::company::embeddings as store;
use silo::store::db::migrations::{MigrationSet, migrate};

struct Args {
    n: usize,
    dims: usize,
    clusters: usize,
    queries: usize,
    m: usize,
    efc: usize,
}

fn args() -> Args {
    let mut a = Args {
        n: 100_000,
        dims: 384,
        clusters: 200,
        queries: 1000,
        m: 0,
        efc: 0,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let v: usize = pair
            .get(1)
            .and_then(|v| v.parse().ok())
            .expect("--flag NUMBER");
        match pair[0].as_str() {
            "--n" => a.n = v,
            "--dims" => a.dims = v,
            "--clusters" => a.clusters = v,
            "--queries" => a.queries = v,
            "--m" => a.m = v,
            "--efc" => a.efc = v,
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

/// Standard normal sample (Box–Muller; rand_distr is not worth a dependency here).
fn gauss(rng: &mut StdRng) -> f32 {
    let u1: f32 = rng.random::<f32>().max(1e-12);
    let u2: f32 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

struct Mixture {
    centers: Vec<Vec<f32>>,
    spreads: Vec<f32>,
    /// Cumulative cluster weights: sizes vary ~20× between clusters.
    cumulative: Vec<f32>,
}

impl Mixture {
    fn new(rng: &mut StdRng, clusters: usize, dims: usize) -> Self {
        let centers = (0..clusters)
            .map(|_| {
                let mut c: Vec<f32> = (0..dims).map(|_| gauss(rng)).collect();
                silo::embed::normalize(&mut c);
                c
            })
            .collect();
        // Noise norm relative to the centre: 0.6..1.4, i.e. cosine to the centre of about
        // 0.58..0.86, the range sentence embeddings of one topic show.
        let spreads = (0..clusters).map(|_| rng.random_range(0.6..1.4)).collect();
        let mut total = 0.0;
        let cumulative = (0..clusters)
            .map(|_| {
                total += rng.random_range(0.05f32..1.0);
                total
            })
            .collect();
        Mixture {
            centers,
            spreads,
            cumulative,
        }
    }

    fn sample(&self, rng: &mut StdRng) -> Vec<f32> {
        let total = *self.cumulative.last().unwrap();
        let pick = rng.random::<f32>() * total;
        let c = self
            .cumulative
            .partition_point(|w| *w < pick)
            .min(self.centers.len() - 1);
        let dims = self.centers[c].len();
        let scale = self.spreads[c] / (dims as f32).sqrt();
        let mut v: Vec<f32> = self.centers[c]
            .iter()
            .map(|x| x + scale * gauss(rng))
            .collect();
        silo::embed::normalize(&mut v);
        v
    }
}

/// CPU time of this thread: queries/s by CPU time is what one core delivers even while
/// other processes compete for the (two) cores, which wall-clock time would not show.
fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid pointer given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    let a = args();
    let mut rng = StdRng::seed_from_u64(42);
    let mix = Mixture::new(&mut rng, a.clusters, a.dims);
    let tmp = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(tmp.path().join("company.db")).unwrap();
    migrate(&mut conn, MigrationSet::Company).unwrap();

    let t = Instant::now();
    let mut data = Vec::with_capacity(a.n);
    {
        let tx = conn.transaction().unwrap();
        tx.execute(
            "INSERT INTO documents (id, uuid, filename, file_path, uploaded_by) VALUES (1, 'd', 'f', 'f', 'u')",
            [],
        )
        .unwrap();
        let mut stmt = tx
            .prepare(
                "INSERT INTO document_chunks (uuid, document_id, content, chunk_index, embedding)
                 VALUES (?1, 1, '', ?2, ?3)",
            )
            .unwrap();
        for i in 0..a.n {
            let v = mix.sample(&mut rng);
            stmt.execute(rusqlite::params![
                i.to_string(),
                i as i64,
                store::encode_embedding(&v)
            ])
            .unwrap();
            data.push(v);
        }
        drop(stmt);
        tx.commit().unwrap();
    }
    println!(
        "data: {} x {} in {} clusters, stored in SQLite in {:.1} s",
        a.n,
        a.dims,
        a.clusters,
        t.elapsed().as_secs_f64()
    );
    let queries: Vec<Vec<f32>> = (0..a.queries).map(|_| mix.sample(&mut rng)).collect();

    // 0 = Silo's defaults.
    let defaults = IndexParams::default();
    let params = IndexParams {
        max_nb_connection: if a.m == 0 {
            defaults.max_nb_connection
        } else {
            a.m
        },
        ef_construction: if a.efc == 0 {
            defaults.ef_construction
        } else {
            a.efc
        },
        ..defaults
    };
    let dir = tmp.path().join("vectors");
    let rss0 = rss_bytes();
    let t = Instant::now();
    let index = VectorIndex::open_or_rebuild_with(&dir, &conn, "bench", a.dims, params).unwrap();
    let build = t.elapsed().as_secs_f64();
    let rss1 = rss_bytes();
    println!(
        "build from SQLite (M={}, ef_construction={}, {} threads): {:.1} s",
        params.max_nb_connection,
        params.ef_construction,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        build
    );
    println!(
        "memory: RSS +{:.0} MB ({:.0} B/point), approx_bytes() {:.0} MB",
        (rss1.saturating_sub(rss0)) as f64 / 1e6,
        (rss1.saturating_sub(rss0)) as f64 / a.n as f64,
        index.approx_bytes() as f64 / 1e6
    );

    let t = Instant::now();
    index.dump_if_dirty().unwrap();
    let dump = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let reloaded = VectorIndex::open_or_rebuild_with(&dir, &conn, "bench", a.dims, params).unwrap();
    let reload = t.elapsed().as_secs_f64();
    assert_eq!(reloaded.open_report().source, OpenSource::Loaded);
    println!(
        "dump: {:.2} s ({:.0} MB on disk); reload incl. checksum and SQLite reconcile: {:.2} s \
         (rebuild: {:.1} s)",
        dump,
        VectorIndex::disk_bytes(&dir) as f64 / 1e6,
        reload,
        build
    );
    drop(reloaded);

    // Exact top-10 by brute force, split over the available cores.
    let t = Instant::now();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let truth: Vec<Vec<i64>> = std::thread::scope(|s| {
        let per = queries.len().div_ceil(threads);
        let handles: Vec<_> = queries
            .chunks(per)
            .map(|qs| {
                let data = &data;
                s.spawn(move || {
                    qs.iter()
                        .map(|q| {
                            let mut scored: Vec<(f32, i64)> = data
                                .iter()
                                .enumerate()
                                .map(|(i, v)| (distance::dot(q, v), i as i64 + 1))
                                .collect();
                            scored.select_nth_unstable_by(9, |a, b| b.0.total_cmp(&a.0));
                            let mut top: Vec<(f32, i64)> = scored[..10].to_vec();
                            top.sort_by(|a, b| b.0.total_cmp(&a.0));
                            top.into_iter().map(|(_, id)| id).collect()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    println!(
        "exact top-10 for {} queries: {:.1} s",
        queries.len(),
        t.elapsed().as_secs_f64()
    );

    let (a0, b0) = (&data[0], &data[1]);
    let t = Instant::now();
    let mut sink = 0.0;
    for _ in 0..1_000_000 {
        sink += distance::dot(std::hint::black_box(a0), std::hint::black_box(b0));
    }
    println!(
        "distance: {:.1} ns per {}-d pair ({sink:.0})",
        t.elapsed().as_secs_f64() * 1e9 / 1e6,
        a.dims
    );

    println!(
        "\n| ef | recall@10 | queries/s, 1 thread (wall) | queries/s, 1 thread (CPU time) | mean latency (wall) |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for ef in [16, 32, 64, 128] {
        // Warm-up pass, then the timed one.
        for q in queries.iter().take(100) {
            index.search(q, 10, ef, None).unwrap();
        }
        let (t, cpu) = (Instant::now(), thread_cpu_secs());
        let results: Vec<Vec<(i64, f32)>> = queries
            .iter()
            .map(|q| index.search(q, 10, ef, None).unwrap())
            .collect();
        let (secs, cpu) = (t.elapsed().as_secs_f64(), thread_cpu_secs() - cpu);
        let found: usize = results
            .iter()
            .zip(&truth)
            .map(|(r, t)| r.iter().filter(|(id, _)| t.contains(id)).count())
            .sum();
        let recall = found as f64 / (10 * queries.len()) as f64;
        println!(
            "| {ef} | {recall:.3} | {:.0} | {:.0} | {:.0} µs |",
            queries.len() as f64 / secs,
            queries.len() as f64 / cpu,
            secs * 1e6 / queries.len() as f64
        );
    }
}
