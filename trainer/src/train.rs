//! The training loop: [`run`] prepares a run (resume, logs), trains its epochs of prefetched
//! batches, then judges and exports what it learnt.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use candle_core::Device;
use comm::{Group, Part};
use eval::floors::Floors;
use indicatif::{ProgressBar, ProgressStyle};
use model::checkpoint::{self, CheckpointMeta, CHECKPOINT_FILE, CONFIG_FILE, TORCHVISION_FILE};
use model::config::{open_device, ModelConfig};
use model::loss::LossConfig;
use model::model::StepStats;
use model::optim::{Adam, AdamConfig};
use model::stats::StatSums;
use model::SslModel;

use crate::config::TrainArgs;
use crate::data::{EpochLoader, PairSource};
use crate::resume;
use crate::run_log::{judgement, JsonLog, LOG_FILE};
use crate::source;
pub use crate::source::DEFAULT_NUM_CLASSES;
use crate::step::Stepper;
use dataset::lock::FolderLock;

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

/// The optimiser of `train`: Adam (the reference's `torch.optim.Adam`, L2 weight decay) over the
/// trainable parameters, never the batch-norm running statistics, as the model's kernels run it.
pub fn optimizer(model: &SslModel, args: &TrainArgs) -> candle_core::Result<Adam> {
    let cfg = AdamConfig { lr: args.base_lr, weight_decay: args.wd, ..AdamConfig::default() };
    Adam::for_kernels(model.params.params(), cfg, &model.kernels)
}

/// Trains as the flags say, as one of `group`'s ranks, resuming from
/// `<exp-dir>/checkpoint.safetensors` if present.
pub fn run(args: &TrainArgs, group: &Group) -> anyhow::Result<RunSummary> {
    let mut run = Run::prepare(args, group)?;
    let summary = run.train_epochs()?;
    run.finish(summary)
}

/// A run being trained: its model, optimiser, data and logs.
struct Run<'a> {
    args: &'a TrainArgs,
    device: Device,
    model: SslModel,
    adam: Adam,
    lc: LossConfig,
    ds: Arc<dyn PairSource>,
    part: Part,
    /// Rank 0 (or alone): writes the files and messages.
    main: bool,
    log: JsonLog,
    epoch: usize,
    global_step: u64,
    /// The last full epoch's mean statistics and its floors, for the closing judgement.
    last_epoch: Option<(BTreeMap<String, f64>, Floors)>,
    /// Rank 0's exclusive use of `--exp-dir` for the run (released on drop).
    _lock: Option<FolderLock>,
}

impl<'a> Run<'a> {
    /// Everything before the first step: the model, the data, the resumed state and the logs.
    fn prepare(args: &'a TrainArgs, group: &Group) -> anyhow::Result<Self> {
        args.validate()?;
        let device = open_device(args.device)?;
        std::fs::create_dir_all(&args.exp_dir)
            .with_context(|| format!("{}: cannot create", args.exp_dir.display()))?;
        // Before anything is read or written there: a second run on the folder stops here.
        let lock = group.is_main().then(|| FolderLock::acquire(&args.exp_dir, "--exp-dir")).transpose()?;
        let (ds, num_classes) = source::open(args)?;
        let mut model_cfg = args.model_config(num_classes)?;
        let ckpt_path = args.exp_dir.join(CHECKPOINT_FILE);
        let saved = if ckpt_path.exists() { Some(checkpoint::read(&ckpt_path, &device)?) } else { None };
        if let Some((meta, _)) = &saved {
            resume::keep_predictor_type(&mut model_cfg, meta, args);
        }
        let (part, main) = (group.part(), group.is_main());
        if args.batch_size < part.min_batch() {
            bail!("--batch-size {} (the global batch) is below the {} ranks", args.batch_size, part.ranks);
        }
        let model = SslModel::new(&model_cfg, &device, args.seed)?
            .with_kernels(args.kernels())
            .with_group(group.clone());
        let adam = optimizer(&model, args)?;
        let mut run = Self {
            args,
            device,
            model,
            adam,
            lc: args.loss_config(),
            ds,
            part,
            main,
            log: JsonLog::discard(),
            epoch: 0,
            global_step: 0,
            last_epoch: None,
            _lock: lock,
        };
        run.resume_or_start(saved.as_ref())?;
        Ok(run)
    }

