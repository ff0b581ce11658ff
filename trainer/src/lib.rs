//! SIE (Split Invariant-Equivariant) self-supervised training in candle.
//!
//! Layout: [`config`] (flags), [`data`] (pairs of views, prefetching loader), [`params`]
//! (named, seeded parameters), [`nn`], [`backbone`], [`predictor`], [`evaluator`] and [`model`]
//! (the networks), [`loss`], [`methods`] (one module per method: its heads and loss),
//! [`checkpoint`] (safetensors, resume, torchvision export), [`train`] (the loop and its logs),
//! [`stats`] (a step's statistics, kept on the device), [`synthetic`] (a seeded random batch for
//! benchmarks and tests), [`dist`] (data-parallel ranks: MPI, NCCL).
//! [`ops`] holds the differentiable kernels.

pub mod backbone;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod dist;
pub mod eval;
pub mod evaluator;
pub mod floors;
pub mod loss;
pub mod methods;
pub mod model;
pub mod nn;
pub mod ops;
pub mod params;
pub mod predictor;
pub mod stats;
pub mod step;
pub mod synthetic;
pub mod train;

/// The exit status of a command: an error prints its chain on one line (`error: a: b: c`),
/// never a stack backtrace, whatever `RUST_BACKTRACE` says (backtraces are for panics).
pub fn exit_code(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
