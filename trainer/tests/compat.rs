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

    let s = run(&common::args(&data, &resumed, &flags("2"))).unwrap();
    assert_eq!((s.start_epoch, s.epochs_done, s.steps), (1, 2, 3));
    let fresh = dir.path().join("fresh");
    run(&common::args(&data, &fresh, &flags("2"))).unwrap();
    let read = |exp: &Path| checkpoint::read(&exp.join(CHECKPOINT_FILE), &Device::Cpu).unwrap().1;
    let (a, b) = (read(&resumed), read(&fresh));
    assert_eq!(a.len(), b.len());
    for (name, ta) in &a {
        let diff = (ta - &b[name]).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap();
        assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0, "{name} differs");
    }
}

/// `train` in this process, alone.
fn run(args: &trainer::config::TrainArgs) -> anyhow::Result<trainer::train::RunSummary> {
    trainer::train::run(args, &comm::Group::alone())
}
