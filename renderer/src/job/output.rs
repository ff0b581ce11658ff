//! Writing one view's files: `image_<k>.jpg` (quality 95), `mask_<k>.png`, `latent_<k>.npy`.
//!
//! Every file is written atomically and the latent goes last, so a view is complete exactly when
//! all its files exist: a killed run never leaves a truncated file, and resuming skips only views
//! whose files are all there.

use std::path::Path;

use anyhow::Context;
use dataset::{atomic, Latent, ObjectKey};

use crate::gpu::{encode_jpeg, encode_mask_png};

/// Removes temporary files that a killed run left in an object's folder (names `.<file>.<pid>.tmp`).
pub fn remove_stale_temps(object_dir: &Path) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(object_dir) else { return Ok(()) };
    for entry in entries {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(".tmp") {
            let path = object_dir.join(&*name);
            std::fs::remove_file(&path).with_context(|| format!("{}: cannot remove", path.display()))?;
        }
    }
    Ok(())
}

/// True when every file of the view is on disk.
pub fn view_complete(root: &Path, key: &ObjectKey, view: usize, mask: bool) -> bool {
    key.latent_path(root, view).is_file()
        && key.image_path(root, view).is_file()
        && (!mask || key.mask_path(root, view).is_file())
}

/// Encodes and writes one rendered view.
pub fn write_view(
    root: &Path,
    key: &ObjectKey,
    view: usize,
    latent: &Latent,
    size: u32,
    rgb: &[u8],
    mask: Option<&[u8]>,
) -> anyhow::Result<()> {
    let image_path = key.image_path(root, view);
    let jpeg = encode_jpeg(rgb, size);
    atomic::write_bytes(&image_path, &jpeg)
        .with_context(|| format!("{}: cannot write", image_path.display()))?;
    if let Some(mask) = mask {
        let mask_path = key.mask_path(root, view);
        let png = encode_mask_png(mask, size);
        atomic::write_bytes(&mask_path, &png)
            .with_context(|| format!("{}: cannot write", mask_path.display()))?;
    }
    latent.write(&key.latent_path(root, view))
}
