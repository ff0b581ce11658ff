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

    /// (row stride, column stride) of the logical `rows` x `cols` matrix, and the number of
    /// elements its last entry lies past the first.
    fn strides(&self, rows: usize, cols: usize) -> (isize, isize, usize) {
        let (stored_rows, stored_cols) = if self.transposed { (cols, rows) } else { (rows, cols) };
        let ld = stored_cols;
        let extent = (stored_rows - 1) * ld + stored_cols;
        if self.transposed {
            (1, ld as isize, extent)
        } else {
            (ld as isize, 1, extent)
        }
    }
}

/// `dst` (m x n, row-major, rows `dst_row_stride` apart) = a (m x k) * b (k x n), or
/// `dst += a * b` with `accumulate`. `parallel`: threads over rayon's pool (its size follows
/// RAYON_NUM_THREADS); else on the calling thread (callers that run several products at once).
pub(crate) fn matmul(
    dst: &mut [f32],
    dst_row_stride: usize,
    (m, n, k): (usize, usize, usize),
    a: Operand,
    b: Operand,
    accumulate: bool,
    parallel: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(dst_row_stride >= n, "matmul: destination rows overlap");
    gemm_strided(dst, (dst_row_stride, 1), (m, n, k), a, b, accumulate, parallel);
}

/// [`matmul`] into a column-major `dst` (element (i, j) at `j * m + i`: the row-major transpose).
///
/// The `gemm` crate's kernel runs along the destination's unit-stride dimension and packs the
/// operand on that side unless it too is unit-stride there. For a convolution's weight gradient
/// dY (O, B*P) * col^T, a row-major (O, C*K*K) destination puts `col` (nine times dY's size for a
/// 3x3 kernel) on that side and packs all of it on every call (a tenth of a CPU step); a
/// column-major destination packs dY instead.
pub(crate) fn matmul_col_major(
    dst: &mut [f32],
    (m, n, k): (usize, usize, usize),
    a: Operand,
    b: Operand,
    accumulate: bool,
    parallel: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    gemm_strided(dst, (1, m), (m, n, k), a, b, accumulate, parallel);
}

/// The product into `dst` with (row, column) strides `dst_rs`, `dst_cs` (m, n >= 1; the callers
/// keep distinct elements apart).
fn gemm_strided(
    dst: &mut [f32],
    (dst_rs, dst_cs): (usize, usize),
    (m, n, k): (usize, usize, usize),
    a: Operand,
    b: Operand,
    accumulate: bool,
    parallel: bool,
) {
    assert!(dst.len() > (m - 1) * dst_rs + (n - 1) * dst_cs, "matmul: destination too small");
    if k == 0 {
        // An empty sum: the product is zero.
        if !accumulate {
            for i in 0..m {
                (0..n).for_each(|j| dst[i * dst_rs + j * dst_cs] = 0.0);
            }
        }
        return;
    }
    let (a_rs, a_cs, a_extent) = a.strides(m, k);
    let (b_rs, b_cs, b_extent) = b.strides(k, n);
    assert!(a.data.len() >= a_extent && b.data.len() >= b_extent, "matmul: operand too small");
    let threads = rayon::current_num_threads();
    let parallelism = if parallel && threads > 1 { Parallelism::Rayon(threads) } else { Parallelism::None };
    // SAFETY: the asserts above keep every index the strides reach inside the three slices, and
    // `dst` is borrowed mutably so it cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_cs as isize,
            dst_rs as isize,
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
