//! Controlled variants end to end: factor configurations and presets, one-factor changes that
//! leave every other factor untouched, per-split overrides (3DIEBench-OOD), `--like`,
//! 3DIEBench-T's 10-value latents, depth, and resumes refused on a mismatch.

mod common;

use std::f64::consts::FRAC_PI_2;
use std::path::{Path, PathBuf};

use common::*;
use dataset::{manifest, records, Latent, ObjectKey};

fn preset(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests").join(name).to_string_lossy().into_owned()
}

fn write_config(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

fn latent(root: &Path, key: &ObjectKey, v: usize) -> Vec<f64> {
    Latent::read(&key.latent_path(root, v)).unwrap().values()
}

/// `images.jsonl` as JSON objects, with the given keys removed.
fn records_without(root: &Path, keys: &[&str]) -> Vec<serde_json::Value> {
    records::read_image_records(root)
        .unwrap()
        .into_iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap();
            for k in keys {
                v.as_object_mut().unwrap().remove(*k);
            }
            v
        })
        .collect()
}

fn run_err(mut c: std::process::Command) -> String {
    let out = c.output().unwrap();
    assert!(!out.status.success(), "expected a failure: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn setup() -> (tempfile::TempDir, PathBuf, Vec<ObjectKey>) {
    let tmp = tempfile::tempdir().unwrap();
    let shapenet = tmp.path().join("ShapeNetCore");
    let objects = tiny_tree(&shapenet);
    (tmp, shapenet, objects)
}

#[test]
fn one_factor_changed_leaves_every_other_factor_identical() {
    let (tmp, shapenet, objects) = setup();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    run_ok(render_cmd(&shapenet, &a, &[]));
    // The file's views (3) give way to the command line's --views 6.
    let config = write_config(
        tmp.path(),
        "floor.toml",
        "[dataset]\nviews = 3\n[factors]\nfloor_hue = { uniform = [0.2, 0.4] }\n",
    );
    run_ok(render_cmd(&shapenet, &b, &["--config", &config]));
    for key in &objects {
        for v in 0..VIEWS {
            let (la, lb) = (latent(&a, key, v), latent(&b, key, v));
            for i in [0, 1, 2, 4, 5, 6] {
                assert_eq!(la[i], lb[i], "{key} view {v} latent {i}");
            }
            assert!((0.2..0.4).contains(&lb[3]), "{}", lb[3]);
            assert_ne!(la[3], lb[3]);
        }
    }
    let floor_keys = ["floor_hue", "floor_rgb", "latent"];
    assert_eq!(records_without(&a, &floor_keys), records_without(&b, &floor_keys));
    assert_eq!(
        std::fs::read(a.join("val_images.npy")).unwrap(),
        std::fs::read(b.join("val_images.npy")).unwrap()
    );
    let (ma, mb) = (records::DatasetManifest::read(&a).unwrap(), records::DatasetManifest::read(&b).unwrap());
    assert_ne!(ma.config_hash, mb.config_hash);
    assert_eq!((mb.views, mb.config["dataset"]["views"].as_u64()), (VIEWS, Some(VIEWS as u64)));
    assert_eq!(mb.config["factors"]["train"]["floor_hue"], serde_json::json!({ "uniform": [0.2, 0.4] }));
    assert!(mb.adapter.as_deref().is_some_and(|a| !a.is_empty()), "the adapter is recorded");
    assert!(!mb.generator_commit.is_empty());
}

#[test]
fn ood_preset_changes_val_rotations_only_and_like_keeps_the_rest() {
    let (tmp, shapenet, objects) = setup();
    let src = tmp.path().join("src");
    run_ok(render_cmd(&shapenet, &src, &[]));
    let ood = tmp.path().join("ood");
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_render"));
    c.args(["--shapenet", shapenet.to_str().unwrap(), "--out", ood.to_str().unwrap()])
        .args(["--like", src.to_str().unwrap(), "--config", &preset("3diebench-ood.toml")])
        .env("NODEVICE_SELECT", "1");
    run_ok(c);
    for split in ["train", "val"] {
        for path in [manifest::images_path, manifest::labels_path] {
            assert_eq!(std::fs::read(path(&src, split)).unwrap(), std::fs::read(path(&ood, split)).unwrap());
        }
    }
    let val: Vec<ObjectKey> = manifest::read_images(&manifest::images_path(&src, "val")).unwrap();
    assert_eq!(val.len(), 2);
    for key in &objects {
        let is_val = val.contains(key);
        for v in 0..VIEWS {
            let (ls, lo) = (latent(&src, key, v), latent(&ood, key, v));
            if is_val {
                assert!(lo[..3].iter().all(|a| a.abs() >= FRAC_PI_2 - 1e-12), "{key}: {lo:?}");
                assert_eq!(ls[3..], lo[3..], "only the rotation changes");
            } else {
                assert!(lo[..3].iter().all(|a| a.abs() <= FRAC_PI_2));
                assert_eq!(ls, lo);
                // Same factors, same renderer: the training views are the source's, byte for byte.
                assert_eq!(
                    std::fs::read(key.image_path(&src, v)).unwrap(),
                    std::fs::read(key.image_path(&ood, v)).unwrap()
                );
            }
        }
    }
    let m = records::DatasetManifest::read(&ood).unwrap();
    assert_eq!((m.seed, m.views, m.image_size), (0, VIEWS, SIZE));
    assert!(m.config["factors"]["val"]["rotation_x"]["union"].is_array());
    assert!(m.config["factors"]["train"]["rotation_x"]["uniform"].is_array());
}

#[test]
fn translation_preset_writes_ten_value_latents_and_depth() {
    let (tmp, shapenet, objects) = setup();
    let out = tmp.path().join("t");
    run_ok(render_cmd(&shapenet, &out, &["--config", &preset("3diebench-t.toml"), "--depth"]));
    let recs = records::read_image_records(&out).unwrap();
    assert_eq!(recs.len(), objects.len() * VIEWS);
    for r in &recs {
        let key = ObjectKey::new(&r.synset, &r.object_id).unwrap();
        let l = latent(&out, &key, r.view);
        assert_eq!(l.len(), 10);
        assert_eq!(r.latent, l);
        assert_eq!(r.translation, [l[7], l[8], l[9]]);
        assert!(r.translation.iter().all(|t| t.abs() <= 0.5));
        // Object frame: the centre lands at R t.
        let m = dataset::rotation::matrix_from_euler_xyz(r.euler_xyz);
        for (i, row) in m.iter().enumerate() {
            let want: f64 = (0..3).map(|j| row[j] * r.translation[j]).sum();
            assert!((r.object_centre[i] - want).abs() < 1e-12);
        }
        let depth = image::open(key.depth_path(&out, r.view)).unwrap();
        assert_eq!(depth.color(), image::ColorType::L16);
        let d = depth.to_luma16();
        assert!(d.pixels().all(|p| p.0[0] > 1000 && p.0[0] < 40_000), "millimetres to object and floor");
    }
    let header = std::fs::read(objects[0].latent_path(&out, 0)).unwrap();
    assert!(String::from_utf8_lossy(&header[..128]).contains("'shape': (10,)"));
}

#[test]
fn resume_is_refused_when_the_run_differs() {
    let (tmp, shapenet, objects) = setup();
    let out = tmp.path().join("ds");
    run_ok(render_cmd(&shapenet, &out, &[]));
    let list = tmp.path().join("some.txt");
    std::fs::write(&list, "90000001/boxa\n90000002/wedgea\n").unwrap();
    let colour = preset("colour-only.toml");
    for (extra, want) in [
        (vec!["--image-size", "32"], "image_size is 64 in the dataset but 32 in this run"),
        (vec!["--seed", "7"], "seed is 0 in the dataset but 7 in this run"),
        (vec!["--views", "4"], "views is 6 in the dataset but 4 in this run"),
        (vec!["--config", colour.as_str()], "config_hash is"),
        (vec!["--objects", list.to_str().unwrap()], "objects_hash is"),
        (vec!["--antialias", "msaa4"], "antialias is \"Fxaa\" in the dataset but \"Msaa4\""),
    ] {
        let err = run_err(render_cmd(&shapenet, &out, &extra));
        assert!(err.contains(want) && err.contains("manifest.json"), "{extra:?}: {err}");
    }
    assert_eq!(image::open(objects[0].image_path(&out, 0)).unwrap().width(), SIZE, "nothing was overwritten");
    let again = run_ok(render_cmd(&shapenet, &out, &[]));
    assert!(String::from_utf8_lossy(&again.stdout).contains("rendered 0 images, skipped 24"));
}

#[test]
fn bad_configs_and_flags_are_rejected_before_anything_is_written() {
    let (tmp, shapenet, _) = setup();
    let bad = write_config(tmp.path(), "bad.toml", "[factors]\nfloor_hues = 0.5\n");
    let inverted = write_config(tmp.path(), "inverted.toml", "[factors]\nscale = { uniform = [2, 1] }\n");
    for (extra, want) in [
        (vec!["--config", bad.as_str()], "bad.toml: factors.floor_hues: unknown key"),
        (vec!["--config", inverted.as_str()], "inverted.toml: factors.scale: uniform: min 2 > max 1"),
        (vec!["--views", "0"], "--views: 0 is out of range"),
        (vec!["--views", "4294967295"], "--views: 4294967295 is out of range"),
        (vec!["--val-fraction", "1.5"], "--val-fraction: 1.5 is not in [0, 1]"),
        (vec!["--val-fraction", "NaN"], "--val-fraction: NaN is not in [0, 1]"),
        (vec!["--renderers", "0"], "--renderers: 0 is out of range"),
        (vec!["--renderers", "100000"], "--renderers: 100000 is out of range"),
        (vec!["--jpeg-quality", "0"], "--jpeg-quality: 0 is out of range"),
    ] {
        let out = tmp.path().join("never");
        let err = run_err(render_cmd(&shapenet, &out, &extra));
        assert!(err.contains(want), "{extra:?}: {err}");
        assert!(!out.exists(), "{extra:?}: nothing may be written");
    }
}

#[test]
fn from_latents_keeps_the_source_split_and_views() {
    let (tmp, shapenet, _) = setup();
    let src = tmp.path().join("src");
    run_ok(render_cmd(&shapenet, &src, &[]));
    let again = tmp.path().join("again");
    // Another split fraction and seed on the command line do not move objects between splits.
    run_ok(render_cmd(
        &shapenet,
        &again,
        &["--from-latents", src.to_str().unwrap(), "--val-fraction", "0.25"],
    ));
    for split in ["train", "val"] {
        let path = manifest::images_path;
        assert_eq!(std::fs::read(path(&src, split)).unwrap(), std::fs::read(path(&again, split)).unwrap());
    }
    assert_eq!(records::DatasetManifest::read(&again).unwrap().views, VIEWS);
}

#[test]
fn library_seed_picks_the_objects_and_seed_the_factors() {
    let tmp = tempfile::tempdir().unwrap();
    let render = |lib: &str, out: &str, extra: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_render"));
        c.args([
            "--library",
            tmp.path().join(lib).to_str().unwrap(),
            "--out",
            tmp.path().join(out).to_str().unwrap(),
        ])
        .args(["--per-class", "1", "--views", "1", "--image-size", "16"])
        .args(extra)
        .env("NODEVICE_SELECT", "1");
        run_ok(c);
        manifest::read_images(&manifest::images_path(&tmp.path().join(out), "train")).unwrap()
    };
    let a = render("lib0", "a", &[]);
    let b = render("lib0s", "b", &["--seed", "5"]);
    let c = render("lib1", "c", &["--library-seed", "1"]);
    assert_eq!(a, b, "--seed leaves the built-in library's objects alone");
    assert_ne!(a, c, "--library-seed picks other objects");
    let key = &a[0];
    assert_ne!(latent(&tmp.path().join("a"), key, 0), latent(&tmp.path().join("b"), key, 0));
    let m = records::DatasetManifest::read(&tmp.path().join("c")).unwrap();
    assert_eq!(m.config["library"], serde_json::json!({ "per_class": 1, "seed": 1 }));
}

