//! The held-out judgement end to end: `train` ends by writing it to `log.jsonl` (top-1 and
//! rotation R^2, each with an interval, a floor and a verdict that says "above" only when the
//! margin's interval clears 0), and `eval quick` gives the same kind of line for the checkpoint.

mod common;

fn judgements(exp_dir: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(exp_dir.join("log.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "judgement")
        .collect()
}

fn check(j: &serde_json::Value) {
    let verdicts = j["verdicts"].as_array().unwrap();
    let names: Vec<&str> = verdicts.iter().map(|v| v["metric"].as_str().unwrap()).collect();
    assert!(names.starts_with(&["top-1 (whole)", "rotation R^2 (whole)"]), "{names:?}");
    assert_eq!(j["val_objects"], 24);
    for v in verdicts {
        let [lo, hi] = [v["interval"][0].as_f64().unwrap(), v["interval"][1].as_f64().unwrap()];
        let value = v["value"].as_f64().unwrap();
        assert!(lo <= value + 1e-9 && value <= hi + 1e-9, "{v}");
        let margin_lo = v["margin_interval"][0].as_f64().unwrap();
        assert_eq!(v["above"].as_bool().unwrap(), margin_lo > 0.0, "{v}");
        assert_eq!(v["needed"].is_null(), v["above"].as_bool().unwrap(), "{v}");
    }
}

#[test]
fn train_ends_with_a_held_out_judgement_and_eval_quick_repeats_it() {
    let (dir, data) = common::fixture(8, 4);
    let exp = dir.path().join("run");
    trainer::train::run(&common::args(&data, &exp, &["--epochs", "1"]), &comm::Group::alone()).unwrap();
    let after_train = judgements(&exp);
    assert_eq!(after_train.len(), 1);
    check(&after_train[0]);
    assert_eq!(after_train[0]["step"], 3);

    let j = eval::quick::command(&exp, &data, None, 0, model::config::DeviceKind::Cpu).unwrap();
    let text = j.text();
    eprintln!("{text}({:.1} s)", j.seconds);
    assert!(text.starts_with("held-out judgement on the val split (24 objects"), "{text}");
    assert!(text.contains("  top-1 (whole)"), "{text}");
    let again = judgements(&exp);
    assert_eq!(again.len(), 2);
    check(&again[1]);
    // The same checkpoint, features, probes and seed: the same numbers.
    assert_eq!(again[0]["verdicts"], again[1]["verdicts"]);
}
