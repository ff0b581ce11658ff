//! Official split manifests: `<split>_images.npy` (unicode `/<synset>/<id>/` entries) and
//! `<split>_labels.npy` (int64 label = index of the synset in the sorted synset list).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::{atomic, ObjectKey};

pub fn images_path(root: &Path, split: &str) -> PathBuf {
    root.join(format!("{split}_images.npy"))
}

pub fn labels_path(root: &Path, split: &str) -> PathBuf {
    root.join(format!("{split}_labels.npy"))
}

/// Writes a unicode array of manifest entries, dtype `<U{longest}` (`<U43` for ShapeNet ids).
pub fn write_images(path: &Path, objects: &[ObjectKey]) -> anyhow::Result<()> {
    let entries: Vec<String> = objects.iter().map(ObjectKey::manifest_entry).collect();
    let bytes = crate::npy::unicode_npy(&entries);
    atomic::write_bytes(path, &bytes).with_context(|| format!("{}: cannot write", path.display()))
}

/// Reads a split image manifest into validated object keys; errors name the file and entry.
pub fn read_images(path: &Path) -> anyhow::Result<Vec<ObjectKey>> {
    let bytes = crate::input::read_bounded(path, crate::input::OBJECT_LIST_MAX_BYTES)?;
    let npy =
        npyz::NpyFile::new(&bytes[..]).with_context(|| format!("{}: not a .npy file", path.display()))?;
    if npy.shape().len() != 1 {
        bail!("{}: shape {:?}, expected a 1-d array", path.display(), npy.shape());
    }
    let entries: Vec<String> =
        npy.into_vec().with_context(|| format!("{}: expected a unicode string array", path.display()))?;
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| ObjectKey::parse(e).with_context(|| format!("{}: entry {i}", path.display())))
        .collect()
}

/// Writes int64 labels.
pub fn write_labels(path: &Path, labels: &[i64]) -> anyhow::Result<()> {
    let bytes = crate::npy::i64_npy(labels);
    atomic::write_bytes(path, &bytes).with_context(|| format!("{}: cannot write", path.display()))
}

/// Reads integer labels (int64, or int32 from other tools).
pub fn read_labels(path: &Path) -> anyhow::Result<Vec<i64>> {
    let bytes = crate::input::read_bounded(path, crate::input::OBJECT_LIST_MAX_BYTES)?;
    let npy =
        npyz::NpyFile::new(&bytes[..]).with_context(|| format!("{}: not a .npy file", path.display()))?;
    if npy.shape().len() != 1 {
        bail!("{}: shape {:?}, expected a 1-d array", path.display(), npy.shape());
    }
    let is_i4 = matches!(npy.dtype(), npyz::DType::Plain(ref t) if t.to_string() == "<i4");
    let labels = if is_i4 {
        npy.into_vec::<i32>().map(|v| v.into_iter().map(i64::from).collect())
    } else {
        npy.into_vec::<i64>()
    };
    labels.with_context(|| format!("{}: expected an int64 array", path.display()))
}

/// Reads a split's images and labels, checking that they agree in length and labels are in range.
pub fn read_split(
    images: &Path,
    labels: &Path,
    num_classes: Option<usize>,
) -> anyhow::Result<Vec<(ObjectKey, i64)>> {
    let objects = read_images(images)?;
    let labels_v = read_labels(labels)?;
    if objects.len() != labels_v.len() {
        bail!(
            "{} has {} entries but {} has {}: the manifests must have the same length",
            images.display(),
            objects.len(),
            labels.display(),
            labels_v.len()
        );
    }
    if let Some(n) = num_classes {
        if let Some((i, l)) = labels_v.iter().enumerate().find(|(_, &l)| l < 0 || l as usize >= n) {
            bail!("{}: label {l} at index {i} is out of range 0..{n}", labels.display());
        }
    }
    Ok(objects.into_iter().zip(labels_v).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/3diebench").join(name)
    }

    #[test]
    fn reads_the_official_release_manifests() {
        let rows =
            read_split(&shared("val_images_head.npy"), &shared("val_labels_head.npy"), Some(55)).unwrap();
        assert_eq!(rows.len(), 256);
        let synsets: Vec<String> =
            std::fs::read_to_string(shared("synsets.txt")).unwrap().lines().map(str::to_string).collect();
        for (key, label) in &rows {
            assert_eq!(synsets[*label as usize], key.synset, "{key}");
        }
    }

    #[test]
    fn writes_bytes_identical_to_the_official_release() {
        let dir = tempfile::tempdir().unwrap();
        let objects = read_images(&shared("val_images_head.npy")).unwrap();
        let labels = read_labels(&shared("val_labels_head.npy")).unwrap();
        let (img, lab) = (dir.path().join("i.npy"), dir.path().join("l.npy"));
        write_images(&img, &objects).unwrap();
        write_labels(&lab, &labels).unwrap();
        assert_eq!(std::fs::read(img).unwrap(), std::fs::read(shared("val_images_head.npy")).unwrap());
        assert_eq!(std::fs::read(lab).unwrap(), std::fs::read(shared("val_labels_head.npy")).unwrap());
    }

    #[test]
    fn mismatched_lengths_and_bad_labels_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (img, lab) = (dir.path().join("i.npy"), dir.path().join("l.npy"));
        let objects = vec![ObjectKey::new("a", "b").unwrap()];
        write_images(&img, &objects).unwrap();
        write_labels(&lab, &[0, 1]).unwrap();
        let err = format!("{:#}", read_split(&img, &lab, None).unwrap_err());
        assert!(err.contains("same length") && err.contains("l.npy"), "{err}");
        write_labels(&lab, &[5]).unwrap();
        let err = format!("{:#}", read_split(&img, &lab, Some(3)).unwrap_err());
        assert!(err.contains("out of range"), "{err}");
    }
}
