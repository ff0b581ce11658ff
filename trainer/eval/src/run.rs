//! The `eval` command's work: resolve the checkpoint, extract (or reuse) the features, run the
//! requested tasks, and collect an [`EvalReport`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::Device;

use super::checkpoint_model::CheckpointModel;
use super::extract;
use super::features::FeatureCache;
use super::images::ViewImages;
use super::live_probes::{LiveProbes, PairResults};
use super::report::{EvalReport, FeatureInfo};
use super::retrieval::{self, Prediction};
use super::tasks::{self, EmbeddingPredictor, EvalConfig, PairTarget, Protocol};

/// An evaluation task (`all` runs every one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    Classify,
    Rotation,
    Color,
    Predictor,
    /// Translation probe; in `all` only for datasets with translations (3DIEBench-T).
    Translation,
}

impl Task {
    pub const ALL: [Task; 5] =
        [Task::Classify, Task::Rotation, Task::Color, Task::Predictor, Task::Translation];

    pub fn name(self) -> &'static str {
        match self {
            Task::Classify => "classify",
            Task::Rotation => "rotation",
            Task::Color => "color",
            Task::Predictor => "predictor",
            Task::Translation => "translation",
        }
    }
}

/// What to evaluate and how.
#[derive(Clone, Debug)]
pub struct EvalOptions {
    /// A run folder or a checkpoint file.
    pub checkpoint: PathBuf,
    pub data: PathBuf,
    /// Input resolution [default: the one the checkpoint was trained at].
    pub resolution: Option<u32>,
    /// Images per forward pass during extraction.
    pub batch_size: usize,
    /// Where features are cached [default: `<checkpoint folder>/eval-cache`].
    pub cache_dir: Option<PathBuf>,
    /// Split the representation at `rep_dim - equi_dim` even for methods without a split (e.g.
    /// to probe a VICReg representation's halves).
    pub equi_dim: Option<usize>,
    pub config: EvalConfig,
    /// Bytes of decoded views the reference-protocol probes may keep in memory (else they
    /// decode every batch again).
    pub image_budget: usize,
    /// Where extraction and the probes run (`--device`).
    pub device: model::config::DeviceKind,
}

/// Bump when the extraction changes meaning, so that old caches are not reused.
const CACHE_VERSION: &str = "eval-features v1";

/// The cache file for (checkpoint bytes, dataset manifests, resolution): any change to the
/// checkpoint, the split manifests or the rich manifest gives another file.
pub fn cache_path(cache_dir: &Path, checkpoint_file: &Path, data: &Path, resolution: u32) -> Result<PathBuf> {
    let mut h = blake3::Hasher::new();
    h.update(CACHE_VERSION.as_bytes());
    let ckpt = std::fs::File::open(checkpoint_file)
        .with_context(|| format!("{}: cannot open", checkpoint_file.display()))?;
    h.update_reader(ckpt).with_context(|| format!("{}: cannot read", checkpoint_file.display()))?;
    let root = data.canonicalize().with_context(|| format!("{}: no such dataset", data.display()))?;
    h.update(root.to_string_lossy().as_bytes());
    for split in ["train", "val"] {
        for file in [dataset::manifest::images_path(data, split), dataset::manifest::labels_path(data, split)]
        {
            let bytes = std::fs::read(&file)
                .with_context(|| format!("{}: cannot read the split manifest", file.display()))?;
            h.update(&bytes);
        }
    }
    if let Ok(bytes) = std::fs::read(data.join(dataset::records::MANIFEST_FILE)) {
        h.update(&bytes);
    }
    h.update(&resolution.to_le_bytes());
    let hex = h.finalize().to_hex();
    Ok(cache_dir.join(format!("features-{}.safetensors", &hex[..16])))
}

/// Number of classes: the rich manifest's, else the largest label seen + 1.
fn class_count(data: &Path, cache: &FeatureCache) -> usize {
    let seen =
        cache.train.index.labels.iter().chain(&cache.val.index.labels).max().map_or(0, |&l| l as usize + 1);
    dataset::views::manifest_num_classes(data).unwrap_or(0).max(seen)
}

