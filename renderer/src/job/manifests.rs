//! The end of a job: official split manifests and the rich manifest, rebuilt from what is on disk.
//!
//! Rebuilding from disk (rather than from this process's memory) makes the result the same whether
//! the dataset was made in one run, resumed after a kill, or rendered as N shards.

use anyhow::Context;
use dataset::config::Split;
use dataset::manifest;
use dataset::records::{self, ClassInfo, DatasetManifest, Failure, ImageRecord, ObjectWarning};
use dataset::{factors, Latent, ObjectKey};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::objects::ShapeNetTree;
use super::plan::Plan;
use super::JobConfig;

/// What the manifests describe.
pub struct ManifestInput<'a> {
    pub cfg: &'a JobConfig,
    pub tree: &'a ShapeNetTree,
    /// Every object of the run (all shards), its split and its views.
    pub plan: &'a Plan,
    pub failures: &'a [Failure],
    /// The adapter that rendered this run's images, if any were rendered.
    pub adapter: Option<String>,
}

/// Counts of what was written.
pub struct ManifestCounts {
    pub train: usize,
    pub val: usize,
    pub images: usize,
    pub incomplete: usize,
}

/// The manifest of a run before any image is counted (what a resume is checked against).
pub fn run_manifest(input: &ManifestInput) -> DatasetManifest {
    let cfg = input.cfg;
    DatasetManifest {
        generator_version: dataset::GENERATOR_VERSION.to_string(),
        generator_commit: dataset::GENERATOR_COMMIT.to_string(),
        seed: cfg.config.settings.seed,
        views: cfg.config.settings.views,
        image_size: cfg.config.settings.image_size,
        config: cfg.recorded(),
        config_hash: cfg.config.hash(),
        objects_hash: input.plan.objects_hash(),
        adapter: input
            .adapter
            .clone()
            .or_else(|| DatasetManifest::read(&cfg.out).ok().and_then(|m| m.adapter)),
        classes: Vec::new(),
        train_objects: 0,
        val_objects: 0,
        images: 0,
        failures: Vec::new(),
        warnings: Vec::new(),
        conventions: DatasetManifest::conventions(),
    }
}

/// One complete object as the root manifests list it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CompleteObject {
    /// `<synset>/<object_id>`.
    pub object: String,
    /// `train` or `val`.
    pub split: String,
    pub label: i64,
    pub records: Vec<ImageRecord>,
    pub warnings: Vec<String>,
}

/// What the root manifests hold about a set of objects (the whole run, or one shard's part):
/// gathered once from disk, written by [`write_root`], and merged across shards by `render merge`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Contents {
    /// Complete objects, sorted by key.
    pub complete: Vec<CompleteObject>,
    /// Objects not (or not wholly) on disk.
    pub incomplete: Vec<String>,
    /// Every class of the tree, counting only these complete objects.
    pub classes: Vec<ClassInfo>,
    pub failures: Vec<Failure>,
    /// Folders that discovery skipped (the same for every shard of a job).
    #[serde(default)]
    pub skipped: Vec<ObjectWarning>,
}

impl Contents {
    /// The complete objects of split `split` (`train` or `val`), in key order.
    pub fn in_split<'a>(&'a self, split: &'a str) -> impl Iterator<Item = &'a CompleteObject> {
        self.complete.iter().filter(move |o| o.split == split)
    }
}

