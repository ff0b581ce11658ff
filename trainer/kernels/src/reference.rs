//! Stock-candle implementations of the ops: the semantics the fast CPU kernels must match, and
//! the path every non-CPU device (CUDA) takes. Differentiable through candle's own autograd.

use candle_core::{Result, Tensor, D};

/// 2-d convolution without bias: `x` (N, C, H, W), `w` (O, C, K, K).
pub fn conv2d(x: &Tensor, w: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
    x.conv2d(w, padding, stride, 1, 1)
}

/// Max-pool with `padding` (pads with -inf, like PyTorch). Its backward supports kernel != stride.
pub fn max_pool2d(x: &Tensor, kernel: usize, stride: usize, padding: usize) -> Result<Tensor> {
    let x = pad_hw(x, (padding, padding), f32::NEG_INFINITY)?;
    let (_, _, h, w) = x.dims4()?;
    let oh = (h - kernel) / stride + 1;
    let ow = (w - kernel) / stride + 1;
    let mut out: Option<Tensor> = None;
    for dy in 0..kernel {
        for dx in 0..kernel {
            let s = strided_window(&x, dy, dx, oh, ow, stride)?;
            out = Some(match out {
                None => s,
                Some(o) => o.maximum(&s)?,
            });
        }
    }
    Ok(out.expect("kernel >= 1"))
}

/// `x` (N, C, H, W) with `before` rows/columns of `value` at the top/left and `after` at the
/// bottom/right.
pub fn pad_hw(x: &Tensor, (before, after): (usize, usize), value: f32) -> Result<Tensor> {
    if before == 0 && after == 0 {
        return Ok(x.clone());
    }
    let (n, c, h, w) = x.dims4()?;
    let fill =
        |shape: (usize, usize, usize, usize)| Tensor::full(value, shape, x.device())?.to_dtype(x.dtype());
    let x = Tensor::cat(&[&fill((n, c, before, w))?, x, &fill((n, c, after, w))?], 2)?;
    let padded_h = h + before + after;
    Tensor::cat(&[&fill((n, c, padded_h, before))?, &x, &fill((n, c, padded_h, after))?], 3)
}

/// Elements x[:, :, dy + stride*i, dx + stride*j] for i < oh, j < ow.
fn strided_window(x: &Tensor, dy: usize, dx: usize, oh: usize, ow: usize, stride: usize) -> Result<Tensor> {
    let (n, c, _, _) = x.dims4()?;
    let rows = x.narrow(2, dy, stride * (oh - 1) + 1)?;
    let cols = rows.narrow(3, dx, stride * (ow - 1) + 1)?;
    if stride == 1 {
        return Ok(cols);
    }
    // Pad to a multiple of stride, reshape and take the first element of each group.
    let cols = cols.pad_with_zeros(2, 0, stride - 1)?.pad_with_zeros(3, 0, stride - 1)?;
    cols.reshape((n, c, oh, stride, ow, stride))?.narrow(3, 0, 1)?.narrow(5, 0, 1)?.reshape((n, c, oh, ow))
}

/// Batch norm in training mode over (N, C, ...) with per-channel `gamma`, `beta`.
/// Returns (output, batch mean (C), unbiased batch variance (C)) for the running statistics.
pub fn batch_norm_train(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f64,
) -> Result<(Tensor, Tensor, Tensor)> {
    let dims = x.dims().to_vec();
    let c = dims[1];
    let n_per_channel = x.elem_count() / c;
    // (C, rest) layout makes the reduction a plain row reduction.
    let xt = x.transpose(0, 1)?.contiguous()?.reshape((c, n_per_channel))?;
    let mean = xt.mean(D::Minus1)?;
    let centred = xt.broadcast_sub(&mean.unsqueeze(1)?)?;
    let var = centred.sqr()?.mean(D::Minus1)?;
    let inv_std = (var.clone() + eps)?.sqrt()?.recip()?;
    let y = centred.broadcast_mul(&(inv_std * gamma)?.unsqueeze(1)?)?.broadcast_add(&beta.unsqueeze(1)?)?;
    let mut tdims = dims.clone();
    tdims.swap(0, 1);
    let y = y.reshape(tdims)?.transpose(0, 1)?.contiguous()?;
    let unbiased = (var * (n_per_channel as f64 / (n_per_channel.max(2) - 1) as f64))?;
    Ok((y, mean, unbiased))
}

/// max(x, 0) from stock candle ops with PyTorch's gradient: 0 at exactly 0 (stock candle's
/// `relu` backward masks with `x >= 0`, so its gradient there is 1). Exact zeros are common at
/// initialisation (a residual branch whose last batch-norm scale starts at 0 outputs 0), so the
/// two conventions give different first steps.
pub fn relu(x: &Tensor) -> Result<Tensor> {
    x.relu()? * x.gt(0.0)?.to_dtype(x.dtype())?
}
