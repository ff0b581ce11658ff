//! Loss terms (SPEC section 4) and the logged statistics.
//!
//! All functions take (N, D) tensors and return scalars (rank 0).

use candle_core::{Result, Tensor, D};

/// Loss weights and temperatures (not part of the model's shape).
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct LossConfig {
    pub sim_coeff: f64,
    pub std_coeff: f64,
    pub cov_coeff: f64,
    pub equi_factor: f64,
    pub simclr_temp: f64,
    /// Weight of AugSelf's latent regression (the reference's `--ec-weight`).
    #[serde(default = "default_ec_weight")]
    pub ec_weight: f64,
    /// Weight of the supervised rotation term (0: self-supervised only); see
    /// `OnlineEvaluator::forward`. A diagnostic, not one of the paper's methods.
    #[serde(default)]
    pub rotation_supervision: f64,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            sim_coeff: 10.0,
            std_coeff: 10.0,
            cov_coeff: 1.0,
            equi_factor: 0.45,
            simclr_temp: 0.1,
            ec_weight: 1.0,
            rotation_supervision: 0.0,
        }
    }
}

/// The reference's `--ec-weight` (also what checkpoints from before the flag trained with).
pub fn default_ec_weight() -> f64 {
    1.0
}

/// Mean squared error over all elements (PyTorch `F.mse_loss`).
pub fn mse(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    (a - b)?.sqr()?.mean_all()
}

fn centred(v: &Tensor) -> Result<Tensor> {
    v.broadcast_sub(&v.mean_keepdim(0)?)
}

/// `mean_j relu(1 - sqrt(Var_j(v) + 1e-4))`, the variance being unbiased (N - 1), per column.
pub fn std_term(v: &Tensor) -> Result<Tensor> {
    let n = v.dim(0)?;
    let c = centred(v)?;
    let var = (c.sqr()?.sum(0)? / (n - 1) as f64)?;
    let std = (var + 1e-4)?.sqrt()?;
    std.affine(-1.0, 1.0)?.relu()?.mean_all()
}

/// Sum of the squared off-diagonal entries of `c^T c / (N - 1)` (c: centred `v`), divided by
/// the dimension D.
///
/// The sum of all squared entries of the (D, D) matrix `c^T c` equals that of the (N, N) Gram
/// matrix `c c^T` (both are trace(c^T c c^T c)), so with fewer samples than dimensions (a batch
/// of 32-64 against 1024-2048 projector outputs) the D x D covariance is never formed: N^2 D
/// work instead of N D^2, and no D x D elementwise passes forward and backward.
pub fn cov_term(v: &Tensor) -> Result<Tensor> {
    let (n, d) = v.dims2()?;
    let c = centred(v)?;
    let gram = if n < d { c.matmul(&c.t()?)? } else { c.t()?.matmul(&c)? };
    let all = (gram.sqr()?.sum_all()? / ((n - 1) * (n - 1)) as f64)?;
    let diag = (c.sqr()?.sum(0)? / (n - 1) as f64)?;
    let off = (all - diag.sqr()?.sum_all()?)?;
    off / d as f64
}

/// SimCLR's NT-Xent (InfoNCE) on the pairs (x_i, y_i) with temperature `temp`: for each of the
/// 2N normalised features, cross-entropy of its positive against the other 2N - 1.
pub fn info_nce(x: &Tensor, y: &Tensor, temp: f64) -> Result<Tensor> {
    let n = x.dim(0)?;
    let f = Tensor::cat(&[x, y], 0)?;
    let f = f.broadcast_div(&(f.sqr()?.sum_keepdim(1)?.sqrt()? + 1e-12)?)?;
    let sim = (f.matmul(&f.t()?)? / temp)?;
    // Exclude self-similarity: a large negative on the diagonal.
    let eye = Tensor::eye(2 * n, f.dtype(), f.device())?;
    let sim = (sim - (eye * 1e9)?)?;
    let lse = log_sum_exp_rows(&sim)?;
    let (fx, fy) = (f.narrow(0, 0, n)?, f.narrow(0, n, n)?);
    let pos = ((fx * fy)?.sum(1)? / temp)?; // same value for row i and row N + i
    (lse.sum_all()? - (pos.sum_all()? * 2.0)?)? / (2 * n) as f64
}

