//! `render fidelity`: renders the scenes of a Cycles reference set (bench/cycles/scenes.json,
//! rendered by bench/cycles/render_cycles.py) and compares them with Blender's images: PSNR and
//! SSIM per image and overall, mean colour error on the object and on the floor (split by
//! Blender's object mask), and silhouette IoU against that mask.

pub mod metrics;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use dataset::Latent;
use serde::Deserialize;

use crate::gpu::{Antialias, RenderOptions, Renderer};
use crate::mesh::load_obj;

/// bench/cycles/scenes.json.
#[derive(Debug, Deserialize)]
pub struct SceneSet {
    pub image_size: u32,
    /// The built-in library the synthetic meshes come from (regenerated when missing).
    pub library: Option<LibrarySpec>,
    pub scenes: Vec<Scene>,
}

#[derive(Debug, Deserialize)]
pub struct LibrarySpec {
    /// Relative to the scene file's folder.
    pub dir: PathBuf,
    pub per_class: usize,
    pub seed: u64,
}

#[derive(Debug, Deserialize)]
pub struct Scene {
    pub name: String,
    /// OBJ path relative to the scene file's folder.
    pub mesh: PathBuf,
    pub latent: [f64; 7],
}

/// One image's numbers.
#[derive(Clone, Debug)]
pub struct ImageScore {
    pub name: String,
    pub psnr: f64,
    pub ssim: f64,
    /// Mean absolute channel error (0-255) where Blender's mask covers the pixel.
    pub object_error: Option<f64>,
    /// The same outside both masks (the floor).
    pub floor_error: Option<f64>,
    pub iou: f64,
}

pub struct FidelityReport {
    pub images: Vec<ImageScore>,
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / n.max(1) as f64
}

impl FidelityReport {
    pub fn mean_psnr(&self) -> f64 {
        mean(self.images.iter().map(|s| s.psnr))
    }
    pub fn min_psnr(&self) -> f64 {
        self.images.iter().map(|s| s.psnr).fold(f64::INFINITY, f64::min)
    }
    pub fn mean_ssim(&self) -> f64 {
        mean(self.images.iter().map(|s| s.ssim))
    }
    pub fn mean_object_error(&self) -> f64 {
        mean(self.images.iter().filter_map(|s| s.object_error))
    }
    pub fn mean_floor_error(&self) -> f64 {
        mean(self.images.iter().filter_map(|s| s.floor_error))
    }
    pub fn mean_iou(&self) -> f64 {
        mean(self.images.iter().map(|s| s.iou))
    }

    /// Markdown table: one row per image, then the overall means.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| image | PSNR dB | SSIM | object err /255 | floor err /255 | IoU |\n|---|---:|---:|---:|---:|---:|\n",
        );
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
        for s in &self.images {
            let _ = writeln!(
                out,
                "| {} | {:.2} | {:.3} | {} | {} | {:.3} |",
                s.name,
                s.psnr,
                s.ssim,
                opt(s.object_error),
                opt(s.floor_error),
                s.iou
            );
        }
        let _ = writeln!(
            out,
            "| **mean** ({} images; min PSNR {:.2}) | **{:.2}** | **{:.3}** | **{:.1}** | **{:.1}** | **{:.3}** |",
            self.images.len(),
            self.min_psnr(),
            self.mean_psnr(),
            self.mean_ssim(),
            self.mean_object_error(),
            self.mean_floor_error(),
            self.mean_iou()
        );
        out
    }
}

pub struct FidelityOptions {
    pub scenes: PathBuf,
    /// Blender's images: `<name>.png` and `<name>_mask.png`.
    pub images: PathBuf,
    pub antialias: Antialias,
    /// Writes Cycles | ours | difference (x4) rows of these scenes to this PNG.
    pub side_by_side: Option<(PathBuf, Vec<String>)>,
}

pub fn load_scenes(path: &Path) -> anyhow::Result<SceneSet> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

