//! Row-major f32 matrix products on the `gemm` crate (the kernel candle's own CPU matmul uses),
//! with transposes expressed as strides so no operand is ever copied.

use gemm::Parallelism;

/// A row-major matrix operand, read as stored or as its transpose.
#[derive(Clone, Copy)]
pub(crate) struct Operand<'a> {
    pub data: &'a [f32],
    /// Read the stored matrix transposed.
    pub transposed: bool,
}

impl<'a> Operand<'a> {
    pub fn plain(data: &'a [f32]) -> Self {
        Self { data, transposed: false }
    }

    pub fn transposed(data: &'a [f32]) -> Self {
        Self { data, transposed: true }
    }

    /// (row stride, column stride) of the logical `rows` x `cols` matrix.
    fn strides(&self, rows: usize, cols: usize) -> (isize, isize) {
        if self.transposed {
            (1, rows as isize)
        } else {
            (cols as isize, 1)
        }
    }
}

/// `dst` (m x n, row-major) = a (m x k) * b (k x n), or `dst += a * b` with `accumulate`.
/// Threads over rayon's pool (its size follows RAYON_NUM_THREADS).
pub(crate) fn matmul(
    dst: &mut [f32],
    (m, n, k): (usize, usize, usize),
    a: Operand,
    b: Operand,
    accumulate: bool,
) {
    assert!(dst.len() >= m * n && a.data.len() >= m * k && b.data.len() >= k * n, "matmul: operand too small");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    let (a_rs, a_cs) = a.strides(m, k);
    let (b_rs, b_cs) = b.strides(k, n);
    let threads = rayon::current_num_threads();
    let parallelism = if threads > 1 { Parallelism::Rayon(threads) } else { Parallelism::None };
    // SAFETY: the asserts above keep every index the strides reach inside the three slices, and
    // `dst` is borrowed mutably so it cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a_cs,
            a_rs,
            b.data.as_ptr(),
            b_cs,
            b_rs,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}
