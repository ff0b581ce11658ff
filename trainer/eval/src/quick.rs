//! The held-out judgement of a trained model, in seconds: frozen eval-mode features of every view
//! of the train and val splits ([`crate::extract`]), the cached protocol's probes fit on the train
//! split (a linear classifier on views; an MLP on two views' concatenated representations to
//! their relative quaternion, [`crate::probe`], [`crate::pairs`]), scored on the val objects only,
//! each number with a bootstrap interval over val objects and judged against its floor on the
//! same objects ([`crate::judgement`]). `train` ends with it; `eval quick` gives it for any
//! checkpoint; both write it to `log.jsonl` as a `{"type":"judgement"}` line.

use std::path::Path;
use std::time::Instant;

use anyhow::{ensure, Result};
use candle_core::{Device, Tensor};
use serde::Serialize;

use crate::extract::{self, Encoder};
use crate::features::SplitFeatures;
use crate::judgement::{self, ClassObject, PairObject, Verdict};
use crate::pairs;
use crate::probe::{self, Mlp, ProbeConfig};
use crate::tasks::Part;

/// How the quick probes run.
#[derive(Clone, Debug, Serialize)]
pub struct QuickConfig {
    pub resolution: u32,
    /// Images per forward pass of the extraction.
    pub batch_size: usize,
    pub classify: ProbeConfig,
    pub rotation: ProbeConfig,
    pub hidden: Vec<usize>,
    /// Training pairs per object, redrawn every epoch; val pairs per object, fixed.
    pub train_pairs: usize,
    pub val_pairs: usize,
    pub resamples: usize,
}

impl QuickConfig {
    pub fn new(resolution: u32, seed: u64) -> Self {
        Self {
            resolution,
            batch_size: 128,
            classify: ProbeConfig { epochs: 50, seed, ..ProbeConfig::default() },
            rotation: ProbeConfig { epochs: 30, seed, ..ProbeConfig::default() },
            // Half the cached protocol's 1024-1024 and its 4 pairs per object: a tenth of its
            // time, so that the judgement takes seconds at the main job's size.
            hidden: vec![512, 512],
            train_pairs: 4,
            val_pairs: 8,
            resamples: 1000,
        }
    }
}

/// A model being trained, frozen for the judgement: BatchNorm in eval mode, no graph kept.
pub struct Frozen<'a>(pub &'a model::SslModel);

impl Encoder for Frozen<'_> {
    fn encode(&self, images: &Tensor) -> Result<(Tensor, Option<Tensor>)> {
        let repr = self.0.representation(images, model::nn::Mode::Eval)?.detach();
        let (_, equi) = self.0.embeddings(&repr, model::nn::Mode::Eval)?;
        Ok((repr, equi.map(|e| e.detach())))
    }
}

/// What the judgement found.
#[derive(Clone, Debug, Serialize)]
pub struct Judgement {
    pub method: String,
    pub val_objects: usize,
    pub val_views: usize,
    pub val_pairs: usize,
    pub train_objects: usize,
    pub verdicts: Vec<Verdict>,
    pub seconds: f64,
}

impl Judgement {
    /// The lines a person reads.
    pub fn text(&self) -> String {
        let mut out = format!(
            "held-out judgement on the val split ({} objects, {} views, {} pairs), 95% intervals by bootstrap over val objects;\n  {}:\n",
            self.val_objects, self.val_views, self.val_pairs, self.method
        );
        for v in &self.verdicts {
            out += &v.line();
            out.push('\n');
        }
        out
    }

    /// The `log.jsonl` line.
    pub fn json(&self, step: Option<u64>) -> serde_json::Value {
        let mut v = serde_json::json!({"type": "judgement"});
        if let Some(step) = step {
            v["step"] = serde_json::json!(step);
        }
        if let (Some(map), Ok(serde_json::Value::Object(me))) =
            (v.as_object_mut(), serde_json::to_value(self))
        {
            map.extend(me);
        }
        v
    }
}

/// Extracts both splits with `encoder` and judges it. `progress(split, done, total)` follows the
/// extraction.
pub fn judge(
    encoder: &dyn Encoder,
    equi_dim: usize,
    data: &Path,
    classes: usize,
    config: &QuickConfig,
    device: &Device,
    progress: &dyn Fn(&str, usize, usize),
) -> Result<Judgement> {
    let start = Instant::now();
    let split = |name: &str| {
        extract::extract_split(encoder, data, name, config.resolution, config.batch_size, device, &|d, t| {
            progress(name, d, t)
        })
    };
    let (train, val) = (split("train")?, split("val")?);
    let mut j = judge_features(&train, &val, equi_dim, classes, config)?;
    j.seconds = start.elapsed().as_secs_f64();
    Ok(j)
}

