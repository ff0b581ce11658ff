//! Collectives on tensors, differentiable where the loss needs them, built on the one
//! [`Communicator`] primitive (a sum over ranks).
//!
//! - [`all_reduce_sum`]: the sum over ranks; its backward is again the sum over ranks (the
//!   adjoint of "every rank gets the sum" is "every rank's input gets the sum of the output
//!   gradients").
//! - [`gather_rows`]: all ranks' rows, in rank order, as the reference's `FullGatherLayer`: each
//!   rank places its rows at its offset in a zero block and the blocks are summed (adding zeros is
//!   exact, so the result equals a concatenation bit for bit). The backward of that composition
//!   is the reference's: the sum over ranks of the output gradient, cut to this rank's rows.
//! - [`average_gradients`]: DDP's gradient averaging, one reduction for all parameters.
//! - [`broadcast_from_rank0`]: DDP's start: every rank takes rank 0's parameters.

use std::sync::Arc;

use candle_core::{
    backend::BackendStorage, backprop::GradStore, CpuStorage, CustomOp1, DType, Layout, Result, Shape,
    Tensor, Var,
};

use super::communicator::Communicator;

/// The sum over ranks as a candle op (so that autograd knows its backward).
struct AllReduceSum(Arc<dyn Communicator>);

impl CustomOp1 for AllReduceSum {
    fn name(&self) -> &'static str {
        "all-reduce-sum"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(data), Some((lo, hi))) = (storage, layout.contiguous_offsets()) else {
            candle_core::bail!("all-reduce-sum: needs a contiguous f32 tensor, got {:?}", storage.dtype())
        };
        let mut buf = data[lo..hi].to_vec();
        self.0.all_reduce_sum_host(&mut buf)?;
        Ok((CpuStorage::F32(buf), layout.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        storage: &candle_core::CudaStorage,
        layout: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        if !layout.is_contiguous() {
            candle_core::bail!("all-reduce-sum: needs a contiguous tensor");
        }
        let out = self.0.all_reduce_sum_cuda(storage, layout.start_offset(), layout.shape().elem_count())?;
        Ok((out, layout.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(all_reduce_sum(&self.0, grad)?))
    }
}

/// The element-wise sum of `x` over all ranks (f32), differentiable.
pub fn all_reduce_sum(comm: &Arc<dyn Communicator>, x: &Tensor) -> Result<Tensor> {
    x.to_dtype(DType::F32)?.contiguous()?.apply_op1(AllReduceSum(comm.clone()))
}

/// The same without a backward (gradients and parameters, outside any graph).
fn all_reduce_sum_detached(comm: &Arc<dyn Communicator>, x: &Tensor) -> Result<Tensor> {
    x.to_dtype(DType::F32)?.contiguous()?.apply_op1_no_bwd(&AllReduceSum(comm.clone()))
}

/// The number of rows of every rank, in rank order.
pub fn rows_per_rank(
    comm: &Arc<dyn Communicator>,
    rows: usize,
    device: &candle_core::Device,
) -> Result<Vec<usize>> {
    let mut counts = vec![0f32; comm.world_size()];
    // f32 holds row counts exactly up to 2^24.
    counts[comm.rank()] = rows as f32;
    let counts = all_reduce_sum_detached(comm, &Tensor::from_vec(counts, comm.world_size(), device)?)?;
    Ok(counts.to_vec1::<f32>()?.into_iter().map(|c| c as usize).collect())
}

/// All ranks' rows of `x` (N_r, ...) concatenated in rank order, differentiable as the reference's
/// `FullGatherLayer` (see the module docs). Ranks may hold different numbers of rows.
pub fn gather_rows(comm: &Arc<dyn Communicator>, x: &Tensor) -> Result<Tensor> {
    let counts = rows_per_rank(comm, x.dim(0)?, x.device())?;
    let before: usize = counts[..comm.rank()].iter().sum();
    let after: usize = counts[comm.rank() + 1..].iter().sum();
    let zeros = |rows: usize| {
        let mut shape = x.dims().to_vec();
        shape[0] = rows;
        Tensor::zeros(shape, x.dtype(), x.device())
    };
    let placed = Tensor::cat(&[&zeros(before)?, x, &zeros(after)?], 0)?;
    all_reduce_sum(comm, &placed)?.to_dtype(x.dtype())
}

/// Flattens `tensors` into one vector, sums it over ranks, and cuts it back: one collective for
/// all of them.
fn all_reduce_many(comm: &Arc<dyn Communicator>, tensors: &[Tensor]) -> Result<Vec<Tensor>> {
    if tensors.is_empty() {
        return Ok(Vec::new());
    }
    let flat: Vec<Tensor> =
        tensors.iter().map(|t| t.to_dtype(DType::F32)?.flatten_all()).collect::<Result<_>>()?;
    let sum = all_reduce_sum_detached(comm, &Tensor::cat(&flat, 0)?)?;
    let mut offset = 0;
    tensors
        .iter()
        .map(|t| {
            let part = sum.narrow(0, offset, t.elem_count())?.reshape(t.shape())?.to_dtype(t.dtype());
            offset += t.elem_count();
            part
        })
        .collect()
}

/// Replaces the gradient of each of `params` by its mean over ranks (DDP). Every rank must hold a
/// gradient for the same parameters (the same graph on every rank guarantees it).
pub fn average_gradients(comm: &Arc<dyn Communicator>, grads: &mut GradStore, params: &[Var]) -> Result<()> {
    let with_grad: Vec<(&Var, Tensor)> =
        params.iter().filter_map(|v| grads.get(v.as_tensor()).map(|g| (v, g.clone()))).collect();
    let sums = all_reduce_many(comm, &with_grad.iter().map(|(_, g)| g.clone()).collect::<Vec<_>>())?;
    let scale = 1.0 / comm.world_size() as f64;
    for ((var, _), sum) in with_grad.into_iter().zip(sums) {
        grads.insert(var.as_tensor(), (sum * scale)?);
    }
    Ok(())
}

/// Sets every variable to rank 0's value (exactly: the other ranks add zeros).
pub fn broadcast_from_rank0(comm: &Arc<dyn Communicator>, vars: &[Var]) -> Result<()> {
    let mine: Vec<Tensor> = vars
        .iter()
        .map(|v| if comm.rank() == 0 { Ok(v.as_tensor().clone()) } else { v.zeros_like() })
        .collect::<Result<_>>()?;
    for (var, value) in vars.iter().zip(all_reduce_many(comm, &mine)?) {
        var.set(&value)?;
    }
    Ok(())
}
