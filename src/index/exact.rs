//! Exhaustive scoring of a small graph's vectors, exact and quick.
//!
//! Reading every f32 vector is bound by memory bandwidth (1.5 kB a point at 384
//! dimensions: ~24 ms for 50,000 points on the 2-core machine). So each vector is also kept
//! as 8-bit integers with its own scale (a quarter of the bytes), every point is scored
//! from those, and only the points that could be among the `k` best are scored again from
//! their f32 vectors.
//!
//! Which points could be is known exactly, not guessed: for unit vectors `q` and `v` and
//! their quantised forms `q̂` and `v̂` (errors `e_q = q - q̂`, `e_v = v - v̂`),
//! `q·v - q̂·v̂ = e_q·v̂ + q·e_v`, so `|q·v - q̂·v̂| ≤ ‖e_q‖·(1 + ‖e_v‖) + ‖e_v‖`. A point
//! whose approximate score plus that bound is below the k-th best exact score cannot be
//! among the best, and the result is the one a scan of the f32 vectors gives.

use super::distance::{dot, dot_i8_rows};

/// Points rescored from f32 beyond `k` on the first pass; the bound then adds whichever
/// others could still be among the best.
const FIRST_PASS_EXTRA: usize = 32;
/// Covers the rounding of the f32 dot product of 384 numbers (~2e-5 at worst) and of the
/// scales, on top of the quantisation bound.
const ROUNDING_SLACK: f32 = 1e-4;
/// The largest integer a coordinate becomes (symmetric, so products fit in `i16`).
const LEVELS: f32 = 127.0;

/// Vectors kept beside a small graph, contiguous and quantised.
pub(super) struct ExactVectors {
    dims: usize,
    ids: Vec<i64>,
    /// `dims` f32 numbers per point, in `ids` order.
    floats: Vec<f32>,
    /// `dims` quantised numbers per point, in `ids` order.
    codes: Vec<i8>,
    /// Per point: the factor from its codes back to its numbers, and ‖e_v‖.
    scales: Vec<f32>,
    errors: Vec<f32>,
}

/// A vector as 8-bit integers: `v ≈ scale × codes`, `error` = ‖v - scale × codes‖.
struct Quantised {
    codes: Vec<i8>,
    scale: f32,
    error: f32,
}

fn quantise(v: &[f32]) -> Quantised {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / LEVELS } else { 1.0 };
    let codes: Vec<i8> = v
        .iter()
        .map(|x| (x / scale).round().clamp(-LEVELS, LEVELS) as i8)
        .collect();
    let error = v
        .iter()
        .zip(&codes)
        .map(|(x, c)| (x - scale * f32::from(*c)).powi(2))
        .sum::<f32>()
        .sqrt();
    Quantised {
        codes,
        scale,
        error,
    }
}

/// Best first; equal scores by id, so results are stable.
fn best_first(a: &(i64, f32), b: &(i64, f32)) -> std::cmp::Ordering {
    b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
}

