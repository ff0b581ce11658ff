//! Is a view's file whole? A cheap check for resuming (headers, sizes, the end marker) and a
//! full one for `render verify` (every file decoded).

use std::path::Path;

use anyhow::{bail, Context};

/// Cheap: the image starts and ends as a whole JPEG or PNG does and has the expected size
/// (header only), without decoding its pixels.
pub fn image_looks_whole(path: &Path, size: u32) -> anyhow::Result<()> {
    dataset::integrity::image_file_is_whole(path)?;
    let (w, h) =
        image::image_dimensions(path).with_context(|| format!("{}: unreadable header", path.display()))?;
    if (w, h) != (size, size) {
        bail!("{}: {w}x{h}, the dataset's images are {size}x{size}", path.display());
    }
    Ok(())
}

/// Full: the image decodes completely at the expected size.
pub fn image_decodes(path: &Path, size: u32) -> anyhow::Result<()> {
    let img = image::open(path).with_context(|| format!("{}: cannot decode", path.display()))?;
    if (img.width(), img.height()) != (size, size) {
        bail!("{}: {}x{}, the dataset's images are {size}x{size}", path.display(), img.width(), img.height());
    }
    Ok(())
}
