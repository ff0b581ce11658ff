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

pub fn write_manifests(input: &ManifestInput) -> anyhow::Result<ManifestCounts> {
    let (cfg, plan) = (input.cfg, input.plan);
    let complete: Vec<&(ObjectKey, Vec<usize>)> = plan
        .objects
        .par_iter()
        .filter(|(key, views)| views.iter().all(|&v| super::output::view_complete(cfg, key, v)))
        .collect();
    let label = |k: &ObjectKey| input.tree.label(&k.synset).expect("planned objects have known synsets");

    let mut counts =
        ManifestCounts { train: 0, val: 0, images: 0, incomplete: plan.objects.len() - complete.len() };
    for split in [Split::Train, Split::Val] {
        let members: Vec<ObjectKey> =
            complete.iter().map(|(k, _)| k.clone()).filter(|k| plan.split_of(k) == split).collect();
        let labels: Vec<i64> = members.iter().map(label).collect();
        manifest::write_images(&manifest::images_path(&cfg.out, split.name()), &members)?;
        manifest::write_labels(&manifest::labels_path(&cfg.out, split.name()), &labels)?;
        *if split == Split::Val { &mut counts.val } else { &mut counts.train } = members.len();
    }

    let per_object: Vec<Vec<ImageRecord>> = complete
        .par_iter()
        .map(|(key, views)| {
            let split = plan.split_of(key);
            views
                .iter()
                .map(|&v| {
                    let latent = Latent::read(&key.latent_path(&cfg.out, v))?;
                    let factors = factors::sample_view(&cfg.config, split, key, v).with_latent(latent);
                    Ok(ImageRecord::new(key, v, label(key), split.name(), &factors))
                })
                .collect::<anyhow::Result<Vec<_>>>()
        })
        .collect::<anyhow::Result<_>>()?;
    let image_records: Vec<ImageRecord> = per_object.into_iter().flatten().collect();
    counts.images = image_records.len();
    records::write_image_records(&cfg.out, &image_records)?;

    let classes = input
        .tree
        .synsets
        .iter()
        .map(|s| ClassInfo {
            label: input.tree.label(s).expect("synsets of the tree have labels"),
            synset: s.clone(),
            name: input.tree.class_name(s),
            objects: complete.iter().filter(|(k, _)| &k.synset == s).count(),
        })
        .collect();
    DatasetManifest {
        classes,
        train_objects: counts.train,
        val_objects: counts.val,
        images: counts.images,
        failures: merged_failures(input, &complete),
        warnings: complete
            .iter()
            .map(|(key, _)| {
                let found = super::output::read_warnings(&cfg.out, key)?;
                Ok(found.into_iter().map(|warning| ObjectWarning { object: key.to_string(), warning }))
            })
            .collect::<anyhow::Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect(),
        ..run_manifest(input)
    }
    .write(&cfg.out)
    .with_context(|| format!("{}: cannot write the dataset manifest", cfg.out.display()))?;
    Ok(counts)
}

/// Failures of this run merged with those an earlier run or another shard recorded, keeping only
/// objects that are still incomplete: `manifest.json` lists what is missing from the dataset now.
fn merged_failures(input: &ManifestInput, complete: &[&(ObjectKey, Vec<usize>)]) -> Vec<Failure> {
    let done: std::collections::HashSet<String> = complete.iter().map(|(k, _)| k.to_string()).collect();
    let mut merged = std::collections::BTreeMap::new();
    if let Ok(previous) = DatasetManifest::read(&input.cfg.out) {
        for f in previous.failures {
            merged.insert(f.object.clone(), f);
        }
    }
    for f in input.failures {
        merged.insert(f.object.clone(), f.clone());
    }
    merged.into_values().filter(|f| !done.contains(&f.object)).collect()
}
