//! The training loop: resume, epochs of prefetched batches, Adam, logs, checkpoints, export.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use candle_core::Device;
use indicatif::{ProgressBar, ProgressStyle};

use crate::checkpoint::{self, CheckpointMeta, CHECKPOINT_FILE, CONFIG_FILE, TORCHVISION_FILE};
use crate::config::{DeviceKind, TrainArgs};
use crate::data::{self, EpochLoader, LatentKind, PairDataset};
use crate::floors::Floors;
use crate::model::{LossConfig, SslModel};
use crate::ops::adam::{Adam, AdamConfig};
use crate::stats::StatSums;

pub const LOG_FILE: &str = "log.jsonl";

/// Classes of the online classifier when neither the flag nor the dataset's manifest says:
/// ShapeNetCore's 55.
pub const DEFAULT_NUM_CLASSES: usize = 55;

/// What a run did.
#[derive(Clone, Debug)]
pub struct RunSummary {
    pub start_epoch: usize,
    pub epochs_done: usize,
    pub steps: u64,
    /// Mean self-supervised loss of each epoch trained by this call.
    pub epoch_losses: Vec<f64>,
    /// Images (both views) per second over this call's steps, data loading included.
    pub images_per_s: f64,
    pub exp_dir: PathBuf,
}

pub fn device(kind: DeviceKind) -> anyhow::Result<Device> {
    Ok(match kind {
        DeviceKind::Cpu => Device::Cpu,
        DeviceKind::Cuda(i) => {
            // Data-parallel ranks: `cuda` (or `cuda:0`) is each rank's own GPU, its local rank.
            let i = if i == 0 { crate::dist::cuda_ordinal(0) } else { i };
            Device::new_cuda(i)
                .with_context(|| format!("--device cuda:{i} (a build with --features cuda, and that GPU)"))?
        }
    })
}

pub fn loss_config(a: &TrainArgs) -> LossConfig {
    LossConfig {
        sim_coeff: a.sim_coeff,
        std_coeff: a.std_coeff,
        cov_coeff: a.cov_coeff,
        equi_factor: a.equi_factor,
        simclr_temp: a.simclr_temp,
        ec_weight: a.ec_weight,
        rotation_supervision: a.rotation_supervision,
    }
}

/// The optimiser of `train`: Adam (the reference's `torch.optim.Adam`, L2 weight decay) over the
/// trainable parameters, never the batch-norm running statistics.
pub fn optimizer(model: &SslModel, args: &TrainArgs) -> candle_core::Result<Adam> {
    let cfg = AdamConfig { lr: args.base_lr, weight_decay: args.wd, ..AdamConfig::default() };
    Adam::new(model.params.params(), cfg)
}

pub use crate::step::train_step;

/// Appends JSON lines to `<exp-dir>/log.jsonl` (or nowhere: data-parallel ranks other than 0).
struct JsonLog {
    file: Option<std::fs::File>,
}

impl JsonLog {
    /// Opens the log for a run that continues from `step` (0 for a fresh run): records of later
    /// steps (a killed run's work past its last checkpoint), earlier resumes at this very step and
    /// a torn last line are cut first, atomically, so that the log always describes one run.
    fn open_at(path: &Path, step: u64) -> anyhow::Result<Self> {
        if let Ok(text) = std::fs::read_to_string(path) {
            let keep = |line: &&str| {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { return false };
                let s = v["step"].as_u64().unwrap_or(u64::MAX);
                let restart = matches!(v["type"].as_str(), Some("resume" | "config_change"));
                s < step || (s == step && !restart)
            };
            let kept: String = text.lines().filter(keep).flat_map(|l| [l, "\n"]).collect();
            if kept.len() != text.len() {
                dataset::atomic::write_bytes(path, kept.as_bytes())
                    .with_context(|| format!("{}: cannot rewrite log", path.display()))?;
            }
        }
        Self::open(path)
    }

    fn open(path: &Path) -> anyhow::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("{}: cannot open log", path.display()))?;
        Ok(Self { file: Some(file) })
    }

    /// A log that writes nothing.
    fn discard() -> Self {
        Self { file: None }
    }

    fn write(&mut self, v: &serde_json::Value) -> anyhow::Result<()> {
        match &mut self.file {
            Some(file) => writeln!(file, "{v}").context("cannot write log.jsonl"),
            None => Ok(()),
        }
    }
}

