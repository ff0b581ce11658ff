//! Evaluation results: the JSON document, the terminal table and the markdown comparison table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::probe::{ClassifyResult, RegressionResult};
use super::retrieval::{ModeScores, ReferenceScores};
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
    /// The equivariant part's size (its last dims; 0: no split).
    pub equi_dim: usize,
    /// Where that split came from: `checkpoint`, `--equi-dim (analysis split)` or `none`.
    #[serde(default)]
    pub split: String,
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
    /// Embedding-space quality of the predictor (our own measure, val only; `cosine_error` is
    /// not the reference's PRE).
    pub predictor: Option<PredictorReport>,
    /// The reference's PRE / MRR / Hit@k of the trained predictor (eval_prediction_errors.py,
    /// eval_MRR_Hk.py): `train-train`, `val-val`, `val-all` (PRE only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predictor_reference: Option<ReferenceScores>,
    /// The same for the identity predictor (prediction = view 0's embedding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predictor_reference_identity: Option<ReferenceScores>,
    /// The probe protocol behind each probe's numbers (`reference` or `cached`).
    #[serde(default)]
    pub protocols: BTreeMap<String, String>,
    /// Wall time of each task, seconds.
    pub seconds: BTreeMap<String, f64>,
    /// Class names by label, from the dataset's manifest (empty when it has none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub class_names: BTreeMap<i64, String>,
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

    /// The manifest's name of class `label`, or `class <label>`.
    pub fn class_name(&self, label: i64) -> String {
        self.class_names.get(&label).cloned().unwrap_or_else(|| format!("class {label}"))
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
            let _ = writeln!(s, "{name:<48} {v:>10.4}");
        };
        // "reference, 30 ep": the reference's probes with fewer epochs than its 300 say so.
        let protocol = |task: &str| {
            let name = self.protocols.get(task).map_or("cached", |p| p.as_str());
            let epochs = self.config.as_ref().map(|c| match task {
                "classify" => c.classify.epochs,
                "color" => c.color.epochs,
                _ => c.rotation.epochs,
            });
            match epochs {
                Some(e) if name == "reference" && e != 300 => format!("{name}, {e} ep"),
                _ => name.to_string(),
            }
        };
        let (pc, pr, pco, pt) =
            (protocol("classify"), protocol("rotation"), protocol("color"), protocol("translation"));
        for (part, r) in self.classify.iter().flatten() {
            row(format!("top-1 val ({}, {pc})", part.name()), r.top1_val);
            row(format!("top-1 train ({}, {pc})", part.name()), r.top1_train);
        }
        for (part, r) in self.rotation.iter().flatten() {
            row(format!("rotation R^2 ({}, {pr})", part.name()), r.r2);
            row(format!("rotation R^2 per-dim ({}, {pr})", part.name()), r.r2_per_dim);
            row(format!("rotation R^2 constant ({}, {pr})", part.name()), r.r2_constant);
        }
        if let Some(r) = &self.rotation_ceiling {
            row(format!("rotation R^2 ceiling (true poses, {pr})"), r.r2);
        }
        for (part, r) in self.rotation.iter().flatten() {
            for c in &r.per_class {
                row(format!("rotation R^2 ({}, {pr}) {}", part.name(), self.class_name(c.label)), c.r2);
            }
        }
        if let Some(r) = &self.color {
            row(format!("colour R^2 ({pco})"), r.r2);
            row(format!("colour R^2 per-dim ({pco})"), r.r2_per_dim);
        }
        for (part, r) in self.translation.iter().flatten() {
            row(format!("translation R^2 ({}, {pt})", part.name()), r.r2);
            row(format!("translation R^2 constant ({}, {pt})", part.name()), r.r2_constant);
        }
        for (name, scores) in
            [("predictor", &self.predictor_reference), ("identity", &self.predictor_reference_identity)]
        {
            for (mode, m) in scores.iter().flatten() {
                let values = [
                    ("PRE", m.pre),
                    ("MRR", m.mrr),
                    ("H@1", m.h1),
                    ("H@2", m.h2),
                    ("H@5", m.h5),
                    ("H@10", m.h10),
                ];
                for (key, v) in values {
                    if let Some(v) = v {
                        row(format!("{name} {key} {mode} (reference protocol)"), v);
                    }
                }
            }
        }
        if let Some(p) = &self.predictor {
            for (name, m) in [("predictor", p.trained.as_ref()), ("identity", Some(&p.identity))] {
                if let Some(m) = m {
                    row(format!("{name} embedding cosine error"), m.cosine_error);
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

/// The comparison table of SPEC section 5 as markdown: one row per (method name, report). The
/// predictor columns are the reference protocol's (`predictor_reference`), trained (identity);
/// `probes` names the probe protocol of the top-1 and R^2 columns.
pub fn markdown_table(rows: &[(String, EvalReport)]) -> String {
    let mut s = String::from(
        "| method | probes | top-1 all | top-1 inv | top-1 equi | rot R² all | rot R² inv | rot R² equi | rot R² const | rot R² ceiling | colour R² | PRE val-val (identity) | PRE val-all (identity) | MRR val-val (identity) | H@1 val-val (identity) |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (name, r) in rows {
        let pick = |scores: &Option<ReferenceScores>, mode: &str, f: &dyn Fn(&ModeScores) -> Option<f64>| {
            scores.as_ref().and_then(|s| s.get(mode)).and_then(f)
        };
        let pair = |mode: &str, f: &dyn Fn(&ModeScores) -> Option<f64>| match (
            pick(&r.predictor_reference, mode, f),
            pick(&r.predictor_reference_identity, mode, f),
        ) {
            (Some(t), Some(i)) => format!("{t:.3} ({i:.3})"),
            (None, Some(i)) => format!("- ({i:.3})"),
            _ => "-".into(),
        };
        let mut protocols: Vec<&str> = ["classify", "rotation", "color"]
            .iter()
            .filter_map(|t| r.protocols.get(*t).map(|p| p.as_str()))
            .collect();
        protocols.dedup();
        let probes = if protocols.is_empty() { "cached".to_string() } else { protocols.join("/") };
        let _ = writeln!(
            s,
            "| {name} | {probes} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(r.top1(Part::All), 100.0, 1),
            cell(r.top1(Part::Inv), 100.0, 1),
            cell(r.top1(Part::Equi), 100.0, 1),
            cell(r.rotation_r2(Part::All), 1.0, 3),
            cell(r.rotation_r2(Part::Inv), 1.0, 3),
            cell(r.rotation_r2(Part::Equi), 1.0, 3),
            cell(r.rotation.as_ref().and_then(|m| m.get(&Part::All)).map(|x| x.r2_constant), 1.0, 3),
            cell(r.rotation_ceiling.as_ref().map(|c| c.r2), 1.0, 3),
            cell(r.color.as_ref().map(|c| c.r2), 1.0, 3),
            pair("val-val", &|m| m.pre),
            pair("val-all", &|m| m.pre),
            pair("val-val", &|m| m.mrr),
            pair("val-val", &|m| m.h1),
        );
    }
    s
}
