//! A tiny procedurally drawn dataset in the official 3DIEBench layout, for tests.
//!
//! Each class is a flat shape (bar, triangle, ring) whose in-plane angle, foreshortening and
//! position follow the view's latent (from `dataset::factors::sample_latent`), on a floor of the
//! latent's floor colour, tinted by the light colour: enough structure for the losses to move.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use dataset::{Latent, ObjectKey};

pub const SYNSETS: [&str; 3] = ["02691156", "02958343", "04379243"];

/// Writes `classes x objects_per_class` objects with `views` views of `size` px into `root`,
/// and train/val manifests (every object in both). Returns the object keys.
pub fn make_dataset(root: &Path, objects_per_class: usize, views: usize, size: u32) -> Vec<ObjectKey> {
    let mut keys = Vec::new();
    let mut labels = Vec::new();
    for (label, synset) in SYNSETS.iter().enumerate() {
        for o in 0..objects_per_class {
            let key = ObjectKey::new(synset, &format!("obj{label}x{o}")).unwrap();
            for v in 0..views {
                let latent = dataset::factors::sample_latent(7, &key, v);
                latent.write(&key.latent_path(root, v)).unwrap();
                draw(label, o, &latent, size).save(key.image_path(root, v)).unwrap();
            }
            keys.push(key);
            labels.push(label as i64);
        }
    }
    for split in ["train", "val"] {
        dataset::manifest::write_images(&dataset::manifest::images_path(root, split), &keys).unwrap();
        dataset::manifest::write_labels(&dataset::manifest::labels_path(root, split), &labels).unwrap();
    }
    keys
}

fn draw(class: usize, object: usize, l: &Latent, size: u32) -> image::RgbImage {
    let [a, b, c] = l.rotation;
    let floor = l.floor_rgb();
    let light = l.light_rgb();
    let aspect = 0.5 + 0.1 * (object % 4) as f64;
    let (sc, cc) = c.sin_cos();
    // Foreshortening by the out-of-plane angles, and a shift with them.
    let (fx, fy) = (0.35 + 0.65 * b.cos().abs(), 0.35 + 0.65 * a.cos().abs());
    let (ox, oy) = (0.25 * b.sin(), 0.25 * a.sin());
    image::RgbImage::from_fn(size, size, |px, py| {
        let u = (px as f64 + 0.5) / size as f64 * 2.0 - 1.0 - ox;
        let v = (py as f64 + 0.5) / size as f64 * 2.0 - 1.0 - oy;
        // Into the shape's frame.
        let (x, y) = ((cc * u + sc * v) / fx, (-sc * u + cc * v) / fy);
        let inside = match class {
            0 => x.abs() < 0.8 && y.abs() < 0.8 * aspect * 0.5,
            1 => y > -0.5 && y < 0.7 && x.abs() < (0.7 - y) * 0.6 * (aspect + 0.3),
            _ => {
                let r = (x * x + y * y).sqrt();
                r < 0.75 && r > 0.75 * aspect * 0.7
            }
        };
        let rgb = if inside {
            // A gradient along the shape's x axis makes the pose visible beyond the outline.
            let shade = 0.55 + 0.35 * (x / 0.8).clamp(-1.0, 1.0);
            [shade * (0.6 + 0.4 * light[0]), shade * (0.6 + 0.4 * light[1]), shade * (0.6 + 0.4 * light[2])]
        } else {
            floor
        };
        image::Rgb(rgb.map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8))
    })
}

/// Flags of a small, fast run on a fixture.
pub fn args(data: &Path, exp_dir: &Path, extra: &[&str]) -> trainer::config::TrainArgs {
    use clap::Parser;
    let data = data.to_string_lossy().into_owned();
    let exp = exp_dir.to_string_lossy().into_owned();
    let mut v: Vec<String> = [
        "train",
        "--data",
        &data,
        "--exp-dir",
        &exp,
        "--arch",
        "resnet-tiny",
        "--resolution",
        "32",
        "--batch-size",
        "8",
        "--mlp",
        "64-64",
        "--num-classes",
        "3",
        "--quiet",
        "--log-interval",
        "1",
        "--num-workers",
        "2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    trainer::config::TrainArgs::parse_from(v)
}

pub fn fixture(objects_per_class: usize, views: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("3diebench");
    make_dataset(&root, objects_per_class, views, 40);
    (dir, root)
}
