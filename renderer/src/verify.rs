//! `render verify DIR`: decodes every image, mask, depth map and latent of a dataset and lists
//! what is missing or damaged.

use std::path::Path;

use anyhow::Context;
use dataset::records::DatasetManifest;
use rayon::prelude::*;

use crate::job::output::view_problem;
use crate::job::plan::read_source_split;

/// What a verification found.
pub struct Report {
    pub objects: usize,
    pub views: usize,
    pub problems: Vec<String>,
}

pub fn verify(dir: &Path) -> anyhow::Result<Report> {
    let manifest = DatasetManifest::read(dir)?;
    let split = read_source_split(dir)?
        .with_context(|| format!("{}: no train_images.npy or val_images.npy", dir.display()))?;
    let mask = manifest.config["mask"].as_bool().unwrap_or(false);
    let depth = !manifest.config["depth"].is_null();
    let from_latents = manifest.config["from_latents"].as_bool().unwrap_or(false);
    let keys: Vec<_> = split.keys().cloned().collect();
    let per_object: Vec<(usize, Vec<String>)> = keys
        .par_iter()
        .map(|key| {
            // A re-render keeps its source's view indices; any other dataset has 0..views.
            let views: Vec<usize> = if from_latents {
                let mut v = dataset::layout::latent_views(&key.dir(dir)).unwrap_or_default();
                v.extend(dataset::layout::image_views(&key.dir(dir)).unwrap_or_default());
                v.sort_unstable();
                v.dedup();
                v
            } else {
                (0..manifest.views).collect()
            };
            let problems = views
                .iter()
                .filter_map(|&v| view_problem(dir, key, v, manifest.image_size, mask, depth, true))
                .collect();
            (views.len(), problems)
        })
        .collect();
    let views = per_object.iter().map(|(n, _)| n).sum();
    let problems = per_object.into_iter().flat_map(|(_, p)| p).collect();
    Ok(Report { objects: keys.len(), views, problems })
}
