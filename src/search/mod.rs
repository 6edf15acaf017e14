//! Search over a company's chunks: vector (HNSW), keyword (FTS5 BM25) and hybrid (both,
//! merged by a weighted sum of normalised scores). Free functions over `&Connection` plus the
//! company's [`VectorIndex`]; blocking, so callers run them on the blocking pool.
//!
//! - [`keyword`]: query sanitising and BM25 search.
//! - [`common_terms`]: the terms a big company's keyword query leaves out.
//! - [`vector`]: graph search with a document filter.
//! - [`fusion`]: score fusion of the two lists.
//! - [`hits`]: turning chunk ids into result rows (who may see which documents is the
//!   store's one rule, `store::company::documents::visible_ids`).

pub mod common_terms;
pub mod fusion;
pub mod hits;
pub mod keyword;
pub mod vector;

use std::collections::HashSet;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

pub use hits::{SearchHit, load_hits};

use crate::embed::{EmbedError, Embedder};
use crate::index::{IndexError, VectorIndex};

/// Largest `k` a search may ask for (invariant 5: bounded work per request).
pub const MAX_K: usize = 100;
/// Graph search breadth used by [`rank`] (at least the list depth asked for). With the
/// default M = 24 (examples/bench_hnsw.rs, 100k × 384): ef 32 gives recall@10 0.965 at
/// ~2,100 queries/s per core, ef 64 gives 0.996 at ~1,600 (0.6 ms). A search spends ~9 ms
/// embedding its query with the local model, so the extra 0.15 ms buys near-exact results.
pub const DEFAULT_EF: usize = 64;
/// Each list fused in hybrid mode is this many times longer than `k`, so a chunk ranked a
/// little lower by one method can still be lifted by the other.
const HYBRID_DEPTH: usize = 4;
// A common term is in more chunks than any list is deep, so a query with one is never
// one of rare words (a list shorter than asked for).
const _: () = assert!((MAX_K * HYBRID_DEPTH) as i64 <= keyword::COMMON_MIN_CHUNKS);

/// How to search.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    #[default]
    Hybrid,
    Vector,
    Keyword,
}

/// Errors of searching.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    /// Vector search was asked for but the company has no usable index for this embedder.
    #[error("semantic search is unavailable: {0}")]
    NoIndex(String),
}

/// One search: `allowed` restricts results to these internal document ids (build it
/// with `store::company::documents::visible_ids`); `None` means every document.
#[derive(Clone, Copy, Debug)]
pub struct SearchRequest<'a> {
    pub query: &'a str,
    pub k: usize,
    pub mode: SearchMode,
    pub allowed: Option<&'a HashSet<i64>>,
}

