//! Convolution as im2col + one gemm over the whole batch, forward and backward.
//!
//! The im2col matrix `col` is (C*K*K, N*P) with P = OH*OW: one row per (input channel, kernel
//! row, kernel column), one column per output pixel of every image. One gemm over all N*P
//! columns keeps the small late-stage feature maps (2x2 at 64 px) efficient, where a gemm per
//! image would re-read the weights N times. Outputs are produced channel-major (O, N*P) and
//! permuted to NCHW.
//!
//! Backward: grad W = dY (O, N*P) * col^T; grad X = col2im(W^T (C*K*K, O) * dY).

use candle_core::{bail, CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::cpu;
use super::gemm::{matmul, Operand};
use super::scratch;

/// Sizes of one convolution.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    k: usize,
    stride: usize,
    pad: usize,
    oh: usize,
    ow: usize,
}

impl Geometry {
    fn new(x: &[usize], w: &[usize], stride: usize, pad: usize) -> Result<Self> {
        let (&[n, c, h, wd], &[o, wc, kh, kw]) = (x, w) else {
            bail!("conv2d: expected x (N, C, H, W) and w (O, C, K, K), got {x:?} and {w:?}")
        };
        if wc != c || kh != kw || kh == 0 || stride == 0 {
            bail!("conv2d: x {x:?} and w {w:?} do not fit (square kernel, same C, stride {stride} >= 1)")
        }
        if h + 2 * pad < kh || wd + 2 * pad < kw {
            bail!("conv2d: kernel {kh} larger than the padded input {x:?} (padding {pad})")
        }
        let oh = (h + 2 * pad - kh) / stride + 1;
        let ow = (wd + 2 * pad - kw) / stride + 1;
        Ok(Self { n, c, h, w: wd, o, k: kh, stride, pad, oh, ow })
    }

    /// Output pixels per image.
    fn p(&self) -> usize {
        self.oh * self.ow
    }

    /// Rows of the im2col matrix.
    fn ckk(&self) -> usize {
        self.c * self.k * self.k
    }

    /// Output columns `ox` whose input column `ox*stride + kx - pad` lies inside the image.
    fn valid_ox(&self, kx: usize) -> std::ops::Range<usize> {
        valid_range(kx, self.pad, self.stride, self.w, self.ow)
    }

    /// The input row read by output row `oy` at kernel row `ky`, if inside the image.
    fn input_row(&self, oy: usize, ky: usize) -> Option<usize> {
        (oy * self.stride + ky).checked_sub(self.pad).filter(|&iy| iy < self.h)
    }
}

/// Outputs `o < out_len` with `0 <= o*stride + k - pad < len`.
fn valid_range(k: usize, pad: usize, stride: usize, len: usize, out_len: usize) -> std::ops::Range<usize> {
    let lo = pad.saturating_sub(k).div_ceil(stride);
    let hi = if len + pad > k { ((len + pad - k - 1) / stride + 1).min(out_len) } else { 0 };
    lo.min(hi)..hi
}

/// Writes the (C*K*K, N*P) patches of `x` (N, C, H, W) into `col`, zeros where the window hangs
/// over the padding. Every element of `col` is written.
fn im2col(g: &Geometry, x: &[f32], col: &mut [f32]) {
    let (p, np) = (g.p(), g.n * g.p());
    col.par_chunks_mut(np).enumerate().for_each(|(r, row)| {
        let (c, ky, kx) = (r / (g.k * g.k), (r / g.k) % g.k, r % g.k);
        let ox_range = g.valid_ox(kx);
        for n in 0..g.n {
            let plane = &x[(n * g.c + c) * g.h * g.w..][..g.h * g.w];
            for oy in 0..g.oh {
                let dst = &mut row[n * p + oy * g.ow..][..g.ow];
                let Some(iy) = g.input_row(oy, ky).filter(|_| !ox_range.is_empty()) else {
                    dst.fill(0.0);
                    continue;
                };
                let src = &plane[iy * g.w..][..g.w];
                dst[..ox_range.start].fill(0.0);
                dst[ox_range.end..].fill(0.0);
                let ix0 = ox_range.start * g.stride + kx - g.pad;
                if g.stride == 1 {
                    dst[ox_range.clone()].copy_from_slice(&src[ix0..ix0 + ox_range.len()]);
                } else {
                    for (d, s) in dst[ox_range.clone()].iter_mut().zip(src[ix0..].iter().step_by(g.stride)) {
                        *d = *s;
                    }
                }
            }
        }
    });
}

