//! What a dataset folder holds, as the trainer reads it: each object's views, and the classes
//! its manifest declares.

use std::path::Path;

use anyhow::{bail, Context};

use crate::layout;

/// Number of classes a dataset declares in its rich manifest (largest label + 1), if any.
pub fn manifest_num_classes(root: &Path) -> Option<usize> {
    let m = crate::records::DatasetManifest::read(root).ok()?;
    m.classes.iter().map(|c| c.label as usize + 1).max()
}

/// The views `k` of an object folder (`image_k.jpg` and `latent_k.npy`); a view with only one
/// of the two files is an error naming the missing one.
pub fn object_views(dir: &Path) -> anyhow::Result<Vec<usize>> {
    let list = |found: std::io::Result<Vec<usize>>| {
        found.with_context(|| format!("{}: cannot list the object folder", dir.display()))
    };
    let (images, latents) = (list(layout::image_views(dir))?, list(layout::latent_views(dir))?);
    // A view with only one of its two files is a broken dataset, not a smaller object.
    if let Some(k) = latents.iter().find(|k| images.binary_search(k).is_err()) {
        bail!("{}: missing ({} exists)", dir.join(layout::image_name(*k)).display(), layout::latent_name(*k));
    }
    if let Some(k) = images.iter().find(|k| latents.binary_search(k).is_err()) {
        bail!("{}: missing ({} exists)", dir.join(layout::latent_name(*k)).display(), layout::image_name(*k));
    }
    Ok(images)
}
