//! Evaluation results: the JSON document, the terminal table and the markdown comparison table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::probe::{ClassifyResult, RegressionResult};
use super::tasks::{EvalConfig, Part, PredictorReport};

/// Where the features came from.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FeatureInfo {
    pub cache_file: String,
    pub train_views: usize,
    pub val_views: usize,
    pub train_objects: usize,
    pub val_objects: usize,
    pub rep_dim: usize,
    pub equi_dim: usize,
    pub classes: usize,
    /// Seconds spent extracting (0 when read from the cache).
    pub extraction_seconds: f64,
}

/// Everything `eval` measured on one checkpoint.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EvalReport {
    pub checkpoint: String,
    pub experience: String,
    pub trained_epochs: usize,
    pub dataset: String,
    pub resolution: u32,
    pub features: FeatureInfo,
    pub config: Option<EvalConfig>,
    pub classify: Option<BTreeMap<Part, ClassifyResult>>,
    pub rotation: Option<BTreeMap<Part, RegressionResult>>,
    /// The rotation probe on the views' true poses: the best R^2 this dataset and probe allow.
    #[serde(default)]
    pub rotation_ceiling: Option<RegressionResult>,
    pub color: Option<RegressionResult>,
    /// R^2 of the translation delta t2 - t1 per part (datasets with translations).
    #[serde(default)]
    pub translation: Option<BTreeMap<Part, RegressionResult>>,
    pub predictor: Option<PredictorReport>,
    /// Wall time of each task, seconds.
    pub seconds: BTreeMap<String, f64>,
}

impl EvalReport {
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        dataset::atomic::write_bytes(path, text.as_bytes())
            .with_context(|| format!("{}: cannot write", path.display()))
    }

    pub fn read(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}: not an eval result file", path.display()))
    }

    pub fn top1(&self, part: Part) -> Option<f64> {
        self.classify.as_ref()?.get(&part).map(|r| r.top1_val)
    }

    pub fn rotation_r2(&self, part: Part) -> Option<f64> {
        self.rotation.as_ref()?.get(&part).map(|r| r.r2)
    }

    /// A plain-text table of every number, for the terminal.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} ({}, {} epochs) on {}",
            self.checkpoint, self.experience, self.trained_epochs, self.dataset
        );
        let _ = writeln!(s, "{:<34} {:>10}", "metric", "value");
        let mut row = |name: String, v: f64| {
            let _ = writeln!(s, "{name:<34} {v:>10.4}");
        };
        for (part, r) in self.classify.iter().flatten() {
            row(format!("top-1 val ({})", part.name()), r.top1_val);
            row(format!("top-1 train ({})", part.name()), r.top1_train);
        }
        for (part, r) in self.rotation.iter().flatten() {
            row(format!("rotation R^2 ({})", part.name()), r.r2);
            row(format!("rotation R^2 per-dim ({})", part.name()), r.r2_per_dim);
            row(format!("rotation R^2 constant ({})", part.name()), r.r2_constant);
        }
        if let Some(r) = &self.rotation_ceiling {
            row("rotation R^2 ceiling (true poses)".into(), r.r2);
        }
        if let Some(r) = &self.color {
            row("colour R^2".into(), r.r2);
            row("colour R^2 per-dim".into(), r.r2_per_dim);
        }
        for (part, r) in self.translation.iter().flatten() {
            row(format!("translation R^2 ({})", part.name()), r.r2);
            row(format!("translation R^2 constant ({})", part.name()), r.r2_constant);
        }
        if let Some(p) = &self.predictor {
            for (name, m) in [("predictor", p.trained.as_ref()), ("identity", Some(&p.identity))] {
                if let Some(m) = m {
                    row(format!("{name} PRE"), m.pre);
                    row(format!("{name} MRR"), m.ranks.mrr);
                    for (k, h) in super::metrics::HIT_KS.iter().zip(m.ranks.hit) {
                        row(format!("{name} H@{k}"), h);
                    }
                    row(format!("{name} MRR (source left out)"), m.ranks_without_source.mrr);
                    row(format!("{name} H@1 (source left out)"), m.ranks_without_source.hit[0]);
                }
            }
        }
        s
    }
}

fn cell(v: Option<f64>, scale: f64, digits: usize) -> String {
    v.map(|v| format!("{:.*}", digits, v * scale)).unwrap_or_else(|| "-".into())
}

/// The comparison table of SPEC section 5 as markdown: one row per (method name, report).
pub fn markdown_table(rows: &[(String, EvalReport)]) -> String {
    let mut s = String::from(
        "| method | top-1 all | top-1 inv | top-1 equi | rot R² all | rot R² inv | rot R² equi | rot R² const | rot R² ceiling | colour R² | PRE (identity) | MRR (identity) | H@1 (identity) |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (name, r) in rows {
        let pred = r.predictor.as_ref();
        let trained = pred.and_then(|p| p.trained.as_ref());
        let identity = pred.map(|p| &p.identity);
        let pair = |f: &dyn Fn(&super::tasks::PredictorMetrics) -> f64| match (trained, identity) {
            (Some(t), Some(i)) => format!("{:.3} ({:.3})", f(t), f(i)),
            (None, Some(i)) => format!("- ({:.3})", f(i)),
            _ => "-".into(),
        };
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(r.top1(Part::All), 100.0, 1),
            cell(r.top1(Part::Inv), 100.0, 1),
            cell(r.top1(Part::Equi), 100.0, 1),
            cell(r.rotation_r2(Part::All), 1.0, 3),
            cell(r.rotation_r2(Part::Inv), 1.0, 3),
            cell(r.rotation_r2(Part::Equi), 1.0, 3),
            cell(r.rotation.as_ref().and_then(|m| m.get(&Part::All)).map(|x| x.r2_constant), 1.0, 3),
            cell(r.rotation_ceiling.as_ref().map(|c| c.r2), 1.0, 3),
            cell(r.color.as_ref().map(|c| c.r2), 1.0, 3),
            pair(&|m| m.pre),
            pair(&|m| m.ranks.mrr),
            pair(&|m| m.ranks.hit[0]),
        );
    }
    s
}
