//! `--precision`: the arithmetic of convolutions and matrix products, process-wide like
//! PyTorch's autocast context. Parameters, gradients, Adam, batch norm and the loss stay f32.

use std::sync::atomic::{AtomicU8, Ordering};

use candle_core::{DType, Result, Tensor};

/// The arithmetic of convolutions and matrix products.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    /// bfloat16 inputs to convolutions and matrix products (tensor cores on a GPU), f32 outputs:
    /// what PyTorch's autocast(dtype=bfloat16) does for those ops.
    Bf16,
}

static PRECISION: AtomicU8 = AtomicU8::new(0);

/// Sets the precision of every later convolution and matrix product.
pub fn set_precision(p: Precision) {
    PRECISION.store(p as u8, Ordering::Relaxed);
}

pub fn precision() -> Precision {
    match PRECISION.load(Ordering::Relaxed) {
        0 => Precision::F32,
        _ => Precision::Bf16,
    }
}

/// The dtype a convolution or matrix product of f32 `x` computes in, if not f32.
pub(super) fn compute_dtype(x: &Tensor) -> Option<DType> {
    compute_dtype_in(precision(), x)
}

fn compute_dtype_in(p: Precision, x: &Tensor) -> Option<DType> {
    (p == Precision::Bf16 && x.dtype() == DType::F32).then_some(DType::BF16)
}

/// `f(a, b)` computed in the configured precision, with an f32 result.
pub(super) fn autocast2(
    a: &Tensor,
    b: &Tensor,
    f: impl Fn(&Tensor, &Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    autocast2_in(precision(), a, b, f)
}

/// `f(a, b)` computed in precision `p`. The casts are differentiable, so gradients reach the f32
/// inputs (cast back to f32 on the way). Candle's CPU kernels have no bf16 products, so on the
/// CPU the inputs are rounded to bf16 and multiplied in f32: the same numbers as bf16 inputs with
/// f32 accumulation, which is what the GPU's tensor cores do.
pub(super) fn autocast2_in(
    p: Precision,
    a: &Tensor,
    b: &Tensor,
    f: impl Fn(&Tensor, &Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    match compute_dtype_in(p, a) {
        Some(dt) if a.device().is_cpu() => {
            let round = |t: &Tensor| t.to_dtype(dt)?.to_dtype(DType::F32);
            f(&round(a)?, &round(b)?)
        }
        Some(dt) => f(&a.to_dtype(dt)?, &b.to_dtype(dt)?)?.to_dtype(DType::F32),
        None => f(a, b),
    }
}

/// Matrix product `a @ b` (batched when 3-d) in the configured precision.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    autocast2(a, b, |a, b| gemm_operand(a)?.matmul(&gemm_operand(b)?))
}

/// cuBLAS reads row-major or transposed operands only: a narrowed view (rows longer than the
/// operand, such as the invariant part of a representation) is copied first. The CPU gemm
/// takes any strides.
fn gemm_operand(t: &Tensor) -> Result<Tensor> {
    if t.device().is_cpu() || t.is_contiguous() || t.t()?.is_contiguous() {
        Ok(t.clone())
    } else {
        t.contiguous()
    }
}
