//! Keyword search over the FTS5 index of chunk text, ranked by BM25.
//!
//! User input never reaches FTS5's query syntax: a raw `"`, `*`, `NEAR(`, `AND`, `-` or `:`
//! would be an operator or a syntax error. The query is cut into words the way the
//! `unicode61` tokenizer cuts text, and each word is passed as a quoted string.

use std::collections::HashSet;

use rusqlite::Connection;

pub use super::common_terms::{COMMON_MIN_CHUNKS, TermStats};

/// Most words kept from one query; a pasted paragraph should not become a huge OR.
pub const MAX_TERMS: usize = 32;
/// Longest word kept, in characters (longer ones are not real words in any index).
const MAX_TERM_CHARS: usize = 64;

/// English stopwords (NLTK's list without its apostrophe forms, whose pieces — "don", "t",
/// "re" — are here, since words are cut at apostrophes), sorted for binary search.
const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "ain",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "aren",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "couldn",
    "d",
    "did",
    "didn",
    "do",
    "does",
    "doesn",
    "doing",
    "don",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "hadn",
    "has",
    "hasn",
    "have",
    "haven",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "isn",
    "it",
    "its",
    "itself",
    "just",
    "ll",
    "m",
    "ma",
    "me",
    "mightn",
    "more",
    "most",
    "mustn",
    "my",
    "myself",
    "needn",
    "no",
    "nor",
    "not",
    "now",
    "o",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "re",
    "s",
    "same",
    "shan",
    "she",
    "should",
    "shouldn",
    "so",
    "some",
    "such",
    "t",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "ve",
    "very",
    "was",
    "wasn",
    "we",
    "were",
    "weren",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "won",
    "wouldn",
    "y",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// `query` without the words that say nothing about what is sought ("how", "I", "the"): a
/// whitespace-separated token goes when every word in it is a stopword, so a code such as
/// `ERR_CONN_RESET` stays whole. The query as it is when nothing else would be left.
pub fn without_stopwords(query: &str) -> std::borrow::Cow<'_, str> {
    let kept: Vec<&str> = query
        .split_whitespace()
        .map(|token| token.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|token| {
            words(token).any(|w| STOPWORDS.binary_search(&w.to_lowercase().as_str()).is_err())
        })
        .collect();
    if kept.is_empty() {
        query.into()
    } else {
        kept.join(" ").into()
    }
}

/// The words of `text`: its runs of letters and digits.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// Turns free text into a safe FTS5 query: its words, quoted, OR-ed together (BM25 then
/// ranks chunks with more of the words higher), and for a token made of several words
/// (`INV-2024-08817`, `ERR_CONN_RESET`, `user@example.com`) also the phrase of them, so the
/// chunk holding the code itself ranks above chunks that merely share its parts. `None`
/// when the input has no word at all, in which case there is nothing to search for.
pub fn sanitize_fts_query(input: &str) -> Option<String> {
    let terms = fts_terms(input);
    (!terms.is_empty()).then(|| terms.join(" OR "))
}

/// The quoted terms of [`sanitize_fts_query`], first occurrence first.
fn fts_terms(input: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut terms: Vec<String> = Vec::new();
    for token in input.split_whitespace() {
        let parts: Vec<String> = words(token)
            .filter(|w| w.chars().count() <= MAX_TERM_CHARS)
            .map(str::to_lowercase)
            .collect();
        let phrase = (parts.len() > 1).then(|| parts.join(" "));
        for term in parts.into_iter().chain(phrase) {
            if terms.len() < MAX_TERMS && seen.insert(term.clone()) {
                terms.push(term);
            }
        }
    }
    // Terms hold only letters, digits and spaces, so wrapping them in quotes is enough:
    // there is no quote inside to escape, and inside a string `OR` or `NEAR` is just a
    // word (and several words are a phrase).
    terms.into_iter().map(|t| format!("\"{t}\"")).collect()
}

