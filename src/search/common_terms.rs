//! Common terms: which of a keyword query's terms so many chunks hold that ranking by them
//! costs more than they weigh (see [`TermStats`]).

use rusqlite::Connection;

/// A term is common when at least 1/`COMMON_SHARE` of the company's chunks hold it (2 %)…
const COMMON_SHARE: i64 = 50;
/// …and at least this many.
pub const COMMON_MIN_CHUNKS: i64 = 1_000;

/// Which terms are common in one company, each counted once per search.
///
/// A common term is left out of a keyword query that also has a rarer one some chunk
/// holds. BM25 weighs a term by its rarity: one held by 2 % of the chunks weighs at most
/// ln 50 ≈ 3.9, one held by a single chunk of 50,000 up to 10.8, and one held by half of
/// them nothing. But FTS5 pays for every term in proportion to the chunks holding it,
/// counting them and scoring each one (~2 µs a chunk): on 50,000 chunks that all hold
/// "cooling" and "maintenance", a question with those words took ~120 ms, and ~0.1 ms
/// without them. Companies with fewer than [`COMMON_MIN_CHUNKS`] chunks never leave a term
/// out.
pub struct TermStats<'c> {
    conn: &'c Connection,
    /// Chunks a term needs to be common; `None` in a small company.
    threshold: Option<i64>,
    /// Chunks holding a term, counted up to the threshold.
    counts: std::collections::HashMap<String, i64>,
}

impl<'c> TermStats<'c> {
    pub fn new(conn: &'c Connection) -> rusqlite::Result<TermStats<'c>> {
        // The highest chunk id bounds the number of chunks from above without counting.
        let chunks = crate::store::company::chunks::max_id(conn)?;
        Ok(TermStats {
            conn,
            threshold: (chunks >= COMMON_MIN_CHUNKS)
                .then(|| (chunks / COMMON_SHARE).max(COMMON_MIN_CHUNKS)),
            counts: Default::default(),
        })
    }

    pub(super) fn conn(&self) -> &'c Connection {
        self.conn
    }

    fn count(&mut self, term: &str, threshold: i64) -> rusqlite::Result<i64> {
        if let Some(n) = self.counts.get(term) {
            return Ok(*n);
        }
        let n = crate::store::company::chunks::fts_count_upto(self.conn, term, threshold as usize)?
            as i64;
        self.counts.insert(term.to_string(), n);
        Ok(n)
    }

    /// `terms` split into the ones to rank by and the common ones left out (empty when
    /// nothing is left out: in a small company, when no rarer term is held by any chunk,
    /// or when every term is common).
    pub(super) fn informative(
        &mut self,
        terms: Vec<String>,
    ) -> rusqlite::Result<(Vec<String>, Vec<String>)> {
        let Some(threshold) = self.threshold else {
            return Ok((terms, Vec::new()));
        };
        let (mut kept, mut common, mut held) = (Vec::new(), Vec::new(), false);
        for t in terms {
            let n = self.count(&t, threshold)?;
            held |= n > 0 && n < threshold;
            if n >= threshold {
                common.push(t);
            } else {
                kept.push(t);
            }
        }
        Ok(if held {
            (kept, common)
        } else {
            kept.append(&mut common);
            (kept, Vec::new())
        })
    }
}
