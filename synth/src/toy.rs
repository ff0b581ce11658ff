//! A small CPU generator of 3DIEBench-layout datasets with real 3-D rotations: coloured convex
//! solids (one class per solid, per-object stretch) rasterised with a z-buffer under the SPEC's
//! camera, on the latent's floor colour, lit from the latent's spot direction in its colour.
//!
//! It stands in for the `render` binary where that is unavailable (and makes eval experiments
//! cheap); it is not a replacement for the renderer. Faces have distinct colours, so an object's
//! orientation is visible in one image, as with textured ShapeNet models.

use std::path::Path;

use anyhow::{Context, Result};
use dataset::{Latent, ObjectKey};
use rayon::prelude::*;

/// The solids, one per class, as (vertices, triangles); faces are coloured by triangle pair.
fn solid(class: usize) -> (Vec<[f64; 3]>, Vec<[usize; 3]>) {
    let cube_v = vec![
        [-1.0, -1.0, -1.0],
        [1.0, -1.0, -1.0],
        [1.0, 1.0, -1.0],
        [-1.0, 1.0, -1.0],
        [-1.0, -1.0, 1.0],
        [1.0, -1.0, 1.0],
        [1.0, 1.0, 1.0],
        [-1.0, 1.0, 1.0],
    ];
    let cube_t = vec![
        [0, 2, 1],
        [0, 3, 2],
        [4, 5, 6],
        [4, 6, 7],
        [0, 1, 5],
        [0, 5, 4],
        [2, 3, 7],
        [2, 7, 6],
        [1, 2, 6],
        [1, 6, 5],
        [0, 4, 7],
        [0, 7, 3],
    ];
    match class % 5 {
        0 => (cube_v, cube_t),
        1 => {
            // Square pyramid.
            let v = vec![
                [-1.0, -1.0, -0.8],
                [1.0, -1.0, -0.8],
                [1.0, 1.0, -0.8],
                [-1.0, 1.0, -0.8],
                [0.0, 0.0, 1.2],
            ];
            (v, vec![[0, 2, 1], [0, 3, 2], [0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
        }
        2 => {
            // Octahedron.
            let v = vec![
                [1.0, 0.0, 0.0],
                [-1.0, 0.0, 0.0],
                [0.0, 1.0, 0.0],
                [0.0, -1.0, 0.0],
                [0.0, 0.0, 1.3],
                [0.0, 0.0, -1.3],
            ];
            let t =
                vec![[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]];
            (v, t)
        }
        3 => {
            // Triangular prism.
            let v = vec![
                [-1.2, -0.8, -0.7],
                [-1.2, 0.8, -0.7],
                [-1.2, 0.0, 0.9],
                [1.2, -0.8, -0.7],
                [1.2, 0.8, -0.7],
                [1.2, 0.0, 0.9],
            ];
            let t =
                vec![[0, 2, 1], [3, 4, 5], [0, 1, 4], [0, 4, 3], [1, 2, 5], [1, 5, 4], [2, 0, 3], [2, 3, 5]];
            (v, t)
        }
        _ => {
            // Flat slab: a stretched cube.
            (cube_v.into_iter().map(|[x, y, z]| [1.4 * x, 0.8 * y, 0.35 * z]).collect(), cube_t)
        }
    }
}

const FACE_COLOURS: [[f64; 3]; 8] = [
    [0.9, 0.2, 0.2],
    [0.2, 0.8, 0.2],
    [0.2, 0.3, 0.9],
    [0.9, 0.85, 0.2],
    [0.8, 0.3, 0.8],
    [0.2, 0.8, 0.8],
    [0.95, 0.6, 0.2],
    [0.6, 0.6, 0.6],
];

/// Class names and 8-digit synsets (not colliding with ShapeNet's).
pub const CLASSES: [(&str, &str); 5] = [
    ("cube", "90000000"),
    ("pyramid", "90000001"),
    ("octahedron", "90000002"),
    ("prism", "90000003"),
    ("slab", "90000004"),
];

/// Per-object stretch of the solid along each axis, from the object's key.
fn stretch(key: &ObjectKey, seed: u64) -> [f64; 3] {
    let mut r = dataset::factors::stream(seed, "toy-shape", &[&key.synset, &key.object_id]);
    [0, 1, 2].map(|_| 0.75 + 0.5 * dataset::factors::next_unit(&mut r))
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn normalize(a: [f64; 3]) -> [f64; 3] {
    let n = dot(a, a).sqrt();
    [a[0] / n, a[1] / n, a[2] / n]
}

/// Draws one view: the solid rotated by the latent's Euler angles, seen from the SPEC camera.
pub fn draw(class: usize, scale: [f64; 3], latent: &Latent, size: u32) -> image::RgbImage {
    let (verts, tris) = solid(class);
    let r = dataset::rotation::matrix_from_euler_xyz(latent.rotation);
    // Unit-ish object: the solids span about [-1.3, 1.3]; 0.45 makes them fill the view like a ShapeNet model.
    let world: Vec<[f64; 3]> = verts
        .iter()
        .map(|v| {
            let s = [v[0] * scale[0] * 0.45, v[1] * scale[1] * 0.45, v[2] * scale[2] * 0.45];
            [0, 1, 2].map(|i| r[i][0] * s[0] + r[i][1] * s[1] + r[i][2] * s[2])
        })
        .collect();
    let eye = [0.0, 1.7678, 1.7678];
    let forward = normalize(sub([0.0; 3], eye));
    let right = normalize(cross(forward, [0.0, 0.0, 1.0]));
    let up = cross(right, forward);
    let focal = 1.0 / (39.6f64.to_radians() / 2.0).tan();
    let project = |p: [f64; 3]| {
        let d = sub(p, eye);
        let z = dot(d, forward);
        [dot(d, right) / z * focal, dot(d, up) / z * focal, z]
    };
    let screen: Vec<[f64; 3]> = world.iter().map(|&p| project(p)).collect();
    let light_dir = normalize(latent.light_position());
    let light = latent.light_rgb();
    let floor = latent.floor_rgb();
    let n = size as usize;
    let mut depth = vec![f64::INFINITY; n * n];
    let mut pixels: Vec<[f64; 3]> = vec![floor; n * n];
    for (t, tri) in tris.iter().enumerate() {
        let [a, b, c] = tri.map(|i| world[i]);
        let mut normal = normalize(cross(sub(b, a), sub(c, a)));
        // Visible faces face the camera: orient normals that way whatever the winding.
        if dot(normal, sub(eye, a)) < 0.0 {
            normal = normal.map(|v| -v);
        }
        let lambert = dot(normal, light_dir).max(0.0);
        let base = FACE_COLOURS[(t / 2) % FACE_COLOURS.len()];
        let colour = [0, 1, 2].map(|k| base[k] * (0.35 + 0.65 * lambert * (0.5 + 0.8 * light[k])));
        let [p, q, s] = tri.map(|i| screen[i]);
        let to_px = |v: f64| (v * 0.5 + 0.5) * n as f64;
        let (px, py) = ([p, q, s].map(|v| to_px(v[0])), [p, q, s].map(|v| to_px(-v[1])));
        let area = (px[1] - px[0]) * (py[2] - py[0]) - (px[2] - px[0]) * (py[1] - py[0]);
        if area.abs() < 1e-12 {
            continue;
        }
        let x0 = px.iter().cloned().fold(f64::INFINITY, f64::min).floor().max(0.0) as usize;
        let x1 = (px.iter().cloned().fold(f64::NEG_INFINITY, f64::max).ceil() as usize).min(n);
        let y0 = py.iter().cloned().fold(f64::INFINITY, f64::min).floor().max(0.0) as usize;
        let y1 = (py.iter().cloned().fold(f64::NEG_INFINITY, f64::max).ceil() as usize).min(n);
        for y in y0..y1 {
            for x in x0..x1 {
                let (cx, cy) = (x as f64 + 0.5, y as f64 + 0.5);
                let w0 = ((px[1] - cx) * (py[2] - cy) - (px[2] - cx) * (py[1] - cy)) / area;
                let w1 = ((px[2] - cx) * (py[0] - cy) - (px[0] - cx) * (py[2] - cy)) / area;
                let w2 = 1.0 - w0 - w1;
                if w0 < 0.0 || w1 < 0.0 || w2 < 0.0 {
                    continue;
                }
                let z = w0 * p[2] + w1 * q[2] + w2 * s[2];
                if z < depth[y * n + x] {
                    depth[y * n + x] = z;
                    pixels[y * n + x] = colour;
                }
            }
        }
    }
    image::RgbImage::from_fn(size, size, |x, y| {
        image::Rgb(pixels[y as usize * n + x as usize].map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8))
    })
}

/// Writes a dataset in the official layout: `per_class` objects of each class, `views` views,
/// JPEG images of `size` px, official manifests (object split by `dataset::split`) and latents.
pub fn generate(
    out: &Path,
    per_class: usize,
    views: usize,
    size: u32,
    seed: u64,
    val_fraction: f64,
) -> Result<usize> {
    let mut objects = Vec::new();
    for (_, synset) in CLASSES {
        for o in 0..per_class {
            objects.push(ObjectKey::new(synset, &format!("toy{o:05}"))?);
        }
    }
    objects.par_iter().try_for_each(|key| -> Result<()> {
        let class = CLASSES.iter().position(|(_, s)| *s == key.synset).expect("known synset");
        let scale = stretch(key, seed);
        for v in 0..views {
            let latent = dataset::factors::sample_latent(seed, key, v);
            let img = draw(class, scale, &latent, size);
            let mut bytes = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 95)
                .encode_image(&img)
                .context("JPEG encoding")?;
            let path = key.image_path(out, v);
            dataset::atomic::write_bytes(&path, &bytes)
                .with_context(|| format!("{}: cannot write", path.display()))?;
            // The latent goes last: a view exists only once all its files do.
            latent.write(&key.latent_path(out, v))?;
        }
        Ok(())
    })?;
    let split = dataset::split::split_objects(&objects, val_fraction, seed);
    for (name, keys) in [("train", &split.train), ("val", &split.val)] {
        let labels: Vec<i64> = keys
            .iter()
            .map(|k| CLASSES.iter().position(|(_, s)| *s == k.synset).expect("known") as i64)
            .collect();
        dataset::manifest::write_images(&dataset::manifest::images_path(out, name), keys)?;
        dataset::manifest::write_labels(&dataset::manifest::labels_path(out, name), &labels)?;
    }
    Ok(objects.len() * views)
}

/// A PNG grid: one row per class, `columns` views of its first object.
pub fn contact_sheet(path: &Path, columns: usize, size: u32, seed: u64) -> Result<()> {
    let mut sheet = image::RgbImage::new(size * columns as u32, size * CLASSES.len() as u32);
    for (class, (_, synset)) in CLASSES.iter().enumerate() {
        let key = ObjectKey::new(synset, "toy00000")?;
        for v in 0..columns {
            let img = draw(class, stretch(&key, seed), &dataset::factors::sample_latent(seed, &key, v), size);
            image::imageops::replace(
                &mut sheet,
                &img,
                (v as u32 * size) as i64,
                (class as u32 * size) as i64,
            );
        }
    }
    let mut bytes = Vec::new();
    sheet.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)?;
    dataset::atomic::write_bytes(path, &bytes).with_context(|| format!("{}: cannot write", path.display()))
}
