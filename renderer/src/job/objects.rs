//! Which objects a job renders: discovery in a ShapeNetCore v2 tree, `--objects` lists (text or an
//! official `*_images.npy` manifest), and the class map (label = index in the sorted synsets).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use dataset::ObjectKey;
// The path of an object's mesh in a ShapeNetCore v2 tree: one definition for writer and reader.
pub use synth::layout::obj_path;

/// A ShapeNetCore v2 tree: its synsets (sorted, the label order) and class names.
pub struct ShapeNetTree {
    pub root: PathBuf,
    pub synsets: Vec<String>,
    pub names: BTreeMap<String, String>,
}

impl ShapeNetTree {
    /// Reads the synset folders and, when present, `taxonomy.json` for class names.
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        let entries = std::fs::read_dir(root)
            .with_context(|| format!("{}: cannot read the ShapeNet folder", root.display()))?;
        let mut synsets = Vec::new();
        for entry in entries {
            let entry = entry.with_context(|| format!("{}: cannot list", root.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() && !name.starts_with('.') && ObjectKey::new(&name, "x").is_ok() {
                synsets.push(name);
            }
        }
        synsets.sort();
        if synsets.is_empty() {
            bail!(
                "{}: no synset folders found (expected <synset>/<id>/models/model_normalized.obj)",
                root.display()
            );
        }
        let names = read_taxonomy_names(&root.join("taxonomy.json"))?;
        Ok(Self { root: root.to_path_buf(), synsets, names })
    }

    pub fn label(&self, synset: &str) -> Option<i64> {
        self.synsets.binary_search_by(|s| s.as_str().cmp(synset)).ok().map(|i| i as i64)
    }

    pub fn class_name(&self, synset: &str) -> String {
        self.names.get(synset).cloned().unwrap_or_else(|| synset.to_string())
    }

    /// Every object folder, sorted. A folder without a readable `models/model_normalized.obj` is
    /// kept, so that loading it fails with its path (or lists it under `--keep-going`) instead of
    /// dropping it silently.
    pub fn discover(&self) -> anyhow::Result<Vec<ObjectKey>> {
        let mut out = Vec::new();
        for synset in &self.synsets {
            let dir = self.root.join(synset);
            for entry in std::fs::read_dir(&dir).with_context(|| format!("{}: cannot list", dir.display()))? {
                let entry = entry.with_context(|| format!("{}: cannot list", dir.display()))?;
                let id = entry.file_name().to_string_lossy().into_owned();
                if let Ok(key) = ObjectKey::new(synset, &id) {
                    if entry.path().is_dir() && !id.starts_with('.') {
                        out.push(key);
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

/// `taxonomy.json` as ShapeNet ships it: a list of {synsetId, name, children, numInstances}.
fn read_taxonomy_names(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(rename = "synsetId")]
        synset_id: String,
        name: String,
    }
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let entries: Vec<Entry> =
        serde_json::from_str(&text).with_context(|| format!("{}: invalid taxonomy", path.display()))?;
    // ShapeNet names are comma-separated synonyms: keep the first.
    Ok(entries
        .into_iter()
        .map(|e| (e.synset_id, e.name.split(',').next().unwrap_or_default().trim().to_string()))
        .collect())
}

/// Reads `--objects FILE`: an official `*.npy` manifest, or text lines `synset/object_id`
/// (blank lines and `#` comments ignored). Errors name the file and the line.
pub fn read_object_list(path: &Path) -> anyhow::Result<Vec<ObjectKey>> {
    if path.extension().is_some_and(|e| e == "npy") {
        return dataset::manifest::read_images(path);
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(ObjectKey::parse(line).with_context(|| format!("{}: line {}", path.display(), i + 1))?);
    }
    Ok(out)
}

/// Objects that have at least one `latent_<k>.npy` under an official-layout dataset `dir`.
pub fn objects_with_latents(dir: &Path) -> anyhow::Result<Vec<ObjectKey>> {
    let mut out = Vec::new();
    let synsets = std::fs::read_dir(dir).with_context(|| format!("{}: cannot read", dir.display()))?;
    for s in synsets {
        let s = s.with_context(|| format!("{}: cannot list", dir.display()))?;
        if !s.path().is_dir() {
            continue;
        }
        let listing =
            std::fs::read_dir(s.path()).with_context(|| format!("{}: cannot list", s.path().display()))?;
        for o in listing {
            let o = o.with_context(|| format!("{}: cannot list", s.path().display()))?;
            let key = ObjectKey::new(&s.file_name().to_string_lossy(), &o.file_name().to_string_lossy());
            if let Ok(key) = key {
                let views =
                    if o.path().is_dir() { dataset::layout::latent_views(&o.path()) } else { Ok(Vec::new()) };
                let views = views.with_context(|| format!("{}: cannot list", o.path().display()))?;
                if !views.is_empty() {
                    out.push(key);
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_list_reports_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("objects.txt");
        std::fs::write(&list, "# comment\n02691156/abc\n\n02691156/../../etc\n").unwrap();
        let err = format!("{:#}", read_object_list(&list).unwrap_err());
        assert!(err.contains("objects.txt: line 4") && err.contains("leave the dataset root"), "{err}");
        std::fs::write(&list, "02691156/abc\n/03001627/def/\n").unwrap();
        assert_eq!(read_object_list(&list).unwrap().len(), 2);
    }

    #[test]
    fn reads_the_official_manifest_as_an_object_list() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/3diebench/val_images_head.npy");
        assert_eq!(read_object_list(&path).unwrap().len(), 256);
    }
}
