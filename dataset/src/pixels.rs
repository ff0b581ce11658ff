//! The pixels a model sees: an image file decoded, resized to the training resolution
//! (bilinear with antialiasing, like PIL's resize) and normalised with the reference trainer's
//! mean and standard deviation (SPEC section 4).

use std::path::Path;

use anyhow::Context;

/// Normalisation of the reference trainer (SPEC section 4).
pub const MEAN: [f32; 3] = [0.5016, 0.5037, 0.5060];
pub const STD: [f32; 3] = [0.1030, 0.0999, 0.0969];

/// Decodes an image file, resizes it to `res` x `res` (bilinear with antialiasing, like PIL's
/// resize) and normalises it: CHW f32.
pub fn load_image(path: &Path, res: u32) -> anyhow::Result<Vec<f32>> {
    Ok(normalise(&load_rgb(path, res)?, res as usize))
}

/// Decodes an image file and resizes it to `res` x `res` as [`load_image`] does: interleaved RGB
/// bytes, before normalisation (a quarter of the floats' memory, for images kept in memory).
pub fn load_rgb(path: &Path, res: u32) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read image", path.display()))?;
    let img = image::load_from_memory(&bytes)
        .with_context(|| format!("{}: cannot decode image", path.display()))?;
    Ok(resize(img.to_rgb8(), res))
}

/// Interleaved RGB bytes of a `size` x `size` image (a rendered view) -> normalised CHW floats at
/// `res` x `res`, through the same filter as [`load_image`]: the pixels a model sees whether the
/// view comes from a file or straight from the renderer.
pub fn resize_and_normalise(rgb: Vec<u8>, size: u32, res: u32) -> anyhow::Result<Vec<f32>> {
    let img = image::RgbImage::from_raw(size, size, rgb)
        .with_context(|| format!("an RGB image of {size} x {size} pixels needs {} bytes", 3 * size * size))?;
    Ok(normalise(&resize(img, res), res as usize))
}

/// Resizes to `res` x `res` (bilinear with antialiasing, like PIL's resize); a no-op at that size.
fn resize(rgb: image::RgbImage, res: u32) -> Vec<u8> {
    let rgb = if rgb.dimensions() == (res, res) {
        rgb
    } else {
        image::imageops::resize(&rgb, res, res, image::imageops::FilterType::Triangle)
    };
    rgb.into_raw()
}

/// Interleaved RGB bytes -> CHW floats, `(v / 255 - mean) / std`.
pub fn normalise(rgb: &[u8], res: usize) -> Vec<f32> {
    let plane = res * res;
    let mut out = vec![0f32; 3 * plane];
    for (i, px) in rgb.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * plane + i] = (px[c] as f32 / 255.0 - MEAN[c]) / STD[c];
        }
    }
    out
}
