//! The evaluation protocols of SPEC section 5 on cached features: classification, rotation and
//! colour prediction probes, and the predictor's quality in embedding space.

use std::collections::BTreeMap;

use anyhow::{ensure, Context, Result};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use super::features::{FeatureCache, SplitFeatures};
use super::metrics::{self, RankMetrics};
use super::pairs::{self, Pairs};
use super::probe::{self, ClassifyResult, ProbeConfig, RegressionResult};

/// Which slice of the representation a probe sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// All dimensions.
    All,
    /// The invariant part: dims [0, d - equi).
    Inv,
    /// The equivariant part: the last `equi` dims.
    Equi,
}

impl Part {
    pub const ALL: [Part; 3] = [Part::All, Part::Inv, Part::Equi];

    /// (start, len) of this part in a `rep_dim` representation whose last `equi_dim` are equivariant.
    pub fn columns(self, rep_dim: usize, equi_dim: usize) -> (usize, usize) {
        match self {
            Part::All => (0, rep_dim),
            Part::Inv => (0, rep_dim - equi_dim),
            Part::Equi => (rep_dim - equi_dim, equi_dim),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Part::All => "all",
            Part::Inv => "inv",
            Part::Equi => "equi",
        }
    }
}

/// How the probes are trained.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// As the reference's scripts: images through the frozen backbone in train mode, one random
    /// view or pair per object per epoch ([`super::live_probes`]).
    #[default]
    Reference,
    /// Faster: probes on cached eval-mode features, several pairs per object per epoch.
    Cached,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Reference => "reference",
            Protocol::Cached => "cached",
        }
    }
}

/// Settings of the probes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvalConfig {
    /// Old result files (before protocols) were made with the cached probes.
    #[serde(default = "cached")]
    pub protocol: Protocol,
    pub classify: ProbeConfig,
    pub rotation: ProbeConfig,
    pub color: ProbeConfig,
    /// Hidden sizes of the rotation/colour MLP (SPEC: 1024, 1024).
    pub hidden: Vec<usize>,
    /// Pairs per object drawn afresh every training epoch.
    pub train_pairs_per_object: usize,
    /// Fixed pairs per object for validation.
    pub val_pairs_per_object: usize,
}

fn cached() -> Protocol {
    Protocol::Cached
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            protocol: Protocol::Cached,
            classify: ProbeConfig { epochs: 100, ..ProbeConfig::default() },
            rotation: ProbeConfig { epochs: 30, ..ProbeConfig::default() },
            color: ProbeConfig { epochs: 30, ..ProbeConfig::default() },
            hidden: vec![1024, 1024],
            train_pairs_per_object: 4,
            val_pairs_per_object: 4,
        }
    }
}

/// Linear probe top-1 for each part with at least one dimension.
pub fn classify(cache: &FeatureCache, config: &ProbeConfig) -> Result<BTreeMap<Part, ClassifyResult>> {
    let rep_dim = cache.train.rep_dim()?;
    let mut out = BTreeMap::new();
    for part in parts(rep_dim, cache.equi_dim) {
        let (start, len) = part.columns(rep_dim, cache.equi_dim);
        let (x_train, y_train) = per_view_labels(&cache.train, start, len)?;
        let (x_val, y_val) = per_view_labels(&cache.val, start, len)?;
        let result = probe::linear_classifier(&x_train, &y_train, &x_val, &y_val, cache.classes, config)
            .with_context(|| format!("classification probe on the {} part", part.name()))?;
        out.insert(part, result);
    }
    Ok(out)
}

/// The parts that exist for this split (a model without an equivariant part has only `all`).
fn parts(rep_dim: usize, equi_dim: usize) -> Vec<Part> {
    if equi_dim == 0 || equi_dim >= rep_dim {
        vec![Part::All]
    } else {
        Part::ALL.to_vec()
    }
}

/// Every view is one classification sample labelled with its object's class.
fn per_view_labels(split: &SplitFeatures, start: usize, len: usize) -> Result<(Tensor, Vec<i64>)> {
    let mut labels = Vec::with_capacity(split.index.rows());
    for (object, &label) in split.index.labels.iter().enumerate() {
        labels.extend(std::iter::repeat_n(label, split.index.object_rows(object).len()));
    }
    Ok((probe::columns(&split.reps, start, len)?, labels))
}

/// What a pair probe regresses.
#[derive(Clone, Copy, Debug)]
pub enum PairTarget {
    /// Relative rotation quaternion (4).
    Rotation,
    /// (delta floor hue, delta light hue).
    Colour,
    /// t2 - t1, the translation part of the trainer's `--translation-latent` (object frame).
    Translation,
}

impl PairTarget {
    pub fn width(self) -> usize {
        match self {
            PairTarget::Rotation => 4,
            PairTarget::Colour => 2,
            PairTarget::Translation => 3,
        }
    }

