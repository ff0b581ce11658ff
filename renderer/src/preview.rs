//! Contact sheet: one PNG with a row per class (named on the left) and, in each row, a few
//! objects times a few views rendered in the reference scene, so a person sees the data at a
//! glance. Views use the dataset's own factor sampler, so the sheet shows what a dataset holds.
//! With factor configurations, the rows are the configurations instead (the same objects and
//! views under each), so the difference between presets is seen at a glance.

use std::path::Path;

use anyhow::{ensure, Context};
use dataset::config::{RenderConfig, Split};
use dataset::{atomic, factors, ObjectKey};
use image::{ImageEncoder, Rgb, RgbImage};

use crate::gpu::{RenderOptions, Renderer};
use crate::job::objects::{obj_path, ShapeNetTree};
use crate::mesh::load_obj;

/// Pixels between two objects of a row (views of one object touch).
const GAP: u32 = 4;
/// Scale of the 5x7 label font.
const FONT_SCALE: u32 = 2;
const BACKGROUND: Rgb<u8> = Rgb([24, 24, 24]);
const INK: Rgb<u8> = Rgb([235, 235, 235]);

/// One row of the sheet: a label, the objects shown, and the factors they are drawn with.
struct Row {
    name: String,
    objects: Vec<ObjectKey>,
    config: RenderConfig,
}

/// The classes of a ShapeNet-layout tree in label order (sorted synsets), named from
/// `taxonomy.json` when present, with their first `per_class` objects.
fn rows(root: &Path, per_class: usize) -> anyhow::Result<Vec<Row>> {
    let tree = ShapeNetTree::open(root)?;
    let objects = tree.discover()?;
    let rows: Vec<Row> = tree
        .synsets
        .iter()
        .map(|synset| Row {
            name: tree.class_name(synset),
            objects: objects.iter().filter(|k| &k.synset == synset).take(per_class).cloned().collect(),
            config: RenderConfig::reference(),
        })
        .filter(|row| !row.objects.is_empty())
        .collect();
    ensure!(
        !rows.is_empty(),
        "{}: no objects found (expected <synset>/<id>/models/model_normalized.obj)",
        root.display()
    );
    Ok(rows)
}

/// Renders the sheet of `library_root` (a ShapeNetCore v2 layout tree) into `out_png`:
/// `per_class` objects x `views` views of `image_size` pixels per class row, factors drawn with
/// the reference distributions under `seed`.
pub fn contact_sheet(
    library_root: &Path,
    out_png: &Path,
    per_class: usize,
    views: usize,
    image_size: u32,
    seed: u64,
) -> anyhow::Result<()> {
    ensure!(per_class > 0 && views > 0, "the contact sheet needs at least one object and one view per class");
    let mut rows = rows(library_root, per_class)?;
    for row in &mut rows {
        row.config.settings.seed = seed;
    }
    draw_sheet(library_root, out_png, &rows, views, image_size)
}

/// A sheet with one row per configuration (labelled with its file's stem): the first object of
/// `classes` classes, `views` views each, drawn for val objects (3DIEBench-OOD changes only those)
/// under each configuration's own seed.
pub fn config_sheet(
    library_root: &Path,
    out_png: &Path,
    configs: &[(String, RenderConfig)],
    classes: usize,
    views: usize,
    image_size: u32,
) -> anyhow::Result<()> {
    ensure!(classes > 0 && views > 0, "the sheet needs at least one object and one view");
    let objects: Vec<ObjectKey> =
        rows(library_root, 1)?.into_iter().take(classes).flat_map(|r| r.objects).collect();
    let rows: Vec<Row> = configs
        .iter()
        .map(|(name, config)| Row { name: name.clone(), objects: objects.clone(), config: config.clone() })
        .collect();
    draw_sheet(library_root, out_png, &rows, views, image_size)
}

fn draw_sheet(
    library_root: &Path,
    out_png: &Path,
    rows: &[Row],
    views: usize,
    image_size: u32,
) -> anyhow::Result<()> {
    let mut renderer = Renderer::new(RenderOptions { image_size, ..Default::default() })?;

    let label_w = rows.iter().map(|r| pixfont::width(&r.name, FONT_SCALE)).max().unwrap_or(0) + 2 * GAP * 2;
    let cols = rows.iter().map(|r| r.objects.len()).max().unwrap_or(0);
    let object_w = views as u32 * image_size;
    let width = label_w + cols as u32 * object_w + (cols as u32).saturating_sub(1) * GAP;
    let height = rows.len() as u32 * image_size + (rows.len() as u32).saturating_sub(1) * GAP;
    let mut sheet = RgbImage::from_pixel(width, height, BACKGROUND);

    for (r, row) in rows.iter().enumerate() {
        let y0 = r as u32 * (image_size + GAP);
        let text_y = y0 + image_size.saturating_sub(7 * FONT_SCALE) / 2;
        pixfont::draw(&mut sheet, &row.name, i64::from(GAP * 2), i64::from(text_y), FONT_SCALE, INK);
        for (c, key) in row.objects.iter().enumerate() {
            let path = obj_path(library_root, key);
            let mesh = load_obj(&path)?;
            let gpu = renderer.upload(&mesh).with_context(|| format!("uploading {}", path.display()))?;
            let latents: Vec<_> =
                (0..views).map(|v| factors::sample_view(&row.config, Split::Val, key, v)).collect();
            let frames = renderer.render_views(&gpu, &latents).with_context(|| format!("rendering {key}"))?;
            for (v, frame) in frames.into_iter().enumerate() {
                let tile = RgbImage::from_raw(image_size, image_size, frame.rgb)
                    .context("frame has the wrong size")?;
                let x = label_w + c as u32 * (object_w + GAP) + v as u32 * image_size;
                image::imageops::replace(&mut sheet, &tile, x as i64, y0 as i64);
            }
        }
    }

    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png).write_image(
        sheet.as_raw(),
        width,
        height,
        image::ExtendedColorType::Rgb8,
    )?;
    atomic::write_bytes(out_png, &png).with_context(|| format!("writing {}", out_png.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_follow_the_taxonomy_and_cap_objects() {
        let dir = tempfile::tempdir().unwrap();
        synth::generate_library(dir.path(), 3, 1).unwrap();
        let found = rows(dir.path(), 2).unwrap();
        let names: Vec<&str> = found.iter().map(|r| r.name.as_str()).collect();
        let expected: Vec<&str> = synth::classes().iter().map(|c| c.name).collect();
        assert_eq!(names, expected);
        assert!(found.iter().all(|r| r.objects.len() == 2));
        assert!(rows(&dir.path().join("missing"), 2).is_err());
    }
}
