//! `x @ w^T` for a (N, in) input and an (out, in) weight as one CPU op on the `gemm` crate, threaded
//! over rayon's pool.
//!
//! Through stock candle, `x.matmul(&w.t())` multiplies on one thread (candle's own thread count is
//! kept at 1, see `prefer_single_candle_thread`), and its backward returns the weight's gradient
//! as the transpose of an (in, out) product, which the gradient store then copies with a strided
//! pass the size of the weight (measured: about a tenth of the two-thread step of the reference
//! ResNet-18 shape went to those copies). Here the weight's gradient is computed in place as
//! dy^T x, (out, in) like the weight.

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

use super::cpu;
use super::gemm::{matmul, Operand};

struct LinearT;

/// (N, in) and (out, in) of a product's two operands.
fn dims(x: &[usize], w: &[usize]) -> Result<(usize, usize, usize)> {
    match (x, w) {
        (&[n, i], &[o, wi]) if i == wi => Ok((n, i, o)),
        _ => candle_core::bail!("linear: expected x (N, in) and w (out, in), got {x:?} and {w:?}"),
    }
}

impl CustomOp2 for LinearT {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, i, o) = dims(xl.dims(), wl.dims())?;
        let (x, w) = (cpu::slice(xs, xl, self.name())?, cpu::slice(ws, wl, self.name())?);
        let mut y = cpu::zeros(n * o);
        matmul(&mut y, o, (n, o, i), Operand::plain(x), Operand::transposed(w), false, true);
        Ok((CpuStorage::F32(y), Shape::from((n, o))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (n, i, o) = dims(x.dims(), w.dims())?;
        // dx = dy w, when something upstream wants it (not for a detached input).
        let grad_x = if x.track_op() {
            let gx = cpu::with_data(dy, |dy| {
                cpu::with_data(w, |w| {
                    let mut gx = cpu::zeros(n * i);
                    matmul(&mut gx, i, (n, i, o), Operand::plain(dy), Operand::plain(w), false, true);
                    gx
                })
            })??;
            Some(cpu::tensor(gx, (n, i))?)
        } else {
            None
        };
        // dw = dy^T x, (out, in) like the weight.
        let gw = cpu::with_data(dy, |dy| {
            cpu::with_data(x, |x| {
                let mut gw = vec![0f32; o * i];
                matmul(&mut gw, i, (o, i, n), Operand::transposed(dy), Operand::plain(x), false, true);
                gw
            })
        })??;
        Ok((grad_x, Some(cpu::tensor(gw, (o, i))?)))
    }
}

/// CPU f32 `x @ w^T`; see the module docs.
pub(crate) fn linear(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op2(&w.contiguous()?, LinearT)
}
