//! End to end on a tiny generated dataset with the small arch at 32 px.

mod common;

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use model::checkpoint::{self, CHECKPOINT_FILE, TORCHVISION_FILE};
use trainer::train::RunSummary;

fn weights(exp_dir: &Path) -> HashMap<String, Tensor> {
    checkpoint::read(&exp_dir.join(CHECKPOINT_FILE), &Device::Cpu).unwrap().1
}

fn assert_same_state(a: &Path, b: &Path) {
    let (wa, wb) = (weights(a), weights(b));
    assert_eq!(wa.len(), wb.len());
    for (k, ta) in &wa {
        let tb = &wb[k];
        let diff = (ta - tb)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff == 0.0, "{k} differs by {diff}");
    }
}

/// Two epochs run, the loss is finite and goes down, the same seed gives the same weights, and
/// a run stopped after epoch 1 then resumed ends in exactly the same state.
#[test]
fn trains_two_epochs_deterministically_and_resumes_to_the_same_state() {
    let (dir, data) = common::fixture(8, 4); // 24 objects: 3 steps of 8 per epoch
    let extra = ["--epochs", "2", "--base-lr", "3e-3", "--seed", "3"];
    let full = dir.path().join("full");
    let s = run(&common::args(&data, &full, &extra)).unwrap();
    eprintln!("epoch losses {:?}", s.epoch_losses);
    assert_eq!((s.epochs_done, s.steps), (2, 6));
    assert!(s.epoch_losses.iter().all(|l| l.is_finite()));
    assert!(s.epoch_losses[1] < s.epoch_losses[0], "{:?}", s.epoch_losses);

    // Interrupted after epoch 1, then the same command with 2 epochs resumes.
    let split = dir.path().join("split");
    let mut first = extra;
    first[1] = "1";
    let s1 = run(&common::args(&data, &split, &first)).unwrap();
    assert_eq!(s1.epochs_done, 1);
    let s2 = run(&common::args(&data, &split, &extra)).unwrap();
    assert_eq!((s2.start_epoch, s2.epochs_done, s2.steps), (1, 2, 3));
    assert_same_state(&full, &split);

    // Re-running a finished command trains nothing and keeps the state.
    let s3 = run(&common::args(&data, &split, &extra)).unwrap();
    assert_eq!(s3.steps, 0);
    assert_same_state(&full, &split);

    // Logs: a JSON line per step with every loss term and the online metrics, and an epoch summary.
    let log = std::fs::read_to_string(full.join("log.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let step = lines.iter().find(|l| l["type"] == "step").unwrap();
    for key in [
        "loss",
        "repr_loss_inv",
        "repr_loss_equi",
        "std_loss",
        "pred_std_loss",
        "cov_loss",
        "eval_loss",
        "coremb_view1",
        "stdhead_view2",
        "stdemb_pred",
        "online.top1_repr",
        "online.top1_inv",
        "online.r2_repr",
        "online.r2_equi",
        "images_per_s",
    ] {
        assert!(step[key].is_number(), "{key} missing from {step}");
    }
    assert_eq!(lines.iter().filter(|l| l["type"] == "epoch").count(), 2);
    assert!(full.join(TORCHVISION_FILE).exists());
}

/// A resume with flags that change the training is refused, naming them, unless
/// --allow-config-change says otherwise (and the log records it).
#[test]
fn resume_with_other_training_flags_is_refused_unless_allowed() {
    let (dir, data) = common::fixture(4, 3);
    let exp = dir.path().join("run");
    run(&common::args(&data, &exp, &["--epochs", "1", "--base-lr", "1e-3", "--seed", "3"])).unwrap();
    for (flags, want) in [
        (["--epochs", "2", "--base-lr", "2e-3", "--seed", "3"], "--base-lr 0.001 -> 0.002"),
        (["--epochs", "2", "--base-lr", "1e-3", "--seed", "4"], "--seed 3 -> 4"),
        (["--epochs", "2", "--sim-coeff", "5", "--seed", "3"], "--sim-coeff 10.0 -> 5.0"),
    ] {
        let mut all = flags.to_vec();
        if !all.contains(&"--base-lr") {
            all.extend(["--base-lr", "1e-3"]);
        }
        let e = format!("{:#}", run(&common::args(&data, &exp, &all)).unwrap_err());
        assert!(e.contains(want) && e.contains("--allow-config-change"), "{flags:?}: {e}");
    }
    // More epochs is no change of the training; an allowed change is logged.
    let allowed = ["--epochs", "2", "--base-lr", "2e-3", "--seed", "3", "--allow-config-change"];
    let s = run(&common::args(&data, &exp, &allowed)).unwrap();
    assert_eq!((s.start_epoch, s.epochs_done), (1, 2));
    let log = std::fs::read_to_string(exp.join("log.jsonl")).unwrap();
    assert!(
        log.lines().any(|l| l.contains("\"config_change\"") && l.contains("--base-lr 0.001 -> 0.002")),
        "{log}"
    );
}

/// A second `train` on an `--exp-dir` in use is refused before it reads or writes anything there
/// (it used to rewrite the first run's log under it and exit 0).
#[test]
fn a_second_train_on_a_busy_exp_dir_is_refused() {
    let (dir, data) = common::fixture(4, 3);
    let exp = dir.path().join("run");
    std::fs::create_dir_all(&exp).unwrap();
    let held = dataset::lock::FolderLock::acquire(&exp, "the first train").unwrap();
    let e = format!("{:#}", run(&common::args(&data, &exp, &["--epochs", "1"])).unwrap_err());
    assert!(e.contains("another process") && e.contains("run/.lock"), "{e}");
    assert!(!exp.join("log.jsonl").exists(), "the refused run wrote nothing");
    drop(held);
    run(&common::args(&data, &exp, &["--epochs", "1"])).unwrap();
}

/// A checkpoint with damaged bytes (same size) is refused on load, naming the file.
#[test]
fn damaged_checkpoint_is_refused() {
    let (dir, data) = common::fixture(4, 3);
    let exp = dir.path().join("run");
    run(&common::args(&data, &exp, &["--epochs", "1"])).unwrap();
    let path = exp.join(CHECKPOINT_FILE);
    assert!(checkpoint::read(&path, &Device::Cpu).is_ok());
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 100] ^= 0x40; // a bit of the last tensor's data
    std::fs::write(&path, &bytes).unwrap();
    let e = format!("{:#}", checkpoint::read(&path, &Device::Cpu).unwrap_err());
    assert!(e.contains("checkpoint.safetensors: damaged checkpoint"), "{e}");
    // Resuming from it is refused too.
    let e = format!("{:#}", run(&common::args(&data, &exp, &["--epochs", "2"])).unwrap_err());
    assert!(e.contains("damaged checkpoint"), "{e}");
}

/// After a kill past the last checkpoint, the resumed run's log.jsonl holds each step once, in
/// order: the killed run's later records and its torn last line are cut.
#[test]
fn resumed_log_describes_one_run() {
    let (dir, data) = common::fixture(8, 4);
    let exp = dir.path().join("run");
    let flags = ["--epochs", "1"]; // common::args logs every step
    run(&common::args(&data, &exp, &flags)).unwrap();
    let log_path = exp.join("log.jsonl");
    let clean = std::fs::read_to_string(&log_path).unwrap();
    // What a run killed during epoch 1 leaves: steps past the checkpoint, then half a line.
    let mut killed = clean.clone();
    killed.push_str("{\"type\":\"step\",\"epoch\":1,\"step\":4}\n{\"type\":\"step\",\"epoch\":1,\"step\":5}\n{\"type\":\"st");
    std::fs::write(&log_path, killed).unwrap();
    run(&common::args(&data, &exp, &["--epochs", "2"])).unwrap();
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&log_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let steps: Vec<u64> =
        lines.iter().filter(|l| l["type"] == "step").map(|l| l["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, (1..=6).collect::<Vec<_>>(), "each step once, in order");
    assert_eq!(lines.iter().filter(|l| l["type"] == "resume").count(), 1);
    assert_eq!(lines.iter().filter(|l| l["type"] == "epoch").count(), 2);
}

/// `train` in this process, alone.
fn run(args: &trainer::config::TrainArgs) -> anyhow::Result<RunSummary> {
    trainer::train::run(args, &comm::Group::alone())
}
