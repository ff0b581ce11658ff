//! What each `render` command does, as library functions: they take the parsed arguments and
//! return results (no printing of results, no exit codes), so that `main.rs` only parses,
//! prints and maps to an exit status, and other programs (the trainer) can run them too.

use std::path::{Path, PathBuf};

use anyhow::Context;
use dataset::config::RenderConfig;
use dataset::records::DatasetManifest;

use crate::cli::{DatasetArgs, FidelityArgs, PreviewArgs};
use crate::fidelity::{FidelityOptions, FidelityReport};
use crate::gpu::{Antialias, RenderOptions};
use crate::job::{self, JobConfig, Summary};

/// Generates the built-in library unless it is already there; the number of objects generated,
/// `None` when it was there.
pub fn ensure_library(dir: &Path, per_class: usize, seed: u64) -> anyhow::Result<Option<usize>> {
    if dir.join("taxonomy.json").is_file() {
        return Ok(None);
    }
    Ok(Some(synth::generate_library(dir, per_class, seed)?.len()))
}

/// `render preview`: the contact sheet of `a.library` (which must exist, see [`ensure_library`]),
/// one row per class, or one row per `--config` file.
pub fn preview(a: &PreviewArgs) -> anyhow::Result<()> {
    if a.configs.is_empty() {
        return crate::preview::contact_sheet(&a.library, &a.out, a.per_class, a.views, a.image_size, a.seed);
    }
    let configs = named_configs(&a.configs)?;
    crate::preview::config_sheet(&a.library, &a.out, &configs, a.per_class, a.views, a.image_size)
}

/// Reads factor configurations, each named by its file stem (the row label of a sheet).
pub fn named_configs(paths: &[PathBuf]) -> anyhow::Result<Vec<(String, RenderConfig)>> {
    paths
        .iter()
        .map(|p| {
            let name =
                p.file_stem().map_or_else(|| p.display().to_string(), |s| s.to_string_lossy().into_owned());
            Ok((name, RenderConfig::read(p)?))
        })
        .collect()
}

/// `render fidelity`: renders the reference set's scenes and scores them against Cycles.
pub fn fidelity(a: FidelityArgs) -> anyhow::Result<FidelityReport> {
    let images = a.images.unwrap_or_else(|| a.scenes.parent().unwrap_or(Path::new(".")).join("images"));
    let mut views = a.views;
    if views.is_empty() {
        // The first view of each mesh.
        let set = crate::fidelity::load_scenes(&a.scenes)?;
        let mut seen = std::collections::HashSet::new();
        views = set.scenes.iter().filter(|s| seen.insert(s.mesh.clone())).map(|s| s.name.clone()).collect();
    }
    crate::fidelity::run(&FidelityOptions {
        scenes: a.scenes,
        images,
        antialias: a.antialias,
        side_by_side: a.side_by_side.map(|p| (p, views)),
    })
}

/// The configuration of a run: the reference, or `--like DIR`'s, with `--config`'s changes on
/// top, then the command line's flags; and the source dataset's manifest, if any.
pub fn resolve_config(a: &DatasetArgs) -> anyhow::Result<(RenderConfig, Option<DatasetManifest>)> {
    let source_dir = a.like.as_deref().or(a.from_latents.as_deref());
    let source = match source_dir {
        Some(dir) if a.like.is_some() || dir.join(dataset::records::MANIFEST_FILE).exists() => {
            Some(DatasetManifest::read(dir).context("--like and --from-latents read the source's manifest")?)
        }
        _ => None,
    };
    let mut config = match (source_dir, &source) {
        (Some(dir), Some(m)) => source_config(a, dir, m)?,
        _ => RenderConfig::reference(),
    };
    if let Some(file) = &a.config {
        config = config.with_changes_from(file)?;
    }
    let s = &mut config.settings;
    if let (Some(m), None) = (&source, a.views) {
        s.views = m.views; // --from-latents: the manifest says what the source has
    }
    s.views = a.views.unwrap_or(s.views);
    s.seed = a.seed.unwrap_or(s.seed);
    s.image_size = a.image_size.unwrap_or(s.image_size);
    s.jpeg_quality = a.jpeg_quality.unwrap_or(s.jpeg_quality);
    s.val_fraction = a.val_fraction.unwrap_or(s.val_fraction);
    s.validate(|key| format!("--{}", key.replace('_', "-")))?;
    Ok((config, source))
}

/// The source's own configuration: --like changes it, --from-latents re-renders with it.
fn source_config(a: &DatasetArgs, dir: &Path, m: &DatasetManifest) -> anyhow::Result<RenderConfig> {
    let path = dir.join(dataset::records::MANIFEST_FILE).display().to_string();
    match RenderConfig::from_recorded(&m.config, &path) {
        Ok(c) => Ok(c),
        // Generator 0.1 recorded no factor configuration: its datasets are the reference.
        Err(e) if a.like.is_none() => {
            eprintln!("warning: {e:#}; re-rendering with the reference factors");
            Ok(RenderConfig::reference())
        }
        Err(e) => Err(e),
    }
}

/// The main job (`render` without a subcommand): resolves the configuration, generates the
/// built-in library when no ShapeNet is given, and renders. Objects that failed under
/// --keep-going are in the summary's failures.
pub fn run_dataset(a: DatasetArgs) -> anyhow::Result<Summary> {
    job::run(&job_config(a)?)
}

/// What `run_dataset` runs: the resolved configuration and the library (generated if needed).
pub fn job_config(a: DatasetArgs) -> anyhow::Result<JobConfig> {
    anyhow::ensure!((1..=64).contains(&a.renderers), "--renderers: {} is out of range 1..=64", a.renderers);
    let (config, source) = resolve_config(&a)?;
    let recorded = |key: &str| source.as_ref().and_then(|m| m.config.get(key).cloned());
    let (shapenet, library) = match a.shapenet {
        Some(p) => (p, None),
        None => {
            let info = library_for(&a, recorded("library").filter(|v| !v.is_null()))?;
            (a.library.clone(), Some(info))
        }
    };
    let antialias = match (a.antialias, recorded("antialias").and_then(|v| v.as_str().map(str::to_string))) {
        (Some(aa), _) => aa,
        (None, Some(name)) if a.like.is_some() => name.parse()?,
        _ => Antialias::Fxaa,
    };
    Ok(JobConfig {
        shapenet,
        out: a.out,
        render: RenderOptions {
            image_size: config.settings.image_size,
            mask: a.mask,
            depth: a.depth,
            antialias,
            ..Default::default()
        },
        config,
        objects: a.objects,
        shard: a.shard,
        from_latents: a.from_latents,
        like: a.like,
        mask: a.mask,
        depth: a.depth,
        keep_going: a.keep_going,
        renderers: a.renderers,
        library,
    })
}

/// Generates the built-in library into `a.library` and returns its parameters as recorded in
/// the manifest. `like_library`: those of the `--like` dataset, so that it gets the same library.
fn library_for(
    a: &DatasetArgs,
    like_library: Option<serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    let from_source = |key: &str| like_library.as_ref().and_then(|l| l[key].as_u64());
    let per_class = a.per_class.or(from_source("per_class").map(|n| n as usize)).unwrap_or(20);
    let library_seed = a.library_seed.or(from_source("seed")).unwrap_or(0);
    anyhow::ensure!(
        (1..=100_000).contains(&per_class),
        "--per-class: {per_class} is out of range 1..=100000"
    );
    // Regenerating is deterministic and cheap; it also repairs a partial library.
    synth::generate_library(&a.library, per_class, library_seed)?;
    Ok(serde_json::json!({ "per_class": per_class, "seed": library_seed }))
}
