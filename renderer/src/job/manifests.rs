//! The end of a job: official split manifests and the rich manifest, rebuilt from what is on disk.
//!
//! Rebuilding from disk (rather than from this process's memory) makes the result the same whether
//! the dataset was made in one run, resumed after a kill, or rendered as N shards.

use std::path::Path;

use anyhow::Context;
use dataset::manifest;
use dataset::records::{self, ClassInfo, DatasetManifest, Failure, ImageRecord};
use dataset::split::split_objects;
use dataset::{Latent, ObjectKey};
use rayon::prelude::*;

use super::objects::ShapeNetTree;

/// What the manifests describe.
pub struct ManifestInput<'a> {
    pub out: &'a Path,
    pub tree: &'a ShapeNetTree,
    /// Every object of the run (all shards), with the views each must have.
    pub planned: &'a [(ObjectKey, Vec<usize>)],
    pub mask: bool,
    pub seed: u64,
    pub views: usize,
    pub image_size: u32,
    pub val_fraction: f64,
    pub config: serde_json::Value,
    pub failures: &'a [Failure],
}

/// Counts of what was written.
pub struct ManifestCounts {
    pub train: usize,
    pub val: usize,
    pub images: usize,
    pub incomplete: usize,
}

pub fn write_manifests(input: &ManifestInput) -> anyhow::Result<ManifestCounts> {
    let complete: Vec<&(ObjectKey, Vec<usize>)> = input
        .planned
        .par_iter()
        .filter(|(key, views)| {
            views.iter().all(|&v| super::output::view_complete(input.out, key, v, input.mask))
        })
        .collect();
    let keys: Vec<ObjectKey> = input.planned.iter().map(|(k, _)| k.clone()).collect();
    let split = split_objects(&keys, input.val_fraction, input.seed);
    let is_val: std::collections::HashSet<&ObjectKey> = split.val.iter().collect();
    let label = |k: &ObjectKey| input.tree.label(&k.synset).expect("planned objects have known synsets");

    let mut counts =
        ManifestCounts { train: 0, val: 0, images: 0, incomplete: input.planned.len() - complete.len() };
    for (split_name, want_val) in [("train", false), ("val", true)] {
        let members: Vec<ObjectKey> =
            complete.iter().map(|(k, _)| k.clone()).filter(|k| is_val.contains(k) == want_val).collect();
        let labels: Vec<i64> = members.iter().map(label).collect();
        manifest::write_images(&manifest::images_path(input.out, split_name), &members)?;
        manifest::write_labels(&manifest::labels_path(input.out, split_name), &labels)?;
        *if want_val { &mut counts.val } else { &mut counts.train } = members.len();
    }

    let per_object: Vec<Vec<ImageRecord>> = complete
        .par_iter()
        .map(|(key, views)| {
            let split_name = if is_val.contains(key) { "val" } else { "train" };
            views
                .iter()
                .map(|&v| {
                    let latent = Latent::read(&key.latent_path(input.out, v))?;
                    Ok(ImageRecord::new(key, v, label(key), split_name, &latent))
                })
                .collect::<anyhow::Result<Vec<_>>>()
        })
        .collect::<anyhow::Result<_>>()?;
    let image_records: Vec<ImageRecord> = per_object.into_iter().flatten().collect();
    counts.images = image_records.len();
    records::write_image_records(input.out, &image_records)?;

    let failures = merged_failures(input, &complete);
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
        generator_version: dataset::GENERATOR_VERSION.to_string(),
        seed: input.seed,
        views: input.views,
        image_size: input.image_size,
        config: input.config.clone(),
        classes,
        train_objects: counts.train,
        val_objects: counts.val,
        images: counts.images,
        failures,
        conventions: DatasetManifest::conventions(),
    }
    .write(input.out)
    .with_context(|| format!("{}: cannot write the dataset manifest", input.out.display()))?;
    Ok(counts)
}

/// Failures of this run merged with those an earlier run or another shard recorded, keeping only
/// objects that are still incomplete: `manifest.json` lists what is missing from the dataset now.
fn merged_failures(input: &ManifestInput, complete: &[&(ObjectKey, Vec<usize>)]) -> Vec<Failure> {
    let done: std::collections::HashSet<String> = complete.iter().map(|(k, _)| k.to_string()).collect();
    let mut merged = std::collections::BTreeMap::new();
    if let Ok(previous) = DatasetManifest::read(input.out) {
        for f in previous.failures {
            merged.insert(f.object.clone(), f);
        }
    }
    for f in input.failures {
        merged.insert(f.object.clone(), f.clone());
    }
    merged.into_values().filter(|f| !done.contains(&f.object)).collect()
}
