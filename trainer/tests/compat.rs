//! Checkpoints written by earlier versions of `train` still load and resume.
//!
//! `tests/fixtures/compat/v0.2-87d8d74/` holds the checkpoint, log and config that `train` of
//! main 87d8d74 (before the trainer became layered crates) wrote after epoch 1 of the run below,
//! on the dataset [`common::make_dataset`] draws (deterministic). Resuming it for a second epoch
//! must end exactly where an uninterrupted two-epoch run of today's code ends.
//!
//! To regenerate with another old binary: `COMPAT_DATA=/tmp/compat cargo test -p trainer --test
//! compat -- --ignored`, then `<old>/train --data /tmp/compat --exp-dir OUT` with [`FLAGS`] and
//! `common::args`' flags, and copy OUT's files here.

mod common;

use std::path::Path;

use candle_core::Device;
use model::checkpoint::{self, CHECKPOINT_FILE};

/// The run's own flags (beside `common::args`'), epoch count aside.
const FLAGS: [&str; 4] = ["--base-lr", "3e-3", "--seed", "3"];

fn fixture_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/compat/v0.2-87d8d74")
}

fn flags(epochs: &'static str) -> Vec<&'static str> {
    let mut v = vec!["--epochs", epochs];
    v.extend(FLAGS);
    v
}

#[test]
#[ignore = "writes the dataset the compatibility fixture was trained on, for regenerating it"]
fn write_compat_dataset() {
    let root = std::env::var("COMPAT_DATA").expect("COMPAT_DATA: where to write the dataset");
    common::make_dataset(Path::new(&root), 8, 4, 40);
}

#[test]
fn a_checkpoint_of_the_previous_main_resumes_to_the_state_of_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("3diebench");
    common::make_dataset(&data, 8, 4, 40);
    let resumed = dir.path().join("resumed");
    std::fs::create_dir_all(&resumed).unwrap();
    for file in [CHECKPOINT_FILE, "log.jsonl", "config.json"] {
        std::fs::copy(fixture_dir().join(file), resumed.join(file)).unwrap();
    }
    let (meta, _) = checkpoint::read(&resumed.join(CHECKPOINT_FILE), &Device::Cpu).unwrap();
    assert_eq!((meta.epoch, meta.model.experience.name()), (1, "SIE"));

    // The fixture was written on a CPU with AVX-512; where gemm takes other kernels (AVX2), float
    // rounding differs from the first step on. Today's epoch 1 says which case this machine is.
    let today = dir.path().join("today-epoch1");
    run(&common::args(&data, &today, &flags("1"))).unwrap();
    let epoch1 = worst_relative_difference(&read(&resumed), &read(&today), false);

    let s = run(&common::args(&data, &resumed, &flags("2"))).unwrap();
    assert_eq!((s.start_epoch, s.epochs_done, s.steps), (1, 2, 3));
    let fresh = dir.path().join("fresh");
    run(&common::args(&data, &fresh, &flags("2"))).unwrap();
    let exact = epoch1.1 == 0.0;
    let (name, epoch2) = worst_relative_difference(&read(&resumed), &read(&fresh), !exact);
    if exact {
        // Same kernels as the fixture's machine: resuming is bit-identical.
        assert_eq!(epoch2, 0.0, "{name} differs after resuming");
    } else {
        // Other kernels: the same state up to rounding, which Adam's three steps must not amplify
        // (except where the gradient is only rounding: see `noise_only`).
        eprintln!("compat: this CPU rounds differently from the fixture's (epoch 1: {} off by {:.1e} relative); comparing within 1e-3", epoch1.0, epoch1.1);
        assert!(epoch2 < 1e-3, "{name} differs by {epoch2:.1e} relative after resuming");
    }
}

fn read(exp: &Path) -> std::collections::HashMap<String, candle_core::Tensor> {
    checkpoint::read(&exp.join(CHECKPOINT_FILE), &Device::Cpu).unwrap().1
}

/// The tensor of `a` farthest from its namesake in `b`: max |a - b| / max(max |b|, 1e-3). The
/// floor keeps tensors of pure rounding noise (the gradient moments of a bias that batch norm
/// cancels, about 1e-20) from counting as large relative differences. Same names in both;
/// `skip_noise` leaves out the tensors of [`noise_only`].
fn worst_relative_difference(
    a: &std::collections::HashMap<String, candle_core::Tensor>,
    b: &std::collections::HashMap<String, candle_core::Tensor>,
    skip_noise: bool,
) -> (String, f32) {
    assert_eq!(a.len(), b.len());
    let max_abs = |t: &candle_core::Tensor| -> f32 {
        t.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
    };
    let mut worst = (String::new(), 0.0f32);
    for (name, ta) in a {
        if skip_noise && noise_only(name, a) {
            continue;
        }
        let tb = b.get(name).unwrap_or_else(|| panic!("{name} is missing"));
        let diff = max_abs(&(ta - tb).unwrap());
        let relative = diff / max_abs(tb).max(1e-3);
        if relative > worst.1 || worst.0.is_empty() {
            worst = (name.clone(), relative);
        }
    }
    worst
}

/// A linear layer's bias right before batch norm (`P.k.bias` with a `P.(k+1).running_mean`), and
/// that batch norm's running mean, which tracks it. Batch norm subtracts the bias again, so its
/// gradient is rounding noise, and Adam scales noise to full-size steps: on another CPU these
/// tensors differ by about the learning rate however exact the rest is.
fn noise_only(name: &str, state: &std::collections::HashMap<String, candle_core::Tensor>) -> bool {
    let layer_after = |prefix: &str, k: &str| -> Option<String> {
        Some(format!("{prefix}.{}.running_mean", k.parse::<usize>().ok()? + 1))
    };
    if let Some(layer) = name.strip_suffix(".bias") {
        if let Some((prefix, k)) = layer.rsplit_once('.') {
            return layer_after(prefix, k).is_some_and(|bn| state.contains_key(&bn));
        }
    }
    if let Some(layer) = name.strip_suffix(".running_mean") {
        if let Some((prefix, k)) = layer.rsplit_once('.') {
            let before = k.parse::<usize>().ok().and_then(|k| k.checked_sub(1));
            return before.is_some_and(|k| state.contains_key(&format!("{prefix}.{k}.bias")));
        }
    }
    false
}

/// `train` in this process, alone.
fn run(args: &trainer::config::TrainArgs) -> anyhow::Result<trainer::train::RunSummary> {
    trainer::train::run(args, &comm::Group::alone())
}
