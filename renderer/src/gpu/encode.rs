//! Image files of a frame: JPEG (quality 95 by default, as the reference writes), the mask PNG and
//! the 16-bit depth PNG.

use image::ImageEncoder;

pub const JPEG_QUALITY: u8 = 95;

/// A `size` x `size` RGB8 image as a baseline JPEG at `quality` (1-100).
pub fn encode_jpeg(rgb: &[u8], size: u32, quality: u8) -> Vec<u8> {
    assert_eq!(rgb.len(), (size * size * 3) as usize, "encode_jpeg: buffer is not {size}x{size} RGB");
    let mut out = Vec::with_capacity(rgb.len() / 4);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .write_image(rgb, size, size, image::ExtendedColorType::Rgb8)
        .expect("encoding an in-memory RGB8 JPEG cannot fail");
    out
}

/// A `size` x `size` 8-bit greyscale mask as PNG.
pub fn encode_mask_png(mask: &[u8], size: u32) -> Vec<u8> {
    assert_eq!(mask.len(), (size * size) as usize, "encode_mask_png: buffer is not {size}x{size}");
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(mask, size, size, image::ExtendedColorType::L8)
        .expect("encoding an in-memory L8 PNG cannot fail");
    out
}

/// A `size` x `size` 16-bit greyscale image (depth in millimetres) as PNG.
pub fn encode_depth_png(depth: &[u16], size: u32) -> Vec<u8> {
    assert_eq!(depth.len(), (size * size) as usize, "encode_depth_png: buffer is not {size}x{size}");
    let mut out = Vec::new();
    // `write_image` takes 16-bit samples in native byte order.
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(bytemuck::cast_slice(depth), size, size, image::ExtendedColorType::L16)
        .expect("encoding an in-memory L16 PNG cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_and_mask_png_decode_back() {
        let size = 20;
        let rgb: Vec<u8> = (0..size * size * 3).map(|i| (i % 251) as u8).collect();
        let jpeg = encode_jpeg(&rgb, size, JPEG_QUALITY);
        let decoded = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (size, size));
        assert_eq!(decoded.color(), image::ColorType::Rgb8);

        let mask: Vec<u8> = (0..size * size).map(|i| if i % 3 == 0 { 255 } else { 0 }).collect();
        let png = encode_mask_png(&mask, size);
        let decoded = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap().to_luma8();
        assert_eq!(decoded.into_raw(), mask);

        let depth: Vec<u16> = (0..size * size).map(|i| (i * 163) as u16).collect();
        let png = encode_depth_png(&depth, size);
        let decoded = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap();
        assert_eq!(decoded.color(), image::ColorType::L16);
        assert_eq!(decoded.to_luma16().into_raw(), depth);
    }
}