/// Trains as the flags say, resuming from `<exp-dir>/checkpoint.safetensors` if present.
pub fn run(args: &TrainArgs) -> anyhow::Result<RunSummary> {
    args.validate()?;
    let device = device(args.device)?;
    crate::ops::set_precision(args.precision);
    std::fs::create_dir_all(&args.exp_dir)
        .with_context(|| format!("{}: cannot create", args.exp_dir.display()))?;
    let num_classes =
        args.num_classes.or_else(|| data::manifest_num_classes(&args.data)).unwrap_or(DEFAULT_NUM_CLASSES);
    let mut model_cfg = args.model_config(num_classes)?;
    let ckpt_path = args.exp_dir.join(CHECKPOINT_FILE);
    let resumed = if ckpt_path.exists() { Some(checkpoint::read(&ckpt_path, &device)?) } else { None };
    if let (Some((meta, _)), None) = (&resumed, args.predictor_type) {
        // Without --predictor-type a run resumes with the predictor it was trained with: runs from
        // before the hypernetwork became every method's default (VICRegEquiMod's was the MLP).
        if meta.model.experience == model_cfg.experience {
            model_cfg.predictor_type = meta.model.predictor_type;
        }
    }
    let lc = loss_config(args);
    let kind =
        LatentKind { colour: args.experience.colour_latent(), translation: model_cfg.translation_latent };
    let ds = Arc::new(PairDataset::open(
        &args.data,
        &args.images_file(),
        &args.labels_file(),
        num_classes,
        kind,
        args.resolution,
    )?);
    if ds.len() < 2 {
        // The loss's variance and covariance terms need at least two samples per batch.
        anyhow::bail!(
            "{}: {} object(s); training needs at least two",
            args.images_file().display(),
            ds.len()
        );
    }

    // Data-parallel ranks: rank 0 alone writes files and messages.
    let (part, main) = (crate::dist::part(), crate::dist::is_main_process());
    if args.batch_size < part.min_batch() {
        bail!("--batch-size {} (the global batch) is below the {} ranks", args.batch_size, part.ranks);
    }
    let model = SslModel::new(&model_cfg, &device, args.seed)?;
    let mut adam = optimizer(&model, args)?;
    let (mut epoch, mut global_step) = (0usize, 0u64);
    let log_path = args.exp_dir.join(LOG_FILE);
    let mut log = None;
    if let Some((meta, tensors)) = resumed {
        if meta.model != model_cfg {
            bail!(
                "{}: holds a checkpoint of a different model ({:?}), not of these flags ({:?}); use another --exp-dir",
                ckpt_path.display(),
                meta.model,
                model_cfg
            );
        }
        let changes = meta.args.as_ref().map(|previous| args.changed_flags(previous)).unwrap_or_default();
        if !changes.is_empty() && !args.allow_config_change {
            bail!(
                "{}: this run's flags differ from the checkpoint's: {}; use another --exp-dir, or --allow-config-change to continue with the new flags",
                ckpt_path.display(),
                changes.join(", ")
            );
        }
        model
            .params
            .load(&tensors, "model.", true)
            .with_context(|| format!("{}: model state", ckpt_path.display()))?;
        checkpoint::restore_adam(&mut adam, &tensors, meta.adam_step)?;
        (epoch, global_step) = (meta.epoch, meta.global_step);
        if main {
            eprintln!("resuming from epoch {epoch} ({})", ckpt_path.display());
        }
        let mut resumed = if main { JsonLog::open_at(&log_path, global_step)? } else { JsonLog::discard() };
        resumed.write(&serde_json::json!({"type": "resume", "epoch": epoch, "step": global_step}))?;
        if !changes.is_empty() && main {
            eprintln!("warning: --allow-config-change: continuing with {}", changes.join(", "));
            resumed.write(
                &serde_json::json!({"type": "config_change", "epoch": epoch, "step": global_step, "changes": changes}),
            )?;
        }
        log = Some(resumed);
    }
    // DDP's start: every rank from rank 0's state.
    crate::dist::synchronise_parameters(&model.params)?;
    let mut log = match log {
        Some(log) => log,
        None if main => JsonLog::open_at(&log_path, 0)?,
        None => JsonLog::discard(),
    };
    if main {
        let config_json =
            serde_json::json!({"args": args, "model": model_cfg, "loss": lc, "objects": ds.len()});
        dataset::atomic::write_bytes(
            &args.exp_dir.join(CONFIG_FILE),
            serde_json::to_string_pretty(&config_json)?.as_bytes(),
        )
        .context("cannot write config.json")?;
    }

    let workers =
        args.num_workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let pool = Arc::new(rayon::ThreadPoolBuilder::new().num_threads(workers.max(1)).build()?);
    let steps_per_epoch = ds.steps_per_epoch_split(args.batch_size, part);
    let start_epoch = epoch;
    let mut summary = RunSummary {
        start_epoch,
        epochs_done: epoch,
        steps: 0,
        epoch_losses: Vec::new(),
        images_per_s: 0.0,
        exp_dir: args.exp_dir.clone(),
    };
    let run_start = Instant::now();
    let mut images_seen = 0usize;
    // The last full epoch's mean statistics and its floors, for the closing judgement.
    let mut last_epoch: Option<(BTreeMap<String, f64>, Floors)> = None;
    'epochs: while epoch < args.epochs {
        let bar = progress_bar(args, steps_per_epoch, epoch);
        let batches = (args.batch_size, part);
        let loader =
            EpochLoader::start(ds.clone(), pool.clone(), args.seed, epoch, batches, 0, args.prefetch);
        let epoch_start = Instant::now();
        // Sum and count of every logged scalar (statistics exist on log steps only): summed on
        // the device, read back on log steps and at the end of the epoch.
        let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
        let mut device_sums = StatSums::default();
        let mut epoch_steps = 0usize;
        let mut epoch_images = 0usize;
        let mut floors = Floors::new(num_classes);
        for host in loader {
            let host = host?;
            floors.add(&host.labels, &host.latent, host.latent_dim);
            let batch = host.to_device(&device)?;
            let log_now = (global_step + 1) % args.log_interval as u64 == 0;
            let stats = train_step(&model, &mut adam, &batch, &lc, log_now)?;
            device_sums.add(&stats)?;
            global_step += 1;
            epoch_steps += 1;
            summary.steps += 1;
            // Throughput of the job: the global batch, whatever this rank's part of it.
            let step_samples = ds.batch_len(epoch_steps - 1, args.batch_size);
            epoch_images += 2 * step_samples;
            images_seen += 2 * step_samples;

            let secs = epoch_start.elapsed().as_secs_f64().max(1e-9);
            let ips = epoch_images as f64 / secs;
            bar.inc(1);
            if log_now {
                // The read-backs of these steps (on a GPU: the one wait for them): this step's
                // values for the log line, and the sums since the last log step.
                let flat = stats.read()?;
                let loss = flat.get("loss").copied().unwrap_or(f64::NAN);
                take_device_sums(&mut device_sums, &mut sums, epoch, global_step)?;
                bar.set_message(format!("loss {loss:.4}  {ips:.1} img/s"));
                let mut line = serde_json::json!({
                    "type": "step", "epoch": epoch, "step": global_step,
                    "lr": args.base_lr, "images_per_s": ips, "steps_per_s": epoch_steps as f64 / secs,
                });
                for (k, v) in &flat {
                    line[k] = serde_json::json!(v);
                }
                log.write(&line)?;
            }
            if args.max_steps.is_some_and(|m| global_step >= m) {
                bar.finish_and_clear();
                take_device_sums(&mut device_sums, &mut sums, epoch, global_step)?;
                break 'epochs;
            }
        }
        bar.finish_and_clear();
        take_device_sums(&mut device_sums, &mut sums, epoch, global_step)?;
        epoch += 1;
        let secs = epoch_start.elapsed().as_secs_f64();
        let mut line = serde_json::json!({
            "type": "epoch", "epoch": epoch - 1, "step": global_step, "steps": epoch_steps,
            "seconds": secs, "images_per_s": epoch_images as f64 / secs.max(1e-9),
        });
        for (k, (sum, count)) in &sums {
            line[k] = serde_json::json!(sum / *count as f64);
        }
        log.write(&line)?;
        summary.epoch_losses.push(sums.get("loss").map_or(f64::NAN, |(s, c)| s / *c as f64));
        last_epoch = Some((sums.iter().map(|(k, (s, c))| (k.clone(), s / *c as f64)).collect(), floors));
        let meta = CheckpointMeta {
            epoch,
            global_step,
            adam_step: adam.step_count(),
            model: model_cfg.clone(),
            loss: lc,
            args: Some(args.clone()),
        };
        if main {
            checkpoint::save(&ckpt_path, &model, Some(&adam), &meta)?;
        }
        summary.epochs_done = epoch;
        if !args.quiet && main {
            eprintln!(
                "epoch {}/{}: loss {:.4}, {:.1} img/s, {:.1} s",
                epoch,
                args.epochs,
                summary.epoch_losses.last().copied().unwrap_or(f64::NAN),
                epoch_images as f64 / secs.max(1e-9),
                secs
            );
        }
    }
    summary.images_per_s = images_seen as f64 / run_start.elapsed().as_secs_f64().max(1e-9);
    if let (Some((means, floors)), false) = (&last_epoch, args.quiet || !main) {
        eprint!("{}", judgement(means, floors));
    }
    if main {
        // Each step runs the backbone's BatchNorms on two batches (one per view).
        checkpoint::export_backbone_torchvision(
            &model,
            &args.exp_dir.join(TORCHVISION_FILE),
            2 * global_step,
        )?;
    }
    Ok(summary)
}

