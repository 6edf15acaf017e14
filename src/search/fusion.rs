//! Score fusion for hybrid search: a convex combination of min-max normalised scores.
//!
//! Each list's scores (cosine similarity, `-bm25`) are mapped to [0, 1] within the list
//! (best 1, worst 0; a list whose scores are all equal maps them to 1), and a chunk's fused
//! score is `Σ weight × normalised score`, a list it is missing from contributing 0. With
//! the weights summing to 1 the fused score is in [0, 1].
//!
//! Measured on the retrieval benchmark (scripts/bench_retrieval.py, leave-one-page-out over
//! the Python FAQ): this beats reciprocal rank fusion, which at k = 60 and equal weights
//! fell well below vector search alone (MRR@10 0.802 against 0.864), while the convex
//! combination is flat between vector weights 0.75 and 0.9; [`VECTOR_WEIGHT`] = 0.8 sits
//! inside that plateau and keeps the most room for exact-term matches.
//!
//! Two rules keep exact terms from being lost: a query whose words are rare in the company
//! (the keyword search found fewer chunks than it asked for) or that holds a rare code
//! (`INV-2024-08817` in fewer chunks than that) weighs the keyword list at
//! [`RARE_KEYWORD_WEIGHT`], and the best keyword match always stays in the top k
//! ([`top_k_keeping`]).

use std::collections::HashMap;
use std::hash::Hash;

/// Weight of the vector list in hybrid search; the keyword list gets the rest.
pub const VECTOR_WEIGHT: f64 = 0.8;

/// Weight of the keyword list when the query's words are rare in the company: the keyword
/// search listed every chunk holding any of them (fewer than it asked for). A match on a
/// part number, an invoice id or a name is then the strongest signal there is, and must not
/// sink below mediocre vector neighbours of near-duplicate text. Above one half, so the
/// chunk holding the term outranks the vector search's best when that one lacks the term
/// (at 0.5 they tied, and MiniLM's nearest neighbour won 20 % of codes in
/// tests/it/exact_terms.rs).
pub const RARE_KEYWORD_WEIGHT: f64 = 0.6;

/// The keyword list's weight: [`RARE_KEYWORD_WEIGHT`] when the query's words or one of its
/// codes are rare in the company.
pub fn keyword_weight(rare: bool) -> f64 {
    if rare {
        RARE_KEYWORD_WEIGHT
    } else {
        1.0 - VECTOR_WEIGHT
    }
}

/// Cuts `fused` to `k`, keeping `must` (the best keyword match) among them: when fusion
/// ranked it below `k`, or left it out, it takes the last place (with the score of the
/// result it displaces). An exact-term match is never dropped.
pub fn top_k_keeping<K: Copy + Eq>(
    mut fused: Vec<(K, f64)>,
    must: Option<K>,
    k: usize,
) -> Vec<(K, f64)> {
    if let Some(id) = must
        && k > 0
    {
        match fused.iter().position(|f| f.0 == id) {
            Some(pos) if pos < k => {}
            Some(pos) => {
                let kept = fused.remove(pos);
                fused.insert(k - 1, kept);
            }
            None => {
                let at = (k - 1).min(fused.len());
                let score = fused.get(at).map_or(0.0, |f| f.1);
                fused.insert(at, (id, score));
            }
        }
    }
    fused.truncate(k);
    fused
}

/// Fuses `(list, weight)` pairs of `(id, score)` lists (higher score better, best first)
/// into one `(id, fused score)` list, best first. Ties are broken by the best single rank
/// an id reached, then by id, so the order is stable.
pub fn convex<K: Copy + Eq + Hash + Ord>(lists: &[(&[(K, f64)], f64)]) -> Vec<(K, f64)> {
    let mut fused: HashMap<K, (f64, usize)> = HashMap::new();
    for (list, weight) in lists {
        let (lo, hi) = list
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), h| {
                (lo.min(h.1), hi.max(h.1))
            });
        for (rank, (id, score)) in list.iter().enumerate() {
            let normalised = if hi > lo {
                (score - lo) / (hi - lo)
            } else {
                1.0
            };
            let entry = fused.entry(*id).or_insert((0.0, usize::MAX));
            entry.0 += weight * normalised;
            entry.1 = entry.1.min(rank);
        }
    }
    let mut out: Vec<(K, f64, usize)> = fused.into_iter().map(|(id, (s, r))| (id, s, r)).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)).then(a.0.cmp(&b.0)));
    out.into_iter().map(|(id, s, _)| (id, s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_made_example() {
        // vector: 1 (0.9), 2 (0.7), 3 (0.5)   → normalised 1, 0.5, 0
        // keyword: 3 (12), 4 (6), 1 (2)       → normalised 1, 0.4, 0
        // 1: 0.8 × 1 = 0.8   2: 0.8 × 0.5 = 0.4   3: 0 + 0.2 × 1 = 0.2   4: 0.2 × 0.4 = 0.08
        let vector = [(1, 0.9), (2, 0.7), (3, 0.5)];
        let keyword = [(3, 12.0), (4, 6.0), (1, 2.0)];
        let fused = convex(&[(&vector, 0.8), (&keyword, 0.2)]);
        let ids: Vec<i64> = fused.iter().map(|f| f.0).collect();
        assert_eq!(ids, vec![1, 2, 3, 4]);
        let expected = [0.8, 0.4, 0.2, 0.08];
        for ((_, got), want) in fused.iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{fused:?}");
        }
    }

    #[test]
    fn the_best_keyword_match_is_never_cut() {
        let fused: Vec<(i64, f64)> = (1..=30).map(|i| (i, 1.0 / i as f64)).collect();
        let top = top_k_keeping(fused.clone(), Some(25), 10);
        assert_eq!(top.len(), 10);
        assert_eq!(top[9].0, 25);
        assert_eq!(top[..9], fused[..9]);
        // Already in: nothing moves. Left out of both lists: it takes the last place.
        assert_eq!(top_k_keeping(fused.clone(), Some(3), 10), fused[..10]);
        let top = top_k_keeping(fused.clone(), Some(99), 10);
        assert_eq!(top[..9], fused[..9]);
        assert_eq!(top[9], (99, fused[9].1));
        assert_eq!(
            top_k_keeping(vec![(1, 0.5)], Some(99), 10),
            [(1, 0.5), (99, 0.0)]
        );
        // None: a plain cut.
        assert_eq!(top_k_keeping(fused.clone(), None, 5), fused[..5]);
        assert!(top_k_keeping(fused, Some(1), 0).is_empty());
        assert_eq!(keyword_weight(true), RARE_KEYWORD_WEIGHT);
        assert_eq!(keyword_weight(false), 1.0 - VECTOR_WEIGHT);
    }

    #[test]
    fn equal_scores_and_empty_lists() {
        // One keyword hit (all scores equal) counts fully; ties fall to the best rank.
        let fused = convex(&[(&[(5, 0.3), (6, 0.3)], 0.8), (&[(6, 4.0)], 0.2)]);
        assert_eq!(fused, vec![(6, 1.0), (5, 0.8)]);
        assert!(convex::<i64>(&[(&[], 0.8), (&[], 0.2)]).is_empty());
        assert_eq!(convex(&[(&[], 0.8), (&[(4, 1.5)], 0.2)]), vec![(4, 0.2)]);
    }
}
