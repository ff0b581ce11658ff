//! `--precision`: the arithmetic of convolutions and matrix products, a value of the model's
//! [`crate::Kernels`] (PyTorch's autocast context, passed down instead of process-wide).
//! Parameters, gradients, Adam, batch norm and the loss stay f32.

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

/// The dtype a convolution or matrix product of f32 `x` computes in under `p`, if not f32.
pub(crate) fn compute_dtype_in(p: Precision, x: &Tensor) -> Option<DType> {
    (p == Precision::Bf16 && x.dtype() == DType::F32).then_some(DType::BF16)
}

/// `f(a, b)` computed in precision `p`. The casts are differentiable, so gradients reach the f32
/// inputs (cast back to f32 on the way). Candle's CPU kernels have no bf16 products, so on the
/// CPU the inputs are rounded to bf16 and multiplied in f32: the same numbers as bf16 inputs with
/// f32 accumulation, which is what the GPU's tensor cores do.
pub(crate) fn autocast2_in(
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

/// Matrix product `a @ b` (batched when 3-d) in precision `p`.
pub(crate) fn matmul_in(p: Precision, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    autocast2_in(p, a, b, |a, b| gemm_operand(a)?.matmul(&gemm_operand(b)?))
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