/// The adjoint of [`im2col`]: sums each patch entry of `col` back into its input pixel.
fn col2im(g: &Geometry, col: &[f32]) -> Vec<f32> {
    let (p, np, plane_len) = (g.p(), g.n * g.p(), g.h * g.w);
    let mut x = vec![0f32; g.n * g.c * plane_len];
    x.par_chunks_mut(g.c * plane_len).enumerate().for_each(|(n, image)| {
        for (c, plane) in image.chunks_mut(plane_len).enumerate() {
            for ky in 0..g.k {
                for kx in 0..g.k {
                    let row = &col[((c * g.k + ky) * g.k + kx) * np + n * p..][..p];
                    let ox_range = g.valid_ox(kx);
                    let ix0 = (ox_range.start * g.stride + kx).wrapping_sub(g.pad);
                    for oy in 0..g.oh {
                        let Some(iy) = g.input_row(oy, ky) else { continue };
                        let dst = &mut plane[iy * g.w..][..g.w];
                        let src = &row[oy * g.ow..][ox_range.clone()];
                        for (i, s) in src.iter().enumerate() {
                            dst[ix0 + i * g.stride] += s;
                        }
                    }
                }
            }
        }
    });
    x
}

/// (N, O, P) -> (O, N*P), into `out`.
fn to_channel_major(g: &Geometry, y: &[f32], out: &mut [f32]) {
    let p = g.p();
    out.par_chunks_mut(g.n * p).enumerate().for_each(|(o, row)| {
        for (n, dst) in row.chunks_mut(p).enumerate() {
            dst.copy_from_slice(&y[(n * g.o + o) * p..][..p]);
        }
    });
}

/// (O, N*P) -> (N, O, P).
fn to_batch_major(g: &Geometry, yt: &[f32]) -> Vec<f32> {
    let (p, np) = (g.p(), g.n * g.p());
    let mut out = vec![0f32; yt.len()];
    out.par_chunks_mut(g.o * p).enumerate().for_each(|(n, image)| {
        for (o, dst) in image.chunks_mut(p).enumerate() {
            dst.copy_from_slice(&yt[o * np + n * p..][..p]);
        }
    });
    out
}

struct Conv2d {
    stride: usize,
    pad: usize,
}

impl CustomOp2 for Conv2d {
    fn name(&self) -> &'static str {
        "conv2d-im2col"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout, ws: &CpuStorage, wl: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = Geometry::new(xl.dims(), wl.dims(), self.stride, self.pad)?;
        let (x, w) = (cpu::slice(xs, xl, self.name())?, cpu::slice(ws, wl, self.name())?);
        let mut col = scratch::take(g.ckk() * g.n * g.p());
        im2col(&g, x, &mut col);
        let mut yt = scratch::take(g.o * g.n * g.p());
        matmul(&mut yt, (g.o, g.n * g.p(), g.ckk()), Operand::plain(w), Operand::plain(&col), false);
        scratch::give(col);
        let y = to_batch_major(&g, &yt);
        scratch::give(yt);
        Ok((CpuStorage::F32(y), Shape::from((g.n, g.o, g.oh, g.ow))))
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _y: &Tensor, dy: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let g = Geometry::new(x.dims(), w.dims(), self.stride, self.pad)?;
        let (np, ckk) = (g.n * g.p(), g.ckk());
        let mut dyt = scratch::take(g.o * np);
        cpu::with_data(dy, |dy| to_channel_major(&g, dy, &mut dyt))?;
        let grad_w = cpu::with_data(x, |x| {
            let mut col = scratch::take(ckk * np);
            im2col(&g, x, &mut col);
            let mut gw = vec![0f32; g.o * ckk];
            matmul(&mut gw, (g.o, ckk, np), Operand::plain(&dyt), Operand::transposed(&col), false);
            scratch::give(col);
            gw
        })?;
        let grad_w = cpu::tensor(grad_w, w.shape())?;
        // The network input needs no gradient: skip the largest col2im of the step.
        let grad_x = if x.track_op() {
            let grad_x = cpu::with_data(w, |w| {
                let mut gcol = scratch::take(ckk * np);
                matmul(&mut gcol, (ckk, np, g.o), Operand::transposed(w), Operand::plain(&dyt), false);
                let grad_x = col2im(&g, &gcol);
                scratch::give(gcol);
                grad_x
            })?;
            Some(cpu::tensor(grad_x, x.shape())?)
        } else {
            None
        };
        scratch::give(dyt);
        Ok((grad_x, Some(grad_w)))
    }
}

/// CPU f32 convolution; see the module docs.
pub(crate) fn conv2d(x: &Tensor, w: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
    x.contiguous()?.apply_op2(&w.contiguous()?, Conv2d { stride, pad: padding })
}
