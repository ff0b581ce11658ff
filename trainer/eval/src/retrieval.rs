//! The predictor evaluation exactly as the reference's `eval_prediction_errors.py` (PRE) and
//! `eval_MRR_Hk.py` (MRR, Hit@k) compute it, on the cached eval-mode embeddings:
//!
//! - every view of every object is a query; its source is the object's view 0 (so the identity
//!   pair view 0 -> view 0 is one of the queries), the prediction is the predictor applied to the
//!   source's (unnormalised) equivariant embedding and the pair's latent, then normalised;
//! - targets are normalised with `e / (|e| + 1e-8)`;
//! - PRE: the nearest target by cosine among ALL rows of the target set (train, val, or train
//!   then val for "val-all"; the first maximum on ties, as `torch.argmax`), scored
//!   `1 - (q_true . q_retrieved)^2` with the absolute pose quaternions of the true target view and
//!   of the retrieved view;
//! - MRR / Hit@k: the rank of the true view among the object's own views by decreasing
//!   similarity, ties in index order (a stable `argsort(-sims)`).

use std::collections::BTreeMap;

use anyhow::{ensure, Context, Result};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use super::features::SplitFeatures;
use super::metrics::HIT_KS;
use super::pairs::{self, Pairs};
use super::tasks::EmbeddingPredictor;
use dataset::pair::LatentKind;

/// The reference's epsilon when normalising target embeddings.
pub const TARGET_EPS: f32 = 1e-8;

/// One `mode` line of the reference's logs, under its keys.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModeScores {
    #[serde(rename = "PRE", default, skip_serializing_if = "Option::is_none")]
    pub pre: Option<f64>,
    #[serde(rename = "MRR", default, skip_serializing_if = "Option::is_none")]
    pub mrr: Option<f64>,
    #[serde(rename = "H@1", default, skip_serializing_if = "Option::is_none")]
    pub h1: Option<f64>,
    #[serde(rename = "H@2", default, skip_serializing_if = "Option::is_none")]
    pub h2: Option<f64>,
    #[serde(rename = "H@5", default, skip_serializing_if = "Option::is_none")]
    pub h5: Option<f64>,
    #[serde(rename = "H@10", default, skip_serializing_if = "Option::is_none")]
    pub h10: Option<f64>,
}

impl ModeScores {
    fn set_ranks(&mut self, ranks: &[usize]) {
        let n = ranks.len().max(1) as f64;
        self.mrr = Some(ranks.iter().map(|&r| 1.0 / r as f64).sum::<f64>() / n);
        let hit = HIT_KS.map(|k| ranks.iter().filter(|&&r| r <= k).count() as f64 / n);
        (self.h1, self.h2, self.h5, self.h10) = (Some(hit[0]), Some(hit[1]), Some(hit[2]), Some(hit[3]));
    }
}

/// `"train-train"`, `"val-val"`, `"val-all"` to their scores.
pub type ReferenceScores = BTreeMap<String, ModeScores>;

/// `x / (|x| + eps)` row by row.
pub fn normalise_rows(x: &[f32], dims: usize, eps: f32) -> Vec<f32> {
    x.chunks(dims)
        .flat_map(|row| {
            let norm = row.iter().map(|&v| v * v).sum::<f32>().sqrt() + eps;
            // A zero row stays zero (the reference would divide by zero and score NaN).
            let inv = if norm > 0.0 { 1.0 / norm } else { 0.0 };
            row.iter().map(move |&v| v * inv)
        })
        .collect()
}

