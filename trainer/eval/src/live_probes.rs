//! The probes as the reference's scripts train them (`eval_classification.py`,
//! `eval_angle_prediction.py`, `eval_color_prediction.py`), on images through the frozen backbone
//! rather than on cached features:
//!
//! - every epoch, each training object gives ONE random view (classification) or ONE random pair
//!   of distinct views (rotation, colour, translation), in a shuffled order, batches of 256;
//! - the backbone runs in TRAIN mode during probe training (`net.train()`): batch norm normalises
//!   with each probe batch's statistics (the two views of a pair in two separate passes, as
//!   `backbone(x)`, `backbone(y)`) and keeps updating its running statistics (momentum 0.1);
//! - validation runs in eval mode with those drifted running statistics, on one random view (or
//!   pair, redrawn every epoch) per val object; the reported value is the last epoch's;
//! - Adam, lr 1e-3, no weight decay, no schedule; the heads are a linear layer (classification)
//!   and the 2d-1024-1024-k MLP (`--deep-end`) for the pair targets.
//!
//! What keeps it affordable: the backbone is frozen, so a pass is forward-only (no graph kept);
//! the views are decoded once and kept in memory ([`ViewImages`]); and one backbone pass feeds
//! every head that reads the same images (the all / inv / equi parts, and rotation + colour),
//! which the reference runs as separate jobs. Sharing is exact in distribution: the backbone and
//! its running statistics do not depend on the heads, so each head sees what its own run would
//! (other random draws, the same process). A head is validated only at its last epoch: eval-mode
//! passes change nothing, so earlier validations would not change the reported number. Each
//! probe family starts from the checkpoint's running statistics, as each reference run does.

use std::collections::BTreeMap;

use anyhow::{ensure, Context, Result};
use candle_core::{Device, Tensor, Var};

use super::features::{FeatureCache, SplitFeatures, SplitIndex};
use super::images::ViewImages;
use super::metrics;
use super::pairs::{self, Pairs};
use super::probe::{ClassifyResult, Mlp, RegressionResult};
use super::rng::SplitMix64;
use super::tasks::{EvalConfig, PairTarget, Part};
use model::model::SslModel;
use model::nn::Mode;
use model::optim::{Adam, AdamConfig};

/// The protocol's description, stored with its results.
pub const PROTOCOL: &str =
    "reference: one random view (or pair) per object per epoch, frozen backbone in train \
mode during probe training (batch statistics, running statistics drifting), eval mode for validation; last \
epoch's validation reported";

/// The frozen model's batch-norm running statistics, to start every probe family from the
/// checkpoint's values.
struct RunningStats(Vec<(Var, Tensor)>);

impl RunningStats {
    fn snapshot(model: &SslModel) -> Result<Self> {
        let stats = model.params.buffers().into_iter().map(|(_, v)| {
            let t = v.as_tensor().copy()?;
            Ok((v, t))
        });
        Ok(Self(stats.collect::<Result<_>>()?))
    }

    fn restore(&self) -> Result<()> {
        for (var, value) in &self.0 {
            var.set(value)?;
        }
        Ok(())
    }
}

/// One probe head: a part of the representation (or of a pair's two representations) to a
/// target, trained for `epochs`.
struct Head {
    columns: (usize, usize),
    mlp: Mlp,
    adam: Adam,
    epochs: usize,
    /// Sum and count of the training loss (and top-1) over the current epoch.
    epoch_loss: (f64, usize),
    epoch_top1: (f64, usize),
}

impl Head {
    fn new(
        sizes: &[usize],
        columns: (usize, usize),
        epochs: usize,
        seed: u64,
        lr: f64,
        device: &Device,
    ) -> Result<Self> {
        let mlp = Mlp::new(sizes, seed, device)?;
        let adam = Adam::new(mlp.params(), AdamConfig { lr, weight_decay: 0.0, ..AdamConfig::default() })?;
        Ok(Self { columns, mlp, adam, epochs, epoch_loss: (0.0, 0), epoch_top1: (0.0, 0) })
    }

    fn input(&self, reps: &[&Tensor]) -> Result<Tensor> {
        let parts: Vec<Tensor> = reps
            .iter()
            .map(|r| r.narrow(1, self.columns.0, self.columns.1))
            .collect::<candle_core::Result<_>>()?;
        Ok(Tensor::cat(&parts, 1)?)
    }

    fn step(&mut self, loss: &Tensor) -> Result<()> {
        self.adam.step(&loss.backward()?)?;
        self.epoch_loss.0 += loss.to_scalar::<f32>()? as f64;
        self.epoch_loss.1 += 1;
        Ok(())
    }

