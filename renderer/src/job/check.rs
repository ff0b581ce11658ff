//! Is a view's file whole? A cheap check for resuming (headers, sizes, the end marker) and a
//! full one for `render verify` (every file decoded).

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{bail, Context};

/// The last bytes of every PNG: the IEND chunk (length 0, type, CRC).
const PNG_END: [u8; 12] = [0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82];
/// JPEG start and end of image markers.
const JPEG_START: [u8; 2] = [0xFF, 0xD8];
const JPEG_END: [u8; 2] = [0xFF, 0xD9];

fn first_and_last(path: &Path, n: usize) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let mut f = std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let len = f.metadata()?.len();
    if len < 2 * n as u64 {
        bail!("{}: {len} bytes: truncated", path.display());
    }
    let mut head = vec![0; n];
    f.read_exact(&mut head)?;
    f.seek(SeekFrom::End(-(n as i64)))?;
    let mut tail = vec![0; n];
    f.read_exact(&mut tail)?;
    Ok((head, tail))
}

/// Cheap: the image starts and ends as a whole JPEG or PNG does and has the expected size
/// (header only), without decoding its pixels.
pub fn image_looks_whole(path: &Path, size: u32) -> anyhow::Result<()> {
    let is_png = path.extension().is_some_and(|e| e == "png");
    let (head, tail) = first_and_last(path, if is_png { 12 } else { 2 })?;
    let whole = if is_png { tail == PNG_END && head.starts_with(b"\x89PNG") } else { head == JPEG_START && tail == JPEG_END };
    if !whole {
        bail!("{}: truncated or not a {} file", path.display(), if is_png { "PNG" } else { "JPEG" });
    }
    let (w, h) = image::image_dimensions(path).with_context(|| format!("{}: unreadable header", path.display()))?;
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
