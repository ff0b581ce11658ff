//! Convolution as im2col + gemm, forward and backward.
//!
//! The im2col matrix `col` is (C*K*K, B*P) with P = OH*OW: one row per (input channel, kernel
//! row, kernel column), one column per output pixel of each of a block of B images. Outputs are
//! produced block-major (each block's (O, B*P) product stored contiguously, blocks in order) and
//! permuted to NCHW; the backward pass permutes the output gradient the same way.
//!
//! Threads: with enough blocks (at least two per thread: the early, large feature maps), each
//! thread takes whole blocks (its own im2col buffer, a one-thread gemm, a partial weight gradient per
//! block, summed in block order at the end so that results do not depend on scheduling), which
//! keeps both cores busy without a synchronisation per gemm; otherwise the blocks run in order
//! and each gemm is threaded.
//!
//! Block size: large early feature maps go a few images at a time, so that `col` stays in the
//! L2 cache between being written and being read by the gemm (and, backward, the column
//! gradient between the gemm and col2im); small late maps (2x2 at 64 px) go as one block of the
//! whole batch, since every block re-reads the weights and there they outweigh `col`.
//!
//! Backward: grad W = sum over blocks of dY_block (O, B*P) * col_block^T (summed column-major
//! where that keeps the gemm from packing the larger `col`: `Geometry::weight_grad_col_major`);
//! grad X = col2im(W^T (C*K*K, O) * dY_block) per block.

use candle_core::{bail, CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::cpu;
use super::gemm::{matmul, matmul_col_major, Operand};
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
    /// Images per im2col block.
    block: usize,
}

/// Target size of one im2col block, in floats (768 KiB: most of a 1 MiB L2).
const BLOCK_FLOATS: usize = 192 * 1024;

impl Geometry {
    /// `pad`: zeros before the first row/column; `pad_end`: after the last (TensorFlow-style
    /// "same" padding is asymmetric).
    fn new(x: &[usize], w: &[usize], stride: usize, (pad, pad_end): (usize, usize)) -> Result<Self> {
        let (&[n, c, h, wd], &[o, wc, kh, kw]) = (x, w) else {
            bail!("conv2d: expected x (N, C, H, W) and w (O, C, K, K), got {x:?} and {w:?}")
        };
        if wc != c || kh != kw || kh == 0 || stride == 0 {
            bail!("conv2d: x {x:?} and w {w:?} do not fit (square kernel, same C, stride {stride} >= 1)")
        }
        if h + pad + pad_end < kh || wd + pad + pad_end < kw {
            bail!("conv2d: kernel {kh} larger than the padded input {x:?} (padding {pad}, {pad_end})")
        }
        let oh = (h + pad + pad_end - kh) / stride + 1;
        let ow = (wd + pad + pad_end - kw) / stride + 1;
        let mut g = Self { n, c, h, w: wd, o, k: kh, stride, pad, oh, ow, block: n };
        g.block = g.default_block();
        Ok(g)
    }

    /// Images per block: as many as fit [`BLOCK_FLOATS`], unless re-reading the weights once
    /// per block (O*CKK each) would cost more than the whole-batch `col` saves (CKK*N*P).
    fn default_block(&self) -> usize {
        let per_image = (self.ckk() * self.p()).max(1);
        let block = (BLOCK_FLOATS / per_image).clamp(1, self.n.max(1));
        if self.o * self.n.div_ceil(block) > self.n * self.p() {
            self.n.max(1)
        } else {
            block
        }
    }

