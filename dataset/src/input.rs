//! Reading files that users (or the files they name) point at: one opener for every read path.
//!
//! [`read_bounded`] opens only regular files (a FIFO would block forever, `/dev/zero` never ends),
//! checks the type before opening and again on the open handle (a swap in between is caught),
//! opens without blocking, and reads at most a stated number of bytes. [`confine`] resolves a
//! path (symbolic links included) and refuses it unless it stays under a root folder.
//! [`readable`] prints a user's key or value in an error: escaped and bounded.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest factor configuration (`--config`): presets are a few kB.
pub const CONFIG_MAX_BYTES: u64 = 1 << 20;
/// Largest object list (`--objects`, text or `.npy`): about a million entries.
pub const OBJECT_LIST_MAX_BYTES: u64 = 64 << 20;
/// Largest manifest a job writes (`manifest.json`, a shard's, whose records grow with its views).
pub const MANIFEST_MAX_BYTES: u64 = 4 << 30;
/// Largest small metadata file (`taxonomy.json`, a latent, a manifest).
pub const METADATA_MAX_BYTES: u64 = 64 << 20;

/// Why a file was not read: the caller decides which kinds are warnings.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{0}: not found")]
    NotFound(String),
    #[error("{path}: leaves {root} (refused)")]
    Escapes { path: String, root: String },
    #[error("{path}: not a regular file ({kind}; refused)")]
    NotRegular { path: String, kind: &'static str },
    #[error("{path}: {size} bytes, more than the limit of {limit} bytes (refused)")]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("{path}: cannot read ({source})")]
    Io { path: String, source: std::io::Error },
}

impl InputError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, InputError::NotFound(_))
    }

    /// What is wrong, without the path (for messages that name the file themselves).
    pub fn reason(&self) -> String {
        match self {
            InputError::NotFound(_) => "not found".into(),
            InputError::Escapes { root, .. } => format!("leaves {root} (refused)"),
            InputError::NotRegular { kind, .. } => format!("not a regular file ({kind}; refused)"),
            InputError::TooLarge { size, limit, .. } => {
                format!("{size} bytes, more than the limit of {limit} bytes (refused)")
            }
            InputError::Io { source, .. } => format!("cannot read ({source})"),
        }
    }

    fn io(path: &Path, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::NotFound {
            InputError::NotFound(path.display().to_string())
        } else {
            InputError::Io { path: path.display().to_string(), source }
        }
    }
}

/// `path` resolved (symbolic links followed), if it stays under `root` (resolved too).
pub fn confine(root: &Path, path: &Path) -> Result<PathBuf, InputError> {
    let root = root.canonicalize().map_err(|e| InputError::io(root, e))?;
    let resolved = path.canonicalize().map_err(|e| InputError::io(path, e))?;
    if resolved.starts_with(&root) {
        Ok(resolved)
    } else {
        Err(InputError::Escapes { path: path.display().to_string(), root: root.display().to_string() })
    }
}