/// Extracts the features of both splits, or loads them from the cache.
pub fn features(
    model: &CheckpointModel,
    options: &EvalOptions,
    resolution: u32,
    device: &Device,
) -> Result<(FeatureCache, PathBuf, f64)> {
    let cache_dir = match &options.cache_dir {
        Some(d) => d.clone(),
        None => model.file.parent().unwrap_or(Path::new(".")).join("eval-cache"),
    };
    let path = cache_path(&cache_dir, &model.file, &options.data, resolution)?;
    if path.exists() {
        match FeatureCache::load(&path, device) {
            Ok(cache) => {
                eprintln!("eval: features from {}", path.display());
                return Ok((cache, path, 0.0));
            }
            Err(e) => eprintln!("eval: ignoring an unreadable cache ({e:#}); extracting again"),
        }
    }
    let start = Instant::now();
    let mut splits = Vec::new();
    for split in ["train", "val"] {
        let bar = super::quick::extraction_bar();
        bar.set_prefix(format!("eval: {split} features"));
        let progress = |done: usize, total: usize| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        };
        splits.push(extract::extract_split(
            model,
            &options.data,
            split,
            resolution,
            options.batch_size,
            device,
            &progress,
        )?);
        bar.finish_and_clear();
        eprintln!(
            "eval: {split} features: {} views ({:.0} s)",
            bar.length().unwrap_or(0),
            start.elapsed().as_secs_f64()
        );
    }
    let val = splits.pop().expect("two splits");
    let train = splits.pop().expect("two splits");
    let source = serde_json::json!({
        "checkpoint": model.file.display().to_string(),
        "dataset": options.data.display().to_string(),
        "resolution": resolution,
        "experience": format!("{:?}", model.meta.model.experience),
        "epoch": model.meta.epoch,
    });
    let mut cache = FeatureCache { train, val, equi_dim: model.equi_dim(), classes: 0, source };
    cache.classes = class_count(&options.data, &cache);
    cache.save(&path)?;
    Ok((cache, path, start.elapsed().as_secs_f64()))
}

/// The checkpoint's model and the resolution to evaluate it at (`--resolution`, else the one it
/// was trained at).
fn load_model(options: &EvalOptions, device: &Device) -> Result<(CheckpointModel, u32)> {
    let model = CheckpointModel::load(&options.checkpoint, device)?;
    let resolution = match options.resolution.or(model.trained_resolution()) {
        Some(r) => r,
        None => bail!(
            "{}: the checkpoint does not record its resolution; pass --resolution",
            model.file.display()
        ),
    };
    Ok((model, resolution))
}

/// `eval export`: the features (extracted or cached) and the model in the reference's files.
pub fn export(options: &EvalOptions, out: &Path) -> Result<super::export::Exported> {
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let _lock = dataset::lock::FolderLock::acquire(out, "eval export")?;
    let device = model::config::open_device(options.device)?;
    let (model, resolution) = load_model(options, &device)?;
    let (cache, _, _) = features(&model, options, resolution, &device)?;
    super::export::export(&model, &cache, &options.data, out)
}

/// Runs `tasks` and returns the report (merged into `previous` when it is for the same checkpoint).
pub fn evaluate(
    options: &EvalOptions,
    task_list: &[Task],
    previous: Option<EvalReport>,
) -> Result<EvalReport> {
    let device = model::config::open_device(options.device)?;
    let (model, resolution) = load_model(options, &device)?;
    let (mut cache, cache_file, extraction_seconds) = features(&model, options, resolution, &device)?;
    cache.equi_dim = representation_split(options.equi_dim, model.equi_dim(), cache.train.rep_dim()?)?;
    let mut report =
        report_header(previous, &model, &cache, &cache_file, options, resolution, extraction_seconds)?;
    let has_translation = cache.train.translations.is_some();
    let task_list: Vec<Task> = task_list
        .iter()
        .copied()
        .filter(|&task| {
            let skip = task == Task::Translation && task_list.len() > 1 && !has_translation;
            if skip {
                eprintln!("eval: the dataset has no translations: no translation probe");
            }
            !skip
        })
        .collect();
    let protocol = options.config.protocol;
    if protocol == Protocol::Reference {
        let probes: Vec<Task> = task_list.iter().copied().filter(|t| *t != Task::Predictor).collect();
        if !probes.is_empty() {
            reference_probes(&model, &cache, options, resolution, &probes, &mut report)?;
        }
    }
    for &task in &task_list {
        let start = Instant::now();
        let is_probe = task != Task::Predictor;
        if is_probe && protocol == Protocol::Reference {
            continue;
        }
        eprintln!("eval: {}", task.name());
        if is_probe {
            report.protocols.insert(task.name().to_string(), protocol.name().to_string());
        }
        run_cached_task(task, &model, &cache, &options.config, &mut report)?;
        report.seconds.insert(task.name().to_string(), start.elapsed().as_secs_f64());
    }
    Ok(report)
}

