//! `train --render`: training on views rendered in the process (lavapipe here).
//!
//! - The live batches are the file batches of the same `render` command: the same objects,
//!   labels, pair order, views and latents, and images within JPEG's loss (PSNR printed).
//! - Two identical commands give byte-identical checkpoints; kill -9 then resume equals an
//!   uninterrupted run.
//! - `--fresh-views` draws new factors for every pair each epoch, reproducibly.
//! - What `render` refuses is refused before the first step; a failing mesh stops the run naming
//!   it, or with `--keep-going` is skipped and listed in log.jsonl.
#![cfg(feature = "render")]

mod common;

use std::path::{Path, PathBuf};

use clap::Parser;
use dataset::pair::LatentKind;
use trainer::config::TrainArgs;
use trainer::data::{PairDataset, PairSource};
use trainer::live::LiveSource;

/// Flags of a small live run on the built-in library at `lib` (2 objects per class: 12 train).
fn live_args(lib: &Path, exp: &Path, extra: &[&str]) -> TrainArgs {
    let mut v: Vec<String> = [
        "train",
        "--render",
        "--library",
        &lib.to_string_lossy(),
        "--per-class",
        "2",
        "--views",
        "6",
        "--image-size",
        "64",
        "--exp-dir",
        &exp.to_string_lossy(),
        "--arch",
        "resnet-tiny",
        "--resolution",
        "32",
        "--batch-size",
        "4",
        "--mlp",
        "64-64",
        "--quiet",
        "--log-interval",
        "1",
        "--seed",
        "3",
        "--base-lr",
        "3e-3",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if extra.contains(&"--fresh-views") {
        let at = v.iter().position(|a| a == "--views").unwrap();
        v.drain(at..at + 2);
    }
    // A flag in `extra` replaces the default one.
    for flag in extra.iter().filter(|f| f.starts_with("--")) {
        if let Some(at) = v.iter().position(|a| a == flag) {
            let with_value = v.get(at + 1).is_some_and(|x| !x.starts_with("--"));
            v.drain(at..at + 1 + with_value as usize);
        }
    }
    v.extend(extra.iter().map(|s| s.to_string()));
    TrainArgs::parse_from(v)
}

/// Whether two runs' checkpoints are the same bytes: every tensor's data, the layout and the
/// metadata, but for the `--exp-dir` each records (and the header checksum that covers it).
fn same_checkpoint(a: &Path, b: &Path) -> bool {
    let split = |p: &Path| {
        let bytes = std::fs::read(p.join(model::checkpoint::CHECKPOINT_FILE)).unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        let meta = header["__metadata__"].as_object_mut().unwrap();
        meta.remove("checksum");
        let mut args: serde_json::Value = serde_json::from_str(meta["args"].as_str().unwrap()).unwrap();
        args["exp_dir"] = serde_json::Value::Null;
        meta["args"] = args;
        (header, bytes[8 + n..].to_vec())
    };
    split(a) == split(b)
}

fn pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap()
}

/// PSNR in dB of two normalised CHW images, on the [0, 1] pixel scale.
fn psnr(a: &[f32], b: &[f32]) -> f64 {
    let plane = a.len() / 3;
    let mse: f64 = a
        .iter()
        .zip(b)
        .enumerate()
        .map(|(i, (x, y))| {
            let d = ((x - y) * dataset::pixels::STD[i / plane]) as f64;
            d * d
        })
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (1.0 / mse.max(1e-20)).log10()
}

/// The live batches of fixed views are the file batches of the same render command: the same
/// objects, labels, views and latents (bit for bit), and images at 35 dB or better (the
/// JPEG's loss), at the README main job's sizes (256 px rendered, 64 px trained).
#[test]
fn fixed_views_are_the_files_of_the_same_render_command() {
    let dir = tempfile::tempdir().unwrap();
    let (lib, data) = (dir.path().join("lib"), dir.path().join("ds"));
    let render = renderer::cli::Cli::parse_from([
        "render",
        "--views",
        "5",
        "--per-class",
        "2",
        "--library",
        &lib.to_string_lossy(),
        "--out",
        &data.to_string_lossy(),
    ]);
    renderer::commands::run_dataset(render.dataset).unwrap();

    let kind = LatentKind::ROTATION_COLOUR;
    let files = PairDataset::open(
        &data,
        &data.join("train_images.npy"),
        &data.join("train_labels.npy"),
        12,
        kind,
        64,
    )
    .unwrap();
    for (size, floor) in [(Some(256), 35.0), (None, 35.0), (Some(64), 0.0)] {
        let mut args = live_args(&lib, &dir.path().join("exp"), &["--resolution", "64"]);
        args.live.views = Some(5);
        args.live.image_size = size; // None: the default, 2 x 64
        let live = LiveSource::open(&args, kind).unwrap();
        let (mean, worst) = agreement(&live, &files, 64);
        let size = size.unwrap_or(trainer::live::default_image_size(256, 64));
        eprintln!(
            "256 px files, rendered at {size} px, at 64 px: mean PSNR {mean:.2} dB, worst {worst:.2} dB"
        );
        assert!(worst >= floor, "rendered at {size} px: worst PSNR {worst:.2} dB");
    }

    // README command 1's sizes: 64 px files trained at 32 px (rendered at 64 px by default).
    let small = dir.path().join("ds64");
    let render = renderer::cli::Cli::parse_from([
        "render",
        "--views",
        "5",
        "--per-class",
        "2",
        "--image-size",
        "64",
        "--library",
        &lib.to_string_lossy(),
        "--out",
        &small.to_string_lossy(),
    ]);
    renderer::commands::run_dataset(render.dataset).unwrap();
    let files = PairDataset::open(
        &small,
        &small.join("train_images.npy"),
        &small.join("train_labels.npy"),
        12,
        kind,
        32,
    )
    .unwrap();
    let mut args = live_args(&lib, &dir.path().join("exp"), &["--resolution", "32"]);
    args.live.views = Some(5);
    args.live.image_size = None;
    let (mean, worst) = agreement(&LiveSource::open(&args, kind).unwrap(), &files, 32);
    eprintln!("64 px files, rendered at 64 px, at 32 px: mean PSNR {mean:.2} dB, worst {worst:.2} dB");
    assert!(worst >= 35.0, "worst PSNR {worst:.2} dB");
}

