//! The `train` program: SIE (Split Invariant-Equivariant) self-supervised training in candle.
//!
//! Bottom to top: [`config`] (the flags, with [`live_args`] those of `--render`), [`data`]
//! (pairs of views from files, prefetching loader), `live` (pairs rendered as it trains, with
//! the `render` feature), [`source`] (which of the two a run uses),
//! [`step`] (one optimisation step), [`resume`] (continuing from a checkpoint), [`run_log`]
//! (`log.jsonl` and the closing judgement), [`train`] (the run: prepare, epochs, finish).
//!
//! The model, its methods and checkpoints are the `model` crate's; the ops are `kernels`'; the
//! ranks of a data-parallel run are `comm`'s; evaluation is `eval`'s.

pub mod closing;
pub mod config;
pub mod data;
#[cfg(feature = "render")]
pub mod live;
pub mod live_args;
pub mod resume;
pub mod run_log;
pub mod source;
pub mod step;
pub mod train;

pub use eval::exit_code;
