//! The renderer as a data source: the small API another program (the trainer) calls to get views
//! rendered in its own process instead of reading a dataset's files.
//!
//! - [`Source::open`] resolves a job exactly as `render` does (the same flags, configuration,
//!   presets, object discovery or `--objects` list, built-in library, keyed-hash split) and refuses
//!   what `render` refuses, with its messages, before anything is drawn.
//! - [`Source::fixed_factors`] are the factors `render` writes for (seed, object, view);
//!   [`Source::fresh_factors`] draw new ones from keyed streams of (seed, epoch, object, draw).
//! - [`LiveRenderer::render`] draws views of one object: RGB pixels at the dataset's image size
//!   (what `render` encodes as JPEG), with the mesh uploaded once and kept in a cache bounded in
//!   bytes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use dataset::config::{RenderConfig, Split};
use dataset::factors::{self, ViewFactors};
use dataset::ObjectKey;

use crate::cli::DatasetArgs;
use crate::gpu::{Antialias, GpuMesh, Renderer};
use crate::job::{objects, plan, JobConfig, Shard};
use crate::mesh::{self, Mesh};

/// What selects the objects and factors: `render`'s flags of the same names.
#[derive(Clone, Debug, Default)]
pub struct SourceOptions {
    /// ShapeNetCore v2 folder; `None`: the built-in library, generated under `library`.
    pub shapenet: Option<PathBuf>,
    /// `--objects`: lines `synset/object_id` or an official `*_images.npy`.
    pub objects: Option<PathBuf>,
    /// `--config`: a factor configuration (presets in `manifests/`); `None`: the reference.
    pub config: Option<PathBuf>,
    pub library: PathBuf,
    pub per_class: Option<usize>,
    pub library_seed: Option<u64>,
    pub views: Option<usize>,
    pub seed: Option<u64>,
    pub image_size: Option<u32>,
    pub val_fraction: Option<f64>,
    pub antialias: Option<Antialias>,
}

impl SourceOptions {
    /// The `render` arguments these options are (nothing is written: `out` is never used).
    fn dataset_args(&self) -> DatasetArgs {
        DatasetArgs {
            shapenet: self.shapenet.clone(),
            out: PathBuf::from("."),
            config: self.config.clone(),
            like: None,
            views: self.views,
            seed: self.seed,
            image_size: self.image_size,
            jpeg_quality: None,
            objects: self.objects.clone(),
            shard: Shard::WHOLE,
            from_latents: None,
            mask: false,
            depth: false,
            keep_going: false,
            val_fraction: self.val_fraction,
            antialias: self.antialias,
            renderers: 1,
            library: self.library.clone(),
            per_class: self.per_class,
            library_seed: self.library_seed,
        }
    }

    /// Writes this job's views into `out` as `render` would, with `renderers` devices (resuming:
    /// complete views are skipped), for a program that needs them as files (`eval --render`).
    pub fn render_files(&self, out: &Path, renderers: usize) -> anyhow::Result<crate::job::Summary> {
        let args = DatasetArgs { out: out.to_path_buf(), renderers, ..self.dataset_args() };
        crate::commands::run_dataset(args)
    }
}

/// One object of a source: its key, split and label (index of its synset, as `render` writes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveObject {
    pub key: ObjectKey,
    pub split: Split,
    pub label: u32,
}

/// A resolved job that renders on request.
pub struct Source {
    job: JobConfig,
    shapenet: PathBuf,
    /// Every object of the job, sorted by key (the order of `render`'s split files).
    pub objects: Vec<LiveObject>,
    /// Classes of the tree (the online classifier's outputs, as `manifest.json` says).
    pub num_classes: usize,
}

impl Source {
    /// Resolves the job as `render` does and checks that every object's mesh file is there.
    pub fn open(opts: &SourceOptions) -> anyhow::Result<Self> {
        let job = crate::commands::job_config(opts.dataset_args())?;
        let tree = objects::ShapeNetTree::open(&job.shapenet)?;
        let plan = plan::plan(&job, &tree)?;
        let mut list = Vec::with_capacity(plan.objects.len());
        for (key, _) in &plan.objects {
            let obj = objects::obj_path(&tree.root, key);
            if !obj.is_file() {
                bail!("{}: object {key}: no mesh file", obj.display());
            }
            let label = tree.label(&key.synset).context("planned objects have labels")? as u32;
            list.push(LiveObject { key: key.clone(), split: plan.split_of(key), label });
        }
        if list.is_empty() {
            bail!("{}: no objects to render", job.shapenet.display());
        }
        Ok(Self { shapenet: tree.root, objects: list, num_classes: tree.synsets.len(), job })
    }