/// The live and file batches of two epochs: the same objects, labels and latents; the mean and
/// worst PSNR of their images.
fn agreement(live: &LiveSource, files: &PairDataset, res: usize) -> (f64, f64) {
    let keys: Vec<String> = live.objects().iter().map(|o| o.key.to_string()).collect();
    let file_keys: Vec<String> = files.samples.iter().map(|s| s.key.to_string()).collect();
    assert_eq!(keys, file_keys);
    let (mut worst, mut sum, mut count) = (f64::INFINITY, 0.0, 0);
    for epoch in 0..2 {
        let order = trainer::data::epoch_order(files.len(), 3, epoch);
        let (a, b) = (
            live.load_batch(&pool(), 3, epoch, &order).unwrap(),
            files.load_batch(&pool(), 3, epoch, &order).unwrap(),
        );
        assert_eq!((&a.labels, &a.latent), (&b.labels, &b.latent), "epoch {epoch}");
        let image = 3 * res * res;
        for (x, y) in
            a.x1.chunks(image).zip(b.x1.chunks(image)).chain(a.x2.chunks(image).zip(b.x2.chunks(image)))
        {
            let p = psnr(x, y);
            worst = worst.min(p);
            sum += p;
            count += 1;
        }
    }
    (sum / count as f64, worst)
}

/// Two identical live commands give byte-identical checkpoints; a run killed with SIGKILL and
/// then run again ends with the bytes of an uninterrupted one.
#[test]
fn live_runs_are_deterministic_and_resume_after_kill_9_to_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let s = trainer::train::run(&live_args(&lib, &a, &["--epochs", "2"]), &comm::Group::alone()).unwrap();
    assert_eq!((s.epochs_done, s.steps), (2, 6));
    trainer::train::run(&live_args(&lib, &b, &["--epochs", "2"]), &comm::Group::alone()).unwrap();
    assert!(same_checkpoint(&a, &b), "two identical commands gave different checkpoints");

    // The binary, killed once its first checkpoint is there, then the same command again.
    let killed = dir.path().join("kill");
    let mut flags: Vec<String> = Vec::new();
    for (k, v) in [
        ("--library", lib.to_string_lossy().to_string()),
        ("--exp-dir", killed.to_string_lossy().to_string()),
    ] {
        flags.extend([k.to_string(), v]);
    }
    flags.extend(
        ["--render", "--per-class", "2", "--views", "6", "--image-size", "64", "--arch", "resnet-tiny"]
            .map(String::from),
    );
    flags.extend(
        ["--resolution", "32", "--batch-size", "4", "--mlp", "64-64", "--quiet", "--log-interval", "1"]
            .map(String::from),
    );
    flags.extend(["--seed", "3", "--base-lr", "3e-3", "--epochs", "6"].map(String::from));
    let exe = env!("CARGO_BIN_EXE_train");
    let mut child = std::process::Command::new(exe).args(&flags).spawn().unwrap();
    let ckpt = killed.join(model::checkpoint::CHECKPOINT_FILE);
    while !ckpt.exists() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before its first checkpoint");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (meta, _) = model::checkpoint::read(&ckpt, &candle_core::Device::Cpu).unwrap();
    assert!(meta.epoch < 6, "killed after its last epoch: nothing to resume");
    let status = std::process::Command::new(exe).args(&flags).status().unwrap();
    assert!(status.success());
    let full = dir.path().join("full");
    trainer::train::run(&live_args(&lib, &full, &["--epochs", "6"]), &comm::Group::alone()).unwrap();
    assert!(same_checkpoint(&killed, &full), "killed and resumed: not the uninterrupted run's checkpoint");
}

