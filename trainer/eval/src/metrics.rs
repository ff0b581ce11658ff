//! Evaluation metrics as pure functions on row-major `f32` matrices (`n` rows of `d` values).
//!
//! Sums run in `f64` so that results do not depend on summation order at the precision we report.

/// Fraction of rows whose arg-max logit equals the label (ties go to the lowest index).
pub fn top1(logits: &[f32], classes: usize, labels: &[i64]) -> f64 {
    assert_eq!(logits.len(), classes * labels.len(), "logits must be (n, classes)");
    if labels.is_empty() {
        return 0.0;
    }
    let correct =
        logits.chunks(classes).zip(labels).filter(|(row, &label)| argmax(row) as i64 == label).count();
    correct as f64 / labels.len() as f64
}

/// Index of the largest value (the first one on ties).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// R^2 as the reference computes it: `1 - sum((t - p)^2) / sum((t - mean(t))^2)`, with `mean(t)` the
/// mean over ALL elements of the target (not per column).
pub fn r2_reference(pred: &[f32], target: &[f32]) -> f64 {
    assert_eq!(pred.len(), target.len(), "prediction and target differ in size");
    let mean = target.iter().map(|&t| t as f64).sum::<f64>() / target.len().max(1) as f64;
    let residual: f64 = pred.iter().zip(target).map(|(&p, &t)| (t as f64 - p as f64).powi(2)).sum();
    let total: f64 = target.iter().map(|&t| (t as f64 - mean).powi(2)).sum();
    1.0 - residual / total
}

/// Per-dimension R^2: the R^2 of each column against its own column mean, averaged over columns
/// (scikit-learn's `r2_score` with `multioutput="uniform_average"`).
pub fn r2_per_dim(pred: &[f32], target: &[f32], dims: usize) -> f64 {
    assert_eq!(pred.len(), target.len(), "prediction and target differ in size");
    assert_eq!(target.len() % dims, 0, "target is not (n, dims)");
    let n = target.len() / dims;
    let mut sum = 0.0;
    for j in 0..dims {
        let column = |m: &[f32], i: usize| m[i * dims + j] as f64;
        let mean = (0..n).map(|i| column(target, i)).sum::<f64>() / n as f64;
        let residual: f64 = (0..n).map(|i| (column(target, i) - column(pred, i)).powi(2)).sum();
        let total: f64 = (0..n).map(|i| (column(target, i) - mean).powi(2)).sum();
        sum += 1.0 - residual / total;
    }
    sum / dims as f64
}

/// Cosine similarity of two vectors (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum();
    let na: f64 = a.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// Prediction error (PRE): mean over rows of `1 - cos^2(prediction, target)`.
pub fn pre(pred: &[f32], target: &[f32], dims: usize) -> f64 {
    assert_eq!(pred.len(), target.len(), "prediction and target differ in size");
    let n = pred.len() / dims;
    let sum: f64 = pred.chunks(dims).zip(target.chunks(dims)).map(|(p, t)| 1.0 - cosine(p, t).powi(2)).sum();
    sum / n.max(1) as f64
}

/// 1-based rank of candidate `truth` when `candidates` (rows of `dims`) are sorted by decreasing
/// cosine similarity to `query`. Ties count against the truth (pessimistic), so a query that
/// cannot tell candidates apart never scores well by luck.
pub fn rank_of(query: &[f32], candidates: &[f32], dims: usize, truth: usize) -> usize {
    let scores: Vec<f64> = candidates.chunks(dims).map(|c| cosine(query, c)).collect();
    let true_score = scores[truth];
    1 + scores.iter().enumerate().filter(|&(i, &s)| i != truth && s >= true_score).count()
}

/// Retrieval summary over many queries: mean reciprocal rank and Hit@k for k in [`HIT_KS`].
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RankMetrics {
    pub mrr: f64,
    /// Hit@1, Hit@2, Hit@5, Hit@10.
    pub hit: [f64; 4],
    pub queries: usize,
}

/// The k of the Hit@k metrics.
pub const HIT_KS: [usize; 4] = [1, 2, 5, 10];

impl RankMetrics {
    /// From 1-based ranks.
    pub fn from_ranks(ranks: &[usize]) -> Self {
        let n = ranks.len().max(1) as f64;
        let mrr = ranks.iter().map(|&r| 1.0 / r as f64).sum::<f64>() / n;
        let hit = HIT_KS.map(|k| ranks.iter().filter(|&&r| r <= k).count() as f64 / n);
        Self { mrr, hit, queries: ranks.len() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_first_on_ties() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
    }
}