    /// The resolved configuration (seed, views, image size, factors per split).
    pub fn config(&self) -> &RenderConfig {
        &self.job.config
    }

    pub fn views(&self) -> usize {
        self.job.config.settings.views
    }

    /// Side of the rendered images, in pixels (the dataset's `image_size`).
    pub fn image_size(&self) -> u32 {
        self.job.config.settings.image_size
    }

    /// Renders at `size` px instead of the configuration's size (a trainer that resizes to a
    /// smaller resolution need not draw every pixel of the dataset's size); checked as
    /// `--image-size` is. The shadow map scales with it: the same shadow-map texels per image
    /// pixel, hence the same shadows (a 512 map at 128 px cost 40% of the render time).
    pub fn set_image_size(&mut self, size: u32) -> anyhow::Result<()> {
        let settings = &mut self.job.config.settings;
        let before = settings.image_size;
        settings.image_size = size;
        settings.validate(|key| format!("--{}", key.replace('_', "-")))?;
        let render = &mut self.job.render;
        let shadow = u64::from(render.shadow_map_size) * u64::from(size) / u64::from(before.max(1));
        render.shadow_map_size = shadow.clamp(64, u64::from(render.shadow_map_size.max(64))) as u32;
        render.image_size = size;
        Ok(())
    }

    /// The objects of one split, in key order.
    pub fn split(&self, split: Split) -> Vec<LiveObject> {
        self.objects.iter().filter(|o| o.split == split).cloned().collect()
    }

    /// The factors `render` writes for view `view` of `object` (checked as it checks them).
    pub fn fixed_factors(&self, object: &LiveObject, view: usize) -> anyhow::Result<ViewFactors> {
        let f = factors::sample_view(&self.job.config, object.split, &object.key, view);
        f.check().with_context(|| format!("{}: view {view}: {}", object.key, self.job.config.source))?;
        Ok(f)
    }

    /// Factors drawn anew for draw `draw` of `object` in `epoch`: `render`'s sampler with a seed
    /// keyed by (seed, epoch), and `draw` in place of the view, so every factor keeps its own
    /// stream and (seed, epoch, object, draw) fixes all of them.
    pub fn fresh_factors(
        &self,
        object: &LiveObject,
        epoch: usize,
        draw: usize,
    ) -> anyhow::Result<ViewFactors> {
        let mut config = self.job.config.clone();
        let mut r = factors::stream(config.settings.seed, "fresh views", &[&epoch.to_string()]);
        let mut seed = [0u8; 8];
        r.fill(&mut seed);
        config.settings.seed = u64::from_le_bytes(seed);
        let f = factors::sample_view(&config, object.split, &object.key, draw);
        f.check()
            .with_context(|| format!("{}: epoch {epoch}, draw {draw}: {}", object.key, config.source))?;
        Ok(f)
    }

    /// A renderer of this source's objects, caching up to `cache_bytes` of meshes.
    pub fn renderer(&self, cache_bytes: u64) -> anyhow::Result<LiveRenderer> {
        Ok(LiveRenderer {
            renderer: Renderer::new(self.job.render.clone())?,
            shapenet: self.shapenet.clone(),
            cache: MeshCache::new(cache_bytes),
        })
    }
}

/// One rendered view: RGB8 rows top to bottom, `size * size * 3`.
pub struct View {
    pub rgb: Vec<u8>,
    pub size: u32,
    /// Pixels the object covers: 0 when it drew nothing.
    pub covered: usize,
}

/// A renderer with its uploaded meshes. Not shared between threads: make one per thread.
pub struct LiveRenderer {
    renderer: Renderer,
    shapenet: PathBuf,
    cache: MeshCache,
}

