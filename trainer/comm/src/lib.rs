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
//! A run's membership is a value, [`Group`], handed to what needs it (the model's batch norms and
//! loss, the training loop); nothing here is process-wide.
//!
//! This crate depends on candle only: the collectives take tensors.

pub mod collective;
pub mod communicator;
#[cfg(feature = "mpi")]
pub mod mpi;
#[cfg(feature = "nccl")]
pub mod nccl;
pub mod placement;
pub mod shard;
pub mod sync_batch_norm;

use std::sync::Arc;

use candle_core::{backprop::GradStore, Result, Tensor, Var};

pub use communicator::Communicator;
pub use placement::Placement;
pub use shard::Part;

/// The ranks a process trains with: alone, or one of several with their communicator. Cheap to
/// clone (the communicator is shared).
#[derive(Clone, Default)]
pub struct Group {
    comm: Option<Arc<dyn Communicator>>,
}

impl Group {
    /// A process training alone.
    pub fn alone() -> Self {
        Self { comm: None }
    }

    /// One of the ranks `comm` connects.
    pub fn of(comm: Arc<dyn Communicator>) -> Self {
        Self { comm: Some(comm) }
    }

    /// The communicator; `None` when this process trains alone.
    pub fn communicator(&self) -> Option<&Arc<dyn Communicator>> {
        self.comm.as_ref()
    }

    /// Whether this process writes the run's files and messages (rank 0, or alone).
    pub fn is_main(&self) -> bool {
        self.comm.as_ref().is_none_or(|c| c.rank() == 0)
    }

    /// This process's part of each global batch.
    pub fn part(&self) -> Part {
        self.comm.as_ref().map_or(Part::WHOLE, |c| Part { rank: c.rank(), ranks: c.world_size() })
    }

    /// The weight of a per-rank mean over `rows` samples such that averaging the ranks' gradients
    /// gives the gradient of the mean over the global batch: rows * ranks / global rows (1 alone,
    /// and with equal parts).
    pub fn local_mean_weight(&self, rows: usize, device: &candle_core::Device) -> Result<f64> {
        let Some(comm) = &self.comm else { return Ok(1.0) };
        let global: usize = collective::rows_per_rank(comm, rows, device)?.iter().sum();
        Ok((rows * comm.world_size()) as f64 / global as f64)
    }

    /// DDP's gradient averaging over ranks of the gradients of `vars`; nothing alone.
    pub fn average_gradients(&self, grads: &mut GradStore, vars: &[Var]) -> Result<()> {
        let Some(comm) = &self.comm else { return Ok(()) };
        collective::average_gradients(comm, grads, vars)
    }

    /// DDP's start: every rank takes rank 0's values of `vars`; nothing alone.
    pub fn broadcast_from_rank0(&self, vars: &[Var]) -> Result<()> {
        let Some(comm) = &self.comm else { return Ok(()) };
        collective::broadcast_from_rank0(comm, vars)
    }

    /// The rows of `t` of every rank, in rank order, differentiably (`t` itself alone).
    pub fn gather_rows(&self, t: &Tensor) -> Result<Tensor> {
        match &self.comm {
            Some(comm) => collective::gather_rows(comm, t),
            None => Ok(t.clone()),
        }
    }
}

/// The CUDA device of this rank: its rank on this machine, one GPU per rank (as the reference's
/// `torch.cuda.set_device(gpu)`); `default` alone.
pub fn cuda_ordinal(default: usize) -> usize {
    match Placement::from_env() {
        Ok(p) if p.is_distributed() => p.local_rank,
        _ => default,
    }
}

/// This process's membership of a data-parallel job, for the duration of a run: hands out its
/// [`Group`], and ends MPI on drop (when the last clone of the communicator goes).
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
        Ok(Self { comm: Some(comm) })
    }

    /// The group to hand to the model and the training loop.
    pub fn group(&self) -> Group {
        Group { comm: self.comm.clone() }
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