/// Ranks chunk ids for `req`, best first, with the mode's score: cosine similarity
/// (vector), `-bm25` (keyword) or the fused score in [0, 1] (hybrid). `k` is clamped to 1..=[`MAX_K`].
///
/// Hybrid without a usable index (none loaded, or built by another embedder) or with the
/// embedder unavailable degrades to keyword search; vector mode then fails with
/// [`SearchError::NoIndex`] or [`SearchError::Embed`].
pub fn rank(
    conn: &Connection,
    index: Option<&VectorIndex>,
    embedder: &dyn Embedder,
    req: SearchRequest<'_>,
) -> Result<Vec<(i64, f64)>, SearchError> {
    let k = req.k.clamp(1, MAX_K);
    let index = match index {
        Some(ix)
            if ix.embedder_id() == embedder.id() && ix.dimensions() == embedder.dimensions() =>
        {
            Ok(ix)
        }
        Some(ix) => Err(format!(
            "the index was built by {} and the embedder is {}; reindex the company",
            ix.embedder_id(),
            embedder.id()
        )),
        None => Err("the company's index is not loaded".to_string()),
    };
    let vector_ranked = |depth: usize| -> Result<Vec<(i64, f64)>, SearchError> {
        let ix = index
            .as_ref()
            .map_err(|why| SearchError::NoIndex(why.clone()))?;
        let q = embedder.embed(&[req.query])?.pop().unwrap_or_default();
        let hits = vector::vector_search(conn, ix, &q, depth, DEFAULT_EF.max(depth), req.allowed)?;
        Ok(hits.into_iter().map(|(id, s)| (id, f64::from(s))).collect())
    };
    match req.mode {
        SearchMode::Keyword => {
            // Without its stopwords a question matches on what it is about, not on "how"
            // and "I" (MRR@10 0.62 → 0.68 on the retrieval benchmark).
            let query = keyword::without_stopwords(req.query);
            let mut stats = keyword::TermStats::new(conn)?;
            Ok(keyword::keyword_search_with(&mut stats, &query, k, req.allowed)?.hits)
        }
        SearchMode::Vector => vector_ranked(k),
        SearchMode::Hybrid => {
            let depth = k * HYBRID_DEPTH;
            let mut stats = keyword::TermStats::new(conn)?;
            // With its stopwords: fused, they made no measurable difference on the retrieval
            // benchmark, and without them more questions looked rare (Python FAQ hybrid
            // MRR@10 0.877 → 0.863).
            let found = keyword::keyword_search_with(&mut stats, req.query, depth, req.allowed)?;
            let words = &found.hits;
            if let Err(why) = &index {
                tracing::warn!(reason = %why, "hybrid search without vectors: keyword only");
                return Ok(words.iter().take(k).copied().collect());
            }
            let vectors = match vector_ranked(depth) {
                Ok(v) => v,
                // An HTTP embedder that is down should not take keyword search with it.
                Err(SearchError::Embed(EmbedError::Unavailable(why))) => {
                    tracing::warn!(reason = %why, "hybrid search without vectors: keyword only");
                    return Ok(words.iter().take(k).copied().collect());
                }
                Err(e) => return Err(e),
            };
            // A query with common terms left out is not one of rare words, whatever the
            // length of its list.
            let rare = (!found.pruned && words.len() < depth)
                || keyword::has_rare_code(conn, req.query, depth)?;
            let keyword = fusion::keyword_weight(rare);
            let lists = [(vectors.as_slice(), 1.0 - keyword), (words, keyword)];
            // The match always kept is the best by the query's content words, as keyword
            // mode ranks: a stopword the query shares with a code ("we" in SKU-61038-WE)
            // must not choose it.
            let content = keyword::without_stopwords(req.query);
            let best_word = if content == req.query {
                found.best()
            } else {
                keyword::keyword_search_with(&mut stats, &content, 1, req.allowed)?.best()
            };
            Ok(fusion::top_k_keeping(fusion::convex(&lists), best_word, k))
        }
    }
}

/// [`rank`] then [`load_hits`]: the rows of POST /api/search.
pub fn search(
    conn: &Connection,
    index: Option<&VectorIndex>,
    embedder: &dyn Embedder,
    req: SearchRequest<'_>,
) -> Result<Vec<SearchHit>, SearchError> {
    let ranked = rank(conn, index, embedder, req)?;
    Ok(load_hits(conn, &ranked)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::EmbedError;
    use crate::store::company::testdb;

    /// An embedder that cannot tell texts apart, like a model that sees no meaning in a
    /// made-up word: only the keyword list can find it.
    struct Blind;

    impl Embedder for Blind {
        fn id(&self) -> &str {
            "blind"
        }
        fn dimensions(&self) -> usize {
            4
        }
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
            Ok(texts.iter().map(|_| vec![1.0, 0.0, 0.0, 0.0]).collect())
        }
    }

    #[test]
    fn a_stopword_in_a_question_does_not_pick_the_best_keyword_match() {
        let db = testdb::open();
        let c = &db.conn;
        let mut texts = vec![
            "Sample SKU-61038-WE was logged at the lab.".to_string(),
            "Invoice brannoxite was paid in full on the last day of the month; the receipt \
             was filed with the accounts team."
                .to_string(),
        ];
        texts.extend((0..60).map(|i| format!("Customer {i} called support about a login.")));
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = Blind.embed(&refs).unwrap();
        let doc = testdb::document(c);
        let ids = testdb::chunks(c, doc, &refs, Some(("blind", &vectors)));
        let tmp = tempfile::tempdir().unwrap();
        let index = VectorIndex::open_or_rebuild(&tmp.path().join("v"), c, "blind", 4).unwrap();
        let req = SearchRequest {
            query: "what do we know about brannoxite?",
            k: 1,
            mode: SearchMode::Hybrid,
            allowed: None,
        };
        let ranked = rank(c, Some(&index), &Blind, req).unwrap();
        assert_eq!(ranked.len(), 1);
        assert_eq!(ranked[0].0, ids[1], "{ranked:?}");
    }
}
