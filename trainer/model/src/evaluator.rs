//! Online evaluation during training, on detached representations (its loss is added to the
//! total but no gradient reaches the backbone): a linear classifier on the representation
//! (and on its invariant part for split models) and an MLP (2r -> 2r -> 2r -> 4) that predicts
//! the pair's quaternion from the two views' representations concatenated (and from the two
//! equivariant parts for split models). Names follow the reference's `OnlineEvaluator`.

use candle_core::{Result, Tensor};
use kernels::Kernels;

use crate::loss;
use crate::nn::{Linear, Mlp};
use crate::params::Scope;
use crate::stats::{self, StepStats};

pub struct OnlineEvaluator {
    repr: usize,
    inv: usize,
    classifier_repr: Linear,
    classifier_inv_repr: Option<Linear>,
    predictor_angles_repr: Mlp,
    predictor_angles_equi_repr: Option<Mlp>,
}

impl OnlineEvaluator {
    /// `inv`: size of the invariant part (0 < inv < repr for split models, else 0).
    pub fn new(s: &Scope, repr: usize, inv: usize, num_classes: usize) -> Result<Self> {
        let split = inv > 0 && inv < repr;
        let equi = repr - inv;
        let angles = |name: &str, d: usize| Mlp::new(&s.pp(name), &[2 * d, 2 * d, 2 * d, 4], true);
        Ok(Self {
            repr,
            inv: if split { inv } else { 0 },
            classifier_repr: Linear::new(&s.pp("classifier_repr"), repr, num_classes, true)?,
            classifier_inv_repr: if split {
                Some(Linear::new(&s.pp("classifier_inv_repr"), inv, num_classes, true)?)
            } else {
                None
            },
            predictor_angles_repr: angles("predictor_angles_repr", repr)?,
            predictor_angles_equi_repr: if split {
                Some(angles("predictor_angles_equi_repr", equi)?)
            } else {
                None
            },
        })
    }

    /// `r1`, `r2` (N, repr) representations of the two views, `labels` (N,) u32, `quat` (N, 4).
    /// `rotation_supervision` > 0: the rotation head on the whole representation reads the
    /// representations before detaching, and its MSE, times this weight, trains the backbone too.
    /// Returns the evaluator's loss; records its metrics in `st` (`online.*`, on the device).
    pub fn forward(
        &self,
        (r1, r2): (&Tensor, &Tensor),
        labels: &Tensor,
        quat: &Tensor,
        rotation_supervision: f64,
        st: &mut StepStats,
        k: &Kernels,
    ) -> Result<Tensor> {
        let (attached1, attached2) = (r1, r2);
        let (r1, r2) = (r1.detach(), r2.detach());
        let both = Tensor::cat(&[&r1, &r2], 0)?;
        let labels2 = Tensor::cat(&[labels, labels], 0)?;

        let logits = self.classifier_repr.forward(&both, k)?;
        let ce = loss::cross_entropy(&logits, &labels2)?;
        st.set("online.ce_repr", &ce)?;
        st.set("online.top1_repr", &stats::top1(&logits, &labels2)?)?;
        let mut total = ce;

        if let Some(head) = &self.classifier_inv_repr {
            let logits = head.forward(&both.narrow(1, 0, self.inv)?, k)?;
            let ce = loss::cross_entropy(&logits, &labels2)?;
            st.set("online.ce_inv", &ce)?;
            st.set("online.top1_inv", &stats::top1(&logits, &labels2)?)?;
            total = (total + ce)?;
        }

        let supervised = rotation_supervision > 0.0;
        let pair =
            if supervised { Tensor::cat(&[attached1, attached2], 1)? } else { Tensor::cat(&[&r1, &r2], 1)? };
        let pred = self.predictor_angles_repr.forward(&pair, k)?;
        let mse = loss::mse(&pred, quat)?;
        st.set("online.mse_repr", &mse)?;
        st.set("online.r2_repr", &stats::r2_reference(&pred, quat)?)?;
        total = (total + if supervised { (mse * rotation_supervision)? } else { mse })?;

        if let Some(head) = &self.predictor_angles_equi_repr {
            let e = self.repr - self.inv;
            let pair = Tensor::cat(&[&r1.narrow(1, self.inv, e)?, &r2.narrow(1, self.inv, e)?], 1)?;
            let pred = head.forward(&pair, k)?;
            let mse = loss::mse(&pred, quat)?;
            st.set("online.mse_equi", &mse)?;
            st.set("online.r2_equi", &stats::r2_reference(&pred, quat)?)?;
            total = (total + mse)?;
        }
        Ok(total)
    }
}
