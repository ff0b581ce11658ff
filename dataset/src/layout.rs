//! Where the files of a dataset live (official 3DIEBench layout).
//!
//! ```text
//! ROOT/<synset>/<object_id>/image_<k>.jpg
//! ROOT/<synset>/<object_id>/latent_<k>.npy
//! ROOT/<synset>/<object_id>/mask_<k>.png      (ours, with --mask)
//! ROOT/<synset>/<object_id>/depth_<k>.png     (ours, with --depth: 16-bit, millimetres)
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

/// One object of a dataset: a ShapeNet synset and an object id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct ObjectKey {
    pub synset: String,
    pub object_id: String,
}

/// Why a synset, object id or manifest entry was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("empty {0}")]
    Empty(&'static str),
    #[error("{what} {value:?} has a character other than letters, digits, '-', '_' or '.'")]
    BadChar { what: &'static str, value: String },
    #[error("{what} {value:?} would leave the dataset root")]
    Escapes { what: &'static str, value: String },
    #[error("manifest entry {0:?} is not of the form /<synset>/<object_id>/ or <synset>/<object_id>")]
    BadEntry(String),
}

/// A refused key as its error shows it: at most 80 characters (the message escapes the rest).
fn shown(value: &str) -> String {
    match value.char_indices().nth(80) {
        Some((end, _)) => format!("{}...", &value[..end]),
        None => value.to_string(),
    }
}

fn check_component(what: &'static str, value: &str) -> Result<(), KeyError> {
    if value.is_empty() {
        return Err(KeyError::Empty(what));
    }
    if value == "." || value == ".." {
        return Err(KeyError::Escapes { what, value: shown(value) });
    }
    let ok = value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        return Err(KeyError::BadChar { what, value: shown(value) });
    }
    Ok(())
}

impl ObjectKey {
    /// A validated key: both parts are single, safe path components.
    pub fn new(synset: &str, object_id: &str) -> Result<Self, KeyError> {
        check_component("synset", synset)?;
        check_component("object id", object_id)?;
        Ok(Self { synset: synset.to_string(), object_id: object_id.to_string() })
    }

    /// Parses `/<synset>/<id>/` (official manifest entry) or `<synset>/<id>` (object list line).
    pub fn parse(entry: &str) -> Result<Self, KeyError> {
        let trimmed = entry.trim();
        let inner = trimmed.strip_prefix('/').unwrap_or(trimmed);
        let inner = inner.strip_suffix('/').unwrap_or(inner);
        let mut parts = inner.split('/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(s), Some(o), None) => Self::new(s, o),
            _ => {
                if inner.split('/').any(|p| p == "..") {
                    Err(KeyError::Escapes { what: "manifest entry", value: shown(entry) })
                } else {
                    Err(KeyError::BadEntry(shown(entry)))
                }
            }
        }
    }

    /// The official split-manifest entry, `/<synset>/<object_id>/`.
    pub fn manifest_entry(&self) -> String {
        format!("/{}/{}/", self.synset, self.object_id)
    }

    /// `ROOT/<synset>/<object_id>`.
    pub fn dir(&self, root: &Path) -> PathBuf {
        root.join(&self.synset).join(&self.object_id)
    }

    pub fn image_path(&self, root: &Path, view: usize) -> PathBuf {
        self.dir(root).join(image_name(view))
    }

    pub fn latent_path(&self, root: &Path, view: usize) -> PathBuf {
        self.dir(root).join(latent_name(view))
    }

    pub fn mask_path(&self, root: &Path, view: usize) -> PathBuf {
        self.dir(root).join(mask_name(view))
    }

    pub fn depth_path(&self, root: &Path, view: usize) -> PathBuf {
        self.dir(root).join(depth_name(view))
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.synset, self.object_id)
    }
}

pub fn image_name(view: usize) -> String {
    format!("image_{view}.jpg")
}

pub fn latent_name(view: usize) -> String {
    format!("latent_{view}.npy")
}

pub fn mask_name(view: usize) -> String {
    format!("mask_{view}.png")
}

pub fn depth_name(view: usize) -> String {
    format!("depth_{view}.png")
}

/// View indices `k` of the `latent_<k>.npy` files in an object folder, sorted.
pub fn latent_views(object_dir: &Path) -> std::io::Result<Vec<usize>> {
    numbered_files(object_dir, "latent_", ".npy")
}

/// View indices `k` of the `image_<k>.jpg` files in an object folder, sorted.
pub fn image_views(object_dir: &Path) -> std::io::Result<Vec<usize>> {
    numbered_files(object_dir, "image_", ".jpg")
}

fn numbered_files(dir: &Path, prefix: &str, suffix: &str) -> std::io::Result<Vec<usize>> {
    let mut views = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(k) = name.strip_prefix(prefix).and_then(|r| r.strip_suffix(suffix)) {
            views.extend(k.parse::<usize>().ok());
        }
    }
    views.sort_unstable();
    Ok(views)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_official_entries_and_object_lines() {
        let k = ObjectKey::parse("/02691156/1a04e3eab45ca15dd86060f189eb133/").unwrap();
        assert_eq!(k.synset, "02691156");
        assert_eq!(k.object_id, "1a04e3eab45ca15dd86060f189eb133");
        assert_eq!(k.manifest_entry(), "/02691156/1a04e3eab45ca15dd86060f189eb133/");
        assert_eq!(ObjectKey::parse("02691156/abc").unwrap(), ObjectKey::new("02691156", "abc").unwrap());
    }

    #[test]
    fn refuses_paths_that_escape_or_are_malformed() {
        assert!(matches!(ObjectKey::parse("/02691156/../"), Err(KeyError::Escapes { .. })));
        assert!(matches!(ObjectKey::parse("../../etc/passwd"), Err(KeyError::Escapes { .. })));
        assert!(matches!(ObjectKey::parse("/a/b/c/"), Err(KeyError::BadEntry(_))));
        assert!(matches!(ObjectKey::parse("justone"), Err(KeyError::BadEntry(_))));
        assert!(matches!(ObjectKey::parse("a b/c"), Err(KeyError::BadChar { .. })));
        assert!(matches!(ObjectKey::parse("/x//"), Err(KeyError::Empty(_))));
    }

    #[test]
    fn paths_follow_the_official_layout() {
        let k = ObjectKey::new("s", "o").unwrap();
        let root = Path::new("/r");
        assert_eq!(k.image_path(root, 3), Path::new("/r/s/o/image_3.jpg"));
        assert_eq!(k.latent_path(root, 0), Path::new("/r/s/o/latent_0.npy"));
        assert_eq!(k.mask_path(root, 49), Path::new("/r/s/o/mask_49.png"));
    }
}
