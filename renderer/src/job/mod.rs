//! Dataset jobs: which objects and views to render, rendering them with overlap between mesh
//! loading, the GPU and JPEG encoding, resuming, sharding, failures, and the final manifests.

pub mod check;
mod lock;
pub mod manifests;
pub mod merge;
pub mod objects;
pub mod output;
pub mod plan;
pub mod progress;
pub mod resume;
pub mod shard;
pub mod shard_manifest;

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex};
use std::time::Instant;

use anyhow::{bail, Context};
use dataset::config::{RenderConfig, Split};
use dataset::factors::{self, ViewFactors};
use dataset::records::Failure;
use dataset::{Latent, ObjectKey};
use rayon::prelude::*;

use crate::gpu::{RenderOptions, Renderer};
use crate::mesh::{self, Mesh};
use objects::ShapeNetTree;
pub use shard::Shard;

/// Everything a dataset job needs to know.
#[derive(Clone, Debug)]
pub struct JobConfig {
    pub shapenet: PathBuf,
    pub out: PathBuf,
    /// Settings (seed, views, image size, JPEG quality, latent format, split fraction) and the
    /// factors' distributions per split.
    pub config: RenderConfig,
    pub objects: Option<PathBuf>,
    pub shard: Shard,
    /// Re-render the views whose latents exist under this dataset, with those values.
    pub from_latents: Option<PathBuf>,
    /// Take the objects and split of this dataset (`--like`; `--from-latents` does too).
    pub like: Option<PathBuf>,
    pub mask: bool,
    pub depth: bool,
    pub keep_going: bool,
    pub render: RenderOptions,
    /// Renderers working in parallel (lavapipe draws one mesh on about one core).
    pub renderers: usize,
    /// The built-in library's parameters, recorded so that `--like` can regenerate it.
    pub library: Option<serde_json::Value>,
}

impl JobConfig {
    /// The configuration recorded in `manifest.json`: what determines the dataset's bytes (not
    /// the shard, nor where the inputs were on this machine).
    fn recorded(&self) -> serde_json::Value {
        let name = |p: &Option<PathBuf>| {
            p.as_ref().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned())
        };
        let mut v = self.config.to_json();
        let extra = serde_json::json!({
            "objects": name(&self.objects),
            "from_latents": self.from_latents.is_some(),
            "like": name(&self.like),
            "mask": self.mask,
            "depth": self.depth.then_some("depth_<k>.png: 16-bit PNG, millimetres from the camera centre, 0 = nothing drawn"),
            "antialias": format!("{:?}", self.render.antialias),
            "library": self.library,
        });
        let (serde_json::Value::Object(m), serde_json::Value::Object(e)) = (&mut v, extra) else {
            unreachable!("both are JSON objects")
        };
        m.extend(e);
        v
    }
}

/// What a job did.
#[derive(Debug, Default)]
pub struct Summary {
    pub objects: usize,
    pub rendered: usize,
    pub skipped: usize,
    pub failures: Vec<Failure>,
    pub seconds: f64,
    pub train_objects: usize,
    pub val_objects: usize,
}

impl Summary {
    pub fn line(&self) -> String {
        format!(
            "{} objects: rendered {} images, skipped {} complete, {} failed objects; {:.1} s ({:.1} images/s); manifests: {} train / {} val objects",
            self.objects,
            self.rendered,
            self.skipped,
            self.failures.len(),
            self.seconds,
            self.rendered as f64 / self.seconds.max(1e-9),
            self.train_objects,
            self.val_objects
        )
    }
}

/// One object's work: the views to render and their factors.
struct ObjectWork {
    key: ObjectKey,
    pending: Vec<(usize, ViewFactors)>,
}

/// A loaded mesh, or why it could not be loaded, on its way to the GPU.
struct Loaded {
    work: ObjectWork,
    mesh: anyhow::Result<Mesh>,
}

/// Rendered frames on their way to the encoder.
struct Rendered {
    key: ObjectKey,
    /// What fell back while loading the mesh (missing textures, ...), and views that drew nothing.
    warnings: Vec<String>,
    /// The views rendered now (a resume keeps the other views' warnings).
    rendered_views: std::collections::BTreeSet<usize>,
    views: Vec<(usize, ViewFactors, crate::gpu::Frame)>,
}