#[test]
fn from_latents_of_a_translated_dataset_keeps_its_configuration() {
    let (tmp, shapenet, objects) = setup();
    let src = tmp.path().join("t");
    run_ok(render_cmd(&shapenet, &src, &["--config", &preset("3diebench-t.toml")]));
    let again = tmp.path().join("t32");
    run_ok(render_cmd(&shapenet, &again, &["--from-latents", src.to_str().unwrap(), "--image-size", "32"]));
    for key in &objects {
        assert_eq!(
            std::fs::read(key.latent_path(&src, 1)).unwrap(),
            std::fs::read(key.latent_path(&again, 1)).unwrap()
        );
    }
    let strip = ["image"];
    assert_eq!(
        records_without(&src, &strip),
        records_without(&again, &strip),
        "every factor as in the source"
    );
    let m = records::DatasetManifest::read(&again).unwrap();
    assert_eq!(m.config["dataset"]["latent"], "translation");
    assert_eq!(m.config["dataset"]["image_size"], 32);
}

#[test]
fn mesh_warnings_reach_stderr_and_the_manifest_without_a_terminal() {
    let (tmp, shapenet, _) = setup();
    let mtl = shapenet.join("90000001/boxa/models/model_normalized.mtl");
    let text = std::fs::read_to_string(&mtl).unwrap().replace("texture0.png", "missing.png");
    std::fs::write(&mtl, text).unwrap();
    let out = tmp.path().join("w");
    // Output captured: stderr is a pipe, not a terminal.
    let run = run_ok(render_cmd(&shapenet, &out, &[]));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("warning: 90000001/boxa:") && err.contains("missing.png"), "{err}");
    let m = records::DatasetManifest::read(&out).unwrap();
    let missing: Vec<_> = m.warnings.iter().filter(|w| w.warning.contains("missing.png")).collect();
    assert_eq!(missing.len(), 1, "{:?}", m.warnings);
    assert_eq!(missing[0].object, "90000001/boxa");
    // The fixtures' diagonals are not 1: each object's rescale is recorded too.
    let rescaled = m.warnings.iter().filter(|w| w.warning.contains("rescaled to 1")).count();
    assert_eq!(rescaled, 4, "{:?}", m.warnings);
    // A resumed run that renders nothing still lists it.
    run_ok(render_cmd(&shapenet, &out, &[]));
    assert_eq!(records::DatasetManifest::read(&out).unwrap().warnings, m.warnings);
}