impl LiveRenderer {
    /// Views of `key` with the given factors. A mesh that fails to load, or a device error, is
    /// this object's error (named); the renderer is made anew after a device error.
    pub fn render(&mut self, key: &ObjectKey, views: &[ViewFactors]) -> anyhow::Result<Vec<View>> {
        let size = self.renderer.options().image_size;
        let mesh = self.mesh(key)?;
        let drawn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.renderer.render_views(&mesh, views)
        }));
        let frames = match drawn {
            Ok(Ok(frames)) => frames,
            failed => {
                let why = match failed {
                    Ok(Err(e)) => format!("{e:#}"),
                    Err(p) => format!("panicked while rendering: {}", panic_text(p.as_ref())),
                    Ok(Ok(_)) => unreachable!(),
                };
                self.reset()?;
                bail!("{key}: cannot render: {why}");
            }
        };
        Ok(frames.into_iter().map(|f| View { rgb: f.rgb, size, covered: f.covered }).collect())
    }

    /// The object's mesh on the device: from the cache, or loaded, uploaded and cached.
    fn mesh(&mut self, key: &ObjectKey) -> anyhow::Result<std::sync::Arc<GpuMesh>> {
        if let Some(m) = self.cache.get(key) {
            return Ok(m);
        }
        let path = objects::obj_path(&self.shapenet, key);
        let loaded = std::panic::catch_unwind(|| mesh::load_obj(&path))
            .unwrap_or_else(|p| {
                bail!("{}: panicked while loading: {}", path.display(), panic_text(p.as_ref()))
            })
            .with_context(|| key.to_string())?;
        let bytes = mesh_bytes(&loaded);
        let uploaded =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.renderer.upload(&loaded)))
                .unwrap_or_else(|p| bail!("panicked while uploading: {}", panic_text(p.as_ref())));
        let gpu = match uploaded {
            Ok(g) => std::sync::Arc::new(g),
            Err(e) => {
                self.reset()?;
                bail!("{key}: cannot upload: {e:#}");
            }
        };
        self.cache.insert(key.clone(), gpu.clone(), bytes);
        Ok(gpu)
    }

    /// A fresh device after an error that may have broken this one (its meshes go with it).
    fn reset(&mut self) -> anyhow::Result<()> {
        self.cache.clear();
        self.renderer = Renderer::new(self.renderer.options().clone())
            .context("the renderer could not be made anew after an error")?;
        Ok(())
    }

    /// Meshes in the cache and their bytes (for tests and progress).
    pub fn cached(&self) -> (usize, u64) {
        (self.cache.meshes.len(), self.cache.bytes)
    }
}

/// What a mesh takes on the device: its vertex and index buffers and its textures.
fn mesh_bytes(m: &Mesh) -> u64 {
    let v = m.vertices.len() * std::mem::size_of::<mesh::Vertex>();
    let t: usize = m.textures.iter().map(|t| t.rgba.len() * 4 / 3).sum(); // a mip chain adds 1/3
    (v + m.indices.len() * 4 + t) as u64
}

/// Uploaded meshes, least recently used dropped first once over `limit` bytes (one mesh larger
/// than the limit is kept alone: it is needed now).
struct MeshCache {
    limit: u64,
    bytes: u64,
    clock: u64,
    meshes: HashMap<ObjectKey, (std::sync::Arc<GpuMesh>, u64, u64)>,
}

impl MeshCache {
    fn new(limit: u64) -> Self {
        Self { limit, bytes: 0, clock: 0, meshes: HashMap::new() }
    }

    fn get(&mut self, key: &ObjectKey) -> Option<std::sync::Arc<GpuMesh>> {
        self.clock += 1;
        let e = self.meshes.get_mut(key)?;
        e.2 = self.clock;
        Some(e.0.clone())
    }

    fn insert(&mut self, key: ObjectKey, mesh: std::sync::Arc<GpuMesh>, bytes: u64) {
        while self.bytes + bytes > self.limit && !self.meshes.is_empty() {
            let oldest = self.meshes.iter().min_by_key(|(_, e)| e.2).map(|(k, _)| k.clone());
            if let Some((_, b, _)) = oldest.and_then(|k| self.meshes.remove(&k)) {
                self.bytes -= b;
            }
        }
        self.clock += 1;
        self.bytes += bytes;
        self.meshes.insert(key, (mesh, bytes, self.clock));
    }

    fn clear(&mut self) {
        self.meshes.clear();
        self.bytes = 0;
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