/// Adds the device's sums to the epoch's and stops a diverged run: the mean loss of the steps
/// since the last read-back is not finite. (The check runs when the statistics are read, every
/// `--log-interval` steps, not at every step: a GPU would wait at each.)
fn take_device_sums(
    device_sums: &mut StatSums,
    sums: &mut BTreeMap<String, (f64, usize)>,
    epoch: usize,
    step: u64,
) -> anyhow::Result<()> {
    let read = device_sums.take()?;
    if let Some((loss, count)) = read.get("loss") {
        if !loss.is_finite() {
            bail!("epoch {epoch}, steps up to {step}: the loss is {} (diverged)", loss / *count as f64);
        }
    }
    for (k, (sum, count)) in read {
        let e = sums.entry(k).or_default();
        e.0 += sum;
        e.1 += count;
    }
    Ok(())
}

fn verdict(above: bool) -> &'static str {
    if above {
        "above"
    } else {
        "NOT above (nothing learnt yet that a probe can read)"
    }
}

/// The last epoch's online top-1 and rotation R^2 beside what chance and a constant prediction
/// score on the same pairs (see [`Floors`]).
pub fn judgement(means: &BTreeMap<String, f64>, floors: &Floors) -> String {
    let mut out = String::from("online evaluation, last epoch (mean over its training batches):\n");
    let value = |key: &str| means.get(key).copied().unwrap_or(f64::NAN);
    let top1 = |key: &str, part: &str| {
        format!(
            "  top-1 ({part}) {:5.1}%   chance {:.1}%, always the most frequent class {:.1}%: {}\n",
            100.0 * value(key),
            100.0 * floors.chance_top1(),
            100.0 * floors.majority_top1(),
            verdict(value(key) > floors.chance_top1().max(floors.majority_top1()))
        )
    };
    let r2 = |key: &str, part: &str| {
        format!(
            "  rotation R^2 ({part}) {:6.3}   a constant quaternion {:.3} at best: {}\n",
            value(key),
            floors.constant_r2(),
            verdict(value(key) > floors.constant_r2())
        )
    };
    out += &top1("online.top1_repr", "whole");
    if means.contains_key("online.top1_inv") {
        out += &top1("online.top1_inv", "invariant part");
    }
    out += &r2("online.r2_repr", "whole");
    if means.contains_key("online.r2_equi") {
        out += &r2("online.r2_equi", "equivariant part");
    }
    out
}