#[test]
fn an_object_folder_without_its_mesh_is_an_error_or_a_listed_failure() {
    let (tmp, shapenet, _) = setup();
    // One folder with no mesh at all, one whose mesh path is a directory.
    std::fs::create_dir_all(shapenet.join("90000001/nomesh/models")).unwrap();
    std::fs::create_dir_all(shapenet.join("90000002/dirmesh/models/model_normalized.obj")).unwrap();
    let out = tmp.path().join("o");
    let err = run_err(render_cmd(&shapenet, &out, &[]));
    assert!(err.contains("90000001/nomesh/models/model_normalized.obj"), "{err}");
    let run = render_cmd(&shapenet, &out, &["--keep-going"]).output().unwrap();
    assert!(!run.status.success());
    let m = records::DatasetManifest::read(&out).unwrap();
    let failed: Vec<&str> = m.failures.iter().map(|f| f.object.as_str()).collect();
    assert_eq!(failed, ["90000001/nomesh", "90000002/dirmesh"], "{:?}", m.failures);
    assert_eq!(m.images, 4 * VIEWS, "the other objects are rendered");
}

#[test]
fn truncated_views_are_re_rendered_and_verify_lists_damage() {
    let (tmp, shapenet, objects) = setup();
    let out = tmp.path().join("ds");
    run_ok(render_cmd(&shapenet, &out, &["--mask"]));
    let verify = |dir: &Path| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_render"));
        c.args(["verify", dir.to_str().unwrap()]);
        c.output().unwrap()
    };
    let ok = verify(&out);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("4 objects, 24 views checked: 0 missing or damaged"));

    let image = objects[0].image_path(&out, 2);
    let original = std::fs::read(&image).unwrap();
    std::fs::write(&image, &original[..original.len() / 2]).unwrap();
    std::fs::remove_file(objects[1].mask_path(&out, 0)).unwrap();
    let bad = verify(&out);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(err.contains("image_2.jpg") && err.contains("mask_0.png: missing"), "{err}");
    assert!(String::from_utf8_lossy(&bad.stdout).contains("2 missing or damaged"));

    // Resume sees the truncated image as incomplete and renders it (and the mask) again.
    let again = run_ok(render_cmd(&shapenet, &out, &["--mask"]));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("rendered 2 images"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    assert_eq!(std::fs::read(&image).unwrap(), original);
    assert!(verify(&out).status.success());
}

