//! End to end: the `render` binary on a tiny ShapeNet-layout tree with textured objects.
//! Checks every file and manifest, then kill-and-resume and sharding equivalence, then bad input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use dataset::{factors, manifest, records, Latent, ObjectKey};

const VIEWS: usize = 6;
const SIZE: u32 = 64;

/// A textured box (or a tall wedge when `wedge`), OBJ Y-up, with a `../images/` texture path.
fn write_object(root: &Path, synset: &str, id: &str, wedge: bool, tint: [u8; 3]) {
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

fn tiny_tree(root: &Path) -> Vec<ObjectKey> {
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

fn render_cmd(shapenet: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_render"));
    c.args(["--shapenet", shapenet.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .args(["--views", &VIEWS.to_string(), "--image-size", &SIZE.to_string(), "--val-fraction", "0.5"])
        .args(extra)
        .env("NODEVICE_SELECT", "1");
    c
}

fn run_ok(mut c: Command) -> Output {
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
fn tree_bytes(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
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

fn walkdir_names(dir: &Path) -> Vec<String> {
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

fn assert_same_tree(a: &Path, b: &Path) {
    let (ta, tb) = (tree_bytes(a), tree_bytes(b));
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>(), "different file lists");
    for (k, v) in &ta {
        assert!(v == &tb[k], "{} differs between {} and {}", k.display(), a.display(), b.display());
    }
}

#[test]
fn renders_resumes_and_shards_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let shapenet = tmp.path().join("ShapeNetCore");
    let objects = tiny_tree(&shapenet);

    // 1. One uninterrupted run, with masks.
    let full = tmp.path().join("full");
    let out = run_ok(render_cmd(&shapenet, &full, &["--mask"]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("rendered 24 images"), "{stdout}");

    for key in &objects {
        for v in 0..VIEWS {
            let img = image::open(key.image_path(&full, v)).unwrap().to_rgb8();
            assert_eq!(img.dimensions(), (SIZE, SIZE));
            let latent = Latent::read(&key.latent_path(&full, v)).unwrap();
            assert_eq!(latent, factors::sample_latent(0, key, v));
            let mask = image::open(key.mask_path(&full, v)).unwrap().to_luma8();
            let covered = mask.pixels().filter(|p| p.0[0] == 255).count();
            assert!(mask.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255));
            assert!(covered > 20 && covered < (SIZE * SIZE) as usize / 2, "object coverage {covered}");
        }
    }
    let train = manifest::read_split(&full.join("train_images.npy"), &full.join("train_labels.npy"), Some(2))
        .unwrap();
    let val =
        manifest::read_split(&full.join("val_images.npy"), &full.join("val_labels.npy"), Some(2)).unwrap();
    assert_eq!((train.len(), val.len()), (2, 2));
    let mut all: Vec<_> = train.iter().chain(&val).cloned().collect();
    all.sort();
    let expected: Vec<_> =
        objects.iter().map(|k| (k.clone(), if k.synset == "90000001" { 0 } else { 1 })).collect();
    assert_eq!(all, expected);
    let header = std::fs::read(full.join("train_images.npy")).unwrap();
    assert!(String::from_utf8_lossy(&header[..80]).contains("'descr': '<U"));
    let recs = records::read_image_records(&full).unwrap();
    assert_eq!(recs.len(), objects.len() * VIEWS);
    let r = &recs[0];
    assert_eq!(r.quat_xyzw, dataset::rotation::quat_from_euler_xyz(r.euler_xyz));
    let m = records::DatasetManifest::read(&full).unwrap();
    assert_eq!((m.images, m.classes.len(), m.classes[0].name.as_str()), (24, 2, "box"));

    // 2. Kill mid-run (as soon as a first image exists), then resume: byte-identical.
    let resumed = tmp.path().join("resumed");
    let mut child = render_cmd(&shapenet, &resumed, &["--mask"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !objects[0].image_path(&resumed, 0).exists() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let out = run_ok(render_cmd(&shapenet, &resumed, &["--mask"]));
    eprintln!("resume: {}", String::from_utf8_lossy(&out.stdout));
    assert_same_tree(&full, &resumed);
    let temps = walkdir_names(&resumed).into_iter().filter(|n| n.ends_with(".tmp")).count();
    assert_eq!(temps, 0, "the resumed run removes the killed run's temporary files");

    // 3. Two shards into one folder equal one run.
    let sharded = tmp.path().join("sharded");
    run_ok(render_cmd(&shapenet, &sharded, &["--mask", "--shard", "1/2"]));
    run_ok(render_cmd(&shapenet, &sharded, &["--mask", "--shard", "0/2"]));
    assert_same_tree(&full, &sharded);

    // 4. Re-render from latents at another size: same factors, new images.
    let again = tmp.path().join("again");
    run_ok(render_cmd(&shapenet, &again, &["--from-latents", full.to_str().unwrap(), "--image-size", "32"]));
    for key in &objects {
        assert_eq!(
            std::fs::read(key.latent_path(&again, 2)).unwrap(),
            std::fs::read(key.latent_path(&full, 2)).unwrap()
        );
        assert_eq!(image::open(key.image_path(&again, 2)).unwrap().width(), 32);
    }
}

#[test]
fn bad_input_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let shapenet = tmp.path().join("ShapeNetCore");
    tiny_tree(&shapenet);
    // A manifest line that leaves the root.
    let list = tmp.path().join("objects.txt");
    std::fs::write(&list, "90000001/boxa\n90000001/../../secret\n").unwrap();
    let out = render_cmd(&shapenet, &tmp.path().join("o1"), &["--objects", list.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("objects.txt: line 2"), "{err}");
    assert!(!tmp.path().join("o1").exists(), "nothing may be written");

    // A NaN vertex: without --keep-going the run stops, with it the failure is listed.
    let bad = shapenet.join("90000002/wedgeb/models/model_normalized.obj");
    let text = std::fs::read_to_string(&bad).unwrap().replacen("v -0.3 -0.25 -0.2", "v nan -0.25 -0.2", 1);
    std::fs::write(&bad, text).unwrap();
    let out = render_cmd(&shapenet, &tmp.path().join("o2"), &[]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("model_normalized.obj"), "{err}");
    assert!(!tmp.path().join("o2/90000002/wedgeb").exists());

    let o3 = tmp.path().join("o3");
    let out = render_cmd(&shapenet, &o3, &["--keep-going"]).output().unwrap();
    assert!(!out.status.success());
    let m = records::DatasetManifest::read(&o3).unwrap();
    assert_eq!(m.failures.len(), 1);
    assert_eq!(m.failures[0].object, "90000002/wedgeb");
    assert_eq!(m.images, 3 * VIEWS);
}
