//! Shared by the renderer's end-to-end tests: a tiny ShapeNet-layout tree of textured objects,
//! the `render` binary, and comparisons of dataset folders.
#![allow(dead_code)] // each test binary uses its own part

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dataset::ObjectKey;

pub const VIEWS: usize = 6;
pub const SIZE: u32 = 64;

/// A textured box (or a tall wedge when `wedge`), OBJ Y-up, with a `../images/` texture path.
pub fn write_object(root: &Path, synset: &str, id: &str, wedge: bool, tint: [u8; 3]) {
    let models = root.join(synset).join(id).join("models");
    let images = root.join(synset).join(id).join("images");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::create_dir_all(&images).unwrap();
    let tex = image::RgbImage::from_fn(8, 8, |x, y| {
        if (x + y) % 2 == 0 {
            image::Rgb(tint)
        } else {
            image::Rgb([240, 240, 240])
        }
    });
    tex.save(images.join("texture0.png")).unwrap();
    std::fs::write(
        models.join("model_normalized.mtl"),
        "newmtl body\nKd 0.8 0.8 0.8\nKs 0.2 0.2 0.2\nNs 100\nmap_Kd ../images/texture0.png\n",
    )
    .unwrap();
    let top = if wedge { 0.1 } else { 0.3 };
    let mut obj = String::from("mtllib model_normalized.mtl\n");
    let (x, y, z) = (0.3, 0.25, 0.2);
    for (vx, vy, vz) in [
        (-x, -y, -z),
        (x, -y, -z),
        (x, -y, z),
        (-x, -y, z),
        (-top, y, -z),
        (top, y, -z),
        (top, y, z),
        (-top, y, z),
    ] {
        obj += &format!("v {vx} {vy} {vz}\n");
    }
    obj += "vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nusemtl body\n";
    for f in [[1, 2, 3, 4], [8, 7, 6, 5], [1, 5, 6, 2], [2, 6, 7, 3], [3, 7, 8, 4], [4, 8, 5, 1]] {
        obj += &format!("f {}/1 {}/2 {}/3 {}/4\n", f[0], f[1], f[2], f[3]);
    }
    std::fs::write(models.join("model_normalized.obj"), obj).unwrap();
}

pub fn tiny_tree(root: &Path) -> Vec<ObjectKey> {
    write_object(root, "90000001", "boxa", false, [200, 30, 30]);
    write_object(root, "90000001", "boxb", false, [30, 30, 200]);
    write_object(root, "90000002", "wedgea", true, [30, 160, 30]);
    write_object(root, "90000002", "wedgeb", true, [160, 160, 30]);
    std::fs::write(
        root.join("taxonomy.json"),
        r#"[{"synsetId":"90000001","name":"box,crate","children":[],"numInstances":2},{"synsetId":"90000002","name":"wedge","children":[],"numInstances":2}]"#,
    )
    .unwrap();
    ["90000001/boxa", "90000001/boxb", "90000002/wedgea", "90000002/wedgeb"]
        .iter()
        .map(|s| ObjectKey::parse(s).unwrap())
        .collect()
}

