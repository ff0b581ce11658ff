//! Where this process sits in a data-parallel job: its rank, the number of ranks and its rank on
//! this machine, read from the variables that the usual launchers set.

/// This process's place in the job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    pub rank: usize,
    pub world_size: usize,
    /// Rank among the processes on this machine: the CUDA device a rank uses.
    pub local_rank: usize,
    /// The launcher whose variables said so.
    pub launcher: &'static str,
}

/// (launcher, rank, world size, local rank) variables, first match wins: torchrun's (also what
/// users set by hand), then OpenMPI's mpirun (it may run inside a SLURM allocation, whose
/// variables then describe the allocation, not these processes), then SLURM's srun.
const LAUNCHERS: [(&str, &str, &str, &str); 4] = [
    ("torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK"),
    ("mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
    ("srun", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),
    ("srun", "SLURM_PROCID", "SLURM_NPROCS", "SLURM_LOCALID"),
];

impl Placement {
    /// One process alone.
    pub const SINGLE: Placement = Placement { rank: 0, world_size: 1, local_rank: 0, launcher: "none" };

    /// From the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// From `var` (a lookup of environment variables); [`Placement::SINGLE`] when no launcher's
    /// rank and world size are both set.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let number = |name: &str, text: String| -> anyhow::Result<usize> {
            text.trim().parse().map_err(|_| anyhow::anyhow!("{name}={text:?} is not a non-negative integer"))
        };
        for (launcher, rank_var, size_var, local_var) in LAUNCHERS {
            let (Some(rank), Some(size)) = (var(rank_var), var(size_var)) else { continue };
            let (rank, world_size) = (number(rank_var, rank)?, number(size_var, size)?);
            if rank >= world_size {
                anyhow::bail!("{rank_var}={rank} is not below {size_var}={world_size}");
            }
            // Without a local rank, one machine is assumed (rank = local rank).
            let local_rank = var(local_var).map(|v| number(local_var, v)).transpose()?.unwrap_or(rank);
            return Ok(Self { rank, world_size, local_rank, launcher });
        }
        Ok(Self::SINGLE)
    }

    pub fn is_distributed(&self) -> bool {
        self.world_size > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn place(vars: &[(&str, &str)]) -> anyhow::Result<Placement> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Placement::from_vars(|k| map.get(k).cloned())
    }

    #[test]
    fn each_launcher_is_read_and_torchrun_wins() {
        assert_eq!(place(&[]).unwrap(), Placement::SINGLE);
        let p = place(&[("RANK", "3"), ("WORLD_SIZE", "4"), ("LOCAL_RANK", "1")]).unwrap();
        assert_eq!((p.rank, p.world_size, p.local_rank, p.launcher), (3, 4, 1, "torchrun"));
        let p = place(&[("OMPI_COMM_WORLD_RANK", "1"), ("OMPI_COMM_WORLD_SIZE", "2")]).unwrap();
        assert_eq!((p.rank, p.world_size, p.local_rank, p.launcher), (1, 2, 1, "mpirun"));
        // mpirun inside a SLURM allocation: OpenMPI's variables describe these processes.
        let p = place(&[
            ("SLURM_PROCID", "0"),
            ("SLURM_NTASKS", "1"),
            ("OMPI_COMM_WORLD_RANK", "1"),
            ("OMPI_COMM_WORLD_SIZE", "2"),
        ])
        .unwrap();
        assert_eq!((p.rank, p.world_size), (1, 2));
        let p = place(&[("SLURM_PROCID", "5"), ("SLURM_NPROCS", "8"), ("SLURM_LOCALID", "1")]).unwrap();
        assert_eq!((p.rank, p.world_size, p.local_rank, p.launcher), (5, 8, 1, "srun"));
        let p = place(&[("RANK", "0"), ("WORLD_SIZE", "2"), ("SLURM_PROCID", "1"), ("SLURM_NTASKS", "2")])
            .unwrap();
        assert_eq!((p.rank, p.launcher), (0, "torchrun"));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = place(&[("RANK", "2"), ("WORLD_SIZE", "2")]).unwrap_err().to_string();
        assert!(e.contains("RANK=2") && e.contains("WORLD_SIZE=2"), "{e}");
        let e = place(&[("RANK", "x"), ("WORLD_SIZE", "2")]).unwrap_err().to_string();
        assert!(e.contains("RANK=\"x\""), "{e}");
        let e = place(&[("RANK", "0"), ("WORLD_SIZE", "2"), ("LOCAL_RANK", "-1")]).unwrap_err().to_string();
        assert!(e.contains("LOCAL_RANK"), "{e}");
    }
}
