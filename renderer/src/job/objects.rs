//! Which objects a job renders: discovery in a ShapeNetCore v2 tree, `--objects` lists (text or an
//! official `*_images.npy` manifest), and the class map (label = index in the sorted synsets).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use dataset::records::ObjectWarning;
use dataset::ObjectKey;
// The path of an object's mesh in a ShapeNetCore v2 tree: one definition for writer and reader.
pub use synth::layout::obj_path;

/// A ShapeNetCore v2 tree: its synsets (sorted, the label order) and class names.
pub struct ShapeNetTree {
    pub root: PathBuf,
    pub synsets: Vec<String>,
    pub names: BTreeMap<String, String>,
    /// Synset folders whose names cannot be keys (spaces, not UTF-8, ...), skipped with a warning.
    pub skipped_synsets: Vec<ObjectWarning>,
}

/// What discovery found: the objects, and the folders it skipped (each a warning).
pub struct Discovery {
    pub objects: Vec<ObjectKey>,
    pub skipped: Vec<ObjectWarning>,
}

/// A folder that discovery skips because its name cannot be an object key: named (escaped) in a
/// warning, never dropped in silence.
fn skipped_folder(parent: &str, name: &std::ffi::OsStr, why: impl std::fmt::Display) -> ObjectWarning {
    let shown = dataset::input::readable(&name.to_string_lossy(), 80);
    let object = if parent.is_empty() { shown } else { format!("{parent}/{shown}") };
    ObjectWarning { object, warning: format!("folder skipped: its name is not a valid key ({why})") }
}

impl ShapeNetTree {
    /// Reads the synset folders and, when present, `taxonomy.json` for class names.
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        let entries = std::fs::read_dir(root)
            .with_context(|| format!("{}: cannot read the ShapeNet folder", root.display()))?;
        let mut synsets = Vec::new();
        let mut skipped_synsets = Vec::new();
        for entry in entries {
            let entry = entry.with_context(|| format!("{}: cannot list", root.display()))?;
            let raw = entry.file_name();
            let name = raw.to_string_lossy().into_owned();
            if !entry.path().is_dir() || name.starts_with('.') {
                continue;
            }
            match (raw.to_str(), ObjectKey::new(&name, "x")) {
                (Some(_), Ok(_)) => synsets.push(name),
                (None, _) => skipped_synsets.push(skipped_folder("", &raw, "not UTF-8")),
                (_, Err(e)) => skipped_synsets.push(skipped_folder("", &raw, e)),
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
        skipped_synsets.sort_by(|a, b| a.object.cmp(&b.object));
        Ok(Self { root: root.to_path_buf(), synsets, names, skipped_synsets })
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
        Ok(self.discover_all()?.objects)
    }

    /// [`ShapeNetTree::discover`], with the folders it skipped because their names cannot be
    /// keys (spaces, not UTF-8): each is a warning for stderr and the manifest.
    pub fn discover_all(&self) -> anyhow::Result<Discovery> {
        let mut objects = Vec::new();
        let mut skipped = self.skipped_synsets.clone();
        for synset in &self.synsets {
            let dir = self.root.join(synset);
            for entry in std::fs::read_dir(&dir).with_context(|| format!("{}: cannot list", dir.display()))? {
                let entry = entry.with_context(|| format!("{}: cannot list", dir.display()))?;
                let raw = entry.file_name();
                let id = raw.to_string_lossy().into_owned();
                if !entry.path().is_dir() || id.starts_with('.') {
                    continue;
                }
                match (raw.to_str(), ObjectKey::new(synset, &id)) {
                    (Some(_), Ok(key)) => objects.push(key),
                    (None, _) => skipped.push(skipped_folder(synset, &raw, "not UTF-8")),
                    (_, Err(e)) => skipped.push(skipped_folder(synset, &raw, e)),
                }
            }
        }
        objects.sort();
        skipped.sort_by(|a, b| a.object.cmp(&b.object));
        Ok(Discovery { objects, skipped })
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
    let text = dataset::input::read_text(path, dataset::input::METADATA_MAX_BYTES)?;
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
    let text = dataset::input::read_text(path, dataset::input::OBJECT_LIST_MAX_BYTES)?;
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
        // A hostile line is shown escaped and cut short.
        std::fs::write(&list, format!("02691156/a\u{200b}{}\n", "x".repeat(10_000))).unwrap();
        let err = format!("{:#}", read_object_list(&list).unwrap_err());
        assert!(err.len() < 300 && err.contains("a\\u{200b}xxx") && err.contains("...\""), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn folders_that_cannot_be_keys_are_skipped_with_a_warning() {
        // Issue case 7: spaces and non-UTF-8 names were skipped in silence.
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        for sub in ["02691156/good", "02691156/with space", "bad synset/x"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("02691156").join(std::ffi::OsStr::from_bytes(b"caf\xe9")))
            .unwrap();
        let found = ShapeNetTree::open(dir.path()).unwrap().discover_all().unwrap();
        assert_eq!(found.objects, [ObjectKey::new("02691156", "good").unwrap()]);
        let skipped: Vec<String> =
            found.skipped.iter().map(|w| format!("{}: {}", w.object, w.warning)).collect();
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        assert!(
            skipped[0].starts_with("02691156/caf\u{fffd}: folder skipped")
                && skipped[0].contains("not UTF-8")
        );
        assert!(skipped[1].starts_with("02691156/with space: folder skipped: its name is not a valid key"));
        assert!(skipped[2].starts_with("bad synset: folder skipped"));
    }

    #[test]
    fn reads_the_official_manifest_as_an_object_list() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/3diebench/val_images_head.npy");
        assert_eq!(read_object_list(&path).unwrap().len(), 256);
    }
}
