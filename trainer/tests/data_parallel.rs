//! Data-parallel training: `mpirun -n 2 train --batch-size 2B` (B samples per rank) gives the
//! losses and the state (weights, batch-norm running statistics, Adam moments) of one process
//! with `--batch-size 2B`, up to float rounding (also with 3 ranks of unequal parts), and a run
//! resumes with another number of ranks.
//!
//! Needs OpenMPI's `mpirun` (scripts/setup.sh installs it).
#![cfg(feature = "mpi")]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use candle_core::{Device, Tensor};
use model::checkpoint::{self, CHECKPOINT_FILE};

/// Relative tolerance of every compared number (losses, weights, gradient moments) against
/// its tensor's largest magnitude. The runs differ only in the order of float sums (per rank,
/// then across ranks); the measured worst cases are in the test's output.
const RTOL: f32 = 1e-4;
/// Learning rate of the runs, and the absolute slack of a weight: Adam moves each weight by about
/// lr * g / |g| per step whatever |g| is, so an element whose gradient is (nearly) zero moves by
/// its rounding noise's sign; 0.1 lr covers that and is far below a step.
const LR: f32 = 3e-3;
const WEIGHT_ATOL: f32 = 0.1 * LR;
/// Absolute slack of Adam's moments, relative to the largest moment of the model (the same
/// rounding noise on elements whose gradient is nearly zero).
const MOMENT_ATOL: f32 = 1e-5;

/// The run's flags; `source`: where the pairs come from (`--data DIR`, or `--render ...`).
fn flags<'a>(source: &[&'a str], exp: &'a str, epochs: &'a str) -> Vec<&'a str> {
    let mut v = source.to_vec();
    v.extend([
        "--exp-dir",
        exp,
        "--arch",
        "resnet-tiny",
        "--resolution",
        "32",
        "--batch-size",
        "8",
        "--mlp",
        "64-64",
        "--log-interval",
        "1",
        "--num-workers",
        "1",
        "--seed",
        "3",
        "--base-lr",
        "0.003",
        "--epochs",
        epochs,
        "--quiet",
    ]);
    v
}

/// The fixture at `data` as the pairs' source.
fn files(data: &str) -> [&str; 4] {
    ["--data", data, "--num-classes", "3"]
}

/// Runs `train` with `args`, alone or as `ranks` MPI ranks.
fn train(ranks: usize, args: &[&str]) {
    let exe = env!("CARGO_BIN_EXE_train");
    let mut cmd = if ranks == 1 {
        Command::new(exe)
    } else {
        let mut c = Command::new("mpirun");
        let n = ranks.to_string();
        // --oversubscribe: more ranks than cores is fine here; root (CI containers) needs the
        // two variables; the single-copy mechanism needs ptrace rights containers often lack.
        c.args(["-n", &n, "--oversubscribe", "--mca", "btl_vader_single_copy_mechanism", "none", exe])
            .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
        c
    };
    // A test run inside a SLURM job or under torchrun must not take the job's ranks for its own.
    for var in
        ["RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_NPROCS", "SLURM_LOCALID"]
    {
        cmd.env_remove(var);
    }
    let out = cmd.args(args).output().unwrap_or_else(|e| {
        panic!(
            "cannot start {} ({e}); scripts/setup.sh installs OpenMPI",
            if ranks == 1 { exe } else { "mpirun" }
        )
    });
    assert!(
        out.status.success(),
        "{ranks} rank(s) failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn state(exp_dir: &Path) -> HashMap<String, Tensor> {
    checkpoint::read(&exp_dir.join(CHECKPOINT_FILE), &Device::Cpu).unwrap().1
}

fn step_losses(exp_dir: &Path) -> Vec<f64> {
    let log = std::fs::read_to_string(exp_dir.join("log.jsonl")).unwrap();
    log.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "step")
        .map(|v| v["loss"].as_f64().unwrap())
        .collect()
}

fn max_abs(t: &Tensor) -> f32 {
    t.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}

/// Parameters whose gradient is zero in exact arithmetic: the bias of a Linear followed by a
/// batch norm (which subtracts it again), with that batch norm's running mean (which tracks it).
/// Adam turns their rounding-noise gradients into full steps of +-lr in any two runs whose sums
/// differ in order, so they are not compared; the function does not depend on them.
fn shift_invariant(names: &HashMap<String, Tensor>) -> Vec<String> {
    let mut out = Vec::new();
    for name in names.keys() {
        let Some(layer) = name.strip_prefix("model.").and_then(|n| n.strip_suffix(".bias")) else { continue };
        let Some((block, index)) = layer.rsplit_once('.') else { continue };
        let Ok(index) = index.parse::<usize>() else { continue };
        let next_bn = format!("model.{block}.{}.running_mean", index + 1);
        if names.contains_key(&next_bn) && names.contains_key(&format!("model.{layer}.weight")) {
            out.extend([
                name.clone(),
                next_bn,
                format!("optim.{layer}.bias.exp_avg"),
                format!("optim.{layer}.bias.exp_avg_sq"),
            ]);
        }
    }
    out
}