/// Row-wise log-sum-exp, stabilised by the (detached) row max.
pub fn log_sum_exp_rows(x: &Tensor) -> Result<Tensor> {
    let m = x.max_keepdim(1)?.detach();
    let s = x.broadcast_sub(&m)?.exp()?.sum_keepdim(1)?.log()?;
    (s + m)?.squeeze(1)
}

/// Cross-entropy of logits (N, C) against class indices (N,) u32.
pub fn cross_entropy(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    candle_nn::loss::cross_entropy(logits, labels)
}

/// Mean off-diagonal correlation between the columns of `v` (standardised with std + 1e-5),
/// as the reference's `cor_metrics`. A 0-d tensor on `v`'s device.
pub fn mean_correlation(v: &Tensor) -> Result<Tensor> {
    let (n, d) = v.dims2()?;
    let c = centred(v)?;
    let std = (c.sqr()?.sum_keepdim(0)? / (n - 1) as f64)?.sqrt()?;
    let p = c.broadcast_div(&(std + 1e-5)?)?;
    // The sum of all entries of p^T p / (N - 1): each sample's row sum, squared.
    let total = (p.sum(1)?.sqr()?.sum_all()? / (n - 1) as f64)?;
    let diag = (p.sqr()?.sum(0)? / (n - 1) as f64)?.sum_all()?;
    (total - diag)? / (d * d - d).max(1) as f64
}

