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

/// One class's share of a regression on pairs: how many val pairs it has, and the reference R^2
/// of the probe and of the constant prediction on those pairs alone (against the class's own
/// target mean, so a class whose poses cannot be told apart scores near its floor).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassR2 {
    pub label: i64,
    pub pairs: usize,
    pub r2: f64,
    pub r2_constant: f64,
}

/// [`r2_reference`] of `pred` and of `constant` on each class's rows, in label order; `labels`
/// holds one label per row of `dims` values.
pub fn r2_per_class(
    pred: &[f32],
    constant: &[f32],
    target: &[f32],
    dims: usize,
    labels: &[i64],
) -> Vec<ClassR2> {
    assert_eq!(target.len(), labels.len() * dims, "target is not (labels, dims)");
    assert!(
        pred.len() == target.len() && constant.len() == target.len(),
        "predictions and target differ in size"
    );
    let mut rows: std::collections::BTreeMap<i64, Vec<usize>> = Default::default();
    for (row, &label) in labels.iter().enumerate() {
        rows.entry(label).or_default().push(row);
    }
    let gather = |m: &[f32], rows: &[usize]| -> Vec<f32> {
        rows.iter().flat_map(|&r| m[r * dims..(r + 1) * dims].iter().copied()).collect()
    };
    rows.into_iter()
        .map(|(label, rows)| {
            let t = gather(target, &rows);
            ClassR2 {
                label,
                pairs: rows.len(),
                r2: r2_reference(&gather(pred, &rows), &t),
                r2_constant: r2_reference(&gather(constant, &rows), &t),
            }
        })
        .collect()
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

    #[test]
    fn per_class_r2_scores_each_class_on_its_own_rows() {
        // Class 7 is predicted exactly; class 2 is predicted by its own mean (R^2 = 0).
        let target = [1.0, 2.0, 5.0, 6.0, 3.0, 4.0, 7.0, 8.0];
        let labels = [7, 2, 7, 2];
        let pred = [1.0, 2.0, 6.5, 6.5, 3.0, 4.0, 6.5, 6.5];
        let constant = [2.0; 8];
        let classes = r2_per_class(&pred, &constant, &target, 2, &labels);
        assert_eq!(classes.iter().map(|c| (c.label, c.pairs)).collect::<Vec<_>>(), [(2, 2), (7, 2)]);
        let (two, seven) = (&classes[0], &classes[1]);
        assert!((seven.r2 - 1.0).abs() < 1e-12);
        assert!(two.r2.abs() < 1e-12, "class 2 predicted by its mean: {}", two.r2);
        assert!(two.r2_constant < two.r2 && seven.r2_constant < seven.r2);
    }
}
