//! Reciprocal rank fusion: merges ranked lists whose scores are not comparable (cosine
//! similarity, BM25) by rank alone. Each list contributes `1 / (k + rank)` (rank from 1)
//! for every id it holds; k = 60 is the constant of Cormack et al., which damps the
//! influence of the very top ranks so one list cannot dominate.

use std::collections::HashMap;

/// The usual RRF constant.
pub const RRF_K: f64 = 60.0;

/// Fuses ranked lists of ids (best first) into one `(id, score)` list, best first. Ties
/// are broken by the best single rank an id reached, then by id, so the order is stable.
pub fn rrf(lists: &[Vec<i64>], k: f64) -> Vec<(i64, f64)> {
    let mut fused: HashMap<i64, (f64, usize)> = HashMap::new();
    for list in lists {
        for (rank, id) in list.iter().enumerate() {
            let entry = fused.entry(*id).or_insert((0.0, usize::MAX));
            entry.0 += 1.0 / (k + rank as f64 + 1.0);
            entry.1 = entry.1.min(rank);
        }
    }
    let mut out: Vec<(i64, f64, usize)> =
        fused.into_iter().map(|(id, (s, r))| (id, s, r)).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)).then(a.0.cmp(&b.0)));
    out.into_iter().map(|(id, s, _)| (id, s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_made_example() {
        // vector: 1, 2, 3, 4   keyword: 3, 5, 1
        // 1: 1/61 + 1/63 = 0.032266   3: 1/63 + 1/61 = 0.032266 (tie; 3 and 1 both reached
        // rank 1, so the lower id wins)   2: 1/62 = 0.016129   5: 1/62 = 0.016129 (tie, same
        // best rank 2, lower id first)   4: 1/64 = 0.015625
        let fused = rrf(&[vec![1, 2, 3, 4], vec![3, 5, 1]], RRF_K);
        let ids: Vec<i64> = fused.iter().map(|f| f.0).collect();
        assert_eq!(ids, vec![1, 3, 2, 5, 4]);
        assert!((fused[0].1 - (1.0 / 61.0 + 1.0 / 63.0)).abs() < 1e-12);
        assert!((fused[4].1 - 1.0 / 64.0).abs() < 1e-12);
    }

    #[test]
    fn agreement_beats_a_single_first_place() {
        // 7 is second in both lists; 8 is first in one list only.
        let fused = rrf(&[vec![8, 7], vec![9, 7]], RRF_K);
        assert_eq!(fused[0].0, 7);
        assert!(rrf(&[], RRF_K).is_empty());
        assert_eq!(rrf(&[vec![], vec![4]], RRF_K), vec![(4, 1.0 / 61.0)]);
    }
}
