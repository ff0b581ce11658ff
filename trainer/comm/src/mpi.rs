//! MPI ranks (OpenMPI through rsmpi): data-parallel training on CPU processes, as `mpirun -n N
//! train ...` or `srun` start them.

use std::sync::Mutex;

use candle_core::Result;
use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator as _, CommunicatorCollectives as _};
use mpi::Threading;

use super::communicator::Communicator;

/// MPI's state: the universe (finalised on drop) and the world communicator.
struct Mpi {
    world: SimpleCommunicator,
    _universe: mpi::environment::Universe,
}

// SAFETY: MPI is initialised with (at least) MPI_THREAD_SERIALIZED, under which any thread may
// call MPI as long as no two calls overlap; the Mutex in `MpiCommunicator` guarantees that.
unsafe impl Send for Mpi {}

/// The MPI world (`MPI_COMM_WORLD`) as a [`Communicator`].
pub struct MpiCommunicator {
    mpi: Mutex<Mpi>,
    rank: usize,
    world_size: usize,
}

impl MpiCommunicator {
    /// Initialises MPI. Collectives then run on whichever thread trains (rayon's workers), hence
    /// the serialised threading level.
    pub fn init() -> anyhow::Result<Self> {
        let (universe, threading) = mpi::initialize_with_threading(Threading::Serialized)
            .ok_or_else(|| anyhow::anyhow!("MPI is already initialised in this process"))?;
        if threading < Threading::Serialized {
            anyhow::bail!("this MPI library offers threading level {threading:?}; training needs Serialized");
        }
        let world = universe.world();
        let (rank, world_size) = (world.rank() as usize, world.size() as usize);
        Ok(Self { mpi: Mutex::new(Mpi { world, _universe: universe }), rank, world_size })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Mpi> {
        // A panic while holding the lock leaves MPI usable (nothing is half-updated on our side).
        self.mpi.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Communicator for MpiCommunicator {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.world_size
    }

    fn backend(&self) -> &'static str {
        "MPI"
    }

    fn all_reduce_sum_host(&self, buf: &mut [f32]) -> Result<()> {
        if i32::try_from(buf.len()).is_err() {
            candle_core::bail!("MPI all-reduce of {} values: more than an MPI count holds", buf.len());
        }
        let send = buf.to_vec();
        self.lock().world.all_reduce_into(&send[..], buf, SystemOperation::sum());
        Ok(())
    }

    fn abort(&self, code: i32) -> ! {
        self.lock().world.abort(code)
    }
}