/// The codes of `query` as FTS5 phrases: tokens with a digit among letters
/// (`INV-2024-08817`, `SKU300007X`) or of several upper-case words (`ERR_CONN_RESET`). A
/// code names one thing. Plain words, bare numbers and names such as `os.path` or
/// `File::Find` are not codes: treating those as codes lowered the retrieval benchmark's
/// hybrid MRR@10 (Perl FAQ 0.796 → 0.784).
fn codes(query: &str) -> Vec<String> {
    query
        .split_whitespace()
        .filter_map(|token| {
            let parts: Vec<&str> = words(token)
                .filter(|w| w.chars().count() <= MAX_TERM_CHARS)
                .collect();
            let digits = parts.iter().any(|w| w.chars().any(char::is_numeric));
            let letters = parts.iter().any(|w| w.chars().any(char::is_alphabetic));
            let upper = parts.len() > 1
                && parts
                    .iter()
                    .all(|w| w.chars().all(|c| !c.is_alphabetic() || c.is_uppercase()));
            ((digits && letters) || upper)
                .then(|| format!("\"{}\"", parts.join(" ").to_lowercase()))
        })
        .take(MAX_TERMS)
        .collect()
}

/// Whether `query` holds a code that fewer than `limit` chunks of the company contain:
/// then the chunks holding it are what is sought, however common the query's other words.
/// Counted over the whole company, not a caller's filter, so a narrow filter alone does not
/// make a code rare.
pub fn has_rare_code(conn: &Connection, query: &str, limit: usize) -> rusqlite::Result<bool> {
    Ok(code_counts(conn, query, limit)?
        .iter()
        .any(|&n| n > 0 && n < limit))
}

/// How many chunks hold each code of `query` (in [`codes`] order), counted up to `limit`:
/// summed over several collections, they say whether a code is rare in all of them.
pub fn code_counts(conn: &Connection, query: &str, limit: usize) -> rusqlite::Result<Vec<usize>> {
    codes(query)
        .iter()
        .map(|code| crate::store::company::chunks::fts_count_upto(conn, code, limit))
        .collect()
}

/// What a keyword search found.
#[derive(Debug, Default)]
pub struct KeywordHits {
    /// `(chunk id, -bm25)`, best first.
    pub hits: Vec<(i64, f64)>,
    /// How many of `hits`, from the first, are ranked by BM25 (the rest fill the list).
    pub ranked: usize,
    /// Whether common terms were left out of the ranking ([`TermStats`]). The list is then
    /// filled up to `k` with chunks holding only common terms, unranked (score 0), so its
    /// length says nothing about how rare the query's words are.
    pub pruned: bool,
}

impl KeywordHits {
    /// The best chunk ranked by BM25, if any.
    pub fn best(&self) -> Option<i64> {
        self.hits[..self.ranked].first().map(|h| h.0)
    }
}

/// The `k` best chunks for `query` by BM25 as `(chunk id, score)`, best first; the score
/// is `-bm25()`, so higher is better. `allowed` restricts hits to those document ids.
pub fn keyword_search(
    conn: &Connection,
    query: &str,
    k: usize,
    allowed: Option<&HashSet<i64>>,
) -> rusqlite::Result<Vec<(i64, f64)>> {
    Ok(keyword_search_with(&mut TermStats::new(conn)?, query, k, allowed)?.hits)
}

