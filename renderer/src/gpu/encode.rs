//! Image files of a frame: JPEG (quality 95, as the reference writes) and the mask PNG.

use image::ImageEncoder;

pub const JPEG_QUALITY: u8 = 95;

/// A `size` x `size` RGB8 image as a baseline JPEG at [`JPEG_QUALITY`].
pub fn encode_jpeg(rgb: &[u8], size: u32) -> Vec<u8> {
    assert_eq!(rgb.len(), (size * size * 3) as usize, "encode_jpeg: buffer is not {size}x{size} RGB");
    let mut out = Vec::with_capacity(rgb.len() / 4);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_and_mask_png_decode_back() {
        let size = 20;
        let rgb: Vec<u8> = (0..size * size * 3).map(|i| (i % 251) as u8).collect();
        let jpeg = encode_jpeg(&rgb, size);
        let decoded = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (size, size));
        assert_eq!(decoded.color(), image::ColorType::Rgb8);

        let mask: Vec<u8> = (0..size * size).map(|i| if i % 3 == 0 { 255 } else { 0 }).collect();
        let png = encode_mask_png(&mask, size);
        let decoded = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap().to_luma8();
        assert_eq!(decoded.into_raw(), mask);
    }
}
