//! Writing one view's files: `image_<k>.jpg`, `mask_<k>.png`, `depth_<k>.png`, `latent_<k>.npy`.
//!
//! Every file is written atomically and the latent goes last, so a killed run never leaves a
//! truncated file and a view is complete when all its files exist. Resuming also checks cheaply
//! that they are whole ([`view_complete`]), since a crash or a full disk outside this process can
//! still truncate one.

use std::path::Path;

use anyhow::Context;
use dataset::{atomic, Latent, ObjectKey};

use super::JobConfig;
use crate::gpu::{encode_depth_png, encode_jpeg, encode_mask_png, Frame};

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

/// The file of an object's mesh warnings (what fell back and why), one per line; written before
/// the object's views, and only when there are warnings, so the manifest can list them whatever
/// run (or shard) rendered the object.
pub const WARNINGS_FILE: &str = "render_warnings.txt";

pub fn write_warnings(root: &Path, key: &ObjectKey, warnings: &[String]) -> anyhow::Result<()> {
    let path = key.dir(root).join(WARNINGS_FILE);
    if warnings.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("{}: cannot remove", path.display()))
            }
            _ => Ok(()),
        };
    }
    std::fs::create_dir_all(key.dir(root))
        .with_context(|| format!("{}: cannot create", key.dir(root).display()))?;
    atomic::write_bytes(&path, (warnings.join("\n") + "\n").as_bytes())
        .with_context(|| format!("{}: cannot write", path.display()))
}

/// How a warning about one view starts (`view 3: ...`).
pub const VIEW_WARNING: &str = "view ";

/// The recorded warnings about views not among `rendered` (a resume renders only some views; the
/// others' warnings stay true).
pub fn earlier_view_warnings(
    root: &Path,
    key: &ObjectKey,
    rendered: &std::collections::BTreeSet<usize>,
) -> anyhow::Result<Vec<String>> {
    let view_of = |w: &str| w.strip_prefix(VIEW_WARNING)?.split(':').next()?.parse::<usize>().ok();
    Ok(read_warnings(root, key)?
        .into_iter()
        .filter(|w| view_of(w).is_some_and(|v| !rendered.contains(&v)))
        .collect())
}

/// The warnings recorded for an object (none when it has no warnings file).
pub fn read_warnings(root: &Path, key: &ObjectKey) -> anyhow::Result<Vec<String>> {
    let path = key.dir(root).join(WARNINGS_FILE);
    match dataset::input::read_bounded(&path, dataset::input::METADATA_MAX_BYTES) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).lines().map(str::to_string).collect()),
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// True when every file the job writes for the view is on disk and whole (cheaply: a readable
/// latent, images that start and end as whole files do, at the dataset's size), so a resume
/// re-renders a view whose file a crash or a full disk truncated.
pub fn view_complete(cfg: &JobConfig, key: &ObjectKey, view: usize) -> bool {
    view_problem(&cfg.out, key, view, cfg.config.settings.image_size, cfg.mask, cfg.depth, false).is_none()
}

/// What is missing or damaged in a view, if anything; `decode` decodes every image fully.
pub fn view_problem(
    root: &Path,
    key: &ObjectKey,
    view: usize,
    size: u32,
    mask: bool,
    depth: bool,
    decode: bool,
) -> Option<String> {
    let latent = key.latent_path(root, view);
    if !latent.is_file() {
        return Some(format!("{}: missing", latent.display()));
    }
    if let Err(e) = Latent::read(&latent) {
        return Some(format!("{e:#}"));
    }
    let mut images = vec![key.image_path(root, view)];
    images.extend(mask.then(|| key.mask_path(root, view)));
    images.extend(depth.then(|| key.depth_path(root, view)));
    for path in images {
        if !path.is_file() {
            return Some(format!("{}: missing", path.display()));
        }
        // Decoders tolerate a missing tail (a truncated JPEG decodes grey), so both checks run.
        let checked = super::check::image_looks_whole(&path, size).and_then(|()| {
            if decode {
                super::check::image_decodes(&path, size)
            } else {
                Ok(())
            }
        });
        if let Err(e) = checked {
            return Some(format!("{e:#}"));
        }
    }
    None
}

/// Encodes and writes one rendered view; the latent goes last.
pub fn write_view(
    cfg: &JobConfig,
    key: &ObjectKey,
    view: usize,
    latent: &Latent,
    frame: &Frame,
) -> anyhow::Result<()> {
    let (root, size) = (&cfg.out, cfg.config.settings.image_size);
    let write = |path: std::path::PathBuf, bytes: Vec<u8>| {
        atomic::write_bytes(&path, &bytes).with_context(|| format!("{}: cannot write", path.display()))
    };
    write(key.image_path(root, view), encode_jpeg(&frame.rgb, size, cfg.config.settings.jpeg_quality))?;
    if let Some(mask) = &frame.mask {
        write(key.mask_path(root, view), encode_mask_png(mask, size))?;
    }
    if let Some(depth) = &frame.depth {
        write(key.depth_path(root, view), encode_depth_png(depth, size))?;
    }
    latent.write(&key.latent_path(root, view))
}
