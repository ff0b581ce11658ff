//! The ShapeNetCore v2 tree: `taxonomy.json`, `<synset>/<id>/models/model_normalized.{obj,mtl,json}`
//! and `<synset>/<id>/images/texture<k>.png`. Every file is written atomically.

use std::path::{Path, PathBuf};

use anyhow::Context;
use dataset::{atomic, ObjectKey};

use crate::obj_writer::{ObjectFiles, STEM};
use crate::ClassSpec;

/// One `taxonomy.json` entry, as in ShapeNetCore v2.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TaxonomyEntry {
    #[serde(rename = "synsetId")]
    pub synset_id: String,
    pub name: String,
    pub children: Vec<String>,
    #[serde(rename = "numInstances")]
    pub num_instances: usize,
}

/// A stable object id: the first 32 hex digits of BLAKE3 over (class, instance, seed).
pub fn object_id(class: &str, instance: usize, seed: u64) -> String {
    let mut h = blake3::Hasher::new_derive_key("iebench-rs synth object id v1");
    h.update(&(class.len() as u64).to_le_bytes());
    h.update(class.as_bytes());
    h.update(&(instance as u64).to_le_bytes());
    h.update(&seed.to_le_bytes());
    h.finalize().to_hex()[..32].to_string()
}

/// `ROOT/<synset>/<id>/models/model_normalized.obj`.
pub fn obj_path(root: &Path, key: &ObjectKey) -> PathBuf {
    key.dir(root).join("models").join(format!("{STEM}.obj"))
}

pub fn write_taxonomy(root: &Path, classes: &[ClassSpec], per_class: usize) -> anyhow::Result<()> {
    let entries: Vec<TaxonomyEntry> = classes
        .iter()
        .map(|c| TaxonomyEntry {
            synset_id: c.synset.to_string(),
            name: c.name.to_string(),
            children: Vec::new(),
            num_instances: per_class,
        })
        .collect();
    let path = root.join("taxonomy.json");
    atomic::write_bytes(&path, serde_json::to_string_pretty(&entries)?.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// Writes one object's files under `root`.
pub fn write_object(root: &Path, key: &ObjectKey, files: &ObjectFiles) -> anyhow::Result<()> {
    let models = key.dir(root).join("models");
    let images = key.dir(root).join("images");
    let write = |path: PathBuf, bytes: &[u8]| {
        atomic::write_bytes(&path, bytes).with_context(|| format!("writing {}", path.display()))
    };
    write(models.join(format!("{STEM}.obj")), files.obj.as_bytes())?;
    write(models.join(format!("{STEM}.mtl")), files.mtl.as_bytes())?;
    write(models.join(format!("{STEM}.json")), files.json.as_bytes())?;
    for (name, png) in &files.textures {
        write(images.join(name), png)?;
    }
    Ok(())
}

/// Removes object folders of `classes` that are not in `keep` (left by an earlier run with more
/// objects or another seed), so that the tree holds exactly the library just written. Only
/// folders named like our object ids are touched.
pub fn remove_stale(root: &Path, classes: &[ClassSpec], keep: &[ObjectKey]) -> anyhow::Result<()> {
    for class in classes {
        let dir = root.join(class.synset);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = name.len() == 32 && name.bytes().all(|b| b.is_ascii_hexdigit());
            if ours && !keep.iter().any(|k| k.synset == class.synset && k.object_id == name) {
                std::fs::remove_dir_all(entry.path())
                    .with_context(|| format!("removing stale object {}", entry.path().display()))?;
            }
        }
    }
    Ok(())
}
