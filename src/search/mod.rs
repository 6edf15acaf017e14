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

use std::collections::{HashMap, HashSet};

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

/// Where a search result comes from: the searcher's company, or the global library.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    #[default]
    Company,
    Library,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Company => "company",
            Source::Library => "library",
        }
    }
}

/// One body of chunks a search looks in: a company's database (or the library's), its
/// loaded index, and the documents the searcher may see there (`None`: all of them).
#[derive(Clone, Copy)]
pub struct Corpus<'a> {
    pub source: Source,
    pub conn: &'a Connection,
    pub index: Option<&'a VectorIndex>,
    pub allowed: Option<&'a HashSet<i64>>,
}

/// A chunk of one corpus.
pub type Key = (Source, i64);

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
    let corpus = Corpus {
        source: Source::Company,
        conn,
        index,
        allowed: req.allowed,
    };
    let ranked = rank_in(&[corpus], embedder, req.query, req.k, req.mode)?;
    Ok(ranked.into_iter().map(|((_, id), s)| (id, s)).collect())
}

/// [`rank`] over several corpora as if they were one: the query is embedded once, each
/// corpus gives its lists (cosine similarities and `-bm25` scores, comparable across
/// corpora searched with one embedder), and the lists are merged before they are cut and
/// fused, so the best keyword match of all of them is still kept in hybrid mode.
pub fn rank_in(
    corpora: &[Corpus<'_>],
    embedder: &dyn Embedder,
    query: &str,
    k: usize,
    mode: SearchMode,
) -> Result<Vec<(Key, f64)>, SearchError> {
    let k = k.clamp(1, MAX_K);
    let indexes: Vec<Result<&VectorIndex, String>> =
        corpora.iter().map(|c| usable(c.index, embedder)).collect();
    let vector = match mode {
        SearchMode::Keyword => None,
        SearchMode::Vector => {
            if let Some(Err(why)) = indexes.iter().find(|ix| ix.is_err()) {
                return Err(SearchError::NoIndex(why.clone()));
            }
            Some(embed_query(embedder, query)?)
        }
        SearchMode::Hybrid if indexes.iter().all(Result::is_err) => {
            tracing::warn!("hybrid search without vectors: keyword only");
            None
        }
        SearchMode::Hybrid => match embed_query(embedder, query) {
            Ok(v) => Some(v),
            // An HTTP embedder that is down should not take keyword search with it.
            Err(SearchError::Embed(EmbedError::Unavailable(why))) => {
                tracing::warn!(reason = %why, "hybrid search without vectors: keyword only");
                None
            }
            Err(e) => return Err(e),
        },
    };
    let depth = match mode {
        SearchMode::Hybrid => k * HYBRID_DEPTH,
        _ => k,
    };
    let mut lists = Vec::with_capacity(corpora.len());
    for (corpus, index) in corpora.iter().zip(&indexes) {
        let index = index.as_ref().ok().copied();
        let vector = vector.as_deref().zip(index);
        lists.push(candidates(corpus, vector, query, depth, mode)?);
    }
    Ok(fuse(lists, mode, k, depth))
}

/// The index of `index` if `embedder` made it, else why it cannot be used.
fn usable<'a>(
    index: Option<&'a VectorIndex>,
    embedder: &dyn Embedder,
) -> Result<&'a VectorIndex, String> {
    match index {
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
    }
}

fn embed_query(embedder: &dyn Embedder, query: &str) -> Result<Vec<f32>, SearchError> {
    Ok(embedder.embed(&[query])?.pop().unwrap_or_default())
}

/// What one corpus offers a search, before fusion.
#[derive(Default)]
struct Candidates {
    /// Nearest chunks by cosine similarity, best first (`None` without a usable index).
    vectors: Option<Vec<(Key, f64)>>,
    /// Best chunks by `-bm25`, best first.
    words: Vec<(Key, f64)>,
    /// How many chunks the keyword list holds, and whether common terms were left out of it.
    word_hits: usize,
    pruned: bool,
    /// How many chunks hold each of the query's codes (up to the list depth).
    code_counts: Vec<usize>,
    /// The best match by the query's content words, as keyword mode ranks.
    best_word: Option<(Key, f64)>,
}

