//! Contact sheet: one PNG with a row per class (named on the left) and, in each row, a few
//! objects times a few views rendered in the reference scene, so a person sees the data at a
//! glance. Views use the dataset's own factor sampler, so the sheet shows what a dataset holds.

use std::path::{Path, PathBuf};

use anyhow::{ensure, Context};
use dataset::{atomic, ObjectKey};
use image::{ImageEncoder, Rgb, RgbImage};

use crate::gpu::{RenderOptions, Renderer};
use crate::mesh::load_obj;

/// Pixels between two objects of a row (views of one object touch).
const GAP: u32 = 4;
/// Scale of the 5x7 label font.
const FONT_SCALE: u32 = 2;
const BACKGROUND: Rgb<u8> = Rgb([24, 24, 24]);
const INK: Rgb<u8> = Rgb([235, 235, 235]);

/// One row of the sheet: a class and the objects shown for it.
struct Row {
    name: String,
    objects: Vec<ObjectKey>,
}

/// The classes of a ShapeNet-layout tree in `taxonomy.json` order (synsets without a folder are
/// skipped), or every synset folder, sorted, when there is no taxonomy.
fn rows(root: &Path, per_class: usize) -> anyhow::Result<Vec<Row>> {
    let taxonomy = root.join("taxonomy.json");
    let classes: Vec<(String, String)> = if taxonomy.exists() {
        let text = std::fs::read(&taxonomy).with_context(|| format!("reading {}", taxonomy.display()))?;
        let entries: Vec<serde_json::Value> = serde_json::from_slice(&text)
            .with_context(|| format!("{}: not a taxonomy list", taxonomy.display()))?;
        entries
            .iter()
            .filter_map(|e| {
                let synset = e.get("synsetId")?.as_str()?.to_string();
                let name = e.get("name")?.as_str()?.split(',').next()?.to_string();
                Some((synset, name))
            })
            .filter(|(s, _)| root.join(s).is_dir())
            .collect()
    } else {
        let mut dirs = sorted_dirs(root)?;
        dirs.retain(|d| d.chars().all(|c| c.is_ascii_digit()));
        dirs.into_iter().map(|d| (d.clone(), d)).collect()
    };
    let mut out = Vec::new();
    for (synset, name) in classes {
        let objects = sorted_dirs(&root.join(&synset))?
            .into_iter()
            .filter(|id| obj_path(root, &synset, id).exists())
            .take(per_class)
            .map(|id| ObjectKey::new(&synset, &id))
            .collect::<Result<Vec<_>, _>>()?;
        if !objects.is_empty() {
            out.push(Row { name, objects });
        }
    }
    ensure!(
        !out.is_empty(),
        "{}: no objects found (expected <synset>/<id>/models/model_normalized.obj)",
        root.display()
    );
    Ok(out)
}

fn sorted_dirs(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

fn obj_path(root: &Path, synset: &str, id: &str) -> PathBuf {
    root.join(synset).join(id).join("models").join("model_normalized.obj")
}

/// Renders the sheet of `library_root` (a ShapeNetCore v2 layout tree) into `out_png`:
/// `per_class` objects x `views` views of `image_size` pixels per class row, factors drawn with
/// [`dataset::factors::sample_latent`] under `seed`.
pub fn contact_sheet(
    library_root: &Path,
    out_png: &Path,
    per_class: usize,
    views: usize,
    image_size: u32,
    seed: u64,
) -> anyhow::Result<()> {
    ensure!(per_class > 0 && views > 0, "the contact sheet needs at least one object and one view per class");
    let rows = rows(library_root, per_class)?;
    let mut renderer = Renderer::new(RenderOptions { image_size, ..Default::default() })?;

    let label_w = rows.iter().map(|r| font::width(&r.name, FONT_SCALE)).max().unwrap_or(0) + 2 * GAP * 2;
    let cols = rows.iter().map(|r| r.objects.len()).max().unwrap_or(0);
    let object_w = views as u32 * image_size;
    let width = label_w + cols as u32 * object_w + (cols as u32).saturating_sub(1) * GAP;
    let height = rows.len() as u32 * image_size + (rows.len() as u32).saturating_sub(1) * GAP;
    let mut sheet = RgbImage::from_pixel(width, height, BACKGROUND);

    for (r, row) in rows.iter().enumerate() {
        let y0 = r as u32 * (image_size + GAP);
        let text_y = y0 + image_size.saturating_sub(7 * FONT_SCALE) / 2;
        font::draw(&mut sheet, &row.name, GAP * 2, text_y, FONT_SCALE, INK);
        for (c, key) in row.objects.iter().enumerate() {
            let path = obj_path(library_root, &key.synset, &key.object_id);
            let mesh = load_obj(&path)?;
            let gpu = renderer.upload(&mesh).with_context(|| format!("uploading {}", path.display()))?;
            let latents: Vec<_> = (0..views).map(|v| dataset::factors::sample_latent(seed, key, v)).collect();
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

/// A tiny built-in 5x7 bitmap font (A-Z, 0-9, '-', '_'; other characters are blank), so that
/// labels need no font file.
mod font {
    use image::{Rgb, RgbImage};

    /// Rows top to bottom; bit 4 is the leftmost column.
    fn glyph(c: char) -> [u8; 7] {
        match c.to_ascii_uppercase() {
            'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
            'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
            'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
            'D' => [0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E],
            'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
            'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
            'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
            'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
            'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
            'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
            'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
            'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
            'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
            'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
            'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
            'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
            'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
            'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
            'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
            'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
            'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
            'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
            'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
            'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
            'Y' => [0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04],
            'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
            '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
            '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
            '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
            '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
            '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
            '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
            '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
            '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
            '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
            '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
            '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
            '_' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F],
            _ => [0; 7],
        }
    }

    /// Width in pixels of `text` at `scale` (one blank column between letters).
    pub fn width(text: &str, scale: u32) -> u32 {
        text.chars().count() as u32 * 6 * scale
    }

    /// Draws `text` with its top-left corner at (x, y), clipped to the image.
    pub fn draw(img: &mut RgbImage, text: &str, x: u32, y: u32, scale: u32, ink: Rgb<u8>) {
        for (i, c) in text.chars().enumerate() {
            let gx = x + i as u32 * 6 * scale;
            for (row, bits) in glyph(c).iter().enumerate() {
                for col in 0..5u32 {
                    if bits & (0x10 >> col) == 0 {
                        continue;
                    }
                    for dy in 0..scale {
                        for dx in 0..scale {
                            let (px, py) = (gx + col * scale + dx, y + row as u32 * scale + dy);
                            if px < img.width() && py < img.height() {
                                img.put_pixel(px, py, ink);
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_draws_inside_its_width_only() {
        let mut img = RgbImage::from_pixel(100, 20, BACKGROUND);
        font::draw(&mut img, "mug 7", 1, 1, 2, INK);
        let inked: Vec<(u32, u32)> =
            img.enumerate_pixels().filter(|(_, _, p)| **p == INK).map(|(x, y, _)| (x, y)).collect();
        assert!(!inked.is_empty());
        assert!(inked
            .iter()
            .all(|&(x, y)| x >= 1 && x < 1 + font::width("mug 7", 2) && (1..15).contains(&y)));
    }

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
