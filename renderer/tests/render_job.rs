//! End to end: the `render` binary on a tiny ShapeNet-layout tree with textured objects.
//! Checks every file and manifest, then kill-and-resume and sharding equivalence, then bad input.

mod common;

use std::time::{Duration, Instant};

use common::*;
use dataset::{factors, manifest, records, Latent};

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
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The kill must have come before the run finished, or this proves nothing about resuming.
    let rendered: usize = stdout
        .split("rendered ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no image count in {stdout:?}"));
    assert!(rendered > 0, "the resumed run had nothing left to render: {stdout}");
    assert_same_tree(&full, &resumed);
    let temps = walkdir_names(&resumed).into_iter().filter(|n| n.ends_with(".tmp")).count();
    assert_eq!(temps, 0, "the resumed run removes the killed run's temporary files");

    // 3. Three shards at once into one folder, then `render merge`, equal one run byte for byte.
    let sharded = tmp.path().join("sharded");
    let shards: Vec<_> = (0..3)
        .map(|i| {
            let mut c = render_cmd(&shapenet, &sharded, &["--mask", "--shard", &format!("{i}/3")]);
            c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for child in shards {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "shard failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(!sharded.join("manifest.json").exists(), "shards never write the root manifest");
    assert!(!sharded.join("train_images.npy").exists(), "nor the split files");
    run_ok(merge_cmd(&sharded));
    std::fs::remove_dir_all(sharded.join("shards")).unwrap();
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

fn merge_cmd(dir: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_render"));
    c.args(["merge", dir.to_str().unwrap()]).env("NODEVICE_SELECT", "1");
    c
}

#[test]
fn merge_refuses_missing_and_foreign_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let shapenet = tmp.path().join("ShapeNetCore");
    tiny_tree(&shapenet);
    let out = tmp.path().join("out");
    run_ok(render_cmd(&shapenet, &out, &["--views", "1", "--shard", "0/2"]));
    let merged = merge_cmd(&out).output().unwrap();
    let err = String::from_utf8_lossy(&merged.stderr);
    assert!(!merged.status.success() && err.contains("1-of-2.json: missing"), "{err}");

    // The other half under another seed: not one job.
    run_ok(render_cmd(&shapenet, &out, &["--views", "1", "--shard", "1/2", "--seed", "7"]));
    let merged = merge_cmd(&out).output().unwrap();
    let err = String::from_utf8_lossy(&merged.stderr);
    assert!(!merged.status.success() && err.contains("1-of-2.json: seed is 7 here but 0"), "{err}");
    assert!(!out.join("manifest.json").exists(), "a refused merge writes nothing");
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
    break_wedgeb(&shapenet);
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

/// Gives 90000002/wedgeb a NaN vertex, so that loading it fails.
fn break_wedgeb(shapenet: &std::path::Path) {
    let bad = shapenet.join("90000002/wedgeb/models/model_normalized.obj");
    let text = std::fs::read_to_string(&bad).unwrap();
    let broken = text.replacen("v -0.3 -0.25 -0.2", "v nan -0.25 -0.2", 1);
    assert_ne!(text, broken, "the fixture's vertex line moved");
    std::fs::write(&bad, broken).unwrap();
}

#[test]
fn merge_lists_keep_going_failures_as_one_run_does() {
    let tmp = tempfile::tempdir().unwrap();
    let shapenet = tmp.path().join("ShapeNetCore");
    tiny_tree(&shapenet);
    break_wedgeb(&shapenet);
    let one = tmp.path().join("one");
    assert!(!render_cmd(&shapenet, &one, &["--keep-going"]).status().unwrap().success());

    // Without --keep-going the failing shard records nothing: merge refuses it.
    let sharded = tmp.path().join("sharded");
    let shard = |i: usize, extra: &[&str]| {
        let name = format!("{i}/2");
        let args: Vec<&str> = ["--shard", name.as_str()].iter().chain(extra).copied().collect();
        render_cmd(&shapenet, &sharded, &args).output().unwrap()
    };
    let failing: Vec<bool> = (0..2).map(|i| shard(i, &[]).status.success()).collect();
    assert_eq!(failing.iter().filter(|ok| !**ok).count(), 1, "one shard owns the broken object");
    let merged = merge_cmd(&sharded).output().unwrap();
    let err = String::from_utf8_lossy(&merged.stderr);
    assert!(!merged.status.success() && err.contains("are not rendered"), "{err}");
    assert!(!sharded.join("manifest.json").exists());

    // The failing shard again with --keep-going: merge writes what the one run wrote, and fails.
    let bad = failing.iter().position(|ok| !ok).unwrap();
    assert!(!shard(bad, &["--keep-going"]).status.success());
    let merged = merge_cmd(&sharded).output().unwrap();
    let err = String::from_utf8_lossy(&merged.stderr);
    assert!(!merged.status.success(), "failed objects make merge's status non-zero");
    assert!(err.contains("failed: 90000002/wedgeb: ") && err.contains("model_normalized.obj"), "{err}");
    let m = records::DatasetManifest::read(&sharded).unwrap();
    assert_eq!((m.failures.len(), m.images), (1, 3 * VIEWS));
    std::fs::remove_dir_all(sharded.join("shards")).unwrap();
    assert_same_tree(&one, &sharded);
}