/// The probes and verdicts on extracted features.
pub fn judge_features(
    train: &SplitFeatures,
    val: &SplitFeatures,
    equi_dim: usize,
    classes: usize,
    config: &QuickConfig,
) -> Result<Judgement> {
    let classes = classes
        .max(1 + val.index.labels.iter().chain(&train.index.labels).copied().max().unwrap_or(0) as usize);
    let rep_dim = train.rep_dim()?;
    let seed = config.classify.seed;
    let top1 = classify_objects(train, val, classes, &config.classify)?;
    let mut verdicts = vec![judgement::judge_top1("top-1 (whole)", &top1, classes, config.resamples, seed)];
    let mut parts = vec![(Part::All, "rotation R^2 (whole)")];
    if equi_dim > 0 && equi_dim < rep_dim {
        parts.push((Part::Equi, "rotation R^2 (equi part)"));
    }
    let mut val_pairs = 0;
    for (part, name) in parts {
        let (start, len) = part.columns(rep_dim, equi_dim);
        let objects = rotation_objects(train, val, (start, len), config)?;
        val_pairs = objects.iter().map(|o| o.pairs).sum();
        verdicts.push(judgement::judge_r2(name, &objects, config.resamples, seed));
    }
    let method = format!(
        "probes fit on the {} train objects' frozen eval-mode features (linear classifier, {} epochs; MLP {} on view pairs, {} epochs)",
        train.index.objects.len(),
        config.classify.epochs,
        config.hidden.iter().map(|h| h.to_string()).collect::<Vec<_>>().join("-"),
        config.rotation.epochs
    );
    Ok(Judgement {
        method,
        val_objects: val.index.objects.len(),
        val_views: val.index.rows(),
        val_pairs,
        train_objects: train.index.objects.len(),
        verdicts,
        seconds: 0.0,
    })
}

/// Every view labelled with its object's class.
fn view_labels(split: &SplitFeatures) -> Vec<i64> {
    let index = &split.index;
    (0..index.objects.len())
        .flat_map(|o| std::iter::repeat_n(index.labels[o], index.object_rows(o).len()))
        .collect()
}

/// A linear classifier fit on every train view (cross-entropy, as [`probe::linear_classifier`]);
/// per val object, how many of its views it classifies right.
fn classify_objects(
    train: &SplitFeatures,
    val: &SplitFeatures,
    classes: usize,
    config: &ProbeConfig,
) -> Result<Vec<ClassObject>> {
    let device = train.reps.device();
    let y: Vec<u32> = view_labels(train).iter().map(|&l| l as u32).collect();
    let labels = Tensor::from_vec(y.clone(), y.len(), device)?;
    let model = Mlp::new(&[train.rep_dim()?, classes], config.seed, device)?;
    probe::fit(
        &model,
        config,
        |_| Ok(train.reps.clone()),
        |m, xb, idx| Ok(candle_nn::loss::cross_entropy(&m.forward(xb)?, &labels.index_select(idx, 0)?)?),
    )?;
    let logits = model.predict(&val.reps, 4096)?.flatten_all()?.to_vec1::<f32>()?;
    let mut out = Vec::with_capacity(val.index.objects.len());
    for (o, &label) in val.index.labels.iter().enumerate() {
        let rows = val.index.object_rows(o);
        let correct = rows
            .clone()
            .filter(|&r| crate::metrics::argmax(&logits[r * classes..(r + 1) * classes]) as i64 == label)
            .count();
        out.push(ClassObject { label: label as usize, views: rows.len(), correct });
    }
    Ok(out)
}

