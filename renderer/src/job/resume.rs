//! Resuming: a dataset folder is only ever continued by the run that made it. Before anything is
//! written, the folder's `manifest.json` is compared with this run's, setting by setting.

use std::path::Path;

use anyhow::bail;
use dataset::records::{DatasetManifest, MANIFEST_FILE};

/// The settings that decide a dataset's bytes, as paths into the manifest (JSON pointers).
const COMPARED: [(&str, &str); 9] = [
    ("generator_version", "/generator_version"),
    ("image_size", "/config/dataset/image_size"),
    ("seed", "/config/dataset/seed"),
    ("views", "/config/dataset/views"),
    ("jpeg_quality", "/config/dataset/jpeg_quality"),
    ("latent", "/config/dataset/latent"),
    ("config_hash", "/config_hash"),
    ("antialias", "/config/antialias"),
    ("objects_hash", "/objects_hash"),
];

/// Refuses to continue `out` when its manifest disagrees with `run` (this run's manifest),
/// naming the first key that differs. A folder without a manifest is new.
pub fn check(out: &Path, run: &DatasetManifest) -> anyhow::Result<()> {
    let path = out.join(MANIFEST_FILE);
    if !path.exists() {
        return Ok(());
    }
    check_against(&path, &DatasetManifest::read(out)?, run)
}

/// Refuses to continue what `existing` (read from `path`) describes when it disagrees with `run`.
pub fn check_against(path: &Path, existing: &DatasetManifest, run: &DatasetManifest) -> anyhow::Result<()> {
    match first_difference(existing, run)? {
        None => Ok(()),
        Some(d) => bail!(
            "{}: {} is {} in the dataset but {} in this run{}: refusing to resume into it; render into a new --out",
            path.display(),
            d.key,
            d.existing,
            d.run,
            d.hint
        ),
    }
}

/// A setting on which two manifests disagree.
pub struct Difference {
    pub key: &'static str,
    pub existing: String,
    pub run: String,
    /// Where to look, for keys that summarise much.
    pub hint: &'static str,
}

/// The first setting (of those that decide a dataset's bytes) on which the manifests disagree.
pub fn first_difference(
    existing: &DatasetManifest,
    run: &DatasetManifest,
) -> anyhow::Result<Option<Difference>> {
    let (old, new) = (serde_json::to_value(existing)?, serde_json::to_value(run)?);
    let show = |v: Option<&serde_json::Value>| v.map_or("missing".to_string(), |v| v.to_string());
    Ok(COMPARED.iter().find(|(_, pointer)| old.pointer(pointer) != new.pointer(pointer)).map(
        |&(key, pointer)| Difference {
            key,
            existing: show(old.pointer(pointer)),
            run: show(new.pointer(pointer)),
            hint: match key {
                "config_hash" => " (the factor configuration differs: compare the manifest's config.factors)",
                "objects_hash" => " (another set of objects)",
                _ => "",
            },
        },
    ))
}
