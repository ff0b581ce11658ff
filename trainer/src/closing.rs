//! How a run ends for a person: the held-out judgement of the trained model
//! ([`eval::quick`]: quick probes on the val objects' frozen features, each number with its
//! interval against its floor), written to `log.jsonl` too, then where the outputs are and which
//! commands come next.

use std::path::{Path, PathBuf};

use model::SslModel;

use crate::config::TrainArgs;
use crate::run_log::JsonLog;

/// The dataset folder of a run, if it reads one (a live-rendered run has none). A trait so that
/// this module reads `--data` whether the flag is required or optional.
pub trait DataDir {
    fn data_dir(&self) -> Option<&Path>;
}

impl DataDir for PathBuf {
    fn data_dir(&self) -> Option<&Path> {
        Some(self)
    }
}

impl DataDir for Option<PathBuf> {
    fn data_dir(&self) -> Option<&Path> {
        self.as_deref()
    }
}

/// Judges the trained model on the dataset's val split, prints the lines (unless `--quiet`) and
/// logs them. A judgement that cannot be made (no val split, a live-rendered run) is a warning,
/// never a failed run: the checkpoint is already written.
pub fn held_out_judgement(
    model: &SslModel,
    device: &candle_core::Device,
    args: &TrainArgs,
    step: u64,
    log: &mut JsonLog,
) {
    let Some(data) = args.data.data_dir() else { return };
    let config = eval::quick::QuickConfig::new(args.resolution, args.seed);
    let bar = if args.quiet { indicatif::ProgressBar::hidden() } else { eval::quick::extraction_bar() };
    let progress = |split: &str, done: usize, total: usize| {
        bar.set_prefix(format!("judgement: {split} features"));
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let result = eval::quick::judge(
        &eval::quick::Frozen(model),
        model.config.equi,
        data,
        model.config.num_classes,
        &config,
        device,
        &progress,
    );
    bar.finish_and_clear();
    match result {
        Ok(j) => {
            if !args.quiet {
                eprint!("{}", j.text());
            }
            if let Err(e) = log.write(&j.json(Some(step))) {
                eprintln!("warning: {e:#}");
            }
        }
        Err(e) => eprintln!("warning: no held-out judgement: {e:#}"),
    }
}

/// The last lines, after `train`'s `done: ... outputs in DIR`: the commands that come next.
pub fn next_steps(args: &TrainArgs) -> String {
    let dir = args.exp_dir.display();
    let data = args.data.data_dir().unwrap_or(Path::new("DATA")).display();
    format!(
        "next:\n  \
         evaluate (the paper's protocols): eval --checkpoint {dir} --data {data} all --out {dir}/eval.json\n  \
         judge again, any checkpoint:      eval --checkpoint {dir} --data {data} quick\n  \
         export for the reference's scripts: eval --checkpoint {dir} --data {data} export --out {dir}/export\n  \
         render a variant of the data:     render --like {data} --config manifests/3diebench-ood.toml --out {data}-ood\n"
    )
}

/// "about 3m 20s left" for `total - done` units at `per_s` units a second.
pub fn time_left(total: u64, done: u64, per_s: f64) -> String {
    let secs = total.saturating_sub(done) as f64 / per_s.max(1e-9);
    if !secs.is_finite() || secs > 1e7 {
        return "time left unknown".to_string();
    }
    let secs = secs.round() as u64;
    match secs {
        0 => "done".to_string(),
        s if s < 60 => format!("about {s}s left"),
        s => format!("about {}m {:02}s left", s / 60, s % 60),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn time_left_reads_as_a_person_says_it() {
        assert_eq!(super::time_left(40, 10, 0.5), "about 1m 00s left");
        assert_eq!(super::time_left(40, 38, 0.5), "about 4s left");
        assert_eq!(super::time_left(40, 40, 0.5), "done");
    }
}