/// Where the representation splits into its invariant and equivariant parts: the checkpoint's
/// own split when it has one (`--equi-dim` may only repeat it: another value would label other
/// dims "invariant" and "equivariant" than the model trained as such), else `--equi-dim`'s
/// analysis split (e.g. a VICReg representation's halves), else none. Said on stderr, and
/// recorded in the report's `features.equi_dim` and `features.split`.
pub fn representation_split(asked: Option<usize>, trained: usize, rep: usize) -> Result<usize> {
    match asked {
        Some(e) if trained > 0 && e != trained => bail!(
            "--equi-dim {e}: this checkpoint's representation is split at its last {trained} dims (trained with --equi {trained}); leave --equi-dim out, or pass {trained}"
        ),
        Some(0) => bail!("--equi-dim 0: a split needs at least one equivariant dim; leave --equi-dim out for none"),
        Some(e) if e >= rep => bail!("--equi-dim {e} must be smaller than the representation ({rep})"),
        Some(e) if trained == 0 => {
            eprintln!("eval: --equi-dim {e}: probing dims [0, {}) as \"invariant\" and the last {e} as \"equivariant\" (an analysis split: the method trained none)", rep - e);
            Ok(e)
        }
        _ => Ok(trained),
    }
}

/// The report's description of the run (checkpoint, data, features), kept from `previous` when
/// it is for the same checkpoint and resolution.
fn report_header(
    previous: Option<EvalReport>,
    model: &CheckpointModel,
    cache: &FeatureCache,
    cache_file: &Path,
    options: &EvalOptions,
    resolution: u32,
    extraction_seconds: f64,
) -> Result<EvalReport> {
    let mut report = match previous {
        Some(p) if p.checkpoint == model.file.display().to_string() && p.resolution == resolution => p,
        _ => EvalReport::default(),
    };
    report.checkpoint = model.file.display().to_string();
    report.experience = format!("{:?}", model.meta.model.experience);
    report.trained_epochs = model.meta.epoch;
    report.dataset = options.data.display().to_string();
    report.class_names = class_names(&options.data);
    report.resolution = resolution;
    report.config = Some(options.config.clone());
    report.features = FeatureInfo {
        cache_file: cache_file.display().to_string(),
        train_views: cache.train.index.rows(),
        val_views: cache.val.index.rows(),
        train_objects: cache.train.index.objects.len(),
        val_objects: cache.val.index.objects.len(),
        rep_dim: cache.train.rep_dim()?,
        equi_dim: cache.equi_dim,
        split: split_source(options.equi_dim, model.equi_dim()).to_string(),
        classes: cache.classes,
        extraction_seconds,
    };
    Ok(report)
}

/// Class names by label from the dataset's rich manifest; none for a dataset without one (the
/// official 3DIEBench files name no classes).
fn class_names(data: &Path) -> BTreeMap<i64, String> {
    let manifest = dataset::records::DatasetManifest::read(data).ok();
    manifest.into_iter().flat_map(|m| m.classes).map(|c| (c.label, c.name)).collect()
}

/// Where `features.equi_dim` came from, for the report.
fn split_source(asked: Option<usize>, trained: usize) -> &'static str {
    match (asked, trained) {
        (_, t) if t > 0 => "checkpoint",
        (Some(_), _) => "--equi-dim (analysis split)",
        (None, _) => "none",
    }
}

/// One task on the cached features (the predictor's evaluation, or a cached-protocol probe).
fn run_cached_task(
    task: Task,
    model: &CheckpointModel,
    cache: &FeatureCache,
    config: &EvalConfig,
    report: &mut EvalReport,
) -> Result<()> {
    match task {
        Task::Classify => report.classify = Some(tasks::classify(cache, &config.classify)?),
        Task::Rotation => {
            report.rotation = Some(tasks::rotation(cache, config)?);
            report.rotation_ceiling = Some(tasks::rotation_pose_ceiling(cache, config)?);
        }
        Task::Color => report.color = Some(tasks::color(cache, config)?),
        Task::Translation => report.translation = Some(tasks::translation(cache, config)?),
        Task::Predictor => predictor_report(model, cache, report)?,
    }
    Ok(())
}

