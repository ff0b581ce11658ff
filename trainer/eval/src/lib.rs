//! Evaluation of trained models on frozen features (SPEC section 5): metrics, probes, the feature
//! cache, the evaluation tasks and their reports, the floors a number is judged against, and the
//! `eval` program. Reads models through the `model` crate; knows nothing of the training loop.

pub mod chart;
pub mod checkpoint_model;
pub mod export;
pub mod extract;
pub mod features;
pub mod floors;
pub mod images;
pub mod judgement;
pub mod live_probes;
pub mod metrics;
pub mod pairs;
pub mod probe;
pub mod quick;
#[cfg(feature = "render")]
pub mod render_source;
pub mod report;
pub mod retrieval;
pub mod rng;
pub mod run;
pub mod tasks;

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
