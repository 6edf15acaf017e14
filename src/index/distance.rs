//! The distance the HNSW graph is built with: cosine distance on L2-normalised vectors,
//! computed as `1 - dot`. hnsw_rs's own `DistCosine` renormalises both vectors and
//! accumulates in f64 on every call (~260 ns per 384-d pair); every vector Silo stores is
//! already unit length, so a plain dot product with independent accumulators is enough
//! (~30 ns) and makes graph construction about three times faster.

use hnsw_rs::prelude::Distance;

/// Cosine distance between unit vectors, clamped at zero.
///
/// The clamp matters: hnsw_rs asserts every distance is `>= 0`, and rounding can push the
/// dot product of a vector with itself a hair above 1. The type's name is written into the
/// dump and checked on reload, so renaming it invalidates existing dumps (they are then
/// rebuilt from SQLite, which is safe but slow).
#[derive(Clone, Copy, Debug, Default)]
pub struct DistUnitCosine;

impl Distance<f32> for DistUnitCosine {
    #[inline]
    fn eval(&self, va: &[f32], vb: &[f32]) -> f32 {
        (1.0 - dot(va, vb)).max(0.0)
    }
}

/// Dot product of two equally long slices. Uses AVX2 when the CPU has it (detected once
/// and cached by std), else a portable version the compiler vectorises with SSE2.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { dot_avx2(a, b) };
        }
    }
    dot_portable(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    // Same code as the portable version, compiled with 256-bit registers available.
    dot_portable(a, b)
}

/// Sixteen independent accumulators: a single running sum is one long dependency chain
/// the CPU cannot overlap, and the compiler may not reorder float additions itself.
#[inline(always)]
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        sum += x * y;
    }
    sum
}

/// The dot product of `query` with each row of `rows` (rows as long as `query`, one after
/// the other), appended to `out`: the first pass of an exhaustive search over 8-bit
/// vectors. AVX2 when the CPU has it, as for [`dot`].
pub fn dot_i8_rows(query: &[i8], rows: &[i8], out: &mut Vec<i32>) {
    if query.is_empty() {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { dot_i8_rows_avx2(query, rows, out) };
        }
    }
    dot_i8_rows_portable(query, rows, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_i8_rows_avx2(query: &[i8], rows: &[i8], out: &mut Vec<i32>) {
    dot_i8_rows_portable(query, rows, out)
}

#[inline(always)]
fn dot_i8_rows_portable(query: &[i8], rows: &[i8], out: &mut Vec<i32>) {
    const LANES: usize = 32;
    for row in rows.chunks_exact(query.len()) {
        // Products of two numbers within ±127 fit in i16; pairs of them are summed into
        // i32 lanes, which the compiler turns into multiply-add instructions.
        let mut acc = [0i32; LANES];
        let mut cq = query.chunks_exact(LANES);
        let mut cr = row.chunks_exact(LANES);
        for (x, y) in (&mut cq).zip(&mut cr) {
            for i in 0..LANES {
                acc[i] += i32::from(i16::from(x[i]) * i16::from(y[i]));
            }
        }
        let mut sum: i32 = acc.iter().sum();
        for (x, y) in cq.remainder().iter().zip(cr.remainder()) {
            sum += i32::from(*x) * i32::from(*y);
        }
        out.push(sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::normalize;

    #[test]
    fn dot_matches_naive_for_odd_lengths() {
        for len in [0, 1, 7, 16, 17, 384, 385] {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - naive).abs() < 1e-4, "len {len}");
        }
    }

    #[test]
    fn integer_rows_match_naive_for_odd_lengths() {
        for len in [1, 7, 32, 33, 384, 385] {
            let q: Vec<i8> = (0..len)
                .map(|i| ((i * 37) % 255) as i32 - 127)
                .map(|x| x as i8)
                .collect();
            let rows: Vec<i8> = (0..len * 3)
                .map(|i| (((i * 11) % 255) as i32 - 127) as i8)
                .collect();
            let mut out = Vec::new();
            dot_i8_rows(&q, &rows, &mut out);
            let naive: Vec<i32> = rows
                .chunks(len)
                .map(|r| {
                    q.iter()
                        .zip(r)
                        .map(|(a, b)| i32::from(*a) * i32::from(*b))
                        .sum()
                })
                .collect();
            assert_eq!(out, naive, "len {len}");
        }
    }

    #[test]
    fn distance_is_never_negative_and_zero_for_self() {
        let mut v: Vec<f32> = (0..384).map(|i| (i as f32).sqrt()).collect();
        assert!(normalize(&mut v));
        let d = DistUnitCosine.eval(&v, &v);
        assert!((0.0..1e-5).contains(&d));
        let w: Vec<f32> = v.iter().map(|x| -x).collect();
        assert!((DistUnitCosine.eval(&v, &w) - 2.0).abs() < 1e-5);
    }

    #[test]
    fn normalize_refuses_zero_and_nan() {
        assert!(!normalize(&mut [0.0; 4]));
        assert!(!normalize(&mut [f32::NAN, 1.0]));
    }
}