/// The whole file, if it is a regular file of at most `limit` bytes.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    let (file, size) = open_regular(path, limit)?;
    let mut bytes = Vec::with_capacity(size.min(limit) as usize);
    // One byte more than the limit tells a file that grew after the check from one that did not.
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| InputError::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge {
            path: path.display().to_string(),
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// [`read_bounded`] as UTF-8 text (a leading byte-order mark removed).
pub fn read_text(path: &Path, limit: u64) -> anyhow::Result<String> {
    let bytes = read_bounded(path, limit)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{}: not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// Opens a regular file of at most `limit` bytes without blocking; returns it and its size.
pub fn open_regular(path: &Path, limit: u64) -> Result<(File, u64), InputError> {
    // The type is checked before opening: opening a FIFO for reading blocks until a writer comes.
    let meta = std::fs::metadata(path).map_err(|e| InputError::io(path, e))?;
    check_kind(path, &meta, limit)?;
    let file = open_nonblocking(path).map_err(|e| InputError::io(path, e))?;
    let meta = file.metadata().map_err(|e| InputError::io(path, e))?;
    check_kind(path, &meta, limit)?;
    Ok((file, meta.len()))
}

fn check_kind(path: &Path, meta: &std::fs::Metadata, limit: u64) -> Result<(), InputError> {
    if !meta.is_file() {
        return Err(InputError::NotRegular { path: path.display().to_string(), kind: kind_of(meta) });
    }
    if meta.len() > limit {
        return Err(InputError::TooLarge { path: path.display().to_string(), size: meta.len(), limit });
    }
    Ok(())
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a named pipe";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else {
        "not a plain file"
    }
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: if a FIFO replaced the file after the check, opening it returns at once.
    #[cfg(target_os = "macos")]
    const O_NONBLOCK: i32 = 0x0004;
    #[cfg(not(target_os = "macos"))]
    const O_NONBLOCK: i32 = 0o4000;
    std::fs::OpenOptions::new().read(true).custom_flags(O_NONBLOCK).open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

/// A user's text for an error message: control and invisible characters escaped, at most
/// `max` characters (then `...`).
pub fn readable(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push_str("...");
            break;
        }
        if c.is_control() || is_invisible(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// A number for an error message: plain, or in exponent form when plain would run to hundreds
/// of digits (`1e308`, not 309 characters).
pub fn number(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && a.is_finite() && !(1e-6..1e15).contains(&a) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// Format characters that print as nothing (zero-width spaces and joiners, direction marks, BOM).
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{00ad}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_pipes_devices_directories_and_large_files() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_bounded(dir.path(), 10).unwrap_err().to_string();
        assert!(e.contains("not a regular file (a directory"), "{e}");
        let e = read_bounded(Path::new("/dev/zero"), 10).unwrap_err().to_string();
        assert!(e.contains("/dev/zero: not a regular file (a device"), "{e}");
        let big = dir.path().join("big");
        std::fs::write(&big, [0u8; 11]).unwrap();
        let e = read_bounded(&big, 10).unwrap_err().to_string();
        assert!(e.contains("11 bytes, more than the limit of 10 bytes"), "{e}");
        assert_eq!(read_bounded(&big, 11).unwrap().len(), 11);
        assert!(read_bounded(&dir.path().join("none"), 10).unwrap_err().is_not_found());
    }

    #[cfg(unix)]
    #[test]
    fn a_named_pipe_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(status.success());
        let e = read_bounded(&fifo, 10).unwrap_err().to_string();
        assert!(e.contains("not a regular file (a named pipe"), "{e}");
        // A symbolic link to a device is judged by what it points at.
        let link = dir.path().join("zero.png");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let e = read_bounded(&link, 10).unwrap_err().to_string();
        assert!(e.contains("a device"), "{e}");
    }

    #[test]
    fn confine_resolves_links_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("models")).unwrap();
        std::fs::write(dir.path().join("secret.png"), b"x").unwrap();
        std::fs::write(root.join("models/a.mtl"), b"x").unwrap();
        assert!(confine(&root, &root.join("models/../models/a.mtl")).is_ok());
        let e = confine(&root, &root.join("models/../../secret.png")).unwrap_err().to_string();
        assert!(e.contains("secret.png: leaves") && e.contains("(refused)"), "{e}");
        assert!(confine(&root, &dir.path().join("secret.png")).is_err(), "an absolute path outside");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("secret.png"), root.join("models/link.png")).unwrap();
            assert!(confine(&root, &root.join("models/link.png")).is_err(), "a link pointing outside");
        }
    }

    #[test]
    fn readable_escapes_and_bounds() {
        assert_eq!(readable("a\u{200b}b\n", 10), "a\\u{200b}b\\u{a}");
        assert_eq!(readable(&"x".repeat(100), 5), "xxxxx...");
        assert_eq!(
            [number(1e308), number(-1e-308), number(0.5), number(-1.0)],
            ["1e308", "-1e-308", "0.5", "-1"]
        );
    }

    #[test]
    fn text_loses_its_byte_order_mark() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.toml");
        std::fs::write(&p, "\u{feff}a = 1").unwrap();
        assert_eq!(read_text(&p, 100).unwrap(), "a = 1");
    }
}
