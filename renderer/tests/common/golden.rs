//! Golden scenes as data: each `tests/golden/**/<name>.toml` is one scene, `<name>.png` beside it
//! its reference image. A scene file says:
//!
//! ```toml
//! mesh = "tests/fixtures/meshes/90000002/table/models/model_normalized.obj"  # from the repo root
//! image_size = 128          # pixels of each (square) view
//! antialias = "msaa4"       # none, msaa4, ssaa2 or fxaa
//! tolerance = { channel = 3, max_differing_fraction = 0.01 }
//!
//! [factors]                 # as in a render config (manifests/3diebench.toml)
//! rotation_x = 0.5
//! # ...
//!
//! [[views]]                 # optional: several views side by side, each [factors] plus these
//! spot_theta = 0
//! ```
//!
//! A factor left out is the reference's; every factor must end up fixed (a golden image pins
//! values, not the sampler). A pixel differs when any channel is off by more than
//! `tolerance.channel`; a scene fails when more than `max_differing_fraction` of its pixels
//! differ, and then `<name>.new.png` (this run's image) and `<name>.diff.png` (differing pixels
//! red over the dimmed reference) are written beside it (gitignored).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use dataset::config::{Factor, FactorSet, RenderConfig, RotationMode, Split};
use dataset::factors::{sample_view, ViewFactors};
use dataset::ObjectKey;
use image::RgbImage;
use renderer::gpu::{Antialias, RenderOptions, Renderer};
use renderer::mesh::load_obj;

/// The file's keys, checked strictly so that a misspelt key fails instead of being ignored.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SceneFile {
    mesh: PathBuf,
    image_size: u32,
    antialias: String,
    tolerance: Tolerance,
    #[serde(default)]
    factors: toml::Table,
    #[serde(default)]
    views: Vec<toml::Table>,
}

#[derive(Clone, Copy, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tolerance {
    /// Largest difference of a channel (0-255) that still counts as equal.
    pub channel: u8,
    /// Largest share of differing pixels that still passes.
    pub max_differing_fraction: f64,
}

/// One golden scene, resolved.
pub struct Scene {
    /// The `.toml` file, which names the scene in every message.
    pub file: PathBuf,
    pub mesh: PathBuf,
    pub image_size: u32,
    pub antialias: Antialias,
    pub tolerance: Tolerance,
    pub views: Vec<ViewFactors>,
}

impl Scene {
    pub fn read(file: &Path) -> anyhow::Result<Self> {
        let source = shown(file);
        let text = std::fs::read_to_string(file).with_context(|| format!("{source}: cannot read"))?;
        let s: SceneFile = toml::from_str(&text).with_context(|| format!("{source}: not a golden scene"))?;
        let mut shared = FactorSet::reference();
        shared.apply(&s.factors, &source, "factors")?;
        let overrides = if s.views.is_empty() { vec![toml::Table::new()] } else { s.views };
        let views = overrides
            .iter()
            .enumerate()
            .map(|(i, t)| view(&shared, t, &source, &format!("views[{i}]")))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            file: file.to_path_buf(),
            mesh: super::repo_root().join(s.mesh),
            image_size: s.image_size,
            antialias: s.antialias.parse().with_context(|| format!("{source}: antialias"))?,
            tolerance: s.tolerance,
            views,
        })
    }

    /// `<name><suffix>` beside the scene file (`.png`: the reference).
    pub fn sibling(&self, suffix: &str) -> PathBuf {
        let stem = self.file.file_stem().expect("a scene file has a name").to_string_lossy();
        self.file.with_file_name(format!("{stem}{suffix}"))
    }
}

/// The factors of one view: the scene's `[factors]`, then the view's own keys.
fn view(shared: &FactorSet, overrides: &toml::Table, source: &str, at: &str) -> anyhow::Result<ViewFactors> {
    let mut set = shared.clone();
    set.apply(overrides, source, at)?;
    if set.rotation != RotationMode::Euler {
        bail!("{source}: {at}: rotation = \"so3\" is random; a golden scene fixes every factor");
    }
    if let Some(f) = Factor::ALL.iter().find(|&&f| set.get(f).is_random()) {
        bail!(
            "{source}: {at}: {} is random ({}); a golden scene fixes every factor",
            f.name(),
            set.get(*f).to_json()
        );
    }
    let mut config = RenderConfig::reference();
    config.train = set;
    // Every factor is fixed, so the object key and view index draw nothing.
    Ok(sample_view(&config, Split::Train, &ObjectKey::new("golden", "scene")?, 0))
}

/// A path as messages show it: from the repository's root.
pub fn shown(path: &Path) -> String {
    path.strip_prefix(super::repo_root()).unwrap_or(path).display().to_string()
}