#[test]
fn the_same_shard_twice_on_one_folder_is_refused() {
    let (tmp, shapenet, objects) = setup();
    let out = tmp.path().join("ds");
    std::fs::create_dir_all(&out).unwrap();
    // Another process rendering shard 0/2 holds its lock.
    let held = std::fs::File::create(out.join(".render-0-of-2.lock")).unwrap();
    held.try_lock().unwrap();
    let err = run_err(render_cmd(&shapenet, &out, &["--shard", "0/2"]));
    assert!(err.contains("another `render` is writing shard 0/2"), "{err}");
    // The other shard of the same job may share the folder.
    let run = run_ok(render_cmd(&shapenet, &out, &["--shard", "1/2"]));
    let second = renderer::job::Shard { index: 1, count: 2 };
    let images = objects.iter().filter(|k| second.owns(k)).count() * VIEWS;
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains(&format!("rendered {images} images")), "{stdout}");
    drop(held);
    run_ok(render_cmd(&shapenet, &out, &["--shard", "0/2"]));
}

#[test]
fn a_headless_machine_gets_no_display_errors() {
    // Reported elsewhere: four `error: XDG_RUNTIME_DIR is invalid` lines from a display probe.
    let (tmp, shapenet, _) = setup();
    let mut c = render_cmd(&shapenet, &tmp.path().join("h"), &[]);
    c.env_remove("XDG_RUNTIME_DIR").env_remove("WAYLAND_DISPLAY").env_remove("DISPLAY");
    let out = run_ok(c);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("XDG_RUNTIME_DIR") && !err.contains("error"), "{err}");
}
