//! Batch norm in training mode as one fused op: per-channel statistics (f32 lanes, f64 totals), normalise, scale
//! and shift in one pass; the backward is the closed form
//! dx = gamma/sigma * (dy - mean(dy) - xhat * mean(dy * xhat)), dgamma = sum(dy * xhat),
//! dbeta = sum(dy), also in one pass over x and dy after the per-channel sums.
//!
//! With `relu`, the op also applies max(0, .) to its output (BN+ReLU, as every ResNet stem and
//! block and every projector layer uses it): one pass and one graph node fewer each way, and the
//! backward masks dy by y > 0 before the closed form.

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::cpu;

/// (N, C, S) view of an (N, C, ...) tensor.
#[derive(Clone, Copy)]
struct Geometry {
    n: usize,
    c: usize,
    s: usize,
}

impl Geometry {
    fn of(dims: &[usize]) -> Result<Self> {
        let (n, c, s) = cpu::nc_rest(dims, "batch_norm")?;
        Ok(Self { n, c, s })
    }

    /// Elements per channel.
    fn m(&self) -> usize {
        self.n * self.s
    }

    /// The `s` elements of channel `c` in image `n`.
    fn segment<'a>(&self, data: &'a [f32], n: usize, c: usize) -> &'a [f32] {
        &data[(n * self.c + c) * self.s..][..self.s]
    }
}

/// Lanes of the f32 partial sums: wide enough to vectorise and to break the add dependency chain.
const LANES: usize = 16;

/// sum(f(x)) over a slice, as f32 partial sums in [`LANES`] lanes added up in f64.
fn lane_sum(xs: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    let mut acc = [0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail: f64 = chunks.remainder().iter().map(|&v| f(v) as f64).sum();
    for chunk in chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += f(v);
        }
    }
    acc.iter().map(|&a| a as f64).sum::<f64>() + tail
}

/// The ReLU after a batch norm, for its backward: the output was clamped where
/// `(x - mean) * scale + shift <= 0`, the forward's own expression (so the same bits decide),
/// which spares reading the output and a masked copy of the gradient.
#[derive(Clone, Copy)]
struct ReluMask {
    scale: f32,
    shift: f32,
}

impl ReluMask {
    /// `dy` where the output was positive, else 0, given `xc = x - mean`.
    #[inline(always)]
    fn apply(mask: Option<Self>, xc: f32, dy: f32) -> f32 {
        match mask {
            Some(m) if xc * m.scale + m.shift > 0.0 => dy,
            Some(_) => 0.0,
            None => dy,
        }
    }
}

/// (sum(d), sum(d * (x - mean))) over two slices with d = dy through the ReLU `mask`, like
/// [`lane_sum`].
fn lane_sums_dy(x: &[f32], dy: &[f32], mean: f32, mask: Option<ReluMask>) -> (f64, f64) {
    let (mut a, mut b) = ([0f32; LANES], [0f32; LANES]);
    let (xc, dc) = (x.chunks_exact(LANES), dy.chunks_exact(LANES));
    let tail = xc.remainder().iter().zip(dc.remainder()).fold((0f64, 0f64), |(s, t), (&x, &d)| {
        let d = ReluMask::apply(mask, x - mean, d);
        (s + d as f64, t + d as f64 * (x - mean) as f64)
    });
    for (xs, ds) in xc.zip(dc) {
        for i in 0..LANES {
            let xc = xs[i] - mean;
            let d = ReluMask::apply(mask, xc, ds[i]);
            a[i] += d;
            b[i] += d * xc;
        }
    }
    let total = |acc: [f32; LANES]| acc.iter().map(|&v| v as f64).sum::<f64>();
    (total(a) + tail.0, total(b) + tail.1)
}

/// Per-channel mean and biased variance (two passes; f32 lanes per image, f64 across images).
fn channel_stats(g: Geometry, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    (0..g.c)
        .into_par_iter()
        .map(|c| {
            let segments = || (0..g.n).map(|n| g.segment(x, n, c));
            let mean = segments().map(|seg| lane_sum(seg, |v| v)).sum::<f64>() / g.m() as f64;
            let m32 = mean as f32;
            let sq: f64 = segments().map(|seg| lane_sum(seg, |v| (v - m32) * (v - m32))).sum();
            (m32, (sq / g.m() as f64) as f32)
        })
        .unzip()
}

/// y = (x - mean) * scale + shift, per channel, for an (N, C, S) tensor; max(0, y) with `relu`.
fn normalise(g: Geometry, x: &[f32], mean: &[f32], scale: &[f32], shift: &[f32], relu: bool) -> Vec<f32> {
    let image = g.c * g.s;
    // SAFETY: each chunk is one image, and every channel of it is written.
    unsafe {
        cpu::build(x.len(), image, |start, y| {
            let x = &x[start..][..image];
            for c in 0..g.c {
                let (m, a, b) = (mean[c], scale[c], shift[c]);
                let pairs = y[c * g.s..][..g.s].iter_mut().zip(&x[c * g.s..][..g.s]);
                if relu {
                    pairs.for_each(|(y, x)| {
                        y.write(((x - m) * a + b).max(0.0));
                    });
                } else {
                    pairs.for_each(|(y, x)| {
                        y.write((x - m) * a + b);
                    });
                }
            }
        })
    }
}

/// The op: statistics are computed before it runs and kept for the backward.
struct BatchNorm {
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    relu: bool,
}