fn candidates(
    corpus: &Corpus<'_>,
    vector: Option<(&[f32], &VectorIndex)>,
    query: &str,
    depth: usize,
    mode: SearchMode,
) -> Result<Candidates, SearchError> {
    let tag = |hits: Vec<(i64, f64)>| -> Vec<(Key, f64)> {
        hits.into_iter()
            .map(|(id, s)| ((corpus.source, id), s))
            .collect()
    };
    let mut found = Candidates::default();
    if let Some((q, ix)) = vector {
        let ef = DEFAULT_EF.max(depth);
        let hits = vector::vector_search(corpus.conn, ix, q, depth, ef, corpus.allowed)?;
        found.vectors = Some(tag(hits
            .into_iter()
            .map(|(id, s)| (id, f64::from(s)))
            .collect()));
    }
    let mut stats = keyword::TermStats::new(corpus.conn)?;
    // Without its stopwords a question matches on what it is about, not on "how" and "I"
    // (keyword MRR@10 0.62 → 0.68 on the retrieval benchmark).
    let content = keyword::without_stopwords(query);
    match mode {
        SearchMode::Vector => {}
        SearchMode::Keyword => {
            let words = keyword::keyword_search_with(&mut stats, &content, depth, corpus.allowed)?;
            found.words = tag(words.hits);
        }
        SearchMode::Hybrid => {
            // With its stopwords: fused, they made no measurable difference on the retrieval
            // benchmark, and without them more questions looked rare (Python FAQ hybrid
            // MRR@10 0.877 → 0.863).
            let words = keyword::keyword_search_with(&mut stats, query, depth, corpus.allowed)?;
            (found.word_hits, found.pruned) = (words.hits.len(), words.pruned);
            found.code_counts = keyword::code_counts(corpus.conn, query, depth)?;
            // The match always kept is the best by the query's content words: a stopword
            // the query shares with a code ("we" in SKU-61038-WE) must not choose it.
            let best = if content == query {
                words.best().zip(words.hits.first().map(|h| h.1))
            } else {
                let best = keyword::keyword_search_with(&mut stats, &content, 1, corpus.allowed)?;
                best.best().zip(best.hits.first().map(|h| h.1))
            };
            found.best_word = best.map(|(id, s)| ((corpus.source, id), s));
            found.words = tag(words.hits);
        }
    }
    Ok(found)
}

/// Merges the corpora's lists (each already best first) into one, best first, cut to `depth`.
fn merged(lists: impl Iterator<Item = Vec<(Key, f64)>>, depth: usize) -> Vec<(Key, f64)> {
    let mut all: Vec<(Key, f64)> = lists.flatten().collect();
    // Stable: a single corpus keeps its own order, ties included.
    all.sort_by(|a, b| b.1.total_cmp(&a.1));
    all.truncate(depth);
    all
}

/// Whether the query's words, or one of its codes, are rare in the corpora together: the
/// keyword lists hold fewer chunks than asked for (a query with common terms left out is not
/// one of rare words, whatever the length of its list), or fewer chunks than that hold a
/// code. Counted over all corpora, so a corpus without a match (an empty library, or one
/// the search's documents leave out) changes nothing.
fn rare(found: &[Candidates], depth: usize) -> bool {
    let words: usize = found.iter().map(|c| c.word_hits).sum();
    let rare_words = !found.iter().any(|c| c.pruned) && words < depth;
    let codes = found.iter().map(|c| c.code_counts.len()).max().unwrap_or(0);
    let rare_code = (0..codes).any(|i| {
        let n: usize = found
            .iter()
            .map(|c| c.code_counts.get(i).copied().unwrap_or(0))
            .sum();
        n > 0 && n < depth
    });
    rare_words || rare_code
}

fn fuse(found: Vec<Candidates>, mode: SearchMode, k: usize, depth: usize) -> Vec<(Key, f64)> {
    let rare = rare(&found, depth);
    let best_word = found
        .iter()
        .filter_map(|c| c.best_word)
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|b| b.0);
    let has_vectors = found.iter().any(|c| c.vectors.is_some());
    let (vectors, words): (Vec<_>, Vec<_>) = found
        .into_iter()
        .map(|c| (c.vectors.unwrap_or_default(), c.words))
        .unzip();
    match mode {
        SearchMode::Vector => merged(vectors.into_iter(), k),
        SearchMode::Keyword => merged(words.into_iter(), k),
        SearchMode::Hybrid if !has_vectors => merged(words.into_iter(), k),
        SearchMode::Hybrid => {
            let (vectors, words) = (
                merged(vectors.into_iter(), depth),
                merged(words.into_iter(), depth),
            );
            let keyword = fusion::keyword_weight(rare);
            let lists = [
                (vectors.as_slice(), 1.0 - keyword),
                (words.as_slice(), keyword),
            ];
            fusion::top_k_keeping(fusion::convex(&lists), best_word, k)
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
    Ok(load_hits(conn, &ranked, Source::Company)?)
}

/// [`rank_in`] then [`load_hits`] from each corpus, in rank order.
pub fn search_in(
    corpora: &[Corpus<'_>],
    embedder: &dyn Embedder,
    query: &str,
    k: usize,
    mode: SearchMode,
) -> Result<Vec<SearchHit>, SearchError> {
    let ranked = rank_in(corpora, embedder, query, k, mode)?;
    let mut rows = HashMap::new();
    for corpus in corpora {
        let ids: Vec<i64> = ranked
            .iter()
            .filter(|(key, _)| key.0 == corpus.source)
            .map(|(key, _)| key.1)
            .collect();
        for (id, row) in hits::rows(corpus.conn, &ids, corpus.source)? {
            rows.insert((corpus.source, id), row);
        }
    }
    Ok(ranked
        .iter()
        .filter_map(|(key, score)| rows.remove(key).map(|row| row.scored(*score)))
        .collect())
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
