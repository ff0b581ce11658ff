//! NCCL ranks (cudarc's binding, through candle's `nccl` feature): data-parallel training on
//! CUDA devices, one per rank, started by torchrun, srun or mpirun.
//!
//! NCCL needs one id shared by all ranks before it connects them. Rank 0 makes it and writes it
//! to a rendezvous file; the others wait for that file. The file is named after the launcher's
//! job id (so that a stale file of an earlier job is never read) and lives in the temporary
//! directory, or at `SIE_RENDEZVOUS_FILE` (a shared file system, for several machines).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use candle_core::cuda_backend::cudarc::nccl::{Comm, Id, ReduceOp};
use candle_core::{CudaStorage, Result};

use super::communicator::Communicator;
use super::placement::Placement;

/// How long ranks wait for rank 0's id.
const RENDEZVOUS_TIMEOUT: Duration = Duration::from_secs(300);

/// Variables that name the job uniquely, first set wins.
const JOB_ID_VARS: [&str; 4] = ["SIE_RUN_ID", "TORCHELASTIC_RUN_ID", "SLURM_JOB_ID", "PMIX_NAMESPACE"];

/// The NCCL communicator, made on the first collective (it needs the CUDA stream of the tensors).
struct Connected(Comm);

// SAFETY: an NCCL communicator may be used from any thread as long as calls do not overlap; the
// Mutex in `NcclCommunicator` serialises them.
unsafe impl Send for Connected {}

pub struct NcclCommunicator {
    placement: Placement,
    id: Id,
    comm: Mutex<Option<Connected>>,
}

fn nccl_error(what: &str, e: impl std::fmt::Debug) -> candle_core::Error {
    candle_core::Error::Msg(format!("NCCL {what}: {e:?}"))
}

impl NcclCommunicator {
    /// Agrees on the NCCL id with the other ranks (see the module docs).
    pub fn new(placement: Placement) -> anyhow::Result<Self> {
        let path = rendezvous_file()?;
        let id = if placement.rank == 0 {
            let id = Id::new().map_err(|e| nccl_error("unique id", e))?;
            let text: String = id.internal().iter().map(|&c| format!("{:02x}", c as u8)).collect();
            write_atomically(&path, text.as_bytes())
                .map_err(|e| anyhow::anyhow!("{}: cannot write the NCCL id: {e}", path.display()))?;
            id
        } else {
            Id::uninit(wait_for_id(&path)?)
        };
        Ok(Self { placement, id, comm: Mutex::new(None) })
    }
}

/// Writes `bytes` to a temporary file beside `path`, then renames it: the other ranks never read a
/// partial id. (Here rather than through `dataset::atomic`: this crate depends on candle only.)
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

fn rendezvous_file() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("SIE_RENDEZVOUS_FILE") {
        return Ok(PathBuf::from(path));
    }
    let job = JOB_ID_VARS
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty() && v != "none"))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "NCCL ranks need a job id to meet: set SIE_RUN_ID to the same new value on every rank (none of {JOB_ID_VARS:?} is set)"
            )
        })?;
    let step = std::env::var("SLURM_STEP_ID").unwrap_or_default();
    let safe: String =
        format!("{job}.{step}").chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    Ok(std::env::temp_dir().join(format!("sie-nccl-id-{safe}")))
}

fn wait_for_id(path: &std::path::Path) -> anyhow::Result<[std::ffi::c_char; 128]> {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            let bytes: Vec<u8> = (0..text.len() / 2)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| anyhow::anyhow!("{}: not an NCCL id ({e})", path.display()))?;
            let id: [u8; 128] = bytes.try_into().map_err(|b: Vec<u8>| {
                anyhow::anyhow!("{}: {} bytes, an NCCL id has 128", path.display(), b.len())
            })?;
            return Ok(id.map(|b| b as std::ffi::c_char));
        }
        if start.elapsed() > RENDEZVOUS_TIMEOUT {
            anyhow::bail!("{}: rank 0 wrote no NCCL id within {RENDEZVOUS_TIMEOUT:?}", path.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Communicator for NcclCommunicator {
    fn rank(&self) -> usize {
        self.placement.rank
    }

    fn world_size(&self) -> usize {
        self.placement.world_size
    }

    fn backend(&self) -> &'static str {
        "NCCL"
    }

    fn all_reduce_sum_host(&self, _buf: &mut [f32]) -> Result<()> {
        candle_core::bail!("NCCL ranks reduce CUDA tensors only, and a CPU tensor reached it")
    }

    fn all_reduce_sum_cuda(&self, storage: &CudaStorage, offset: usize, len: usize) -> Result<CudaStorage> {
        let device = storage.device.clone();
        let mut comm = self.comm.lock().unwrap_or_else(|p| p.into_inner());
        if comm.is_none() {
            let (rank, size) = (self.placement.rank, self.placement.world_size);
            let c = Comm::from_rank(device.cuda_stream(), rank, size, self.id)
                .map_err(|e| nccl_error("init", e))?;
            *comm = Some(Connected(c));
        }
        let Some(Connected(comm)) = comm.as_ref() else { unreachable!("connected above") };
        let src = storage.as_cuda_slice::<f32>()?.slice(offset..offset + len);
        // SAFETY: NCCL writes all `len` values before anything reads them.
        let mut dst = unsafe { device.alloc::<f32>(len)? };
        comm.all_reduce(&src, &mut dst, &ReduceOp::Sum).map_err(|e| nccl_error("all-reduce", e))?;
        Ok(CudaStorage::wrap_cuda_slice(dst, device))
    }
}