    pub fn values(self, split: &SplitFeatures, p: &Pairs) -> Result<Vec<f32>> {
        Ok(match self {
            PairTarget::Rotation => pairs::rotation_targets(&split.latent_rows()?, p),
            PairTarget::Colour => pairs::colour_targets(&split.latent_rows()?, p),
            PairTarget::Translation => {
                let rows = split.translation_rows()?.context("the dataset's latents have no translation")?;
                pairs::translation_targets(&rows, p)
            }
        })
    }
}

/// MLP probe on the concatenated representations of two views of an object.
pub fn pair_probe(
    cache: &FeatureCache,
    part: Part,
    target: PairTarget,
    probe_config: &ProbeConfig,
    config: &EvalConfig,
) -> Result<RegressionResult> {
    let (start, len) = part.columns(cache.train.rep_dim()?, cache.equi_dim);
    let train_x = probe::columns(&cache.train.reps, start, len)?;
    let val_x = probe::columns(&cache.val.reps, start, len)?;
    pair_probe_on(cache, &train_x, &val_x, target, probe_config, config)
}

/// The pair probe on any per-view features (rows aligned with the cache's views).
fn pair_probe_on(
    cache: &FeatureCache,
    train_x: &Tensor,
    val_x: &Tensor,
    target: PairTarget,
    probe_config: &ProbeConfig,
    config: &EvalConfig,
) -> Result<RegressionResult> {
    let device = train_x.device().clone();
    let seed = probe_config.seed;
    let val_pairs = pairs::draw(&cache.val.index, config.val_pairs_per_object, seed, u64::MAX);
    ensure!(!val_pairs.is_empty(), "no val object has two views");
    let x_val = pairs::concat_inputs(val_x, &val_pairs)?;
    let t_val = pairs::target_tensor(target.values(&cache.val, &val_pairs)?, target.width(), &device)?;
    let val_labels = pairs::pair_labels(&cache.val.index, &val_pairs);
    probe::mlp_regressor(
        |epoch| {
            let p = pairs::draw(&cache.train.index, config.train_pairs_per_object, seed, epoch as u64);
            let x = pairs::concat_inputs(train_x, &p)?;
            let t = pairs::target_tensor(target.values(&cache.train, &p)?, target.width(), &device)?;
            Ok((x, t))
        },
        (&x_val, &t_val, &val_labels),
        &config.hidden,
        probe_config,
    )
}

/// The rotation probe's ceiling on this dataset: the same probe, pairs and schedule on features
/// that encode each view's true pose exactly (its 9 rotation-matrix entries, from the latents).
/// It says how much of the gap to R^2 = 1 is the probe and the data size rather than the
/// representation.
pub fn rotation_pose_ceiling(cache: &FeatureCache, config: &EvalConfig) -> Result<RegressionResult> {
    let pose = |split: &SplitFeatures| -> Result<Tensor> {
        let values: Vec<f32> = split
            .latent_rows()?
            .iter()
            .flat_map(|l| dataset::rotation::matrix_from_euler_xyz([l[0], l[1], l[2]]))
            .flatten()
            .map(|x| x as f32)
            .collect();
        pairs::target_tensor(values, 9, split.reps.device())
    };
    pair_probe_on(
        cache,
        &pose(&cache.train)?,
        &pose(&cache.val)?,
        PairTarget::Rotation,
        &config.rotation,
        config,
    )
    .context("rotation probe on true poses")
}

/// Rotation probe for each part.
pub fn rotation(cache: &FeatureCache, config: &EvalConfig) -> Result<BTreeMap<Part, RegressionResult>> {
    pair_probe_per_part(cache, PairTarget::Rotation, config)
}

/// A pair probe (with the rotation probe's schedule) on every part of the representation.
fn pair_probe_per_part(
    cache: &FeatureCache,
    target: PairTarget,
    config: &EvalConfig,
) -> Result<BTreeMap<Part, RegressionResult>> {
    let mut out = BTreeMap::new();
    for part in parts(cache.train.rep_dim()?, cache.equi_dim) {
        let r = pair_probe(cache, part, target, &config.rotation, config)
            .with_context(|| format!("{target:?} probe on the {} part", part.name()))?;
        out.insert(part, r);
    }
    Ok(out)
}

/// Translation probe (3DIEBench-T) for each part: R^2 of t2 - t1 from two views'
/// representations, the same protocol as the rotation probe.
pub fn translation(cache: &FeatureCache, config: &EvalConfig) -> Result<BTreeMap<Part, RegressionResult>> {
    ensure!(
        cache.train.translations.is_some() && cache.val.translations.is_some(),
        "the dataset has no translations (its latents have 7 values; render it with manifests/3diebench-t.toml)"
    );
    pair_probe_per_part(cache, PairTarget::Translation, config)
}

/// Colour probe on the full representation.
pub fn color(cache: &FeatureCache, config: &EvalConfig) -> Result<RegressionResult> {
    pair_probe(cache, Part::All, PairTarget::Colour, &config.color, config).context("colour probe")
}