/// The largest difference between the two checkpoints' states in units of its allowance
/// (RTOL of the tensor's scale plus the kind's absolute slack; <= 1 passes), and where; prints
/// the worst of each kind (weights and buffers, Adam's two moments).
fn worst_difference(a: &Path, b: &Path) -> (f32, String) {
    let (sa, sb) = (state(a), state(b));
    assert_eq!(sa.len(), sb.len());
    let skipped = shift_invariant(&sa);
    assert!(!skipped.is_empty(), "the projectors' Linear+BN layers were not found");
    let kind = |name: &str| {
        if name.ends_with(".exp_avg") {
            "exp_avg"
        } else if name.ends_with(".exp_avg_sq") {
            "exp_avg_sq"
        } else {
            "model"
        }
    };
    let mut kind_scale: HashMap<&str, f32> = HashMap::new();
    for (name, t) in &sa {
        if t.dtype() == candle_core::DType::F32 && t.elem_count() > 0 {
            let e = kind_scale.entry(kind(name)).or_default();
            *e = e.max(max_abs(t));
        }
    }
    let mut worst = (0f32, String::new());
    let mut worst_of_kind: HashMap<&str, (f32, f32, String)> = HashMap::new();
    for (name, ta) in &sa {
        let tb = &sb[name];
        assert_eq!(ta.dims(), tb.dims(), "{name}");
        if ta.elem_count() == 0 || ta.dtype() != candle_core::DType::F32 || skipped.contains(name) {
            continue;
        }
        let atol = match kind(name) {
            "model" => WEIGHT_ATOL,
            k => MOMENT_ATOL * kind_scale[k],
        };
        let scale = max_abs(ta).max(max_abs(tb));
        let abs = max_abs(&(ta - tb).unwrap());
        let diff = abs / (RTOL * scale + atol);
        if diff > worst.0 {
            worst = (diff, name.clone());
        }
        let w = worst_of_kind.entry(kind(name)).or_insert((0.0, 0.0, String::new()));
        if diff > w.0 {
            *w = (diff, abs / scale.max(f32::MIN_POSITIVE), name.clone());
        }
    }
    for (k, (diff, relative, name)) in &worst_of_kind {
        eprintln!("  {k}: worst {diff:.3} of the allowance, {relative:.1e} of its scale ({name})");
    }
    worst
}

/// Trains one epoch alone and as `ranks` ranks (`extra` flags for both) and checks that the
/// losses and states agree; returns the two experiment directories.
fn one_epoch_alone_and_as(ranks: usize, source: &[&str], dir: &Path, extra: &[&str]) -> (String, String) {
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let (one, many) = (path("one"), path("many"));
    train(1, &[flags(source, &one, "1"), extra.to_vec()].concat());
    train(ranks, &[flags(source, &many, "1"), extra.to_vec()].concat());

    let (l1, ln) = (step_losses(Path::new(&one)), step_losses(Path::new(&many)));
    assert!(l1.len() >= 2, "{l1:?}");
    assert_eq!(l1.len(), ln.len(), "steps: one process {l1:?}, {ranks} ranks {ln:?}");
    for (a, b) in l1.iter().zip(&ln) {
        assert!(((a - b) / a).abs() < RTOL as f64, "losses: one process {l1:?}, {ranks} ranks {ln:?}");
    }
    let (diff, name) = worst_difference(Path::new(&one), Path::new(&many));
    eprintln!("{extra:?}, {ranks} ranks: losses {l1:?} vs {ln:?}; largest state difference {diff:.3} of its allowance ({name})");
    assert!(diff <= 1.0, "{name} differs by {diff:.3} times its allowance");
    (one, many)
}

#[test]
fn two_ranks_of_b_train_as_one_process_of_2b_and_resume_with_the_other_count() {
    // 24 objects, global batches of 8: three steps of 4 samples per rank.
    let (dir, data) = common::fixture(8, 4);
    let data = data.to_string_lossy().into_owned();
    let (one, two) = one_epoch_alone_and_as(2, &files(&data), dir.path(), &[]);

    // Each checkpoint continues with the other number of ranks: the one-process run's with two,
    // the two-rank run's alone.
    train(2, &flags(&files(&data), &one, "2"));
    train(1, &flags(&files(&data), &two, "2"));
    let (diff, name) = worst_difference(Path::new(&one), Path::new(&two));
    eprintln!(
        "after a second epoch, ranks swapped: largest state difference {diff:.3} of its allowance ({name})"
    );
    assert!(diff <= 1.0, "after resuming: {name} differs by {diff:.3} times its allowance");
    assert_eq!(step_losses(Path::new(&one)).len(), 6, "rank 0 appends the resumed run's steps to the log");
}

/// InfoNCE over the gathered batch and AugSelf's latent head, with parts of 2, 3 and 3 samples:
/// the gather and the synchronised batch norm are exact for uneven parts too.
#[test]
fn three_uneven_ranks_train_simclr_augself_as_one_process() {
    let (dir, data) = common::fixture(8, 4);
    let data = data.to_string_lossy().into_owned();
    one_epoch_alone_and_as(3, &files(&data), dir.path(), &["--experience", "SimCLRAugSelf"]);
}

/// `mpirun -n 2 train --render`: each rank renders its own part of every batch (the built-in
/// library, 12 train objects: two steps of 4 + 2 samples per rank), and the run equals one
/// process's as the file path's does.
#[cfg(feature = "render")]
#[test]
fn two_ranks_rendering_their_parts_train_as_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib").to_string_lossy().into_owned();
    // Generated once before the ranks start (each would otherwise regenerate it).
    synth::generate_library(Path::new(&lib), 2, 0).unwrap();
    let live = ["--render", "--library", &lib, "--per-class", "2", "--views", "4", "--image-size", "64"];
    one_epoch_alone_and_as(2, &live, dir.path(), &[]);
}
