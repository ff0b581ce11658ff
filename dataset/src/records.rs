//! The rich manifest: `manifest.json` (run configuration, seed, generator version, class map,
//! splits, failures) and `images.jsonl` (one line per image with every factor made explicit).

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::factors::{Camera, ViewFactors};
use crate::{atomic, config::TranslationFrame, rotation, ObjectKey};

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

/// Something that fell back while loading an object (a missing texture, a missing `.mtl`, ...).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ObjectWarning {
    pub object: String,
    pub warning: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DatasetManifest {
    pub generator_version: String,
    /// The git commit the generator was built from.
    #[serde(default)]
    pub generator_commit: String,
    pub seed: u64,
    pub views: usize,
    pub image_size: u32,
    /// The fully resolved configuration that produced the dataset: settings, every factor's
    /// distribution per split, and the options that change the images' bytes.
    pub config: serde_json::Value,
    /// [`crate::config::RenderConfig::hash`] of the factor configuration.
    #[serde(default)]
    pub config_hash: String,
    /// BLAKE3 of the sorted object list of the whole run (all shards).
    #[serde(default)]
    pub objects_hash: String,
    /// The graphics adapter and driver that rendered the images.
    #[serde(default)]
    pub adapter: Option<String>,
    pub classes: Vec<ClassInfo>,
    pub train_objects: usize,
    pub val_objects: usize,
    pub images: usize,
    pub failures: Vec<Failure>,
    /// Per object, what fell back and why (textures that fell back to Kd, ...).
    #[serde(default)]
    pub warnings: Vec<ObjectWarning>,
    /// Documentation of conventions for readers of this file.
    pub conventions: serde_json::Value,
}

impl DatasetManifest {
    pub fn conventions() -> serde_json::Value {
        serde_json::json!({
            "latent": "latent_<k>.npy <f8 (7,): rot_x, rot_y, rot_z, floor_hue, light_theta, light_phi, light_hue; with config dataset.latent = \"translation\" (10,): the same 7, then tx, ty, tz",
            "factor_streams": "one BLAKE3 keyed stream per factor: (seed, factor, synset, object id, view)",
            "translation": "object frame: model = R T(t) S(s), the centre lands at R t; world frame: model = T(t) R S(s)",
            "camera": "spherical (distance, elevation above the floor, azimuth from +X), looking at the origin, +Z up, focal length in mm on a 36 mm sensor",
            "euler": "extrinsic xyz (scipy from_euler('xyz')), R = Rz(c) Ry(b) Rx(a), radians",
            "quaternion": "scipy as_quat() order (x, y, z, w), sign as produced by composing elementary rotations",
            "world": "Z up; OBJ (x, y, z) -> world (x, -z, y); bounding box centred at origin",
            "floor_rgb": "colorsys.hsv_to_rgb(floor_hue, floor_saturation, floor_value), reference (h, 0.6, 0.6)",
            "light_rgb": "colorsys.hsv_to_rgb(light_hue, spot_saturation, spot_value), reference (h, 1.0, 0.8)",
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
        let text = crate::input::read_text(&path, crate::input::MANIFEST_MAX_BYTES)?;
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
    /// The values of `latent_<k>.npy` (7, or 10 with a translation).
    pub latent: Vec<f64>,
    pub euler_xyz: [f64; 3],
    pub quat_xyzw: [f64; 4],
    pub floor_hue: f64,
    pub floor_saturation: f64,
    pub floor_value: f64,
    pub floor_rgb: [f64; 3],
    pub light_theta: f64,
    pub light_phi: f64,
    pub light_hue: f64,
    pub light_saturation: f64,
    pub light_value: f64,
    pub light_rgb: [f64; 3],
    pub light_position: [f64; 3],
    pub light_power: f64,
    pub light_cone_angle: f64,
    pub sun_strength: f64,
    pub translation: [f64; 3],
    /// "object" or "world".
    pub translation_frame: String,
    /// Where the object's bounding-box centre is in the world.
    pub object_centre: [f64; 3],
    pub scale: f64,
    pub camera: Camera,
    pub camera_position: [f64; 3],
}

impl ImageRecord {
    pub fn new(key: &ObjectKey, view: usize, label: i64, split: &str, factors: &ViewFactors) -> Self {
        let latent = &factors.latent;
        let light_position = crate::latent::light_position(latent.light_theta, latent.light_phi);
        Self {
            image: format!("{}/{}/{}", key.synset, key.object_id, crate::layout::image_name(view)),
            synset: key.synset.clone(),
            object_id: key.object_id.clone(),
            view,
            label,
            split: split.to_string(),
            latent: latent.values(),
            euler_xyz: latent.rotation,
            quat_xyzw: rotation::quat_from_euler_xyz(latent.rotation),
            floor_hue: latent.floor_hue,
            floor_saturation: factors.floor_saturation,
            floor_value: factors.floor_value,
            floor_rgb: factors.floor_rgb(),
            light_theta: latent.light_theta,
            light_phi: latent.light_phi,
            light_hue: latent.light_hue,
            light_saturation: factors.spot_saturation,
            light_value: factors.spot_value,
            light_rgb: factors.light_rgb(),
            light_position,
            light_power: factors.spot_power,
            light_cone_angle: factors.spot_cone_angle,
            sun_strength: factors.sun_strength,
            translation: factors.translation,
            translation_frame: match factors.translation_frame {
                TranslationFrame::Object => "object".into(),
                TranslationFrame::World => "world".into(),
            },
            object_centre: factors.object_centre(),
            scale: factors.scale,
            camera: factors.camera,
            camera_position: factors.camera.position(),
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
