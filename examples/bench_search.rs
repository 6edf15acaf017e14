//! Search latency at company size: the search itself (ranking and loading the hits), without
//! embedding the query, single thread.
//!
//! `cargo run --release --example bench_search [-- --n 50000 --queries 1000]`
//!
//! The company holds `n` near-duplicate chunks, each with one unique code or name (the
//! corpus of tests/it/exact_terms.rs), stored in a real company database with the lexical
//! embedder's vectors (384 numbers, like MiniLM's; the cost of scoring does not depend on
//! which model made them), and its index is opened the way Silo opens it. Queries are half
//! bare codes, half questions around a code; each query's vector is computed before the
//! clock starts. Reported per mode: mean, p50, p95 and p99 in milliseconds, the share of
//! queries whose chunk is in the top 10, and whether the index was scored exhaustively or
//! walked (past 100,000 chunks: `--n 200000` measures the walk).

#[path = "common/near_duplicates.rs"]
mod near_duplicates;

use std::collections::HashMap;
use std::time::Instant;

use rusqlite::Connection;
use silo::embed::{EmbedError, Embedder, LexicalEmbedder};
use silo::index::VectorIndex;
use silo::search::{self, SearchMode, SearchRequest};
use silo::store::db::migrations::{MigrationSet, migrate};

use near_duplicates::term;

/// Answers with vectors computed beforehand, so the timing excludes embedding.
struct Precomputed(HashMap<String, Vec<f32>>);

impl Embedder for Precomputed {
    fn id(&self) -> &str {
        LexicalEmbedder.id()
    }
    fn dimensions(&self) -> usize {
        LexicalEmbedder.dimensions()
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|t| self.0[*t].clone()).collect())
    }
}

fn arg(name: &str, default: usize) -> usize {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter()
        .position(|a| a == name)
        .and_then(|i| argv.get(i + 1))
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((p / 100.0 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn main() -> anyhow::Result<()> {
    let n = arg("--n", 50_000);
    let queries = arg("--queries", 1_000);
    let tmp = tempfile::tempdir()?;
    let mut conn = Connection::open(tmp.path().join("company.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    migrate(&mut conn, MigrationSet::Company)?;
    let t = Instant::now();
    near_duplicates::store(&mut conn, n, &LexicalEmbedder)?;
    eprintln!("{n} chunks stored in {:.1} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let index = VectorIndex::open_or_rebuild(
        &tmp.path().join("vectors"),
        &conn,
        LexicalEmbedder.id(),
        LexicalEmbedder.dimensions(),
    )?;
    eprintln!("index opened in {:.1} s", t.elapsed().as_secs_f64());

    // Spread over the corpus: every kind of code and every template.
    // The chunk holding each query's term (chunk `i` has the UUID "c{i}").
    let targets: Vec<String> = (0..queries)
        .map(|q| format!("c{}", (q * 7_919) % n))
        .collect();
    let asked: Vec<String> = (0..queries)
        .map(|q| {
            let t = term((q * 7_919) % n);
            if q % 2 == 0 {
                t
            } else {
                format!("who signed off the cooling maintenance filed as {t}?")
            }
        })
        .collect();
    let vectors = LexicalEmbedder.embed(&asked.iter().map(String::as_str).collect::<Vec<_>>())?;
    let embedder = Precomputed(asked.iter().cloned().zip(vectors).collect());

    let walked = if index.is_exhaustive() {
        "scored exhaustively"
    } else {
        "walked"
    };
    println!("{n} chunks, index {walked}, {queries} queries, k = 10, one thread");
    println!(
        "{:<9}{:>9}{:>9}{:>9}{:>9}{:>8}",
        "mode", "mean ms", "p50 ms", "p95 ms", "p99 ms", "R@10"
    );
    for mode in [SearchMode::Keyword, SearchMode::Vector, SearchMode::Hybrid] {
        let (mut times, mut found) = (Vec::with_capacity(queries), 0);
        for (round, (query, target)) in asked.iter().zip(&targets).enumerate() {
            let req = SearchRequest {
                query,
                k: 10,
                mode,
                allowed: None,
            };
            let t = Instant::now();
            let hits = search::search(&conn, Some(&index), &embedder, req)?;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            found += usize::from(hits.iter().any(|h| h.chunk_id == *target));
            if round >= 10 {
                times.push(ms); // the first few warm the caches
            }
        }
        times.sort_by(f64::total_cmp);
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        println!(
            "{:<9}{mean:>9.2}{:>9.2}{:>9.2}{:>9.2}{:>8.3}",
            format!("{mode:?}").to_lowercase(),
            percentile(&times, 50.0),
            percentile(&times, 95.0),
            percentile(&times, 99.0),
            found as f64 / queries as f64
        );
    }
    Ok(())
}