/// A view's factors: drawn from the configuration, with the latent file's values under
/// `--from-latents`.
fn factors_of(
    cfg: &JobConfig,
    plan: &plan::Plan,
    key: &ObjectKey,
    view: usize,
) -> anyhow::Result<ViewFactors> {
    let drawn = factors::sample_view(&cfg.config, plan.split_of(key), key, view);
    let factors = match &cfg.from_latents {
        Some(dir) => drawn.with_latent(Latent::read(&key.latent_path(dir, view))?),
        None => drawn,
    };
    // Checked before anything is written: a non-finite or out-of-range value stops the job here.
    factors.check().with_context(|| format!("{key}: view {view}: {}", cfg.config.source))?;
    Ok(factors)
}

/// Loads a mesh; a panic in the parser is that object's error, not the job's end.
fn load_guarded(path: &Path) -> anyhow::Result<Mesh> {
    std::panic::catch_unwind(|| mesh::load_obj(path)).unwrap_or_else(|panic| {
        bail!("{}: panicked while loading: {}", path.display(), panic_message(panic.as_ref()))
    })
}

/// Draws one object. A panic (wgpu, the driver) or a device error is this object's error, and
/// the renderer, whose state it may have broken, is made anew for the next object.
fn draw_guarded(
    renderer: &mut Renderer,
    mesh: &Mesh,
    latents: &[ViewFactors],
) -> anyhow::Result<Vec<crate::gpu::Frame>> {
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| renderer.render_object(mesh, latents)))
            .unwrap_or_else(|panic| bail!("panicked while rendering: {}", panic_message(panic.as_ref())));
    if result.is_err() {
        match Renderer::new(renderer.options().clone()) {
            Ok(fresh) => *renderer = fresh,
            Err(e) => {
                return result.with_context(|| format!("and the renderer could not be made anew: {e:#}"))
            }
        }
    }
    result
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    dataset::input::readable(text.lines().next().unwrap_or_default(), 300)
}

/// A warning for each view in which the object covers no pixel (out of frame, too small or
/// hidden): its image shows no object and its mask is empty.
fn empty_views(pending: &[(usize, ViewFactors)], frames: &[crate::gpu::Frame]) -> Vec<String> {
    pending
        .iter()
        .zip(frames)
        .filter(|(_, f)| f.covered == 0)
        .map(|((v, _), _)| {
            format!(
                "{}{v}: the object draws no pixel (out of frame, too small or hidden)",
                output::VIEW_WARNING
            )
        })
        .collect()
}

/// The views of an object still to render, with their checked factors.
fn pending_views(
    cfg: &JobConfig,
    plan: &plan::Plan,
    key: &ObjectKey,
    views: &[usize],
    skipped: &mut usize,
) -> anyhow::Result<Vec<(usize, ViewFactors)>> {
    let mut pending = Vec::new();
    for &v in views {
        if output::view_complete(cfg, key, v) {
            *skipped += 1;
        } else {
            pending.push((v, factors_of(cfg, plan, key, v)?));
        }
    }
    Ok(pending)
}