    /// Restores a checkpoint if there is one, synchronises the ranks' weights, opens the log
    /// and writes `config.json`.
    fn resume_or_start(
        &mut self,
        saved: Option<&(CheckpointMeta, std::collections::HashMap<String, candle_core::Tensor>)>,
    ) -> anyhow::Result<()> {
        let args = self.args;
        let log_path = args.exp_dir.join(LOG_FILE);
        let open_log =
            |step| if self.main { JsonLog::open_at(&log_path, step) } else { Ok(JsonLog::discard()) };
        if let Some(saved) = saved {
            let ckpt_path = args.exp_dir.join(CHECKPOINT_FILE);
            let r = resume::restore(&ckpt_path, saved, args, &self.model, &mut self.adam)?;
            (self.epoch, self.global_step) = (r.epoch, r.global_step);
            if self.main {
                eprintln!("resuming from epoch {} ({})", r.epoch, ckpt_path.display());
            }
            let mut log = open_log(r.global_step)?;
            log.write(&serde_json::json!({"type": "resume", "epoch": r.epoch, "step": r.global_step}))?;
            if !r.changes.is_empty() && self.main {
                eprintln!("warning: --allow-config-change: continuing with {}", r.changes.join(", "));
                log.write(&serde_json::json!({"type": "config_change", "epoch": r.epoch, "step": r.global_step, "changes": r.changes}))?;
            }
            self.log = log;
        }
        // DDP's start: every rank from rank 0's state.
        let vars: Vec<_> = self
            .model
            .params
            .params()
            .into_iter()
            .chain(self.model.params.buffers())
            .map(|(_, v)| v)
            .collect();
        self.model.group.broadcast_from_rank0(&vars)?;
        if saved.is_none() {
            self.log = open_log(0)?;
        }
        if self.main {
            write_config(args, &self.model.config, &self.lc, self.ds.len())?;
        }
        Ok(())
    }

    /// The epoch loop, up to `--epochs` (or `--max-steps`), a checkpoint after each epoch.
    fn train_epochs(&mut self) -> anyhow::Result<RunSummary> {
        let args = self.args;
        let workers =
            args.num_workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        let pool = Arc::new(rayon::ThreadPoolBuilder::new().num_threads(workers.max(1)).build()?);
        let stepper = Stepper::new(&self.model)?;
        let mut summary = RunSummary {
            start_epoch: self.epoch,
            epochs_done: self.epoch,
            steps: 0,
            epoch_losses: Vec::new(),
            images_per_s: 0.0,
            exp_dir: args.exp_dir.clone(),
        };
        let run_start = Instant::now();
        let mut images_seen = 0usize;
        while self.epoch < args.epochs {
            let epoch = self.train_epoch(&pool, &stepper, &mut summary)?;
            images_seen += epoch.images;
            if epoch.stopped_early {
                break;
            }
            self.end_epoch(epoch, &mut summary)?;
        }
        summary.images_per_s = images_seen as f64 / run_start.elapsed().as_secs_f64().max(1e-9);
        Ok(summary)
    }

