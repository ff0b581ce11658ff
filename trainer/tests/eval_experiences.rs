//! Every `--experience` of the paper's table runs one training step on the tiny test dataset.

mod common;

use trainer::train::RunSummary;

fn one_step(experience: &str, extra: &[&str]) {
    let (dir, data) = common::fixture(2, 3);
    let exp = dir.path().join("run");
    let mut flags = vec!["--experience", experience, "--epochs", "1", "--max-steps", "1", "--seed", "1"];
    flags.extend_from_slice(extra);
    let summary = run(&common::args(&data, &exp, &flags)).unwrap_or_else(|e| panic!("{experience}: {e:#}"));
    assert_eq!(summary.steps, 1, "{experience}");
    let log = std::fs::read_to_string(exp.join(trainer::run_log::LOG_FILE)).unwrap();
    let step = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|l| l["type"] == "step")
        .unwrap_or_else(|| panic!("{experience}: no step logged"));
    let loss = step["loss"].as_f64().unwrap();
    assert!(loss.is_finite(), "{experience}: loss {loss}");
}

#[test]
fn vicreg_runs_one_step() {
    one_step("VICReg", &[]);
}

#[test]
fn simclr_runs_one_step() {
    one_step("SimCLR", &[]);
}

#[test]
fn sie_runs_one_step() {
    one_step("SIE", &[]);
}

#[test]
fn sie_without_predictor_variance_runs_one_step() {
    one_step("SIENoVar", &[]);
}

#[test]
fn sie_only_equivariant_runs_one_step() {
    one_step("SIEOnlyEqui", &[]);
}

#[test]
fn sie_rotation_and_colour_runs_one_step() {
    one_step("SIERotColor", &[]);
}

#[test]
fn equimod_runs_one_step() {
    one_step("VICRegEquiMod", &[]);
}

#[test]
fn sie_with_an_mlp_predictor_runs_one_step() {
    one_step("SIE", &["--predictor-type", "mlp"]);
}

/// `train` in this process, alone.
fn run(args: &trainer::config::TrainArgs) -> anyhow::Result<RunSummary> {
    trainer::train::run(args, &comm::Group::alone())
}
