//! Shared by the renderer's end-to-end tests: a tiny ShapeNet-layout tree of textured objects,
//! the `render` binary, comparisons of dataset folders, and golden scenes ([`golden`]).
#![allow(dead_code)] // each test binary uses its own part

pub mod golden;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dataset::ObjectKey;

pub const VIEWS: usize = 6;
pub const SIZE: u32 = 64;

/// The repository's root (`tests/`, `manifests/` are there).
pub fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    here.canonicalize().unwrap_or(here)
}

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