/// [`keyword_search`] with term counts shared between the searches of one request. When
/// common terms are left out and the rarer ones fill fewer than `k` places, the rest go to
/// chunks holding the common terms, in FTS5's order (ranking them would cost what leaving
/// them out saves), after every ranked hit.
pub fn keyword_search_with(
    stats: &mut TermStats<'_>,
    query: &str,
    k: usize,
    allowed: Option<&HashSet<i64>>,
) -> rusqlite::Result<KeywordHits> {
    use crate::store::company::chunks;
    let terms = fts_terms(query);
    if terms.is_empty() || k == 0 || allowed.is_some_and(HashSet::is_empty) {
        return Ok(KeywordHits::default());
    }
    let (ranked, common) = stats.informative(terms)?;
    let mut hits = chunks::fts_match(stats.conn(), &ranked.join(" OR "), k, allowed)?;
    let (ranked, pruned) = (hits.len(), !common.is_empty());
    if pruned && hits.len() < k {
        let have: HashSet<i64> = hits.iter().map(|h| h.0).collect();
        let more = chunks::fts_unranked(stats.conn(), &common.join(" OR "), k, allowed)?;
        let fill = more
            .into_iter()
            .filter(|id| !have.contains(id))
            .map(|id| (id, 0.0));
        hits.extend(fill.take(k - have.len()));
    }
    Ok(KeywordHits {
        hits,
        ranked,
        pruned,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::migrations::{MigrationSet, migrate};

    #[test]
    fn stopwords_go_unless_nothing_else_is_left() {
        assert!(
            STOPWORDS.windows(2).all(|w| w[0] < w[1]),
            "sorted and unique"
        );
        assert_eq!(
            without_stopwords("How do I delete Python?"),
            "delete Python"
        );
        assert_eq!(without_stopwords("Why don't THE tides stop"), "tides stop");
        assert_eq!(without_stopwords("who are you"), "who are you");
        assert_eq!(without_stopwords("Gezeiten und Mond"), "Gezeiten und Mond");
    }

    fn db() -> (tempfile::TempDir, Connection) {
        let tmp = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(tmp.path().join("c.db")).unwrap();
        migrate(&mut conn, MigrationSet::Company).unwrap();
        use crate::store::company::testdb;
        let d1 = testdb::document(&conn);
        testdb::chunks(
            &conn,
            d1,
            &[
                "The quarterly revenue grew in Europe",
                "Revenue and costs: a NEAR miss for the budget",
            ],
            None,
        );
        let d2 = testdb::document(&conn);
        testdb::chunks(
            &conn,
            d2,
            &[
                "Hiring plans for the engineering team",
                "Revenue revenue revenue everywhere",
            ],
            None,
        );
        (tmp, conn)
    }

    #[test]
    fn codes_are_several_words_or_letters_with_digits() {
        assert_eq!(
            codes("status of INV-2024-08817, SKU300007X and 2024 (ERR_CONN_RESET)"),
            ["\"inv 2024 08817\"", "\"sku300007x\"", "\"err conn reset\""]
        );
        assert!(codes("how do I delete Python 3 with os.path or File::Find").is_empty());
        let (_tmp, conn) = db();
        // "q-revenue" is in no chunk: absent is not rare (nothing would be lifted).
        assert!(!has_rare_code(&conn, "revenue q-revenue", 10).unwrap());
        assert!(has_rare_code(&conn, "costs: A-NEAR miss", 10).unwrap());
        assert!(!has_rare_code(&conn, "costs: A-NEAR miss", 1).unwrap());
    }

    #[test]
    fn sanitising_quotes_words_and_drops_syntax() {
        assert_eq!(sanitize_fts_query("  "), None);
        assert_eq!(sanitize_fts_query("\"*()-:^"), None);
        assert_eq!(
            sanitize_fts_query("Revenue AND \"growth\" NEAR(x y) col:val pre* -not"),
            Some(
                "\"revenue\" OR \"and\" OR \"growth\" OR \"near\" OR \"x\" OR \"near x\" OR \
                 \"y\" OR \"col\" OR \"val\" OR \"col val\" OR \"pre\" OR \"not\""
                    .into()
            )
        );
        assert_eq!(
            sanitize_fts_query("Zürich zürich 東京"),
            Some("\"zürich\" OR \"東京\"".into())
        );
        let many = (0..100)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(
            sanitize_fts_query(&many).unwrap().matches(" OR ").count(),
            MAX_TERMS - 1
        );
    }

    #[test]
    fn hostile_queries_never_error() {
        let (_tmp, conn) = db();
        for q in [
            "",
            "\"",
            "\"\"",
            "*",
            "revenue*",
            "NEAR",
            "NEAR(revenue costs, 2)",
            "AND",
            "OR OR",
            "NOT revenue",
            "-revenue",
            "content:revenue",
            "{content}: x",
            "(",
            ")",
            "^revenue",
            "revenue\" OR \"x",
            "'; DROP TABLE documents; --",
            "\0",
            "🙂",
            "a\u{301}",
        ] {
            keyword_search(&conn, q, 10, None).unwrap_or_else(|e| panic!("{q:?}: {e}"));
        }
    }

    #[test]
    fn bm25_ranks_and_document_filter_applies() {
        let (_tmp, conn) = db();
        let hits = keyword_search(&conn, "revenue", 10, None).unwrap();
        let ids: Vec<i64> = hits.iter().map(|h| h.0).collect();
        assert_eq!(ids.len(), 3);
        assert_eq!(ids[0], 4, "the chunk that repeats the word ranks first");
        assert!(hits.windows(2).all(|w| w[0].1 >= w[1].1));
        // The porter stemmer lets "plan" find "plans".
        assert_eq!(keyword_search(&conn, "plan", 10, None).unwrap()[0].0, 3);
        let only_doc1: HashSet<i64> = [1].into();
        let hits = keyword_search(&conn, "revenue", 10, Some(&only_doc1)).unwrap();
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>().len(), 2);
        assert!(hits.iter().all(|h| h.0 == 1 || h.0 == 2));
        assert!(
            keyword_search(&conn, "revenue", 10, Some(&HashSet::new()))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn common_terms_are_left_out_when_a_rarer_one_is_there() {
        let tmp = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(tmp.path().join("c.db")).unwrap();
        migrate(&mut conn, MigrationSet::Company).unwrap();
        use crate::store::company::testdb;
        let doc = testdb::document(&conn);
        let texts: Vec<String> = (0..1_200)
            .map(|i| match i {
                5 => "the cooling report names zephyr twice: zephyr".to_string(),
                700 => "the cooling report names zephyr once".to_string(),
                // "pump" is in 1,078 of 1,200 chunks: common.
                i if i % 10 != 0 => format!("the cooling pump report number {i}"),
                i => format!("the cooling report number {i}"),
            })
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let ids = testdb::chunks(&conn, doc, &refs, None);
        let mut stats = TermStats::new(&conn).unwrap();
        let found = keyword_search_with(&mut stats, "the cooling pump zephyr", 10, None).unwrap();
        assert!(found.pruned);
        assert_eq!(found.ranked, 2);
        assert_eq!(found.best(), Some(ids[5]));
        assert_eq!(
            found.hits[..2].iter().map(|h| h.0).collect::<Vec<_>>(),
            [ids[5], ids[700]]
        );
        // The rest of the list: other chunks holding the common terms, unranked.
        assert_eq!(found.hits.len(), 10);
        let rest: HashSet<i64> = found.hits[2..].iter().map(|h| h.0).collect();
        assert_eq!(rest.len(), 8);
        assert!(!rest.contains(&ids[5]) && !rest.contains(&ids[700]));
        assert!(found.hits[2..].iter().all(|h| h.1 == 0.0));
        // A rarer term no chunk holds does not make the others droppable: nothing would
        // be ranked.
        let found = keyword_search_with(&mut stats, "the cooling pump zorblat", 10, None).unwrap();
        assert!(!found.pruned);
        assert_eq!(found.ranked, 10);
        // Only common terms: all are kept.
        let found = keyword_search_with(&mut stats, "the cooling pump", 10, None).unwrap();
        assert!(!found.pruned);
        assert_eq!(found.ranked, 10);
        // "number" is in 1,198 chunks, "twice" in one.
        let found = keyword_search_with(&mut stats, "number twice", 3, None).unwrap();
        assert!(found.pruned);
        assert_eq!((found.ranked, found.hits.len()), (1, 3));
        assert_eq!(found.best(), Some(ids[5]));
        // Inside a filter, fillers come from the allowed documents only.
        let other = testdb::document(&conn);
        let mine = testdb::chunks(&conn, other, &["a pump and a zephyr"], None);
        let only: HashSet<i64> = [other].into();
        let found = keyword_search_with(&mut stats, "pump zephyr", 10, Some(&only)).unwrap();
        assert_eq!(found.hits.iter().map(|h| h.0).collect::<Vec<_>>(), mine);
    }

    #[test]
    fn a_small_company_never_leaves_a_term_out() {
        let (_tmp, conn) = db();
        let mut stats = TermStats::new(&conn).unwrap();
        let found = keyword_search_with(&mut stats, "the revenue", 10, None).unwrap();
        assert!(!found.pruned);
        assert_eq!(found.hits.len(), 4);
    }

    #[test]
    fn a_code_ranks_its_own_chunk_above_chunks_sharing_its_parts() {
        let tmp = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(tmp.path().join("c.db")).unwrap();
        migrate(&mut conn, MigrationSet::Company).unwrap();
        use crate::store::company::testdb;
        let doc = testdb::document(&conn);
        // Chunks 1 and 2 hold every part of the code, more often, but not the code itself.
        let ids = testdb::chunks(
            &conn,
            doc,
            &[
                "reset err conn: the err log shows a conn reset, then conn err, reset err",
                "reset the conn after an err; conn err reset conn, err reset",
                "the job failed with ERR_CONN_RESET at noon",
            ],
            None,
        );
        for query in ["ERR_CONN_RESET", "what is ERR_CONN_RESET?"] {
            let top = keyword_search(&conn, &without_stopwords(query), 3, None).unwrap();
            assert_eq!(top[0].0, ids[2], "{query}: {top:?}");
        }
    }
}
