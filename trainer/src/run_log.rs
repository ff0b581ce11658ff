//! What a run writes for a person: `log.jsonl` (one JSON object per line) and the closing
//! judgement of the online evaluator against its floors.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use eval::floors::Floors;

pub const LOG_FILE: &str = "log.jsonl";

/// Appends JSON lines to `<exp-dir>/log.jsonl` (or nowhere: data-parallel ranks other than 0).
pub struct JsonLog {
    file: Option<std::fs::File>,
}

impl JsonLog {
    /// Opens the log for a run that continues from `step` (0 for a fresh run): records of later
    /// steps (a killed run's work past its last checkpoint), earlier resumes at this very step and
    /// a torn last line are cut first, atomically, so that the log always describes one run.
    pub fn open_at(path: &Path, step: u64) -> anyhow::Result<Self> {
        if let Ok(text) = std::fs::read_to_string(path) {
            let keep = |line: &&str| {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { return false };
                let s = v["step"].as_u64().unwrap_or(u64::MAX);
                let restart = matches!(v["type"].as_str(), Some("resume" | "config_change"));
                s < step || (s == step && !restart)
            };
            let kept: String = text.lines().filter(keep).flat_map(|l| [l, "\n"]).collect();
            if kept.len() != text.len() {
                dataset::atomic::write_bytes(path, kept.as_bytes())
                    .with_context(|| format!("{}: cannot rewrite log", path.display()))?;
            }
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("{}: cannot open log", path.display()))?;
        Ok(Self { file: Some(file) })
    }

    /// A log that writes nothing.
    pub fn discard() -> Self {
        Self { file: None }
    }

    pub fn write(&mut self, v: &serde_json::Value) -> anyhow::Result<()> {
        match &mut self.file {
            Some(file) => writeln!(file, "{v}").context("cannot write log.jsonl"),
            None => Ok(()),
        }
    }
}

fn verdict(above: bool) -> &'static str {
    if above {
        "above"
    } else {
        "NOT above (nothing learnt yet that a probe can read)"
    }
}

/// The last epoch's online top-1 and rotation R^2 beside what chance and a constant prediction
/// score on the same pairs (see [`Floors`]).
pub fn judgement(means: &BTreeMap<String, f64>, floors: &Floors) -> String {
    let mut out = String::from("online evaluation, last epoch (mean over its training batches):\n");
    let value = |key: &str| means.get(key).copied().unwrap_or(f64::NAN);
    let top1 = |key: &str, part: &str| {
        format!(
            "  top-1 ({part}) {:5.1}%   chance {:.1}%, always the most frequent class {:.1}%: {}\n",
            100.0 * value(key),
            100.0 * floors.chance_top1(),
            100.0 * floors.majority_top1(),
            verdict(value(key) > floors.chance_top1().max(floors.majority_top1()))
        )
    };
    let r2 = |key: &str, part: &str| {
        format!(
            "  rotation R^2 ({part}) {:6.3}   a constant quaternion {:.3} at best: {}\n",
            value(key),
            floors.constant_r2(),
            verdict(value(key) > floors.constant_r2())
        )
    };
    out += &top1("online.top1_repr", "whole");
    if means.contains_key("online.top1_inv") {
        out += &top1("online.top1_inv", "invariant part");
    }
    out += &r2("online.r2_repr", "whole");
    if means.contains_key("online.r2_equi") {
        out += &r2("online.r2_equi", "equivariant part");
    }
    out
}

#[cfg(test)]
mod judgement_tests {
    use super::*;

    #[test]
    fn judgement_compares_each_number_with_its_floor() {
        let mut floors = Floors::new(4);
        // Quaternions whose component means differ: a constant already scores R^2 > 0.
        let latent = [1., 0., 0., 0., 0., 1., 0., 0., 1., 0., 0., 0., 0., 0., 0., 1.];
        floors.add(&[0, 0, 1, 3], &latent, 4);
        let floor = floors.constant_r2();
        assert!(floor > 0.1, "{floor}");
        let means = BTreeMap::from([
            ("online.top1_repr".to_string(), 0.6),
            ("online.top1_inv".to_string(), 0.3),
            ("online.r2_repr".to_string(), floor + 0.1),
            ("online.r2_equi".to_string(), floor - 0.01),
        ]);
        let text = judgement(&means, &floors);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(
            lines[1].contains("60.0%") && lines[1].contains("chance 25.0%") && lines[1].ends_with(": above")
        );
        // 30% is above chance (25%) but not above always answering class 0 (50%).
        assert!(lines[2].contains("most frequent class 50.0%") && lines[2].contains("NOT above"), "{text}");
        assert!(lines[3].ends_with(": above"), "{text}");
        assert!(lines[4].contains("NOT above"), "{text}");
    }
}
