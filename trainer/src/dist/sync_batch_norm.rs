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

use super::collective::{all_reduce_sum, rows_per_rank};
use super::communicator::Communicator;

/// (output, global batch mean (C), unbiased global batch variance (C)) of `x` (N, C, ...), as
/// `crate::ops::batch_norm_train` (the statistics carry no gradient); relu(output) with `relu`.
pub fn batch_norm_train(
    comm: &Arc<dyn Communicator>,
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f64,
    relu: bool,
) -> Result<(Tensor, Tensor, Tensor)> {
    let c = x.dim(1)?;
    let per_image = x.elem_count() / (x.dim(0)? * c).max(1);
    // Elements per channel over all ranks.
    let m = rows_per_rank(comm, x.dim(0)?, x.device())?.iter().sum::<usize>() * per_image;
    if m < 2 {
        candle_core::bail!("batch norm over {m} value(s) per channel on all ranks: needs at least two");
    }
    let mut channel_shape = vec![1usize; x.rank()];
    channel_shape[1] = c;
    let per_channel_sum = |t: &Tensor| -> Result<Tensor> {
        // (N, C, S) summed over N and S.
        t.reshape((t.dim(0)?, c, ()))?.sum(2)?.sum(0)
    };
    let mean = (all_reduce_sum(comm, &per_channel_sum(x)?)? / m as f64)?;
    let centred = x.broadcast_sub(&mean.reshape(channel_shape.as_slice())?)?;
    let var = (all_reduce_sum(comm, &per_channel_sum(&centred.sqr()?)?)? / m as f64)?;
    let scale = (var.affine(1.0, eps)?.sqrt()?.recip()? * gamma)?;
    let y = centred
        .broadcast_mul(&scale.reshape(channel_shape.as_slice())?)?
        .broadcast_add(&beta.reshape(channel_shape.as_slice())?)?;
    let y = if relu { y.relu()? } else { y };
    let unbiased = (var.detach() * (m as f64 / (m - 1) as f64))?;
    Ok((y, mean.detach(), unbiased))
}