fn progress_bar(args: &TrainArgs, steps: usize, epoch: usize) -> ProgressBar {
    if args.quiet || !crate::dist::is_main_process() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(steps as u64);
    let style =
        ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} [{elapsed}<{eta}, {per_sec}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(format!("epoch {}/{}", epoch + 1, args.epochs));
    bar
}

#[cfg(test)]
mod judgement_tests {
    use super::*;

    #[test]
    fn judgement_compares_each_number_with_its_floor() {
        let mut floors = Floors::new(4);
        // Quaternions whose component means differ: a constant already scores R^2 > 0.
        let latent = [1., 0., 0., 0., 0., 1., 0., 0., 1., 0., 0., 0., 0., 0., 0., 1.];
        floors.add(&[0, 0, 1, 3], &latent, 4);
        let floor = floors.constant_r2();
        assert!(floor > 0.1, "{floor}");
        let means = BTreeMap::from([
            ("online.top1_repr".to_string(), 0.6),
            ("online.top1_inv".to_string(), 0.3),
            ("online.r2_repr".to_string(), floor + 0.1),
            ("online.r2_equi".to_string(), floor - 0.01),
        ]);
        let text = judgement(&means, &floors);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(
            lines[1].contains("60.0%") && lines[1].contains("chance 25.0%") && lines[1].ends_with(": above")
        );
        // 30% is above chance (25%) but not above always answering class 0 (50%).
        assert!(lines[2].contains("most frequent class 50.0%") && lines[2].contains("NOT above"), "{text}");
        assert!(lines[3].ends_with(": above"), "{text}");
        assert!(lines[4].contains("NOT above"), "{text}");
    }
}