/// An MLP fit on train pairs (two views' representation columns `cols`, concatenated) to their
/// relative quaternion; per val object, its pairs' targets and squared errors.
fn rotation_objects(
    train: &SplitFeatures,
    val: &SplitFeatures,
    (start, len): (usize, usize),
    config: &QuickConfig,
) -> Result<Vec<PairObject>> {
    let device = train.reps.device().clone();
    let (train_x, val_x) = (probe::columns(&train.reps, start, len)?, probe::columns(&val.reps, start, len)?);
    let seed = config.rotation.seed;
    let sizes: Vec<usize> =
        std::iter::once(2 * len).chain(config.hidden.iter().copied()).chain([4]).collect();
    let model = Mlp::new(&sizes, seed, &device)?;
    let train_latents = train.latent_rows()?;
    let targets = std::cell::RefCell::new(None::<Tensor>);
    probe::fit(
        &model,
        &config.rotation,
        |epoch| {
            let p = pairs::draw(&train.index, config.train_pairs, seed, epoch as u64);
            let t = pairs::target_tensor(pairs::rotation_targets(&train_latents, &p), 4, &device)?;
            *targets.borrow_mut() = Some(t);
            pairs::concat_inputs(&train_x, &p)
        },
        |m, xb, idx| {
            let t = targets.borrow().as_ref().expect("set with the inputs").index_select(idx, 0)?;
            Ok(candle_nn::loss::mse(&m.forward(xb)?, &t)?)
        },
    )?;
    let p = pairs::draw(&val.index, config.val_pairs, seed, u64::MAX);
    ensure!(!p.is_empty(), "no val object has two views");
    let pred = model.predict(&pairs::concat_inputs(&val_x, &p)?, 4096)?.flatten_all()?.to_vec1::<f32>()?;
    let t = pairs::rotation_targets(&val.latent_rows()?, &p);
    let mut objects = vec![PairObject::default(); val.index.objects.len()];
    for (i, &first) in p.first.iter().enumerate() {
        let object = val.index.offsets.partition_point(|&o| o <= first as usize) - 1;
        objects[object].add(&t[4 * i..4 * i + 4], &pred[4 * i..4 * i + 4]);
    }
    objects.retain(|o| o.pairs > 0);
    Ok(objects)
}

/// A progress bar for the extraction of both splits (hidden when stderr is not a terminal,
/// as indicatif does), with the rate and the time left.
pub fn extraction_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    let style = indicatif::ProgressStyle::with_template(
        "{prefix} {bar:30} {pos}/{len} views [{elapsed}<{eta}, {per_sec}]",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// `eval quick`: the held-out judgement of a checkpoint (a run folder or a file), printed, and
/// appended to the run folder's `log.jsonl` when there is one.
pub fn command(
    checkpoint: &Path,
    data: &Path,
    resolution: Option<u32>,
    seed: u64,
    device: model::config::DeviceKind,
) -> Result<Judgement> {
    let device = model::config::open_device(device)?;
    let model = crate::checkpoint_model::CheckpointModel::load(checkpoint, &device)?;
    let resolution = resolution.or(model.trained_resolution()).ok_or_else(|| {
        anyhow::anyhow!(
            "{}: the checkpoint does not record its resolution; pass --resolution",
            model.file.display()
        )
    })?;
    let classes = dataset::views::manifest_num_classes(data).unwrap_or(model.meta.model.num_classes);
    let bar = extraction_bar();
    let progress = |split: &str, done: usize, total: usize| {
        bar.set_prefix(format!("eval quick: {split} features"));
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let config = QuickConfig::new(resolution, seed);
    let j = judge(&model, model.equi_dim(), data, classes, &config, &device, &progress)?;
    bar.finish_and_clear();
    let log = model.file.parent().unwrap_or(Path::new(".")).join("log.jsonl");
    if log.exists() {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&log)?;
        writeln!(f, "{}", j.json(Some(model.meta.global_step)))?;
    }
    Ok(j)
}

/// Progress of the reference protocol's probe epochs ("classify epoch 3/300"): a bar with the
/// rate and the time left on a terminal; a line every 30 s otherwise (a batch job's log).
pub struct EpochProgress {
    bar: indicatif::ProgressBar,
    start: Instant,
    last: std::cell::Cell<Instant>,
}

impl EpochProgress {
    pub fn new(start: Instant) -> Self {
        let bar = indicatif::ProgressBar::new(0);
        let style = indicatif::ProgressStyle::with_template(
            "eval: {prefix} {bar:30} {pos}/{len} epochs [{elapsed}<{eta}, {per_sec}]",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        Self { bar, start, last: std::cell::Cell::new(Instant::now()) }
    }

    pub fn report(&self, what: &str) {
        if let Some((name, k, n)) = epoch_of(what) {
            if self.bar.prefix() != name {
                self.bar.reset();
                self.bar.set_prefix(name.to_string());
            }
            self.bar.set_length(n);
            self.bar.set_position(k);
        }
        if self.bar.is_hidden() && self.last.get().elapsed().as_secs() >= 30 {
            self.last.set(Instant::now());
            eprintln!("eval: {what} ({:.0} s)", self.start.elapsed().as_secs_f64());
        }
    }
}

impl Drop for EpochProgress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// ("classify", 3, 300) from "classify epoch 3/300".
fn epoch_of(what: &str) -> Option<(&str, u64, u64)> {
    let (name, rest) = what.split_once(" epoch ")?;
    let (k, n) = rest.split_once('/')?;
    Some((name, k.trim().parse().ok()?, n.trim().parse().ok()?))
}