/// Runs a dataset job. Returns an error (after writing the manifests) when objects failed.
pub fn run(cfg: &JobConfig) -> anyhow::Result<Summary> {
    let start = Instant::now();
    let tree = ShapeNetTree::open(&cfg.shapenet)?;
    let plan = plan::plan(cfg, &tree)?;
    let manifest_input =
        |failures, adapter| manifests::ManifestInput { cfg, tree: &tree, plan: &plan, failures, adapter };
    // Nothing is written into a folder that another configuration made.
    let run_manifest = manifests::run_manifest(&manifest_input(&[], None));
    resume::check(&cfg.out, &run_manifest)?;
    let sharded = cfg.shard.count > 1;
    let shard_path = shard_manifest::path(&cfg.out, cfg.shard);
    let previous_shard = if sharded && shard_path.exists() {
        Some(shard_manifest::ShardManifest::read(&shard_path)?)
    } else {
        None
    };
    if let Some(previous) = &previous_shard {
        resume::check_against(&shard_path, &previous.run, &run_manifest)?;
    }
    let mine = cfg.shard.select(&plan.objects);
    let write_shard = |contents: manifests::Contents, adapter: Option<String>| {
        shard_manifest::ShardManifest {
            index: cfg.shard.index,
            count: cfg.shard.count,
            run: manifests::run_manifest(&manifest_input(&[], adapter)),
            objects: mine.iter().map(|(k, _)| k.to_string()).collect(),
            contents,
        }
        .write(&cfg.out)
    };

    let mut summary = Summary { objects: mine.len(), ..Default::default() };
    let mut work = Vec::new();
    // An object whose factors are bad (a damaged latent under --from-latents) is that object's
    // failure, as a broken mesh is.
    let mut early_failures = Vec::new();
    for (key, views) in &mine {
        match pending_views(cfg, &plan, key, views, &mut summary.skipped) {
            Ok(pending) if pending.is_empty() => {}
            Ok(pending) => work.push(ObjectWork { key: key.clone(), pending }),
            Err(e) if cfg.keep_going => {
                eprintln!("error: {key}: {e:#}");
                early_failures.push(Failure { object: key.to_string(), error: format!("{e:#}") });
            }
            Err(e) => return Err(e),
        }
    }
    let total: usize = work.iter().map(|w| w.pending.len()).sum();
    let bar = progress::bar(total as u64);

    let mut adapter = None;
    let _lock = if work.is_empty() { None } else { Some(lock::lock_shard(&cfg.out, cfg.shard)?) };
    if !work.is_empty() {
        let renderers = (0..cfg.renderers.clamp(1, work.len()))
            .map(|_| Renderer::new(cfg.render.clone()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        adapter = Some(renderers[0].adapter_info());
        // Recorded before the first image, so that a killed run is resumed only by its twin. A
        // shard writes only its own manifest: shards may run at once into one folder.
        if sharded {
            if previous_shard.is_none() {
                let nothing = manifests::Contents {
                    complete: Vec::new(),
                    incomplete: mine.iter().map(|(k, _)| k.to_string()).collect(),
                    classes: Vec::new(),
                    failures: Vec::new(),
                    skipped: plan.skipped.clone(),
                };
                write_shard(nothing, adapter.clone())?;
            }
        } else if !cfg.out.join(dataset::records::MANIFEST_FILE).exists() {
            std::fs::create_dir_all(&cfg.out)
                .with_context(|| format!("{}: cannot create", cfg.out.display()))?;
            manifests::run_manifest(&manifest_input(&[], adapter.clone())).write(&cfg.out)?;
        }
        let outcome = render_all(cfg, &tree.root, work, renderers, &bar)?;
        summary.rendered = outcome.rendered;
        summary.failures = outcome.failures;
    }
    summary.failures.extend(early_failures);
    summary.failures.sort_by(|a, b| a.object.cmp(&b.object));
    bar.finish_and_clear();

    if sharded {
        let adapter = adapter.or_else(|| previous_shard.as_ref().and_then(|p| p.run.adapter.clone()));
        let previous = previous_shard.map(|p| p.contents.failures).unwrap_or_default();
        let contents = manifests::gather(&manifest_input(&summary.failures, None), &mine, previous)?;
        summary.train_objects = contents.in_split(Split::Train.name()).count();
        summary.val_objects = contents.in_split(Split::Val.name()).count();
        write_shard(contents, adapter)?;
    } else {
        let counts = manifests::write_manifests(&manifest_input(&summary.failures, adapter))?;
        summary.train_objects = counts.train;
        summary.val_objects = counts.val;
    }
    summary.seconds = start.elapsed().as_secs_f64();
    Ok(summary)
}

/// What the rendering stage did.
#[derive(Default)]
struct Outcome {
    rendered: usize,
    failures: Vec<Failure>,
}

/// The pipeline: a loader thread reads meshes ahead, one thread per renderer draws objects as they
/// come, a writer thread encodes and writes the files on the rayon pool. Bounded channels keep
/// memory flat. Objects are written whole, so which renderer drew one does not change its bytes.
fn render_all(
    cfg: &JobConfig,
    shapenet: &Path,
    mut work: Vec<ObjectWork>,
    renderers: Vec<Renderer>,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<Outcome> {
    let (load_tx, load_rx) = mpsc::sync_channel::<Loaded>(renderers.len() + 1);
    let load_rx = Mutex::new(load_rx);
    let (write_tx, write_rx) = mpsc::sync_channel::<Rendered>(renderers.len() + 1);
    let failures = Mutex::new(Vec::new());
    // Without --keep-going, the first failing object (in object order) stops the run before any of
    // its files is written; objects after it are not started.
    let stop = std::sync::atomic::AtomicBool::new(false);
    work.sort_by(|a, b| a.key.cmp(&b.key));
    let rendered = std::thread::scope(|scope| {
        let stop = &stop;
        let loader = scope.spawn(move || {
            for w in work {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                let mesh = load_guarded(&objects::obj_path(shapenet, &w.key));
                if load_tx.send(Loaded { work: w, mesh }).is_err() {
                    return;
                }
            }
        });
        let writer = scope.spawn(move || -> anyhow::Result<usize> {
            let mut written = 0;
            for r in write_rx {
                output::remove_stale_temps(&r.key.dir(&cfg.out))?;
                let kept = output::earlier_view_warnings(&cfg.out, &r.key, &r.rendered_views)?;
                output::write_warnings(&cfg.out, &r.key, &[r.warnings, kept].concat())?;
                r.views.par_iter().try_for_each(|(v, factors, frame)| {
                    output::write_view(cfg, &r.key, *v, &factors.latent, frame)
                })?;
                bar.inc(r.views.len() as u64);
                written += r.views.len();
            }
            Ok(written)
        });

        let workers: Vec<_> = renderers
            .into_iter()
            .map(|mut renderer| {
                let (load_rx, write_tx, failures) = (&load_rx, write_tx.clone(), &failures);
                scope.spawn(move || -> anyhow::Result<()> {
                    loop {
                        let next = load_rx.lock().expect("loader queue").recv();
                        let Ok(loaded) = next else { return Ok(()) };
                        if stop.load(std::sync::atomic::Ordering::Relaxed) {
                            return Ok(());
                        }
                        let key = loaded.work.key.clone();
                        let mut warnings = Vec::new();
                        let drawn = loaded.mesh.and_then(|mesh| {
                            warnings.clone_from(&mesh.warnings);
                            let latents: Vec<ViewFactors> =
                                loaded.work.pending.iter().map(|(_, l)| *l).collect();
                            draw_guarded(&mut renderer, &mesh, &latents).with_context(|| key.to_string())
                        });
                        if let Ok(frames) = &drawn {
                            warnings.extend(empty_views(&loaded.work.pending, frames));
                        }
                        for w in &warnings {
                            progress::report(bar, &format!("warning: {key}: {w}"));
                        }
                        let frames = match drawn {
                            Ok(frames) => frames,
                            Err(e) => {
                                let error = format!("{e:#}");
                                if !cfg.keep_going {
                                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                                    bail!("{error}");
                                }
                                progress::report(bar, &format!("error: {key}: {error}"));
                                bar.inc(loaded.work.pending.len() as u64);
                                failures
                                    .lock()
                                    .expect("failures")
                                    .push(Failure { object: key.to_string(), error });
                                continue;
                            }
                        };
                        let views: Vec<_> = loaded
                            .work
                            .pending
                            .into_iter()
                            .zip(frames)
                            .map(|((v, l), f)| (v, l, f))
                            .collect();
                        let rendered_views = views.iter().map(|(v, _, _)| *v).collect();
                        if write_tx.send(Rendered { key, warnings, rendered_views, views }).is_err() {
                            return Ok(()); // the writer failed: its error is reported below
                        }
                    }
                })
            })
            .collect();
        drop(write_tx);
        let mut result = Ok(());
        for w in workers {
            let r = w.join().expect("render thread panicked");
            if result.is_ok() {
                result = r;
            }
        }
        // After an early stop the loader may be blocked on a full queue: drain it until it ends.
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        while !loader.is_finished() {
            while load_rx.lock().expect("loader queue").try_recv().is_ok() {}
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let written = writer.join().expect("writer thread panicked");
        result.and(written)
    });
    let rendered = rendered?;
    let mut failures = failures.into_inner().expect("failures");
    failures.sort_by(|a, b| a.object.cmp(&b.object));
    Ok(Outcome { rendered, failures })
}