    fn start_epoch(&mut self) {
        self.epoch_loss = (0.0, 0);
        self.epoch_top1 = (0.0, 0);
    }

    fn mean_loss(&self) -> f64 {
        self.epoch_loss.0 / self.epoch_loss.1.max(1) as f64
    }
}

/// What the probes share: the frozen model, the views' images and the cached index and latents.
pub struct LiveProbes<'a> {
    pub model: &'a SslModel,
    pub cache: &'a FeatureCache,
    pub train_images: &'a ViewImages,
    pub val_images: &'a ViewImages,
    pub config: &'a EvalConfig,
}

/// One random view row per object (objects with at least one view).
fn random_views(index: &SplitIndex, rng: &mut SplitMix64) -> Vec<(usize, usize)> {
    (0..index.objects.len())
        .filter(|&o| !index.object_rows(o).is_empty())
        .map(|o| {
            let rows = index.object_rows(o);
            (o, rows.start + rng.below(rows.len()))
        })
        .collect()
}

/// The parts with at least one dimension.
fn parts(rep_dim: usize, equi_dim: usize) -> Vec<Part> {
    if equi_dim == 0 || equi_dim >= rep_dim {
        vec![Part::All]
    } else {
        Part::ALL.to_vec()
    }
}

impl LiveProbes<'_> {
    fn device(&self) -> Device {
        self.cache.train.reps.device().clone()
    }

    /// Backbone representations of `rows` with batch norm in `mode`.
    fn represent(&self, images: &ViewImages, rows: &[usize], mode: Mode) -> Result<Tensor> {
        let x = images.batch(rows, &self.device())?;
        Ok(self.model.representation(&x, mode).context("backbone forward")?.detach())
    }

    /// Representations of many rows in eval mode, in chunks.
    fn represent_eval(&self, images: &ViewImages, rows: &[usize]) -> Result<Tensor> {
        let chunk = self.config.classify.batch_size.max(1);
        let parts: Vec<Tensor> =
            rows.chunks(chunk).map(|c| self.represent(images, c, Mode::Eval)).collect::<Result<_>>()?;
        Ok(Tensor::cat(&parts, 0)?)
    }

    /// Linear classifiers on every part, one random view per object per epoch.
    pub fn classify(&self, progress: &dyn Fn(&str)) -> Result<BTreeMap<Part, ClassifyResult>> {
        let stats = RunningStats::snapshot(self.model)?;
        let result = self.classify_inner(progress);
        stats.restore()?;
        result
    }

    fn classify_inner(&self, progress: &dyn Fn(&str)) -> Result<BTreeMap<Part, ClassifyResult>> {
        let cfg = &self.config.classify;
        let (rep_dim, equi_dim, classes) =
            (self.cache.train.rep_dim()?, self.cache.equi_dim, self.cache.classes);
        let device = self.device();
        let part_list = parts(rep_dim, equi_dim);
        let mut heads = Vec::new();
        for (i, part) in part_list.iter().enumerate() {
            let columns = part.columns(rep_dim, equi_dim);
            let seed = cfg.seed.wrapping_add(i as u64);
            heads.push(Head::new(&[columns.1, classes], columns, cfg.epochs, seed, cfg.lr, &device)?);
        }
        let labels_of = |split: &SplitFeatures, objects: &[usize]| -> Result<Tensor> {
            let l: Vec<u32> = objects.iter().map(|&o| split.index.labels[o] as u32).collect();
            Ok(Tensor::from_vec(l, objects.len(), &device)?)
        };
        let mut out = BTreeMap::new();
        for epoch in 0..cfg.epochs {
            let mut rng = SplitMix64::derive(cfg.seed, 0xC1A5_0000 + epoch as u64);
            let views = random_views(&self.cache.train.index, &mut rng);
            let order = rng.permutation(views.len());
            heads.iter_mut().for_each(Head::start_epoch);
            for batch in order.chunks(cfg.batch_size.max(1)) {
                let rows: Vec<usize> = batch.iter().map(|&i| views[i].1).collect();
                let objects: Vec<usize> = batch.iter().map(|&i| views[i].0).collect();
                let reps = self.represent(self.train_images, &rows, Mode::Train)?;
                let labels = labels_of(&self.cache.train, &objects)?;
                let label_values: Vec<i64> =
                    objects.iter().map(|&o| self.cache.train.index.labels[o]).collect();
                for head in heads.iter_mut().filter(|h| epoch < h.epochs) {
                    let logits = head.mlp.forward(&head.input(&[&reps])?)?;
                    let top1 =
                        metrics::top1(&logits.flatten_all()?.to_vec1::<f32>()?, classes, &label_values);
                    head.epoch_top1.0 += top1 * objects.len() as f64;
                    head.epoch_top1.1 += objects.len();
                    head.step(&candle_nn::loss::cross_entropy(&logits, &labels)?)?;
                }
            }
            if epoch + 1 == cfg.epochs {
                let mut rng = SplitMix64::derive(cfg.seed, 0xC1A5_8000 + epoch as u64);
                let views = random_views(&self.cache.val.index, &mut rng);
                ensure!(!views.is_empty(), "the val split has no views");
                let rows: Vec<usize> = views.iter().map(|v| v.1).collect();
                let labels: Vec<i64> = views.iter().map(|v| self.cache.val.index.labels[v.0]).collect();
                let reps = self.represent_eval(self.val_images, &rows)?;
                for (part, head) in part_list.iter().zip(&heads) {
                    let logits = head.mlp.predict(&head.input(&[&reps])?, 4096)?;
                    let top1_val = metrics::top1(&logits.flatten_all()?.to_vec1::<f32>()?, classes, &labels);
                    out.insert(
                        *part,
                        ClassifyResult {
                            top1_train: head.epoch_top1.0 / head.epoch_top1.1.max(1) as f64,
                            top1_val,
                            final_loss: head.mean_loss(),
                        },
                    );
                }
            }
            progress(&format!("classify epoch {}/{}", epoch + 1, cfg.epochs));
        }
        Ok(out)
    }

    /// The pair probes: rotation on every part, colour on the whole representation, and
    /// translation on every part when the dataset has translations; one random pair per object
    /// per epoch, both views through the backbone in train mode, one pass shared by all heads.
    pub fn pair_probes(&self, targets: &[PairTarget], progress: &dyn Fn(&str)) -> Result<PairResults> {
        let stats = RunningStats::snapshot(self.model)?;
        let result = self.pair_probes_inner(targets, progress);
        stats.restore()?;
        result
    }

    /// One head per (target, part): colour on the whole representation, the others on each part.
    fn pair_heads(&self, targets: &[PairTarget]) -> Result<Vec<(PairTarget, Part, Head)>> {
        let (rep_dim, equi_dim) = (self.cache.train.rep_dim()?, self.cache.equi_dim);
        let device = self.device();
        let c = self.config;
        let mut heads: Vec<(PairTarget, Part, Head)> = Vec::new();
        for &target in targets {
            let (probe, target_parts) = match target {
                PairTarget::Colour => (&c.color, vec![Part::All]),
                _ => (&c.rotation, parts(rep_dim, equi_dim)),
            };
            for part in target_parts {
                let columns = part.columns(rep_dim, equi_dim);
                let sizes: Vec<usize> = std::iter::once(2 * columns.1)
                    .chain(c.hidden.iter().copied())
                    .chain(std::iter::once(target.width()))
                    .collect();
                let seed = probe.seed.wrapping_add(heads.len() as u64);
                heads.push((
                    target,
                    part,
                    Head::new(&sizes, columns, probe.epochs, seed, probe.lr, &device)?,
                ));
            }
        }
        Ok(heads)
    }

    fn pair_probes_inner(&self, targets: &[PairTarget], progress: &dyn Fn(&str)) -> Result<PairResults> {
        let device = self.device();
        let mut heads = self.pair_heads(targets)?;
        let epochs = heads.iter().map(|h| h.2.epochs).max().unwrap_or(0);
        let batch_size = self.config.rotation.batch_size.max(1);
        let seed = self.config.rotation.seed;
        let mut results = PairResults::default();
        // The last epoch's training targets of each head (for the constant-prediction floor).
        let mut train_targets: Vec<Vec<f32>> = vec![Vec::new(); heads.len()];
        let mut train_preds: Vec<Vec<f32>> = vec![Vec::new(); heads.len()];
        for epoch in 0..epochs {
            let p = pairs::draw(&self.cache.train.index, 1, seed, 0x9A1F_0000 + epoch as u64);
            ensure!(!p.is_empty(), "no training object has two views");
            let order = SplitMix64::derive(seed, 0x9A1F_4000 + epoch as u64).permutation(p.len());
            for (i, (_, _, head)) in heads.iter_mut().enumerate() {
                head.start_epoch();
                if epoch < head.epochs {
                    train_targets[i].clear();
                    train_preds[i].clear();
                }
            }
            for batch in order.chunks(batch_size) {
                let sub = Pairs {
                    first: batch.iter().map(|&i| p.first[i]).collect(),
                    second: batch.iter().map(|&i| p.second[i]).collect(),
                };
                let rows = |v: &[u32]| v.iter().map(|&r| r as usize).collect::<Vec<_>>();
                let r1 = self.represent(self.train_images, &rows(&sub.first), Mode::Train)?;
                let r2 = self.represent(self.train_images, &rows(&sub.second), Mode::Train)?;
                for (i, (target, _, head)) in heads.iter_mut().enumerate().filter(|(_, h)| epoch < h.2.epochs)
                {
                    let values = target.values(&self.cache.train, &sub)?;
                    train_targets[i].extend_from_slice(&values);
                    let t = pairs::target_tensor(values, target.width(), &device)?;
                    let pred = head.mlp.forward(&head.input(&[&r1, &r2])?)?;
                    train_preds[i].extend(pred.detach().flatten_all()?.to_vec1::<f32>()?);
                    head.step(&candle_nn::loss::mse(&pred, &t)?)?;
                }
            }
            let finishing: Vec<usize> =
                heads.iter().enumerate().filter(|(_, h)| h.2.epochs == epoch + 1).map(|(i, _)| i).collect();
            if !finishing.is_empty() {
                let logged = (&train_targets[..], &train_preds[..]);
                self.validate_heads(&heads, &finishing, logged, epoch, &mut results)?;
            }
            progress(&format!("pair probes epoch {}/{epochs}", epoch + 1));
        }
        Ok(results)
    }

    /// The val scores of the heads whose last epoch was `epoch`, beside the constant prediction of
    /// their last training epoch's targets.
    fn validate_heads(
        &self,
        heads: &[(PairTarget, Part, Head)],
        finishing: &[usize],
        (train_targets, train_preds): (&[Vec<f32>], &[Vec<f32>]),
        epoch: usize,
        results: &mut PairResults,
    ) -> Result<()> {
        let seed = self.config.rotation.seed;
        let vp = pairs::draw(&self.cache.val.index, 1, seed, 0x9A1F_8000 + epoch as u64);
        ensure!(!vp.is_empty(), "no val object has two views");
        let rows = |v: &[u32]| v.iter().map(|&r| r as usize).collect::<Vec<_>>();
        let r1 = self.represent_eval(self.val_images, &rows(&vp.first))?;
        let r2 = self.represent_eval(self.val_images, &rows(&vp.second))?;
        let labels = pairs::pair_labels(&self.cache.val.index, &vp);
        for &i in finishing {
            let (target, part, head) = &heads[i];
            let k = target.width();
            let t_val = target.values(&self.cache.val, &vp)?;
            let pred = head.mlp.predict(&head.input(&[&r1, &r2])?, 4096)?.flatten_all()?.to_vec1::<f32>()?;
            let means = column_means(&train_targets[i], k);
            let constant: Vec<f32> = (0..t_val.len()).map(|j| means[j % k]).collect();
            let r = RegressionResult {
                r2: metrics::r2_reference(&pred, &t_val),
                r2_per_dim: metrics::r2_per_dim(&pred, &t_val, k),
                r2_train: metrics::r2_reference(&train_preds[i], &train_targets[i]),
                r2_constant: metrics::r2_reference(&constant, &t_val),
                final_loss: head.mean_loss(),
                per_class: metrics::r2_per_class(&pred, &constant, &t_val, k, &labels),
            };
            results.insert(*target, *part, r);
        }
        Ok(())
    }
}

fn column_means(values: &[f32], k: usize) -> Vec<f32> {
    let n = (values.len() / k).max(1) as f64;
    (0..k).map(|j| (values.iter().skip(j).step_by(k).map(|&v| v as f64).sum::<f64>() / n) as f32).collect()
}

/// Results of [`LiveProbes::pair_probes`].
#[derive(Default)]
pub struct PairResults {
    pub rotation: BTreeMap<Part, RegressionResult>,
    pub colour: Option<RegressionResult>,
    pub translation: BTreeMap<Part, RegressionResult>,
}

impl PairResults {
    fn insert(&mut self, target: PairTarget, part: Part, r: RegressionResult) {
        match target {
            PairTarget::Rotation => {
                self.rotation.insert(part, r);
            }
            PairTarget::Colour => self.colour = Some(r),
            PairTarget::Translation => {
                self.translation.insert(part, r);
            }
        }
    }
}
