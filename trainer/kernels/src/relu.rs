//! ReLU and the residual join relu(a + b) as single-pass ops. Stock candle's ReLU backward takes
//! six passes and five allocations (zeros, compare, cast, multiply, accumulate); this one takes
//! one pass over (y, dy), and the fused join hands the same gradient to both branches.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

use super::cpu;

/// Elements per rayon task.
const CHUNK: usize = 1 << 15;

/// dy where y > 0, else 0 (PyTorch's threshold_backward: zero gradient at 0). Also the ReLU
/// half of the fused batch norm + ReLU's backward.
pub(super) fn masked_grad(y: &Tensor, dy: &Tensor) -> Result<Tensor> {
    let grad = cpu::with_data(y, |y| {
        cpu::with_data(dy, |dy| {
            // SAFETY: every element of each chunk is written.
            unsafe {
                cpu::build(y.len(), CHUNK, |start, out| {
                    let (y, dy) = (&y[start..][..out.len()], &dy[start..][..out.len()]);
                    for ((g, &y), &d) in out.iter_mut().zip(y).zip(dy) {
                        g.write(if y > 0.0 { d } else { 0.0 });
                    }
                })
            }
        })
    })??;
    cpu::tensor(grad, y.shape())
}

struct Relu;

impl CustomOp1 for Relu {
    fn name(&self) -> &'static str {
        "relu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = cpu::slice(s, l, self.name())?;
        // SAFETY: every element of each chunk is written.
        let y = unsafe {
            cpu::build(x.len(), CHUNK, |start, out| {
                let x = &x[start..][..out.len()];
                for (y, &x) in out.iter_mut().zip(x) {
                    y.write(x.max(0.0));
                }
            })
        };
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(masked_grad(y, dy)?))
    }
}

struct AddRelu;

impl CustomOp2 for AddRelu {
    fn name(&self) -> &'static str {
        "add-relu"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        if l1.shape() != l2.shape() {
            candle_core::bail!("add_relu: shapes {:?} and {:?} differ", l1.shape(), l2.shape())
        }
        let (a, b) = (cpu::slice(s1, l1, self.name())?, cpu::slice(s2, l2, self.name())?);
        // SAFETY: every element of each chunk is written.
        let y = unsafe {
            cpu::build(a.len(), CHUNK, |start, out| {
                let (a, b) = (&a[start..][..out.len()], &b[start..][..out.len()]);
                for ((y, &a), &b) in out.iter_mut().zip(a).zip(b) {
                    y.write((a + b).max(0.0));
                }
            })
        };
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _a: &Tensor,
        _b: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = masked_grad(y, dy)?;
        Ok((Some(grad.clone()), Some(grad)))
    }
}

/// CPU f32 ReLU.
pub(crate) fn relu(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Relu)
}

/// CPU f32 relu(a + b).
pub(crate) fn add_relu(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    a.contiguous()?.apply_op2(&b.contiguous()?, AddRelu)
}
