//! A max-pool's geometry and windows (-inf padding), shared by its forward ([`super::pool`]) and
//! its gradient routing ([`super::pool_route`]).

use candle_core::{bail, Result};

#[derive(Clone, Copy)]
pub(super) struct MaxPool2d {
    pub(super) kernel: usize,
    pub(super) stride: usize,
    /// -inf rows/columns before the image (top/left) ...
    pub(super) pad: usize,
    /// ... and after it (bottom/right).
    pub(super) pad_end: usize,
}

/// Input and output sizes of one pooling.
pub(super) struct Geometry {
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) oh: usize,
    pub(super) ow: usize,
}

impl MaxPool2d {
    pub(super) fn geometry(&self, dims: &[usize]) -> Result<Geometry> {
        let &[_, _, h, w] = dims else { bail!("max_pool2d: expected (N, C, H, W), got {dims:?}") };
        let (k, pads) = (self.kernel, self.pad + self.pad_end);
        if k == 0 || self.stride == 0 || 2 * self.pad.max(self.pad_end) > k {
            bail!(
                "max_pool2d: bad kernel {k} stride {} padding ({}, {})",
                self.stride,
                self.pad,
                self.pad_end
            )
        }
        if h + pads < k || w + pads < k {
            bail!("max_pool2d: kernel {k} larger than the padded input {dims:?}")
        }
        let oh = (h + pads - k) / self.stride + 1;
        let ow = (w + pads - k) / self.stride + 1;
        Ok(Geometry { h, w, oh, ow })
    }

    /// The rows and columns of `plane` that output (oy, ox)'s window covers (never empty: the
    /// padding is at most half the kernel).
    fn window(&self, g: &Geometry, oy: usize, ox: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let clip = |o: usize, len: usize| {
            let start = o * self.stride;
            start.saturating_sub(self.pad)..(start + self.kernel - self.pad).min(len)
        };
        (clip(oy, g.h), clip(ox, g.w))
    }

    /// Index in `plane` of the first maximum of output (oy, ox)'s window.
    pub(super) fn argmax(&self, g: &Geometry, plane: &[f32], oy: usize, ox: usize) -> usize {
        let (rows, cols) = self.window(g, oy, ox);
        let mut best = rows.start * g.w + cols.start;
        let mut best_value = plane[best];
        for iy in rows {
            let row = &plane[iy * g.w..][..g.w];
            for ix in cols.clone() {
                if row[ix] > best_value {
                    (best, best_value) = (iy * g.w + ix, row[ix]);
                }
            }
        }
        best
    }

    /// The maximum of output (oy, ox)'s window.
    pub(super) fn max(&self, g: &Geometry, plane: &[f32], oy: usize, ox: usize) -> f32 {
        let (rows, cols) = self.window(g, oy, ox);
        rows.map(|iy| plane[iy * g.w..][cols.clone()].iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)))
            .fold(f32::NEG_INFINITY, f32::max)
    }
}
