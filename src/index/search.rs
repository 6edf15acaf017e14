//! Searching the graph: nearest live chunks, with tombstones and a caller's filter.
//!
//! Small graphs are scored exhaustively, from the vectors kept beside them (`exact`),
//! instead of walked: exact (an HNSW graph can leave a point with no incoming link,
//! unreachable by any walk), and at that size no slower.

use super::{IndexError, VectorIndex};
use crate::embed::normalize;

/// A walk's breadth is at least this many times the results asked for.
const WALK_EF_PER_RESULT: usize = 4;
/// A walk's breadth grows by this much for each doubling of the graph past
/// [`WALK_EF_FROM`] points: at a fixed breadth recall falls as a graph grows.
const WALK_EF_PER_DOUBLING: usize = 64;
/// Graphs up to this size are walked at the caller's breadth, larger ones wider (with
/// Silo's defaults graphs of up to 100,000 points are scored exhaustively instead).
const WALK_EF_FROM: usize = 50_000;

/// The breadth of a walk for `k` results over a graph of `points`: the caller's `ef`, at
/// least 4·k, plus [`WALK_EF_PER_DOUBLING`] per doubling past [`WALK_EF_FROM`] (100,000
/// points: +64, 400,000: +192).
pub fn walk_ef(ef: usize, k: usize, points: usize) -> usize {
    let doublings = (points as f64 / WALK_EF_FROM as f64).log2().max(0.0).ceil() as usize;
    ef.max(k * WALK_EF_PER_RESULT) + doublings * WALK_EF_PER_DOUBLING
}

impl VectorIndex {
    /// The `k` nearest live chunks to `query` as `(chunk id, cosine similarity)`, best
    /// first. `ef` is the search breadth (≥ k; higher is slower and more exact). `filter`,
    /// when given, must accept a chunk id for it to be returned. Blocking (CPU-bound).
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: Option<&dyn Fn(i64) -> bool>,
    ) -> Result<Vec<(i64, f32)>, IndexError> {
        if query.len() != self.dims {
            return Err(IndexError::Dimensions {
                expected: self.dims,
                found: query.len(),
            });
        }
        let mut q = query.to_vec();
        if k == 0 || !normalize(&mut q) {
            return Ok(Vec::new());
        }
        let inner = self.inner.read().expect("index lock");
        let accept = |id: i64| !inner.tombstones.contains(&id) && filter.is_none_or(|f| f(id));
        if let Some(exact) = &inner.exact {
            return Ok(if filter.is_none() && inner.tombstones.is_empty() {
                exact.search(&q, k, None)
            } else {
                exact.search(&q, k, Some(&accept))
            });
        }
        let to_hits = |found: Vec<hnsw_rs::prelude::Neighbour>| -> Vec<(i64, f32)> {
            found
                .into_iter()
                .map(|n| (n.d_id as i64, 1.0 - n.distance))
                .filter(|(id, _)| accept(*id))
                .take(k)
                .collect()
        };
        // A walk: wider for a longer list, so asking for more never finds fewer, and wider
        // for a larger graph.
        let ef = walk_ef(ef, k, inner.ids.len());
        if filter.is_none() && inner.tombstones.is_empty() {
            return Ok(to_hits(inner.graph.search(&q, k, ef)));
        }
        // Over-fetch and drop rejected ids: cheap when few are rejected (tombstones stay
        // under the compaction ratio). Only when that comes up short, fall back to
        // hnsw_rs's filtered search, which is exact about the filter but much slower.
        let live = inner.ids.len() - inner.tombstones.len();
        let wide = (k * 2 + 16).min(inner.ids.len().max(1));
        let hits = to_hits(inner.graph.search(&q, wide, ef.max(wide)));
        if hits.len() >= k.min(live) {
            return Ok(hits);
        }
        let keep = |id: &usize| accept(*id as i64);
        Ok(to_hits(inner.graph.search_filter(
            &q,
            k,
            ef.max(k),
            Some(&keep),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::walk_ef;

    #[test]
    fn a_walk_widens_with_the_list_and_the_graph() {
        assert_eq!(walk_ef(64, 10, 1_000), 64);
        assert_eq!(walk_ef(64, 40, 1_000), 160);
        assert_eq!(walk_ef(64, 10, 50_000), 64);
        assert_eq!(walk_ef(64, 10, 50_001), 128);
        assert_eq!(walk_ef(64, 10, 100_000), 128);
        assert_eq!(walk_ef(64, 10, 400_000), 256);
        assert_eq!(walk_ef(64, 100, 1_000_000), 400 + 5 * 64);
    }
}
