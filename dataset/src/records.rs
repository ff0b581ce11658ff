//! The rich manifest: `manifest.json` (run configuration, seed, generator version, class map,
//! splits, failures) and `images.jsonl` (one line per image with every factor made explicit).

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::{atomic, rotation, Latent, ObjectKey};

pub const MANIFEST_FILE: &str = "manifest.json";
pub const IMAGES_FILE: &str = "images.jsonl";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClassInfo {
    pub label: i64,
    pub synset: String,
    pub name: String,
    pub objects: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Failure {
    pub object: String,
    pub error: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DatasetManifest {
    pub generator_version: String,
    pub seed: u64,
    pub views: usize,
    pub image_size: u32,
    /// The command-line configuration that produced the dataset.
    pub config: serde_json::Value,
    pub classes: Vec<ClassInfo>,
    pub train_objects: usize,
    pub val_objects: usize,
    pub images: usize,
    pub failures: Vec<Failure>,
    /// Documentation of conventions for readers of this file.
    pub conventions: serde_json::Value,
}

impl DatasetManifest {
    pub fn conventions() -> serde_json::Value {
        serde_json::json!({
            "latent": "latent_<k>.npy <f8 (7,): rot_x, rot_y, rot_z, floor_hue, light_theta, light_phi, light_hue",
            "euler": "extrinsic xyz (scipy from_euler('xyz')), R = Rz(c) Ry(b) Rx(a), radians",
            "quaternion": "scipy as_quat() order (x, y, z, w), sign as produced by composing elementary rotations",
            "world": "Z up; OBJ (x, y, z) -> world (x, -z, y); bounding box centred at origin",
            "floor_rgb": "colorsys.hsv_to_rgb(floor_hue, 0.6, 0.6)",
            "light_rgb": "colorsys.hsv_to_rgb(light_hue, 1.0, 0.8)",
            "light_position": "(4 sin(theta) cos(phi), 4 sin(theta) sin(phi), 4 cos(theta))",
            "labels": "index of the synset in the sorted synset list",
            "colour_space": "images are true RGB (not BGR), sRGB encoded"
        })
    }

    pub fn write(&self, root: &Path) -> anyhow::Result<()> {
        let path = root.join(MANIFEST_FILE);
        let text = serde_json::to_string_pretty(self)?;
        atomic::write_bytes(&path, text.as_bytes())
            .with_context(|| format!("{}: cannot write", path.display()))
    }

    pub fn read(root: &Path) -> anyhow::Result<Self> {
        let path = root.join(MANIFEST_FILE);
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("{}: cannot read", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}: invalid manifest", path.display()))
    }
}

/// One image of the dataset with all its factors made explicit.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ImageRecord {
    pub image: String,
    pub synset: String,
    pub object_id: String,
    pub view: usize,
    pub label: i64,
    pub split: String,
    pub latent: [f64; 7],
    pub euler_xyz: [f64; 3],
    pub quat_xyzw: [f64; 4],
    pub floor_hue: f64,
    pub floor_rgb: [f64; 3],
    pub light_theta: f64,
    pub light_phi: f64,
    pub light_hue: f64,
    pub light_rgb: [f64; 3],
    pub light_position: [f64; 3],
}

impl ImageRecord {
    pub fn new(key: &ObjectKey, view: usize, label: i64, split: &str, latent: &Latent) -> Self {
        Self {
            image: format!("{}/{}/{}", key.synset, key.object_id, crate::layout::image_name(view)),
            synset: key.synset.clone(),
            object_id: key.object_id.clone(),
            view,
            label,
            split: split.to_string(),
            latent: latent.to_array(),
            euler_xyz: latent.rotation,
            quat_xyzw: rotation::quat_from_euler_xyz(latent.rotation),
            floor_hue: latent.floor_hue,
            floor_rgb: latent.floor_rgb(),
            light_theta: latent.light_theta,
            light_phi: latent.light_phi,
            light_hue: latent.light_hue,
            light_rgb: latent.light_rgb(),
            light_position: latent.light_position(),
        }
    }
}

/// Writes `images.jsonl` atomically, one record per line.
pub fn write_image_records(root: &Path, records: &[ImageRecord]) -> anyhow::Result<()> {
    let path = root.join(IMAGES_FILE);
    let mut text = String::new();
    for r in records {
        text.push_str(&serde_json::to_string(r)?);
        text.push('\n');
    }
    atomic::write_bytes(&path, text.as_bytes()).with_context(|| format!("{}: cannot write", path.display()))
}

pub fn read_image_records(root: &Path) -> anyhow::Result<Vec<ImageRecord>> {
    let path = root.join(IMAGES_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}: cannot read", path.display()))?;
    text.lines()
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("{}: line {}", path.display(), i + 1)))
        .collect()
}