    /// One epoch's steps (or fewer, at `--max-steps`).
    fn train_epoch(
        &mut self,
        pool: &Arc<rayon::ThreadPool>,
        stepper: &Stepper,
        summary: &mut RunSummary,
    ) -> anyhow::Result<EpochResult> {
        let args = self.args;
        let steps_per_epoch = self.ds.steps_per_epoch_split(args.batch_size, self.part);
        let bar = progress_bar(args, self.main, steps_per_epoch, self.epoch);
        let batches = (args.batch_size, self.part);
        let loader = EpochLoader::start(
            self.ds.clone(),
            pool.clone(),
            args.seed,
            self.epoch,
            batches,
            0,
            args.prefetch,
        );
        let mut e = EpochResult::new(self.model.config.num_classes);
        for host in loader {
            let host = host?;
            e.floors.add(&host.labels, &host.latent, host.latent_dim);
            e.data_seconds += host.seconds;
            let step_start = Instant::now();
            let batch = host.to_device(&self.device)?;
            let log_now = (self.global_step + 1).is_multiple_of(args.log_interval as u64);
            let stats = stepper.train_step(&self.model, &mut self.adam, &batch, &self.lc, log_now)?;
            e.step_seconds += step_start.elapsed().as_secs_f64();
            e.device_sums.add(&stats)?;
            self.global_step += 1;
            e.steps += 1;
            summary.steps += 1;
            // Throughput of the job: the global batch, whatever this rank's part of it.
            e.images += 2 * self.ds.batch_len(e.steps - 1, args.batch_size);
            bar.inc(1);
            if log_now {
                self.log_step(&stats, &mut e, &bar)?;
            }
            if args.max_steps.is_some_and(|m| self.global_step >= m) {
                e.stopped_early = true;
                break;
            }
        }
        bar.finish_and_clear();
        self.log_skipped_objects()?;
        take_device_sums(&mut e.device_sums, &mut e.sums, self.epoch, self.global_step)?;
        Ok(e)
    }

    /// A log step's line: this step's values, and the sums since the last log step read back (on
    /// a GPU: the one wait for them).
    fn log_step(&mut self, stats: &StepStats, e: &mut EpochResult, bar: &ProgressBar) -> anyhow::Result<()> {
        let secs = e.start.elapsed().as_secs_f64().max(1e-9);
        let ips = e.images as f64 / secs;
        let flat = stats.read()?;
        let loss = flat.get("loss").copied().unwrap_or(f64::NAN);
        take_device_sums(&mut e.device_sums, &mut e.sums, self.epoch, self.global_step)?;
        // Each side's own rate, so that a user sees which one holds the run back.
        let (data_ips, step_ips) =
            (e.images as f64 / e.data_seconds.max(1e-9), e.images as f64 / e.step_seconds.max(1e-9));
        let data = if self.args.render.is_some() { "render" } else { "load" };
        let total = self.ds.steps_per_epoch_split(self.args.batch_size, self.part) * self.args.epochs;
        let left = crate::closing::time_left(total as u64, self.global_step, e.steps as f64 / secs);
        bar.set_message(format!(
            "loss {loss:.4}  {ips:.1} img/s ({data} {data_ips:.0}, step {step_ips:.0}), run {left}"
        ));
        let mut line = serde_json::json!({
            "type": "step", "epoch": self.epoch, "step": self.global_step,
            "lr": self.args.base_lr, "images_per_s": ips, "steps_per_s": e.steps as f64 / secs,
            "data_images_per_s": data_ips, "step_images_per_s": step_ips,
        });
        for (k, v) in &flat {
            line[k] = serde_json::json!(v);
        }
        self.log.write(&line)
    }

    /// Objects the data source skipped (`--render --keep-going`): a log line each.
    fn log_skipped_objects(&mut self) -> anyhow::Result<()> {
        for (object, error) in self.ds.take_failures() {
            let line = serde_json::json!({"type": "skipped_object", "epoch": self.epoch, "step": self.global_step, "object": object, "error": error});
            self.log.write(&line)?;
        }
        Ok(())
    }