    /// The blocks of images: (first image, number of images).
    fn blocks(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.n).step_by(self.block).map(|n0| (n0, self.block.min(self.n - n0)))
    }

    /// The output is the input's size divided by the stride (3x3 with padding 1 at stride 1, the
    /// ResNets' stride-2 convolutions on even sizes): each im2col row is then one phase plane of
    /// the input (the pixels whose row and column are given residues modulo the stride; at stride
    /// 1 the image itself), all of the output's size, shifted by a constant offset.
    /// Kernels smaller than the stride (1x1/2 shortcuts) read only some of the phase planes and
    /// gather those directly (the general path).
    fn phase_shift(&self) -> bool {
        let s = self.stride;
        self.k >= s && self.oh * s == self.h && self.ow * s == self.w
    }

    /// For a [`Self::phase_shift`] convolution: the phase plane that kernel offset (ky, kx) reads
    /// (index `py * stride + px` for the residues (py, px)) and the shift (dy, dx), in phase-plane
    /// pixels, at which output pixel (oy, ox) reads it: (oy + dy, ox + dx).
    fn kernel_phase(&self, (ky, kx): (usize, usize)) -> (usize, isize, isize) {
        let s = self.stride as isize;
        let split = |k: usize| {
            let d = k as isize - self.pad as isize;
            let residue = d.rem_euclid(s);
            (residue as usize, (d - residue) / s)
        };
        let ((py, dy), (px, dx)) = (split(ky), split(kx));
        (py * self.stride + px, dy, dx)
    }

    /// Whether to sum the weight gradient column-major (see `matmul_col_major`): the gemm then
    /// packs dY (O x N*P) instead of `col` (C*K*K x N*P), and the (C*K*K, O) sum is transposed
    /// once at the end (a strided pass, counted as four). Late layers, with few pixels and many
    /// weights, pack `col` instead.
    fn weight_grad_col_major(&self) -> bool {
        let (np, ckk, o) = (self.n * self.p(), self.ckk(), self.o);
        o * np + 4 * o * ckk < ckk * np
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

/// Writes the (C*K*K, B*P) patches of images `n0..n0 + B` of `x` (N, C, H, W) into `col`, zeros
/// where the window hangs over the padding. Every element of `col[..C*K*K*B*P]` is written.
fn im2col(g: &Geometry, x: &[f32], (n0, b): (usize, usize), col: &mut [f32]) {
    let (p, bp) = (g.p(), b * g.p());
    let plane_len = g.h * g.w;
    let images = &x[n0 * g.c * plane_len..][..b * g.c * plane_len];
    if g.phase_shift() {
        // At stride 1 the planes are the images; otherwise their phase planes, made once per
        // block instead of a strided gather per kernel offset.
        let mut phases = Vec::new();
        let planes = if g.stride == 1 {
            images
        } else {
            phases = scratch::take(images.len());
            phases.par_chunks_mut(plane_len).zip(images.par_chunks(plane_len)).for_each(|(out, plane)| {
                to_phases(g, plane, out);
            });
            &phases
        };
        let windows = windows(g);
        col[..g.ckk() * bp].par_chunks_mut(bp).enumerate().for_each(|(r, row)| {
            let (c, window) = (r / windows.len(), &windows[r % windows.len()]);
            for i in 0..b {
                let plane = &planes[(i * g.c + c) * plane_len + window.phase * p..][..p];
                shifted_copy(g, plane, window, &mut row[i * p..][..p]);
            }
        });
        if !phases.is_empty() {
            scratch::give(phases);
        }
        return;
    }
    col[..g.ckk() * bp].par_chunks_mut(bp).enumerate().for_each(|(r, row)| {
        let (c, ky, kx) = (r / (g.k * g.k), (r / g.k) % g.k, r % g.k);
        let ox_range = g.valid_ox(kx);
        for i in 0..b {
            let plane = &images[(i * g.c + c) * plane_len..][..plane_len];
            for oy in 0..g.oh {
                let dst = &mut row[i * p + oy * g.ow..][..g.ow];
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

/// Where one kernel offset of a phase-shift convolution reads (see [`Geometry::kernel_phase`]):
/// output pixel j (flattened over the output's (OH, OW)) reads pixel j + `shift` of phase plane
/// `phase`. `lo..hi`: the j for which that pixel exists and its row lies inside the plane (side
/// columns in that range wrap to the neighbouring row: callers mask them); `columns`: the output
/// columns whose plane column lies inside the plane.
struct Window {
    phase: usize,
    shift: isize,
    lo: usize,
    hi: usize,
    columns: std::ops::Range<usize>,
}

/// The [`Window`] of each kernel offset (ky, kx), in im2col row order (ky-major), computed once
/// per call rather than per row segment.
fn windows(g: &Geometry) -> Vec<Window> {
    let (h, w) = (g.oh as isize, g.ow as isize);
    let inside =
        |d: isize, n: isize| (-d).clamp(0, n) as usize..(n - d).clamp(0, n).max((-d).clamp(0, n)) as usize;
    (0..g.k * g.k)
        .map(|r| {
            let (phase, dy, dx) = g.kernel_phase((r / g.k, r % g.k));
            let (rows, columns) = (inside(dy, h), inside(dx, w));
            // dst[j] = plane[j + shift] over those rows, cut to where plane[j + shift] exists
            // (the cut elements are side columns, zeroed by the callers).
            let (shift, len) = (dy * w + dx, h * w);
            let lo = (rows.start as isize * w).max(-shift).clamp(0, len);
            let hi = (rows.end as isize * w).min(len - shift).clamp(lo, len);
            Window { phase, shift, lo: lo as usize, hi: hi as usize, columns }
        })
        .collect()
}

/// One im2col row segment (one kernel offset, one image) of a phase-shift convolution: the phase
/// plane shifted by the window's offset, one contiguous copy, then zeros where the window hangs
/// over the padding (whole rows at the top or bottom, a few columns at the sides). The general
/// loop copies one output row at a time, a call per 32 or 16 floats at these sizes, and gathers
/// every second float at stride 2.
fn shifted_copy(g: &Geometry, plane: &[f32], window: &Window, dst: &mut [f32]) {
    let (lo, hi) = (window.lo, window.hi);
    dst[..lo].fill(0.0);
    dst[hi..].fill(0.0);
    if hi > lo {
        let src_lo = (lo as isize + window.shift) as usize;
        dst[lo..hi].copy_from_slice(&plane[src_lo..src_lo + (hi - lo)]);
    }
    zero_outside_columns(g, window, dst);
}

/// Zeros, in each output row of a row segment, the columns whose window hangs over the side
/// padding.
fn zero_outside_columns(g: &Geometry, window: &Window, rows: &mut [f32]) {
    if window.columns.len() < g.ow {
        for row in rows.chunks_mut(g.ow) {
            zero_few(&mut row[..window.columns.start]);
            zero_few(&mut row[window.columns.end..]);
        }
    }
}

/// Zeros a slice of usually one or two elements (a padding column) without a call to memset.
fn zero_few(s: &mut [f32]) {
    match s {
        [] => {}
        [a] => *a = 0.0,
        [a, b] => (*a, *b) = (0.0, 0.0),
        _ => s.fill(0.0),
    }
}

/// An (H, W) plane as its stride x stride phase planes of (H/stride, W/stride), one after the
/// other: phase `py * stride + px` holds the pixels (oy * stride + py, ox * stride + px).
fn to_phases(g: &Geometry, plane: &[f32], out: &mut [f32]) {
    let (s, p) = (g.stride, g.p());
    for (iy, row) in plane.chunks_exact(g.w).enumerate() {
        let (oy, py) = (iy / s, iy % s);
        for px in 0..s {
            let dst = &mut out[(py * s + px) * p + oy * g.ow..][..g.ow];
            dst.iter_mut().zip(row[px..].iter().step_by(s)).for_each(|(d, v)| *d = *v);
        }
    }
}

/// The inverse of [`to_phases`]: writes every pixel of `plane` from its phase planes.
fn from_phases(g: &Geometry, phases: &[f32], plane: &mut [f32]) {
    let (s, p) = (g.stride, g.p());
    for (iy, row) in plane.chunks_exact_mut(g.w).enumerate() {
        let (oy, py) = (iy / s, iy % s);
        for px in 0..s {
            let src = &phases[(py * s + px) * p + oy * g.ow..][..g.ow];
            row[px..].iter_mut().step_by(s).zip(src).for_each(|(d, v)| *d = *v);
        }
    }
}

/// The adjoint of [`im2col`]: adds each entry of the block's column gradient `col`
/// (C*K*K, B*P) into its input pixel of `x` (the B images' (C, H, W) planes).
fn col2im(g: &Geometry, col: &mut [f32], b: usize, x: &mut [f32]) {
    let (p, bp, plane_len) = (g.p(), b * g.p(), g.h * g.w);
    if g.phase_shift() {
        // The adjoint of `shifted_copy`: per kernel offset, the row segment added into the phase
        // plane it came from as one contiguous add, after zeroing (in `col`, which is ours) the
        // entries of the columns that hang over the padding, which the add would otherwise carry
        // into the neighbouring row (adding zero leaves a sum unchanged); at stride > 1 the
        // phase planes are summed in a per-thread buffer and interleaved into the image plane
        // at the end.
        let (stride, windows) = (g.stride, windows(g));
        col[..g.ckk() * bp].par_chunks_mut(bp).enumerate().for_each(|(r, row)| {
            zero_outside_columns(g, &windows[r % windows.len()], row);
        });
        let col = &*col;
        x.par_chunks_mut(plane_len).enumerate().for_each_init(
            || if stride == 1 { Vec::new() } else { vec![0f32; plane_len] },
            |phases, (plane_index, plane)| {
                let (i, c) = (plane_index / g.c, plane_index % g.c);
                let add_rows = |sums: &mut [f32]| {
                    for (offset, window) in windows.iter().enumerate() {
                        let row = &col[(c * windows.len() + offset) * bp + i * p..][..p];
                        let (lo, hi) = (window.lo, window.hi);
                        if hi == lo {
                            // The kernel offset misses the image (a kernel wider than it).
                            continue;
                        }
                        let dst_lo = window.phase * p + (lo as isize + window.shift) as usize;
                        let dst = &mut sums[dst_lo..dst_lo + (hi - lo)];
                        dst.iter_mut().zip(&row[lo..hi]).for_each(|(d, s)| *d += s);
                    }
                };
                if stride == 1 {
                    add_rows(plane);
                } else {
                    phases.fill(0.0);
                    add_rows(phases);
                    from_phases(g, phases, plane);
                }
            },
        );
        return;
    }
    x.par_chunks_mut(plane_len).enumerate().for_each(|(plane_index, plane)| {
        let (i, c) = (plane_index / g.c, plane_index % g.c);
        for ky in 0..g.k {
            for kx in 0..g.k {
                let row = &col[((c * g.k + ky) * g.k + kx) * bp + i * p..][..p];
                let ox_range = g.valid_ox(kx);
                if ox_range.is_empty() {
                    // The kernel column misses the image (a kernel wider than image + padding).
                    continue;
                }
                let ix0 = (ox_range.start * g.stride + kx).wrapping_sub(g.pad);
                for oy in 0..g.oh {
                    let Some(iy) = g.input_row(oy, ky) else { continue };
                    let dst = &mut plane[iy * g.w..][..g.w];
                    let src = &row[oy * g.ow..][ox_range.clone()];
                    if g.stride == 1 {
                        // Contiguous on both sides: a vectorised add (the strided loop below is
                        // scalar, and this is most of the step's col2im).
                        let dst = &mut dst[ix0..ix0 + src.len()];
                        dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
                    } else {
                        for (j, s) in src.iter().enumerate() {
                            dst[ix0 + j * g.stride] += s;
                        }
                    }
                }
            }
        }
    });
}

/// The (cols, rows) transpose of a row-major (rows, cols) matrix, in tiles of 16 rows so that each
/// source row is read contiguously.
fn transpose(src: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut dst = vec![0f32; src.len()];
    for r0 in (0..rows).step_by(16) {
        let r1 = (r0 + 16).min(rows);
        for c in 0..cols {
            for r in r0..r1 {
                dst[c * rows + r] = src[r * cols + c];
            }
        }
    }
    dst
}

/// Where image `n`'s channel `o` lies in a block-major (O, B*P)-per-block buffer.
fn block_major_offset(g: &Geometry, n: usize, o: usize) -> usize {
    let (p, n0) = (g.p(), n / g.block * g.block);
    let b = g.block.min(g.n - n0);
    n0 * g.o * p + o * b * p + (n - n0) * p
}

/// (N, O, P) -> block-major, into `out`.
fn to_block_major(g: &Geometry, y: &[f32], out: &mut [f32]) {
    let p = g.p();
    let image_len = g.o * p;
    let per_block = g.block * image_len;
    out.par_chunks_mut(per_block).enumerate().for_each(|(k, block)| {
        let n0 = k * g.block;
        for (i, src) in y[n0 * image_len..][..block.len()].chunks(image_len).enumerate() {
            for o in 0..g.o {
                let at = block_major_offset(g, n0 + i, o) - n0 * image_len;
                block[at..at + p].copy_from_slice(&src[o * p..][..p]);
            }
        }
    });
}

/// Block-major -> (N, O, P).
fn to_batch_major(g: &Geometry, yt: &[f32]) -> Vec<f32> {
    let p = g.p();
    // SAFETY: each chunk is one image, and all of its O planes are written.
    unsafe {
        cpu::build(yt.len(), g.o * p, |start, image| {
            let n = start / (g.o * p);
            for (o, dst) in image.chunks_mut(p).enumerate() {
                let src = &yt[block_major_offset(g, n, o)..][..p];
                dst.iter_mut().zip(src).for_each(|(d, &v)| {
                    d.write(v);
                });
            }
        })
    }
}

/// Whether each thread should take whole blocks (see the module docs).
fn by_block(g: &Geometry) -> bool {
    let threads = rayon::current_num_threads();
    threads > 1 && g.n.div_ceil(g.block) >= 2 * threads
}

struct Conv2d {
    stride: usize,
    /// (before, after) the image, on both axes.
    pad: (usize, usize),
    /// Images per block instead of the default (tests exercise the blocking on small shapes).
    block: Option<usize>,
}

impl CustomOp2 for Conv2d {
    fn name(&self) -> &'static str {
        "conv2d-im2col"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = self.geometry(xl.dims(), wl.dims())?;
        let (x, w) = (cpu::slice(xs, xl, self.name())?, cpu::slice(ws, wl, self.name())?);
        let (p, ckk) = (g.p(), g.ckk());
        // With one image per block, `yt` becomes the output (no permute): a fresh buffer.
        let mut yt = if g.block == 1 { cpu::zeros(g.o * g.n * p) } else { scratch::take(g.o * g.n * p) };
        let block_product = |(n0, b): (usize, usize), dst: &mut [f32], parallel: bool| {
            let mut col = scratch::take(ckk * b * p);
            im2col(&g, x, (n0, b), &mut col);
            matmul(dst, b * p, (g.o, b * p, ckk), Operand::plain(w), Operand::plain(&col), false, parallel);
            scratch::give(col);
        };
        let blocks: Vec<_> = g.blocks().collect();
        if by_block(&g) {
            yt.par_chunks_mut(g.block * g.o * p)
                .zip(blocks.par_iter())
                .for_each(|(dst, &block)| block_product(block, dst, false));
        } else {
            for (n0, b) in blocks {
                block_product((n0, b), &mut yt[n0 * g.o * p..][..b * g.o * p], true);
            }
        }
        let y = if g.block == 1 {
            // One image per block: block-major is already (N, O, P).
            yt
        } else {
            let y = to_batch_major(&g, &yt);
            scratch::give(yt);
            y
        };
        Ok((CpuStorage::F32(y), Shape::from((g.n, g.o, g.oh, g.ow))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let g = self.geometry(x.dims(), w.dims())?;
        // The network input needs no gradient: skip the largest col2im of the step.
        let want_x = x.track_op();
        let (grad_x, grad_w) = cpu::with_data(x, |x| {
            cpu::with_data(w, |w| cpu::with_data(dy, |dy| gradients(&g, (x, w, dy), want_x)))
        })???;
        let grad_x = if want_x { Some(cpu::tensor(grad_x, x.shape())?) } else { None };
        Ok((grad_x, Some(cpu::tensor(grad_w, w.shape())?)))
    }
}

/// The input gradient (empty unless `want_x`) and the weight gradient of a convolution, from its
/// input `x`, weights `w` and output gradient `dy` (N, O, P); see the module docs.
fn gradients(g: &Geometry, (x, w, dy): (&[f32], &[f32], &[f32]), want_x: bool) -> (Vec<f32>, Vec<f32>) {
    let (ckk, p) = (g.ckk(), g.p());
    // Block-major dy; with one image per block that is dy itself.
    let mut dyt = Vec::new();
    let dy_block_major = if g.block == 1 {
        dy
    } else {
        dyt = scratch::take(g.o * g.n * p);
        to_block_major(g, dy, &mut dyt);
        &dyt
    };
    let mut grad_x = if want_x { cpu::zeros(g.n * g.c * g.h * g.w) } else { Vec::new() };
    let image_len = g.c * g.h * g.w;
    let blocks: Vec<_> = g.blocks().collect();
    // Each block's input-gradient slice, when wanted.
    let grad_x_blocks: Vec<Option<&mut [f32]>> = if want_x {
        grad_x.chunks_mut(g.block * image_len).map(Some).collect()
    } else {
        blocks.iter().map(|_| None).collect()
    };
    let dy_blocks: Vec<&[f32]> = dy_block_major.chunks(g.block * g.o * p).collect();
    let col_major = g.weight_grad_col_major();
    // Adds block (n0, b)'s weight gradient to `grad_w_acc` (column-major when `col_major`), and
    // writes its input gradient.
    let block_grads = |grad_w_acc: &mut [f32],
                       (n0, b): (usize, usize),
                       dy: &[f32],
                       gx: Option<&mut [f32]>,
                       threaded: bool| {
        let mut col = scratch::take(ckk * b * p);
        im2col(g, x, (n0, b), &mut col);
        let col_t = Operand::transposed(&col[..ckk * b * p]);
        let dy = Operand::plain(dy);
        if col_major {
            matmul_col_major(grad_w_acc, (g.o, ckk, b * p), dy, col_t, true, threaded);
        } else {
            matmul(grad_w_acc, ckk, (g.o, ckk, b * p), dy, col_t, true, threaded);
        }
        scratch::give(col);
        if let Some(gx) = gx {
            let mut gcol = scratch::take(ckk * b * p);
            matmul(&mut gcol, b * p, (ckk, b * p, g.o), Operand::transposed(w), dy, false, threaded);
            col2im(g, &mut gcol, b, gx);
            scratch::give(gcol);
        }
    };
    let zeros = || vec![0f32; g.o * ckk];
    let grad_w_acc = if by_block(g) {
        let partials: Vec<Vec<f32>> = grad_x_blocks
            .into_par_iter()
            .zip(blocks.par_iter())
            .zip(dy_blocks.par_iter())
            .map(|((gx, &block), dy)| {
                let mut acc = zeros();
                block_grads(&mut acc, block, dy, gx, false);
                acc
            })
            .collect();
        // Summed in block order, so every run gives the same bits (a work-stealing reduce would
        // add in whatever order the threads finished: resumed runs would drift from
        // uninterrupted ones).
        let mut acc = zeros();
        for partial in &partials {
            acc.iter_mut().zip(partial).for_each(|(a, b)| *a += b);
        }
        acc
    } else {
        let mut acc = zeros();
        for ((gx, &block), dy) in grad_x_blocks.into_iter().zip(&blocks).zip(&dy_blocks) {
            block_grads(&mut acc, block, dy, gx, true);
        }
        acc
    };
    if !dyt.is_empty() {
        scratch::give(dyt);
    }
    let grad_w = if col_major { transpose(&grad_w_acc, ckk, g.o) } else { grad_w_acc };
    (grad_x, grad_w)
}

impl Conv2d {
    fn geometry(&self, x: &[usize], w: &[usize]) -> Result<Geometry> {
        let mut g = Geometry::new(x, w, self.stride, self.pad)?;
        if let Some(block) = self.block {
            g.block = block.clamp(1, g.n.max(1));
        }
        Ok(g)
    }
}

/// CPU f32 convolution (see the module docs) with `before` zero rows/columns at the top/left and
/// `after` at the bottom/right.
pub(crate) fn conv2d_padded(x: &Tensor, w: &Tensor, stride: usize, pad: (usize, usize)) -> Result<Tensor> {
    x.contiguous()?.apply_op2(&w.contiguous()?, Conv2d { stride, pad, block: None })
}

/// [`conv2d_padded`] with symmetric padding and a given number of images per im2col block.
#[cfg(test)]
pub(crate) fn conv2d_blocked(
    x: &Tensor,
    w: &Tensor,
    stride: usize,
    padding: usize,
    block: usize,
) -> Result<Tensor> {
    conv2d_padded_blocked(x, w, stride, (padding, padding), block)
}

/// [`conv2d_padded`] with a given number of images per im2col block.
#[cfg(test)]
pub(crate) fn conv2d_padded_blocked(
    x: &Tensor,
    w: &Tensor,
    stride: usize,
    pad: (usize, usize),
    block: usize,
) -> Result<Tensor> {
    x.contiguous()?.apply_op2(&w.contiguous()?, Conv2d { stride, pad, block: Some(block) })
}