/// The scene files under `dir`, at any depth, sorted.
pub fn scene_files(dir: &Path) -> Vec<PathBuf> {
    files_with_extension(dir, "toml")
}

pub fn files_with_extension(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_with_extension(&path, ext));
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Whether `BLESS` (other than `0`) asks to rewrite the references.
pub fn bless() -> bool {
    std::env::var_os("BLESS").is_some_and(|v| v != "0")
}

/// One renderer per image size and anti-aliasing: starting one costs more than a scene.
#[derive(Default)]
pub struct Renderers(Vec<((u32, Antialias), Renderer)>);

impl Renderers {
    /// The scene's views side by side; `None` when there is no adapter and the caller may skip.
    pub fn render(&mut self, scene: &Scene) -> anyhow::Result<Option<RgbImage>> {
        let Some(renderer) = self.get(scene.image_size, scene.antialias) else { return Ok(None) };
        let mesh = load_obj(&scene.mesh)?;
        // Golden meshes need not be unit-diagonal: only their rescale may be reported.
        let unexpected: Vec<_> = mesh.warnings.iter().filter(|w| !w.contains("rescaled to 1")).collect();
        anyhow::ensure!(unexpected.is_empty(), "mesh warnings: {unexpected:?}");
        let gpu = renderer.upload(&mesh)?;
        let frames = renderer.render_views(&gpu, &scene.views)?;
        let size = scene.image_size;
        let mut strip = RgbImage::new(size * frames.len() as u32, size);
        for (i, frame) in frames.into_iter().enumerate() {
            let tile = RgbImage::from_raw(size, size, frame.rgb).context("frame of the wrong size")?;
            image::imageops::replace(&mut strip, &tile, i as i64 * size as i64, 0);
        }
        Ok(Some(strip))
    }

    fn get(&mut self, size: u32, antialias: Antialias) -> Option<&mut Renderer> {
        let key = (size, antialias);
        if !self.0.iter().any(|(k, _)| *k == key) {
            match Renderer::new(RenderOptions { image_size: size, antialias, ..Default::default() }) {
                Ok(r) => self.0.push((key, r)),
                Err(e) => {
                    super::skip_without_adapter(&e, "golden-image tests");
                    return None;
                }
            }
        }
        self.0.iter_mut().find(|(k, _)| *k == key).map(|(_, r)| r)
    }
}

/// Compares `image` with the scene's reference, or rewrites the reference when `bless`.
pub fn compare_or_bless(scene: &Scene, image: &RgbImage, bless: bool) -> anyhow::Result<()> {
    let reference_path = scene.sibling(".png");
    let (new_path, diff_path) = (scene.sibling(".new.png"), scene.sibling(".diff.png"));
    if bless {
        image.save(&reference_path)?;
        eprintln!("blessed {}", shown(&reference_path));
    } else {
        let reference = image::open(&reference_path)
            .with_context(|| {
                format!("cannot read {}; run with BLESS=1 to create it", shown(&reference_path))
            })?
            .to_rgb8();
        if let Err(e) = compare(&reference, image, scene.tolerance, &diff_path) {
            image.save(&new_path)?;
            bail!("{e}; see {} and {}", shown(&new_path), shown(&diff_path));
        }
    }
    // What an earlier failure left is stale now.
    let _ = std::fs::remove_file(new_path);
    let _ = std::fs::remove_file(diff_path);
    Ok(())
}

/// The metric: fails when too many pixels differ by more than the channel tolerance, and then
/// writes the differing pixels in red over the dimmed reference to `diff_path`.
fn compare(reference: &RgbImage, got: &RgbImage, tol: Tolerance, diff_path: &Path) -> anyhow::Result<()> {
    let (width, height) = got.dimensions();
    if reference.dimensions() != (width, height) {
        bail!("reference is {:?}, the scene {width}x{height}", reference.dimensions());
    }
    let mut diff = RgbImage::new(width, height);
    let (mut differing, mut worst) = (0usize, 0u8);
    for ((got, want), out) in got.pixels().zip(reference.pixels()).zip(diff.pixels_mut()) {
        let d = (0..3).map(|c| got[c].abs_diff(want[c])).max().unwrap();
        worst = worst.max(d);
        if d > tol.channel {
            differing += 1;
            *out = image::Rgb([255, 0, 0]);
        } else {
            *out = image::Rgb(want.0.map(|c| c / 3));
        }
    }
    let fraction = differing as f64 / (width * height) as f64;
    if fraction > tol.max_differing_fraction {
        diff.save(diff_path)?;
        bail!(
            "{differing} pixels ({:.2}%) differ by more than {} (worst {worst})",
            100.0 * fraction,
            tol.channel
        );
    }
    Ok(())
}