/// The predictor's evaluation, and the identity's beside it, when the model has an equivariant
/// projector.
fn predictor_report(model: &CheckpointModel, cache: &FeatureCache, report: &mut EvalReport) -> Result<()> {
    if cache.val.equi_embeddings.is_none() {
        eprintln!("eval: {} has no equivariant projector: no predictor evaluation", report.experience);
        report.predictor = None;
        return Ok(());
    }
    let predictor: Option<&dyn EmbeddingPredictor> = if model.has_predictor() { Some(model) } else { None };
    report.predictor = Some(tasks::predictor(&cache.val, predictor)?);
    report.predictor_reference = match predictor {
        Some(p) => Some(retrieval::reference_scores(&cache.train, &cache.val, &Prediction::Trained(p))?),
        None => None,
    };
    report.predictor_reference_identity =
        Some(retrieval::reference_scores(&cache.train, &cache.val, &Prediction::Identity)?);
    Ok(())
}

/// The probes of `probes` under the reference protocol ([`super::live_probes`]): one pass of the
/// frozen backbone feeds the classification heads, another the pair heads.
fn reference_probes(
    model: &CheckpointModel,
    cache: &FeatureCache,
    options: &EvalOptions,
    resolution: u32,
    probes: &[Task],
    report: &mut EvalReport,
) -> Result<()> {
    let start = Instant::now();
    let open = |split: &str, index| -> Result<ViewImages> {
        let images = ViewImages::open(&options.data, index, resolution, options.image_budget)
            .with_context(|| format!("the {split} views"))?;
        if !images.is_in_memory() {
            eprintln!("eval: the {split} views exceed --image-memory: decoding them for every batch");
        }
        Ok(images)
    };
    let train_images = open("train", &cache.train.index)?;
    let val_images = open("val", &cache.val.index)?;
    eprintln!("eval: views decoded for the reference probes ({:.0} s)", start.elapsed().as_secs_f64());
    let live = LiveProbes {
        model: &model.model,
        cache,
        train_images: &train_images,
        val_images: &val_images,
        config: &options.config,
    };
    let epochs = super::quick::EpochProgress::new(start);
    let progress = |what: &str| epochs.report(what);
    let name = Protocol::Reference.name().to_string();
    if probes.contains(&Task::Classify) {
        let t = Instant::now();
        eprintln!("eval: classify (reference protocol)");
        report.classify = Some(live.classify(&progress)?);
        report.protocols.insert("classify".into(), name.clone());
        report.seconds.insert("classify".into(), t.elapsed().as_secs_f64());
    }
    let targets = pair_targets(cache, probes)?;
    if !targets.is_empty() {
        let t = Instant::now();
        eprintln!("eval: pair probes {targets:?} (reference protocol, one shared backbone pass)");
        let results = live.pair_probes(&targets, &progress)?;
        for target in &targets {
            let task = record_pair_result(target, &results, cache, options, report)?;
            report.protocols.insert(task.into(), name.clone());
        }
        report.seconds.insert("pair probes".into(), t.elapsed().as_secs_f64());
    }
    Ok(())
}

/// The pair probes `probes` asks for; translation only on a dataset that has translations.
fn pair_targets(cache: &FeatureCache, probes: &[Task]) -> Result<Vec<PairTarget>> {
    let mut targets = Vec::new();
    for (task, target) in [
        (Task::Rotation, PairTarget::Rotation),
        (Task::Color, PairTarget::Colour),
        (Task::Translation, PairTarget::Translation),
    ] {
        if probes.contains(&task) {
            if task == Task::Translation {
                anyhow::ensure!(
                    cache.train.translations.is_some() && cache.val.translations.is_some(),
                    "the dataset has no translations (its latents have 7 values; render it with manifests/3diebench-t.toml)"
                );
            }
            targets.push(target);
        }
    }
    Ok(targets)
}

/// Puts one pair probe's result into the report; returns the task's name.
fn record_pair_result(
    target: &PairTarget,
    results: &PairResults,
    cache: &FeatureCache,
    options: &EvalOptions,
    report: &mut EvalReport,
) -> Result<&'static str> {
    Ok(match target {
        PairTarget::Rotation => {
            report.rotation = Some(results.rotation.clone());
            // The ceiling needs no backbone: the cached probe on true poses, one pair per
            // object per epoch as this protocol draws them.
            let mut config = options.config.clone();
            config.train_pairs_per_object = 1;
            config.val_pairs_per_object = 1;
            report.rotation_ceiling = Some(tasks::rotation_pose_ceiling(cache, &config)?);
            "rotation"
        }
        PairTarget::Colour => {
            report.color = results.colour.clone();
            "color"
        }
        PairTarget::Translation => {
            report.translation = Some(results.translation.clone());
            "translation"
        }
    })
}
