//! Searching the graph: nearest live chunks, with tombstones and a caller's filter.

use super::distance::normalize;
use super::{IndexError, VectorIndex};

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
        let to_hits = |found: Vec<hnsw_rs::prelude::Neighbour>| -> Vec<(i64, f32)> {
            found
                .into_iter()
                .map(|n| (n.d_id as i64, 1.0 - n.distance))
                .filter(|(id, _)| accept(*id))
                .take(k)
                .collect()
        };
        if filter.is_none() && inner.tombstones.is_empty() {
            return Ok(to_hits(inner.graph.search(&q, k, ef.max(k))));
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