pub fn run(opts: &FidelityOptions) -> anyhow::Result<FidelityReport> {
    let set = load_scenes(&opts.scenes)?;
    let root = opts.scenes.parent().unwrap_or(Path::new("."));
    if let Some(lib) = &set.library {
        let dir = root.join(&lib.dir);
        // Deterministic and cheap: regenerating also repairs a partial folder.
        synth::generate_library(&dir, lib.per_class, lib.seed)?;
    }
    let size = set.image_size;
    let mut renderer = Renderer::new(RenderOptions {
        image_size: size,
        mask: true,
        antialias: opts.antialias,
        ..Default::default()
    })?;
    // One upload per mesh, all its scenes in one call.
    let mut by_mesh: BTreeMap<&Path, Vec<&Scene>> = BTreeMap::new();
    for s in &set.scenes {
        by_mesh.entry(s.mesh.as_path()).or_default().push(s);
    }
    let mut ours = BTreeMap::new();
    for (mesh, scenes) in by_mesh {
        let loaded = load_obj(&root.join(mesh)).with_context(|| format!("loading {}", mesh.display()))?;
        let gpu = renderer.upload(&loaded)?;
        let factors: Vec<_> =
            scenes.iter().map(|s| dataset::factors::reference_scene(Latent::from_array(s.latent))).collect();
        for (s, frame) in scenes.iter().zip(renderer.render_views(&gpu, &factors)?) {
            ours.insert(s.name.clone(), frame);
        }
    }
    let mut images = Vec::new();
    let mut rows = Vec::new();
    for s in &set.scenes {
        let frame = &ours[&s.name];
        let cycles = read_rgb(&opts.images.join(format!("{}.png", s.name)), size)?;
        let cycles_mask = read_luma(&opts.images.join(format!("{}_mask.png", s.name)), size)?;
        let our_mask = frame.mask.as_ref().expect("masks were asked for");
        let on_object = |i: usize| cycles_mask[i] >= 128;
        let on_floor = |i: usize| cycles_mask[i] < 128 && our_mask[i] < 128;
        images.push(ImageScore {
            name: s.name.clone(),
            psnr: metrics::psnr(&frame.rgb, &cycles),
            ssim: metrics::ssim(&frame.rgb, &cycles, size as usize),
            object_error: metrics::mean_error(&frame.rgb, &cycles, on_object),
            floor_error: metrics::mean_error(&frame.rgb, &cycles, on_floor),
            iou: metrics::iou(our_mask, &cycles_mask),
        });
        if let Some((_, names)) = &opts.side_by_side {
            if names.contains(&s.name) {
                rows.push((cycles, frame.rgb.clone()));
            }
        }
    }
    if let Some((path, _)) = &opts.side_by_side {
        side_by_side(&rows, size).save(path).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(FidelityReport { images })
}

fn read_rgb(path: &Path, size: u32) -> anyhow::Result<Vec<u8>> {
    let img = image::open(path).with_context(|| format!("reading {}", path.display()))?.to_rgb8();
    anyhow::ensure!(img.dimensions() == (size, size), "{}: not {size}x{size}", path.display());
    Ok(img.into_raw())
}

fn read_luma(path: &Path, size: u32) -> anyhow::Result<Vec<u8>> {
    let img = image::open(path).with_context(|| format!("reading {}", path.display()))?.to_luma8();
    anyhow::ensure!(img.dimensions() == (size, size), "{}: not {size}x{size}", path.display());
    Ok(img.into_raw())
}

/// Rows of Cycles | ours | absolute difference x4.
fn side_by_side(rows: &[(Vec<u8>, Vec<u8>)], size: u32) -> image::RgbImage {
    let mut sheet = image::RgbImage::new(3 * size, size * rows.len() as u32);
    for (r, (cycles, ours)) in rows.iter().enumerate() {
        let diff: Vec<u8> = cycles.iter().zip(ours).map(|(&a, &b)| a.abs_diff(b).saturating_mul(4)).collect();
        for (c, data) in [cycles, ours, &diff].into_iter().enumerate() {
            let tile = image::RgbImage::from_raw(size, size, data.clone()).expect("size x size RGB");
            image::imageops::replace(&mut sheet, &tile, (c as u32 * size) as i64, (r as u32 * size) as i64);
        }
    }
    sheet
}