impl CustomOp3 for BatchNorm {
    fn name(&self) -> &'static str {
        "batch-norm-train"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = Geometry::of(xl.dims())?;
        let x = cpu::slice(xs, xl, self.name())?;
        let (gamma, beta) = (cpu::slice(gs, gl, self.name())?, cpu::slice(bs, bl, self.name())?);
        check_channels(g, gamma.len(), beta.len())?;
        let scale: Vec<f32> = (0..g.c).map(|c| self.inv_std[c] * gamma[c]).collect();
        Ok((CpuStorage::F32(normalise(g, x, &self.mean, &scale, beta, self.relu)), xl.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let g = Geometry::of(x.dims())?;
        let gamma = cpu::with_data(gamma, |d| d.to_vec())?;
        // Through the ReLU: the gradient where the output was clamped is 0 (also at exactly 0,
        // as PyTorch's ReLU).
        let masks: Vec<Option<ReluMask>> = if self.relu {
            let beta = cpu::with_data(beta, |d| d.to_vec())?;
            (0..g.c).map(|c| Some(ReluMask { scale: self.inv_std[c] * gamma[c], shift: beta[c] })).collect()
        } else {
            vec![None; g.c]
        };
        let (grad_x, sum_dy, sum_dy_xhat) = cpu::with_data(x, |x| {
            cpu::with_data(dy, |dy| {
                let (sum_dy, sum_dy_xhat) = self.grad_sums(g, x, dy, &masks);
                let grad_x = self.grad_input(g, x, dy, &gamma, &masks, (&sum_dy, &sum_dy_xhat));
                (grad_x, sum_dy, sum_dy_xhat)
            })
        })??;
        let to_channels = |v: Vec<f64>| cpu::tensor(v.into_iter().map(|s| s as f32).collect(), g.c);
        Ok((
            Some(cpu::tensor(grad_x, x.shape())?),
            Some(to_channels(sum_dy_xhat)?),
            Some(to_channels(sum_dy)?),
        ))
    }
}

impl BatchNorm {
    /// Per channel: sum(dy) and sum(dy * xhat).
    fn grad_sums(
        &self,
        g: Geometry,
        x: &[f32],
        dy: &[f32],
        masks: &[Option<ReluMask>],
    ) -> (Vec<f64>, Vec<f64>) {
        (0..g.c)
            .into_par_iter()
            .map(|c| {
                let (s_dy, s_dy_xc) = (0..g.n)
                    .map(|n| lane_sums_dy(g.segment(x, n, c), g.segment(dy, n, c), self.mean[c], masks[c]))
                    .fold((0f64, 0f64), |(a, b), (da, db)| (a + da, b + db));
                (s_dy, s_dy_xc * self.inv_std[c] as f64)
            })
            .unzip()
    }

    /// dx = gamma * inv_std * (dy - sum_dy/M - xhat * sum_dy_xhat/M), per channel an affine map
    /// dx = a*dy + b*(x - mean) + c.
    fn grad_input(
        &self,
        g: Geometry,
        x: &[f32],
        dy: &[f32],
        gamma: &[f32],
        masks: &[Option<ReluMask>],
        (sum_dy, sum_dy_xhat): (&[f64], &[f64]),
    ) -> Vec<f32> {
        let m = g.m() as f64;
        let coef: Vec<(f32, f32, f32, f32)> = (0..g.c)
            .map(|c| {
                let inv_std = self.inv_std[c] as f64;
                let a = gamma[c] as f64 * inv_std;
                let b = -a * inv_std * sum_dy_xhat[c] / m;
                (a as f32, b as f32, self.mean[c], (-a * sum_dy[c] / m) as f32)
            })
            .collect();
        let image = g.c * g.s;
        // SAFETY: each chunk is one image, and every channel of it is written.
        unsafe {
            cpu::build(x.len(), image, |start, gx| {
                let (x, dy) = (&x[start..][..image], &dy[start..][..image]);
                for (c, &(a, b, mean, c0)) in coef.iter().enumerate() {
                    let range = c * g.s..(c + 1) * g.s;
                    let mask = masks[c];
                    for ((gx, &x), &d) in gx[range.clone()].iter_mut().zip(&x[range.clone()]).zip(&dy[range])
                    {
                        let xc = x - mean;
                        gx.write(a * ReluMask::apply(mask, xc, d) + b * xc + c0);
                    }
                }
            })
        }
    }
}

fn check_channels(g: Geometry, gamma: usize, beta: usize) -> Result<()> {
    if gamma != g.c || beta != g.c {
        candle_core::bail!("batch_norm: {} channels but gamma has {gamma} and beta {beta}", g.c)
    }
    Ok(())
}

/// CPU f32 batch norm (training mode), followed by a ReLU with `relu`; see the module docs.
pub(crate) fn batch_norm_train(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f64,
    relu: bool,
) -> Result<(Tensor, Tensor, Tensor)> {
    let x = x.contiguous()?;
    let g = Geometry::of(x.dims())?;
    let (mean, var) = cpu::with_data(&x, |d| channel_stats(g, d))?;
    let inv_std = var.iter().map(|&v| (1.0 / (v as f64 + eps).sqrt()) as f32).collect();
    let bessel = g.m() as f64 / (g.m().max(2) - 1) as f64;
    let unbiased = var.iter().map(|&v| (v as f64 * bessel) as f32).collect();
    let mean_t = cpu::tensor(mean.clone(), g.c)?;
    let y = x.apply_op3(&gamma.contiguous()?, &beta.contiguous()?, BatchNorm { mean, inv_std, relu })?;
    Ok((y, mean_t, cpu::tensor(unbiased, g.c)?))
}
