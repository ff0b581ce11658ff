use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use dataset::config::RenderConfig;
use dataset::records::DatasetManifest;
use renderer::cli::{Cli, Command, DatasetArgs};
use renderer::gpu::{Antialias, RenderOptions};
use renderer::job::{self, JobConfig};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Synth(a)) => synth::generate_library(&a.out, a.per_class, a.seed).map(|objects| {
            println!(
                "wrote {} objects of {} classes to {}",
                objects.len(),
                synth::classes().len(),
                a.out.display()
            );
            true
        }),
        Some(Command::Preview(a)) => ensure_library(&a.library, a.per_class, a.seed)
            .and_then(|_| {
                if a.configs.is_empty() {
                    return renderer::preview::contact_sheet(
                        &a.library,
                        &a.out,
                        a.per_class,
                        a.views,
                        a.image_size,
                        a.seed,
                    );
                }
                let configs = a
                    .configs
                    .iter()
                    .map(|p| {
                        let name = p
                            .file_stem()
                            .map_or_else(|| p.display().to_string(), |s| s.to_string_lossy().into_owned());
                        Ok((name, RenderConfig::read(p)?))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                renderer::preview::config_sheet(
                    &a.library,
                    &a.out,
                    &configs,
                    a.per_class,
                    a.views,
                    a.image_size,
                )
            })
            .map(|_| {
                println!("wrote {}", a.out.display());
                true
            }),
        Some(Command::Bench(a)) => renderer::bench::run_bench(a.views, a.runs, a.image_size).map(|report| {
            println!("{report}");
            true
        }),
        Some(Command::Fidelity(a)) => run_fidelity(a).map(|report| {
            print!("{}", report.table());
            true
        }),
        Some(Command::Verify { dir }) => renderer::verify::verify(&dir).map(|report| {
            for p in &report.problems {
                eprintln!("damaged: {p}");
            }
            println!(
                "{}: {} objects, {} views checked: {} missing or damaged",
                dir.display(),
                report.objects,
                report.views,
                report.problems.len()
            );
            report.problems.is_empty()
        }),
        Some(Command::Merge { dir }) => job::merge::merge(&dir).map(|m| {
            println!(
                "{}: merged {} shards: {} train / {} val objects, {} images",
                dir.display(),
                m.shards,
                m.counts.train,
                m.counts.val,
                m.counts.images
            );
            // As a one-process run with --keep-going: the manifests list them, the status says so.
            for f in &m.failures {
                eprintln!("failed: {}: {}", f.object, f.error);
            }
            m.failures.is_empty()
        }),
        None => run_dataset(cli.dataset),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_fidelity(a: renderer::cli::FidelityArgs) -> anyhow::Result<renderer::fidelity::FidelityReport> {
    let images =
        a.images.unwrap_or_else(|| a.scenes.parent().unwrap_or(std::path::Path::new(".")).join("images"));
    let mut views = a.views;
    if views.is_empty() {
        // The first view of each mesh.
        let set = renderer::fidelity::load_scenes(&a.scenes)?;
        let mut seen = std::collections::HashSet::new();
        views = set.scenes.iter().filter(|s| seen.insert(s.mesh.clone())).map(|s| s.name.clone()).collect();
    }
    renderer::fidelity::run(&renderer::fidelity::FidelityOptions {
        scenes: a.scenes,
        images,
        antialias: a.antialias,
        side_by_side: a.side_by_side.map(|p| (p, views)),
    })
}

/// Generates the built-in library unless it is already there.
fn ensure_library(dir: &std::path::Path, per_class: usize, seed: u64) -> anyhow::Result<()> {
    if !dir.join("taxonomy.json").is_file() {
        let objects = synth::generate_library(dir, per_class, seed)?;
        eprintln!("generated the built-in library: {} objects in {}", objects.len(), dir.display());
    }
    Ok(())
}

/// The configuration of a run: the reference, or `--like DIR`'s, with `--config`'s changes on
/// top, then the command line's flags.
fn resolve_config(a: &DatasetArgs) -> anyhow::Result<(RenderConfig, Option<DatasetManifest>)> {
    let source_dir = a.like.as_deref().or(a.from_latents.as_deref());
    let source = match source_dir {
        Some(dir) if a.like.is_some() || dir.join(dataset::records::MANIFEST_FILE).exists() => {
            Some(DatasetManifest::read(dir).context("--like and --from-latents read the source's manifest")?)
        }
        _ => None,
    };
    // The source's own configuration: --like changes it, --from-latents re-renders with it.
    let mut config = match (source_dir, &source) {
        (Some(dir), Some(m)) => {
            let path = dir.join(dataset::records::MANIFEST_FILE).display().to_string();
            match RenderConfig::from_recorded(&m.config, &path) {
                Ok(c) => c,
                // Generator 0.1 recorded no factor configuration: its datasets are the reference.
                Err(e) if a.like.is_none() => {
                    eprintln!("warning: {e:#}; re-rendering with the reference factors");
                    RenderConfig::reference()
                }
                Err(e) => return Err(e),
            }
        }
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

/// The main job. Ok(false) when objects failed under --keep-going.
fn run_dataset(a: DatasetArgs) -> anyhow::Result<bool> {
    anyhow::ensure!((1..=64).contains(&a.renderers), "--renderers: {} is out of range 1..=64", a.renderers);
    let (config, source) = resolve_config(&a)?;
    let recorded = |key: &str| source.as_ref().and_then(|m| m.config.get(key).cloned());
    let (shapenet, library) = match a.shapenet {
        Some(p) => (p, None),
        None => {
            // --like a dataset of the built-in library: the same library.
            let like_library = recorded("library").filter(|v| !v.is_null());
            let from_source = |key: &str| like_library.as_ref().and_then(|l| l[key].as_u64());
            let per_class = a.per_class.or(from_source("per_class").map(|n| n as usize)).unwrap_or(20);
            let library_seed = a.library_seed.or(from_source("seed")).unwrap_or(0);
            anyhow::ensure!(
                (1..=100_000).contains(&per_class),
                "--per-class: {per_class} is out of range 1..=100000"
            );
            // Regenerating is deterministic and cheap; it also repairs a partial library.
            synth::generate_library(&a.library, per_class, library_seed)?;
            let info = serde_json::json!({ "per_class": per_class, "seed": library_seed });
            (a.library.clone(), Some(info))
        }
    };
    let antialias = match (a.antialias, recorded("antialias").and_then(|v| v.as_str().map(str::to_string))) {
        (Some(aa), _) => aa,
        (None, Some(name)) if a.like.is_some() => name.parse()?,
        _ => Antialias::Fxaa,
    };
    let cfg = JobConfig {
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
    };
    let summary = job::run(&cfg)?;
    println!("{}", summary.line());
    for f in &summary.failures {
        eprintln!("failed: {}: {}", f.object, f.error);
    }
    Ok(summary.failures.is_empty())
}