/// Gathers the manifests' contents for `objects` (sorted) from what is on disk. `previous` are
/// the failures an earlier run recorded.
pub fn gather(
    input: &ManifestInput,
    objects: &[(ObjectKey, Vec<usize>)],
    previous: Vec<Failure>,
) -> anyhow::Result<Contents> {
    let (cfg, plan) = (input.cfg, input.plan);
    let done: Vec<bool> = objects
        .par_iter()
        .map(|(key, views)| views.iter().all(|&v| super::output::view_complete(cfg, key, v)))
        .collect();
    let label = |k: &ObjectKey| input.tree.label(&k.synset).expect("planned objects have known synsets");
    let complete: Vec<&(ObjectKey, Vec<usize>)> =
        objects.iter().zip(&done).filter(|(_, &d)| d).map(|(o, _)| o).collect();
    let complete = complete
        .par_iter()
        .map(|(key, views)| {
            let split = plan.split_of(key);
            let records = views
                .iter()
                .map(|&v| {
                    let latent = Latent::read(&key.latent_path(&cfg.out, v))?;
                    let factors = factors::sample_view(&cfg.config, split, key, v).with_latent(latent);
                    Ok(ImageRecord::new(key, v, label(key), split.name(), &factors))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok(CompleteObject {
                object: key.to_string(),
                split: split.name().to_string(),
                label: label(key),
                records,
                warnings: super::output::read_warnings(&cfg.out, key)?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let classes = input
        .tree
        .synsets
        .iter()
        .map(|s| ClassInfo {
            label: input.tree.label(s).expect("synsets of the tree have labels"),
            synset: s.clone(),
            name: input.tree.class_name(s),
            objects: complete.iter().filter(|o| o.object.split('/').next() == Some(s.as_str())).count(),
        })
        .collect();
    let incomplete: Vec<String> =
        objects.iter().zip(&done).filter(|(_, &d)| !d).map(|((k, _), _)| k.to_string()).collect();
    let failures = merged_failures(previous, input.failures, &incomplete);
    Ok(Contents { complete, incomplete, classes, failures, skipped: plan.skipped.clone() })
}

/// Writes the split files, `images.jsonl` and `manifest.json` (`run` completed with `contents`).
pub fn write_root(
    out: &std::path::Path,
    contents: &Contents,
    run: DatasetManifest,
) -> anyhow::Result<ManifestCounts> {
    let mut counts = ManifestCounts { train: 0, val: 0, images: 0, incomplete: contents.incomplete.len() };
    for split in [Split::Train, Split::Val] {
        let members: Vec<&CompleteObject> = contents.in_split(split.name()).collect();
        let keys = members
            .iter()
            .map(|o| ObjectKey::parse(&o.object).with_context(|| format!("object {:?}", o.object)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let labels: Vec<i64> = members.iter().map(|o| o.label).collect();
        manifest::write_images(&manifest::images_path(out, split.name()), &keys)?;
        manifest::write_labels(&manifest::labels_path(out, split.name()), &labels)?;
        *if split == Split::Val { &mut counts.val } else { &mut counts.train } = members.len();
    }
    let image_records: Vec<ImageRecord> =
        contents.complete.iter().flat_map(|o| o.records.iter().cloned()).collect();
    counts.images = image_records.len();
    records::write_image_records(out, &image_records)?;
    DatasetManifest {
        classes: contents.classes.clone(),
        train_objects: counts.train,
        val_objects: counts.val,
        images: counts.images,
        failures: contents.failures.clone(),
        warnings: contents
            .skipped
            .iter()
            .cloned()
            .chain(contents.complete.iter().flat_map(|o| {
                o.warnings.iter().map(|w| ObjectWarning { object: o.object.clone(), warning: w.clone() })
            }))
            .collect(),
        ..run
    }
    .write(out)
    .with_context(|| format!("{}: cannot write the dataset manifest", out.display()))?;
    Ok(counts)
}

/// The root manifests of a one-process run, over every object of the plan.
pub fn write_manifests(input: &ManifestInput) -> anyhow::Result<ManifestCounts> {
    let previous = DatasetManifest::read(&input.cfg.out).map(|m| m.failures).unwrap_or_default();
    let contents = gather(input, &input.plan.objects, previous)?;
    write_root(&input.cfg.out, &contents, run_manifest(input))
}

/// Failures of this run merged with those an earlier run recorded, keeping only objects that are
/// still incomplete: the manifest lists what is missing from the dataset now.
pub fn merged_failures(previous: Vec<Failure>, now: &[Failure], incomplete: &[String]) -> Vec<Failure> {
    let incomplete: std::collections::HashSet<&String> = incomplete.iter().collect();
    let mut merged = std::collections::BTreeMap::new();
    for f in previous.into_iter().chain(now.iter().cloned()) {
        merged.insert(f.object.clone(), f);
    }
    merged.into_values().filter(|f| incomplete.contains(&f.object)).collect()
}
