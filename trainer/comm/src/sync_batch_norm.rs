//! Batch norm in training mode with statistics over the global batch: PyTorch's SyncBatchNorm,
//! which the reference applies to its whole model (`nn.SyncBatchNorm.convert_sync_batchnorm`,
//! main.py:172) before wrapping it in DistributedDataParallel.
//!
//! Per channel, the sum of x over all ranks gives the global mean, then the sum of squared
//! deviations from it gives the global (biased) variance: the same two-pass statistics as one
//! process on the whole batch. Both sums go through the differentiable [`all_reduce_sum`], so
//! autograd's backward sums sum(dy) and sum(dy * xhat) over ranks as SyncBatchNorm's backward
//! does; the weight and bias gradients stay per rank until the gradient average.

use std::sync::Arc;

use candle_core::{Result, Tensor};

use super::collective::all_reduce_sum;
use super::communicator::Communicator;

/// (output, global batch mean (C), unbiased global batch variance (C)) of `x` (N, C, ...), as
/// `kernels::Kernels::batch_norm_train` (the statistics carry no gradient); relu(output) with `relu`.
pub fn batch_norm_train(
    comm: &Arc<dyn Communicator>,
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f64,
    relu: bool,
) -> Result<(Tensor, Tensor, Tensor)> {
    let (n, c) = (x.dim(0)?, x.dim(1)?);
    let s = x.elem_count() / (n * c).max(1);
    // Everything in the (N*C, S) layout, where summing over S and repeating over S are products
    // with a ones vector: gemms, forward and backward. Candle's CPU broadcasts instead reduce
    // their gradients over dims (0, 2, 3) with a strided loop that took half of a rank's step.
    let x2 = x.reshape((n * c, s))?;
    let ones_col = Tensor::ones((s, 1), x.dtype(), x.device())?;
    let ones_row = ones_col.t()?;
    let per_channel_sum = |t: &Tensor| t.matmul(&ones_col)?.reshape((n, c))?.sum(0);
    let repeat = |v: &Tensor| -> Result<Tensor> {
        // (C) -> (N*C, S): each channel's value on all its rows and positions.
        v.unsqueeze(0)?.broadcast_as((n, c))?.reshape((n * c, 1))?.matmul(&ones_row)
    };
    // The rows of every rank travel with the first sums (one collective, no wait for the host).
    let rows = Tensor::full(n as f32, 1, x.device())?.to_dtype(x.dtype())?;
    let sums = all_reduce_sum(comm, &Tensor::cat(&[&per_channel_sum(&x2)?, &rows], 0)?)?;
    // Elements per channel over all ranks, (1).
    let m = (sums.narrow(0, c, 1)?.detach() * s as f64)?;
    let mean = sums.narrow(0, 0, c)?.broadcast_div(&m)?;
    let centred = (&x2 - repeat(&mean)?)?;
    let var = all_reduce_sum(comm, &per_channel_sum(&centred.sqr()?)?)?.broadcast_div(&m)?;
    let scale = (var.affine(1.0, eps)?.sqrt()?.recip()? * gamma)?;
    let y = ((centred * repeat(&scale)?)? + repeat(beta)?)?.reshape(x.shape())?;
    // PyTorch's ReLU gradient, 0 at exactly 0 (stock candle's `relu` passes it there).
    let y = if relu { (y.relu()? * y.gt(0.0)?.to_dtype(y.dtype())?)? } else { y };
    // Bessel's correction over the global count; the training loop never steps on fewer than two
    // samples (`PairDataset::steps_per_epoch_split`).
    let unbiased = var.detach().broadcast_mul(&(&m / (&m - 1.0)?)?)?;
    Ok((y, mean.detach(), unbiased))
}
