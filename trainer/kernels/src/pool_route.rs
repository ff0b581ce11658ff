//! Max-pool backward: each output gradient goes to the first maximum of its window, in one pass
//! over the outputs (a CUDA kernel on the GPU, cuda/max_pool_route.cu; the CPU loop here).
//! Overlapping windows (kernel > stride) add up.

use candle_core::{bail, CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::cpu;
use super::pool_window::{Geometry, MaxPool2d};

/// The gradient of a max-pool with (before, after) `padding` for output gradient `dy`. (The CUDA
/// kernel takes the padding before the image; windows are clipped to the image, and the output
/// size, from both paddings, comes with the call.)
pub(super) fn route(
    x: &Tensor,
    dy: &Tensor,
    kernel: usize,
    stride: usize,
    (pad, pad_end): (usize, usize),
) -> Result<Tensor> {
    let pool = MaxPool2d { kernel, stride, pad, pad_end };
    let dtype = x.dtype();
    // f32 arithmetic for any dtype: the atomic adds on the GPU are f32 adds.
    let (xf, dyf) = (x.to_dtype(DType::F32)?.contiguous()?, dy.to_dtype(DType::F32)?.contiguous()?);
    xf.apply_op2_no_bwd(&dyf, &Route(pool))?.to_dtype(dtype)
}

struct Route(MaxPool2d);

impl Route {
    fn check(&self, x: &Layout, dy: &Layout) -> Result<Geometry> {
        let g = self.0.geometry(x.dims())?;
        let (xd, dd) = (x.dims(), dy.dims());
        if dd != [xd[0], xd[1], g.oh, g.ow] {
            bail!("max-pool backward: output gradient {dd:?} does not fit input {xd:?}")
        }
        Ok(g)
    }
}

impl CustomOp2 for Route {
    fn name(&self) -> &'static str {
        "max-pool2d-route"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ds: &CpuStorage,
        dl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = self.check(xl, dl)?;
        let (x, dy) = (cpu::slice(xs, xl, self.name())?, cpu::slice(ds, dl, self.name())?);
        let (plane_len, out_len) = (g.h * g.w, g.oh * g.ow);
        let mut grad = cpu::zeros(x.len());
        grad.par_chunks_mut(plane_len).zip(x.par_chunks(plane_len)).zip(dy.par_chunks(out_len)).for_each(
            |((grad, plane), dy)| {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        grad[self.0.argmax(&g, plane, oy, ox)] += dy[oy * g.ow + ox];
                    }
                }
            },
        );
        Ok((CpuStorage::F32(grad), xl.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        xs: &candle_core::CudaStorage,
        xl: &Layout,
        ds: &candle_core::CudaStorage,
        dl: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        use candle_core::cuda_backend::cudarc::driver::{LaunchConfig, PushKernelArg};
        use candle_core::cuda_backend::WrapErr;

        const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/max_pool_route.ptx"));
        let g = self.check(xl, dl)?;
        let (Some((x0, x1)), Some((d0, d1))) = (xl.contiguous_offsets(), dl.contiguous_offsets()) else {
            bail!("max-pool backward: expected contiguous inputs")
        };
        let dev = &xs.device;
        let x = xs.as_cuda_slice::<f32>()?.slice(x0..x1);
        let dy = ds.as_cuda_slice::<f32>()?.slice(d0..d1);
        let dx = dev.alloc_zeros::<f32>(x1 - x0)?;
        let outputs = (d1 - d0) as u64;
        let func = dev.get_or_load_custom_func("max_pool_route_f32", "sie_max_pool_route", PTX)?;
        let (h, w, oh, ow) = (g.h as i32, g.w as i32, g.oh as i32, g.ow as i32);
        let (k, s, p) = (self.0.kernel as i32, self.0.stride as i32, self.0.pad as i32);
        let mut b = func.builder();
        b.arg(&x).arg(&dy).arg(&dx).arg(&outputs).arg(&h).arg(&w).arg(&oh).arg(&ow).arg(&k).arg(&s).arg(&p);
        let cfg = LaunchConfig::for_num_elems(outputs as u32);
        // SAFETY: the kernel reads `outputs` gradients and the planes they index, and writes dx,
        // all within the slices passed (sizes checked above).
        unsafe { b.launch(cfg) }.w()?;
        Ok((candle_core::CudaStorage::wrap_cuda_slice(dx, dev.clone()), xl.shape().clone()))
    }
}
