//! The `train` program: SIE (Split Invariant-Equivariant) self-supervised training in candle.
//!
//! Bottom to top: [`config`] (the flags), [`data`] (pairs of views, prefetching loader),
//! [`step`] (one optimisation step), [`resume`] (continuing from a checkpoint), [`run_log`]
//! (`log.jsonl` and the closing judgement), [`train`] (the run: prepare, epochs, finish).
//!
//! The model, its methods and checkpoints are the `model` crate's; the ops are `kernels`'; the
//! ranks of a data-parallel run are `comm`'s; evaluation is `eval`'s.

pub mod config;
pub mod data;
pub mod resume;
pub mod run_log;
pub mod step;
pub mod train;

pub use eval::exit_code;