pub fn render_cmd(shapenet: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_render"));
    c.args(["--shapenet", shapenet.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .args(["--views", &VIEWS.to_string(), "--image-size", &SIZE.to_string(), "--val-fraction", "0.5"])
        .args(extra)
        .env("NODEVICE_SELECT", "1");
    c
}

pub fn run_ok(mut c: Command) -> Output {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "render failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every visible file under `dir` (relative path -> bytes); temp files start with '.'.
pub fn tree_bytes(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().unwrap().to_string_lossy().starts_with('.') {
                continue;
            }
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.insert(p.strip_prefix(base).unwrap().to_path_buf(), std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

pub fn walkdir_names(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walkdir_names(&p));
        } else {
            out.push(p.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    out
}

pub fn assert_same_tree(a: &Path, b: &Path) {
    let (ta, tb) = (tree_bytes(a), tree_bytes(b));
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>(), "different file lists");
    for (k, v) in &ta {
        assert!(v == &tb[k], "{} differs between {} and {}", k.display(), a.display(), b.display());
    }
}

/// Whether a rendering test may be skipped because the renderer could not start: only when
/// `RENDER_TESTS_WITHOUT_ADAPTER=1` says so explicitly (CI always has lavapipe, so a missing
/// adapter there is a failure, never a silent pass). Panics otherwise.
pub fn skip_without_adapter(error: &anyhow::Error, what: &str) -> bool {
    let text = format!("{error:#}");
    if text.contains("no graphics adapter")
        && std::env::var("RENDER_TESTS_WITHOUT_ADAPTER").as_deref() == Ok("1")
    {
        eprintln!("SKIPPED {what} (RENDER_TESTS_WITHOUT_ADAPTER=1): {text}");
        return true;
    }
    panic!("cannot start the renderer for {what}: {text} (set RENDER_TESTS_WITHOUT_ADAPTER=1 to skip on a machine without one)");
}

/// Golden images: a pixel differs when any channel is off by more than this...
pub const CHANNEL_TOLERANCE: u8 = 3;
/// ...and an image fails when more than this fraction of its pixels differ.
pub const MAX_DIFFERING_FRACTION: f64 = 0.01;

/// Compares `rgb` (`width` x `height`) with `dir/<name>.png`, or rewrites that reference when
/// `bless`. On failure writes `dir/diff_<name>.png` (differing pixels red over the dimmed
/// reference) and `dir/diff_<name>_actual.png` (gitignored) and says where they are.
pub fn compare_or_bless(
    dir: &Path,
    name: &str,
    rgb: &[u8],
    width: u32,
    height: u32,
    bless: bool,
) -> Result<(), String> {
    let reference_path = dir.join(format!("{name}.png"));
    if bless {
        std::fs::create_dir_all(dir).unwrap();
        image::save_buffer(&reference_path, rgb, width, height, image::ExtendedColorType::Rgb8).unwrap();
        eprintln!("blessed {}", reference_path.display());
        return Ok(());
    }
    let reference = image::open(&reference_path)
        .map_err(|e| {
            format!(
                "{}: cannot read reference ({e}); run with BLESS=1 to create it",
                reference_path.display()
            )
        })?
        .to_rgb8();
    if reference.dimensions() != (width, height) {
        return Err(format!(
            "{}: reference is {:?}, expected {width}x{height}",
            reference_path.display(),
            reference.dimensions()
        ));
    }
    let mut diff = image::RgbImage::new(width, height);
    let mut differing = 0usize;
    let mut worst = 0u8;
    for ((got, want), out) in rgb.chunks_exact(3).zip(reference.pixels()).zip(diff.pixels_mut()) {
        let d = (0..3).map(|c| got[c].abs_diff(want[c])).max().unwrap();
        worst = worst.max(d);
        if d > CHANNEL_TOLERANCE {
            differing += 1;
            *out = image::Rgb([255, 0, 0]);
        } else {
            *out = image::Rgb(want.0.map(|c| c / 3));
        }
    }
    let fraction = differing as f64 / (width * height) as f64;
    let diff_path = dir.join(format!("diff_{name}.png"));
    let got_path = dir.join(format!("diff_{name}_actual.png"));
    if fraction > MAX_DIFFERING_FRACTION {
        diff.save(&diff_path).unwrap();
        image::save_buffer(&got_path, rgb, width, height, image::ExtendedColorType::Rgb8).unwrap();
        return Err(format!(
            "{name}: {differing} pixels ({:.2}%) differ by more than {CHANNEL_TOLERANCE} (worst {worst}); \
             see {} and {}",
            100.0 * fraction,
            diff_path.display(),
            got_path.display()
        ));
    }
    let _ = std::fs::remove_file(diff_path);
    let _ = std::fs::remove_file(got_path);
    Ok(())
}
