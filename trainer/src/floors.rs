//! What chance and a constant prediction score on the pairs an epoch trained on, so that the
//! online evaluator's numbers at the end of `train` can be judged: top-1 against 1/classes and
//! against always answering the most frequent class; rotation R^2 (the reference's, see
//! [`crate::eval::metrics::r2_reference`]) against the best constant quaternion (each
//! component's mean), which is what a head that learnt nothing from the images converges to.

/// Label counts and the quaternion targets' sums of one epoch.
#[derive(Default)]
pub struct Floors {
    counts: Vec<usize>,
    /// Per quaternion component: sum and sum of squares.
    sum: [f64; 4],
    sum_sq: [f64; 4],
    pairs: usize,
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
        for row in latent.chunks(latent_dim) {
            for (j, &v) in row[..4].iter().enumerate() {
                let v = v as f64;
                self.sum[j] += v;
                self.sum_sq[j] += v * v;
            }
            self.pairs += 1;
        }
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

    /// The reference's R^2 of predicting every pair's quaternion by the per-component means:
    /// 1 - sum_j sum_i (t_ij - m_j)^2 / sum_ij (t_ij - m)^2, m the mean of all elements. (The
    /// overall mean alone scores 0.)
    pub fn constant_r2(&self) -> f64 {
        let n = self.pairs as f64;
        if self.pairs < 2 {
            return f64::NAN;
        }
        let residual: f64 = (0..4).map(|j| self.sum_sq[j] - self.sum[j] * self.sum[j] / n).sum();
        let all_sum: f64 = self.sum.iter().sum();
        let total = self.sum_sq.iter().sum::<f64>() - all_sum * all_sum / (4.0 * n);
        1.0 - residual / total
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
    }
}