/// --fresh-views: every pair's two factor sets are new each epoch, the same for the same
/// (seed, epoch), and the batch's latents are those of the recorded factors.
#[test]
fn fresh_views_draw_new_factors_every_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let args = live_args(&lib, &dir.path().join("exp"), &["--fresh-views"]);
    let mut live = LiveSource::open(&args, LatentKind::ROTATION).unwrap();
    live.records = Some(Default::default());
    let all: Vec<usize> = (0..live.len()).collect();
    let mut latents = Vec::new();
    for epoch in [0, 1, 0] {
        latents.push(live.load_batch(&pool(), 3, epoch, &all).unwrap().latent);
    }
    let records = live.records.take().unwrap().into_inner().unwrap();
    let n = all.len();
    assert_eq!(records.len(), 3 * n);
    let (e0, e1, again) = (&records[..n], &records[n..2 * n], &records[2 * n..]);
    assert_eq!(e0, again, "the same (seed, epoch) draws the same factors");
    assert_eq!(latents[0], latents[2]);
    for (a, b) in e0.iter().zip(e1) {
        assert_eq!(a.object, b.object);
        for k in 0..2 {
            assert_ne!(a.factors[k].latent, b.factors[k].latent, "{}: view {k} kept its factors", a.object);
        }
        assert_ne!(a.factors[0].latent, a.factors[1].latent);
    }
    // The latent each pair trained on is the one of its recorded factors.
    for (i, r) in e0.iter().enumerate() {
        let want =
            dataset::pair::pair_latent(&r.factors[0].latent, &r.factors[1].latent, LatentKind::ROTATION)
                .unwrap();
        assert_eq!(&latents[0][4 * i..4 * i + 4], want.as_slice());
    }
    // Fixed views draw from the render job's 6 views only.
    let fixed = LiveSource::open(&live_args(&lib, &dir.path().join("f"), &[]), LatentKind::ROTATION).unwrap();
    let f = fixed.pair_factors(3, 0, 0).unwrap();
    assert_ne!(f[0].latent, e0[0].factors[0].latent);
}

/// A small ShapeNet tree: the built-in library, with the meshes of the first class (its train
/// and its val object) replaced by `obj`; returns the tree and that class's synset.
fn tree_with_broken_meshes(dir: &Path, obj: &str) -> (PathBuf, String) {
    let root = dir.join("shapenet");
    let keys = synth::generate_library(&root, 2, 0).unwrap();
    let synset = keys[0].synset.clone();
    for key in keys.iter().filter(|k| k.synset == synset) {
        std::fs::write(renderer::job::objects::obj_path(&root, key), obj).unwrap();
    }
    (root, synset)
}

/// What `render` refuses is refused before the first step with its message; a mesh that fails
/// when drawn stops the run naming it, or is skipped and logged with --keep-going.
#[test]
fn bad_input_is_refused_before_training_and_bad_meshes_are_named_or_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[factors]\nfloor_hues = 0.5\n").unwrap();
    let exp = dir.path().join("exp");
    let mut args = live_args(&lib, &exp, &["--epochs", "1"]);
    args.render = Some(bad.to_string_lossy().into_owned());
    let e = format!("{:#}", trainer::train::run(&args, &comm::Group::alone()).unwrap_err());
    assert!(e.contains("bad.toml") && e.contains("floor_hues"), "{e}");
    assert!(!exp.join(model::checkpoint::CHECKPOINT_FILE).exists());

    let list = dir.path().join("objects.txt");
    std::fs::write(&list, "91000100/abc\n91000100/../../etc\n").unwrap();
    let mut args = live_args(&lib, &exp, &["--epochs", "1"]);
    args.live.objects = Some(list);
    let e = format!("{:#}", trainer::train::run(&args, &comm::Group::alone()).unwrap_err());
    assert!(e.contains("objects.txt: line 2"), "{e}");

    // Every mesh of the train split is drawn in epoch 0 (batches of all 12 objects).
    let (tree, broken) = tree_with_broken_meshes(dir.path(), "");
    let run = |extra: &[&str], exp: &Path| {
        let mut args = live_args(&lib, exp, &[&["--epochs", "1", "--batch-size", "12"], extra].concat());
        args.live.shapenet = Some(tree.clone());
        trainer::train::run(&args, &comm::Group::alone())
    };
    let e = format!("{:#}", run(&[], &dir.path().join("stop")).unwrap_err());
    assert!(e.contains(&broken), "{e}");
    let kept = dir.path().join("kept");
    let s = run(&["--keep-going"], &kept).unwrap();
    assert_eq!(s.steps, 1);
    let log = std::fs::read_to_string(kept.join("log.jsonl")).unwrap();
    assert!(log.lines().any(|l| l.contains("skipped_object") && l.contains(&broken)), "{log}");
}