/// Index of the first maximum (as `torch.argmax`).
fn first_max(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// Queries per block of [`nearest`].
const QUERY_BLOCK: usize = 1024;
/// Target rows per block of [`nearest`]: a block's similarities are 1024 x 16384 f32 (64 MiB).
const TARGET_BLOCK: usize = 16_384;

/// For each query row, the index of its most similar (dot product) row among `targets` taken as
/// one matrix (the parts in order, as `torch.cat` would give them; the first maximum on ties).
/// Blocked over queries and targets, so that each target block is read once per 1,024 queries
/// and no similarity matrix or concatenated copy of the targets exceeds 64 MiB, at the full
/// dataset's 2.6 M views as on a test's 20.
pub fn nearest(queries: &Tensor, targets: &[&Tensor]) -> Result<Vec<usize>> {
    let n = queries.dim(0)?;
    let mut m = 0;
    for t in targets {
        m += t.dim(0)?;
    }
    ensure!(m > 0, "no targets to retrieve from");
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    while start < n {
        let len = QUERY_BLOCK.min(n - start);
        let block = queries.narrow(0, start, len)?;
        let mut best = vec![(f32::NEG_INFINITY, usize::MAX); len];
        let mut offset = 0;
        for part in targets {
            let rows = part.dim(0)?;
            let mut t_start = 0;
            while t_start < rows {
                let t_len = TARGET_BLOCK.min(rows - t_start);
                // A row block's transpose is a column-major view that the matmul reads in place.
                let sims =
                    block.matmul(&part.narrow(0, t_start, t_len)?.t()?)?.flatten_all()?.to_vec1::<f32>()?;
                for (b, row) in best.iter_mut().zip(sims.chunks(t_len)) {
                    let j = first_max(row);
                    // Strictly greater: an earlier block keeps a tie.
                    if row[j] > b.0 || b.1 == usize::MAX {
                        *b = (row[j], offset + t_start + j);
                    }
                }
                t_start += t_len;
            }
            offset += rows;
        }
        out.extend(best.into_iter().map(|(_, j)| j));
        start += len;
    }
    Ok(out)
}

/// 1-based rank of `truth` when `sims` is sorted by decreasing value with ties kept in index
/// order (a stable `argsort(-sims)`).
pub fn stable_rank(sims: &[f32], truth: usize) -> usize {
    let t = sims[truth];
    1 + sims.iter().enumerate().filter(|&(j, &s)| s > t || (s == t && j < truth)).count()
}

/// `1 - (a . b)^2` for unit quaternions.
pub fn quaternion_error(a: [f64; 4], b: [f64; 4]) -> f64 {
    let dot: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
    1.0 - dot * dot
}

/// The reference's queries of one split: for each object, (view 0, view k) for every view k,
/// view 0 itself included.
pub fn queries(split: &SplitFeatures) -> Pairs {
    let mut p = Pairs::default();
    for object in 0..split.index.objects.len() {
        let rows = split.index.object_rows(object);
        for target in rows.clone() {
            p.first.push(rows.start as u32);
            p.second.push(target as u32);
        }
    }
    p
}

/// Absolute pose quaternions (SciPy order) of every row.
pub fn pose_quaternions(split: &SplitFeatures) -> Result<Vec<[f64; 4]>> {
    Ok(split
        .latent_rows()?
        .iter()
        .map(|l| dataset::rotation::quat_from_euler_xyz([l[0], l[1], l[2]]))
        .collect())
}

/// How each query's prediction is made.
pub enum Prediction<'a> {
    /// The source embedding itself.
    Identity,
    Trained(&'a dyn EmbeddingPredictor),
}

/// Normalised predictions (rows of `queries(split)`), and their dimension.
fn predictions(split: &SplitFeatures, p: &Pairs, how: &Prediction) -> Result<Tensor> {
    let embeddings = split.equi_embeddings.as_ref().context("the features hold no equivariant embeddings")?;
    let device = embeddings.device();
    let first = Tensor::from_slice(&p.first, p.len(), device)?;
    let sources = embeddings.index_select(&first, 0)?;
    let raw = match how {
        Prediction::Identity => sources,
        Prediction::Trained(model) => {
            let width = model.latent_dim();
            let latents = pairs::pair_latents(split, p, LatentKind::of_width(width)?)?;
            let latents = pairs::target_tensor(latents, width, device)?;
            let mut parts = Vec::new();
            let mut start = 0;
            while start < p.len() {
                let len = 1024.min(p.len() - start);
                parts.push(model.predict(&sources.narrow(0, start, len)?, &latents.narrow(0, start, len)?)?);
                start += len;
            }
            Tensor::cat(&parts, 0)?
        }
    };
    let dims = raw.dim(1)?;
    let flat = normalise_rows(&raw.flatten_all()?.to_vec1::<f32>()?, dims, 0.0);
    Ok(Tensor::from_vec(flat, (p.len(), dims), device)?)
}

fn normalised_targets(split: &SplitFeatures) -> Result<Tensor> {
    let e = split.equi_embeddings.as_ref().context("the features hold no equivariant embeddings")?;
    let dims = e.dim(1)?;
    let flat = normalise_rows(&e.flatten_all()?.to_vec1::<f32>()?, dims, TARGET_EPS);
    Ok(Tensor::from_vec(flat, (e.dim(0)?, dims), e.device())?)
}

/// PRE of queries (normalised predictions of `source`'s rows) against `targets` (normalised
/// embeddings with their pose quaternions).
fn pre(
    predictions: &Tensor,
    true_quats: &[[f64; 4]],
    targets: &[&Tensor],
    target_quats: &[[f64; 4]],
) -> Result<f64> {
    let nn = nearest(predictions, targets)?;
    let sum: f64 = nn.iter().zip(true_quats).map(|(&j, &q)| quaternion_error(q, target_quats[j])).sum();
    Ok(sum / nn.len().max(1) as f64)
}

/// Ranks of every query among its own object's views.
fn ranks(split: &SplitFeatures, p: &Pairs, predictions: &Tensor, targets: &Tensor) -> Result<Vec<usize>> {
    let dims = targets.dim(1)?;
    let pred = predictions.flatten_all()?.to_vec1::<f32>()?;
    let all = targets.flatten_all()?.to_vec1::<f32>()?;
    let mut out = Vec::with_capacity(p.len());
    for (q, (&source, &target)) in p.first.iter().zip(&p.second).enumerate() {
        let object_start = source as usize;
        let object = split.index.offsets.partition_point(|&o| o <= object_start) - 1;
        let rows = split.index.object_rows(object);
        let query = &pred[q * dims..(q + 1) * dims];
        let sims: Vec<f32> = all[rows.start * dims..rows.end * dims]
            .chunks(dims)
            .map(|c| c.iter().zip(query).map(|(a, b)| a * b).sum())
            .collect();
        out.push(stable_rank(&sims, target as usize - rows.start));
    }
    Ok(out)
}

/// The reference's train-train, val-val (PRE, MRR, Hit@k) and val-all (PRE) scores.
pub fn reference_scores(
    train: &SplitFeatures,
    val: &SplitFeatures,
    how: &Prediction,
) -> Result<ReferenceScores> {
    let (train_q, val_q) = (queries(train), queries(val));
    ensure!(!train_q.is_empty() && !val_q.is_empty(), "a split has no views");
    let (train_quats, val_quats) = (pose_quaternions(train)?, pose_quaternions(val)?);
    let (train_t, val_t) = (normalised_targets(train)?, normalised_targets(val)?);
    let mut out = ReferenceScores::new();
    for (name, split, q, quats, targets) in [
        ("train-train", train, &train_q, &train_quats, &train_t),
        ("val-val", val, &val_q, &val_quats, &val_t),
    ] {
        let preds = predictions(split, q, how)?;
        let true_quats: Vec<[f64; 4]> = q.second.iter().map(|&i| quats[i as usize]).collect();
        let mut scores =
            ModeScores { pre: Some(pre(&preds, &true_quats, &[targets], quats)?), ..Default::default() };
        scores.set_ranks(&ranks(split, q, &preds, targets)?);
        out.insert(name.to_string(), scores);
        if name == "val-val" {
            let all_quats: Vec<[f64; 4]> = train_quats.iter().chain(&val_quats).copied().collect();
            let pre_all = pre(&preds, &true_quats, &[&train_t, &val_t], &all_quats)?;
            out.insert("val-all".to_string(), ModeScores { pre: Some(pre_all), ..Default::default() });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_rank_keeps_ties_in_index_order() {
        let sims = [0.5, 0.9, 0.5, 0.1];
        assert_eq!(stable_rank(&sims, 1), 1);
        assert_eq!(stable_rank(&sims, 0), 2);
        assert_eq!(stable_rank(&sims, 2), 3);
        assert_eq!(stable_rank(&sims, 3), 4);
    }

    #[test]
    fn first_max_on_ties() {
        assert_eq!(first_max(&[0.1, 0.7, 0.7]), 1);
    }

    #[test]
    fn nearest_keeps_the_first_maximum_across_blocks_and_parts() -> Result<()> {
        // Two parts of 10,000 rows: row 16,383 ends the first target block and row 16,384 starts
        // the second, both in the second part; rows 9,999 and 10,000 straddle the parts.
        let device = candle_core::Device::Cpu;
        let mut rows = vec![[0.0f32, 1.0]; 20_000];
        for i in [16_383, 16_384] {
            rows[i] = [1.0, 0.0];
        }
        for i in [9_999, 10_000] {
            rows[i] = [0.0, -1.0];
        }
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        let all = Tensor::from_vec(flat, (20_000, 2), &device)?;
        let (a, b) = (all.narrow(0, 0, 10_000)?, all.narrow(0, 10_000, 10_000)?);
        let queries = Tensor::new(&[[1.0f32, 0.0], [0.0, -1.0], [0.0, 1.0]], &device)?;
        assert_eq!(nearest(&queries, &[&a, &b])?, vec![16_383, 9_999, 0]);
        assert_eq!(nearest(&queries, &[&all])?, vec![16_383, 9_999, 0]);
        Ok(())
    }

    #[test]
    fn quaternion_error_ignores_sign() {
        let q = [0.0, 0.0, 0.6, 0.8];
        assert!(quaternion_error(q, q).abs() < 1e-12);
        assert!(quaternion_error(q, q.map(|v| -v)).abs() < 1e-12);
        assert!((quaternion_error(q, [1.0, 0.0, 0.0, 0.0]) - 1.0).abs() < 1e-12);
    }
}
