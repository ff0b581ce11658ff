//! What a job renders: the objects of the whole run, each one's split and its views.
//!
//! The split is settled before any factor is drawn, since a configuration may draw factors per
//! split (3DIEBench-OOD). It comes from a source dataset's split files (`--like`,
//! `--from-latents`), or from the keyed-hash split of the object list.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};
use dataset::config::Split;
use dataset::records::ObjectWarning;
use dataset::{manifest, ObjectKey};

use super::objects::{self, ShapeNetTree};
use super::JobConfig;

/// Every object of the run (all shards), sorted, with its split and the views it must have.
pub struct Plan {
    pub objects: Vec<(ObjectKey, Vec<usize>)>,
    pub split: BTreeMap<ObjectKey, Split>,
    /// Folders that discovery skipped (names that cannot be keys): warnings for the manifest.
    pub skipped: Vec<ObjectWarning>,
}

impl Plan {
    pub fn split_of(&self, key: &ObjectKey) -> Split {
        self.split[key]
    }

    pub fn keys(&self) -> impl Iterator<Item = &ObjectKey> {
        self.objects.iter().map(|(k, _)| k)
    }

    pub fn objects_hash(&self) -> String {
        objects_hash(self.keys())
    }
}

/// BLAKE3 of the sorted object list: two runs over the same objects agree on it.
pub fn objects_hash<'a>(sorted: impl Iterator<Item = &'a ObjectKey>) -> String {
    let mut h = blake3::Hasher::new();
    for key in sorted {
        h.update(key.to_string().as_bytes());
        h.update(b"\n");
    }
    h.finalize().to_hex()[..16].to_string()
}

/// The train and val objects a dataset's split files list, if it has them.
pub fn read_source_split(dir: &Path) -> anyhow::Result<Option<BTreeMap<ObjectKey, Split>>> {
    let (train, val) = (manifest::images_path(dir, "train"), manifest::images_path(dir, "val"));
    if !train.is_file() && !val.is_file() {
        return Ok(None);
    }
    let mut split = BTreeMap::new();
    for (path, which) in [(train, Split::Train), (val, Split::Val)] {
        for key in manifest::read_images(&path)? {
            if split.insert(key.clone(), which).is_some() {
                bail!("{}: object {key} is listed twice in the split files", path.display());
            }
        }
    }
    Ok(Some(split))
}

pub fn plan(cfg: &JobConfig, tree: &ShapeNetTree) -> anyhow::Result<Plan> {
    let source = cfg.like.as_deref().or(cfg.from_latents.as_deref());
    let source_split = match source {
        Some(dir) => read_source_split(dir)?,
        None => None,
    };
    let mut skipped = Vec::new();
    let mut keys = match (&cfg.objects, &source_split, &cfg.from_latents) {
        (Some(list), _, _) => objects::read_object_list(list)?,
        (None, Some(split), _) => split.keys().cloned().collect(),
        (None, None, Some(dir)) => objects::objects_with_latents(dir)?,
        (None, None, None) => {
            let found = tree.discover_all()?;
            for w in &found.skipped {
                eprintln!("warning: {}: {}", w.object, w.warning);
            }
            skipped = found.skipped;
            found.objects
        }
    };
    keys.sort();
    keys.dedup();
    for key in &keys {
        if tree.label(&key.synset).is_none() {
            let from = cfg.objects.as_deref().or(source).unwrap_or(&cfg.shapenet);
            bail!(
                "{}: object {key}: synset {} is not in {}",
                from.display(),
                key.synset,
                tree.root.display()
            );
        }
    }
    let split = match (&source_split, source) {
        (Some(source_split), Some(dir)) => {
            let mut split = BTreeMap::new();
            for key in &keys {
                let Some(&s) = source_split.get(key) else {
                    bail!(
                        "{}: object {key} is in neither train_images.npy nor val_images.npy",
                        dir.display()
                    );
                };
                split.insert(key.clone(), s);
            }
            split
        }
        _ => {
            let s = dataset::split::split_objects(
                &keys,
                cfg.config.settings.val_fraction,
                cfg.config.settings.seed,
            );
            let val: std::collections::HashSet<&ObjectKey> = s.val.iter().collect();
            keys.iter()
                .map(|k| (k.clone(), if val.contains(k) { Split::Val } else { Split::Train }))
                .collect()
        }
    };
    let objects = keys
        .into_iter()
        .map(|key| {
            let views = match &cfg.from_latents {
                Some(dir) => dataset::layout::latent_views(&key.dir(dir))
                    .with_context(|| format!("{}: cannot list latents", key.dir(dir).display()))?,
                None => (0..cfg.config.settings.views).collect(),
            };
            Ok((key, views))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Plan { objects, split, skipped })
}