    /// The epoch's log line and checkpoint.
    fn end_epoch(&mut self, e: EpochResult, summary: &mut RunSummary) -> anyhow::Result<()> {
        let args = self.args;
        self.epoch += 1;
        let secs = e.start.elapsed().as_secs_f64();
        let mut line = serde_json::json!({
            "type": "epoch", "epoch": self.epoch - 1, "step": self.global_step, "steps": e.steps,
            "seconds": secs, "images_per_s": e.images as f64 / secs.max(1e-9),
            "data_images_per_s": e.images as f64 / e.data_seconds.max(1e-9),
            "step_images_per_s": e.images as f64 / e.step_seconds.max(1e-9),
        });
        let means: BTreeMap<String, f64> =
            e.sums.iter().map(|(k, (s, c))| (k.clone(), s / *c as f64)).collect();
        for (k, v) in &means {
            line[k] = serde_json::json!(v);
        }
        self.log.write(&line)?;
        summary.epoch_losses.push(means.get("loss").copied().unwrap_or(f64::NAN));
        let meta = CheckpointMeta {
            epoch: self.epoch,
            global_step: self.global_step,
            adam_step: self.adam.step_count(),
            model: self.model.config.clone(),
            loss: self.lc,
            args: Some(serde_json::to_string(args)?),
        };
        if self.main {
            checkpoint::save(&args.exp_dir.join(CHECKPOINT_FILE), &self.model, Some(&self.adam), &meta)?;
        }
        summary.epochs_done = self.epoch;
        if !args.quiet && self.main {
            eprintln!(
                "epoch {}/{}: loss {:.4}, {:.1} img/s ({} {:.1}, step {:.1}), {:.1} s, {}",
                self.epoch,
                args.epochs,
                summary.epoch_losses.last().copied().unwrap_or(f64::NAN),
                e.images as f64 / secs.max(1e-9),
                if args.render.is_some() { "render" } else { "load" },
                e.images as f64 / e.data_seconds.max(1e-9),
                e.images as f64 / e.step_seconds.max(1e-9),
                secs,
                crate::closing::time_left(args.epochs as u64, self.epoch as u64, 1.0 / secs.max(1e-9))
            );
        }
        self.last_epoch = Some((means, e.floors));
        Ok(())
    }

    /// The closing judgement and the torchvision export of the backbone.
    fn finish(self, summary: RunSummary) -> anyhow::Result<RunSummary> {
        // Without a dataset on disk (nothing held out to judge on), the online evaluation's lines.
        let online_only =
            crate::closing::DataDir::data_dir(&self.args.data).is_none() && !self.args.quiet && self.main;
        if let (Some((means, floors)), true) = (&self.last_epoch, online_only) {
            eprint!("{}", judgement(means, floors));
        }
        if self.main {
            // Each step runs the backbone's BatchNorms on two batches (one per view).
            let path = self.args.exp_dir.join(TORCHVISION_FILE);
            checkpoint::export_backbone_torchvision(&self.model, &path, 2 * self.global_step)?;
            let mut log = self.log;
            crate::closing::held_out_judgement(
                &self.model,
                &self.device,
                self.args,
                self.global_step,
                &mut log,
            );
        }
        Ok(summary)
    }
}

/// What one epoch's steps add up to.
struct EpochResult {
    start: Instant,
    steps: usize,
    images: usize,
    /// Sum and count of every logged scalar (statistics exist on log steps only): summed on the
    /// device, read back on log steps and at the end of the epoch.
    sums: BTreeMap<String, (f64, usize)>,
    device_sums: StatSums,
    floors: Floors,
    /// Seconds the data path spent making this epoch's batches (on its own threads), and the
    /// steps took (on this one).
    data_seconds: f64,
    step_seconds: f64,
    /// `--max-steps` ended it: no epoch line, no checkpoint.
    stopped_early: bool,
}

impl EpochResult {
    fn new(num_classes: usize) -> Self {
        Self {
            start: Instant::now(),
            steps: 0,
            images: 0,
            sums: BTreeMap::new(),
            device_sums: StatSums::default(),
            floors: Floors::new(num_classes),
            data_seconds: 0.0,
            step_seconds: 0.0,
            stopped_early: false,
        }
    }
}

/// `<exp-dir>/config.json`: the run's flags, model and loss.
fn write_config(
    args: &TrainArgs,
    model: &ModelConfig,
    lc: &LossConfig,
    objects: usize,
) -> anyhow::Result<()> {
    let config_json = serde_json::json!({"args": args, "model": model, "loss": lc, "objects": objects});
    dataset::atomic::write_bytes(
        &args.exp_dir.join(CONFIG_FILE),
        serde_json::to_string_pretty(&config_json)?.as_bytes(),
    )
    .context("cannot write config.json")
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

fn progress_bar(args: &TrainArgs, main: bool, steps: usize, epoch: usize) -> ProgressBar {
    if args.quiet || !main {
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
