//! Max-pool with -inf padding; the backward routes each output gradient to its window's argmax
//! (the first maximum in scan order, as PyTorch's CPU kernel), so overlapping windows
//! (kernel != stride) accumulate correctly.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::cpu;
use super::pool_window::MaxPool2d;

impl CustomOp1 for MaxPool2d {
    fn name(&self) -> &'static str {
        "max-pool2d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = self.geometry(l.dims())?;
        let x = cpu::slice(s, l, self.name())?;
        let (plane_len, out_len) = (g.h * g.w, g.oh * g.ow);
        let mut y = cpu::zeros(x.len() / plane_len * out_len);
        y.par_chunks_mut(out_len).zip(x.par_chunks(plane_len)).for_each(|(out, plane)| {
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    out[oy * g.ow + ox] = self.max(&g, plane, oy, ox);
                }
            }
        });
        let d = l.dims();
        Ok((CpuStorage::F32(y), Shape::from((d[0], d[1], g.oh, g.ow))))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(super::pool_route::route(x, dy, self.kernel, self.stride, (self.pad, self.pad_end))?))
    }
}

/// CPU f32 max-pool (see the module docs) with (before, after) padding on both axes.
pub(crate) fn max_pool2d_padded(
    x: &Tensor,
    kernel: usize,
    stride: usize,
    (pad, pad_end): (usize, usize),
) -> Result<Tensor> {
    x.contiguous()?.apply_op1(MaxPool2d { kernel, stride, pad, pad_end })
}
