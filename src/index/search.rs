//! Searching the graph: nearest live chunks, with tombstones and a caller's filter.
//!
//! Small graphs are scored exhaustively, from the vectors kept beside them, instead of
//! walked: exact (an HNSW graph can leave a point with no incoming link, unreachable by any
//! walk), and at that size no slower.

use super::distance::dot;
use super::{IndexError, VectorIndex};
use crate::embed::normalize;

/// A walk's breadth is at least this many times the results asked for.
const WALK_EF_PER_RESULT: usize = 4;

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
            let mut scored: Vec<(i64, f32)> = exact
                .iter()
                .filter(|(id, _)| accept(**id))
                .map(|(id, v)| (*id, dot(&q, v)))
                .collect();
            let best_first =
                |a: &(i64, f32), b: &(i64, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
            // Only the k best need ordering: select them, then sort those.
            if scored.len() > k {
                scored.select_nth_unstable_by(k - 1, best_first);
                scored.truncate(k);
            }
            scored.sort_by(best_first);
            return Ok(scored);
        }
        let to_hits = |found: Vec<hnsw_rs::prelude::Neighbour>| -> Vec<(i64, f32)> {
            found
                .into_iter()
                .map(|n| (n.d_id as i64, 1.0 - n.distance))
                .filter(|(id, _)| accept(*id))
                .take(k)
                .collect()
        };
        // A walk: wider for a longer list, so asking for more never finds fewer.
        let ef = ef.max(k * WALK_EF_PER_RESULT);
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