/// Mean over columns of the (unbiased) std of the L2-normalised rows of `v`, as the
/// reference's `std_losses` (1/sqrt(D) for a well spread embedding, 0 when collapsed). A 0-d
/// tensor on `v`'s device.
pub fn mean_std_normalised(v: &Tensor) -> Result<Tensor> {
    let n = v.dim(0)?;
    let norm = v.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
    let u = v.broadcast_div(&norm)?;
    let c = centred(&u)?;
    let std = (c.sqr()?.sum(0)? / (n - 1) as f64)?.sqrt()?;
    std.mean_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn t(rows: &[&[f32]]) -> Tensor {
        let n = rows.len();
        let d = rows[0].len();
        Tensor::from_vec(rows.concat(), (n, d), &Device::Cpu).unwrap()
    }

    fn s(x: Tensor) -> f32 {
        x.to_scalar::<f32>().unwrap()
    }

    #[test]
    fn mse_by_hand() {
        // ((1-0)^2 + (2-0)^2 + (3-1)^2 + (4-4)^2) / 4 = 9/4
        let v = s(mse(&t(&[&[1., 2.], &[3., 4.]]), &t(&[&[0., 0.], &[1., 4.]])).unwrap());
        assert!((v - 2.25).abs() < 1e-6);
    }

    #[test]
    fn std_term_by_hand() {
        // Column 0: 0, 0.2, 0.4 -> unbiased var 0.04, std sqrt(0.0401) = 0.200250 -> 0.799750.
        // Column 1: 0, 2, 4 -> var 4, std 2.000025 -> relu(-1.0) = 0.
        // Mean = 0.399875.
        let v = s(std_term(&t(&[&[0.0, 0.0], &[0.2, 2.0], &[0.4, 4.0]])).unwrap());
        assert!((v - 0.399875).abs() < 1e-5, "{v}");
    }

    #[test]
    fn cov_term_by_hand() {
        // Rows (1,2), (3,6), (5,4): centred (-2,-2), (0,2), (2,0).
        // c^T c = [[8, 4], [4, 8]], / (N-1 = 2) = [[4, 2], [2, 4]]:
        // off-diagonal squares 2^2 + 2^2 = 8, / D = 2 -> 4.
        let v = s(cov_term(&t(&[&[1., 2.], &[3., 6.], &[5., 4.]])).unwrap());
        assert!((v - 4.0).abs() < 1e-5, "{v}");
    }

    #[test]
    fn cov_term_through_the_gram_matrix_equals_the_covariance_formula() {
        // Fewer samples than dimensions (the Gram path) and more (the covariance path), against
        // the D x D covariance written out.
        for (n, d) in [(5usize, 9usize), (9, 4)] {
            let data: Vec<f32> = (0..n * d).map(|i| ((i * 37 % 23) as f32 * 0.31).sin()).collect();
            let v = Tensor::from_vec(data, (n, d), &Device::Cpu).unwrap();
            let c = centred(&v).unwrap();
            let cov =
                (c.t().unwrap().matmul(&c).unwrap() / (n - 1) as f64).unwrap().to_vec2::<f32>().unwrap();
            let off: f32 = (0..d)
                .flat_map(|i| (0..d).map(move |j| (i, j)))
                .filter(|(i, j)| i != j)
                .map(|(i, j)| cov[i][j] * cov[i][j])
                .sum();
            let got = s(cov_term(&v).unwrap());
            assert!(
                (got - off / d as f32).abs() < 1e-5 * off.max(1.0),
                "{n}x{d}: {got} vs {}",
                off / d as f32
            );
        }
    }

    #[test]
    fn mean_correlation_equals_the_correlation_matrix_mean() {
        let (n, d) = (6usize, 5usize);
        let data: Vec<f32> = (0..n * d).map(|i| ((i * 17 % 13) as f32 * 0.7).cos()).collect();
        let v = Tensor::from_vec(data, (n, d), &Device::Cpu).unwrap();
        let c = centred(&v).unwrap();
        let std = (c.sqr().unwrap().sum_keepdim(0).unwrap() / (n - 1) as f64).unwrap().sqrt().unwrap();
        let p = c.broadcast_div(&(std + 1e-5).unwrap()).unwrap();
        let corr = (p.t().unwrap().matmul(&p).unwrap() / (n - 1) as f64).unwrap().to_vec2::<f32>().unwrap();
        let off: f32 = (0..d)
            .flat_map(|i| (0..d).map(move |j| (i, j)))
            .filter(|(i, j)| i != j)
            .map(|(i, j)| corr[i][j])
            .sum();
        let got = s(mean_correlation(&v).unwrap());
        assert!((got - off / (d * d - d) as f32).abs() < 1e-5, "{got} vs {}", off / (d * d - d) as f32);
    }

    #[test]
    fn info_nce_by_hand() {
        // x = [(1,0), (0,1)], y = x, temp 1. Features f = [e1, e2, e1, e2].
        // Row 0: similarities to rows 1, 2, 3 = 0, 1, 0; positive = 1.
        // loss = log(e^0 + e^1 + e^0) - 1 = log(2 + e) - 1 = 0.551444 for every row.
        let x = t(&[&[1., 0.], &[0., 1.]]);
        let v = s(info_nce(&x, &x, 1.0).unwrap());
        assert!((v - 0.551444).abs() < 1e-5, "{v}");
        // With temp 0.5 the logits double: log(2 + e^2) - 2 = 0.239545 (python: math.log(2+math.e**2)-2).
        let v = s(info_nce(&x, &x, 0.5).unwrap());
        assert!((v - 0.239545).abs() < 1e-5, "{v}");
    }

    #[test]
    fn r2_uses_the_global_target_mean() {
        // t = [[1, 2], [3, 4]], mean 2.5, ss_tot = 2.25+0.25+0.25+2.25 = 5.
        // p = [[1, 2], [3, 3]]: ss_res = 1 -> R^2 = 0.8.
        let v =
            s(crate::stats::r2_reference(&t(&[&[1., 2.], &[3., 3.]]), &t(&[&[1., 2.], &[3., 4.]])).unwrap());
        assert!((v - 0.8).abs() < 1e-6);
    }

    #[test]
    fn top1_and_statistics() {
        let logits = t(&[&[0.1, 0.9], &[0.8, 0.2], &[0.3, 0.7]]);
        let labels = Tensor::new(&[1u32, 1, 1], &Device::Cpu).unwrap();
        assert!((s(crate::stats::top1(&logits, &labels).unwrap()) - 2.0 / 3.0).abs() < 1e-6);
        // Perfectly correlated columns -> mean off-diagonal correlation ~ 1.
        let c = s(mean_correlation(&t(&[&[1., 2.], &[2., 4.], &[3., 6.]])).unwrap());
        assert!((c - 1.0).abs() < 1e-3, "{c}");
        // Identical rows -> std 0 (collapse).
        assert!(s(mean_std_normalised(&t(&[&[1., 2.], &[1., 2.]])).unwrap()).abs() < 1e-6);
    }
}