impl ExactVectors {
    pub(super) fn with_capacity(dims: usize, n: usize) -> ExactVectors {
        ExactVectors {
            dims,
            ids: Vec::with_capacity(n),
            floats: Vec::with_capacity(n * dims),
            codes: Vec::with_capacity(n * dims),
            scales: Vec::with_capacity(n),
            errors: Vec::with_capacity(n),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Bytes held per point at `dims` dimensions.
    pub(super) fn bytes_per_point(dims: usize) -> usize {
        dims * 5 + 16
    }

    /// Adds a unit vector of `dims` numbers. Ids are not checked for repeats: the graph's
    /// id set is.
    pub(super) fn push(&mut self, id: i64, v: &[f32]) {
        debug_assert_eq!(v.len(), self.dims);
        let q = quantise(v);
        self.ids.push(id);
        self.floats.extend_from_slice(v);
        self.codes.extend_from_slice(&q.codes);
        self.scales.push(q.scale);
        self.errors.push(q.error);
    }

    fn floats_of(&self, slot: usize) -> &[f32] {
        &self.floats[slot * self.dims..(slot + 1) * self.dims]
    }

    /// The `k` points with the highest dot product with the unit vector `query` that
    /// `accept` lets through, as `(id, score)`, best first: the same list and scores as
    /// scoring every f32 vector.
    pub(super) fn search(
        &self,
        query: &[f32],
        k: usize,
        accept: Option<&dyn Fn(i64) -> bool>,
    ) -> Vec<(i64, f32)> {
        if k == 0 || self.ids.is_empty() || query.len() != self.dims {
            return Vec::new();
        }
        let q = quantise(query);
        let mut dots = Vec::with_capacity(self.ids.len());
        dot_i8_rows(&q.codes, &self.codes, &mut dots);
        let mut approx: Vec<(usize, f32)> = dots
            .iter()
            .enumerate()
            .filter(|(slot, _)| accept.is_none_or(|f| f(self.ids[*slot])))
            .map(|(slot, d)| (slot, q.scale * self.scales[slot] * *d as f32))
            .collect();
        let first = (k + FIRST_PASS_EXTRA).min(approx.len());
        if approx.len() > first {
            approx.select_nth_unstable_by(first - 1, |a, b| b.1.total_cmp(&a.1));
        }
        let exact_of = |slot: usize| (self.ids[slot], dot(query, self.floats_of(slot)));
        let mut scored: Vec<(i64, f32)> = approx[..first].iter().map(|a| exact_of(a.0)).collect();
        if approx.len() > first {
            let mut scores: Vec<f32> = scored.iter().map(|s| s.1).collect();
            let (_, kth, _) = scores.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
            let floor = *kth - ROUNDING_SLACK;
            for &(slot, score) in &approx[first..] {
                let err = self.errors[slot];
                if score + q.error * (1.0 + err) + err >= floor {
                    scored.push(exact_of(slot));
                }
            }
        }
        if scored.len() > k {
            scored.select_nth_unstable_by(k - 1, best_first);
            scored.truncate(k);
        }
        scored.sort_by(best_first);
        scored
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::normalize;

    /// Deterministic pseudo-random unit vectors: every other one a near-duplicate of the
    /// first, so hundreds of scores differ by less than the quantisation error.
    fn vectors(n: usize, dims: usize) -> Vec<Vec<f32>> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f32 / (1u64 << 53) as f32 - 0.5
        };
        let base: Vec<f32> = (0..dims).map(|_| next()).collect();
        (0..n)
            .map(|i| {
                let mut v: Vec<f32> = if i % 2 == 0 {
                    (0..dims).map(|_| next()).collect()
                } else {
                    base.iter().map(|x| x + 0.005 * next()).collect()
                };
                assert!(normalize(&mut v));
                v
            })
            .collect()
    }

    fn scan(
        all: &[Vec<f32>],
        q: &[f32],
        k: usize,
        accept: impl Fn(i64) -> bool,
    ) -> Vec<(i64, f32)> {
        let mut s: Vec<(i64, f32)> = all
            .iter()
            .enumerate()
            .map(|(i, v)| (i as i64 + 1, dot(q, v)))
            .filter(|(id, _)| accept(*id))
            .collect();
        s.sort_by(best_first);
        s.truncate(k);
        s
    }

    #[test]
    fn quantised_search_gives_the_full_scan() {
        let dims = 384;
        let all = vectors(1_500, dims);
        let mut exact = ExactVectors::with_capacity(dims, all.len());
        for (i, v) in all.iter().enumerate() {
            exact.push(i as i64 + 1, v);
        }
        assert_eq!(exact.len(), 1_500);
        let even = |id: i64| id % 2 == 0;
        for (n, q) in all.iter().step_by(61).enumerate() {
            // The query itself, and a perturbed copy.
            let mut near: Vec<f32> = q
                .iter()
                .enumerate()
                .map(|(i, x)| x + 0.003 * ((i * n) % 7) as f32)
                .collect();
            assert!(normalize(&mut near));
            for query in [q, &near] {
                for k in [1, 10, 100] {
                    assert_eq!(exact.search(query, k, None), scan(&all, query, k, |_| true));
                    assert_eq!(
                        exact.search(query, k, Some(&even)),
                        scan(&all, query, k, even)
                    );
                }
            }
        }
    }

    #[test]
    fn the_error_bound_holds() {
        let dims = 384;
        let all = vectors(500, dims);
        for q in all.iter().step_by(7) {
            let qq = quantise(q);
            for v in &all {
                let vq = quantise(v);
                let approx = qq.scale
                    * vq.scale
                    * qq.codes
                        .iter()
                        .zip(&vq.codes)
                        .map(|(a, b)| i32::from(*a) * i32::from(*b))
                        .sum::<i32>() as f32;
                let bound = qq.error * (1.0 + vq.error) + vq.error;
                assert!((dot(q, v) - approx).abs() <= bound + ROUNDING_SLACK);
            }
        }
    }

    #[test]
    fn nothing_to_score_gives_nothing() {
        let mut exact = ExactVectors::with_capacity(4, 1);
        assert!(exact.search(&[1.0, 0.0, 0.0, 0.0], 3, None).is_empty());
        exact.push(7, &[1.0, 0.0, 0.0, 0.0]);
        assert_eq!(exact.search(&[1.0, 0.0, 0.0, 0.0], 0, None), vec![]);
        assert_eq!(exact.search(&[0.0, 1.0, 0.0, 0.0], 3, None), vec![(7, 0.0)]);
        assert!(
            exact
                .search(&[1.0, 0.0, 0.0, 0.0], 3, Some(&|_| false))
                .is_empty()
        );
    }
}
