//! Cheap checks that an image file is whole: it starts and ends as a complete JPEG or PNG does.
//! A crash or a full disk leaves a truncated file; decoders often accept one (a truncated JPEG
//! decodes with a grey bottom), so the end marker is what tells.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{bail, Context};

/// The last bytes of every PNG: the IEND chunk (length 0, type, CRC).
const PNG_END: [u8; 12] = [0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82];
/// JPEG start and end of image markers.
const JPEG_START: [u8; 2] = [0xFF, 0xD8];
const JPEG_END: [u8; 2] = [0xFF, 0xD9];

/// Checks the start and end markers of a `.png` or `.jpg` file, reading 24 bytes at most.
pub fn image_file_is_whole(path: &Path) -> anyhow::Result<()> {
    let is_png = path.extension().is_some_and(|e| e == "png");
    let n = if is_png { 12 } else { 2 };
    let mut f = std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let len = f.metadata().with_context(|| format!("{}: cannot stat", path.display()))?.len();
    if len < 2 * n as u64 {
        bail!("{}: {len} bytes: truncated", path.display());
    }
    let (mut head, mut tail) = (vec![0; n], vec![0; n]);
    f.read_exact(&mut head).with_context(|| format!("{}: cannot read", path.display()))?;
    f.seek(SeekFrom::End(-(n as i64)))
        .and_then(|_| f.read_exact(&mut tail))
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let whole = if is_png {
        head.starts_with(b"\x89PNG") && tail == PNG_END
    } else {
        head == JPEG_START && tail == JPEG_END
    };
    if !whole {
        bail!("{}: truncated or not a {} file", path.display(), if is_png { "PNG" } else { "JPEG" });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_and_foreign_files_are_not_whole() {
        let dir = tempfile::tempdir().unwrap();
        let jpg = dir.path().join("a.jpg");
        std::fs::write(&jpg, [0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9]).unwrap();
        assert!(image_file_is_whole(&jpg).is_ok());
        std::fs::write(&jpg, [0xFF, 0xD8, 1, 2, 3, 0xFF]).unwrap();
        assert!(image_file_is_whole(&jpg).unwrap_err().to_string().contains("truncated or not a JPEG"));
        std::fs::write(&jpg, [0xFF]).unwrap();
        assert!(image_file_is_whole(&jpg).unwrap_err().to_string().contains("1 bytes: truncated"));
        let png = dir.path().join("a.png");
        std::fs::write(&png, [b"\x89PNG\r\n\x1a\n".as_slice(), &[0; 8], &PNG_END].concat()).unwrap();
        assert!(image_file_is_whole(&png).is_ok());
        std::fs::write(&png, [b"\x89PNG\r\n\x1a\n".as_slice(), &[0; 8], &PNG_END[..11]].concat()).unwrap();
        assert!(image_file_is_whole(&png).is_err());
    }
}