/// A trained predictor in embedding space: equivariant embedding of view 1 and the pair's latent
/// (quaternion, or quaternion + colour deltas) to the predicted embedding of view 2.
pub trait EmbeddingPredictor {
    /// 4 (rotation) or 6 (rotation + colour).
    fn latent_dim(&self) -> usize;
    fn predict(&self, embeddings: &Tensor, latents: &Tensor) -> Result<Tensor>;
}

/// Quality of a predictor in embedding space.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PredictorMetrics {
    /// mean(1 - cos^2(prediction, target embedding)): an embedding-space error, NOT the
    /// reference's PRE (that is [`super::retrieval`]'s, under `predictor_reference`).
    #[serde(alias = "pre")]
    pub cosine_error: f64,
    #[serde(flatten)]
    pub ranks: RankMetrics,
    /// The same queries ranked among the object's views without the source view. With the source
    /// among the candidates (the reference protocol, `ranks`), the identity predictor retrieves
    /// the source itself, so its Hit@1 is 0 by construction; without it the identity is a
    /// meaningful reference point.
    #[serde(default)]
    pub ranks_without_source: RankMetrics,
}

/// The trained predictor next to the identity predictor (prediction = source embedding).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PredictorReport {
    pub trained: Option<PredictorMetrics>,
    pub identity: PredictorMetrics,
    /// How queries and candidates are formed.
    pub protocol: String,
}

pub const PREDICTOR_PROTOCOL: &str = "for every val object, the source is its first view; for each other view a \
prediction of its equivariant embedding is made from the source embedding and the pair latent; candidates are \
the embeddings of ALL views of the same object (source included), ranked by cosine similarity to the prediction \
(ties count against the truth); cosine_error = mean(1 - cos^2(prediction, target)). Not the reference's protocol: that is `predictor_reference`";

/// Evaluates `predictor` (when the model has one) and the identity on the val split.
pub fn predictor(val: &SplitFeatures, predictor: Option<&dyn EmbeddingPredictor>) -> Result<PredictorReport> {
    let embeddings = val.equi_embeddings.as_ref().context("the features hold no equivariant embeddings")?;
    let dims = embeddings.dim(1)?;
    let mut p = Pairs::default();
    for object in 0..val.index.objects.len() {
        let rows = val.index.object_rows(object);
        for target in rows.clone().skip(1) {
            p.first.push(rows.start as u32);
            p.second.push(target as u32);
        }
    }
    ensure!(!p.is_empty(), "no val object has two views");
    let device = embeddings.device();
    let first = Tensor::from_slice(&p.first, p.len(), device)?;
    let sources = embeddings.index_select(&first, 0)?;
    let all = embeddings.flatten_all()?.to_vec1::<f32>()?;
    let evaluate = |pred: &Tensor| -> Result<PredictorMetrics> {
        let pred = pred.flatten_all()?.to_vec1::<f32>()?;
        ensure!(
            pred.len() == p.len() * dims,
            "the predictor returned {} values for {} pairs",
            pred.len(),
            p.len()
        );
        let mut ranks = Vec::with_capacity(p.len());
        let mut ranks_without_source = Vec::with_capacity(p.len());
        let mut targets = Vec::with_capacity(pred.len());
        let mut query_start = 0;
        for object in 0..val.index.objects.len() {
            let rows = val.index.object_rows(object);
            let candidates = &all[rows.start * dims..rows.end * dims];
            for target in rows.clone().skip(1) {
                let query = &pred[query_start * dims..(query_start + 1) * dims];
                ranks.push(metrics::rank_of(query, candidates, dims, target - rows.start));
                let others = &candidates[dims..];
                ranks_without_source.push(metrics::rank_of(query, others, dims, target - rows.start - 1));
                targets.extend_from_slice(&all[target * dims..(target + 1) * dims]);
                query_start += 1;
            }
        }
        Ok(PredictorMetrics {
            cosine_error: metrics::pre(&pred, &targets, dims),
            ranks: RankMetrics::from_ranks(&ranks),
            ranks_without_source: RankMetrics::from_ranks(&ranks_without_source),
        })
    };
    let identity = evaluate(&sources)?;
    let trained = match predictor {
        Some(model) => {
            let width = model.latent_dim();
            let kind = dataset::pair::LatentKind::of_width(width)?;
            let values = pairs::pair_latents(val, &p, kind)?;
            let latent_tensor = pairs::target_tensor(values, width, device)?;
            let mut preds = Vec::new();
            let n = p.len();
            let mut start = 0;
            while start < n {
                let len = 1024.min(n - start);
                preds.push(
                    model.predict(&sources.narrow(0, start, len)?, &latent_tensor.narrow(0, start, len)?)?,
                );
                start += len;
            }
            Some(evaluate(&Tensor::cat(&preds, 0)?)?)
        }
        None => None,
    };
    Ok(PredictorReport { trained, identity, protocol: PREDICTOR_PROTOCOL.to_string() })
}
