//! What chance and a constant prediction score on the pairs an epoch trained on, so that the
//! online evaluator's numbers at the end of `train` can be judged: top-1 against 1/classes and
//! against always answering the most frequent class; rotation R^2 (the reference's, see
//! [`crate::metrics::r2_reference`]) against the best constant quaternion (each
//! component's mean over the epoch), which is what a head that learnt nothing from the images
//! converges to. Like the online metric, that R^2 is computed per batch (the reference's R^2
//! subtracts the batch's own mean) and averaged over the epoch's batches.

/// Per quaternion component: sum and sum of squares, over `pairs` rows.
#[derive(Clone, Copy, Default)]
struct Moments {
    sum: [f64; 4],
    sum_sq: [f64; 4],
    pairs: usize,
}

/// Label counts and the quaternion targets' moments, per batch, of one epoch.
#[derive(Default)]
pub struct Floors {
    counts: Vec<usize>,
    batches: Vec<Moments>,
}

impl Floors {
    pub fn new(classes: usize) -> Self {
        Self { counts: vec![0; classes], ..Default::default() }
    }

    /// One batch: `labels`, and `latent` rows of `latent_dim` values whose first 4 are the
    /// quaternion.
    pub fn add(&mut self, labels: &[u32], latent: &[f32], latent_dim: usize) {
        for &l in labels {
            if let Some(c) = self.counts.get_mut(l as usize) {
                *c += 1;
            }
        }
        let mut m = Moments::default();
        for row in latent.chunks(latent_dim) {
            for (j, &v) in row[..4].iter().enumerate() {
                let v = v as f64;
                m.sum[j] += v;
                m.sum_sq[j] += v * v;
            }
            m.pairs += 1;
        }
        self.batches.push(m);
    }

    /// 1 / classes.
    pub fn chance_top1(&self) -> f64 {
        1.0 / self.counts.len().max(1) as f64
    }

    /// The share of the most frequent class.
    pub fn majority_top1(&self) -> f64 {
        let total: usize = self.counts.iter().sum();
        self.counts.iter().copied().max().unwrap_or(0) as f64 / total.max(1) as f64
    }

    /// The mean over batches of the reference's R^2 of predicting every pair's quaternion by
    /// the epoch's per-component means m_j: per batch, 1 - sum_ij (t_ij - m_j)^2 /
    /// sum_ij (t_ij - mean)^2, mean the batch's mean of all elements. (The batch's overall mean
    /// scores 0.)
    pub fn constant_r2(&self) -> f64 {
        let pairs: usize = self.batches.iter().map(|b| b.pairs).sum();
        if pairs < 2 {
            return f64::NAN;
        }
        let m: [f64; 4] =
            std::array::from_fn(|j| self.batches.iter().map(|b| b.sum[j]).sum::<f64>() / pairs as f64);
        let per_batch = self.batches.iter().filter(|b| b.pairs >= 2).map(|b| {
            let n = b.pairs as f64;
            let residual: f64 = (0..4).map(|j| b.sum_sq[j] - 2.0 * m[j] * b.sum[j] + n * m[j] * m[j]).sum();
            let all_sum: f64 = b.sum.iter().sum();
            let total = b.sum_sq.iter().sum::<f64>() - all_sum * all_sum / (4.0 * n);
            1.0 - residual / total
        });
        let r2: Vec<f64> = per_batch.collect();
        r2.iter().sum::<f64>() / r2.len().max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_by_hand() {
        let mut f = Floors::new(4);
        // Quaternions (1,0,0,0), (0,1,0,0), (1,0,0,0), (0,0,0,1); labels 0, 0, 1, 3.
        let q = [1., 0., 0., 0., 9., 0., 1., 0., 0., 9., 1., 0., 0., 0., 9., 0., 0., 0., 1., 9.];
        f.add(&[0, 0, 1, 3], &q, 5);
        assert_eq!(f.chance_top1(), 0.25);
        assert_eq!(f.majority_top1(), 0.5);
        // Column means (0.5, 0.25, 0, 0.25): residual 1 + 0.75 + 0 + 0.75 = 2.5; overall mean
        // 0.25: total 4 - 16 * 0.0625 = 3; R^2 = 1 - 2.5/3.
        assert!((f.constant_r2() - (1.0 - 2.5 / 3.0)).abs() < 1e-12);
        // A second batch of (0,0,1,0) twice: the epoch's means become (1/3, 1/6, 1/3, 1/6) and
        // the floor is the mean of the two batches' R^2 of that constant, each written out.
        f.add(&[2, 2], &[0., 0., 1., 0., 0., 0., 1., 0.], 4);
        let m = [2.0 / 6.0, 1.0 / 6.0, 2.0 / 6.0, 1.0 / 6.0];
        let r2 = |rows: &[[f64; 4]]| {
            let mean = rows.iter().flatten().sum::<f64>() / (4 * rows.len()) as f64;
            let sse: f64 = rows.iter().map(|r| (0..4).map(|j| (r[j] - m[j]).powi(2)).sum::<f64>()).sum();
            let sst: f64 = rows.iter().flatten().map(|v| (v - mean).powi(2)).sum();
            1.0 - sse / sst
        };
        let want = (r2(&[[1., 0., 0., 0.], [0., 1., 0., 0.], [1., 0., 0., 0.], [0., 0., 0., 1.]])
            + r2(&[[0., 0., 1., 0.], [0., 0., 1., 0.]]))
            / 2.0;
        assert!((f.constant_r2() - want).abs() < 1e-12, "{} vs {want}", f.constant_r2());
    }
}
