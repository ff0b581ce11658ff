//! Data-parallel training across processes, as the reference runs it (PyTorch
//! DistributedDataParallel with SyncBatchNorm and FullGatherLayer, main.py:157-173 and
//! src/models.py:1688-1704):
//!
//! - every rank holds the whole model, starts from rank 0's weights, and trains on its part of
//!   each global batch ([`shard`]);
//! - batch norm uses statistics over the global batch ([`sync_batch_norm`]);
//! - the loss sees every rank's embeddings ([`loss_inputs`], differentiable [`collective::gather_rows`]);
//! - gradients are averaged over ranks before Adam ([`collective::average_gradients`]);
//! - rank 0 alone writes the log, the checkpoints and the exports ([`is_main_process`]).
//!
//! Backends ([`communicator::Communicator`]): MPI for CPU ranks (feature `mpi`), NCCL for CUDA
//! ranks (feature `nccl`). The ranks come from the launcher's environment ([`placement`]).
//!
//! The communicator of a run is process-wide ([`World`] installs it): batch norm, deep in the
//! model, needs it on every call, as the MPI world itself is process-wide.

pub mod collective;
pub mod communicator;
pub mod loss_inputs;
#[cfg(feature = "mpi")]
pub mod mpi;
#[cfg(feature = "nccl")]
pub mod nccl;
pub mod placement;
pub mod shard;
pub mod sync_batch_norm;
#[cfg(test)]
mod tests;

use std::sync::{Arc, RwLock};

use candle_core::{backprop::GradStore, Result};

pub use communicator::Communicator;
pub use placement::Placement;
pub use shard::Part;

use crate::params::ParamStore;

/// The communicator of this process's run, if it is one of several ranks.
static CURRENT: RwLock<Option<Arc<dyn Communicator>>> = RwLock::new(None);

/// The running job's communicator; `None` when this process trains alone.
pub fn current() -> Option<Arc<dyn Communicator>> {
    CURRENT.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Whether this process writes the run's files and messages (rank 0, or alone).
pub fn is_main_process() -> bool {
    current().is_none_or(|c| c.rank() == 0)
}

/// This process's part of each global batch.
pub fn part() -> Part {
    current().map_or(Part::WHOLE, |c| Part { rank: c.rank(), ranks: c.world_size() })
}

/// The weight of a per-rank mean over `rows` samples such that averaging the ranks' gradients
/// gives the gradient of the mean over the global batch: rows * ranks / global rows (1 alone,
/// and with equal parts).
pub fn local_mean_weight(rows: usize, device: &candle_core::Device) -> Result<f64> {
    let Some(comm) = current() else { return Ok(1.0) };
    let global: usize = collective::rows_per_rank(&comm, rows, device)?.iter().sum();
    Ok((rows * comm.world_size()) as f64 / global as f64)
}

/// DDP's gradient averaging over ranks; nothing alone.
pub fn average_gradients(grads: &mut GradStore, params: &ParamStore) -> Result<()> {
    let Some(comm) = current() else { return Ok(()) };
    let vars: Vec<_> = params.params().into_iter().map(|(_, v)| v).collect();
    collective::average_gradients(&comm, grads, &vars)
}

/// DDP's start: every rank takes rank 0's parameters and buffers; nothing alone.
pub fn synchronise_parameters(params: &ParamStore) -> Result<()> {
    let Some(comm) = current() else { return Ok(()) };
    let vars: Vec<_> = params.params().into_iter().chain(params.buffers()).map(|(_, v)| v).collect();
    collective::broadcast_from_rank0(&comm, &vars)
}

/// The CUDA device of this rank: its rank on this machine, one GPU per rank (as the reference's
/// `torch.cuda.set_device(gpu)`); `default` alone.
pub fn cuda_ordinal(default: usize) -> usize {
    match Placement::from_env() {
        Ok(p) if p.is_distributed() => p.local_rank,
        _ => default,
    }
}

/// This process's membership of a data-parallel job, for the duration of a run: installs the
/// communicator for [`current`] and removes it (ending MPI) on drop.
pub struct World {
    comm: Option<Arc<dyn Communicator>>,
}

impl World {
    /// Joins the job the environment describes ([`Placement`]); alone when it describes none.
    /// `cuda`: the ranks train on CUDA devices (NCCL) rather than CPUs (MPI).
    pub fn from_env(cuda: bool) -> anyhow::Result<Self> {
        let placement = Placement::from_env()?;
        if !placement.is_distributed() {
            return Ok(Self { comm: None });
        }
        let comm = connect(placement, cuda)?;
        if (comm.rank(), comm.world_size()) != (placement.rank, placement.world_size) {
            anyhow::bail!(
                "{} says rank {} of {}, but {}'s variables say rank {} of {}: start every rank through the launcher (e.g. srun inside an sbatch script)",
                comm.backend(),
                comm.rank(),
                comm.world_size(),
                placement.launcher,
                placement.rank,
                placement.world_size
            );
        }
        *CURRENT.write().unwrap_or_else(|p| p.into_inner()) = Some(comm.clone());
        Ok(Self { comm: Some(comm) })
    }

    /// The run's result; after an error on one rank, the whole job ends (the others would wait
    /// in their next collective for ever) once the error is printed.
    pub fn finish<T>(self, result: anyhow::Result<T>) -> anyhow::Result<T> {
        if let (Err(e), Some(comm)) = (&result, &self.comm) {
            eprintln!("error: rank {} of {}: {e:#}", comm.rank(), comm.world_size());
            comm.abort(1);
        }
        result
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if self.comm.take().is_some() {
            *CURRENT.write().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }
}

#[cfg(feature = "mpi")]
fn connect_mpi() -> anyhow::Result<Arc<dyn Communicator>> {
    Ok(Arc::new(mpi::MpiCommunicator::init()?))
}

#[cfg(not(feature = "mpi"))]
fn connect_mpi() -> anyhow::Result<Arc<dyn Communicator>> {
    anyhow::bail!("several CPU ranks need MPI: this build lacks the `mpi` feature (cargo's default)")
}

#[cfg(feature = "nccl")]
fn connect_nccl(placement: Placement) -> anyhow::Result<Arc<dyn Communicator>> {
    Ok(Arc::new(nccl::NcclCommunicator::new(placement)?))
}

#[cfg(not(feature = "nccl"))]
fn connect_nccl(_: Placement) -> anyhow::Result<Arc<dyn Communicator>> {
    anyhow::bail!("several CUDA ranks need NCCL: build with --features nccl")
}

fn connect(placement: Placement, cuda: bool) -> anyhow::Result<Arc<dyn Communicator>> {
    if cuda {
        connect_nccl(placement)
    } else {
        connect_mpi()
    }
}
