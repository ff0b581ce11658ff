//! Writing one view's files: `image_<k>.jpg` (quality 95), `mask_<k>.png`, `latent_<k>.npy`.
//!
//! Every file is written atomically and the latent goes last, so a view is complete exactly when
//! all its files exist: a killed run never leaves a truncated file, and resuming skips only views
//! whose files are all there.

use std::path::Path;

use anyhow::Context;
use dataset::{atomic, Latent, ObjectKey};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};

pub const JPEG_QUALITY: u8 = 95;

/// Encodes tightly packed RGB8 rows as a JPEG.
pub fn encode_jpeg(rgb: &[u8], size: u32) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(rgb.len() / 4);
    JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY).encode(rgb, size, size, ExtendedColorType::Rgb8)?;
    Ok(out)
}

/// Encodes an 8-bit grayscale mask as a PNG.
pub fn encode_mask_png(mask: &[u8], size: u32) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out).write_image(mask, size, size, ExtendedColorType::L8)?;
    Ok(out)
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
    let jpeg = encode_jpeg(rgb, size).with_context(|| format!("{}: cannot encode", image_path.display()))?;
    atomic::write_bytes(&image_path, &jpeg)
        .with_context(|| format!("{}: cannot write", image_path.display()))?;
    if let Some(mask) = mask {
        let mask_path = key.mask_path(root, view);
        let png =
            encode_mask_png(mask, size).with_context(|| format!("{}: cannot encode", mask_path.display()))?;
        atomic::write_bytes(&mask_path, &png)
            .with_context(|| format!("{}: cannot write", mask_path.display()))?;
    }
    latent.write(&key.latent_path(root, view))
}
